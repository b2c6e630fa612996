"""Trainer class with a forward() helper whose `training` defaults to False; train_step forgets to pass it."""
import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from keras import layers  # noqa: E402


class Trainer:
    def __init__(self, model, lr=1e-2):
        self.model = model
        self.optimizer = keras.optimizers.Adam(lr)
        self.loss_fn = keras.losses.BinaryCrossentropy(from_logits=True)

    def forward(self, x, training=False):
        return self.model(x, training=training)

    @tf.function
    def train_step(self, x, y):
        with tf.GradientTape() as tape:
            loss = self.loss_fn(y, self.forward(x))
        grads = tape.gradient(loss, self.model.trainable_variables)
        self.optimizer.apply_gradients(zip(grads, self.model.trainable_variables))
        return loss

    def evaluate(self, x, y):
        return float(self.loss_fn(y, self.forward(x)))


def make_model():
    return keras.Sequential([keras.Input((6,)), layers.Dense(12), layers.BatchNormalization(),
                             layers.Activation("relu"), layers.Dense(1)])


if __name__ == "__main__":
    rng = np.random.default_rng(0)
    model = make_model()
    trainer = Trainer(model)
    for epoch in range(2):
        for _ in range(3):
            trainer.train_step(rng.normal(2, 1, (16, 6)).astype("float32"),
                               rng.integers(0, 2, (16, 1)).astype("float32"))
        print("epoch", epoch, "val", trainer.evaluate(rng.normal(size=(16, 6)).astype("float32"),
                                                      rng.integers(0, 2, (16, 1)).astype("float32")))
    bn = model.layers[1]
    print("BN-GROUND-TRUTH:", "frozen" if np.allclose(bn.moving_mean, 0) else "updated")
