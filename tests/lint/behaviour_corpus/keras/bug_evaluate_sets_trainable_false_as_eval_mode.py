"""Keras 3 custom-loop trainer ported from PyTorch: evaluate() "puts the model in eval mode" with
self.network.trainable = False (a PyTorch habit: trainable as model.eval()) and never sets it back.
The optimizer still steps the variable list cached in __init__, but in Keras 3 a non-trainable
BatchNormalization runs in inference mode even when called with training=True: after the first
evaluation the weights keep training while the moving statistics stop moving."""
import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from keras import layers  # noqa: E402


def build_model(input_dim=10, classes=4):
    return keras.Sequential([
        keras.Input((input_dim,)),
        layers.Dense(24, use_bias=False),
        layers.BatchNormalization(name="bn"),
        layers.ReLU(),
        layers.Dense(classes),
    ])


class Trainer:
    def __init__(self, model, learning_rate=1e-2):
        self.network = model
        self.optimizer = keras.optimizers.Adam(learning_rate)
        self.loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
        self.val_acc = keras.metrics.SparseCategoricalAccuracy()
        self.train_variables = model.trainable_variables

    def train_step(self, images, labels):
        with tf.GradientTape() as tape:
            logits = self.network(images, training=True)
            loss = self.loss_fn(labels, logits)
        grads = tape.gradient(loss, self.train_variables)
        self.optimizer.apply_gradients(zip(grads, self.train_variables))
        return loss

    def evaluate(self, dataset):
        self.network.trainable = False  # eval mode: no BN updates, no dropout
        self.val_acc.reset_state()
        for images, labels in dataset:
            self.val_acc.update_state(labels, self.network(images, training=False))
        return float(self.val_acc.result())

    def fit(self, train_ds, val_ds, epochs=3):
        bn = self.network.get_layer("bn")
        moved_per_epoch = []
        for epoch in range(epochs):
            before = np.array(bn.moving_mean)
            for images, labels in train_ds:
                loss = self.train_step(images, labels)
            moved_per_epoch.append(not np.allclose(before, np.array(bn.moving_mean)))
            print(f"epoch {epoch}: loss {float(loss):.3f} val acc {self.evaluate(val_ds):.3f}")
        return moved_per_epoch


def make_dataset(n, shift, seed, batch_size=16):
    rng = np.random.default_rng(seed)
    x = rng.normal(shift, 1.0, (n, 10)).astype("float32")
    y = rng.integers(0, 4, n)
    return tf.data.Dataset.from_tensor_slices((x, y)).batch(batch_size)


def main():
    keras.utils.set_random_seed(0)
    model = build_model()
    trainer = Trainer(model)
    moved = trainer.fit(make_dataset(64, 2.0, 1), make_dataset(32, 2.0, 2))
    if all(moved):
        behaviour = "updated"
    elif moved[0] and not any(moved[1:]):
        behaviour = "stale"
    else:
        behaviour = "other"
    print("BN-GROUND-TRUTH:", behaviour)


if __name__ == "__main__":
    main()
