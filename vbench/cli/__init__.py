"""The `vbench` command: parses, calls the library, renders. One module per command group."""

from __future__ import annotations

import io
import sys

import typer

from ..console import show_logs_visibly
from ..errors import VbenchError
from ..visible import lines
from . import assets, compare, datasets, exchange, metrics, plugins, predict, publish, results, score  # noqa: F401  (they register their commands)
from .common import app, err, print_error

__all__ = ["app", "main"]

# Typer >= 0.2x calls its own vendored copy of click (typer._click), older Typer the `click`
# package: take the exception classes from the click that Typer really uses.
_click = sys.modules[next(c for c in typer.BadParameter.__mro__ if c.__name__ == "ClickException").__module__]


def main(argv: list[str] | None = None) -> int:
    """Console entry point: user errors print one message and exit non-zero, without a traceback.
    Usage errors (unknown command or option, bad value, missing argument) exit 2."""
    show_logs_visibly()
    try:
        rv = app(args=argv, standalone_mode=False, prog_name="vbench")
    except _click.ClickException as exc:
        shown = io.StringIO()
        exc.show(file=shown)  # the value a user typed is in the message: shown through vbench.visible
        sys.stderr.write(lines(shown.getvalue()))
        return exc.exit_code
    except typer.Abort:
        err.print("aborted", markup=False)
        return 130
    except VbenchError as exc:
        print_error(str(exc))
        return exc.exit_code
    except KeyboardInterrupt:
        err.print("interrupted", markup=False)
        return 130
    return rv if isinstance(rv, int) else 0


if __name__ == "__main__":
    raise SystemExit(main())
