"""TF1 graph-mode segmentation-style script split into helpers: `phase_flag()` returns the graph's
tf.placeholder_with_default(False, [], name="is_training") so evaluation needs no feed. The network
builder calls phase_flag() for its BN layers, and the Trainer calls phase_flag() again to get the
tensor it feeds with True; the helper keeps the placeholder in a graph collection and returns the
same tensor on every call, so the training steps run BN in training mode and update the stats."""
import os

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import numpy as np  # noqa: E402
import tensorflow.compat.v1 as tf  # noqa: E402

tf.disable_v2_behavior()

SETTINGS = dict(size=12, channels=6, lr=0.01, steps=10, batch=8)


def phase_flag():
    existing = tf.get_collection("phase_flag")
    if existing:
        return existing[0]
    flag = tf.placeholder_with_default(False, [], name="is_training")
    tf.add_to_collection("phase_flag", flag)
    return flag


def conv_bn_relu(x, filters, name):
    with tf.variable_scope(name):
        x = tf.layers.conv2d(x, filters, 3, padding="same", use_bias=False)
        x = tf.layers.batch_normalization(x, training=phase_flag(), momentum=0.9)
        return tf.nn.relu(x)


def build_network(images):
    with tf.variable_scope("segnet"):
        h = conv_bn_relu(images, SETTINGS["channels"], "block1")
        h = conv_bn_relu(h, SETTINGS["channels"], "block2")
        return tf.layers.conv2d(h, 2, 1, name="classifier")


class Trainer:
    def __init__(self):
        size = SETTINGS["size"]
        self.images = tf.placeholder(tf.float32, [None, size, size, 1], name="images")
        self.masks = tf.placeholder(tf.int32, [None, size, size], name="masks")
        logits = build_network(self.images)
        self.is_training = phase_flag()
        self.loss = tf.losses.sparse_softmax_cross_entropy(self.masks, logits)
        with tf.control_dependencies(tf.get_collection(tf.GraphKeys.UPDATE_OPS)):
            self.train_op = tf.train.AdamOptimizer(SETTINGS["lr"]).minimize(self.loss)

    def step(self, sess, images, masks):
        feed = {self.images: images, self.masks: masks, self.is_training: True}
        return sess.run([self.train_op, self.loss], feed)[1]


def synthetic_batch(rng):
    size = SETTINGS["size"]
    images = rng.normal(1.0, 1.0, (SETTINGS["batch"], size, size, 1)).astype(np.float32)
    masks = (images[..., 0] > 1.5).astype(np.int32)
    return images, masks


def main():
    tf.set_random_seed(0)
    rng = np.random.RandomState(0)
    trainer = Trainer()
    moving_mean = tf.global_variables("segnet/block1/batch_normalization/moving_mean")[0]
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        for _ in range(SETTINGS["steps"]):
            loss = trainer.step(sess, *synthetic_batch(rng))
        print(f"final loss {loss:.4f}; flag fed: {trainer.is_training.name}")
        mean = sess.run(moving_mean)
    print("BN-GROUND-TRUTH:", "frozen" if np.allclose(mean, 0.0) else "updated")


if __name__ == "__main__":
    main()
