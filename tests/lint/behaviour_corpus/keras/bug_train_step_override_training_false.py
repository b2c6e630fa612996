"""Model subclass overriding train_step() and calling itself with training=False."""
import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402


class SmoothedClassifier(keras.Model):
    def __init__(self, n_cls=3):
        super().__init__()
        self.hidden = keras.layers.Dense(8)
        self.bn = keras.layers.BatchNormalization()
        self.logits = keras.layers.Dense(n_cls)
        self.loss_tracker = keras.metrics.Mean(name="loss")

    def call(self, x, training=False):
        return self.logits(tf.nn.relu(self.bn(self.hidden(x), training=training)))

    def train_step(self, data):
        x, y = data
        with tf.GradientTape() as tape:
            logits = self(x, training=False)
            loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(y, logits))
        grads = tape.gradient(loss, self.trainable_variables)
        self.optimizer.apply_gradients(zip(grads, self.trainable_variables))
        self.loss_tracker.update_state(loss)
        return {"loss": self.loss_tracker.result()}


if __name__ == "__main__":
    rng = np.random.default_rng(0)
    clf = SmoothedClassifier()
    clf.compile(optimizer=keras.optimizers.Adam(1e-2))
    clf(np.zeros((2, 4), "float32"))
    before = np.array(clf.bn.moving_mean)
    clf.fit(rng.normal(2, 1, (32, 4)).astype("float32"), rng.integers(0, 3, 32), batch_size=8, epochs=1, verbose=0)
    print("BN-GROUND-TRUTH:", "frozen" if np.allclose(before, clf.bn.moving_mean) else "updated")
