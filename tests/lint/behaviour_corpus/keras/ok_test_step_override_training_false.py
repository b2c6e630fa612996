"""Keras 3 subclassed model with custom `train_step` / `test_step` (the "customizing what happens in
fit()" guide). `test_step` computes the same loss and metrics without gradients and calls
`self(x, training=False)`: `evaluate()` normalizes with the trained moving statistics and leaves them
unchanged."""
import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from keras import layers  # noqa: E402


class Classifier(keras.Model):
    def __init__(self, num_classes=3, **kwargs):
        super().__init__(**kwargs)
        self.dense = layers.Dense(16)
        self.bn = layers.BatchNormalization()
        self.out = layers.Dense(num_classes)
        self.loss_tracker = keras.metrics.Mean(name="loss")
        self.acc = keras.metrics.SparseCategoricalAccuracy(name="acc")

    def call(self, inputs, training=None):
        x = self.dense(inputs)
        x = self.bn(x, training=training)
        return self.out(keras.activations.relu(x))

    @property
    def metrics(self):
        return [self.loss_tracker, self.acc]

    def train_step(self, data):
        x, y = data
        with tf.GradientTape() as tape:
            logits = self(x, training=True)
            loss = self.compute_loss(y=y, y_pred=logits)
        grads = tape.gradient(loss, self.trainable_variables)
        self.optimizer.apply_gradients(zip(grads, self.trainable_variables))
        self.loss_tracker.update_state(loss)
        self.acc.update_state(y, logits)
        return {m.name: m.result() for m in self.metrics}

    def test_step(self, data):
        x, y = data
        logits = self(x, training=False)
        loss = self.compute_loss(y=y, y_pred=logits)
        self.loss_tracker.update_state(loss)
        self.acc.update_state(y, logits)
        return {m.name: m.result() for m in self.metrics}


if __name__ == "__main__":
    rng = np.random.default_rng(0)
    x_train = rng.normal(1, 1, (64, 6)).astype("float32")
    y_train = rng.integers(0, 3, 64)
    x_val = rng.normal(8, 1, (32, 6)).astype("float32")
    y_val = rng.integers(0, 3, 32)
    model = Classifier()
    model.compile(optimizer=keras.optimizers.Adam(1e-2),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    model.fit(x_train, y_train, batch_size=16, epochs=1, verbose=0)
    trained = np.array(model.bn.moving_mean)
    model.evaluate(x_val, y_val, batch_size=16, verbose=0)
    kept = np.allclose(trained, np.array(model.bn.moving_mean))
    print("BN-GROUND-TRUTH:", "updated" if kept and not np.allclose(trained, 0) else "contaminated")
