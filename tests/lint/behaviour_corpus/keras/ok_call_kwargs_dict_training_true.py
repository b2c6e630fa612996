"""Custom loop whose forward keyword arguments come from a per-phase dict (training=True for the
update step): the model call itself shows no literal training=True."""
import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from keras import layers  # noqa: E402

PHASE_KWARGS = {"train": {"training": True}, "val": {"training": False}}


def make_net():
    return keras.Sequential([keras.Input(shape=(5,)), layers.Dense(10), layers.BatchNormalization(name="bn"),
                             layers.Activation("relu"), layers.Dense(2)])


class Learner:
    def __init__(self, net):
        self.net = net
        self.opt = keras.optimizers.Adam(5e-3)
        self.loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)

    def step(self, x, y):
        call_kwargs = PHASE_KWARGS["train"]
        with tf.GradientTape() as tape:
            loss = self.loss(y, self.net(x, **call_kwargs))
        grads = tape.gradient(loss, self.net.trainable_variables)
        self.opt.apply_gradients(zip(grads, self.net.trainable_variables))
        return loss

    def validate(self, x, y):
        return self.loss(y, self.net(x, **PHASE_KWARGS["val"]))


if __name__ == "__main__":
    rng = np.random.default_rng(0)
    learner = Learner(make_net())
    bn = learner.net.get_layer("bn")
    before = np.array(bn.moving_mean)
    for _ in range(3):
        learner.step(rng.normal(2.0, 1.0, (16, 5)).astype("float32"), rng.integers(0, 2, 16))
    learner.validate(rng.normal(size=(16, 5)).astype("float32"), rng.integers(0, 2, 16))
    print("BN-GROUND-TRUTH:", "frozen" if np.allclose(before, bn.moving_mean) else "updated")
