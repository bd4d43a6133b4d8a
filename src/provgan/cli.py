"""The ``provgan`` command: one entry point, one subcommand per job.

Subcommands are imported lazily (``provgan --help`` stays fast and a broken optional dependency of
one job does not break the others). A :class:`~provgan.errors.ProvganError` is printed as one line
``error: ...`` with exit status 2; anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import importlib
import importlib.util
import logging
import sys

import click

from provgan import __version__
from provgan.errors import ProvganError

# name -> "module:attribute" of a click command
COMMANDS: dict[str, str] = {
    "info": "provgan.commands.info:info",
    "prepare": "provgan.data.cli:prepare",
    "train": "provgan.train.cli:train",
    "generate": "provgan.generate:generate_cmd",
    "interpolate": "provgan.generate:interpolate_cmd",
    "evaluate": "provgan.metrics.cli:evaluate",
    "classifier": "provgan.metrics.cli:classifier",
    "weights": "provgan.metrics.cli:weights",
    "faces": "provgan.faces.cli:faces",
    "report": "provgan.report:report",
    "experiment": "provgan.experiment.cli:experiment",
}


class LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(name for name, target in COMMANDS.items() if _importable(target))

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        target = COMMANDS.get(name)
        if target is None or not _importable(target):
            return None
        module, attr = target.split(":")
        return getattr(importlib.import_module(module), attr)


def _importable(target: str) -> bool:
    module = target.split(":")[0]
    try:
        return importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:
        return False


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", prog_name="provgan")
@click.option("-v", "--verbose", is_flag=True, help="Log debug messages.")
def cli(verbose: bool) -> None:
    """Progressive growing of sliced Wasserstein video GANs.

    \b
    Typical session:
      provgan prepare --builtin moving-digits data/digits
      provgan train --config digits-32 --data data/digits --out runs/digits
      provgan generate runs/digits --num 16 --out samples/
    """
    logging.basicConfig(level=logging.DEBUG if verbose else logging.INFO, format="%(message)s")


def main(argv: list[str] | None = None) -> None:
    try:
        rc = cli.main(args=argv, prog_name="provgan", standalone_mode=False)
    except ProvganError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        click.echo("interrupted", err=True)
        sys.exit(130)
    if isinstance(rc, int) and rc:
        sys.exit(rc)


if __name__ == "__main__":
    main()
