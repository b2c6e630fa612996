"""Keras 3 custom loop in a Trainer ported from PyTorch: train()/eval() flip self.training and the
compiled forward is `@tf.function def forward(self, images): return self.model(images,
training=self.training)`. fit() starts with a sanity evaluation, so forward is traced with
self.training == False; a Python attribute is a trace-time constant and not part of the cache key,
so the training steps (same shapes, eager GradientTape around forward) reuse that trace and run
BatchNormalization in inference mode while the weights keep getting gradients."""
import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from keras import layers  # noqa: E402

BATCH = 16


def build_model():
    return keras.Sequential([
        keras.Input((8,)),
        layers.Dense(20),
        layers.BatchNormalization(name="bn"),
        layers.ReLU(),
        layers.Dense(2),
    ])


class Trainer:
    def __init__(self, model, lr=1e-2):
        self.model = model
        self.training = True
        self.optimizer = keras.optimizers.Adam(lr)
        self.loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True)

    def train(self):
        self.training = True

    def eval(self):
        self.training = False

    @tf.function
    def forward(self, images):
        return self.model(images, training=self.training)

    def train_step(self, images, labels):
        with tf.GradientTape() as tape:
            loss = self.loss_fn(labels, self.forward(images))
        grads = tape.gradient(loss, self.model.trainable_variables)
        self.optimizer.apply_gradients(zip(grads, self.model.trainable_variables))
        return float(loss)

    def evaluate(self, dataset):
        self.eval()
        acc = keras.metrics.SparseCategoricalAccuracy()
        for images, labels in dataset:
            acc.update_state(labels, self.forward(images))
        self.train()
        return float(acc.result())

    def fit(self, train_ds, val_ds, epochs):
        print("sanity check accuracy", self.evaluate(val_ds))
        for epoch in range(epochs):
            self.train()
            losses = [self.train_step(x, y) for x, y in train_ds]
            print(f"epoch {epoch} loss {np.mean(losses):.3f} val acc {self.evaluate(val_ds):.3f}")


def dataset(n, shift, seed):
    rng = np.random.default_rng(seed)
    x = rng.normal(shift, 1.0, (n, 8)).astype("float32")
    y = (x[:, 0] > shift).astype("int32")
    return tf.data.Dataset.from_tensor_slices((x, y)).batch(BATCH, drop_remainder=True)


def main():
    keras.utils.set_random_seed(0)
    model = build_model()
    trainer = Trainer(model)
    trainer.fit(dataset(96, 2.0, 1), dataset(32, 2.0, 2), epochs=2)
    moving_mean = keras.ops.convert_to_numpy(model.get_layer("bn").moving_mean)
    print("BN-GROUND-TRUTH:", "frozen" if np.allclose(moving_mean, 0.0) else "updated")


if __name__ == "__main__":
    main()
