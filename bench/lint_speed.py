"""Speed of ``bnguard check`` against its peers, side by side, on one real corpus.

Corpus: the Python sources of the installed tensorflow, keras, tf_keras, flax and torch packages
(copied once into a scratch folder, so that every tool sees exactly the same files and none of them
skips a folder because it is called ``site-packages``/``build``/``dist``).

Tools, each run once on the whole corpus:

* bnguard cold (empty cache) and warm (unchanged tree, cache filled by the cold run);
* a plain single-process ``ast.parse`` of every file (the "floor" of any AST-based linter);
* ruff (default rules), flake8 ``-j2`` (default checks), TorchFix ``-j2``,
  pylint ``-j2`` with the dslinter plugin (only dslinter's checks enabled).

The peers are installed into their own virtual environments under ``bench/.venvs/`` (they pin
conflicting versions of pylint/astroid/libcst; none of them needs torch, and torch is never
installed there). Run::

    .venv/bin/python bench/lint_speed.py                       # everything (pylint: ~5+ min)
    .venv/bin/python bench/lint_speed.py --max-files 500 --skip pylint,torchfix,flake8

Prints seconds per tool and ratios; exits non-zero only if bnguard itself fails.
"""
from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import sysconfig
import tempfile
import time
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
VENVS = ROOT / "bench" / ".venvs"
PACKAGES = ("tensorflow", "keras", "tf_keras", "flax", "torch")
# Separate environments: TorchFix pins libcst < 1.6; dslinter pins pylint 2.12/astroid 2.9/mypy 0.931,
# which do not build on Python 3.11, so it gets the last pylint 2.x (its plugin API still works
# there) and is installed without its pins.
PEER_ENVS = {
    "ruff": ["ruff", "flake8"],
    "torchfix": ["torchfix"],
    "dslinter": ["pylint==2.17.7", "astroid==2.15.8", "toml", "mypy"],
}
NO_DEPS = {"dslinter": ["dslinter==2.0.9"]}
# Folder names some tools skip by default: renamed in the copy so every tool sees every file.
RENAME_DIRS = {"build", "dist", "site-packages", "dist-packages", "venv", "env", "node_modules", "__pycache__"}

PARSE_FLOOR = """
import ast, sys
for p in sys.stdin.read().split("\\0"):
    if p:
        with open(p, "rb") as fh:
            src = fh.read()
        try:
            ast.parse(src)
        except (SyntaxError, ValueError):
            pass
"""


def build_corpus(dest: Path, max_files: int | None) -> list[Path]:
    site = Path(sysconfig.get_paths()["purelib"])
    files: list[Path] = []
    for pkg in PACKAGES:
        base = site / pkg
        if base.is_dir():
            files.extend(sorted(p for p in base.rglob("*.py") if p.is_file()))
    if max_files and len(files) > max_files:  # an even sample across all packages
        step = len(files) / max_files
        files = [files[int(i * step)] for i in range(max_files)]
    if dest.exists():
        shutil.rmtree(dest)
    out = []
    for src in files:
        rel = src.relative_to(site)
        parts = [("_" + p if (p in RENAME_DIRS or p.startswith(".")) else p) for p in rel.parts[:-1]]
        target = dest.joinpath(*parts, rel.name)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src, target)
        out.append(target)
    return out


def ensure_env(name: str) -> Path | None:
    """The bin folder of the peer environment ``name`` (created and installed on first use)."""
    env = VENVS / name
    bin_dir = env / "bin"
    marker = env / ".installed"
    if marker.exists():
        return bin_dir
    print(f"  installing {', '.join(PEER_ENVS[name])} into {env} ...", flush=True)
    venv.EnvBuilder(with_pip=True, clear=True).create(env)
    cmd = [str(bin_dir / "python"), "-m", "pip", "install", "-q", *PEER_ENVS[name]]
    res = subprocess.run(cmd, capture_output=True, text=True)
    if res.returncode != 0:
        print(f"  could not install {name}: {res.stderr.strip().splitlines()[-1] if res.stderr.strip() else res.returncode}")
        return None
    if name in NO_DEPS:
        res = subprocess.run([str(bin_dir / "python"), "-m", "pip", "install", "-q", "--no-deps", *NO_DEPS[name]],
                             capture_output=True, text=True)
        if res.returncode != 0:
            print(f"  could not install {NO_DEPS[name]}")
            return None
    marker.write_text("ok\n")
    return bin_dir


def timed(cmd: list[str], *, stdin: str | None = None, timeout: float, cwd: Path | None = None) -> tuple[float | None, str]:
    t0 = time.perf_counter()
    try:
        res = subprocess.run(cmd, input=stdin, capture_output=True, text=True, timeout=timeout, cwd=cwd)
    except subprocess.TimeoutExpired:
        return None, f"timed out after {timeout:.0f} s"
    elapsed = time.perf_counter() - t0
    note = f"exit {res.returncode}"
    if res.returncode not in (0, 1):
        tail = (res.stderr or res.stdout).strip().splitlines()[-1:] or [""]
        return None, f"failed ({note}): {tail[0][:160]}"
    return elapsed, note


def dslinter_checks(bin_dir: Path) -> list[str]:
    """Message symbols that the dslinter plugin defines (so only its checks are enabled)."""
    code = ("import dslinter.plugin as p, pylint.lint as L\n"
            "r = L.PyLinter(); r.load_default_plugins(); p.register(r)\n"
            "syms = sorted({m.symbol for c in r.get_checkers() if getattr(c, '__module__', '').startswith('dslinter') "
            "for m in c.messages})\nprint(','.join(syms))\n")
    res = subprocess.run([str(bin_dir / "python"), "-c", code], capture_output=True, text=True)
    return [s for s in res.stdout.strip().split(",") if re.fullmatch(r"[a-z0-9-]+", s)]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--max-files", type=int, default=None, help="an even sample of N corpus files")
    ap.add_argument("--skip", default="", help="comma-separated tools to skip: pylint,torchfix,flake8,ruff,ast")
    ap.add_argument("--timeout", type=float, default=1800.0, help="seconds per tool")
    ap.add_argument("--corpus-dir", default=None, help="scratch folder for the corpus copy")
    args = ap.parse_args(argv)
    skip = {s.strip() for s in args.skip.split(",") if s.strip()}

    scratch = Path(args.corpus_dir or tempfile.mkdtemp(prefix="bnguard-bench-"))
    corpus = scratch / "corpus"
    files = build_corpus(corpus, args.max_files)
    n_lines = sum(p.read_bytes().count(b"\n") for p in files)
    n_bytes = sum(p.stat().st_size for p in files)
    print(f"corpus: {len(files)} files, {n_lines:,} lines, {n_bytes / 1e6:.1f} MB "
          f"({', '.join(PACKAGES)} from {sysconfig.get_paths()['purelib']})")
    print(f"machine: {os.cpu_count()} CPUs, Python {sys.version.split()[0]}\n")

    bnguard = [sys.executable, "-m", "bnguard"]
    cache_dir = scratch / "cache"
    shutil.rmtree(cache_dir, ignore_errors=True)
    rows: list[tuple[str, float | None, str]] = []

    def run(label, cmd, **kw):
        secs, note = timed(cmd, timeout=args.timeout, **kw)
        rows.append((label, secs, note))
        shown = f"{secs:8.2f} s" if secs is not None else "       --"
        print(f"  {label:<34} {shown}   {note}", flush=True)

    run("bnguard check (cold, -j auto)", [*bnguard, "check", str(corpus), "--cache-dir", str(cache_dir), "--format", "json"])
    run("bnguard check (warm cache)", [*bnguard, "check", str(corpus), "--cache-dir", str(cache_dir), "--format", "json"])
    run("bnguard check (no pre-filter, -j1)", [*bnguard, "check", str(corpus), "--no-cache", "--no-prefilter", "-j", "1", "--format", "json"])
    if "ast" not in skip:
        run("ast.parse, single process", [sys.executable, "-c", PARSE_FLOOR], stdin="\0".join(map(str, files)))
    if "ruff" not in skip and (bin_dir := ensure_env("ruff")):
        run("ruff check (default rules)", [str(bin_dir / "ruff"), "check", "--no-cache", "--exit-zero", "-q", str(corpus)])
    if "flake8" not in skip and (bin_dir := ensure_env("ruff")):
        run("flake8 -j2", [str(bin_dir / "flake8"), "-j", "2", "--exit-zero", str(corpus)])
    if "torchfix" not in skip and (bin_dir := ensure_env("torchfix")):
        run("TorchFix -j2", [str(bin_dir / "torchfix"), "-j", "2", str(corpus)])
    if "pylint" not in skip and (bin_dir := ensure_env("dslinter")):
        checks = dslinter_checks(bin_dir)
        if not checks:
            rows.append(("pylint + dslinter -j2", None, "could not list dslinter's checks"))
        else:
            run("pylint + dslinter -j2", [str(bin_dir / "pylint"), "-j", "2", "--load-plugins=dslinter",
                                          "--disable=all", f"--enable={','.join(checks)}", "--exit-zero",
                                          "--recursive=y", str(corpus)])

    by = {label: secs for label, secs, _ in rows}
    cold = by.get("bnguard check (cold, -j auto)")
    ruff = by.get("ruff check (default rules)")
    floor = by.get("ast.parse, single process")
    print("\n  tool                                 seconds   x bnguard cold   x ruff")
    for label, secs, _ in rows:
        if secs is None:
            print(f"  {label:<34}      --")
            continue
        r1 = f"{secs / cold:10.2f}" if cold else "        --"
        r2 = f"{secs / ruff:8.2f}" if ruff else "      --"
        print(f"  {label:<34} {secs:8.2f}   {r1}     {r2}")
    if cold and floor:
        verdict = (f"{floor / cold:.1f}x faster than" if cold <= floor else f"{cold / floor:.1f}x slower than")
        print(f"\n  bnguard cold is {verdict} the ast.parse floor (target: faster)", end="")
        print(f"; {cold / ruff:.1f}x ruff's time" if ruff else "")
    shutil.rmtree(scratch, ignore_errors=True) if not args.corpus_dir else None
    return 0 if cold is not None else 1


if __name__ == "__main__":
    sys.exit(main())
