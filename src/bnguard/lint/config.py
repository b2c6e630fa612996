"""Configuration: ``[tool.bnguard]`` in ``pyproject.toml`` or a ``bnguard.toml``.

Found like ruff finds its configuration: walk up from the checked path to the file system root;
in each folder a ``bnguard.toml`` wins over a ``pyproject.toml``, and a ``pyproject.toml`` without a
``[tool.bnguard]`` table is passed over. Command-line flags win over the file. A bad file is a
one-line :class:`ConfigError` naming the file and the key.
"""
from __future__ import annotations

import os
import re
import sys
from dataclasses import dataclass, field
from typing import Any, Optional, Sequence

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

SEVERITIES = ("error", "warning", "info")
# A selector is ALL, or a prefix of a rule code: letters then digits (BN, BN1, BN301).
_SELECTOR = re.compile(r"^(ALL|[A-Z]+[0-9]*)$")
_LIST_KEYS = ("select", "ignore", "extend-select", "exclude", "extend-exclude")
KNOWN_KEYS = _LIST_KEYS + ("per-file-ignores", "severity")


class ConfigError(Exception):
    """A configuration file that cannot be used; the message names the file and the key."""


@dataclass
class Config:
    source: Optional[str] = None  # the file the settings came from (None: defaults)
    root: str = "."  # folder that relative patterns are matched against
    select: Optional[list[str]] = None
    ignore: list[str] = field(default_factory=list)
    extend_select: list[str] = field(default_factory=list)
    per_file_ignores: dict[str, list[str]] = field(default_factory=dict)
    exclude: list[str] = field(default_factory=list)
    extend_exclude: list[str] = field(default_factory=list)
    severity: dict[str, str] = field(default_factory=dict)


def find_config_file(start: str) -> Optional[str]:
    """The nearest ``bnguard.toml`` or ``pyproject.toml`` with ``[tool.bnguard]`` above ``start``."""
    d = os.path.abspath(start)
    if not os.path.isdir(d):
        d = os.path.dirname(d)
    while True:
        candidate = os.path.join(d, "bnguard.toml")
        if os.path.isfile(candidate):
            return candidate
        candidate = os.path.join(d, "pyproject.toml")
        if os.path.isfile(candidate) and _has_bnguard_table(candidate):
            return candidate
        parent = os.path.dirname(d)
        if parent == d:
            return None
        d = parent


def _has_bnguard_table(path: str) -> bool:
    # Cheap textual test first: most pyproject.toml files have no [tool.bnguard] at all.
    try:
        with open(path, encoding="utf-8", errors="replace") as fh:
            text = fh.read()
    except OSError:
        return False
    return "bnguard" in text and isinstance(_read_toml(path).get("tool", {}).get("bnguard"), dict)


def _read_toml(path: str) -> dict[str, Any]:
    try:
        with open(path, "rb") as fh:
            return tomllib.load(fh)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: invalid TOML: {exc}") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read configuration: {exc.strerror or exc}") from None


def load_config(path: str) -> Config:
    """Read and validate one configuration file."""
    data = _read_toml(path)
    if os.path.basename(path) == "pyproject.toml":
        table = data.get("tool", {}).get("bnguard", {})
        prefix = "tool.bnguard."
    else:  # bnguard.toml: top-level keys, or a [tool.bnguard] table
        table = data.get("tool", {}).get("bnguard", data) if "tool" in data else data
        prefix = ""
    if not isinstance(table, dict):
        raise ConfigError(f"{path}: '{prefix.rstrip('.') or 'tool.bnguard'}' must be a table")
    return parse_table(table, source=path, prefix=prefix)


def parse_table(table: dict[str, Any], *, source: str, prefix: str = "") -> Config:
    cfg = Config(source=source, root=os.path.dirname(os.path.abspath(source)))
    for key, value in table.items():
        where = f"{source}: '{prefix}{key}'"
        if key not in KNOWN_KEYS:
            hint = _closest(key)
            raise ConfigError(f"{where}: unknown key" + (f" (did you mean '{hint}'?)" if hint else "")
                              + f"; known keys: {', '.join(KNOWN_KEYS)}")
        if key in _LIST_KEYS:
            items = _string_list(value, where)
            if key in ("select", "ignore", "extend-select"):
                items = _selectors(items, where)
            setattr(cfg, key.replace("-", "_"), items)
        elif key == "per-file-ignores":
            if not isinstance(value, dict):
                raise ConfigError(f"{where}: must be a table of pattern = [codes]")
            cfg.per_file_ignores = {pat: _selectors(_string_list(codes, f"{where}.{pat!r}"), f"{where}.{pat!r}")
                                    for pat, codes in value.items()}
        elif key == "severity":
            if not isinstance(value, dict):
                raise ConfigError(f"{where}: must be a table of CODE = \"error\"|\"warning\"|\"info\"")
            for code, sev in value.items():
                _selectors([code], f"{where}.{code}")
                if sev not in SEVERITIES:
                    raise ConfigError(f"{where}.{code}: severity must be one of {', '.join(SEVERITIES)}, got {sev!r}")
            cfg.severity = {code.upper(): sev for code, sev in value.items()}
    return cfg


def _closest(key: str) -> Optional[str]:
    import difflib

    m = difflib.get_close_matches(key.replace("_", "-"), KNOWN_KEYS, n=1)
    return m[0] if m else None


def _string_list(value: Any, where: str) -> list[str]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ConfigError(f"{where}: must be a list of strings, got {value!r}")
    return list(value)


def _selectors(items: Sequence[str], where: str) -> list[str]:
    out = []
    for item in items:
        code = item.strip().upper()
        if not _SELECTOR.match(code):
            raise ConfigError(f"{where}: {item!r} is not a rule code or prefix (e.g. BN1, BN301, ALL)")
        out.append(code)
    return out


def resolve_config(paths: Sequence[str], explicit: Optional[str] = None, *, isolated: bool = False) -> Config:
    """The configuration for a run over ``paths`` (the first path decides, as in ruff)."""
    if isolated:
        return Config()
    if explicit:
        if not os.path.isfile(explicit):
            raise ConfigError(f"{explicit}: configuration file not found")
        return load_config(explicit)
    found = find_config_file(paths[0] if paths else ".")
    return load_config(found) if found else Config()


@dataclass
class Selection:
    """The effective rule selection after merging configuration and command line."""

    select: Optional[list[str]]
    ignore: list[str]


def merge_selection(cfg: Config, cli_select: Optional[list[str]], cli_ignore: Optional[list[str]],
                    cli_extend_select: Optional[list[str]] = None) -> Selection:
    """CLI wins: ``--select`` replaces the configured ``select``, and a configured ``ignore`` no
    longer hides a code the command line selected explicitly."""
    select = cli_select if cli_select else cfg.select
    ignore = list(cfg.ignore)
    if cli_select:
        ignore = [c for c in ignore if not any(s.startswith(c) for s in cli_select)]
    ignore += cli_ignore or []
    extend = list(cfg.extend_select) + list(cli_extend_select or [])
    if extend:
        select = list(select or ["BN"]) + extend
    return Selection(select=select, ignore=ignore)


def per_file_ignored(cfg: Config, path: str) -> list[str]:
    """Codes ignored for ``path`` by ``per-file-ignores`` (patterns relative to the config's folder)."""
    if not cfg.per_file_ignores:
        return []
    import pathspec

    rel = os.path.relpath(os.path.abspath(path), cfg.root).replace(os.sep, "/")
    name = os.path.basename(path)
    out: list[str] = []
    for pattern, codes in cfg.per_file_ignores.items():
        spec = pathspec.PathSpec.from_lines("gitwildmatch", [pattern])
        if spec.match_file(rel) or spec.match_file(name):
            out.extend(codes)
    return out


def severity_for(cfg: Config, code: str, default: str) -> str:
    """Longest configured prefix wins (``BN3 = "warning"`` then ``BN301 = "error"``)."""
    best, sev = -1, default
    for sel, value in cfg.severity.items():
        if (sel == "ALL" or code.startswith(sel)) and len(sel) > best:
            best, sev = len(sel), value
    return sev
