"""Script-style Keras 3 regression with a module-level model, optimizer and tf.function steps;
main() parses the options and sets the module's TRAINING switch before the epoch loop."""
import argparse
import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from keras import layers  # noqa: E402

TRAINING = False

keras.utils.set_random_seed(0)
model = keras.Sequential([keras.Input(shape=(8,)), layers.Dense(16), layers.BatchNormalization(name="bn"),
                          layers.ReLU(), layers.Dense(1)])
optimizer = keras.optimizers.Adam(1e-2)
loss_fn = keras.losses.MeanSquaredError()


@tf.function
def train_step(x, y):
    with tf.GradientTape() as tape:
        pred = model(x, training=TRAINING)
        loss = loss_fn(y, pred)
    grads = tape.gradient(loss, model.trainable_variables)
    optimizer.apply_gradients(zip(grads, model.trainable_variables))
    return loss


@tf.function
def eval_step(x, y):
    return loss_fn(y, model(x, training=False))


def main(argv=None):
    parser = argparse.ArgumentParser()
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--eval-only", action="store_true")
    args = parser.parse_args(argv)
    global TRAINING
    TRAINING = not args.eval_only

    rng = np.random.default_rng(0)
    x_train = rng.normal(3.0, 1.0, (64, 8)).astype("float32")
    y_train = x_train.sum(1, keepdims=True) / 8
    x_val = rng.normal(3.0, 1.0, (32, 8)).astype("float32")
    y_val = x_val.sum(1, keepdims=True) / 8
    bn = model.get_layer("bn")
    moved = []
    for epoch in range(args.epochs):
        before = np.array(bn.moving_mean)
        if TRAINING:
            for i in range(0, len(x_train), 16):
                train_step(x_train[i:i + 16], y_train[i:i + 16])
        moved.append(not np.allclose(before, np.array(bn.moving_mean)))
        print(f"epoch {epoch}: val {float(eval_step(x_val, y_val)):.3f}")
    print("BN-GROUND-TRUTH:", "updated" if all(moved) else ("frozen" if not any(moved) else "stale"))


if __name__ == "__main__":
    main([])
