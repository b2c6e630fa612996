"""Classic Keras-2 GAN recipe run on Keras 3: the discriminator is compiled, then
discriminator.trainable = False is set so that the combined GAN model only trains the generator.
In Keras 3 the flag is read when the discriminator's own train function runs: its
train_on_batch calls see trainable=False, so BatchNormalization runs in inference mode (moving
statistics frozen at 0/1) and the discriminator weights never change."""
import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import keras  # noqa: E402
import numpy as np  # noqa: E402
from keras import layers  # noqa: E402

LATENT = 2


def build_discriminator():
    inp = keras.Input((4,))
    h = layers.Dense(16)(inp)
    h = layers.BatchNormalization(name="d_bn")(h)
    h = layers.LeakyReLU(0.2)(h)
    return keras.Model(inp, layers.Dense(1, activation="sigmoid")(h), name="discriminator")


def build_generator():
    return keras.Sequential([keras.Input((LATENT,)), layers.Dense(16), layers.BatchNormalization(),
                             layers.ReLU(), layers.Dense(4)], name="generator")


def build_gan(generator, discriminator):
    discriminator.trainable = False
    z = keras.Input((LATENT,))
    gan = keras.Model(z, discriminator(generator(z)))
    gan.compile(optimizer=keras.optimizers.Adam(2e-4), loss="binary_crossentropy")
    return gan


def train(epochs=3, batch=16):
    rng = np.random.default_rng(0)
    discriminator = build_discriminator()
    discriminator.compile(optimizer=keras.optimizers.Adam(2e-4), loss="binary_crossentropy")
    generator = build_generator()
    gan = build_gan(generator, discriminator)
    for epoch in range(epochs):
        real = rng.normal(3.0, 1.0, (batch, 4)).astype("float32")
        fake = generator.predict(rng.normal(size=(batch, LATENT)).astype("float32"), verbose=0)
        d_loss = discriminator.train_on_batch(np.concatenate([real, fake]),
                                              np.concatenate([np.ones((batch, 1)), np.zeros((batch, 1))]))
        g_loss = gan.train_on_batch(rng.normal(size=(batch, LATENT)).astype("float32"), np.ones((batch, 1)))
        print(f"epoch {epoch} d_loss {float(np.ravel(d_loss)[0]):.3f} g_loss {float(np.ravel(g_loss)[0]):.3f}")
    d_bn = discriminator.get_layer("d_bn")
    print("BN-GROUND-TRUTH:", "frozen" if np.allclose(d_bn.moving_mean, 0) else "updated")


if __name__ == "__main__":
    train()
