"""Model subclass overriding train_step (to add gradient clipping) that calls self(x) without
training=True: under fit() Keras 3 runs the BN layers in inference mode and never updates them."""
import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from keras import layers  # noqa: E402


class ClippedModel(keras.Model):
    def __init__(self, clip_norm=1.0, **kwargs):
        super().__init__(**kwargs)
        self.clip_norm = clip_norm
        self.hidden = layers.Dense(16)
        self.bn = layers.BatchNormalization()
        self.out = layers.Dense(1)

    def call(self, inputs, training=None):
        return self.out(tf.nn.relu(self.bn(self.hidden(inputs), training=training)))

    def train_step(self, data):
        x, y = data
        with tf.GradientTape() as tape:
            y_pred = self(x)
            loss = self.compute_loss(x=x, y=y, y_pred=y_pred)
        grads = tape.gradient(loss, self.trainable_variables)
        grads, _ = tf.clip_by_global_norm(grads, self.clip_norm)
        self.optimizer.apply_gradients(zip(grads, self.trainable_variables))
        for metric in self.metrics:
            if metric.name == "loss":
                metric.update_state(loss)
            else:
                metric.update_state(y, y_pred)
        return {m.name: m.result() for m in self.metrics}


if __name__ == "__main__":
    rng = np.random.default_rng(0)
    model = ClippedModel()
    model.compile(optimizer=keras.optimizers.SGD(0.01), loss="mse")
    x = rng.normal(2.5, 1.0, (64, 6)).astype("float32")
    y = rng.normal(size=(64, 1)).astype("float32")
    model(x[:2])
    before = np.array(model.bn.moving_mean)
    model.fit(x, y, epochs=2, batch_size=16, verbose=0)
    print("BN-GROUND-TRUTH:", "frozen" if np.allclose(before, model.bn.moving_mean) else "updated")
