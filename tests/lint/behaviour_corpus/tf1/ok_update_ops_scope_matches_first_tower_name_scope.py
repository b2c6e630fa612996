"""Single-GPU script with a train tower and a validation tower sharing variables through
tf.variable_scope("resnet", reuse=tf.AUTO_REUSE). The train tower is built first, so its ops (the
BN update ops included) live under the name scope 'resnet/'; the validation tower (training=False,
no update ops) enters the scope again as 'resnet_1/'. get_collection(UPDATE_OPS, scope="resnet/")
returns the train tower's updates and the train op runs them."""
import os

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

tf.compat.v1.disable_eager_execution()
v1 = tf.compat.v1

HPARAMS = {"width": 16, "classes": 3, "lr": 0.05, "steps": 12, "batch": 32}


def resnet_tower(features, is_training):
    with v1.variable_scope("resnet", reuse=v1.AUTO_REUSE):
        h = v1.layers.dense(features, HPARAMS["width"], use_bias=False, name="stem")
        h = tf.nn.relu(v1.layers.batch_normalization(h, training=is_training, name="stem_bn"))
        r = v1.layers.dense(h, HPARAMS["width"], use_bias=False, name="res_fc")
        r = v1.layers.batch_normalization(r, training=is_training, name="res_bn")
        h = tf.nn.relu(h + r)
        return v1.layers.dense(h, HPARAMS["classes"], name="logits")


def main():
    train_x = v1.placeholder(tf.float32, [None, 8], name="train_x")
    train_y = v1.placeholder(tf.int64, [None], name="train_y")
    val_x = v1.placeholder(tf.float32, [None, 8], name="val_x")
    val_y = v1.placeholder(tf.int64, [None], name="val_y")

    train_logits = resnet_tower(train_x, is_training=True)
    loss = v1.losses.sparse_softmax_cross_entropy(train_y, train_logits)
    val_logits = resnet_tower(val_x, is_training=False)
    val_acc = tf.reduce_mean(tf.cast(tf.equal(tf.argmax(val_logits, 1), val_y), tf.float32))
    v1.summary.scalar("val_acc", val_acc)

    update_ops = v1.get_collection(v1.GraphKeys.UPDATE_OPS, scope="resnet/")
    with tf.control_dependencies(update_ops):
        train_op = v1.train.MomentumOptimizer(HPARAMS["lr"], 0.9).minimize(
            loss, global_step=v1.train.get_or_create_global_step())

    stats = [v for v in v1.global_variables() if "moving_" in v.name]
    rng = np.random.RandomState(4)
    with v1.Session() as sess:
        sess.run(v1.global_variables_initializer())
        for _ in range(HPARAMS["steps"]):
            x = rng.randn(HPARAMS["batch"], 8) + 2.0
            sess.run(train_op, {train_x: x, train_y: rng.randint(0, 3, HPARAMS["batch"])})
        xv = rng.randn(64, 8) + 2.0
        print("val acc", sess.run(val_acc, {val_x: xv, val_y: rng.randint(0, 3, 64)}))
        values = sess.run(stats)
    frozen = all(np.allclose(v, 0.0) or np.allclose(v, 1.0) for v in values)
    print("BN-GROUND-TRUTH:", "frozen" if frozen else "updated")


if __name__ == "__main__":
    main()
