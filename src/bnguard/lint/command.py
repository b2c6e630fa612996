"""``bnguard check`` and ``bnguard rule``."""
from __future__ import annotations

import sys
from typing import NoReturn

import click


EXIT_OK, EXIT_FINDINGS, EXIT_ERROR = 0, 1, 2


def _split_codes(values: tuple[str, ...]) -> list[str] | None:
    out: list[str] = []
    for v in values:
        out.extend(c.strip().upper() for c in v.split(",") if c.strip())
    return out or None


def _fail(message: str) -> NoReturn:
    click.echo(f"bnguard: error: {message}", err=True)
    sys.exit(EXIT_ERROR)


@click.command()
@click.argument("paths", nargs=-1, type=click.Path())
@click.option("--format", "fmt", type=click.Choice(["text", "json", "sarif", "github", "junit"]), default="text",
              show_default=True, help="Output format.")
@click.option("--select", multiple=True, help="Rule codes or prefixes to enable (e.g. BN1, BN301). Comma-separated or repeated; replaces the configured selection.")
@click.option("--extend-select", multiple=True, help="Rule codes or prefixes to enable in addition to the selection.")
@click.option("--ignore", multiple=True, help="Rule codes or prefixes to disable.")
@click.option("--exclude", "extend_exclude", multiple=True, help="Extra gitignore-style patterns of paths to skip.")
@click.option("--config", "config_file", type=click.Path(dir_okay=False), help="Use this bnguard.toml/pyproject.toml instead of searching for one.")
@click.option("--isolated", is_flag=True, help="Ignore every configuration file.")
@click.option("--fix", is_flag=True, help="Apply the fixes whose right change is unambiguous, then report what is left.")
@click.option("--diff", is_flag=True, help="Print the fixes as a unified diff; change nothing.")
@click.option("--show-suppressed", is_flag=True, help="Also list findings silenced by noqa comments.")
@click.option("--no-cache", is_flag=True, help="Do not read or write the result cache.")
@click.option("--cache-dir", type=click.Path(file_okay=False), help="Cache folder (default: .bnguard_cache next to the configuration, else here).")
@click.option("--jobs", "-j", type=click.IntRange(min=0), default=0, show_default=True, help="Worker processes (0: one per CPU).")
@click.option("--no-prefilter", is_flag=True, hidden=True, help="Parse every file (for testing the pre-filter).")
def check(paths, fmt, select, extend_select, ignore, extend_exclude, config_file, isolated, fix, diff,
          show_suppressed, no_cache, cache_dir, jobs, no_prefilter):
    """Check Python files and notebooks for batch-normalization training-mode bugs."""
    from bnguard.lint.cache import default_cache_dir
    from bnguard.lint.config import ConfigError, merge_selection, resolve_config
    from bnguard.lint.formats import render, text_parts
    from bnguard.lint.runner import CheckOptions, check_paths

    paths = list(paths) or ["."]
    try:
        cfg = resolve_config(paths, config_file, isolated=isolated)
        selection = merge_selection(cfg, _split_codes(select), _split_codes(ignore), _split_codes(extend_select))
        _check_selectors(selection.select or [], "--select")
        _check_selectors(selection.ignore, "--ignore")
    except ConfigError as exc:
        _fail(str(exc))
    cache = None if no_cache or fix or diff else (cache_dir or default_cache_dir(cfg.root if cfg.source else None))
    opts = CheckOptions(select=selection.select, ignore=selection.ignore, exclude=list(extend_exclude), config=cfg, retain=True,
                        prefilter=not no_prefilter, cache_dir=cache, jobs=jobs)
    result = check_paths(paths, opts)

    if fix or diff:
        code = _fix(paths, opts, result, write=fix and not diff)
        if diff:
            sys.exit(code)
        result = check_paths(paths, opts)

    findings = result.findings
    if fmt == "text":
        lines, error_lines, summary = text_parts(findings, result.errors, result.files_checked, show_suppressed)
        for line in lines:
            click.echo(line)
        for line in error_lines:
            click.echo(line, err=True)
        click.echo(summary)
    else:
        output = render(fmt, findings, result.errors, result.files_checked, show_suppressed)
        if output:
            click.echo(output)
    reported = [f for f in findings if not f.suppressed]
    if reported:
        sys.exit(EXIT_FINDINGS)
    sys.exit(EXIT_ERROR if any(e.fatal for e in result.errors) else EXIT_OK)


def _check_selectors(codes, option: str) -> None:
    from bnguard.lint.config import ConfigError, _SELECTOR

    for c in codes:
        if not _SELECTOR.match(c):
            raise ConfigError(f"{option}: {c!r} is not a rule code or prefix (e.g. BN1, BN301, ALL)")


def _fix(paths, opts, result, *, write: bool) -> int:
    """Apply (or, with ``write=False``, show) fixes, re-checking until nothing more applies."""
    from bnguard.lint.fix import plan_fixes, write as write_file
    from bnguard.lint.runner import check_paths

    total, changed_any = 0, False
    said: set[tuple[str, str]] = set()  # each refusal once, not once per round
    for _round in range(5):  # overlapping fixes wait for the next round
        plans = [p for p in plan_fixes(result.findings) if p.changed or p.error]
        for p in plans:
            if p.error and (p.path, p.error) not in said:
                said.add((p.path, p.error))
                click.echo(f"{p.path}: error: fix not applied: {p.error}", err=True)
        plans = [p for p in plans if p.changed]
        if not plans:
            break
        changed_any = True
        if not write:
            for p in plans:
                click.echo(p.diff(), nl=False)
            total += sum(len(p.applied) for p in plans)
            break
        for p in plans:
            write_file(p)
            total += len(p.applied)
        result = check_paths(paths, opts)
    if write and total:
        click.echo(f"Fixed {total} problem{'s' if total != 1 else ''}.", err=True)
    if not write:
        click.echo(f"Would fix {total} problem{'s' if total != 1 else ''}.", err=True)
        return EXIT_FINDINGS if changed_any else EXIT_OK
    return EXIT_OK


@click.command()
@click.argument("code", required=False)
@click.option("--all", "show_all", is_flag=True, help="List every rule.")
def rule(code, show_all):
    """Print the documentation of a rule (or list all rules)."""
    from bnguard.lint.rules.base import all_rules

    rules = all_rules()
    if show_all or not code:
        for r in rules.values():
            off = "" if r.default_enabled else "  (off by default)"
            click.echo(f"{r.code}  {r.framework:<10}  {r.name}: {r.summary}{off}")
        return
    r = rules.get(code.upper())
    if r is None:
        click.echo(f"bnguard: error: unknown rule code {code!r} (see 'bnguard rule --all')", err=True)
        sys.exit(2)
    if r.doc is None:
        click.echo(f"{r.code} {r.name}: {r.summary}")
    else:
        click.echo(r.doc.render(r))
