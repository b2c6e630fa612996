"""Custom loop that calls the model's .call() method directly (to skip Keras' input casting) inside
GradientTape: no `training` reaches the BatchNormalization layers, which then run in inference mode
and never update their moving statistics."""
import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from keras import layers  # noqa: E402


class MLPRegressor(keras.Model):
    def __init__(self, hidden=16, **kwargs):
        super().__init__(**kwargs)
        self.dense1 = layers.Dense(hidden)
        self.norm1 = layers.BatchNormalization()
        self.out = layers.Dense(1)

    def call(self, x, training=None):
        h = self.norm1(self.dense1(x), training=training)
        return self.out(keras.ops.relu(h))


def train(model, dataset, epochs=2, lr=1e-2):
    optimizer = keras.optimizers.Adam(lr)
    for epoch in range(epochs):
        for x, y in dataset:
            with tf.GradientTape() as tape:
                pred = model.call(x)
                loss = keras.ops.mean(keras.ops.square(pred - y))
            grads = tape.gradient(loss, model.trainable_variables)
            optimizer.apply_gradients(zip(grads, model.trainable_variables))
        print("epoch", epoch, float(loss))


def main():
    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    x = (rng.normal(size=(64, 5)) * 2 + 3).astype("float32")
    y = rng.normal(size=(64, 1)).astype("float32")
    model = MLPRegressor()
    model(x[:2])  # build
    train(model, tf.data.Dataset.from_tensor_slices((x, y)).batch(16))
    mean = keras.ops.convert_to_numpy(model.norm1.moving_mean)
    print("BN-GROUND-TRUTH:", "frozen" if np.allclose(mean, 0.0) else "updated")


if __name__ == "__main__":
    main()
