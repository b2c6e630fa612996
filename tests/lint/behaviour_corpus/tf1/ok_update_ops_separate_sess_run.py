"""TF1 trainer that runs the BN update ops in their own sess.run right after each optimizer step."""
import os

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import numpy as np  # noqa: E402
import tensorflow.compat.v1 as tf  # noqa: E402

tf.disable_v2_behavior()


def build_graph(num_features=6):
    x = tf.placeholder(tf.float32, [None, num_features], name="x")
    y = tf.placeholder(tf.float32, [None, 1], name="y")
    is_training = tf.placeholder(tf.bool, (), name="is_training")
    h = tf.layers.dense(x, 12, use_bias=False)
    h = tf.nn.relu(tf.layers.batch_normalization(h, training=is_training, name="bn1"))
    pred = tf.layers.dense(h, 1)
    loss = tf.losses.mean_squared_error(y, pred)
    optimizer_step = tf.train.AdamOptimizer(1e-2).minimize(loss)
    bn_updates = tf.get_collection(tf.GraphKeys.UPDATE_OPS)
    return {"x": x, "y": y, "is_training": is_training, "loss": loss, "step": optimizer_step,
            "bn_updates": bn_updates}


def train(sess, graph, batches):
    for inputs, targets in batches:
        feed = {graph["x"]: inputs, graph["y"]: targets, graph["is_training"]: True}
        sess.run(graph["step"], feed_dict=feed)
        # moving averages are refreshed with the same batch, after the weight update
        sess.run(graph["bn_updates"], feed_dict=feed)


def evaluate(sess, graph, inputs, targets):
    return sess.run(graph["loss"], {graph["x"]: inputs, graph["y"]: targets, graph["is_training"]: False})


if __name__ == "__main__":
    rng = np.random.RandomState(0)
    graph = build_graph()
    batches = [(rng.randn(16, 6) + 2.0, rng.randn(16, 1)) for _ in range(4)]
    moving_mean = [v for v in tf.global_variables() if v.name == "bn1/moving_mean:0"][0]
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        train(sess, graph, batches)
        evaluate(sess, graph, rng.randn(16, 6), rng.randn(16, 1))
        print("BN-GROUND-TRUTH:", "frozen" if np.allclose(sess.run(moving_mean), 0) else "updated")
