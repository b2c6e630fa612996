"""SimCLR-style Keras 3 pre-training with a custom train_step: the same encoder is called on two
augmented views of the batch, both with training=True, and the NT-Xent loss is minimised. The
shared BatchNormalization layer updates its moving statistics once per view (twice per step), as
in the reference implementations."""
import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from keras import layers  # noqa: E402


def make_encoder(dim=8):
    return keras.Sequential([keras.Input((6,)), layers.Dense(16, use_bias=False),
                             layers.BatchNormalization(name="enc_bn"), layers.ReLU(), layers.Dense(dim)],
                            name="encoder")


def augment(x):
    return x + tf.random.normal(tf.shape(x), stddev=0.3)


class SimCLR(keras.Model):
    def __init__(self, encoder, temperature=0.5):
        super().__init__()
        self.encoder = encoder
        self.temperature = temperature
        self.loss_tracker = keras.metrics.Mean(name="loss")

    def nt_xent(self, z1, z2):
        z = tf.math.l2_normalize(tf.concat([z1, z2], 0), axis=1)
        n = tf.shape(z1)[0]
        logits = tf.matmul(z, z, transpose_b=True) / self.temperature - 1e9 * tf.eye(2 * n)
        targets = tf.concat([tf.range(n, 2 * n), tf.range(n)], 0)
        return tf.reduce_mean(keras.losses.sparse_categorical_crossentropy(targets, logits, from_logits=True))

    def train_step(self, data):
        with tf.GradientTape() as tape:
            z1 = self.encoder(augment(data), training=True)
            z2 = self.encoder(augment(data), training=True)
            loss = self.nt_xent(z1, z2)
        grads = tape.gradient(loss, self.encoder.trainable_variables)
        self.optimizer.apply_gradients(zip(grads, self.encoder.trainable_variables))
        self.loss_tracker.update_state(loss)
        return {"loss": self.loss_tracker.result()}


def main():
    rng = np.random.default_rng(0)
    data = rng.normal(2.0, 1.0, (32, 6)).astype("float32")
    encoder = make_encoder()
    model = SimCLR(encoder)
    model.compile(optimizer=keras.optimizers.Adam(1e-3))
    model.fit(data, batch_size=16, epochs=2, verbose=0)
    bn = encoder.get_layer("enc_bn")
    print("BN-GROUND-TRUTH:", "frozen" if np.allclose(bn.moving_mean, 0) else "updated")


if __name__ == "__main__":
    main()
