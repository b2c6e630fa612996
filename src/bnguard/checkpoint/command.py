"""``bnguard inspect`` and ``bnguard diff``."""
from __future__ import annotations

import sys

import click

from bnguard.cli_util import emit_report, fail_input

FORMATS = ["text", "json"]


@click.command()
@click.argument("path", type=click.Path())
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="text", show_default=True,
              help="Output format (json prints report.to_dict()).")
@click.option("--steps", type=click.IntRange(min=0), default=None,
              help="Optimizer steps the model was trained for: checks PyTorch's num_batches_tracked.")
def inspect(path, fmt, steps):
    """Read a saved model and tell which BN layers were never trained, lost or broken.

    Nothing in the file is executed. Exit 0: all ok, 1: problems found, 2: the file could not be read.
    """
    from bnguard.checkpoint import CheckpointError
    from bnguard.checkpoint.inspection import inspect as run_inspect

    try:
        report = run_inspect(path, steps=steps)
    except CheckpointError as exc:
        fail_input(str(exc))
    sys.exit(emit_report(report, fmt))


@click.command()
@click.argument("a", type=click.Path())
@click.argument("b", type=click.Path())
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="text", show_default=True)
@click.option("--expect", type=click.Choice(["any", "changed", "unchanged"]), default="any", show_default=True,
              help="Which outcome is healthy: e.g. 'unchanged' for a frozen backbone, 'changed' for an EMA copy.")
@click.option("--atol", type=float, default=0.0, show_default=True, help="Differences up to this count as unchanged.")
def diff(a, b, fmt, expect, atol):
    """Compare the BN statistics of two checkpoints of the same model, layer by layer."""
    from bnguard.checkpoint import CheckpointError
    from bnguard.checkpoint.comparison import diff as run_diff

    try:
        report = run_diff(a, b, expect=expect, atol=atol)
    except CheckpointError as exc:
        fail_input(str(exc))
    sys.exit(emit_report(report, fmt))
