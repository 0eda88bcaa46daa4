"""`vbench publish`, `vbench figures`, `vbench leaderboard -o`: the published folder, its files
rendered from its JSON, figures as PNG and SVG, their errors; and the committed leaderboard/ is
what `vbench publish --from-json` renders from its JSON."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from vbench.cli import main
from vbench.report.publish import HTML_NAME, JSON_NAME, README_NAME, TEX_NAME, render_files

REPO = Path(__file__).resolve().parent.parent


def cli(capsys, *args):
    code = main([str(a) for a in args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.fixture(scope="module")
def published(tmp_path_factory):
    """Two baselines on qpi-ihc (seconds), published with figures."""
    import os

    root = tmp_path_factory.mktemp("published")
    old = Path.cwd()
    os.chdir(root)
    try:
        db = f"sqlite:///{root / 'runs.db'}"
        assert (
            main(
                [
                    "run",
                    "-s",
                    "baseline-linear",
                    "-s",
                    "baseline-mean",
                    "-d",
                    "qpi-ihc",
                    "--db",
                    db,
                    "--no-isolate",
                    "-q",
                ]
            )
            == 0
        )
        assert main(["publish", str(root / "site"), "--db", db, "--label", "CPU, test"]) == 0
    finally:
        os.chdir(old)
    return root, db


def test_publish_writes_every_file_rendered_from_its_json(published):
    root, _ = published
    site = root / "site"
    for name in (README_NAME, HTML_NAME, JSON_NAME, TEX_NAME):
        assert (site / name).is_file(), name
    data = json.loads((site / JSON_NAME).read_text())
    for name, text in render_files(data).items():
        assert (site / name).read_text() == text, name
    (board,) = data
    assert board["label"] == "CPU, test" and board["dataset"] == "qpi-ihc"
    assert {f["kind"] for f in board["figures"]} == {"grid", "pareto", "scores"}
    for fig in board["figures"]:
        assert (site / fig["path"]).stat().st_size > 1000 and (site / fig["svg"]).read_text().startswith("<?xml")
    for row in board["rows"]:
        (path,) = row["samples"].values()
        assert (site / path).is_file() and path.endswith(".jpg")
    readme = (site / README_NAME).read_text()
    assert "![input \\| each method \\| target" in readme and "CPU, test" in readme
    html = (site / HTML_NAME).read_text()
    assert 'href="samples/run-' in html and 'src="figures/' in html and 'href="leaderboard.tex"' in html
    assert "\\begin{tabular}" in (site / TEX_NAME).read_text()


def test_from_json_renders_the_same_files_again(published, capsys, tmp_path):
    root, _ = published
    code, _, err = cli(capsys, "publish", tmp_path / "again", "--from-json", root / "site" / JSON_NAME)
    assert code == 0, err
    for name in (README_NAME, HTML_NAME, TEX_NAME, JSON_NAME):
        assert (tmp_path / "again" / name).read_text() == (root / "site" / name).read_text(), name


def test_figures_and_html_folder_commands(published, capsys, tmp_path):
    _, db = published
    code, _, err = cli(capsys, "figures", "-o", tmp_path / "figs", "--db", db)
    assert code == 0, err
    names = sorted(p.name for p in (tmp_path / "figs").iterdir())
    assert len(names) == 6 and all(n.startswith("qpi-ihc-") for n in names)
    assert {Path(n).suffix for n in names} == {".png", ".svg"}
    code, _, err = cli(capsys, "leaderboard", "--db", db, "-f", "html", "-o", tmp_path / "page")
    assert code == 0 and (tmp_path / "page" / "index.html").is_file(), err
    code, _, err = cli(capsys, "leaderboard", "--db", db, "-f", "latex", "-o", tmp_path / "t" / "lb.tex")
    assert code == 0 and (tmp_path / "t" / "lb.tex").read_text().startswith("% vbench leaderboard")


def test_publishing_errors_name_the_file_and_the_fix(published, capsys, tmp_path):
    _, db = published
    a_file = tmp_path / "file.txt"
    a_file.write_text("x")
    bad_json = tmp_path / "bad.json"
    bad_json.write_text("{not json")
    other_json = tmp_path / "other.json"
    other_json.write_text('{"a": 1}')
    empty = f"sqlite:///{tmp_path / 'empty.db'}"
    for args, message in [
        (["publish", a_file, "--db", db], f"cannot publish into {a_file}: it is a file"),
        (["publish", tmp_path / "o", "--from-json", bad_json], f"{bad_json} is not JSON"),
        (["publish", tmp_path / "o", "--from-json", other_json], "is not a vbench leaderboard"),
        (["publish", tmp_path / "o", "--from-json", tmp_path / "missing.json"], "cannot read"),
        (
            ["publish", tmp_path / "o", "--from-json", other_json, "--label", "x"],
            "--from-json renders the JSON as it is",
        ),
        (["publish", tmp_path / "o", "--db", empty], "nothing to publish"),
        (["figures", "-o", tmp_path / "f", "--db", empty], "no completed runs"),
        (["leaderboard", "--db", db, "-f", "html"], "add -o DIR"),
        (["leaderboard", "--db", db, "-o", tmp_path / "x.txt"], "choose its format"),
        (["leaderboard", "--db", db, "-f", "md", "-o", tmp_path], "is a folder"),
        (["leaderboard", "--db", db, "-f", "html", "-o", a_file], "it is a file"),
    ]:
        code, _, err = cli(capsys, *args)
        assert code == 2 and message in " ".join(err.split()), (args, err)


def test_the_committed_leaderboard_is_what_its_json_renders():
    folder = REPO / "leaderboard"
    data = json.loads((folder / JSON_NAME).read_text())
    for name, text in render_files(data).items():
        assert (folder / name).read_text() == text, (
            f"leaderboard/{name} differs from what its JSON renders; "
            f"regenerate with `make leaderboard` (or `vbench publish leaderboard --from-json leaderboard/{JSON_NAME}`)"
        )
    for board in data:
        for fig in board["figures"]:
            assert (folder / fig["path"]).is_file() and (folder / fig["svg"]).is_file(), fig


NEEDS_FILES = '''
import vbench
from vbench.assets import Asset, require_all

class NeedsFiles(vbench.ImageMetric):
    """A metric whose files were never installed, one where vbench keeps assets and one in torch's hub."""
    name = "needs-files"
    assets = (
        Asset("test-params", "params-0123abcd.npz", "parameters this test never installs"),
        Asset("test-weights", "weights-4567cdef.pth", "weights this test never installs", "torch-hub/checkpoints"),
    )

    def setup(self, dataset):
        super().setup(dataset)
        require_all(self)

    def score(self, pred, ref):
        return (pred - ref).abs().mean(dim=(1, 2, 3))

@vbench.hookimpl
def vbench_register_metrics(register):
    register(NeedsFiles)
'''


def test_a_published_footer_names_no_folder_of_the_publishing_machine(plugin_module, tiny_dataset, db_url, tmp_path):
    """A metric not computed for want of its files is a footnote that points at `vbench assets
    status`, never at the machine's own cache folders ($VBENCH_HOME, torch's hub)."""
    import os

    from vbench.plugins import load_plugins
    from vbench.report.publish import publish
    from vbench.run import plan, run_sweep
    from vbench.store import Store

    plugins = load_plugins(extra=[tiny_dataset, plugin_module(NEEDS_FILES)])
    store = Store(db_url)
    specs = plan(plugins, ["baseline-linear"], ["tiny"], [0], metrics=["psnr", "needs-files"])
    (outcome,) = run_sweep(specs, store, plugins, isolate=False, progress=False)
    assert outcome.status == "completed", outcome.message
    publish(store, tmp_path / "site", figures=False)
    readme = (tmp_path / "site" / README_NAME).read_text()
    assert "needs-files is left out: not computed for any row (metric 'needs-files' needs the file" in readme
    assert "which is not installed (see \\`vbench assets status\\`))." in readme
    homes = [os.environ["VBENCH_HOME"], os.environ["TORCH_HOME"]]
    for name in (README_NAME, HTML_NAME, JSON_NAME, TEX_NAME):
        text = (tmp_path / "site" / name).read_text()
        assert "not installed in" not in text, name
        assert not [home for home in homes if home in text], name


def test_a_failed_publish_leaves_the_folder_as_it_was_and_a_retry_succeeds(published, capsys, tmp_path, monkeypatch):
    import errno

    root, db = published
    source = root / "site" / JSON_NAME
    real = Path.write_text

    def disk_full(self, *args, **kwargs):  # the disk fills up while the page is written, after the JSON
        if self.name == HTML_NAME:
            raise OSError(errno.ENOSPC, "No space left on device", str(self))
        return real(self, *args, **kwargs)

    old = tmp_path / "old"
    old.mkdir()
    (old / HTML_NAME).write_text("the page as it was")
    runs = [
        ["publish", "{}", "--from-json", source],
        ["publish", "{}", "--db", db, "--no-figures"],
        ["leaderboard", "--db", db, "-f", "html", "-o", "{}"],
    ]
    for args in runs:
        for target in (tmp_path / "new" / "site", old):
            argv = [str(target) if a == "{}" else a for a in args]
            monkeypatch.setattr(Path, "write_text", disk_full)
            code, _, err = cli(capsys, *argv)
            assert code == 2 and "No space left on device" in err and "Traceback" not in err, (argv, err)
            assert f"cannot write {target / HTML_NAME}" in " ".join(err.split())  # the target, not the staging
            if target == old:  # nothing added, nothing half-written
                assert sorted(p.name for p in old.iterdir()) == [HTML_NAME]
                assert (old / HTML_NAME).read_text() == "the page as it was"
            else:
                assert not target.exists()
            assert [p for p in (tmp_path / "new").glob(".*")] == []  # no staging folder left
            monkeypatch.setattr(Path, "write_text", real)
            code, _, err = cli(capsys, *argv)
            assert code == 0 and (target / HTML_NAME).read_text().startswith("<!DOCTYPE html>"), (argv, err)
            assert [p.name for p in target.iterdir() if p.name.startswith(".")] == []
        for target in (tmp_path / "new", old):
            shutil.rmtree(target)
        old.mkdir()
        (old / HTML_NAME).write_text("the page as it was")


def test_publishing_into_a_read_only_place_is_a_clean_error(published, capsys, unwritable):
    root, db = published
    for args in (
        ["publish", unwritable / "site", "--from-json", root / "site" / JSON_NAME],
        ["publish", unwritable / "site", "--db", db, "--no-figures"],
        ["leaderboard", "--db", db, "-f", "html", "-o", unwritable / "site"],
    ):
        code, _, err = cli(capsys, *args)
        assert code == 2 and f"cannot publish into {unwritable}" in " ".join(err.split()), (args, err)
        assert "Traceback" not in err
