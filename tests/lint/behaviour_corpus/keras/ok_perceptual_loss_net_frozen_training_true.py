"""Keras 3 denoiser trained with a perceptual (feature-matching) loss. The loss network is a small
pretrained classifier trunk loaded from its checkpoint and set `trainable = False` right after
loading; the generator's custom loop still calls `loss_net(x, training=True)` inside the tape. In
Keras 3 a non-trainable BatchNormalization always runs in inference mode, so the pretrained moving
statistics are kept (only the generator is optimized)."""
import os
import tempfile

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from keras import layers  # noqa: E402

SIZE = 16


def feature_trunk():
    return keras.Sequential([
        keras.Input((SIZE, SIZE, 1)),
        layers.Conv2D(8, 3, padding="same", use_bias=False),
        layers.BatchNormalization(name="feat_bn"),
        layers.ReLU(),
        layers.Conv2D(8, 3, padding="same"),
    ], name="feature_trunk")


def denoiser():
    inp = keras.Input((SIZE, SIZE, 1))
    h = layers.Conv2D(8, 3, padding="same", activation="relu")(inp)
    out = layers.Add()([inp, layers.Conv2D(1, 3, padding="same")(h)])
    return keras.Model(inp, out, name="denoiser")


def pretrain_trunk(path, rng):
    """Stand-in for the released checkpoint: trunk + linear probe fitted on natural images."""
    trunk = feature_trunk()
    clf = keras.Sequential([trunk, layers.GlobalAveragePooling2D(), layers.Dense(2)])
    x = rng.normal(0.0, 1.0, (128, SIZE, SIZE, 1)).astype("float32")
    y = (x[:, :8].mean(axis=(1, 2, 3)) > 0).astype("int32")
    clf.compile(optimizer="adam", loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    clf.fit(x, y, epochs=2, batch_size=32, verbose=0)
    trunk.save_weights(path)


def load_loss_network(path):
    net = feature_trunk()
    net.load_weights(path)
    net.trainable = False
    return net


def main():
    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    ckpt = os.path.join(tempfile.mkdtemp(), "trunk.weights.h5")
    pretrain_trunk(ckpt, rng)

    loss_net = load_loss_network(ckpt)
    gen = denoiser()
    opt = keras.optimizers.Adam(1e-3)
    pretrained_mean = keras.ops.convert_to_numpy(loss_net.get_layer("feat_bn").moving_mean).copy()

    clean = (rng.normal(3.0, 0.5, (96, SIZE, SIZE, 1))).astype("float32")
    noisy = clean + rng.normal(0.0, 0.8, clean.shape).astype("float32")
    ds = tf.data.Dataset.from_tensor_slices((noisy, clean)).batch(16)

    @tf.function
    def gen_step(noisy_b, clean_b):
        with tf.GradientTape() as tape:
            denoised = gen(noisy_b, training=True)
            feat_loss = tf.reduce_mean(tf.square(loss_net(denoised, training=True)
                                                 - loss_net(clean_b, training=True)))
            loss = tf.reduce_mean(tf.square(denoised - clean_b)) + 0.1 * feat_loss
        grads = tape.gradient(loss, gen.trainable_variables)
        opt.apply_gradients(zip(grads, gen.trainable_variables))
        return loss

    for epoch in range(2):
        losses = [float(gen_step(nb, cb)) for nb, cb in ds]
        print(f"epoch {epoch} loss {np.mean(losses):.4f}")
    final_mean = keras.ops.convert_to_numpy(loss_net.get_layer("feat_bn").moving_mean)
    moved = float(np.max(np.abs(final_mean - pretrained_mean)))
    print(f"loss-network BN moving_mean max change {moved:.5f}")
    print("BN-GROUND-TRUTH:", "contaminated" if moved > 1e-6 else "preserved")


if __name__ == "__main__":
    main()
