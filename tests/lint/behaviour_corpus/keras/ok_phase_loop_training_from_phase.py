"""Custom TF2 loop organised by phase, like the PyTorch tutorials: for phase in ("train", "val")
the model is called with training=(phase == "train") and gradients are applied only in the train
phase. BatchNormalization updates its moving statistics on training batches only."""
import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402


def build_model():
    return keras.Sequential([keras.Input((6,)), keras.layers.Dense(16), keras.layers.BatchNormalization(),
                             keras.layers.ReLU(), keras.layers.Dense(2)])


def main(epochs=2):
    rng = np.random.default_rng(0)
    data = {"train": tf.data.Dataset.from_tensor_slices((rng.normal(2, 1, (32, 6)).astype("float32"),
                                                         rng.integers(0, 2, 32))).batch(16),
            "val": tf.data.Dataset.from_tensor_slices((rng.normal(-5, 1, (16, 6)).astype("float32"),
                                                       rng.integers(0, 2, 16))).batch(16)}
    model = build_model()
    optimizer = keras.optimizers.SGD(0.05)
    loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    bn = model.layers[1]
    moved = {"train": [], "val": []}
    for epoch in range(epochs):
        for phase in ("train", "val"):
            before = np.array(bn.moving_mean)
            total = 0.0
            for x, y in data[phase]:
                with tf.GradientTape() as tape:
                    loss = loss_fn(y, model(x, training=(phase == "train")))
                if phase == "train":
                    grads = tape.gradient(loss, model.trainable_variables)
                    optimizer.apply_gradients(zip(grads, model.trainable_variables))
                total += float(loss)
            moved[phase].append(not np.allclose(before, bn.moving_mean))
            print(f"epoch {epoch} {phase} loss {total:.3f}")
    # the moving statistics move on training batches only, never on validation batches
    ok = all(moved["train"]) and not any(moved["val"])
    print("BN-GROUND-TRUTH:", "updated" if ok else "frozen-or-contaminated")


if __name__ == "__main__":
    main()
