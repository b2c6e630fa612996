"""Gradient accumulation inside a custom train_step: each batch is split into micro-batches that
are run through the model with training=True, their gradients summed and applied once. Every
micro-batch forward updates the BatchNormalization moving statistics (accumulation-aware code keeps
that on purpose; the statistics just see smaller batches)."""
import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

HPARAMS = {"micro_batches": 4, "batch_size": 32, "lr": 1e-2, "epochs": 2}


class AccumulatingClassifier(keras.Model):
    def __init__(self, micro_batches, num_classes=3, **kwargs):
        super().__init__(**kwargs)
        self.micro_batches = micro_batches
        self.hidden = keras.layers.Dense(16, use_bias=False)
        self.bn = keras.layers.BatchNormalization(momentum=0.9)
        self.out = keras.layers.Dense(num_classes)
        self.loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
        self.loss_tracker = keras.metrics.Mean(name="loss")

    def call(self, x, training=None):
        return self.out(tf.nn.relu(self.bn(self.hidden(x), training=training)))

    def train_step(self, data):
        x, y = data
        xs = tf.split(x, self.micro_batches)
        ys = tf.split(y, self.micro_batches)
        accumulated = [tf.zeros_like(v) for v in self.trainable_variables]
        total = 0.0
        for x_mb, y_mb in zip(xs, ys):
            with tf.GradientTape() as tape:
                loss = self.loss_fn(y_mb, self(x_mb, training=True)) / self.micro_batches
            grads = tape.gradient(loss, self.trainable_variables)
            accumulated = [a + g for a, g in zip(accumulated, grads)]
            total += loss
        self.optimizer.apply_gradients(zip(accumulated, self.trainable_variables))
        self.loss_tracker.update_state(total)
        return {"loss": self.loss_tracker.result()}

    @property
    def metrics(self):
        return [self.loss_tracker]


def main():
    rng = np.random.default_rng(0)
    x = (rng.normal(size=(128, 6)) + 3.0).astype("float32")
    y = rng.integers(0, 3, size=128).astype("int32")
    model = AccumulatingClassifier(HPARAMS["micro_batches"])
    model.compile(optimizer=keras.optimizers.SGD(HPARAMS["lr"]))
    model(x[:4])
    before = model.bn.moving_mean.numpy().copy()
    model.fit(x, y, batch_size=HPARAMS["batch_size"], epochs=HPARAMS["epochs"], verbose=0)
    after = model.bn.moving_mean.numpy()
    print("BN-GROUND-TRUTH:", "frozen" if np.allclose(before, after) else "updated")


if __name__ == "__main__":
    main()
