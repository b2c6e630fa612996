"""keras.io-style GAN: a keras.Model subclass holding a generator and a discriminator (both
functional models with BatchNormalization), custom compile() and train_step(), trained with fit()."""
import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from keras import layers, ops  # noqa: E402

LATENT = 4


def make_discriminator():
    inp = keras.Input(shape=(2,))
    x = layers.Dense(16)(inp)
    x = layers.BatchNormalization(name="d_bn")(x)
    x = layers.LeakyReLU(0.2)(x)
    return keras.Model(inp, layers.Dense(1)(x), name="discriminator")


def make_generator():
    inp = keras.Input(shape=(LATENT,))
    x = layers.Dense(16)(inp)
    x = layers.BatchNormalization(name="g_bn")(x)
    x = layers.ReLU()(x)
    return keras.Model(inp, layers.Dense(2)(x), name="generator")


class GAN(keras.Model):
    def __init__(self, discriminator, generator, latent_dim):
        super().__init__()
        self.discriminator = discriminator
        self.generator = generator
        self.latent_dim = latent_dim
        self.seed_generator = keras.random.SeedGenerator(1337)

    def compile(self, d_optimizer, g_optimizer, loss_fn):
        super().compile()
        self.d_optimizer = d_optimizer
        self.g_optimizer = g_optimizer
        self.loss_fn = loss_fn

    def train_step(self, real_points):
        batch_size = ops.shape(real_points)[0]
        z = keras.random.normal((batch_size, self.latent_dim), seed=self.seed_generator)
        generated = self.generator(z, training=True)
        combined = ops.concatenate([generated, real_points], axis=0)
        labels = ops.concatenate([ops.ones((batch_size, 1)), ops.zeros((batch_size, 1))], axis=0)
        with tf.GradientTape() as tape:
            predictions = self.discriminator(combined)
            d_loss = self.loss_fn(labels, predictions)
        grads = tape.gradient(d_loss, self.discriminator.trainable_weights)
        self.d_optimizer.apply_gradients(zip(grads, self.discriminator.trainable_weights))

        z = keras.random.normal((batch_size, self.latent_dim), seed=self.seed_generator)
        misleading_labels = ops.zeros((batch_size, 1))
        with tf.GradientTape() as tape:
            predictions = self.discriminator(self.generator(z, training=True))
            g_loss = self.loss_fn(misleading_labels, predictions)
        grads = tape.gradient(g_loss, self.generator.trainable_weights)
        self.g_optimizer.apply_gradients(zip(grads, self.generator.trainable_weights))
        return {"d_loss": d_loss, "g_loss": g_loss}


if __name__ == "__main__":
    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    points = (rng.normal(0.0, 0.5, (128, 2)) + np.array([3.0, -2.0])).astype("float32")
    gan = GAN(make_discriminator(), make_generator(), LATENT)
    gan.compile(d_optimizer=keras.optimizers.Adam(2e-3), g_optimizer=keras.optimizers.Adam(2e-3),
                loss_fn=keras.losses.BinaryCrossentropy(from_logits=True))
    d_bn = gan.discriminator.get_layer("d_bn")
    g_bn = gan.generator.get_layer("g_bn")
    d_before, g_before = np.array(d_bn.moving_mean), np.array(g_bn.moving_mean)
    gan.fit(points, epochs=2, batch_size=32, verbose=0)
    d_moved = not np.allclose(d_before, np.array(d_bn.moving_mean))
    g_moved = not np.allclose(g_before, np.array(g_bn.moving_mean))
    print("BN-GROUND-TRUTH:", "updated" if d_moved and g_moved else ("frozen" if g_moved else "broken"))
