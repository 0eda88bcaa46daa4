"""The `vbench` command: parses, calls the library, renders. One module per command group."""

from __future__ import annotations

import click

from ..errors import VbenchError
from . import datasets, metrics, plugins, predict, results  # noqa: F401  (they register their commands)
from .common import app, err

__all__ = ["app", "main"]


def main(argv: list[str] | None = None) -> int:
    """Console entry point: user errors print one message and exit non-zero, without a traceback."""
    try:
        rv = app(args=argv, standalone_mode=False)
    except click.exceptions.ClickException as exc:
        exc.show()
        return (exc.exit_code)
    except click.exceptions.Abort:
        err.print("aborted")
        return (130)
    except VbenchError as exc:
        err.print(f"[red]error:[/] {exc}", highlight=False)
        return (exc.exit_code)
    except KeyboardInterrupt:
        err.print("interrupted")
        return (130)
    return (rv if isinstance(rv, int) else 0)


if __name__ == "__main__":
    raise SystemExit(main())
