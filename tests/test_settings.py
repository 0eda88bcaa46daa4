"""`vbench run --set key=value`: preset parameters overridden, and grids of them."""

from __future__ import annotations

import json

import pytest

from vbench.cli import main
from vbench.errors import ConfigError
from vbench.run.overrides import parse
from vbench.store import Store


def cli(capsys, *args):
    code = main([str(a) for a in args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_values_are_read_as_json_where_they_parse_and_lists_stay_whole():
    assert parse(["lr=1e-4,2e-4", "name=abc", "flag=true", "mult=[1,2],[1,2,4]"]) == {
        "lr": [0.0001, 0.0002],
        "name": ["abc"],
        "flag": [True],
        "mult": [[1, 2], [1, 2, 4]],
    }
    for bad in (["lr"], ["=3"], ["lr="], ["lr=1", "lr=2"]):
        with pytest.raises(ConfigError, match="--set"):
            parse(bad)


def test_a_grid_runs_every_combination_once_each_its_own_row(capsys, tmp_path):
    db = f"sqlite:///{tmp_path / 'grid.db'}"
    args = [
        "run",
        "-s",
        "baseline-colormap",
        "-d",
        "qpi-ihc",
        "-m",
        "psnr",
        "--set",
        "prior=1.0,8.0",
        "--set",
        "max_bins=64,4096",
        "--db",
        db,
        "--no-isolate",
        "-q",
    ]
    code, _, err = cli(capsys, *args)
    assert code == 0, err
    runs = Store(db).runs()
    assert len(runs) == 4 and len({r.run_key for r in runs}) == 4
    assert sorted((r.params_dict["prior"], r.params_dict["max_bins"]) for r in runs) == [
        (1.0, 64),
        (1.0, 4096),
        (8.0, 64),
        (8.0, 4096),
    ]
    assert "baseline-colormap:default[max_bins=64,prior=1.0]" in [r.label for r in runs]
    code, out, _ = cli(capsys, "leaderboard", "--db", db, "-f", "json")
    (board,) = json.loads(out)
    assert len(board["rows"]) == 4 and len({r["label"] for r in board["rows"]}) == 4
    # re-running the same grid never duplicates a run
    code, _, err = cli(capsys, *args, "--resume")
    assert code == 0 and err.count("skipped") == 4 and len(Store(db).runs()) == 4
    # the run without --set keeps the preset's identity (and its plain label)
    code, _, err = cli(
        capsys, "run", "-s", "baseline-colormap", "-d", "qpi-ihc", "-m", "psnr", "--db", db, "--no-isolate", "-q"
    )
    assert code == 0 and Store(db).runs()[-1].label == "baseline-colormap"


@pytest.mark.parametrize(
    "setting, message",
    [
        ("prio=2", "baseline-colormap has no parameter 'prio'. Did you mean 'prior'"),
        ("prior=abc", "baseline-colormap's prior is a number"),
        ("max_bins=2.5", "baseline-colormap's max_bins is a whole number"),
        ("steps=3", "no parameter 'steps'"),
    ],
)
def test_unknown_parameters_and_wrong_kinds_are_named(capsys, tmp_path, setting, message):
    code, _, err = cli(
        capsys,
        "run",
        "-s",
        "baseline-colormap",
        "-d",
        "qpi-ihc",
        "--set",
        setting,
        "--db",
        f"sqlite:///{tmp_path / 'x.db'}",
        "--no-isolate",
        "-q",
    )
    assert code == 2 and message in " ".join(err.split()) and "Traceback" not in err


def test_a_stainer_without_presets_has_nothing_to_set(capsys, tmp_path):
    code, _, err = cli(
        capsys,
        "run",
        "-s",
        "baseline-mean",
        "-d",
        "qpi-ihc",
        "--set",
        "x=1",
        "--db",
        f"sqlite:///{tmp_path / 'x.db'}",
        "--no-isolate",
        "-q",
    )
    assert code == 2 and "(none: it has no presets)" in err


# -- options and --set values are checked before any run is created ----------------------------------------------


def no_runs(db: str) -> bool:
    return Store(db).runs() == []


@pytest.mark.parametrize(
    "options, message",
    [
        (["--seed", "-1"], "--seed -1: a seed is a whole number in [0, 2^32)"),
        (["--seed", "4294967296"], "--seed 4294967296: a seed is a whole number in [0, 2^32)"),
        (["--device", "tpu9"], "--device 'tpu9': use cpu, cuda, cuda:N (N: a GPU's index) or mps"),
        (["--device", "cuda:x"], "--device 'cuda:x': use cpu, cuda, cuda:N"),
        (["--device", "\x1b[31mcpu"], "--device '\\x1b[31mcpu': use cpu"),
        (["--max-seconds", "-5"], "--max-seconds -5.0: give a positive number of seconds"),
        (["--max-seconds", "0"], "--max-seconds 0.0: give a positive number of seconds"),
        (["--max-seconds", "nan"], "--max-seconds nan: give a positive number of seconds"),
        (["--max-seconds", "inf"], "--max-seconds inf: give a positive number of seconds"),
        (["--set", "max_bins=-5"], "--set max_bins=-5: baseline-colormap's max_bins is a whole number in [2, 1048576]"),
        (["--set", "max_bins=4096,0"], "--set max_bins=0: baseline-colormap's max_bins is a whole number in [2,"),
        (["--set", "max_bins=true"], "--set max_bins=true: baseline-colormap's max_bins is a whole number"),
        (["--set", "prior=-1"], "--set prior=-1: baseline-colormap's prior is a number in [0,"),
        (["--set", "prior=NaN"], "--set value 'NaN': parameters are finite numbers"),
        (["--set", "prior=-Infinity"], "--set value '-Infinity': parameters are finite numbers"),
        (["--set", "prior=1e999"], "--set value '1e999': parameters are finite numbers"),
        (["--set", "prior=\x1b[2J"], "control characters are not allowed in a key or value"),
    ],
)
def test_bad_options_are_one_line_errors_before_any_run(capsys, tmp_path, options, message):
    """`max_bins=-5` failed inside the run (a complex number of bins); the others too, or were
    stored with the run. Now each is refused up front and nothing is stored."""
    db = f"sqlite:///{tmp_path / 'x.db'}"
    args = ["run", "-s", "baseline-colormap", "-d", "af-he-x4", "-m", "psnr", "--db", db, "--no-isolate", "-q"]
    code, out, err = cli(capsys, *args, *options)
    assert code == 2 and message in " ".join(err.split()), err
    assert err.count("error:") == 1 and "Traceback" not in err and "\x1b" not in out + err
    assert no_runs(db)


def test_a_device_this_machine_lacks_is_refused(capsys, tmp_path, monkeypatch):
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    db = f"sqlite:///{tmp_path / 'x.db'}"
    code, _, err = cli(capsys, "run", "-s", "baseline-mean", "-d", "qpi-ihc", "--device", "cuda:1", "--db", db, "-q")
    assert code == 2 and "--device cuda:1: this machine has no such CUDA device (it has 1 (cuda:0 to cuda:0))" in err
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    code, _, err = cli(capsys, "run", "-s", "baseline-mean", "-d", "qpi-ihc", "--device", "cuda", "--db", db, "-q")
    assert code == 2 and "it has none torch can use); use --device cpu" in err and no_runs(db)


def test_check_options_accepts_the_edges():
    from vbench.run.options import check_options

    check_options([0, 2**32 - 1], "cuda:12", 0.5)
    for device in ("cpu", "cuda", "mps"):
        check_options([], device, None)
    for bad in ([True], [1.0], ["1"]):
        with pytest.raises(ConfigError, match="a seed is a whole number"):
            check_options(bad)


def test_every_bundled_stainer_declares_every_preset_parameter_and_accepts_its_presets():
    from vbench import Param
    from vbench.plugins import load_plugins

    plugins = load_plugins()
    for name in ("baseline-colormap", "phasestain", "cyclegan", "bbdm", "distill"):
        cls = plugins.stainers.get(name)
        assert cls.parameters and all(isinstance(p, Param) for p in cls.parameters.values()), name
        for preset, values in cls.presets.items():
            for key, value in values.items():
                if key != "max_seconds":
                    assert key in cls.parameters, (name, key)
                    assert cls.parameters[key].accepts(value), (name, preset, key, value)
    for name, key in [("phasestain", "steps"), ("bbdm", "lr"), ("cyclegan", "batch"), ("bbdm", "crop")]:
        assert not plugins.stainers.get(name).parameters[key].accepts(0), (name, key)


def test_a_param_describes_and_checks_its_values():
    from vbench import Param

    p = Param(int, min=2, max=4096)
    assert p.describe() == "a whole number in [2, 4096]" and p.accepts(2) and p.accepts(4096)
    assert not any(p.accepts(v) for v in (1, 4097, 2.0, True, "8", None))
    f = Param(float, min=0.0)
    assert f.describe() == "a number >= 0" and f.accepts(3) and f.accepts(0.5)
    assert not any(f.accepts(v) for v in (-1e-9, float("nan"), float("inf"), False))
    c = Param(str, choices=("global", "patch"))
    assert c.describe() == "one of 'global', 'patch'" and c.accepts("patch") and not c.accepts("Patch")
    items = Param(list, min=1, max=8)
    assert items.describe() == "a list of one or more whole numbers in [1, 8]" and items.accepts([1, 2])
    assert items.accepts((1,)) and not any(items.accepts(v) for v in ([1, 0], [], 3, [1.5], [[1]]))
    assert Param(bool).accepts(True) and not Param(bool).accepts(1)
    with pytest.raises(TypeError):
        Param(dict)


def test_vbench_plugins_shows_a_stainers_parameters(capsys):
    code, out, _ = cli(capsys, "plugins", "--params", "baseline-colormap")
    flat = " ".join(out.split())
    assert code == 0 and "max_bins │ a whole number in [2, 1048576] │ 4096" in flat and "default" in flat
    code, out, _ = cli(capsys, "plugins", "--params", "bbdm")
    assert code == 0 and "one of 'vanilla', 'skip', 'mean', 'mean-skip'" in " ".join(out.split())
    code, _, err = cli(capsys, "plugins", "--params", "colormap")
    assert code == 2 and "Did you mean 'baseline-colormap'" in err


UNDECLARED = '''
import vbench

class Knobs(vbench.Stainer):
    """A third-party stainer whose presets declare nothing: --set takes the preset values' kinds."""
    name = "knobs"
    presets = {"default": {"steps": 2, "gain": 0.5, "mode": "a"}}

    def fit(self, train, ctx):
        self.color = train[0].target.mean(dim=(1, 2))

    def predict(self, inputs):
        n, _, h, w = inputs.shape
        return self.color.view(1, 3, 1, 1).expand(n, 3, h, w).clone()

@vbench.hookimpl
def vbench_register_stainers(register):
    register(Knobs)
'''


def test_a_stainer_without_declarations_keeps_the_preset_kinds(plugin_module, tiny_dataset, capsys):
    from vbench.plugins import load_plugins
    from vbench.run import plan

    plugins = load_plugins(extra=[tiny_dataset, plugin_module(UNDECLARED)])
    specs = plan(plugins, ["knobs"], ["tiny"], [0], settings=parse(["steps=3", "gain=-7", "mode=b"]))
    assert specs[0].params == {"steps": 3, "gain": -7, "mode": "b"}  # no range known: as before
    with pytest.raises(ConfigError, match=r"--set gain='x': knobs's gain is a number \(preset 'default' has 0.5\)"):
        plan(plugins, ["knobs"], ["tiny"], [0], settings=parse(["gain=x"]))
    # steps is the harness's budget: a whole number >= 1 whatever the stainer declares
    with pytest.raises(ConfigError, match=r"--set steps=-3: knobs's steps is a whole number >= 1"):
        plan(plugins, ["knobs"], ["tiny"], [0], settings=parse(["steps=-3"]))
    from vbench.cli.plugins import parameter_table
    from vbench.run.overrides import described

    knobs = plugins.stainers.get("knobs")
    assert described(knobs)["gain"] == ("a number (not declared: the preset value's kind)", "")
    assert parameter_table("knobs", knobs).row_count == 3
    knobs.parameters = lambda self: iter(())  # a `parameters` method (torch.nn.Module's): nothing declared
    assert plan(plugins, ["knobs"], ["tiny"], [0], settings=parse(["gain=2"]))[0].params["gain"] == 2
    knobs.parameters = {"gain": float}
    with pytest.raises(ConfigError, match="stainer 'knobs' declares its parameter 'gain' as <class 'float'>, not a"):
        plan(plugins, ["knobs"], ["tiny"], [0], settings=parse(["gain=2"]))
