"""`bnguard inspect` on >= 1 GB checkpoints: time and peak memory, side by side with the peers.

Generates (in a temporary folder, deleted afterwards) one PyTorch ``.pt`` (zip format) and one
``.safetensors`` file of a ResNet-like state dict: 53 BN layers plus large conv/linear weights that
bring the file above ``--gb`` gigabytes (default 1.1). Every measurement runs in a fresh Python
subprocess that reports the read time, the whole process time (start + imports + read, like a
CLI call) and its peak resident memory (``ru_maxrss``); a subprocess that
only imports the same modules gives the baseline, so "extra" memory is what the reading cost.

Peers on the same files, in the same run:

* ``torch.load(weights_only=True)`` — the naive, safe way to look at a ``.pt``;
* ``torch.load(weights_only=True, mmap=True)`` — the careful way;
* ``safetensors.safe_open`` + reading only the BN tensors (the careful way for safetensors) and
  ``safetensors.torch.load_file`` (the naive way).

Run::

    .venv/bin/python bench/inspect_large.py            # ~1.1 GB files
    .venv/bin/python bench/inspect_large.py --gb 2.5
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

BN_LAYERS = 53

_MEASURE = r"""
import json, resource, sys, time
kind, path = sys.argv[1], sys.argv[2]
{imports}
t0 = time.perf_counter()
{body}
elapsed = time.perf_counter() - t0
print(json.dumps({{"seconds": elapsed, "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "check": check}}))
"""

CASES = {
    # name: (imports, body); ``check`` is a small value printed to prove the work was done
    "bnguard inspect": ("from bnguard.checkpoint import inspect",
                        "r = inspect(path); check = f'{len(r)} layers, ok={r.ok}'"),
    "baseline (bnguard imported, nothing read)": ("from bnguard.checkpoint import inspect", "check = ''"),
    "torch.load(weights_only=True)": (
        "import torch",
        "sd = torch.load(path, weights_only=True, map_location='cpu'); "
        "check = f\"{sum(1 for k in sd if k.endswith('running_mean'))} layers, "
        "{float(sum(sd[k].float().mean() for k in sd if k.endswith('running_var'))):.3f}\""),
    "torch.load(weights_only=True, mmap=True)": (
        "import torch",
        "sd = torch.load(path, weights_only=True, map_location='cpu', mmap=True); "
        "check = f\"{sum(1 for k in sd if k.endswith('running_mean'))} layers, "
        "{float(sum(sd[k].float().mean() for k in sd if k.endswith('running_var'))):.3f}\""),
    "baseline (torch imported, nothing read)": ("import torch", "check = ''"),
    "safetensors.safe_open (BN tensors only)": (
        "from safetensors import safe_open",
        "f = safe_open(path, 'np'); keys = [k for k in f.keys() if k.endswith('running_var')]; "
        "check = f'{len(keys)} layers, {float(sum(f.get_tensor(k).mean() for k in keys)):.3f}'"),
    "safetensors.torch.load_file": (
        "import torch; from safetensors.torch import load_file",
        "sd = load_file(path); check = f\"{sum(1 for k in sd if k.endswith('running_mean'))} layers, "
        "{float(sum(sd[k].float().mean() for k in sd if k.endswith('running_var'))):.3f}\""),
}
PT_CASES = ["bnguard inspect", "torch.load(weights_only=True)", "torch.load(weights_only=True, mmap=True)"]
ST_CASES = ["bnguard inspect", "safetensors.safe_open (BN tensors only)", "safetensors.torch.load_file"]

_GENERATE = r"""
import sys, torch
from safetensors.torch import save_file
folder, total_bytes, n_bn = sys.argv[1], int(float(sys.argv[2])), int(sys.argv[3])
torch.manual_seed(0)
sd, size = {}, 0
for i in range(n_bn):
    c = 64 * (1 + i % 8)
    sd[f"layer{i}.conv.weight"] = torch.randn(c, c, 3, 3)
    sd[f"layer{i}.bn.weight"] = torch.rand(c) + 0.5
    sd[f"layer{i}.bn.bias"] = torch.randn(c) * 0.1
    sd[f"layer{i}.bn.running_mean"] = torch.randn(c) if i % 5 else torch.zeros(c)   # every 5th: never updated
    sd[f"layer{i}.bn.running_var"] = torch.rand(c) + 0.1 if i % 5 else torch.ones(c)
    sd[f"layer{i}.bn.num_batches_tracked"] = torch.tensor(1000 if i % 5 else 0)
size = sum(t.numel() * t.element_size() for t in sd.values())
j = 0
while size < total_bytes:  # the bulk: big linear layers (like a classifier head or an embedding)
    t = torch.randn(4096, 8192)
    sd[f"head{j}.weight"] = t
    size += t.numel() * t.element_size()
    j += 1
torch.save(sd, f"{folder}/large.pt")
save_file(sd, f"{folder}/large.safetensors")
"""


def _run(code: str, *args: str) -> dict:
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True)
    total = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"benchmark step failed:\n{proc.stderr[-2000:]}")
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    result["process_seconds"] = total  # interpreter start + imports + the read, like a CLI call
    return result


def _drop_page_cache_hint(path: str) -> None:
    """Ask the kernel to forget the file's pages so each reader starts cold-ish (best effort)."""
    try:
        fd = os.open(path, os.O_RDONLY)
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        os.close(fd)
    except (AttributeError, OSError):
        pass


def measure(case: str, path: str) -> dict:
    imports, body = CASES[case]
    _drop_page_cache_hint(path)
    return _run(_MEASURE.format(imports=imports, body=body), case, path)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--gb", type=float, default=1.1, help="size of each generated file in GB (default 1.1)")
    ap.add_argument("--repeat", type=int, default=2, help="runs per case; the best is kept (default 2)")
    ap.add_argument("--keep", action="store_true", help="keep the generated files")
    args = ap.parse_args(argv)

    folder = tempfile.mkdtemp(prefix="bnguard-inspect-bench-")
    try:
        print(f"generating {args.gb:.1f} GB .pt and .safetensors in {folder} ...", flush=True)
        gen = subprocess.run([sys.executable, "-c", _GENERATE, folder, str(args.gb * 1e9), str(BN_LAYERS)],
                             capture_output=True, text=True)
        if gen.returncode != 0:
            raise SystemExit(f"generation failed:\n{gen.stderr[-2000:]}")
        base_bn = min((measure("baseline (bnguard imported, nothing read)", f"{folder}/large.pt")
                       for _ in range(args.repeat)), key=lambda r: r["peak_mb"])
        base_torch = min((measure("baseline (torch imported, nothing read)", f"{folder}/large.pt")
                          for _ in range(args.repeat)), key=lambda r: r["peak_mb"])
        print(f"baseline peak RSS: bnguard imports {base_bn['peak_mb']:.0f} MB, "
              f"torch imports {base_torch['peak_mb']:.0f} MB")
        for fname, cases in (("large.pt", PT_CASES), ("large.safetensors", ST_CASES)):
            path = f"{folder}/{fname}"
            size_mb = os.path.getsize(path) / 2**20
            print(f"\n{fname}: {size_mb:.0f} MB, {BN_LAYERS} BN layers (every 5th never updated)")
            print(f"  {'reader':44s} {'read s':>8s} {'total s':>8s} {'peak MB':>8s}  "
                  f"{'x time':>7s} {'x mem':>6s}  check")
            results = {}
            for case in cases:
                runs = [measure(case, path) for _ in range(args.repeat)]
                results[case] = {"seconds": min(r["seconds"] for r in runs),
                                 "process_seconds": min(r["process_seconds"] for r in runs),
                                 "peak_mb": min(r["peak_mb"] for r in runs), "check": runs[0]["check"]}
            ours = results["bnguard inspect"]
            for case, r in results.items():
                print(f"  {case:44s} {r['seconds']:8.3f} {r['process_seconds']:8.2f} {r['peak_mb']:8.0f}  "
                      f"{r['seconds'] / ours['seconds']:6.1f}x {r['peak_mb'] / ours['peak_mb']:5.1f}x  {r['check']}")
            extra = ours["peak_mb"] - base_bn["peak_mb"]
            print(f"  bnguard: {ours['seconds']:.3f} s, peak {ours['peak_mb']:.0f} MB "
                  f"({extra:.0f} MB above its import baseline) for a {size_mb:.0f} MB file "
                  f"= {ours['peak_mb'] / size_mb:.1%} of the file size")
    finally:
        if not args.keep:
            shutil.rmtree(folder, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
