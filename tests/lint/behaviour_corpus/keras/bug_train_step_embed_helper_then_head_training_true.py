"""Keras 3 retrieval-style classifier: EmbeddingClassifier(keras.Model) owns an `encoder` and a `head`
and exposes `embed(x)` (written for exporting embeddings to a nearest-neighbour index). Its fit()
train_step reuses that helper, `feats = self.embed(x)`, and then calls
`self.head(feats, training=True)`. embed() calls self.encoder(x) with no training argument and
train_step runs outside any outer model call, so the encoder's BatchNormalization layers run in
inference mode (moving stats stay 0/1) while only the head's BN updates."""
import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from keras import layers  # noqa: E402

CONFIG = {"embed_dim": 16, "classes": 4, "epochs": 3, "batch_size": 32, "lr": 2e-3}


def conv_encoder(dim):
    return keras.Sequential([
        keras.Input((12, 12, 1)),
        layers.Conv2D(8, 3, padding="same", use_bias=False),
        layers.BatchNormalization(name="enc_bn1"),
        layers.ReLU(),
        layers.MaxPooling2D(),
        layers.Conv2D(dim, 3, padding="same", use_bias=False),
        layers.BatchNormalization(name="enc_bn2"),
        layers.ReLU(),
        layers.GlobalAveragePooling2D(),
    ], name="encoder")


def mlp_head(dim, classes):
    return keras.Sequential([
        keras.Input((dim,)),
        layers.Dense(dim),
        layers.BatchNormalization(name="head_bn"),
        layers.ReLU(),
        layers.Dense(classes),
    ], name="head")


class EmbeddingClassifier(keras.Model):
    def __init__(self, embed_dim, classes, **kwargs):
        super().__init__(**kwargs)
        self.encoder = conv_encoder(embed_dim)
        self.head = mlp_head(embed_dim, classes)

    def embed(self, images):
        return tf.math.l2_normalize(self.encoder(images), axis=-1) * 4.0

    def call(self, images, training=None):
        feats = tf.math.l2_normalize(self.encoder(images, training=training), axis=-1) * 4.0
        return self.head(feats, training=training)

    def train_step(self, data):
        images, labels = data
        with tf.GradientTape() as tape:
            feats = self.embed(images)
            logits = self.head(feats, training=True)
            loss = self.compute_loss(x=images, y=labels, y_pred=logits)
        grads = tape.gradient(loss, self.trainable_variables)
        self.optimizer.apply_gradients(zip(grads, self.trainable_variables))
        for metric in self.metrics:
            if metric.name == "loss":
                metric.update_state(loss)
            else:
                metric.update_state(labels, logits)
        return {m.name: m.result() for m in self.metrics}


def make_images(n, seed):
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, CONFIG["classes"], n).astype("int32")
    images = rng.normal(0.5, 1.0, (n, 12, 12, 1)).astype("float32")
    images[:, :6, :6, 0] += (labels == 0)[:, None, None] * 2.0
    images[:, 6:, 6:, 0] += (labels == 1)[:, None, None] * 2.0
    images[:, :6, 6:, 0] += (labels == 2)[:, None, None] * 2.0
    return images, labels


def main():
    keras.utils.set_random_seed(0)
    model = EmbeddingClassifier(CONFIG["embed_dim"], CONFIG["classes"])
    model.compile(optimizer=keras.optimizers.Adam(CONFIG["lr"]),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=["accuracy"])
    x, y = make_images(256, 1)
    model.fit(x, y, epochs=CONFIG["epochs"], batch_size=CONFIG["batch_size"], verbose=2)
    enc_mean = keras.ops.convert_to_numpy(model.encoder.get_layer("enc_bn1").moving_mean)
    head_mean = keras.ops.convert_to_numpy(model.head.get_layer("head_bn").moving_mean)
    print("head BN moved:", not np.allclose(head_mean, 0.0))
    print("BN-GROUND-TRUTH:", "frozen" if np.allclose(enc_mean, 0.0) else "updated")


if __name__ == "__main__":
    main()
