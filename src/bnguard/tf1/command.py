"""``bnguard check-graph MODEL.meta [--fetch NAME ...]``: the graph check on a saved meta graph."""
from __future__ import annotations

import contextlib
import os

import click

from bnguard.cli_util import emit_report, fail_input


@contextlib.contextmanager
def _native_stderr_silenced():
    """TensorFlow's C++ start-up logs (oneDNN, CUDA stubs) go straight to fd 2 whatever
    TF_CPP_MIN_LOG_LEVEL says; keep them off the CLI's output while TensorFlow loads."""
    try:
        saved = os.dup(2)
    except OSError:
        yield
        return
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 2)
            yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def load_meta_graph(path: str):
    """Import a ``.meta`` file (a MetaGraphDef protobuf; no code runs) into a fresh graph."""
    from bnguard.tf1.env import import_tf

    with _native_stderr_silenced():
        tf = import_tf()
    from google.protobuf.message import DecodeError

    try:
        with open(path, "rb") as fh:
            data = fh.read()
    except OSError as exc:
        fail_input(f"cannot read {path}: {exc.strerror or exc}")
    meta_graph = tf.compat.v1.MetaGraphDef()
    try:
        meta_graph.ParseFromString(data)
    except (DecodeError, RuntimeWarning, ValueError) as exc:
        fail_input(f"{path} is not a TensorFlow meta graph ({type(exc).__name__}: {_first_line(exc)})")
    if not meta_graph.graph_def.node:
        fail_input(f"{path} is not a TensorFlow meta graph (it holds no graph)")
    graph = tf.Graph()
    try:
        with graph.as_default():
            tf.compat.v1.train.import_meta_graph(meta_graph, clear_devices=True)
    except Exception as exc:  # unknown ops, corrupt nodes: TF raises many types
        fail_input(f"cannot import the graph in {path} ({type(exc).__name__}: {_first_line(exc)})")
    return graph


def _first_line(exc) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:200] if text else "no detail"


@click.command("check-graph")
@click.argument("meta_file", type=click.Path(dir_okay=False))
@click.option("--fetch", "fetch_names", multiple=True, metavar="NAME",
              help="Op or tensor the training loop runs (repeatable). Default: the TRAIN_OP collection.")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True,
              help="Output format.")
def check_graph(meta_file, fetch_names, fmt):
    """Prove from a saved TF1 graph (MODEL.meta) that every BN update runs with the train op.

    No training code is needed. Feeds are unknown offline, so a placeholder_with_default(False)
    training flag is reported as flag-default-false (a real run must feed it True).
    """
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    if not os.path.isfile(meta_file):
        fail_input(f"{meta_file}: no such file")
    graph = load_meta_graph(meta_file)
    from bnguard.tf1.graph import NoTrainOpError
    from bnguard.tf1.graph import check_graph as run_check

    fetches = None
    if fetch_names:
        fetches = []
        for name in fetch_names:
            try:
                fetches.append(graph.as_graph_element(name, allow_tensor=True, allow_operation=True))
            except (KeyError, ValueError, TypeError) as exc:
                fail_input(f"--fetch {name}: not in the graph ({_first_line(exc)})")
    try:
        report = run_check(graph, fetches)
    except NoTrainOpError as exc:
        fail_input(f"{meta_file}: {exc}")
    raise SystemExit(emit_report(report, fmt))
