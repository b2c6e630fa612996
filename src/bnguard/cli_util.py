"""Helpers shared by the run-time subcommands (check-graph, inspect, diff, report)."""
from __future__ import annotations

import sys
from typing import NoReturn

import click

from bnguard.result import Report

EXIT_OK, EXIT_PROBLEMS, EXIT_INPUT_ERROR = 0, 1, 2


def emit_report(report: Report, fmt: str = "text") -> int:
    """Print a Report as text or JSON and return the exit code (0 ok, 1 problems)."""
    if fmt == "json":
        click.echo(report.to_json(indent=2))
    else:
        click.echo(str(report))
    return EXIT_OK if report.ok else EXIT_PROBLEMS


def fail_input(message: str) -> NoReturn:
    """One clear line on stderr and exit 2: the input could not be read."""
    click.echo(f"bnguard: error: {message}", err=True)
    sys.exit(EXIT_INPUT_ERROR)
