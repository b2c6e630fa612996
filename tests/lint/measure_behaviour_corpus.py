"""Run every program of the behaviour corpus and record the BN behaviour it measures.

    .venv/bin/python tests/lint/measure_behaviour_corpus.py            # print measured vs manifest
    .venv/bin/python tests/lint/measure_behaviour_corpus.py --write    # store measurements in the manifest
    .venv/bin/python tests/lint/measure_behaviour_corpus.py --write torch/ok_x.py   # only these programs
    .venv/bin/python tests/lint/measure_behaviour_corpus.py --score    # linter precision/recall, no runs

Each program prints one ``BN-GROUND-TRUTH: <behaviour>`` line computed from the framework's own
moving statistics; the manifest keeps that measured value next to the expected linter codes.
"""
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

CORPUS = Path(__file__).resolve().parent / "behaviour_corpus"
MANIFEST = CORPUS / "manifest.json"
GROUND_TRUTH = re.compile(r"^BN-GROUND-TRUTH:\s*(\S+)\s*$", re.M)


def program_env() -> dict:
    env = dict(os.environ)
    env.update(TF_USE_LEGACY_KERAS="1", TF_CPP_MIN_LOG_LEVEL="2", KERAS_BACKEND="tensorflow",
               CUDA_VISIBLE_DEVICES="", JAX_PLATFORMS="cpu", PYTHONHASHSEED="0")
    return env


def run_program(entry: dict, timeout: float = 300) -> str:
    """Run one corpus program and return the behaviour it printed (or a failure marker)."""
    script = CORPUS / entry["path"]
    if script.is_dir():
        script = script / entry["entry"]
    proc = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=timeout,
                          env=program_env(), cwd=str(script.parent))
    found = GROUND_TRUTH.findall(proc.stdout)
    if proc.returncode != 0 or len(found) != 1:
        return f"<failed rc={proc.returncode}: {proc.stderr.strip().splitlines()[-1:] }>"
    return found[0]


def main(write: bool, only: list) -> int:
    manifest = json.loads(MANIFEST.read_text())
    bad = 0
    for entry in manifest["programs"]:
        if only and entry["path"] not in only:
            continue
        t0 = time.time()
        measured = run_program(entry)
        same = measured == entry.get("ground_truth")
        bad += not same
        print(f"{'ok ' if same else 'DIFF'} {entry['path']:<60} {measured:<30} {time.time() - t0:5.1f}s")
        if write:
            entry["ground_truth"] = measured
    if write:
        MANIFEST.write_text(json.dumps(manifest, indent=2) + "\n")
    return 1 if bad and not write else 0


def score() -> int:
    """Lint every program on its own (default rules) and print precision/recall per framework.

    A bug counts as found when all its expected codes fire; any finding on a correct program, or an
    unexpected code on a bug, is a false positive."""
    sys.path.insert(0, str(CORPUS.parents[2] / "src"))
    from bnguard.lint.engine import lint_paths

    manifest = json.loads(MANIFEST.read_text())
    stats: dict = {}
    for entry in manifest["programs"]:
        found = {f.code for f in lint_paths([str(CORPUS / entry["path"])]).findings if not f.suppressed}
        s = stats.setdefault(entry["framework"], {"tp": 0, "fn": 0, "fp": 0, "tn": 0, "n": 0, "bugs": 0})
        s["n"] += 1
        expected = set(entry["expected_codes"])
        if entry["bug"]:
            s["bugs"] += 1
            s["tp" if expected <= found else "fn"] += 1
            if found - expected:
                s["fp"] += 1
                print(f"FP   {entry['path']}: {sorted(found - expected)}")
            if not expected <= found:
                print(f"FN   {entry['path']}: expected {sorted(expected)}, found {sorted(found)}")
        elif found:
            s["fp"] += 1
            print(f"FP   {entry['path']}: {sorted(found)}")
        else:
            s["tn"] += 1
    total = {k: sum(s[k] for s in stats.values()) for k in ("tp", "fn", "fp", "tn", "n", "bugs")}
    for name, s in sorted(stats.items()) + [("ALL", total)]:
        precision = s["tp"] / (s["tp"] + s["fp"]) if s["tp"] + s["fp"] else float("nan")
        recall = s["tp"] / (s["tp"] + s["fn"]) if s["tp"] + s["fn"] else float("nan")
        print(f"{name:<6} programs={s['n']:<3} bugs={s['bugs']:<3} correct={s['n'] - s['bugs']:<3} "
              f"TP={s['tp']} FN={s['fn']} FP={s['fp']}  precision={precision:.2f} recall={recall:.2f}")
    return 0


if __name__ == "__main__":
    if "--score" in sys.argv:
        sys.exit(score())
    sys.exit(main("--write" in sys.argv, [a.rstrip("/") for a in sys.argv[1:] if not a.startswith("--")]))
