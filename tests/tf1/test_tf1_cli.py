"""``bnguard check-graph MODEL.meta``: offline check of saved meta graphs, exit codes, bad input."""
import json
import os
import subprocess
import sys

import pytest
from click.testing import CliRunner

from tf1_helpers import data_batch, moved, tf, tf1, train_steps

from bnguard.cli import cli

pytestmark = pytest.mark.filterwarnings("ignore:.*is deprecated:UserWarning")


def save_meta(tmp_path, wired, flag="placeholder", shape=(4, 4, 3)):
    graph = tf.Graph()
    with graph.as_default():
        x = tf1.placeholder(tf.float32, [None, *shape], name="x")
        if flag == "default-false":
            training = tf1.placeholder_with_default(False, [], name="is_training")
        else:
            training = tf1.placeholder(tf.bool, [], name="is_training")
        h = tf1.layers.batch_normalization(x, training=training, momentum=0.5, name="bn1")
        loss = tf.reduce_mean(tf.square(h - 1.0))
        deps = tf1.get_collection(tf1.GraphKeys.UPDATE_OPS) if wired else []
        with tf.control_dependencies(deps):
            train_op = tf1.train.GradientDescentOptimizer(0.1).minimize(loss, name="train_op")
        saver = tf1.train.Saver()
        init = tf1.global_variables_initializer()
    feed = {x: data_batch(list(shape)), training: True}
    with tf1.Session(graph=graph) as sess:
        sess.run(init)
        prefix = saver.save(sess, str(tmp_path / "model.ckpt"))
    return prefix + ".meta", graph, train_op, feed


def invoke(*args):
    return CliRunner().invoke(cli, list(args))


@pytest.mark.parametrize("shape", [(4, 4, 3), (3,)], ids=["fused", "nonfused-if-in-library"])
@pytest.mark.parametrize("wired,verdict,code", [(False, "updates-not-run", 1), (True, "ok", 0)])
def test_check_graph_on_saved_meta(graph_mode, tmp_path, wired, verdict, code, shape):
    meta, graph, train_op, feed = save_meta(tmp_path, wired, shape=shape)
    result = invoke("check-graph", meta, "--format", "json")
    assert result.exit_code == code, result.output
    out = json.loads(result.output)
    assert [(r["name"], r["verdict"]) for r in out["layers"]] == [("bn1", verdict)]
    assert out["fetches"] == ["train_op"] and out["ok"] is (code == 0)
    # Training the graph that was saved does what the offline check said.
    before, after = train_steps(graph, train_op, feed, "bn1/moving_mean")
    assert moved(before, after) == wired


def test_fetch_option_and_text_output(tmp_path):
    meta, *_ = save_meta(tmp_path, wired=False)
    result = invoke("check-graph", meta, "--fetch", "train_op", "--fetch", "bn1/AssignMovingAvg/AssignSubVariableOp")
    # Fetching the update op of the mean explicitly along with the train op fixes the mean only.
    assert result.exit_code == 1
    assert "bn1" in result.output and "updates-not-run" in result.output and "moving_variance" in result.output


def test_placeholder_with_default_false_is_reported_offline(tmp_path):
    meta, *_ = save_meta(tmp_path, wired=True, flag="default-false")
    result = invoke("check-graph", meta)
    assert result.exit_code == 1 and "flag-default-false" in result.output


@pytest.mark.parametrize("content,message", [
    (b"\x00\xffnot a protobuf at all" * 10, "not a TensorFlow meta graph"),
    (b"", "not a TensorFlow meta graph"),
])
def test_corrupt_meta_is_a_one_line_error(tmp_path, content, message):
    bad = tmp_path / "bad.meta"
    bad.write_bytes(content)
    result = invoke("check-graph", str(bad))
    assert result.exit_code == 2
    assert message in result.output and "Traceback" not in result.output
    assert len(result.output.strip().splitlines()) == 1


def test_missing_file_and_unknown_fetch_exit_2(tmp_path):
    result = invoke("check-graph", str(tmp_path / "nope.meta"))
    assert result.exit_code == 2 and "no such file" in result.output
    meta, *_ = save_meta(tmp_path, wired=True)
    result = invoke("check-graph", meta, "--fetch", "no_such_op")
    assert result.exit_code == 2 and "no_such_op" in result.output
    assert len(result.output.strip().splitlines()) == 1


def test_bnguard_and_linter_do_not_import_tensorflow():
    code = ("import sys, bnguard, bnguard.cli, bnguard.lint.command, bnguard.tf1; "
            "assert 'tensorflow' not in sys.modules, 'tensorflow imported'")
    env = {k: v for k, v in os.environ.items() if k != "TF_USE_LEGACY_KERAS"}
    subprocess.run([sys.executable, "-c", code], check=True, env=env)


def test_warns_when_tensorflow_was_imported_without_legacy_keras():
    code = ("import warnings, tensorflow\n"
            "with warnings.catch_warnings(record=True) as w:\n"
            "    warnings.simplefilter('always')\n"
            "    import bnguard.tf1\n"
            "print(bnguard.tf1.env.legacy_keras_enabled(), [str(x.message)[:60] for x in w])")
    env = {k: v for k, v in os.environ.items() if k != "TF_USE_LEGACY_KERAS"}
    env["TF_CPP_MIN_LOG_LEVEL"] = "3"
    out = subprocess.run([sys.executable, "-c", code], check=True, env=env, capture_output=True, text=True).stdout
    assert out.startswith("False") and "TensorFlow was imported before TF_USE_LEGACY_KERAS=1" in out
