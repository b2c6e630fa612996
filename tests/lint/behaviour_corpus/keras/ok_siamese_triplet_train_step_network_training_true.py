"""keras.io-style Siamese network with a triplet loss (Keras 3, fit()): SiameseModel wraps a functional
siamese_network (anchor/positive/negative -> shared embedding -> distances). train_step delegates to
_compute_loss(data), which calls self.siamese_network(data); the gradients flow into the network's
trainable weights and the embedding's BatchNormalization layers are measured after fit()."""
import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from keras import layers  # noqa: E402

FEATURES = 10


class DistanceLayer(layers.Layer):
    def call(self, anchor, positive, negative):
        ap = keras.ops.sum(keras.ops.square(anchor - positive), -1)
        an = keras.ops.sum(keras.ops.square(anchor - negative), -1)
        return ap, an


def make_embedding():
    return keras.Sequential([
        keras.Input((FEATURES,)),
        layers.Dense(16, use_bias=False),
        layers.BatchNormalization(name="emb_bn"),
        layers.ReLU(),
        layers.Dense(8),
    ], name="embedding")


def make_siamese_network(embedding):
    anchor_in = keras.Input((FEATURES,), name="anchor")
    positive_in = keras.Input((FEATURES,), name="positive")
    negative_in = keras.Input((FEATURES,), name="negative")
    distances = DistanceLayer()(embedding(anchor_in), embedding(positive_in), embedding(negative_in))
    return keras.Model([anchor_in, positive_in, negative_in], distances)


class SiameseModel(keras.Model):
    def __init__(self, siamese_network, margin=1.0):
        super().__init__()
        self.siamese_network = siamese_network
        self.margin = margin
        self.loss_tracker = keras.metrics.Mean(name="loss")

    def call(self, inputs):
        return self.siamese_network(inputs)

    def train_step(self, data):
        with tf.GradientTape() as tape:
            loss = self._compute_loss(data)
        weights = self.siamese_network.trainable_weights
        gradients = tape.gradient(loss, weights)
        self.optimizer.apply_gradients(zip(gradients, weights))
        self.loss_tracker.update_state(loss)
        return {"loss": self.loss_tracker.result()}

    def _compute_loss(self, data):
        ap_distance, an_distance = self.siamese_network(data, training=True)
        return keras.ops.mean(keras.ops.maximum(ap_distance - an_distance + self.margin, 0.0))

    @property
    def metrics(self):
        return [self.loss_tracker]


def triplets(rng, n):
    anchor = rng.normal(1.5, 1.0, (n, FEATURES)).astype("float32")
    positive = (anchor + rng.normal(0.0, 0.1, (n, FEATURES))).astype("float32")
    negative = (anchor + rng.normal(0.0, 0.3, (n, FEATURES))).astype("float32")
    return anchor, positive, negative


def main():
    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    dataset = tf.data.Dataset.from_tensor_slices(triplets(rng, 64)).batch(16)
    embedding = make_embedding()
    model = SiameseModel(make_siamese_network(embedding))
    model.compile(optimizer=keras.optimizers.Adam(1e-3))
    kernel_before = np.array(embedding.layers[0].kernel)
    model.fit(dataset, epochs=2, verbose=0)
    bn = embedding.get_layer("emb_bn")
    trained = not np.allclose(kernel_before, embedding.layers[0].kernel)
    moved = not np.allclose(keras.ops.convert_to_numpy(bn.moving_mean), 0.0)
    if not trained:
        behaviour = "not-trained"
    else:
        behaviour = "updated" if moved else "frozen"
    print("BN-GROUND-TRUTH:", behaviour)


if __name__ == "__main__":
    main()
