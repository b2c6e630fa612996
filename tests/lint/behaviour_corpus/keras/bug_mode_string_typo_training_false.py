"""Custom Keras loop that derives training from a mode string; the train step passes mode="training"
while forward() compares with "train", so the model always runs with training=False."""
import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from keras import layers  # noqa: E402

TRAIN, EVAL = "train", "eval"


def build_classifier(num_features=10, num_classes=3):
    inputs = keras.Input(shape=(num_features,))
    x = layers.Dense(16)(inputs)
    x = layers.BatchNormalization(name="bn")(x)
    x = layers.Activation("relu")(x)
    return keras.Model(inputs, layers.Dense(num_classes)(x))


def forward(model, x, mode=EVAL):
    return model(x, training=(mode == TRAIN))


class Runner:
    def __init__(self, model, lr=1e-2):
        self.model = model
        self.optimizer = keras.optimizers.Adam(lr)
        self.loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True)

    def train_step(self, x, y):
        with tf.GradientTape() as tape:
            logits = forward(self.model, x, mode="training")
            loss = self.loss_fn(y, logits)
        grads = tape.gradient(loss, self.model.trainable_variables)
        self.optimizer.apply_gradients(zip(grads, self.model.trainable_variables))
        return loss

    def eval_step(self, x, y):
        return self.loss_fn(y, forward(self.model, x))


if __name__ == "__main__":
    rng = np.random.default_rng(0)
    runner = Runner(build_classifier())
    bn = runner.model.get_layer("bn")
    before = np.array(bn.moving_mean)
    for _ in range(3):
        runner.train_step(rng.normal(3.0, 1.0, (16, 10)).astype("float32"), rng.integers(0, 3, 16))
    runner.eval_step(rng.normal(size=(16, 10)).astype("float32"), rng.integers(0, 3, 16))
    print("BN-GROUND-TRUTH:", "frozen" if np.allclose(before, bn.moving_mean) else "updated")
