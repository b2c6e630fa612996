"""is_training = placeholder_with_default(True) so that the training loop needs no feed; the
evaluation helper forgets to feed False. Every evaluation batch is normalized with its own batch
statistics (predictions depend on the rest of the batch), the trained moving averages are unused."""
import os

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import numpy as np  # noqa: E402
import tensorflow.compat.v1 as tf  # noqa: E402

tf.disable_v2_behavior()


class ChurnModel:
    def __init__(self, num_features=8, hidden=16):
        self.features = tf.placeholder(tf.float32, [None, num_features], name="features")
        self.labels = tf.placeholder(tf.float32, [None], name="labels")
        self.is_training = tf.placeholder_with_default(True, shape=(), name="is_training")
        h = tf.layers.dense(self.features, hidden, name="fc1")
        h = tf.layers.batch_normalization(h, training=self.is_training, name="bn1")
        self.logits = tf.squeeze(tf.layers.dense(tf.nn.relu(h), 1, name="out"), axis=1)
        self.probability = tf.sigmoid(self.logits)
        self.loss = tf.reduce_mean(
            tf.nn.sigmoid_cross_entropy_with_logits(labels=self.labels, logits=self.logits))
        with tf.control_dependencies(tf.get_collection(tf.GraphKeys.UPDATE_OPS)):
            self.train_op = tf.train.AdamOptimizer(1e-2).minimize(self.loss)


def train(sess, model, batches):
    for x, y in batches:
        sess.run(model.train_op, {model.features: x, model.labels: y})


def predict_proba(sess, model, x):
    return sess.run(model.probability, {model.features: x})


def main():
    rng = np.random.RandomState(0)
    model = ChurnModel()
    batches = [(rng.randn(32, 8) + 1.0, rng.randint(0, 2, 32).astype(np.float32)) for _ in range(4)]
    customers = rng.randn(4, 8) + 1.0
    other_customers = rng.randn(4, 8) * 5.0
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        train(sess, model, batches)
        alone = predict_proba(sess, model, customers)
        with_others = predict_proba(sess, model, np.concatenate([customers, other_customers]))[:4]
    # with moving statistics a customer's score cannot depend on who else is in the batch
    batch_dependent = not np.allclose(alone, with_others, atol=1e-4)
    print("BN-GROUND-TRUTH:", "eval-uses-batch-stats" if batch_dependent else "eval-uses-moving-stats")


if __name__ == "__main__":
    main()
