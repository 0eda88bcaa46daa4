"""The plugin reference is complete: every hook and every public attribute of the classes a plugin
author subclasses is documented (as datasette tests its plugin hooks), and the docs stay inside
the repository."""

from __future__ import annotations

import dataclasses
import inspect
import re
from pathlib import Path

import pytest

import vbench
from vbench import hookspecs

REPO = Path(__file__).resolve().parent.parent
HOOKS = sorted(n for n, f in vars(hookspecs).items() if n.startswith("vbench_") and callable(f))

# hook -> the classes whose public attributes its docstring must name
CLASSES = {
    "vbench_register_stainers": (vbench.Stainer, vbench.RunContext, vbench.Budget),
    "vbench_register_datasets": (vbench.Dataset, vbench.Sample),
    "vbench_register_metrics": (vbench.Metric, vbench.ImageMetric, vbench.DistributionMetric),
    "vbench_register_layouts": (vbench.DatasetLayout,),
}


def public_names(cls) -> set[str]:
    names = {n for n in vars(cls) if not n.startswith("_")}
    if dataclasses.is_dataclass(cls):
        names |= {f.name for f in dataclasses.fields(cls) if not f.name.startswith("_")}
    return names


def test_every_hook_is_covered_here():
    assert HOOKS and set(HOOKS) == set(CLASSES), "a new hook: list the classes its docstring documents"


@pytest.mark.parametrize("hook", HOOKS)
def test_every_hook_documents_its_parameters(hook):
    fn = getattr(hookspecs, hook)
    doc = inspect.getdoc(fn) or ""
    assert len(doc) > 200, f"{hook} has no reference docstring"
    for param in inspect.signature(fn).parameters:
        assert f"``{param}" in doc, f"{hook}'s docstring does not document its parameter {param!r}"


@pytest.mark.parametrize("hook", HOOKS)
def test_every_public_attribute_of_the_base_classes_is_documented(hook):
    doc = inspect.getdoc(getattr(hookspecs, hook))
    documented = {word for span in re.findall(r"``(.+?)``", doc, re.S) for word in re.findall(r"[A-Za-z_]\w*", span)}
    for cls in CLASSES[hook]:
        missing = sorted(public_names(cls) - documented)
        assert not missing, f"{hook}'s docstring does not document {cls.__name__}.{', '.join(missing)}"


@pytest.mark.parametrize("hook", HOOKS)
def test_the_plugin_guide_describes_every_hook(hook):
    guide = (REPO / "docs" / "plugins.md").read_text()
    assert f"`{hook}(register)`" in guide, f"docs/plugins.md does not describe {hook}"


def test_the_docs_are_inside_the_repository():
    for path in [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]:
        text = path.read_text()
        assert "../shared" not in text and "DESIGN" not in text, path
        for target in re.findall(r"\]\(([^)#]+)[^)]*\)", text):  # relative Markdown links resolve
            if "://" not in target:
                assert (path.parent / target).exists(), f"{path.name} links to missing {target}"


def _first_block_after(heading: str) -> str:
    guide = (REPO / "docs" / "plugins.md").read_text()
    section = guide.split(f"## {heading}\n", 1)[1]
    return section.split("```python\n", 1)[1].split("```", 1)[0]


def test_the_guides_dataset_and_metric_examples_run(plugin_module, db_url):
    from vbench.plugins import load_plugins
    from vbench.run import plan, run_sweep
    from vbench.store import Store

    plugins = load_plugins(
        extra=[plugin_module(_first_block_after("A dataset")), plugin_module(_first_block_after("A metric"))]
    )
    assert plugins.datasets.get("stripes").modality == "brightfield"
    store = Store(db_url)
    specs = plan(plugins, ["baseline-linear"], ["stripes"], [0], metrics=["mae", "psnr"])
    (outcome,) = run_sweep(specs, store, plugins, isolate=False, progress=False)
    assert outcome.status == "completed", outcome.message
    mae = store.scores(outcome.run_id, "mae")
    assert len(mae) == 2 and all(0 <= v < 0.05 for v in mae.values())  # a linear map fits the toy exactly
