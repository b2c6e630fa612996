"""``bnguard check`` and ``bnguard rule``."""
from __future__ import annotations

import json
import sys

import click

from bnguard import __version__

FORMATS = ["text", "json"]


def _split_codes(values: tuple[str, ...]) -> list[str] | None:
    out: list[str] = []
    for v in values:
        out.extend(c.strip().upper() for c in v.split(",") if c.strip())
    return out or None


@click.command()
@click.argument("paths", nargs=-1, type=click.Path())
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="text", show_default=True, help="Output format.")
@click.option("--select", multiple=True, help="Rule codes or prefixes to enable (e.g. BN1, BN301). Comma-separated or repeated.")
@click.option("--ignore", multiple=True, help="Rule codes or prefixes to disable.")
def check(paths, fmt, select, ignore):
    """Check Python files and notebooks for batch-normalization training-mode bugs."""
    from bnguard.lint.engine import lint_paths

    result = lint_paths(list(paths) or ["."], select=_split_codes(select), ignore=_split_codes(ignore))
    if fmt == "json":
        click.echo(json.dumps({
            "version": __version__,
            "findings": [f.to_dict() for f in result.findings],
            "errors": [e.to_dict() for e in result.errors],
            "files_checked": result.files_checked,
        }, indent=2))
    else:
        for f in result.findings:
            loc = f"{f.path}:{f.cell + 1}:{f.line}" if f.cell is not None else f"{f.path}:{f.line}"
            click.echo(f"{loc}:{f.col + 1}: {f.code} {f.message}")
        for e in result.errors:
            where = f":{e.line}" if e.line else ""
            click.echo(f"{e.path}{where}: error: {e.message}", err=True)
        n = len(result.findings)
        summary = f"Found {n} problem{'s' if n != 1 else ''} in {result.files_checked} file{'s' if result.files_checked != 1 else ''} checked."
        if not n:
            summary = f"All checks passed ({result.files_checked} file{'s' if result.files_checked != 1 else ''} checked)."
        if result.errors:
            summary += f" {len(result.errors)} file(s) could not be analysed."
        click.echo(summary)
    if result.errors and not result.findings and result.files_checked == 0:
        sys.exit(2)
    if result.findings:
        sys.exit(1)
    if result.errors:
        sys.exit(2)
    sys.exit(0)


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
