"""The lint engine: discover files, load and parse each once, build the project, run the rules.

Files that cannot be analysed become entries in ``errors``; the run continues. Nothing here
imports a deep-learning framework.
"""
from __future__ import annotations

import os
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Optional, Sequence

from bnguard.lint.finding import FileError, Finding
from bnguard.lint.project import Module, Project
from bnguard.lint.source import SourceUnit

# Folders never descended into (besides hidden ones and what .gitignore excludes).
SKIP_DIRS = {"site-packages", "dist-packages", "build", "dist", "node_modules", "__pycache__",
             "venv", "env", ".venv", ".env", ".tox", ".nox", ".git", ".hg", ".svn"}
MAX_FILE_BYTES = 20 * 1024 * 1024  # larger .py files are reported, not parsed
MAX_NOTEBOOK_BYTES = 512 * 1024 * 1024  # notebooks carry outputs (images, logs) of many MB


@dataclass
class LintResult:
    findings: list[Finding] = field(default_factory=list)
    errors: list[FileError] = field(default_factory=list)
    files_checked: int = 0


def _is_venv(d: Path) -> bool:
    return (d / "pyvenv.cfg").is_file()


def discover(paths: Sequence[str], *, exclude: Iterable[str] = ()) -> tuple[list[str], list[FileError]]:
    """Expand the paths into the ``.py``/``.ipynb`` files to check, in a stable order."""
    import pathspec

    files: list[str] = []
    errors: list[FileError] = []
    seen: set[str] = set()
    excl = pathspec.PathSpec.from_lines("gitwildmatch", list(exclude)) if exclude else None

    def add(p: str) -> None:
        rp = os.path.realpath(p)
        if rp not in seen:
            seen.add(rp)
            try:
                st = os.stat(p)
                empty = stat.S_ISREG(st.st_mode) and st.st_size == 0
            except OSError:
                empty = False  # unreadable or not a regular file: load_source reports it
            if empty and os.path.basename(p) != "__init__.py":
                # An empty __init__.py is normal; an empty train.py is worth a word, not a failure.
                errors.append(FileError(p, "empty file: nothing to analyse", fatal=False))
                return
            files.append(p)

    for root in paths:
        if not os.path.exists(root):
            if os.path.islink(root):
                errors.append(FileError(root, "broken symbolic link"))
            else:
                errors.append(FileError(root, "no such file or directory"))
            continue
        if os.path.isfile(root):
            add(root)  # an explicitly named file is always checked
            continue
        visited_dirs: set[str] = set()
        root_real = os.path.realpath(root)
        ignore_stack: list[tuple[str, object]] = []
        for dirpath, dirnames, filenames in os.walk(root, followlinks=True, onerror=lambda e: errors.append(FileError(getattr(e, "filename", root) or root, f"cannot read directory: {e.strerror}"))):
            real = os.path.realpath(dirpath)
            if real in visited_dirs:  # symlink loop
                errors.append(FileError(dirpath, "symbolic link loop: directory already visited"))
                dirnames[:] = []
                continue
            visited_dirs.add(real)
            gi = os.path.join(dirpath, ".gitignore")
            if os.path.isfile(gi):
                try:
                    with open(gi, encoding="utf-8", errors="replace") as fh:
                        ignore_stack.append((dirpath, pathspec.PathSpec.from_lines("gitwildmatch", fh)))
                except OSError:
                    pass
            specs = [(d, s) for d, s in ignore_stack if dirpath == d or dirpath.startswith(d.rstrip(os.sep) + os.sep)]

            def ignored(name: str, is_dir: bool) -> bool:
                full = os.path.join(dirpath, name)
                for d, s in specs:
                    rel = os.path.relpath(full, d).replace(os.sep, "/")
                    if s.match_file(rel + ("/" if is_dir else "")):
                        return True
                if excl is not None:
                    rel = os.path.relpath(full, root).replace(os.sep, "/")
                    if excl.match_file(rel + ("/" if is_dir else "")) or excl.match_file(name):
                        return True
                return False

            dirnames[:] = sorted(
                d for d in dirnames
                if not d.startswith(".") and d not in SKIP_DIRS and not d.endswith(".egg-info")
                and not _is_venv(Path(dirpath, d)) and not ignored(d, True)
                and not _symlinked_alias(os.path.join(dirpath, d), real, root_real, errors)
            )
            for fn in sorted(filenames):
                if fn.endswith((".py", ".ipynb")) and not fn.startswith(".") and not ignored(fn, False):
                    add(os.path.join(dirpath, fn))
    return files, errors


def _symlinked_alias(path: str, parent_real: str, root_real: str, errors: list[FileError]) -> bool:
    """Is ``path`` a symbolic link to a directory inside the tree being walked? Such an alias
    (``notebooks/config -> ../config``) is not followed: its files are checked once, under their
    real location. A link to the directory itself or one above it is a loop, and reported."""
    if not os.path.islink(path):
        return False
    target = os.path.realpath(path)
    if parent_real == target or parent_real.startswith(target.rstrip(os.sep) + os.sep):
        errors.append(FileError(path, "symbolic link loop: directory already visited"))
        return True
    return target == root_real or target.startswith(root_real.rstrip(os.sep) + os.sep)


def load_source(path: str) -> SourceUnit | FileError:
    """Read a file into a SourceUnit, or describe in one line why it cannot be analysed."""
    try:
        st = os.stat(path)
        if not stat.S_ISREG(st.st_mode):
            # a FIFO or device named *.py would block or never end
            return FileError(path, "not a regular file")
        size = st.st_size
        limit = MAX_NOTEBOOK_BYTES if path.endswith(".ipynb") else MAX_FILE_BYTES
        if size > limit:
            return FileError(path, f"file too large to analyse ({size // (1024 * 1024)} MB > {limit // (1024 * 1024)} MB)")
        with open(path, "rb") as fh:
            data = fh.read()
    except PermissionError:
        return FileError(path, "permission denied")
    except IsADirectoryError:
        return FileError(path, "is a directory")
    except OSError as exc:
        return FileError(path, f"cannot read file: {exc.strerror or exc}")
    if path.endswith(".ipynb"):
        from bnguard.lint.notebook import notebook_unit

        return notebook_unit(path, data)
    if b"\x00" in data:
        return FileError(path, "binary file, not Python source")
    try:
        import io
        import tokenize

        encoding, _ = tokenize.detect_encoding(io.BytesIO(data).readline)
        text = data.decode(encoding)
    except (SyntaxError, LookupError, UnicodeDecodeError) as exc:
        return FileError(path, f"cannot decode file: {exc}")
    if text.startswith("\ufeff"):
        text = text[1:]
    return SourceUnit(path=path, text=text)


def parse_unit(unit: SourceUnit) -> Module | FileError:
    try:
        tree = unit.parse()
    except SyntaxError as exc:
        if not unit.is_notebook and len(unit.text) < 2_000_000:
            from bnguard.lint.py2 import translate

            text3 = translate(unit.text)  # a Python 2 file: same lines, Python 3 syntax
            if text3 is not None:
                unit.original_text = unit.original_text or unit.text
                unit.text = text3
                try:
                    return Module(unit, unit.parse())
                except (SyntaxError, ValueError, RecursionError, MemoryError):
                    unit.text = unit.original_text
        line = exc.lineno or 0
        cell, cline = unit.locate(line) if line else (None, 0)
        where = f"cell {cell + 1}, line {cline}" if cell is not None else f"line {line}"
        return FileError(unit.path, f"syntax error at {where}: {exc.msg}", line=cline or None)
    except (ValueError, RecursionError, MemoryError) as exc:
        return FileError(unit.path, f"cannot parse file: {type(exc).__name__}: {exc}")
    try:
        return Module(unit, tree)
    except RecursionError:
        return FileError(unit.path, "cannot analyse file: nesting too deep")


def lint_paths(paths: Sequence[str], *, select: Optional[Sequence[str]] = None,
               ignore: Optional[Sequence[str]] = None, exclude: Iterable[str] = ()) -> LintResult:
    files, errors = discover(paths, exclude=exclude)
    modules: list[Module] = []
    for f in files:
        unit = load_source(f)
        if isinstance(unit, FileError):
            errors.append(unit)
            continue
        mod = parse_unit(unit)
        if isinstance(mod, FileError):
            errors.append(mod)
            continue
        modules.append(mod)
    result = lint_modules(modules, select=select, ignore=ignore)
    result.errors = errors + result.errors
    result.files_checked = len(files)
    return result


def rule_enabled(code: str, default_enabled: bool, select: Optional[Sequence[str]], ignore: Optional[Sequence[str]]) -> bool:
    """ruff-style selection by code or prefix; the longest matching selector wins.

    Rules that are off by default (low confidence) are enabled only by ``ALL``, their exact code or a
    prefix of at least four characters (``BN30``): ``--select BN`` keeps them off.
    """
    def longest(selectors) -> int:
        return max((len(c) for c in selectors or () if c == "ALL" or code.startswith(c)), default=-1)

    sel, ign = longest(select), longest(ignore)
    if not select:
        sel = 0 if default_enabled else -1
    elif not default_enabled and sel != -1 and sel < 4 and "ALL" not in select:
        sel = -1
    return sel >= 0 and sel > ign


def lint_modules(modules: Sequence[Module], *, select=None, ignore=None, gate_by_triggers: bool = False) -> LintResult:
    """Run the enabled rules on every module. With ``gate_by_triggers`` a rule only checks modules
    whose text contains one of its ``triggers`` (the pre-filter's contract; rules without triggers
    check every module)."""
    project = Project(list(modules))
    rules = enabled_rules(select, ignore)
    result = LintResult(files_checked=len(modules))
    for mod in project.modules:
        findings, errors = check_module(mod, project, rules, gate_by_triggers)
        result.findings.extend(findings)
        result.errors.extend(errors)
    result.findings.sort(key=Finding.sort_key)
    return result


def enabled_rules(select=None, ignore=None) -> list:
    from bnguard.lint.rules.base import all_rules

    return [r for r in all_rules().values() if rule_enabled(r.code, r.default_enabled, select, ignore)]


def check_module(mod: Module, project: Project, rules, gate_by_triggers: bool = False) -> tuple[list[Finding], list[FileError]]:
    """Run ``rules`` on one module of ``project``; a failing rule becomes an error entry."""
    findings: list[Finding] = []
    errors: list[FileError] = []
    for rule in rules:
        if gate_by_triggers and rule.triggers and not any(t in mod.unit.text for t in rule.triggers):
            continue
        try:
            findings.extend(rule.check(mod, project))
        except RecursionError:
            errors.append(FileError(mod.path, f"{rule.code}: analysis gave up (nesting too deep)"))
        except Exception as exc:  # noqa: BLE001 - a rule bug must not end the run with a traceback
            errors.append(FileError(
                mod.path, f"{rule.code}: internal error while analysing ({type(exc).__name__}: {exc}); "
                "please report it"))
    return findings, errors
