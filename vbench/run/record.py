"""What every stored run records, and how a run that did not complete ended."""

from __future__ import annotations

from pathlib import Path

from .. import __version__
from ..store import Store
from .execute import failure_text
from .provenance import git_commit, hardware, library_versions
from .spec import run_key

INTERRUPTED = "interrupted (Ctrl-C or SIGTERM); rerun with --resume"


def run_fields(
    dataset, *, stainer: str, run_key: str, device: str | None, provenance: dict | None = None, **fields
) -> dict:
    """What every stored run records: the dataset, its manifest, input modality and target stain,
    vbench's version and commit, the hardware and the library versions."""
    provenance = provenance or run_provenance()
    return dict(
        stainer=stainer,
        run_key=run_key,
        dataset=dataset.name,
        manifest_hash=dataset.manifest_hash,
        dataset_note=getattr(dataset, "simulated", "") or "",
        modality=getattr(dataset, "modality", "") or "",
        stain=getattr(dataset, "stain", "") or "",
        device=device,
        hardware=hardware(device or "cpu"),
        **provenance,
        **fields,
    )


def run_provenance() -> dict:
    return {"vbench_version": __version__, "git_commit": git_commit(), "libraries": library_versions()}


def record_external(store: Store, dataset, name: str, predictions: Path, result) -> int:
    """Stores predictions made outside vbench, scored on ``dataset``'s test split (``result`` of
    :func:`vbench.scoring.score`), as a completed external run that ranks under ``name``."""
    run_id = store.create_run(
        **run_fields(
            dataset,
            stainer=name,
            preset="",
            seed=0,
            external=True,
            device=None,
            params={"predictions": str(Path(predictions).resolve())},
            run_key=run_key({"external": name, "dataset": dataset.name, "manifest": dataset.manifest_hash}),
        )
    )
    store.finish_run(run_id, result.scores(), result.summaries, n_test_tiles=len(result.ids))
    return run_id


def end_run(store: Store, run_id: int, owner: str, why: BaseException | str) -> str:
    """Stores how a run that did not complete ended: interrupted (Ctrl-C, SIGTERM) or failed with
    the reason and traceback. A run that already ended keeps its first ending."""
    if isinstance(why, KeyboardInterrupt):
        status, error = "interrupted", INTERRUPTED
    else:
        status, error = "failed", failure_text(why) if isinstance(why, BaseException) else why
    store.end_run(run_id, status, error, owner=owner)
    return status
