"""`inspect(path)`: read a checkpoint of any supported format and judge each BN layer."""
from __future__ import annotations

import os
import re

import numpy as np

from bnguard.checkpoint.errors import CheckpointError
from bnguard.checkpoint.formats import open_checkpoint, read_errors
from bnguard.checkpoint.layers import BNLayer, find_bn_layers, from_known
from bnguard.checkpoint.tensors import Checkpoint
from bnguard.checkpoint.verdicts import OK_VERDICTS, layer_verdict, summary_line
from bnguard.result import LayerResult, Report


def bn_layers(ckpt: Checkpoint) -> list[BNLayer]:
    if ckpt.known_bn is not None:
        return from_known(ckpt.known_bn)
    return find_bn_layers(ckpt.tensors)


def inspect(path: str | os.PathLike, steps: int | None = None) -> Report:
    """Judge every BN layer saved in ``path`` (a file or a checkpoint folder).

    Nothing in the file is executed. Raises `CheckpointError` (one-line message) when the file cannot
    be read. ``steps``: the number of optimizer steps, to check PyTorch's ``num_batches_tracked``.
    """
    path = os.fspath(path)
    ckpt = open_checkpoint(path)
    layers = bn_layers(ckpt)
    with read_errors(path):  # tensors are read lazily, here
        recorded = recorded_steps(ckpt)
        results = [layer_verdict(layer, steps, recorded) for layer in layers]
    graph_problems = _graph_problems(ckpt)
    summary = summary_line(results, ckpt.framework, graph_problems)
    results.extend(graph_problems)
    meta = {"path": path, "format": ckpt.format, "framework": ckpt.framework,
            "tensors": len(ckpt.tensors), "bn_layers": len(layers)}
    if steps is not None:
        meta["steps"] = steps
    if recorded:
        meta["recorded_steps"] = recorded
    if ckpt.notes:
        meta["notes"] = ckpt.notes
    return Report(kind="inspect", layers=results, ok_verdicts=OK_VERDICTS | _graph_ok(ckpt),
                  summary=summary, meta=meta)


# names (after value wrappers) under which a checkpoint records how many steps were trained
_STEP_NAMES = re.compile(r"^(global_step|step|iterations|optimizer[/.](vars[/.]0|_?iter(ations)?)|"
                         r"model[/.]optimizer[/.]_?iter(ations)?)$")


def recorded_steps(ckpt: Checkpoint) -> int | None:
    """The training step counter saved next to the weights, if any."""
    for name, value in ckpt.scalars.items():
        if _STEP_NAMES.match(name) and isinstance(value, int) and value >= 0:
            return value
    for name, ref in ckpt.tensors.items():
        clean = re.sub(r"(/\.ATTRIBUTES/VARIABLE_VALUE|:0)$", "", name)
        if ref.shape in ((), (1,)) and ref.dtype.startswith(("int", "uint")) and _STEP_NAMES.match(clean):
            try:
                return int(np.asarray(ref.load()).ravel()[0])
            except (CheckpointError, OSError, ValueError, IndexError):
                return None
    return None


def _graph_problems(ckpt: Checkpoint) -> list[LayerResult]:
    """Problems the TF1 graph check found in the ``.meta`` graph, under their own verdicts."""
    report = ckpt.graph_report
    if report is None:
        return []
    return [LayerResult(f"graph:{r.name}", r.verdict, r.detail, dict(r.data)) for r in report.problems]


def _graph_ok(ckpt: Checkpoint) -> frozenset:
    return frozenset(ckpt.graph_report.ok_verdicts) if ckpt.graph_report is not None else frozenset()
