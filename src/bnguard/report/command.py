"""``bnguard report LOGDIR -o report.html``."""
from __future__ import annotations

import click

from bnguard.cli_util import fail_input


@click.command()
@click.argument("logdir", type=click.Path())
@click.option("-o", "--output", default="bnguard-report.html", show_default=True, help="HTML file to write.")
@click.option("--title", default=None, help="Page title.")
def report(logdir, output, title):
    """Write a self-contained HTML report of the BN statistics recorded by a monitor."""
    from bnguard.report.html import render, summary_lines
    from bnguard.report.log import read_log

    try:
        log = read_log(logdir)
    except (FileNotFoundError, PermissionError, IsADirectoryError) as exc:
        fail_input(str(exc))
    if not log.stats and not log.alerts:
        fail_input(f"{log.path}: the log holds no statistics (was the monitor ever stepped?)")
    try:
        page = render(log, title=title)
        with open(output, "w", encoding="utf-8") as fh:
            fh.write(page)
    except OSError as exc:
        fail_input(f"cannot write {output}: {exc.strerror or exc}")
    lines = summary_lines(log)
    click.echo(f"{output}: {lines[0] if lines else 'all BN layers healthy'}"
               f" ({len(log.layers())} layers, {log.last_step} steps, {len(log.alerts)} alerts)")
