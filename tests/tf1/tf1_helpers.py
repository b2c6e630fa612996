"""Helpers shared by the TF1 graph tests (data, training loop, reading a moving statistic)."""
import numpy as np
import pytest

tf = pytest.importorskip("tensorflow")
tf1 = tf.compat.v1


def data_batch(shape, n=8, seed=0):
    """Inputs with mean ~5 and std ~3: a working moving_mean must move away from 0."""
    return (np.random.RandomState(seed).randn(n, *shape) * 3.0 + 5.0).astype(np.float32)


def train_steps(graph, fetches, feed_dict, var_name, steps=3, session=None):
    """Run ``steps`` training steps; return (moving stat before, after)."""
    own = session is None
    sess = session or tf1.Session(graph=graph)
    try:
        read = value_tensor(graph, var_name)
        if own:
            with graph.as_default():
                sess.run(tf1.global_variables_initializer())
        before = sess.run(read)
        for _ in range(steps):
            sess.run(fetches, feed_dict=feed_dict)
        return before, sess.run(read)
    finally:
        if own:
            sess.close()


def value_tensor(graph, var_name):
    """A tensor that reads the variable's value (ref variables: the variable itself)."""
    if graph.get_operation_by_name(var_name).type != "VarHandleOp":
        return graph.get_tensor_by_name(var_name + ":0")
    for c in graph.get_tensor_by_name(var_name + ":0").consumers():
        if c.type == "ReadVariableOp" and not c.control_inputs:
            return c.outputs[0]
    raise AssertionError(f"no read op for {var_name}")


def moved(before, after) -> bool:
    return not np.array_equal(before, after)
