"""The result cache: keyed by file content, rules, settings and version; results identical (issue 4)."""
from __future__ import annotations

import os

from _workflow import TORCH_MOMENTUM, run_check, run_json, write
from test_prefilter import corpus_projects, snapshot

from bnguard.lint.runner import CheckOptions, check_paths


def _opts(cache_dir, **kw):
    return CheckOptions(cache_dir=str(cache_dir), jobs=1, **kw)


def test_warm_run_comes_from_the_cache_with_identical_results(tmp_path):
    write(tmp_path, "src/m.py", TORCH_MOMENTUM)
    write(tmp_path, "src/ok.py", "x = 1\n")
    cold = check_paths([str(tmp_path / "src")], _opts(tmp_path / "cache"))
    warm = check_paths([str(tmp_path / "src")], _opts(tmp_path / "cache"))
    assert not cold.from_cache and warm.from_cache
    assert snapshot(warm) == snapshot(cold) and len(cold.findings) == 1


def test_changed_content_invalidates_touch_does_not(tmp_path):
    m = write(tmp_path, "src/m.py", TORCH_MOMENTUM)
    check_paths([str(tmp_path / "src")], _opts(tmp_path / "cache"))
    st = m.stat()
    os.utime(m, ns=(st.st_atime_ns, st.st_mtime_ns + 5_000_000_000))  # same content, new mtime
    again = check_paths([str(tmp_path / "src")], _opts(tmp_path / "cache"))
    assert again.from_cache and len(again.findings) == 1
    m.write_text(TORCH_MOMENTUM.replace("0.99", "0.01"))
    fixed = check_paths([str(tmp_path / "src")], _opts(tmp_path / "cache"))
    assert not fixed.from_cache and fixed.findings == []


def test_selection_is_part_of_the_key(tmp_path):
    write(tmp_path, "src/m.py", TORCH_MOMENTUM)
    check_paths([str(tmp_path / "src")], _opts(tmp_path / "cache"))
    ignored = check_paths([str(tmp_path / "src")], _opts(tmp_path / "cache", ignore=["BN304"]))
    assert not ignored.from_cache and ignored.findings == []


def test_cli_uses_bnguard_cache_next_to_the_config_and_no_cache_disables_it(tmp_path):
    write(tmp_path, "pyproject.toml", "[tool.bnguard]\nselect = ['BN']\n")
    write(tmp_path, "pkg/m.py", TORCH_MOMENTUM)
    assert len(run_json(str(tmp_path / "pkg"))["findings"]) == 1
    cache = tmp_path / ".bnguard_cache"
    assert cache.is_dir() and (cache / ".gitignore").read_text().strip().endswith("*")
    assert len(run_json(str(tmp_path / "pkg"))["findings"]) == 1
    write(tmp_path, "other/m.py", TORCH_MOMENTUM)
    run_check(str(tmp_path / "other"), "--no-cache", cwd=tmp_path / "other")
    assert not (tmp_path / "other" / ".bnguard_cache").exists()


def test_unwritable_or_corrupt_cache_is_skipped(tmp_path):
    write(tmp_path, "src/m.py", TORCH_MOMENTUM)
    blocker = tmp_path / "cachefile"
    blocker.write_text("not a folder")
    res = check_paths([str(tmp_path / "src")], _opts(blocker))
    assert len(res.findings) == 1
    check_paths([str(tmp_path / "src")], _opts(tmp_path / "cache"))
    for dirpath, _, files in os.walk(tmp_path / "cache"):
        for fn in files:
            with open(os.path.join(dirpath, fn), "w") as fh:
                fh.write("{truncated")
    res = check_paths([str(tmp_path / "src")], _opts(tmp_path / "cache"))
    assert not res.from_cache and len(res.findings) == 1


def test_cache_on_and_off_agree_on_the_fixture_corpus(tmp_path):
    for i, project in enumerate(corpus_projects()):
        plain = check_paths([project], CheckOptions(jobs=1))
        cold = check_paths([project], _opts(tmp_path / f"c{i}"))
        warm = check_paths([project], _opts(tmp_path / f"c{i}"))
        assert warm.from_cache, project
        assert snapshot(cold) == snapshot(plain) == snapshot(warm), project
