"""check_graph(..., session=sess, confirm=True): one real step, then every variable restored bit-for-bit."""
import numpy as np
import pytest

from tf1_helpers import data_batch, moved, tf, tf1, train_steps

from bnguard.tf1 import check_graph
from bnguard.tf1.confirm import ConfirmError

pytestmark = pytest.mark.filterwarnings("ignore:.*is deprecated:UserWarning")


def build(wired=True, flag="placeholder", fail_after_step=False):
    graph = tf.Graph()
    with graph.as_default():
        x = tf1.placeholder(tf.float32, [None, 4, 4, 2], name="x")
        if flag == "variable":
            is_training = tf1.get_variable("is_training", initializer=False, trainable=False)
            training = tf.identity(is_training)
            feed = {x: data_batch([4, 4, 2])}
        else:
            training = tf1.placeholder(tf.bool, [], name="is_training")
            feed = {x: data_batch([4, 4, 2]), training: True}
        h = tf1.layers.conv2d(x, 3, 3, padding="same", name="conv1")
        h = tf1.layers.batch_normalization(h, training=training, momentum=0.5, name="bn1")
        h = tf1.layers.batch_normalization(tf1.layers.flatten(h), training=training, momentum=0.5, name="bn2")
        loss = tf.reduce_mean(tf.square(tf1.layers.dense(h, 1) - 1.0))
        global_step = tf1.train.get_or_create_global_step()
        opt = tf1.train.AdamOptimizer(0.01)
        deps = tf1.get_collection(tf1.GraphKeys.UPDATE_OPS) if wired else []
        with tf.control_dependencies(deps):
            train_op = opt.minimize(loss, global_step=global_step)
        if fail_after_step:
            # A check that fails after the update and apply ops have run (e.g. a NaN guard).
            with tf.control_dependencies([train_op]):
                train_op = tf1.debugging.assert_less(tf.cast(global_step, tf.float32), -1.0, name="fails_after")
        init = tf1.global_variables_initializer()
    return graph, train_op, feed, init


def all_values(sess, graph):
    with graph.as_default():
        variables = tf1.global_variables()
    return {v.op.name: sess.run(v) for v in variables}


def assert_bit_identical(a, b):
    assert a.keys() == b.keys()
    for name in a:
        assert a[name].dtype == b[name].dtype and a[name].tobytes() == b[name].tobytes(), name


@pytest.mark.parametrize("wired", [True, False], ids=["wired", "unwired"])
def test_confirm_reports_real_changes_and_restores_everything(graph_mode, wired):
    graph, train_op, feed, init = build(wired=wired)
    with tf1.Session(graph=graph) as sess:
        sess.run(init)
        sess.run(train_op, feed)  # Adam slots, beta powers and global_step are non-trivial now
        before = all_values(sess, graph)
        assert any("Adam" in n for n in before) and "global_step" in before
        report = check_graph(graph, train_op, feed, session=sess, confirm=True)
        assert_bit_identical(before, all_values(sess, graph))
        assert report.meta["confirmed"] and report.meta["variables_restored"] == len(before)
        for layer in ("bn1", "bn2"):
            assert report[layer].data["changed_in_step"] == {"mean": wired, "variance": wired}
            assert report[layer].verdict == ("ok" if wired else "updates-not-run")
        # The confirmation agrees with real training.
        mm_before, mm_after = train_steps(graph, train_op, feed, "bn1/moving_mean", steps=2, session=sess)
        assert moved(mm_before, mm_after) == wired


def test_confirm_restores_everything_when_the_step_raises(graph_mode):
    graph, train_op, feed, init = build(wired=True, fail_after_step=True)
    with tf1.Session(graph=graph) as sess:
        sess.run(init)
        before = all_values(sess, graph)
        with pytest.raises(tf.errors.InvalidArgumentError):
            check_graph(graph, train_op, feed, session=sess, confirm=True)
        assert_bit_identical(before, all_values(sess, graph))
        # Without bnguard, that same run does change the state before it fails.
        with pytest.raises(tf.errors.InvalidArgumentError):
            sess.run(train_op, feed)
        after = all_values(sess, graph)
        assert not np.array_equal(before["bn1/moving_mean"], after["bn1/moving_mean"])
        assert after["global_step"] == before["global_step"] + 1


def test_confirm_settles_a_flag_computed_at_run_time():
    """A tf.Variable training flag cannot be read from the graph alone; one step shows it is False."""
    graph, train_op, feed, init = build(wired=True, flag="variable")
    static = check_graph(graph, train_op, feed)
    assert static.verdicts() == {"bn1": "ok", "bn2": "ok"}
    assert static["bn1"].data["flag_value"] == "unknown"
    with tf1.Session(graph=graph) as sess:
        sess.run(init)
        report = check_graph(graph, train_op, feed, session=sess, confirm=True)
        assert report.verdicts() == {"bn1": "updates-not-run", "bn2": "updates-not-run"}
        assert report["bn1"].data["changed_in_step"] == {"mean": False, "variance": False}
        mm_before, mm_after = train_steps(graph, train_op, feed, "bn1/moving_mean", steps=2, session=sess)
        assert not moved(mm_before, mm_after)


def test_confirm_refuses_uninitialized_variables_without_running():
    graph, train_op, feed, init = build()
    with tf1.Session(graph=graph) as sess:
        with pytest.raises(ConfirmError, match="initialized"):
            check_graph(graph, train_op, feed, session=sess, confirm=True)


def test_confirm_needs_a_session():
    graph, train_op, feed, init = build()
    with pytest.raises(ValueError, match="session"):
        check_graph(graph, train_op, feed, confirm=True)
