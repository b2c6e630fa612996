"""Sharpness-aware minimisation (SAM) ported from a PyTorch repository to a Keras 3 train_step
override. The PyTorch recipe 'bypasses' BN statistics in the second (perturbed) forward pass with
disable_running_stats(); the port translates the convention: layer.momentum = 1.0 in Keras keeps the
old moving statistics for that pass (deliberate), so only the first, unperturbed pass updates them."""
import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from keras import layers  # noqa: E402

CONFIG = {"rho": 0.05, "lr": 0.01, "batch_size": 32, "epochs": 2, "width": 16}


def bypass_bn_statistics(model):
    for layer in model.layers:
        if isinstance(layer, layers.BatchNormalization):
            layer._saved_momentum = layer.momentum
            layer.momentum = 1.0


def restore_bn_statistics(model):
    for layer in model.layers:
        if isinstance(layer, layers.BatchNormalization) and hasattr(layer, "_saved_momentum"):
            layer.momentum = layer._saved_momentum


def make_network(width, classes=3):
    return keras.Sequential([
        keras.Input((8,)),
        layers.Dense(width, use_bias=False, name="fc1"),
        layers.BatchNormalization(name="bn1"),
        layers.ReLU(),
        layers.Dense(classes, name="head"),
    ])


class SAMClassifier(keras.Model):
    def __init__(self, network, rho, **kwargs):
        super().__init__(**kwargs)
        self.network = network
        self.rho = rho
        self.loss_tracker = keras.metrics.Mean(name="loss")
        self.xent = keras.losses.SparseCategoricalCrossentropy(from_logits=True)

    def call(self, inputs, training=None):
        return self.network(inputs, training=training)

    def train_step(self, data):
        images, labels = data
        params = self.network.trainable_variables
        with tf.GradientTape() as tape:
            loss = self.xent(labels, self.network(images, training=True))
        grads = tape.gradient(loss, params)
        grad_norm = tf.linalg.global_norm(grads) + 1e-12
        offsets = []
        for var, grad in zip(params, grads):
            offset = grad * (self.rho / grad_norm)
            var.assign_add(offset)
            offsets.append(offset)
        bypass_bn_statistics(self.network)
        with tf.GradientTape() as tape:
            perturbed_loss = self.xent(labels, self.network(images, training=True))
        restore_bn_statistics(self.network)
        sharp_grads = tape.gradient(perturbed_loss, params)
        for var, offset in zip(params, offsets):
            var.assign_sub(offset)
        self.optimizer.apply_gradients(zip(sharp_grads, params))
        self.loss_tracker.update_state(loss)
        return {"loss": self.loss_tracker.result()}

    @property
    def metrics(self):
        return [self.loss_tracker]


class FirstStepProbe(keras.callbacks.Callback):
    def __init__(self, bn):
        super().__init__()
        self.bn = bn
        self.after_first = None

    def on_train_batch_end(self, batch, logs=None):
        if self.after_first is None:
            self.after_first = self.bn.moving_mean.numpy()


def main():
    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    x = rng.normal(3.0, 1.0, (128, 8)).astype("float32")
    y = rng.integers(0, 3, 128)
    network = make_network(CONFIG["width"])
    model = SAMClassifier(network, CONFIG["rho"])
    model.compile(optimizer=keras.optimizers.SGD(CONFIG["lr"]))
    features = keras.Model(network.inputs, network.get_layer("fc1").output)
    first_batch_mean = np.array(features(x[:CONFIG["batch_size"]])).mean(axis=0)
    probe = FirstStepProbe(network.get_layer("bn1"))
    model.fit(x, y, batch_size=CONFIG["batch_size"], epochs=CONFIG["epochs"], shuffle=False,
              callbacks=[probe], verbose=0)
    ratio = np.linalg.norm(probe.after_first) / np.linalg.norm(first_batch_mean)
    print(f"moving_mean after one step / batch mean = {ratio:.3f}")
    if ratio > 0.5:
        behaviour = "jumped"
    elif 0.0 < ratio < 0.05:
        behaviour = "updated"
    else:
        behaviour = "other"
    print("BN-GROUND-TRUTH:", behaviour)


if __name__ == "__main__":
    main()
