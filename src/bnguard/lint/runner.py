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

    jobs = _jobs(opts.jobs)
    replicas = min(jobs, len(rule_families(rules)))
    project = None
    if replicas > 1 and len(to_parse) >= PARALLEL_MIN_MODULES and "fork" in multiprocessing.get_all_start_methods():
        # Large tree: worker processes each parse the project and share out the rule families;
        # this process syntax-checks the skipped files meanwhile.
        pending = _start_replicas(files, units, to_parse, skipped, rules, opts, replicas)
        skipped_errors = {err.path: err for err in syntax_errors(skipped, units)}
        modules, parse_errors, lint = _finish_replicas(pending, files, rules, opts.prefilter)
    else:
        pool = None
        syntax_futures = []
        if skipped and jobs > 1 and len(skipped) >= PARALLEL_MIN_FILES:
            pool = ProcessPoolExecutor(max_workers=jobs)
            for chunk in _chunks(skipped, jobs * 4):
                syntax_futures.append(pool.submit(syntax_errors, chunk))
        parse_errors, modules = _parse_project(to_parse, skipped, units, opts.prefilter)
        parsed = set(modules) | set(parse_errors)
        project = Project([modules[p] for p in files if p in modules])
        lint = _run_rules(project, rules, opts.prefilter)
        skipped_errors = {}
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
    parsed = set(modules) | set(parse_errors)

    errors: list[FileError] = []
    for p in files:  # one error list, in file order, whatever took which path
        if p in units:
            errors.extend(units[p].problems)
        err = load_errors.get(p) or parse_errors.get(p) or (None if p in modules else skipped_errors.get(p))
        if err is not None:
            errors.append(err)
    result = CheckResult(findings=lint.findings, errors=errors + lint.errors, units={p: units[p] for p in modules},
                         files_parsed=len(parsed))
    if opts.retain and project is not None:
        RETAINED.append((modules, project))
        gc.freeze()  # the retained objects are never scanned by a later collection
    return result


# Parsed modules and projects kept alive on request (CheckOptions.retain); ``bnguard.cli.main``
# then ends the process without tearing them down.
RETAINED: list = []


_FORK_STATE: Optional[tuple] = None  # inherited by forked rule workers (see _start_replicas)


def rule_families(rules) -> list[list[int]]:
    """Indexes of ``rules`` grouped by family (the code's first three characters: BN1 TF1, BN2
    Keras, BN3 PyTorch, BN4 Flax, BN5 momentum), in first-appearance order. The rules of a family
    share the project-wide facts they memoise; different families mostly do not."""
    groups: dict[str, list[int]] = {}
    for i, rule in enumerate(rules):
        groups.setdefault(rule.code[:3], []).append(i)
    return list(groups.values())


def _parse_project(to_parse: list[str], skipped: list[str], units, closure: bool) -> tuple[dict, dict]:
    """Parse the relevant files (and, with the pre-filter, the skipped files that share a name with
    them): (parse errors by path, parsed modules by path)."""
    parse_errors: dict[str, FileError] = {}
    modules: dict = {}
    _parse_into(to_parse, units, modules, parse_errors)
    if skipped and closure:
        _close_over_names(modules, units, skipped, parse_errors)
    return parse_errors, modules


def _run_rules(project: Project, rules, gate: bool) -> LintResult:
    """Run the rules over every module of the project in this process."""
    result = LintResult(files_checked=len(project.modules))
    for mod in project.modules:
        findings, errors = check_module(mod, project, rules, gate)
        result.findings.extend(findings)
        result.errors.extend(errors)
    result.findings.sort(key=Finding.sort_key)
    return result


def _start_replicas(files, units, to_parse, skipped, rules, opts: CheckOptions, replicas: int):
    """Fork ``replicas`` workers that each parse the project and run a share of the rules.

    Why every worker parses: the rules' cost is mostly project-wide facts (the TF1 train context,
    the Keras BN builders, the PyTorch mode roots) computed over every module, and a syntax tree
    cannot be handed between processes cheaply. Forking after parsing shares the trees
    copy-on-write, but CPython writes a reference count into every object it touches, so each
    worker copied most of the parsed project page by page: two workers took as long as one
    (measured on 5,700 framework files: 35 s against 37 s, 16 s of it in the kernel). Parsing in
    each worker costs CPU, not wall time, on a machine with a core per worker.

    The work is shared by rule family first and by modules second: each worker starts at a
    different family and, when that family's chunks are all taken (a shared counter per family),
    moves on to the next, so two workers compute at most one family's facts twice; a worker does not
    join a family another worker has already taken more than half of (its facts would be computed a
    second time for the few chunks left)."""
    global _FORK_STATE
    ctx = multiprocessing.get_context("fork")
    families = rule_families(rules)
    counters = ctx.Array("i", len(families))  # next chunk of each family (with its own lock)
    _FORK_STATE = (files, units, to_parse, skipped, rules, opts.prefilter, families, counters, replicas)
    try:
        pool = ctx.Pool(replicas)
        return pool, pool.map_async(_replica, range(replicas))
    finally:
        _FORK_STATE = None  # the children hold their own copy


def _finish_replicas(pending, files, rules, gate: bool) -> tuple[dict, dict, LintResult]:
    """Collect the workers' results: (parsed paths, parse errors by path, lint result). Findings and
    errors are put together per module in module order and rule order, as one process gives them."""
    pool, async_result = pending
    try:
        outs = async_result.get()
    finally:
        pool.close()
        pool.join()
    parsed_paths, parse_errors = outs[0][1], outs[0][2]
    parts: dict = {}
    for out in outs:
        parts.update(out[0])
    families = rule_families(rules)
    result = LintResult(files_checked=len(parsed_paths))
    for i in range(len(parsed_paths)):
        for fam in families:
            for r in fam:
                findings, errors = parts.get((i, r), ((), ()))
                result.findings.extend(findings)
                result.errors.extend(errors)
    result.findings.sort(key=Finding.sort_key)
    return dict.fromkeys(parsed_paths), parse_errors, result


_WORKER_KEEP: list = []


def _replica(worker: int) -> tuple[dict, list[str], dict]:
    """Worker: parse the project, then take chunks of modules family by family, starting at this
    worker's own family. Returns ({(module index, rule index): (findings, errors)} for the pairs
    that found something, the parsed paths in project order, the parse errors)."""
    files, units, to_parse, skipped, rules, gate, families, counters, replicas = _FORK_STATE
    gc.disable()
    parse_errors, modules = _parse_project(to_parse, skipped, units, gate)
    paths = [p for p in files if p in modules]
    project = Project([modules[p] for p in paths])
    n_chunks = (len(paths) + RULE_CHUNK - 1) // RULE_CHUNK
    start = worker * len(families) // replicas
    out: dict = {}
    for k in range(len(families)):
        fam = (start + k) % len(families)
        fam_rules = [rules[r] for r in families[fam]]
        joining = k > 0
        while True:
            with counters.get_lock():
                chunk = counters[fam]
                # Joining a family another worker is past the middle of would compute its
                # project-wide facts a second time for the few chunks left: leave them to it.
                if chunk >= n_chunks or (joining and chunk > n_chunks // 2):
                    break
                counters[fam] = chunk + 1
            joining = False
            for i in range(chunk * RULE_CHUNK, min((chunk + 1) * RULE_CHUNK, len(paths))):
                mod = project.modules[i]
                for r, rule in zip(families[fam], fam_rules):
                    findings, errors = check_module(mod, project, [rule], gate)
                    if findings or errors:
                        for f in findings:
                            try:
                                pickle.dumps(f.extra)
                            except Exception:  # noqa: BLE001 - extras are free-form; drop what cannot travel
                                f.extra = {}
                        out[(i, r)] = (findings, errors)
    # The parse results travel once. The trees stay referenced until the worker exits: freeing a
    # large project object by object would hold up the join by seconds.
    _WORKER_KEEP.append((modules, project))
    return out, (paths if worker == 0 else []), (parse_errors if worker == 0 else {})


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
