"""Plugin manager and registries: entry points, duplicates, wrong classes, broken plugins, disabling."""

from __future__ import annotations

import textwrap

import pytest

import vbench
from vbench.errors import DuplicateNameError, PluginError, UnknownNameError
from vbench.plugins import load_plugins
from vbench.registry import Registry


def fake_distribution(site, dist, module, source, ep_name=None):
    """Installs a minimal distribution (dist-info + module) into a folder on sys.path."""
    info = site / f"{dist}-1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(f"[vbench]\n{ep_name or dist} = {module}\n")
    (site / f"{module}.py").write_text(textwrap.dedent(source))


GOOD = """
import vbench

class Extra(vbench.Stainer):
    name = "extra-stainer"
    def fit(self, train, ctx): pass
    def predict(self, inputs): return inputs

@vbench.hookimpl
def vbench_register_stainers(register):
    register(Extra)
"""


@pytest.fixture
def site(tmp_path, monkeypatch):
    path = tmp_path / "site"
    path.mkdir()
    monkeypatch.syspath_prepend(str(path))
    return path


def test_bundled_plugins_come_through_entry_points():
    p = load_plugins()
    assert {"baseline-mean", "baseline-linear"} <= set(p.stainers.names())
    assert "qpi-ihc" in p.datasets.names() and {"psnr", "ssim"} <= set(p.metrics.names())
    info = p.info_for("stainer", "baseline-mean")
    assert info.dist == "vbench" and info.version == vbench.__version__


def test_third_party_entry_point_is_loaded_with_its_distribution(site):
    fake_distribution(site, "extra-dist", "vbtest_extra", GOOD, ep_name="extra")
    p = load_plugins()
    assert "extra-stainer" in p.stainers
    assert p.info_for("stainer", "extra-stainer").provider == "extra (extra-dist 1.0)"


def test_broken_plugin_is_reported_and_not_fatal(site):
    fake_distribution(site, "broken-dist", "vbtest_broken", "import does_not_exist_anywhere\n", ep_name="broken")
    p = load_plugins()
    info = p.infos["broken"]
    assert info.status == "broken" and "does_not_exist_anywhere" in info.error
    assert "baseline-mean" in p.stainers


def test_misspelt_hook_is_reported_as_broken(site):
    fake_distribution(
        site,
        "typo-dist",
        "vbtest_typo",
        """
        import vbench
        @vbench.hookimpl
        def vbench_register_stainer(register):
            pass
    """,
        ep_name="typo",
    )
    p = load_plugins()
    assert p.infos["typo"].status == "broken" and "vbench_register_stainer" in p.infos["typo"].error


def test_hook_that_raises_is_reported_and_registers_nothing(site):
    fake_distribution(
        site, "raise-dist", "vbtest_raise", GOOD.replace("register(Extra)", "register(Extra); 1 / 0"), ep_name="raiser"
    )
    p = load_plugins()
    assert p.infos["raiser"].status == "broken" and "ZeroDivisionError" in p.infos["raiser"].error
    assert "extra-stainer" not in p.stainers


def test_duplicate_name_is_rejected_naming_both_providers(site):
    fake_distribution(site, "dup-dist", "vbtest_dup", GOOD.replace("extra-stainer", "baseline-mean"), ep_name="dup")
    p = load_plugins()
    info = p.infos["dup"]
    assert info.status == "broken"
    assert "baselines (vbench" in info.error and "dup (dup-dist 1.0)" in info.error
    assert p.info_for("stainer", "baseline-mean").dist == "vbench"


def test_registry_rejects_duplicates_and_wrong_classes():
    reg = Registry("stainer", vbench.Stainer, instances=False)

    class A(vbench.Stainer):
        name = "a"

    class NotAStainer:
        name = "b"

    reg.add(A, "first (dist-one 1.0)")
    with pytest.raises(DuplicateNameError, match=r"by first \(dist-one 1.0\) and by second"):
        reg.add(A, "second")
    with pytest.raises(PluginError, match="does not subclass vbench.Stainer"):
        reg.add(NotAStainer, "third")
    with pytest.raises(PluginError, match="class, not an instance"):
        reg.add(A(), "fourth")
    reg.freeze()

    class C(vbench.Stainer):
        name = "c"

    with pytest.raises(PluginError, match="frozen"):
        reg.add(C, "late")


def test_unknown_name_suggests_close_matches():
    p = load_plugins()
    with pytest.raises(UnknownNameError, match=r"unknown stainer 'baseline-mena'. Did you mean 'baseline-mean'"):
        p.stainers.get("baseline-mena")


def test_disable_plugins_by_name(site, monkeypatch):
    fake_distribution(site, "extra-dist", "vbtest_extra2", GOOD, ep_name="extra")
    monkeypatch.setenv("VBENCH_DISABLE_PLUGINS", "extra, baselines")
    p = load_plugins()
    assert p.infos["extra"].status == "disabled" and p.infos["baselines"].status == "disabled"
    assert "extra-stainer" not in p.stainers and "baseline-mean" not in p.stainers


def test_bundled_plugins_do_not_import_torch_at_start():
    import subprocess
    import sys

    code = "import sys; from vbench.plugins import load_plugins; load_plugins(); print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


def test_bundled_presets_store_every_hyper_parameter():
    """A run stores its preset's params, so a default set only in __init__ would go unrecorded."""
    plugins = load_plugins()
    state = {"last_nfe", "max_seconds"}  # set by predict; the runner's time cap
    for name in ("phasestain", "cyclegan", "bbdm"):
        cls = plugins.stainers.get(name)
        for preset_name, preset in cls.presets.items():
            stainer = cls(**preset)
            plain = {
                k
                for k, v in vars(stainer).items()
                if not k.startswith("_")
                and k not in {"params", "ctx"} | state
                and isinstance(v, (bool, int, float, str, tuple, list))
            }
            assert plain <= set(preset), f"{name}:{preset_name} leaves out {sorted(plain - set(preset))}"
