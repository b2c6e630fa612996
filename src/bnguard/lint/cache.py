"""Result cache: an unchanged tree re-checks without parsing (or even reading) a file.

Findings depend on the whole project (a call site in one file clears a finding in another), so the
cache stores whole results, keyed by

* the bnguard version and a hash of the rule sources (editing a rule invalidates everything),
* the effective settings (selection, per-file ignores, severities, working folder),
* every checked file's path and content hash (sha256).

To avoid hashing unchanged files, a stat memo maps ``(size, mtime_ns)`` of each file to the
content hash seen last time; a file whose stat changed is hashed again. Entries live under
``.bnguard_cache/`` (gitignored); a cache that cannot be read or written is silently skipped.
"""
from __future__ import annotations

import hashlib
import json
import os
import tempfile
from typing import Optional

from bnguard import __version__
from bnguard.lint.finding import Edit, Finding, Fix

CACHE_DIR_NAME = ".bnguard_cache"
FORMAT = 1
MAX_RESULTS = 16  # result files kept; older ones are removed


class ResultCache:
    def __init__(self, directory: str, *, rules, settings: dict):
        self.dir = os.path.join(directory, f"v{FORMAT}")
        self.stat_path = os.path.join(self.dir, "stat.json")
        self.rules_key = _rules_key(rules)
        self.settings_key = json.dumps(settings, sort_keys=True, default=str)
        self._stat_memo: Optional[dict] = None
        self._hashes: dict[str, str] = {}

    # --- keys -----------------------------------------------------------------------------------
    def _memo(self) -> dict:
        if self._stat_memo is None:
            self._stat_memo = _read_json(self.stat_path) or {}
        return self._stat_memo

    def hash_file(self, path: str) -> str:
        ap = os.path.abspath(path)
        try:
            st = os.stat(ap)
        except OSError:
            return "unreadable"
        entry = self._memo().get(ap)
        if entry and entry[0] == st.st_size and entry[1] == st.st_mtime_ns:
            digest = entry[2]
        else:
            try:
                with open(ap, "rb") as fh:
                    digest = hashlib.sha256(fh.read()).hexdigest()
            except OSError:
                digest = "unreadable"
            self._memo()[ap] = [st.st_size, st.st_mtime_ns, digest]
        self._hashes[path] = digest
        return digest

    def _key(self, hashes: dict[str, str]) -> str:
        h = hashlib.sha256()
        h.update(f"{__version__}\0{self.rules_key}\0{self.settings_key}\0".encode())
        for path in sorted(hashes):
            h.update(f"{path}\0{hashes[path]}\n".encode())
        return h.hexdigest()

    # --- lookups --------------------------------------------------------------------------------
    def lookup_by_stat(self, files: list[str]) -> Optional[dict]:
        """A stored result when every file's stat matches the memo (no file is read)."""
        memo = self._memo()
        hashes = {}
        for path in files:
            ap = os.path.abspath(path)
            entry = memo.get(ap)
            try:
                st = os.stat(ap)
            except OSError:
                return None
            if not entry or entry[0] != st.st_size or entry[1] != st.st_mtime_ns:
                return None
            hashes[path] = entry[2]
        return self.lookup_by_hashes(hashes)

    def lookup_by_hashes(self, hashes: dict[str, str]) -> Optional[dict]:
        data = _read_json(os.path.join(self.dir, "results", self._key(hashes) + ".json"))
        if data is not None:
            self._save_memo()
        return data

    # --- store ----------------------------------------------------------------------------------
    def store(self, result, files: list[str], errors) -> None:
        hashes = {p: self._hashes.get(p) or self.hash_file(p) for p in files}
        data = {"findings": [finding_to_dict(f) for f in result.findings],
                "errors": [e.to_dict() for e in errors]}
        results = os.path.join(self.dir, "results")
        try:
            os.makedirs(results, exist_ok=True)
            _ensure_gitignore(os.path.dirname(self.dir))
            _write_json(os.path.join(results, self._key(hashes) + ".json"), data)
            self._save_memo()
            _prune(results)
        except OSError:
            pass

    def _save_memo(self) -> None:
        if self._stat_memo is None:
            return
        try:
            os.makedirs(self.dir, exist_ok=True)
            _write_json(self.stat_path, self._stat_memo)
        except OSError:
            pass


def default_cache_dir(config_root: Optional[str]) -> str:
    """Next to the configuration file, else in the current folder (like ``.ruff_cache``)."""
    return os.environ.get("BNGUARD_CACHE_DIR") or os.path.join(config_root or os.getcwd(), CACHE_DIR_NAME)


def _rules_key(rules) -> str:
    """Codes of the enabled rules plus a hash of the lint package's sources."""
    import bnguard.lint as pkg

    h = hashlib.sha256(",".join(r.code for r in rules).encode())
    root = os.path.dirname(pkg.__file__)
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if d != "__pycache__")
        for fn in sorted(filenames):
            if fn.endswith(".py"):
                st = os.stat(os.path.join(dirpath, fn))
                h.update(f"{fn}:{st.st_size}:{st.st_mtime_ns};".encode())
    return h.hexdigest()


def finding_to_dict(f: Finding) -> dict:
    d = {k: getattr(f, k) for k in ("path", "line", "col", "code", "rule", "message", "severity",
                                    "framework", "end_line", "end_col", "cell", "suppressed")}
    d["fix"] = f.fix.to_dict() if f.fix else None
    try:
        json.dumps(f.extra)
        d["extra"] = f.extra
    except (TypeError, ValueError):
        d["extra"] = {}
    return d


def finding_from_dict(d: dict) -> Finding:
    fix = None
    if d.get("fix"):
        fix = Fix(d["fix"]["description"], tuple(Edit(**e) for e in d["fix"]["edits"]))
    kw = {k: v for k, v in d.items() if k != "fix"}
    return Finding(fix=fix, **kw)


def _read_json(path: str):
    try:
        with open(path, encoding="utf-8") as fh:
            return json.load(fh)
    except (OSError, ValueError):
        return None


def _write_json(path: str, data) -> None:
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path), suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(data, fh)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def _ensure_gitignore(cache_root: str) -> None:
    gi = os.path.join(cache_root, ".gitignore")
    if not os.path.exists(gi):
        with open(gi, "w", encoding="utf-8") as fh:
            fh.write("# created by bnguard\n*\n")


def _prune(results_dir: str) -> None:
    entries = sorted((os.path.getmtime(os.path.join(results_dir, n)), n) for n in os.listdir(results_dir))
    for _, name in entries[:-MAX_RESULTS]:
        try:
            os.unlink(os.path.join(results_dir, name))
        except OSError:
            pass
