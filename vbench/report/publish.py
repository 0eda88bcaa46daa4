"""Publishing a leaderboard as a folder: ``README.md`` (Markdown tables and figures),
``index.html`` (the static page), ``leaderboard.json``, ``leaderboard.tex``, ``figures/`` and
``samples/`` (each run's sample grid, as JPEG to keep the folder small).

The JSON holds everything the text files show, and they are rendered from it
(:func:`render_files`), so a published folder can be checked against its JSON: rendering the
committed JSON again must give the committed files byte for byte.

Every file is written into a staging folder first and moved into place when all were written
(``vbench.staging``): a failed publish leaves the folder as it was.
"""

from __future__ import annotations

import json
from pathlib import Path

from ..errors import ConfigError
from ..images import ImageInputError, open_pil
from ..staging import staged
from .leaderboard import Board, build_leaderboard

JSON_NAME, HTML_NAME, TEX_NAME, README_NAME = "leaderboard.json", "index.html", "leaderboard.tex", "README.md"
FIGURES, SAMPLES = "figures", "samples"
LINKS = {"README (Markdown)": README_NAME, "JSON": JSON_NAME, "LaTeX": TEX_NAME}


def prepare(out_dir: Path) -> Path:
    """The output folder, created; an error naming it when it cannot be."""
    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise ConfigError(f"cannot publish into {out_dir}: it is a file. Pass a folder (it is created if missing).")
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(
            f"cannot create the output folder {out_dir}: {exc.strerror}. Pass a writable folder."
        ) from None
    return out_dir


def copy_samples(store, boards: list[Board], out_dir: Path) -> list[Path]:
    """Each run's samples.png as ``samples/run-ID.jpg``, linked from its row (``row["samples"]``)."""
    written = []
    for board in boards:
        for row in board.rows:
            row["samples"] = {}
            for run_id, seed in zip(row["run_ids"], row["seeds"]):
                run = store.get_run(run_id)
                source = Path(run.artifacts) / "samples.png" if run is not None and run.artifacts else None
                if source is None or not source.is_file():
                    continue
                target = out_dir / SAMPLES / f"run-{int(run_id)}.jpg"
                target.parent.mkdir(parents=True, exist_ok=True)
                try:
                    with open_pil(source) as img:  # a run's artifacts may come from an imported file
                        rgb = img.convert("RGB")
                except (OSError, ImageInputError):
                    continue  # an unreadable (or implausibly large) grid only loses its link
                rgb.save(target, quality=88, optimize=True)
                row["samples"][str(seed)] = f"{SAMPLES}/{target.name}"
                written.append(target)
    return written


def link_figures(boards: list[Board], out_dir: Path) -> None:
    """Figures already in ``out_dir/figures`` (from ``vbench figures``) are linked from the page."""
    from .figures import CAPTIONS, KINDS, slug

    for board in boards:
        if board.figures:
            continue
        for kind in KINDS:
            stem = f"{slug(board)}-{kind}"
            if (out_dir / FIGURES / f"{stem}.png").is_file():
                svg = out_dir / FIGURES / f"{stem}.svg"
                board.figures.append(
                    {
                        "kind": kind,
                        "path": f"{FIGURES}/{stem}.png",
                        "svg": f"{FIGURES}/{svg.name}" if svg.is_file() else "",
                        "caption": CAPTIONS[kind],
                    }
                )


def write_page(store, boards: list[Board], out_dir: Path) -> list[Path]:
    """``vbench leaderboard --format html -o DIR``: the page, its JSON and the runs' sample grids."""
    with staged(out_dir, "publish") as stage:
        written = copy_samples(store, boards, stage)
        link_figures(boards, Path(out_dir))
        data = to_json(boards)
        files = render_files(json.loads(data), only=(HTML_NAME,), links={"JSON": JSON_NAME})
        written += _write(stage, {JSON_NAME: data, **files})
    return _moved(written, stage, out_dir)


def publish(
    store,
    out_dir: Path,
    *,
    label: str = "",
    dataset: str | None = None,
    metrics: list[str] | None = None,
    figures: bool = True,
    at_budget=None,
) -> list[Path]:
    """Everything from a database: tables in every published format, figures and sample grids.
    ``at_budget`` (a :class:`vbench.compute.ComputeBudget`): the boards at that matched budget."""
    boards = build_leaderboard(store, dataset=dataset, metrics=metrics, at_budget=at_budget)
    if not boards:
        raise ConfigError(
            f"nothing to publish: {store.display_url} has no completed runs"
            + (f" of dataset {dataset}" if dataset else "")
            + "; start with `vbench run`"
        )
    for b in boards:
        b.label = label
    with staged(out_dir, "publish") as stage:
        written = copy_samples(store, boards, stage)
        if figures:
            from .figures import write_figures

            written += write_figures(store, boards, stage / FIGURES, prefix=f"{FIGURES}/")
        data = to_json(boards)
        written += _write(stage, {JSON_NAME: data, **render_files(json.loads(data))})
    return _moved(written, stage, out_dir)


def to_json(boards: list[Board]) -> str:
    from .render import to_json as render_json

    return render_json(boards) + "\n"


def load(path: Path) -> list[dict]:
    """A published leaderboard.json, checked (:mod:`.board_file`), with an error naming the file,
    the board and the field when it is not one."""
    from .board_file import load as load_boards

    return load_boards(path)


def render_files(
    data: list[dict], only: tuple[str, ...] = (README_NAME, HTML_NAME, TEX_NAME), links: dict | None = None
) -> dict[str, str]:
    """{file name: text} of the published text files, rendered from the boards' JSON."""
    from .html import page
    from .latex import latex
    from .render import markdown

    boards = [Board.from_dict(b) for b in data]
    out = {}
    if README_NAME in only:
        out[README_NAME] = _readme(boards, markdown(boards, heading="##", figures=True))
    if HTML_NAME in only:
        out[HTML_NAME] = page(boards, links=links if links is not None else LINKS)
    if TEX_NAME in only:
        out[TEX_NAME] = latex(boards)
    return out


def _readme(boards: list[Board], tables: str) -> str:
    from .escape import markdown as md

    labels = list(dict.fromkeys(b.label for b in boards if b.label))
    lines = ["# vbench leaderboard", ""]
    if labels:
        lines += [md("; ".join(labels)) + ".", ""]
    lines += [
        f"Also as a sortable page ([{HTML_NAME}]({HTML_NAME})), [{JSON_NAME}]({JSON_NAME}) and a LaTeX table "
        f"([{TEX_NAME}]({TEX_NAME})). Every file here is rendered from {JSON_NAME} (`vbench publish DIR "
        f"--from-json {JSON_NAME}` renders them again).",
        "",
        "",
    ]
    return "\n".join(lines) + tables


def rerender(json_path: Path, out_dir: Path) -> list[Path]:
    """``vbench publish DIR --from-json FILE``: the text files again, from a published JSON."""
    data = load(json_path)
    files = render_files(data)
    if Path(json_path).resolve() != (Path(out_dir) / JSON_NAME).resolve():
        files[JSON_NAME] = json.dumps(data, indent=2, ensure_ascii=False) + "\n"
    with staged(out_dir, "publish") as stage:
        written = _write(stage, files)
    return _moved(written, stage, out_dir)


def _write(out_dir: Path, files: dict[str, str]) -> list[Path]:
    """Writes the files into ``out_dir`` (a staging folder: ``staged`` turns an OSError into an
    error naming the target)."""
    for name, text in files.items():
        (out_dir / name).write_text(text, encoding="utf-8")
    return [out_dir / name for name in files]


def _moved(paths: list[Path], stage: Path, out_dir) -> list[Path]:
    """The files written into the staging folder, where they are now."""
    return [Path(out_dir) / p.relative_to(stage) for p in paths]
