"""Keras GAN: the discriminator update calls the discriminator with training=False (copied from the G step)."""
import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from keras import layers  # noqa: E402

LATENT = 4

generator = keras.Sequential([keras.Input((LATENT,)), layers.Dense(8), layers.BatchNormalization(),
                              layers.LeakyReLU(0.2), layers.Dense(6)], name="generator")
discriminator = keras.Sequential([keras.Input((6,)), layers.Dense(8), layers.BatchNormalization(name="d_bn"),
                                  layers.LeakyReLU(0.2), layers.Dense(1)], name="discriminator")
g_opt, d_opt = keras.optimizers.Adam(2e-3), keras.optimizers.Adam(2e-3)
bce = keras.losses.BinaryCrossentropy(from_logits=True)


@tf.function
def train_step(real):
    noise = tf.random.normal((tf.shape(real)[0], LATENT))
    with tf.GradientTape() as d_tape:
        fake = generator(noise, training=True)
        real_logits = discriminator(real, training=False)
        fake_logits = discriminator(fake, training=False)
        d_loss = bce(tf.ones_like(real_logits), real_logits) + bce(tf.zeros_like(fake_logits), fake_logits)
    d_grads = d_tape.gradient(d_loss, discriminator.trainable_variables)
    d_opt.apply_gradients(zip(d_grads, discriminator.trainable_variables))
    with tf.GradientTape() as g_tape:
        fake_logits = discriminator(generator(noise, training=True), training=False)
        g_loss = bce(tf.ones_like(fake_logits), fake_logits)
    g_grads = g_tape.gradient(g_loss, generator.trainable_variables)
    g_opt.apply_gradients(zip(g_grads, generator.trainable_variables))
    return d_loss, g_loss


if __name__ == "__main__":
    rng = np.random.default_rng(0)
    for _ in range(4):
        train_step(rng.normal(3, 1, (16, 6)).astype("float32"))
    d_bn = discriminator.get_layer("d_bn")
    print("BN-GROUND-TRUTH:", "frozen" if np.allclose(d_bn.moving_mean, 0) else "updated")
