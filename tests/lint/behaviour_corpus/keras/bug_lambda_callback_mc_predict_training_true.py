"""Keras 3 classifier whose epoch-end logging is a LambdaCallback built by a helper: it averages
Monte-Carlo dropout predictions on the validation set with model(x_val, training=True). The flag
also switches BatchNormalization to training mode, so each logging pass assigns validation-batch
statistics into the moving mean/variance of the model fit() returns."""
import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import keras  # noqa: E402
import numpy as np  # noqa: E402
from keras import layers  # noqa: E402


def build_classifier(input_dim=12, classes=3):
    inputs = keras.Input((input_dim,))
    x = layers.Dense(32, use_bias=False)(inputs)
    x = layers.BatchNormalization(name="bn")(x)
    x = layers.Activation("relu")(x)
    x = layers.Dropout(0.3)(x)
    outputs = layers.Dense(classes, activation="softmax")(x)
    return keras.Model(inputs, outputs, name="classifier")


def mc_accuracy_logger(model, x_val, y_val, passes=4, history=None):
    """Epoch-end callback printing the MC-dropout accuracy on the validation set."""
    history = [] if history is None else history

    def on_epoch_end(epoch, logs):
        probs = np.mean([np.asarray(model(x_val, training=True)) for _ in range(passes)], axis=0)
        acc = float((probs.argmax(-1) == y_val).mean())
        history.append(acc)
        print(f"epoch {epoch}: loss {logs['loss']:.3f} mc val acc {acc:.3f}")

    return keras.callbacks.LambdaCallback(on_epoch_end=on_epoch_end)


def main():
    rng = np.random.default_rng(0)
    x_train = rng.normal(0, 1, (96, 12)).astype("float32")
    y_train = rng.integers(0, 3, 96)
    x_val = rng.normal(3, 2, (32, 12)).astype("float32")
    y_val = rng.integers(0, 3, 32)
    model = build_classifier()
    model.compile(optimizer=keras.optimizers.Adam(1e-2), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    bn = model.get_layer("bn")
    after_last_step = []
    probe = keras.callbacks.LambdaCallback(
        on_train_batch_end=lambda batch, logs: after_last_step.append(np.array(bn.moving_mean)))
    model.fit(x_train, y_train, batch_size=32, epochs=2, verbose=0,
              callbacks=[probe, mc_accuracy_logger(model, x_val, y_val)])
    moved_after_steps = not np.allclose(np.array(bn.moving_mean), after_last_step[-1])
    updated = not np.allclose(after_last_step[-1], 0.0)
    print("BN-GROUND-TRUTH:", "contaminated" if moved_after_steps else ("updated" if updated else "frozen"))


if __name__ == "__main__":
    main()
