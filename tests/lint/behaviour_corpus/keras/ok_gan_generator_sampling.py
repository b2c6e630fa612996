"""Keras GAN: generator and discriminator trained with training=True, samples drawn with training=False."""
import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

LATENT = 4


def make_generator():
    return keras.Sequential([keras.Input((LATENT,)), keras.layers.Dense(8, use_bias=False),
                             keras.layers.BatchNormalization(), keras.layers.LeakyReLU(), keras.layers.Dense(3)])


def make_discriminator():
    return keras.Sequential([keras.Input((3,)), keras.layers.Dense(8), keras.layers.LeakyReLU(), keras.layers.Dense(1)])


generator, discriminator = make_generator(), make_discriminator()
g_opt, d_opt = keras.optimizers.Adam(1e-3), keras.optimizers.Adam(1e-3)
bce = keras.losses.BinaryCrossentropy(from_logits=True)


@tf.function
def train_step(real):
    noise = tf.random.normal([tf.shape(real)[0], LATENT])
    with tf.GradientTape() as gen_tape, tf.GradientTape() as disc_tape:
        fake = generator(noise, training=True)
        real_out = discriminator(real, training=True)
        fake_out = discriminator(fake, training=True)
        gen_loss = bce(tf.ones_like(fake_out), fake_out)
        disc_loss = bce(tf.ones_like(real_out), real_out) + bce(tf.zeros_like(fake_out), fake_out)
    g_opt.apply_gradients(zip(gen_tape.gradient(gen_loss, generator.trainable_variables), generator.trainable_variables))
    d_opt.apply_gradients(zip(disc_tape.gradient(disc_loss, discriminator.trainable_variables),
                              discriminator.trainable_variables))


def generate_and_save_images(model, seed):
    return model(seed, training=False)


if __name__ == "__main__":
    bn = generator.layers[1]
    start = np.array(bn.moving_mean)
    for _ in range(3):
        train_step(tf.random.normal([16, 3]))
    trained = np.array(bn.moving_mean)
    generate_and_save_images(generator, tf.random.normal([8, LATENT]))
    ok = not np.allclose(start, trained) and np.allclose(trained, bn.moving_mean)
    print("BN-GROUND-TRUTH:", "updated" if ok else "broken")
