"""slim.learning.create_train_op re-written by hand when tf.contrib went away. Like slim's version it
runs the UPDATE_OPS collection when update_ops is None, and the caller relies on that default, so
the train op depends on the batch-norm updates and the moving statistics follow the data."""
import os

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import numpy as np  # noqa: E402
import tensorflow.compat.v1 as tf  # noqa: E402

tf.disable_v2_behavior()

HPARAMS = {"learning_rate": 0.05, "clip_norm": 5.0, "steps": 8, "batch_size": 16}


def create_train_op(total_loss, optimizer, global_step=None, update_ops=None, clip_gradient_norm=0.0,
                    variables_to_train=None):
    """Minimal port of slim.learning.create_train_op (no tf.contrib on TF 2.x)."""
    if update_ops is None:
        update_ops = tf.get_collection(tf.GraphKeys.UPDATE_OPS)
    if variables_to_train is None:
        variables_to_train = tf.trainable_variables()
    with tf.control_dependencies(update_ops):
        grads_and_vars = optimizer.compute_gradients(total_loss, variables_to_train)
        if clip_gradient_norm > 0:
            grads, variables = zip(*grads_and_vars)
            grads, _ = tf.clip_by_global_norm(grads, clip_gradient_norm)
            grads_and_vars = list(zip(grads, variables))
        grad_updates = optimizer.apply_gradients(grads_and_vars, global_step=global_step)
    with tf.control_dependencies([grad_updates]):
        train_op = tf.identity(total_loss, name="train_op")
    return train_op


def inference(images, is_training):
    with tf.variable_scope("net"):
        net = tf.layers.conv2d(images, 8, 3, padding="same", use_bias=False, name="conv1")
        net = tf.layers.batch_normalization(net, training=is_training, momentum=0.9, name="bn1")
        net = tf.nn.relu(net)
        net = tf.reduce_mean(net, axis=[1, 2])
        return tf.layers.dense(net, 3, name="logits")


def main():
    images = tf.placeholder(tf.float32, [None, 8, 8, 1], name="images")
    labels = tf.placeholder(tf.int32, [None], name="labels")
    is_training = tf.placeholder(tf.bool, [], name="is_training")
    logits = inference(images, is_training)
    total_loss = tf.losses.sparse_softmax_cross_entropy(labels, logits)
    global_step = tf.train.get_or_create_global_step()
    optimizer = tf.train.MomentumOptimizer(HPARAMS["learning_rate"], 0.9)
    train_op = create_train_op(total_loss, optimizer, global_step=global_step,
                               clip_gradient_norm=HPARAMS["clip_norm"])
    moving_mean = tf.get_default_graph().get_tensor_by_name("net/bn1/moving_mean:0")
    rng = np.random.RandomState(0)
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        for step in range(HPARAMS["steps"]):
            feed = {images: rng.randn(HPARAMS["batch_size"], 8, 8, 1) + 2.0,
                    labels: rng.randint(0, 3, HPARAMS["batch_size"]), is_training: True}
            loss = sess.run(train_op, feed)
        print("final loss", loss, "global step", sess.run(global_step))
        mean = sess.run(moving_mean)
    print("BN-GROUND-TRUTH:", "frozen" if np.allclose(mean, 0.0) else "updated")


if __name__ == "__main__":
    main()
