"""vbench run --eval whole: a trained stainer stains each whole-image test region through the tiled,
blended path, each region is scored whole, and the rows get their own leaderboard section."""

from __future__ import annotations

import json

import pytest

from vbench.errors import ConfigError
from vbench.plugins import load_plugins
from vbench.report import build_leaderboard, render
from vbench.run import plan, run_sweep
from vbench.store import Store

DATASET = """
import torch
import vbench
from vbench.dataset import WholeRegion

def image(seed, size):
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(1, size // 8, size // 8, generator=g)
    return torch.nn.functional.interpolate(x[None], size=(size, size), mode="bilinear")[0]

def stain(x):
    return torch.cat([x * 0.8 + 0.1, 1 - x * 0.5, x * 0.3 + 0.2])

class Regions(vbench.Dataset):
    name = "regions"
    task = "gray->rgb"
    pairing = "paired"
    in_channels = 1

    def load(self, split):
        n = {"train": 4, "val": 2, "test": 2}[split]
        return [vbench.Sample(id=f"{split}-{i}", input=(x := image(i + 10 * len(split), 32)), target=stain(x))
                for i in range(n)]

    def wholes(self):
        return [WholeRegion(id=f"r{i}", height=96, width=96, read_input=(lambda i=i: image(100 + i, 96)),
                            read_target=(lambda i=i: stain(image(100 + i, 96)))) for i in range(2)]

@vbench.hookimpl
def vbench_register_datasets(register):
    register(Regions)
"""


@pytest.fixture
def env(plugin_module, tiny_dataset, db_url):
    plugins = load_plugins(extra=[tiny_dataset, plugin_module(DATASET)])
    return plugins, Store(db_url)


def test_whole_image_rows_are_scored_per_region_and_shown_in_their_own_section(env):
    plugins, store = env
    tiles = plan(plugins, ["baseline-linear"], ["regions"], [0], metrics=["psnr"])
    whole = plan(
        plugins,
        ["baseline-linear"],
        ["regions"],
        [0],
        metrics=["psnr", "seam"],
        evaluation="whole",
        whole={"tile": 32, "overlap": 4},
    )
    assert whole[0].preset_label == "whole(tile=32,overlap=4,blend=hann)"
    assert whole[0].key("m") != tiles[0].key("m") and whole[0].train_key("m") == tiles[0].train_key("m")
    (t,) = run_sweep(tiles, store, plugins, isolate=False, progress=False)
    (w,) = run_sweep(whole, store, plugins, isolate=False, progress=False)
    run = store.get_run(w.run_id)
    assert w.status == "completed" and run.evaluation == "whole" and run.n_test_tiles == 2
    assert run.trained_by == t.run_id  # the tile run's model, not trained again
    assert set(store.scores(w.run_id, "psnr")) == {"r0", "r1"} and set(store.scores(w.run_id, "seam")) == {"r0", "r1"}
    boards = build_leaderboard(store, plugins=plugins)
    assert [b.evaluation for b in boards] == ["tiles", "whole"]
    assert [r["run_ids"] for r in boards[1].rows] == [[w.run_id]]
    md = render(boards, "md")
    assert "## regions\n" in md and "## regions — whole images" in md
    data = json.loads(render(boards, "json"))
    assert "evaluation" not in data[0] and data[1]["evaluation"] == "whole"
    html = render(boards, "html")
    assert html.count("<section") == 2 and "regions — whole images" in html


def test_whole_image_settings_and_datasets_without_regions_are_one_line_errors(env):
    plugins, store = env
    with pytest.raises(ConfigError, match="declares no whole-image test regions"):
        plan(plugins, ["baseline-linear"], ["tiny"], [0], evaluation="whole", strict=True)
    with pytest.raises(ConfigError, match="overlap"):
        plan(plugins, ["baseline-linear"], ["regions"], [0], evaluation="whole", whole={"tile": 32, "overlap": 16})
    with pytest.raises(ConfigError, match="blend"):
        plan(plugins, ["baseline-linear"], ["regions"], [0], evaluation="whole", whole={"blend": "feather"})
    with pytest.raises(ConfigError, match="--eval 'all'"):
        plan(plugins, ["baseline-linear"], ["regions"], [0], evaluation="all")
    assert store.runs() == []


def test_whole_image_tiling_without_eval_whole_is_a_one_line_error(capsys, tmp_path):
    from vbench.cli import main

    db = tmp_path / "none.db"
    code = main(["run", "-s", "baseline-linear", "-d", "qpi-he", "--eval-tile", "64", "--db", f"sqlite:///{db}"])
    err = capsys.readouterr().err
    assert code == 2 and "add --eval whole" in err and len(err.strip().splitlines()) == 1
    assert not db.exists()
