"""slim-style arg_scope written by hand (no tf.contrib): conv_bn takes is_training from the innermost scope."""
import contextlib
import functools
import inspect
import os

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

tf.compat.v1.disable_eager_execution()
v1 = tf.compat.v1

_SCOPE_STACK = [{}]


@contextlib.contextmanager
def arg_scope(defaults):
    merged = {fn: dict(kw) for fn, kw in _SCOPE_STACK[-1].items()}
    for fn, kw in defaults.items():
        merged.setdefault(fn, {}).update(kw)
    _SCOPE_STACK.append(merged)
    try:
        yield
    finally:
        _SCOPE_STACK.pop()


def add_arg_scope(fn):
    params = inspect.signature(fn).parameters

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        scoped = {k: v for k, v in _SCOPE_STACK[-1].get(fn.__name__, {}).items() if k in params}
        scoped.update(kwargs)
        return fn(*args, **scoped)

    return wrapper


@add_arg_scope
def conv_bn(x, filters, is_training=False, decay=0.9, scope=None):
    with v1.variable_scope(scope, default_name="conv_bn"):
        h = v1.layers.conv2d(x, filters, 3, padding="same", use_bias=False)
        h = v1.layers.batch_normalization(h, momentum=decay, training=is_training)
        return tf.nn.relu(h)


def net_arg_scope(is_training=False, decay=0.9):
    return arg_scope({"conv_bn": {"is_training": is_training, "decay": decay}})


def small_net(images, num_classes=4):
    h = conv_bn(images, 8, scope="block1")
    h = conv_bn(h, 8, scope="block2")
    h = tf.reduce_mean(h, axis=[1, 2])
    return v1.layers.dense(h, num_classes, name="logits")


def main():
    v1.set_random_seed(3)
    images = v1.placeholder(tf.float32, [None, 8, 8, 3])
    labels = v1.placeholder(tf.int64, [None])
    with net_arg_scope(decay=0.9):
        logits = small_net(images)
    loss = v1.losses.sparse_softmax_cross_entropy(labels, logits)
    with tf.control_dependencies(v1.get_collection(v1.GraphKeys.UPDATE_OPS)):
        train_op = v1.train.AdamOptimizer(1e-2).minimize(loss)
    stats = [v for v in v1.global_variables() if v.op.name.endswith("moving_mean")]
    rng = np.random.RandomState(0)
    with v1.Session() as sess:
        sess.run(v1.global_variables_initializer())
        for step in range(6):
            x = rng.randn(16, 8, 8, 3).astype(np.float32) * 2 + 1
            sess.run(train_op, {images: x, labels: rng.randint(0, 4, 16)})
        means = sess.run(stats)
    moved = max(float(np.abs(m).max()) for m in means)
    print("BN-GROUND-TRUTH:", "updated" if moved > 1e-3 else "frozen")


if __name__ == "__main__":
    main()
