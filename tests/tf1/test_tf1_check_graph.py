"""check_graph on real TF1 graphs: every verdict, checked against what training does to moving_mean."""
import pytest

from tf1_helpers import data_batch, moved, tf, tf1, train_steps
import tf1_contrib_style as contrib_style

from bnguard import BNProblem
from bnguard.tf1 import check_graph
from bnguard.tf1.graph_index import GraphIndex

pytestmark = pytest.mark.filterwarnings("ignore:.*is deprecated:UserWarning")

# (case, expected verdict, does training move moving_mean?)
LAYER_CASES = [
    ("constant-false", "frozen-constant-flag", False),
    ("python-false", "frozen-constant-flag", False),
    ("placeholder-unwired", "updates-not-run", False),
    ("placeholder-wired", "ok", True),
    ("placeholder-fed-false", "updates-not-run", False),
    ("default-false-unfed", "flag-default-false", False),
    ("default-false-fed-true", "ok", True),
    ("python-true-wired", "ok", True),
]


def build_tf1_layers(case, shape, fused=None):
    """conv-less tiny model: BN (tf.compat.v1.layers) -> dense, GradientDescent."""
    graph = tf.Graph()
    with graph.as_default():
        x = tf1.placeholder(tf.float32, [None] + shape, name="x")
        feed = {x: data_batch(shape)}
        if case == "constant-false":
            training = tf.constant(False)
        elif case == "python-false":
            training = False
        elif case == "python-true-wired":
            training = True
        elif case.startswith("default-false"):
            training = tf1.placeholder_with_default(False, [], name="is_training")
            if case.endswith("fed-true"):
                feed[training] = True
        else:
            training = tf1.placeholder(tf.bool, [], name="is_training")
            feed[training] = case != "placeholder-fed-false"
        h = tf1.layers.batch_normalization(x, training=training, momentum=0.5, fused=fused, name="bn1")
        loss = tf.reduce_mean(tf.square(tf1.layers.dense(tf1.layers.flatten(h), 2) - 1.0))
        opt = tf1.train.GradientDescentOptimizer(0.05)
        if case == "placeholder-unwired":
            train_op = opt.minimize(loss)
        else:
            with tf.control_dependencies(tf1.get_collection(tf1.GraphKeys.UPDATE_OPS)):
                train_op = opt.minimize(loss)
    return graph, train_op, feed


@pytest.mark.parametrize("shape,fused", [([4, 4, 3], True), ([3], None)], ids=["fused-4d", "nonfused-2d"])
@pytest.mark.parametrize("case,verdict,should_move", LAYER_CASES, ids=[c[0] for c in LAYER_CASES])
def test_tf1_layers_verdict_matches_training(graph_mode, case, verdict, should_move, shape, fused):
    graph, train_op, feed = build_tf1_layers(case, shape, fused)
    report = check_graph(graph, train_op, feed)
    assert report.verdicts() == {"bn1": verdict}, str(report)
    assert report.ok == (verdict == "ok")
    before, after = train_steps(graph, train_op, feed, "bn1/moving_mean")
    assert moved(before, after) == should_move


def test_modes_build_the_graphs_they_claim(graph_mode):
    """The two flavours really differ: ref variables + Switch vs resource variables + If whose
    assign ops live only in the function library."""
    graph, train_op, feed = build_tf1_layers("placeholder-wired", [3])
    types = {op.type for op in graph.get_operations()}
    index = GraphIndex(graph)
    (layer,) = index.layers
    if graph_mode == "ref-v1":
        assert {"VariableV2", "Switch", "Merge"} <= types and "If" not in types
        assert layer.stats["mean"].type == "VariableV2"
        assert not any(u.via_function for u in layer.updates["mean"])
    else:
        assert {"VarHandleOp", "If"} <= types and "VariableV2" not in types and "Switch" not in types
        assert layer.stats["mean"].type == "VarHandleOp"
        assert all(u.via_function and u.op.type == "If" for u in layer.updates["mean"])


def test_classic_example_1_constant_false_is_frozen():
    """The Q&A's first example: training=tf.constant(False), trained anyway."""
    graph = tf.Graph()
    with graph.as_default():
        training_phase = tf.constant(False)
        input_tensor = tf1.placeholder(tf.float32, [None, 10])
        bn_layer = tf1.layers.batch_normalization(input_tensor, training=training_phase)
        loss = tf.reduce_mean(tf.square(tf1.layers.dense(bn_layer, 1)))
        optimizer = tf1.train.AdamOptimizer(0.01).minimize(loss)
    feed = {input_tensor: data_batch([10])}
    report = check_graph(graph, optimizer, feed)
    assert report.verdicts() == {"batch_normalization": "frozen-constant-flag"}
    with pytest.raises(BNProblem):
        report.raise_if_problems()
    before, after = train_steps(graph, optimizer, feed, "batch_normalization/moving_mean")
    assert not moved(before, after)


def test_classic_example_2_placeholder_and_update_ops_fetched_is_ok():
    """The Q&A's second example: sess.run([optimizer, update_ops], feed_dict={training_phase: True})."""
    graph = tf.Graph()
    with graph.as_default():
        training_phase = tf1.placeholder(tf.bool)
        input_tensor = tf1.placeholder(tf.float32, [None, 10])
        bn_layer = tf1.layers.batch_normalization(input_tensor, training=training_phase)
        loss = tf.reduce_mean(tf.square(tf1.layers.dense(bn_layer, 1)))
        optimizer = tf1.train.AdamOptimizer(0.01).minimize(loss)
        update_ops = tf1.get_collection(tf1.GraphKeys.UPDATE_OPS)
    fetches = [optimizer, update_ops]
    feed = {input_tensor: data_batch([10]), training_phase: True}
    report = check_graph(graph, fetches, feed)
    assert report.verdicts() == {"batch_normalization": "ok"}
    # The same graph run with the optimizer alone does not update: the fetches decide.
    assert check_graph(graph, optimizer, feed).verdicts() == {"batch_normalization": "updates-not-run"}
    before, after = train_steps(graph, fetches, feed, "batch_normalization/moving_mean")
    assert moved(before, after)


def test_default_fetches_come_from_train_op_collection_and_names_work(graph_mode):
    graph, train_op, feed = build_tf1_layers("placeholder-unwired", [3])
    assert check_graph(graph, None, feed).verdicts() == {"bn1": "updates-not-run"}
    assert check_graph(graph, [train_op.name], feed).fetches == [train_op.name]
    graph, train_op, feed = build_tf1_layers("placeholder-wired", [3])
    assert check_graph(graph, None, feed).ok


@pytest.mark.parametrize("collections,wired,verdict,should_move", [
    (None, False, "ok", True),  # updates_collections=None: updates forced in place
    ("default", False, "updates-not-run", False),
    ("default", True, "ok", True),
], ids=["updates_collections=None", "collection-unwired", "collection-wired"])
def test_contrib_style_batch_norm(graph_mode, collections, wired, verdict, should_move):
    graph = tf.Graph()
    with graph.as_default():
        x = tf1.placeholder(tf.float32, [None, 4, 4, 3])
        is_training = tf1.placeholder(tf.bool, [], name="is_training")
        kwargs = {"updates_collections": None} if collections is None else {}
        h = contrib_style.batch_norm(x, decay=0.5, is_training=is_training, scope="conv1/BatchNorm", **kwargs)
        loss = tf.reduce_mean(tf.square(h - 1.0))
        opt = tf1.train.MomentumOptimizer(0.05, 0.9)
        if wired:
            with tf.control_dependencies(tf1.get_collection(tf1.GraphKeys.UPDATE_OPS)):
                train_op = opt.minimize(loss)
        else:
            train_op = opt.minimize(loss)
    feed = {x: data_batch([4, 4, 3]), is_training: True}
    assert check_graph(graph, train_op, feed).verdicts() == {"conv1/BatchNorm": verdict}
    before, after = train_steps(graph, train_op, feed, "conv1/BatchNorm/moving_mean")
    assert moved(before, after) == should_move
    # Fed False, the in-place updates are skipped: the check says so and training agrees.
    feed_eval = {x: feed[x], is_training: False}
    report = check_graph(graph, train_op, feed_eval)
    assert report.verdicts() == {"conv1/BatchNorm": "updates-not-run"}
    before, after = train_steps(graph, train_op, feed_eval, "conv1/BatchNorm/moving_mean")
    assert not moved(before, after)


def _keras_layer_graph(make_layer, wire_updates):
    graph = tf.Graph()
    with graph.as_default():
        x = tf1.placeholder(tf.float32, [None, 3])
        layer = make_layer()
        h = layer(x, training=True)
        loss = tf.reduce_mean(tf.square(h - 1.0))
        opt = tf1.train.GradientDescentOptimizer(0.05)
        if wire_updates:
            with tf.control_dependencies(layer.updates):
                train_op = opt.minimize(loss)
        else:
            train_op = opt.minimize(loss)
    return graph, train_op, {x: data_batch([3])}, layer


def test_tf_keras_layer_in_v1_graph_has_orphan_updates(graph_mode):
    import tf_keras

    graph, train_op, feed, layer = _keras_layer_graph(
        lambda: tf_keras.layers.BatchNormalization(momentum=0.5, name="tkbn"), wire_updates=False)
    assert graph.get_collection(tf1.GraphKeys.UPDATE_OPS) == []
    report = check_graph(graph, train_op, feed)
    assert report.verdicts() == {"tkbn": "orphan-updates"}
    before, after = train_steps(graph, train_op, feed, "tkbn/moving_mean")
    assert not moved(before, after)
    # Wiring layer.updates fixes it, and the check agrees.
    graph, train_op, feed, layer = _keras_layer_graph(
        lambda: tf_keras.layers.BatchNormalization(momentum=0.5, name="tkbn"), wire_updates=True)
    assert check_graph(graph, train_op, feed).verdicts() == {"tkbn": "ok"}
    before, after = train_steps(graph, train_op, feed, "tkbn/moving_mean")
    assert moved(before, after)


def test_keras3_layer_in_v1_graph_has_orphan_updates():
    import keras

    if keras.backend.backend() != "tensorflow":
        pytest.skip("Keras 3 must run on the TensorFlow backend to build into a tf.Graph")
    graph, train_op, feed, layer = _keras_layer_graph(
        lambda: keras.layers.BatchNormalization(momentum=0.5, name="k3bn"), wire_updates=False)
    report = check_graph(graph, train_op, feed)
    assert report.verdicts() == {"k3bn": "orphan-updates"}
    assert report["k3bn"].data["update_ops"]
    before, after = train_steps(graph, train_op, feed, "k3bn/moving_mean")
    assert not moved(before, after)


def test_updates_in_collection_but_not_fetched_differs_from_orphan(graph_mode):
    graph, train_op, feed = build_tf1_layers("placeholder-unwired", [4, 4, 3], fused=True)
    detail = check_graph(graph, train_op, feed)["bn1"].detail
    assert "UPDATE_OPS" in detail and "control_dependencies" in detail


def test_layer_not_used_by_fetches_is_not_judged():
    graph = tf.Graph()
    with graph.as_default():
        x = tf1.placeholder(tf.float32, [None, 3])
        used = tf1.layers.batch_normalization(x, training=True, name="used")
        tf1.layers.batch_normalization(x, training=False, name="eval_head")
        with tf.control_dependencies(tf1.get_collection(tf1.GraphKeys.UPDATE_OPS)):
            train_op = tf1.train.GradientDescentOptimizer(0.1).minimize(tf.reduce_sum(used * used))
    report = check_graph(graph, train_op)
    assert report.verdicts() == {"used": "ok"}
    assert report.meta["layers_not_used_by_fetches"] == ["eval_head"]


def test_report_json_and_text():
    graph, train_op, feed = build_tf1_layers("constant-false", [3])
    report = check_graph(graph, train_op, feed)
    d = report.to_dict()
    assert d["ok"] is False and d["layers"][0]["verdict"] == "frozen-constant-flag"
    assert d["fetches"] == [train_op.name] and d["trains"] is True
    assert "frozen-constant-flag" in str(report) and "bn1" in str(report)


def test_no_train_op_is_a_clear_error():
    graph = tf.Graph()
    with graph.as_default():
        x = tf1.placeholder(tf.float32, [None, 3])
        tf1.layers.batch_normalization(x, training=True)
    from bnguard.tf1.graph import NoTrainOpError

    with pytest.raises(NoTrainOpError, match="no train op"):
        check_graph(graph)


def test_check_does_not_change_the_graph():
    graph, train_op, feed = build_tf1_layers("placeholder-wired", [3])
    n_ops = len(graph.get_operations())
    check_graph(graph, train_op, feed)
    assert len(graph.get_operations()) == n_ops


def test_towers_sharing_a_layer_with_first_tower_updates_wired(graph_mode):
    """The multi-GPU pattern: variables shared across towers, only tower_0's UPDATE_OPS wired."""
    graph = tf.Graph()
    with graph.as_default():
        is_training = tf1.placeholder(tf.bool, [], name="is_training")
        xs, losses = [], []
        for i in range(2):
            with tf1.name_scope(f"tower_{i}"), tf1.variable_scope("model", reuse=i > 0):
                x = tf1.placeholder(tf.float32, [None, 3], name="x")
                h = tf1.layers.batch_normalization(x, training=is_training, momentum=0.5, name="bn1")
                xs.append(x)
                losses.append(tf.reduce_mean(tf.square(h - 1.0)))
        update_ops = tf1.get_collection(tf1.GraphKeys.UPDATE_OPS, scope="tower_0")
        assert update_ops and all(op.name.startswith("tower_0/") for op in update_ops)
        opt = tf1.train.GradientDescentOptimizer(0.1)
        grads = opt.compute_gradients(tf.add_n(losses))
        # slim.learning.create_train_op style: the train op is the loss behind the dependencies.
        with tf.control_dependencies(update_ops + [opt.apply_gradients(grads)]):
            train_op = tf.identity(losses[0], name="train_op")
    feed = {xs[0]: data_batch([3]), xs[1]: data_batch([3], seed=1), is_training: True}
    report = check_graph(graph, train_op, feed)
    assert report.verdicts() == {"model/bn1": "ok"}
    assert all(name.startswith("tower_0/") for name in report["model/bn1"].data["update_ops"])
    before, after = train_steps(graph, train_op, feed, "model/bn1/moving_mean")
    assert moved(before, after)
    feed[is_training] = False
    assert check_graph(graph, train_op, feed).verdicts() == {"model/bn1": "updates-not-run"}


def hand_written_batch_norm(x, phase_train, scope, apply_inside_cond=True):
    """The classic hand-written TF1 BN: tf.nn.moments + tf.train.ExponentialMovingAverage."""
    with tf1.variable_scope(scope):
        channels = x.shape[-1]
        beta = tf1.get_variable("beta", [channels], initializer=tf1.zeros_initializer())
        gamma = tf1.get_variable("gamma", [channels], initializer=tf1.ones_initializer())
        batch_mean, batch_var = tf1.nn.moments(x, [0, 1, 2], name="moments")
        ema = tf1.train.ExponentialMovingAverage(decay=0.5)
        if apply_inside_cond:
            def mean_var_with_update():
                ema_apply_op = ema.apply([batch_mean, batch_var])
                with tf.control_dependencies([ema_apply_op]):
                    return tf.identity(batch_mean), tf.identity(batch_var)
        else:
            ema.apply([batch_mean, batch_var])  # built, but nothing runs it

            def mean_var_with_update():
                return tf.identity(batch_mean), tf.identity(batch_var)
        mean, var = tf1.cond(phase_train, mean_var_with_update,
                             lambda: (ema.average(batch_mean), ema.average(batch_var)))
        return tf1.nn.batch_normalization(x, mean, var, beta, gamma, 1e-3)


@pytest.mark.parametrize("inside,fed,verdict,should_move", [
    (True, True, "ok", True),
    (True, False, "updates-not-run", False),
    (False, True, "orphan-updates", False),
], ids=["apply-in-cond", "apply-in-cond-fed-false", "apply-never-run"])
def test_hand_written_ema_batch_norm(graph_mode, inside, fed, verdict, should_move):
    graph = tf.Graph()
    with graph.as_default():
        x = tf1.placeholder(tf.float32, [None, 4, 4, 2])
        phase_train = tf1.placeholder(tf.bool, [], name="phase_train")
        h = hand_written_batch_norm(x, phase_train, "conv1/bn", apply_inside_cond=inside)
        train_op = tf1.train.GradientDescentOptimizer(0.05).minimize(tf.reduce_mean(tf.square(h - 1.0)))
    mean_name = [v.op.name for v in graph.get_collection("variables") if "ExponentialMovingAverage" in v.op.name][0]
    assert mean_name == "conv1/bn/conv1/bn/moments/Squeeze/ExponentialMovingAverage"
    feed = {x: data_batch([4, 4, 2]), phase_train: fed}
    report = check_graph(graph, train_op, feed)
    assert report.verdicts() == {"conv1/bn/conv1/bn": verdict}, str(report)
    before, after = train_steps(graph, train_op, feed, mean_name)
    assert moved(before, after) == should_move


def test_default_fetches_without_train_op_collection_are_the_gradient_sinks(graph_mode):
    """A graph whose TRAIN_OP collection is empty (hand-built, or stripped on export): the check
    finds the op that applies the gradients."""
    graph = tf.Graph()
    with graph.as_default():
        x = tf1.placeholder(tf.float32, [None, 3])
        h = tf1.layers.batch_normalization(x, training=True, name="bn1")
        opt = tf1.train.GradientDescentOptimizer(0.1)
        train_op = opt.apply_gradients(opt.compute_gradients(tf.reduce_sum(h * h)), name="step")
        graph.clear_collection(tf1.GraphKeys.TRAIN_OP)
    report = check_graph(graph)
    assert report.fetches == ["step"] and report.verdicts() == {"bn1": "updates-not-run"}
    before, after = train_steps(graph, train_op, {x: data_batch([3])}, "bn1/moving_mean")
    assert not moved(before, after)
