"""Per-layer verdicts from saved BN statistics, and the one-line summary a human reads first.

Verdicts (issue 7): ``ok``, ``never-updated`` (exact init values, confirmed by a zero counter),
``never-updated?`` (init values, no counter to confirm), ``counter-mismatch`` (``--steps`` given and
the counter disagrees), ``nonfinite``, ``negative-variance``, ``degenerate`` (variance ≈ 0 in most
channels), ``training-mode-export``.
"""
from __future__ import annotations

from fractions import Fraction

import numpy as np

from bnguard.checkpoint.layers import BNLayer
from bnguard.checkpoint.readers.arrays import as_float
from bnguard.result import LayerResult

OK_VERDICTS = frozenset({"ok"})
DEGENERATE_VAR = 1e-8  # far below any epsilon BN adds; a channel whose input never varied
DEGENERATE_FRACTION = 0.5


def layer_verdict(layer: BNLayer, steps: int | None = None, recorded_steps: int | None = None) -> LayerResult:
    """``steps``: optimizer steps the user says were run (``--steps``); ``recorded_steps``: a step
    counter saved in the checkpoint itself (TF ``global_step``, Keras optimizer iterations, Flax
    ``step``), which confirms that training happened when a layer has no counter of its own."""
    result = _judge(layer, steps, recorded_steps)
    if layer.note and layer.note not in result.detail:  # e.g. Keras "trainable=False": explains a freeze
        result.detail = f"{result.detail}; {layer.note}"
    return result


def _judge(layer: BNLayer, steps: int | None, recorded_steps: int | None) -> LayerResult:
    data: dict = {"channels": layer.channels}
    if layer.training_mode:
        return LayerResult(layer.name, "training-mode-export",
                           "exported in training mode: inference normalises with batch statistics"
                           + (f" ({layer.note})" if layer.note else ""), data)
    if layer.mean is None or layer.var is None:
        return LayerResult(layer.name, "ok", layer.note or "statistics not stored in this file", data)
    mean = as_float(layer.mean.load(), layer.mean.dtype).ravel()
    var = as_float(layer.var.load(), layer.var.dtype).ravel()
    counter = _counter(layer)
    data.update(_summary(mean, var))
    if counter is not None:
        data["num_batches_tracked"] = counter
    stats = _describe(data, counter)

    if not (np.isfinite(mean).all() and np.isfinite(var).all()):
        bad = int((~np.isfinite(mean)).sum() + (~np.isfinite(var)).sum())
        return LayerResult(layer.name, "nonfinite",
                           f"{bad} NaN/Inf value(s) in the moving statistics; {stats}", data)
    if (var < 0).any():
        return LayerResult(layer.name, "negative-variance",
                           f"{int((var < 0).sum())} of {var.size} variances are negative; {stats}", data)
    at_init = bool((mean == 0).all() and (var == 1).all())
    if at_init and counter == 0:
        return LayerResult(layer.name, "never-updated",
                           f"mean exactly 0, variance exactly 1 and num_batches_tracked 0; {stats}", data)
    if at_init and counter is None and recorded_steps:
        return LayerResult(layer.name, "never-updated",
                           f"mean exactly 0 and variance exactly 1 although the checkpoint records "
                           f"{recorded_steps} training steps; {stats}", data)
    if at_init and counter is None:
        return LayerResult(layer.name, "never-updated?",
                           f"mean exactly 0 and variance exactly 1 (the initial values; no counter to "
                           f"confirm); {stats}", data)
    if at_init:
        return LayerResult(layer.name, "never-updated",
                           f"mean exactly 0 and variance exactly 1 although the counter says {counter} "
                           f"batches (momentum 0, statistics reset, or updates written into another copy such as "
                           f"torch.func.functional_call's buffer dict); {stats}", data)
    if steps is not None and counter is not None and counter != steps:
        return LayerResult(layer.name, "counter-mismatch", f"{_ratio_text(counter, steps)}; {stats}", data)
    near_zero = var <= DEGENERATE_VAR
    if near_zero.mean() > DEGENERATE_FRACTION:
        return LayerResult(layer.name, "degenerate",
                           f"variance ≈ 0 in {int(near_zero.sum())} of {var.size} channels; {stats}", data)
    return LayerResult(layer.name, "ok", stats, data)


def _counter(layer: BNLayer) -> int | None:
    if layer.counter is None:
        return None
    arr = layer.counter.load()
    return int(np.asarray(arr).ravel()[0]) if arr.size else None


def _summary(mean: np.ndarray, var: np.ndarray) -> dict:
    with np.errstate(all="ignore"):
        return {
            "mean_min": float(np.min(mean)), "mean_max": float(np.max(mean)),
            "mean_abs_avg": float(np.mean(np.abs(mean))),
            "var_min": float(np.min(var)), "var_max": float(np.max(var)), "var_avg": float(np.mean(var)),
        }


def _describe(d: dict, counter: int | None) -> str:
    text = (f"{d['channels']} ch, mean [{d['mean_min']:.3g}, {d['mean_max']:.3g}], "
            f"var [{d['var_min']:.3g}, {d['var_max']:.3g}]")
    return text + (f", counter {counter}" if counter is not None else "")


def _ratio_text(counter: int, steps: int) -> str:
    if counter == 0 or steps <= 0:
        return f"counter {counter} but {steps} optimizer steps"
    r = Fraction(counter, steps)
    if r.denominator == 1:
        return (f"counter {counter} is {r.numerator}x the {steps} optimizer steps: the layer ran "
                f"{r.numerator} forward passes in training mode per step (shared/reused layer, "
                "activation recompute, or gradient accumulation over micro-batches)")
    if r.numerator == 1:
        return (f"counter {counter} is 1/{r.denominator} of the {steps} optimizer steps: the layer "
                "was in training mode for only part of training (frozen later, or resumed)")
    if counter < steps:
        return (f"counter {counter} is below the {steps} optimizer steps ({float(r):.2f}x): the layer "
                "was in eval mode for part of training")
    return f"counter {counter} is {float(r):.2f}x the {steps} optimizer steps"


# framework -> (cause, rule codes) for the summary line
_NEVER_UPDATED_CAUSE = {
    "tf": ("the training flag or update ops", "BN101/BN103"),
    "keras": ("training=False / trainable=False in the training step", "BN201/BN202/BN203"),
    "torch": ("the model trained in eval mode, or an EMA/SWA copy whose BN stats were never refreshed",
              "BN301/BN302/BN306"),
    "flax": ("batch_stats dropped after the step, or use_running_average=True", "BN401/BN402"),
    "onnx": ("the model was exported before its statistics were trained", "BN301"),
}
_OTHER = {
    "counter-mismatch": "the counter disagrees with the optimizer steps (shared layer, recompute, "
                        "gradient accumulation, or eval mode for part of training)",
    "nonfinite": "NaN/Inf in the moving statistics (mixed-precision overflow or a diverged step)",
    "negative-variance": "negative moving variance (numerical error, e.g. E[x²]−E[x]² in low precision)",
    "degenerate": "variance ≈ 0 in most channels (dead or constant inputs)",
    "training-mode-export": "exported in training mode: export after model.eval()",
}


def summary_line(results: list[LayerResult], framework: str, graph_problems: list[LayerResult] = ()) -> str:
    n = len(results)
    graph = ""
    if graph_problems:
        listed = ", ".join(f"{r.name.removeprefix('graph:')} {r.verdict}" for r in graph_problems[:4])
        graph = f"; the saved graph check found {len(graph_problems)} problem(s): {listed} — see BN103"
    if n == 0:
        return "no BN layers found in this checkpoint" + graph
    counts: dict[str, int] = {}
    for r in results:
        counts[r.verdict] = counts.get(r.verdict, 0) + 1
    parts = []
    never = counts.get("never-updated", 0) + counts.get("never-updated?", 0)
    if never:
        cause, codes = _NEVER_UPDATED_CAUSE.get(
            framework, ("the training flag or update ops", "BN101/BN201/BN301/BN402"))
        hedge = "" if counts.get("never-updated") else " (still at their initial values)"
        stuck = [r for r in results if r.verdict == "never-updated" and (r.data.get("num_batches_tracked") or 0) > 0]
        if len(stuck) == never:  # the layers ran in training mode, yet nothing was written
            cause, codes = "their counters advanced but the statistics did not (momentum 0, or updates written " \
                           "into another copy)", "BN304/BN307"
        parts.append(f"{never} of {n} BN layers were never updated{hedge}: {cause} — see {codes}")
    for verdict, text in _OTHER.items():
        if counts.get(verdict):
            parts.append(f"{counts[verdict]} of {n} BN layers: {text}")
    if not parts:
        return f"{n} BN layer(s) checked: all ok" + graph
    return "; ".join(parts) + graph
