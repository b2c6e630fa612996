"""Metric-learning model (proxy-based loss) whose shared helper is
`embed(self, images, normalize=False, training=False)`. The custom train_step calls
`self.embed(x, True)` meaning "training": the True lands in `normalize` (the loss normalises the
embedding anyway, so nothing looks wrong) and `training` keeps its False default. The backbone's
BatchNormalization runs in inference mode during fit(): moving statistics stuck at 0/1."""
import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

CONFIG = {"embedding_dim": 8, "num_classes": 4, "scale": 8.0, "lr": 1e-2, "epochs": 2}


class ProxyEmbedder(keras.Model):
    def __init__(self, embedding_dim, num_classes, scale, **kwargs):
        super().__init__(**kwargs)
        self.backbone = keras.Sequential([
            keras.layers.Dense(16, use_bias=False),
            keras.layers.BatchNormalization(),
            keras.layers.ReLU(),
            keras.layers.Dense(embedding_dim),
        ], name="backbone")
        self.proxies = self.add_weight(shape=(num_classes, embedding_dim), initializer="random_normal",
                                       name="proxies")
        self.scale = scale
        self.loss_tracker = keras.metrics.Mean(name="loss")

    def embed(self, images, normalize=False, training=False):
        emb = self.backbone(images, training=training)
        return tf.math.l2_normalize(emb, axis=-1) if normalize else emb

    def proxy_logits(self, emb):
        emb = tf.math.l2_normalize(emb, axis=-1)
        return self.scale * tf.matmul(emb, tf.math.l2_normalize(self.proxies, axis=-1), transpose_b=True)

    def call(self, images, training=None):
        return self.embed(images, normalize=True, training=training)

    def train_step(self, data):
        x, y = data
        with tf.GradientTape() as tape:
            emb = self.embed(x, True)
            loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(y, self.proxy_logits(emb)))
        grads = tape.gradient(loss, self.trainable_variables)
        self.optimizer.apply_gradients(zip(grads, self.trainable_variables))
        self.loss_tracker.update_state(loss)
        return {"loss": self.loss_tracker.result()}

    @property
    def metrics(self):
        return [self.loss_tracker]


def main():
    rng = np.random.default_rng(0)
    x = (rng.normal(size=(96, 6)) * 1.5 + 2.0).astype("float32")
    y = rng.integers(0, CONFIG["num_classes"], size=96).astype("int32")
    model = ProxyEmbedder(CONFIG["embedding_dim"], CONFIG["num_classes"], CONFIG["scale"])
    model.compile(optimizer=keras.optimizers.Adam(CONFIG["lr"]))
    model(x[:2])
    bn = model.backbone.layers[1]
    before = bn.moving_mean.numpy().copy()
    model.fit(x, y, batch_size=16, epochs=CONFIG["epochs"], verbose=0)
    print("BN-GROUND-TRUTH:", "frozen" if np.allclose(before, bn.moving_mean.numpy()) else "updated")


if __name__ == "__main__":
    main()
