"""Command-line entry point: ``bnguard <command>``.

Subcommands live next to the code they drive and are imported only when invoked, so
``bnguard check`` never pays for importing TensorFlow, PyTorch or JAX.
"""
from __future__ import annotations

import importlib
import os
import sys

import click

from bnguard import __version__

# command name -> "module:attribute" of a click.Command
COMMANDS: dict[str, str] = {
    "check": "bnguard.lint.command:check",
    "rule": "bnguard.lint.command:rule",
    "check-graph": "bnguard.tf1.command:check_graph",
    "inspect": "bnguard.checkpoint.command:inspect",
    "diff": "bnguard.checkpoint.command:diff",
    "report": "bnguard.report.command:report",
}


class LazyGroup(click.Group):
    def list_commands(self, ctx):
        return sorted(COMMANDS)

    def get_command(self, ctx, name):
        target = COMMANDS.get(name)
        if target is None:
            return None
        mod_name, attr = target.split(":")
        try:
            mod = importlib.import_module(mod_name)
        except ImportError as exc:  # an extra is missing
            raise click.ClickException(f"'bnguard {name}' is unavailable: {exc}") from None
        return getattr(mod, attr)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="bnguard")
def cli():
    """bnguard — find, explain and repair batch-normalization training-mode bugs."""


def main(argv=None) -> int:
    try:
        code = cli.main(args=argv, prog_name="bnguard", standalone_mode=True) or 0
    except KeyboardInterrupt:
        click.echo("bnguard: interrupted", err=True)
        return 130
    except SystemExit as exc:
        if not _owns_process_with_retained_trees():
            raise
        code = exc.code
    if _owns_process_with_retained_trees():
        # `bnguard check` kept its syntax trees alive: end the process without freeing them
        # object by object (output flushed first; nothing else is pending at this point).
        if code is not None and not isinstance(code, int):
            click.echo(code, err=True)
            code = 1
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code or 0)
    return code  # type: ignore[return-value]


# Set by ``run``: ``main`` owns the process (console script / ``python -m bnguard``), so it may end
# it; never when a test or a host program calls ``main``.
_ENTRY_POINT = False


def _owns_process_with_retained_trees() -> bool:
    runner = sys.modules.get("bnguard.lint.runner")
    return _ENTRY_POINT and bool(runner is not None and runner.RETAINED)


def run() -> None:
    """The ``bnguard`` console script and ``python -m bnguard``: ``main`` owning the process."""
    global _ENTRY_POINT
    _ENTRY_POINT = True
    sys.exit(main())


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
