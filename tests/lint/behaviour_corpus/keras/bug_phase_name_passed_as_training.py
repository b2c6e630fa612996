"""Keras 3 classifier trained with a PyTorch-tutorial-style phase loop: for each epoch, iterate
over {"train": ..., "val": ...}, run the batches through forward() and only apply gradients in the
train phase."""
import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from keras import layers  # noqa: E402


def build_classifier(n_features=6, n_classes=3):
    inputs = keras.Input(shape=(n_features,))
    x = layers.Dense(16)(inputs)
    x = layers.BatchNormalization(name="bn")(x)
    x = layers.ReLU()(x)
    outputs = layers.Dense(n_classes)(x)
    return keras.Model(inputs, outputs)


def forward(model, x, training):
    return model(x, training=training)


def main(epochs=2):
    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    x_train = rng.normal(1.5, 1.0, (64, 6)).astype("float32")
    y_train = (x_train[:, 0] > 1.5).astype("int32")
    x_val = rng.normal(-5.0, 2.0, (32, 6)).astype("float32")
    y_val = (x_val[:, 0] > -5.0).astype("int32")
    loaders = {
        "train": tf.data.Dataset.from_tensor_slices((x_train, y_train)).batch(16),
        "val": tf.data.Dataset.from_tensor_slices((x_val, y_val)).batch(16),
    }
    model = build_classifier()
    optimizer = keras.optimizers.Adam(1e-2)
    loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    bn = model.get_layer("bn")
    moves = {"train": [], "val": []}
    for epoch in range(epochs):
        for phase in ("train", "val"):
            before = np.array(bn.moving_mean)
            losses = []
            for x, y in loaders[phase]:
                with tf.GradientTape() as tape:
                    logits = forward(model, x, phase)
                    loss = loss_fn(y, logits)
                if phase == "train":
                    grads = tape.gradient(loss, model.trainable_variables)
                    optimizer.apply_gradients(zip(grads, model.trainable_variables))
                losses.append(float(loss))
            moves[phase].append(not np.allclose(before, np.array(bn.moving_mean)))
            print(f"epoch {epoch} {phase}: loss {np.mean(losses):.3f}")
    if any(moves["val"]):
        verdict = "contaminated"
    elif all(moves["train"]):
        verdict = "updated"
    else:
        verdict = "frozen"
    print("BN-GROUND-TRUTH:", verdict)


if __name__ == "__main__":
    main()
