"""Variational autoencoder laid out like the keras.io VAE guide: encoder and decoder are separate
functional models held as attributes, train_step calls both with training=True inside the tape."""
import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from keras import layers  # noqa: E402

LATENT = 2
FEATURES = 6


class Sampling(layers.Layer):
    def call(self, inputs):
        z_mean, z_log_var = inputs
        eps = keras.random.normal(tf.shape(z_mean), seed=3)
        return z_mean + tf.exp(0.5 * z_log_var) * eps


def make_encoder():
    inp = keras.Input((FEATURES,))
    h = layers.Dense(8)(inp)
    h = layers.BatchNormalization(name="enc_bn")(h)
    h = layers.Activation("relu")(h)
    z_mean = layers.Dense(LATENT, name="z_mean")(h)
    z_log_var = layers.Dense(LATENT, name="z_log_var")(h)
    return keras.Model(inp, [z_mean, z_log_var, Sampling()([z_mean, z_log_var])], name="encoder")


def make_decoder():
    inp = keras.Input((LATENT,))
    h = layers.Dense(8)(inp)
    h = layers.BatchNormalization(name="dec_bn")(h)
    h = layers.Activation("relu")(h)
    return keras.Model(inp, layers.Dense(FEATURES)(h), name="decoder")


class VAE(keras.Model):
    def __init__(self, encoder, decoder, **kwargs):
        super().__init__(**kwargs)
        self.encoder = encoder
        self.decoder = decoder
        self.total_loss_tracker = keras.metrics.Mean(name="total_loss")

    @property
    def metrics(self):
        return [self.total_loss_tracker]

    def train_step(self, data):
        with tf.GradientTape() as tape:
            z_mean, z_log_var, z = self.encoder(data, training=True)
            reconstruction = self.decoder(z, training=True)
            rec = tf.reduce_mean(tf.reduce_sum(tf.square(data - reconstruction), axis=1))
            kl = -0.5 * tf.reduce_mean(tf.reduce_sum(1 + z_log_var - tf.square(z_mean) - tf.exp(z_log_var), axis=1))
            total = rec + kl
        grads = tape.gradient(total, self.trainable_weights)
        self.optimizer.apply_gradients(zip(grads, self.trainable_weights))
        self.total_loss_tracker.update_state(total)
        return {"loss": self.total_loss_tracker.result()}


if __name__ == "__main__":
    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    data = rng.normal(3.0, 1.0, (64, FEATURES)).astype("float32")
    vae = VAE(make_encoder(), make_decoder())
    vae.compile(optimizer=keras.optimizers.Adam(1e-2))
    bn = vae.encoder.get_layer("enc_bn")
    start = np.array(bn.moving_mean)
    vae.fit(data, epochs=2, batch_size=16, verbose=0)
    moved = float(np.abs(np.array(bn.moving_mean) - start).max())
    print("BN-GROUND-TRUTH:", "updated" if moved > 1e-3 else "frozen")
