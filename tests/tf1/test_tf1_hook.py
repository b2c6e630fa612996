"""BNGuardHook with MonitoredTrainingSession (Estimator-style model_fn) and guard(session)."""
import warnings

import numpy as np
import pytest

from tf1_helpers import data_batch, moved, tf, tf1, value_tensor

from bnguard import BNProblem
from bnguard.tf1 import BNGuardHook, guard
from bnguard.tf1.hook import BNGuardWarning

pytestmark = pytest.mark.filterwarnings("ignore:.*is deprecated:UserWarning")

TRAIN, EVAL = "train", "eval"


def model_fn(features, labels, mode, params):
    """An Estimator model_fn: BN with training=(mode == TRAIN), updates wired or not by params."""
    h = tf1.layers.conv2d(features, 4, 3, padding="same", name="conv1")
    h = tf1.layers.batch_normalization(h, training=(mode == TRAIN), momentum=0.5, name="bn1")
    logits = tf1.layers.dense(tf1.layers.flatten(tf.nn.relu(h)), 2, name="logits")
    loss = tf1.losses.sparse_softmax_cross_entropy(labels, logits)
    optimizer = tf1.train.AdamOptimizer(0.01)
    global_step = tf1.train.get_or_create_global_step()
    if params["wire_update_ops"]:
        with tf.control_dependencies(tf1.get_collection(tf1.GraphKeys.UPDATE_OPS)):
            train_op = optimizer.minimize(loss, global_step=global_step)
    else:
        train_op = optimizer.minimize(loss, global_step=global_step)
    return {"loss": loss, "train_op": train_op}


def run_estimator_style(wire_update_ops, hooks, steps=3):
    """What Estimator.train did: build the model_fn in a fresh graph, loop a MonitoredTrainingSession."""
    graph = tf.Graph()
    with graph.as_default():
        images = tf.constant(data_batch([6, 6, 1]))
        labels = tf.constant(np.arange(8) % 2)
        spec = model_fn(images, labels, TRAIN, {"wire_update_ops": wire_update_ops})
        moving_mean = value_tensor(graph, "bn1/moving_mean")
        means = []
        with tf1.train.MonitoredTrainingSession(hooks=hooks, save_checkpoint_secs=None,
                                                save_summaries_steps=None, log_step_count_steps=None) as sess:
            means.append(sess.run(moving_mean))
            for _ in range(steps):
                sess.run(spec["train_op"])
            means.append(sess.run(moving_mean))
    return means


def test_hook_warns_at_first_training_run_when_update_ops_are_not_wired():
    hook = BNGuardHook()
    with pytest.warns(BNGuardWarning, match="updates-not-run"):
        before, after = run_estimator_style(False, [hook])
    assert hook.report.verdicts() == {"bn1": "updates-not-run"}
    assert not moved(before, after)  # the warning was right: training left moving_mean at 0


def test_hook_is_silent_when_updates_run():
    hook = BNGuardHook()
    with warnings.catch_warnings():
        warnings.simplefilter("error", BNGuardWarning)
        before, after = run_estimator_style(True, [hook])
    assert hook.report.verdicts() == {"bn1": "ok"}
    assert moved(before, after)


def test_hook_raises_before_the_first_step_runs():
    graph = tf.Graph()
    with graph.as_default():
        spec = model_fn(tf.constant(data_batch([6, 6, 1])), tf.constant(np.arange(8) % 2), TRAIN,
                        {"wire_update_ops": False})
        global_step = tf1.train.get_global_step()
        with tf1.train.MonitoredTrainingSession(hooks=[BNGuardHook(on_problem="raise")], save_checkpoint_secs=None,
                                                save_summaries_steps=None, log_step_count_steps=None) as sess:
            sess.run(global_step)  # not a training run: not checked
            with pytest.raises(BNProblem, match="updates-not-run"):
                sess.run(spec["train_op"])
            # The step did not run: no weight, slot or counter moved.
            assert sess.run(global_step) == 0


def _plain_graph(wired):
    graph = tf.Graph()
    with graph.as_default():
        x = tf1.placeholder(tf.float32, [None, 3], name="x")
        is_training = tf1.placeholder_with_default(False, [], name="is_training")
        h = tf1.layers.batch_normalization(x, training=is_training, momentum=0.5, name="bn1")
        loss = tf.reduce_mean(tf.square(h - 1.0))
        if wired:
            with tf.control_dependencies(tf1.get_collection(tf1.GraphKeys.UPDATE_OPS)):
                train_op = tf1.train.GradientDescentOptimizer(0.1).minimize(loss)
        else:
            train_op = tf1.train.GradientDescentOptimizer(0.1).minimize(loss)
        init = tf1.global_variables_initializer()
    return graph, x, is_training, train_op, loss, init


def test_guard_checks_first_training_run_with_the_real_feed_dict():
    graph, x, is_training, train_op, loss, init = _plain_graph(wired=True)
    sess = guard(tf1.Session(graph=graph), on_problem="raise")
    with sess:
        sess.run(init)  # no train op: not checked
        sess.run(loss, {x: data_batch([3])})  # evaluation: not checked
        assert sess.report is None
        # The default False is not fed: raises before the step, nothing moved.
        with pytest.raises(BNProblem, match="flag-default-false"):
            sess.run(train_op, {x: data_batch([3])})
        read = value_tensor(graph, "bn1/moving_mean")
        assert not np.any(sess.run(read))
        # Fed True, the same run is fine and from then on run is the session's own method.
        sess.run(train_op, {x: data_batch([3]), is_training: True})
        assert sess.report.ok
        assert sess.run == sess._session.run
        assert np.any(sess.run(read))


def test_guard_warns_and_lets_the_step_run():
    graph, x, is_training, train_op, loss, init = _plain_graph(wired=False)
    sess = guard(tf1.Session(graph=graph))
    with sess:
        sess.run(init)
        with pytest.warns(BNGuardWarning, match="updates-not-run"):
            sess.run(train_op, {x: data_batch([3]), is_training: True})
        with warnings.catch_warnings():
            warnings.simplefilter("error", BNGuardWarning)
            sess.run(train_op, {x: data_batch([3]), is_training: True})  # checked once only


def test_hook_confirm_runs_one_restored_step():
    """confirm=True: the hook's trial step is undone, so training state is exactly as without it."""
    hook = BNGuardHook(confirm=True)
    graph = tf.Graph()
    with graph.as_default():
        spec = model_fn(tf.constant(data_batch([6, 6, 1])), tf.constant(np.arange(8) % 2), TRAIN,
                        {"wire_update_ops": True})
        global_step = tf1.train.get_global_step()
        with tf1.train.MonitoredTrainingSession(hooks=[hook], save_checkpoint_secs=None,
                                                save_summaries_steps=None, log_step_count_steps=None) as sess:
            for _ in range(2):
                sess.run(spec["train_op"])
            assert sess.run(global_step) == 2  # the trial step was rolled back
    assert hook.report.meta["confirmed"]
    assert hook.report["bn1"].data["changed_in_step"] == {"mean": True, "variance": True}
