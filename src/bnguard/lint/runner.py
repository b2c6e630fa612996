"""``bnguard check`` end to end: configuration, discovery, cache, pre-filter, workers, rules,
suppressions, per-file ignores and severities.

The engine (``engine.py``) knows how to discover, load, parse and run rules over a project; this
module decides *which* files need parsing and reuses previous results:

* the **cache** maps (bnguard version, rule sources, selection, every file's content hash) to the
  full result, so an unchanged tree re-checks without reading a file (a stat memo maps
  (size, mtime) to the content hash);
* the **pre-filter** (``prefilter.py``) parses only files that can report or provide a fact;
* **workers**: files the pre-filter skips are still syntax-checked — in worker processes while the
  main process parses and analyses the relevant files, so skipped files cost no wall time on a
  two-core machine.

Every one of these is an optimisation only: results are identical with each of them on or off
(tests compare the whole fixture corpus).
"""
from __future__ import annotations

import gc
import multiprocessing
import os
import sys
import pickle
import symtable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from typing import Optional, Sequence

from bnguard.lint import prefilter, suppress
from bnguard.lint.config import Config, per_file_ignored, severity_for
from bnguard.lint.engine import LintResult, check_module, discover, enabled_rules, load_source, parse_unit
from bnguard.lint.finding import FileError, Finding
from bnguard.lint.project import Project
from bnguard.lint.source import SourceUnit

# Below this many skipped files, syntax-checking them inline is cheaper than starting workers.
PARALLEL_MIN_FILES = 200
# Below this many parsed modules, running the rules in one process is cheaper than forking workers.
PARALLEL_MIN_MODULES = 64
RULE_CHUNK = 4  # modules per task: rule costs vary a lot between modules, so hand them out in small bits


@dataclass
class CheckOptions:
    select: Optional[list[str]] = None
    ignore: Optional[list[str]] = None
    exclude: list[str] = field(default_factory=list)
    config: Config = field(default_factory=Config)
    prefilter: bool = True
    cache_dir: Optional[str] = None  # None: no cache
    jobs: int = 0  # 0: one per CPU (at most 8); 1: no worker processes
    # Keep the parsed trees alive after the check (the command line exits right after printing:
    # freeing a large tree's million objects one by one would cost a fifth of the run).
    retain: bool = False


@dataclass
class CheckResult(LintResult):
    units: dict[str, SourceUnit] = field(default_factory=dict)  # parsed units by path (for --fix)
    from_cache: bool = False
    files_parsed: int = 0

    @property
    def reported(self) -> list[Finding]:
        return [f for f in self.findings if not f.suppressed]

    @property
    def suppressed(self) -> list[Finding]:
        return [f for f in self.findings if f.suppressed]


def check_paths(paths: Sequence[str], options: Optional[CheckOptions] = None) -> CheckResult:
    opts = options or CheckOptions()
    cfg = opts.config
    files, discover_errors = discover(list(paths) or ["."], exclude=list(cfg.exclude) + list(cfg.extend_exclude) + list(opts.exclude))
    rules = enabled_rules(opts.select, opts.ignore)
    cache = None
    if opts.cache_dir:
        from bnguard.lint.cache import ResultCache

        cache = ResultCache(opts.cache_dir, rules=rules, settings=_settings_key(opts))
        hit = cache.lookup_by_stat(files)
        if hit is not None:
            return _from_cached(hit, discover_errors, len(files))
    gc_was_enabled = gc.isenabled()
    gc.disable()  # ASTs hold no reference cycles; the collector only slows parsing down (5x)
    try:
        result = _analyse(files, rules, opts, cache)
    finally:
        if gc_was_enabled:
            gc.enable()
    if not result.from_cache:
        _post_process(result, cfg)
        if cache is not None:
            cache.store(result, files, result.errors)
    result.errors = discover_errors + result.errors
    result.files_checked = len(files)
    return result


def _settings_key(opts: CheckOptions) -> dict:
    cfg = opts.config
    return {"select": opts.select, "ignore": opts.ignore, "per_file_ignores": cfg.per_file_ignores,
            "severity": cfg.severity, "root": cfg.root, "cwd": os.getcwd()}


def _analyse(files: list[str], rules, opts: CheckOptions, cache) -> CheckResult:
    units: dict[str, SourceUnit] = {}
    load_errors: dict[str, FileError] = {}
    hashes: dict[str, str] = {}
    for path in files:
        unit = load_source(path)
        if cache is not None:
            hashes[path] = cache.hash_file(path)
        if isinstance(unit, FileError):
            load_errors[path] = unit
        else:
            units[path] = unit
    if cache is not None:
        hit = cache.lookup_by_hashes(hashes)
        if hit is not None:
            return _from_cached(hit, [], len(files))

    words = prefilter.relevance_words(rules) if opts.prefilter else None
    to_parse = [p for p in files if p in units and prefilter.is_relevant(units[p].text, words)]
    skipped = [p for p in files if p in units and p not in set(to_parse)]

    pool = None
    syntax_futures = []
    jobs = _jobs(opts.jobs)
    if skipped and jobs > 1 and len(skipped) >= PARALLEL_MIN_FILES:
        pool = ProcessPoolExecutor(max_workers=jobs)
        for chunk in _chunks(skipped, jobs * 4):
            syntax_futures.append(pool.submit(syntax_errors, chunk))

    parse_errors: dict[str, FileError] = {}
    modules = {}
    _parse_into(to_parse, units, modules, parse_errors)
    if skipped and opts.prefilter:
        _close_over_names(modules, units, skipped, parse_errors)
    parsed = set(modules) | set(parse_errors)

    lint, project = _run_rules([modules[p] for p in files if p in modules], opts, jobs)

    skipped_errors: dict[str, FileError] = {}
    if pool is not None:
        try:
            for fut in syntax_futures:
                for err in fut.result():
                    skipped_errors[err.path] = err
        finally:
            pool.shutdown()
    else:
        for err in syntax_errors([p for p in skipped if p not in parsed], units):
            skipped_errors[err.path] = err

    errors: list[FileError] = []
    for p in files:  # one error list, in file order, whatever took which path
        if p in units:
            errors.extend(units[p].problems)
        err = load_errors.get(p) or parse_errors.get(p) or (None if p in modules else skipped_errors.get(p))
        if err is not None:
            errors.append(err)
    result = CheckResult(findings=lint.findings, errors=errors + lint.errors, units={p: units[p] for p in modules},
                         files_parsed=len(parsed))
    if opts.retain:
        RETAINED.append((modules, project))
        gc.freeze()  # the retained objects are never scanned by a later collection
    return result


# Parsed modules and projects kept alive on request (CheckOptions.retain); ``bnguard.cli.main``
# then ends the process without tearing them down.
RETAINED: list = []


_FORK_STATE: Optional[tuple] = None  # (project, rules, gate) inherited by forked rule workers


def _run_rules(module_list, opts: CheckOptions, jobs: int) -> tuple[LintResult, Project]:
    """Run the rules over the project, in ``jobs`` forked workers for large trees.

    Workers are forked *after* parsing, so each inherits the parsed project (no AST crosses a
    process boundary) and runs the rules on a share of the modules; findings come back per module
    and are put together in module order, exactly as one process would produce them. The rules run
    once on the first module in this process before forking, so project-wide facts that rules
    memoise (``project.fact``) are computed once and inherited rather than recomputed per worker.
    """
    global _FORK_STATE
    project = Project(list(module_list))
    rules = enabled_rules(opts.select, opts.ignore)
    gate = opts.prefilter
    n = len(project.modules)
    per_module: list = [None] * n
    if jobs > 1 and n >= PARALLEL_MIN_MODULES and "fork" in multiprocessing.get_all_start_methods():
        per_module[0] = check_module(project.modules[0], project, rules, gate)
        _FORK_STATE = (project, rules, gate)
        try:
            with multiprocessing.get_context("fork").Pool(jobs) as pool:
                chunks = [list(range(i, min(i + RULE_CHUNK, n))) for i in range(1, n, RULE_CHUNK)]
                for part in pool.imap_unordered(_check_chunk, chunks):
                    for idx, res in part:
                        per_module[idx] = res
        finally:
            _FORK_STATE = None
    for i, mod in enumerate(project.modules):
        if per_module[i] is None:
            per_module[i] = check_module(mod, project, rules, gate)
    result = LintResult(files_checked=n)
    for findings, errors in per_module:
        result.findings.extend(findings)
        result.errors.extend(errors)
    result.findings.sort(key=Finding.sort_key)
    return result, project


def _check_chunk(indices: list[int]) -> list:
    """Worker: run the rules on some modules of the inherited project."""
    project, rules, gate = _FORK_STATE
    out = []
    for i in indices:
        findings, errors = check_module(project.modules[i], project, rules, gate)
        for f in findings:
            try:
                pickle.dumps(f.extra)
            except Exception:  # noqa: BLE001 - extras are free-form; drop what cannot travel
                f.extra = {}
        out.append((i, (findings, errors)))
    return out


def _parse_into(paths, units, modules, parse_errors) -> None:
    for p in paths:
        mod = parse_unit(units[p])
        if isinstance(mod, FileError):
            parse_errors[p] = mod
        else:
            modules[p] = mod


def _close_over_names(modules, units, skipped: list[str], parse_errors) -> None:
    """Parse the skipped files that mention a name defined by a parsed file, or define a name a
    parsed file imports, until nothing new turns up."""
    remaining = list(skipped)
    new = list(modules.values())
    word_sets: dict[str, set[str]] = {}

    def words_of(path: str) -> set[str]:  # each skipped file tokenised once, not searched per name
        ws = word_sets.get(path)
        if ws is None:
            ws = word_sets[path] = prefilter.word_set(units[path].text)
        return ws
    seen_defined: set[str] = set()
    seen_imported: set[str] = set()
    while new and remaining:
        defined: set[str] = set()
        imported: set[str] = set()
        for m in new:
            d, i = prefilter.names_of(m)
            defined |= d
            imported |= i
        defined -= seen_defined
        imported -= seen_imported
        seen_defined |= defined
        seen_imported |= imported
        if not defined and not imported:
            break
        wanted = defined | imported
        hits = [p for p in remaining
                if _stem(p) in imported or not wanted.isdisjoint(words_of(p))]
        if not hits:
            break
        hit_set = set(hits)
        remaining = [p for p in remaining if p not in hit_set]
        before = set(modules)
        _parse_into(hits, units, modules, parse_errors)
        new = [modules[p] for p in hits if p in modules and p not in before]


def _stem(path: str) -> str:
    base = os.path.basename(path)
    stem = base.rsplit(".", 1)[0]
    return os.path.basename(os.path.dirname(path)) if stem == "__init__" else stem


def syntax_errors(paths: list[str], units: Optional[dict] = None) -> list[FileError]:
    """Errors of files that are not analysed (worker entry point): the same message ``parse_unit``
    would give, without building the module index."""
    gc.disable()
    out = []
    for p in paths:
        unit = units[p] if units is not None else load_source(p)
        if isinstance(unit, FileError):
            out.append(unit)
            continue
        try:
            # The symbol-table pass runs CPython's parser without building Python AST objects: half
            # the cost of ast.parse. It also rejects a few programs ast.parse accepts (``global x``
            # after using ``x``), so any complaint is settled by the path an analysed file takes.
            symtable.symtable(unit.text, p, "exec")
        except Exception:  # noqa: BLE001 - SyntaxError, ValueError, RecursionError, MemoryError ...
            err = parse_unit(unit)
            if isinstance(err, FileError):
                out.append(err)
    return out


def _chunks(items: list[str], n: int) -> list[list[str]]:
    n = max(1, min(n, len(items)))
    return [items[i::n] for i in range(n)]


# Frameworks that start threads at import: forking a process that holds them can deadlock the child.
_THREADED_FRAMEWORKS = ("jax", "tensorflow", "torch")


def _jobs(requested: int) -> int:
    if any(m in sys.modules for m in _THREADED_FRAMEWORKS):
        # Linting from inside a framework process (a notebook, a test suite): stay in one process.
        # Results do not depend on the number of workers.
        return 1
    if requested and requested > 0:
        return requested
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        cpus = os.cpu_count() or 1
    return max(1, min(cpus, 8))


def _post_process(result: CheckResult, cfg: Config) -> None:
    """Per-file ignores, severity overrides and suppression comments (after the cache, so they are
    part of what is cached too)."""
    if cfg.per_file_ignores:
        ignored_cache: dict[str, list[str]] = {}
        kept = []
        for f in result.findings:
            codes = ignored_cache.setdefault(f.path, per_file_ignored(cfg, f.path))
            if not any(f.code.startswith(c) or c == "ALL" for c in codes):
                kept.append(f)
        result.findings = kept
    if cfg.severity:
        for f in result.findings:
            f.severity = severity_for(cfg, f.code, f.severity)
    by_path: dict[str, list[Finding]] = {}
    for f in result.findings:
        by_path.setdefault(f.path, []).append(f)
    for path, findings in by_path.items():
        unit = result.units.get(path)
        if unit is not None:
            suppress.apply(findings, unit)


def _from_cached(data: dict, discover_errors: list[FileError], n_files: int) -> CheckResult:
    from bnguard.lint.cache import finding_from_dict

    result = CheckResult(from_cache=True)
    result.findings = [finding_from_dict(d) for d in data["findings"]]
    result.errors = discover_errors + [FileError(e["path"], e["message"], e.get("line")) for e in data["errors"]]
    result.files_checked = n_files
    return result
