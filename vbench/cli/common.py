"""Shared pieces of the CLI: the Typer apps, consoles and options."""

from __future__ import annotations

import typer
from rich.console import Console
from rich.text import Text

from ..console import console as make_console
from ..errors import ConfigError

app = typer.Typer(
    add_completion=False,
    pretty_exceptions_enable=False,
    no_args_is_help=True,
    help="Benchmark virtual staining methods on shared splits.",
)
datasets_app = typer.Typer(no_args_is_help=True, help="List and register datasets.")
metrics_app = typer.Typer(no_args_is_help=True, help="List metrics.")
app.add_typer(datasets_app, name="datasets")
app.add_typer(metrics_app, name="metrics")
assets_app = typer.Typer(no_args_is_help=True, help="Files metrics need: status, fetch, import.")
app.add_typer(assets_app, name="assets")


# Every line printed goes through these two consoles (vbench.console): markup off (styles are
# given explicitly) and control characters in user, plugin and stored text shown as escapes.
out = make_console()
err = make_console(stderr=True)

DbOption = typer.Option(
    None, "--db", help="SQLAlchemy URL of the results database [env VBENCH_DB; default sqlite:///vbench.db]"
)


def say(console: Console, label: str, style: str, text: str) -> None:
    """``label`` in ``style``, then ``text`` as given (``[/x]`` in a message can neither crash the
    error path nor vanish; control characters are shown as escapes by the console)."""
    console.print(Text.assemble((label, style), " ", text), highlight=False)


def print_error(text: str) -> None:
    say(err, "error:", "red", text)


def warn(text: str) -> None:
    say(err, "warning:", "yellow", text)


def loaded_plugins():
    from ..plugins import load_plugins

    plugins = load_plugins()
    for info in plugins.infos.values():
        if info.status == "broken":
            warn(f"plugin {info.provider} is broken and was skipped: {info.error}")
    return plugins


def split_names(values) -> list[str]:
    """Repeatable options that also accept comma-separated lists (`-m psnr,ssim`)."""
    return [v.strip() for raw in values or [] for v in raw.split(",") if v.strip()]


def write_text(path, text: str) -> None:
    """Writes a command's output file, with an error naming it when that fails."""
    from pathlib import Path

    path = Path(path)
    if path.is_dir():
        raise ConfigError(f"{path} is a folder; -o takes a file name for this format (html takes a folder)")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot write {path}: {exc.strerror}. Pass a writable location with -o.") from None


def check_format(fmt: str, formats=("table", "csv", "json")) -> None:
    if fmt not in formats:
        raise ConfigError(f"unknown format {fmt!r}; use one of {', '.join(formats)}")


AT_BUDGET_HELP = (
    "Compare at a matched training budget: seconds on each run's own hardware (300s, 5min) or training "
    "FLOPs (2e15); each method's largest run per seed within it"
)
