"""Keras 3 face-embedding style training: a functional network ends in a named 'embedding' layer and a
classifier. The trainer cuts it into an embedding view (keras.Model up to the embedding layer, sharing
the layers) and the softmax head, so one forward pass feeds both the cross-entropy and a center loss
on the embeddings. Custom tf.function step with a GradientTape; the view is called with
training=True there."""
import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from keras import layers  # noqa: E402

CFG = {"classes": 4, "embed_dim": 8, "center_weight": 0.05, "epochs": 3, "batch": 16, "lr": 3e-3}


def build_network(cfg):
    inputs = keras.Input((10, 10, 1), name="face")
    x = layers.Conv2D(8, 3, padding="same", use_bias=False)(inputs)
    x = layers.BatchNormalization(name="conv_bn")(x)
    x = layers.ReLU()(x)
    x = layers.GlobalAveragePooling2D()(x)
    x = layers.Dense(cfg["embed_dim"], use_bias=False)(x)
    emb = layers.BatchNormalization(name="embedding")(x)
    logits = layers.Dense(cfg["classes"], name="classifier")(emb)
    return keras.Model(inputs, logits)


class CenterLossTrainer:
    def __init__(self, network, cfg):
        self.cfg = cfg
        self.embedder = keras.Model(network.input, network.get_layer("embedding").output)
        self.head = network.get_layer("classifier")
        self.centers = tf.Variable(tf.zeros((cfg["classes"], cfg["embed_dim"])), trainable=False)
        self.optimizer = keras.optimizers.Adam(cfg["lr"])
        self.variables = network.trainable_variables

    @tf.function
    def step(self, images, labels):
        with tf.GradientTape() as tape:
            emb = self.embedder(images, training=True)
            logits = self.head(emb)
            ce = tf.reduce_mean(keras.losses.sparse_categorical_crossentropy(labels, logits, from_logits=True))
            centers = tf.gather(self.centers, labels)
            center_loss = tf.reduce_mean(tf.reduce_sum(tf.square(emb - centers), axis=1))
            loss = ce + self.cfg["center_weight"] * center_loss
        grads = tape.gradient(loss, self.variables)
        self.optimizer.apply_gradients(zip(grads, self.variables))
        delta = tf.math.unsorted_segment_mean(emb - centers, labels, self.cfg["classes"])
        self.centers.assign_add(0.5 * delta)
        return loss


def main():
    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    x = (rng.normal(size=(96, 10, 10, 1)) * 2.0 + 1.0).astype("float32")
    y = rng.integers(0, CFG["classes"], size=96).astype("int32")
    network = build_network(CFG)
    trainer = CenterLossTrainer(network, CFG)
    dataset = tf.data.Dataset.from_tensor_slices((x, y)).batch(CFG["batch"])
    for _ in range(CFG["epochs"]):
        for images, labels in dataset:
            trainer.step(images, labels)
    stats = {name: keras.ops.convert_to_numpy(network.get_layer(name).moving_mean)
             for name in ("conv_bn", "embedding")}
    for name, value in stats.items():
        print(name, "moving_mean", np.round(value, 3))
    frozen = all(np.allclose(value, 0.0) for value in stats.values())
    print("BN-GROUND-TRUTH:", "frozen" if frozen else "updated")


if __name__ == "__main__":
    main()
