"""SQLAlchemy 2 models of the results database."""

from __future__ import annotations

import json
from datetime import datetime

from sqlalchemy import BigInteger, Boolean, DateTime, Float, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from ..run.spec import stainer_label

# Bump on any schema change and add a migration step to Store._check_schema.
# 2: runs.modality and runs.stain (the dataset's input modality and target stain).
# 3: runs.owner and runs.heartbeat (run leases, see store/leases.py).
# 4: runs.tile_sources (the source image of each test tile, for the leaderboard's bootstrap).
# 6: runs.train_flops, runs.curve_seconds and the curve_points table.
# 7: runs.precision and runs.evaluation.
SCHEMA_VERSION = 7


class Base(DeclarativeBase):
    pass


class Meta(Base):
    __tablename__ = "vbench_meta"
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text)


class Run(Base):
    __tablename__ = "runs"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    status: Mapped[str] = mapped_column(String(16), index=True)  # running|completed|failed|interrupted
    stainer: Mapped[str] = mapped_column(String(128))
    preset: Mapped[str] = mapped_column(String(64), default="")
    params: Mapped[str] = mapped_column(Text, default="{}")  # JSON
    run_key: Mapped[str] = mapped_column(String(64), index=True)  # identifies the run for --resume
    train_key: Mapped[str | None] = mapped_column(String(64), index=True)  # identifies the trained model
    trained_by: Mapped[int | None] = mapped_column(Integer)  # run whose checkpoint this run evaluated
    repeats: Mapped[int] = mapped_column(Integer, default=1)
    plugin_dist: Mapped[str | None] = mapped_column(String(128))
    plugin_version: Mapped[str | None] = mapped_column(String(64))
    vbench_version: Mapped[str] = mapped_column(String(32))
    git_commit: Mapped[str | None] = mapped_column(String(64))
    dataset: Mapped[str] = mapped_column(String(128), index=True)
    manifest_hash: Mapped[str | None] = mapped_column(String(64))
    dataset_note: Mapped[str] = mapped_column(Text, default="")
    modality: Mapped[str] = mapped_column(String(64), default="")  # the dataset's input modality
    stain: Mapped[str] = mapped_column(String(64), default="")  # the dataset's target stain
    owner: Mapped[str | None] = mapped_column(String(160))  # host:pid:attempt of the lease holder
    heartbeat: Mapped[datetime | None] = mapped_column(DateTime)  # last lease renewal, database clock
    seed: Mapped[int] = mapped_column(BigInteger)  # seeds are in [0, 2^32): past a signed 32-bit column
    suite: Mapped[str | None] = mapped_column(String(64))
    external: Mapped[bool] = mapped_column(Boolean, default=False)
    device: Mapped[str | None] = mapped_column(String(64))
    threads: Mapped[int | None] = mapped_column(Integer)
    hardware: Mapped[str] = mapped_column(Text, default="{}")  # JSON
    libraries: Mapped[str] = mapped_column(Text, default="{}")  # JSON
    started_at: Mapped[datetime] = mapped_column(DateTime)
    ended_at: Mapped[datetime | None] = mapped_column(DateTime)
    truncated: Mapped[bool] = mapped_column(Boolean, default=False)
    error: Mapped[str | None] = mapped_column(Text)
    artifacts: Mapped[str | None] = mapped_column(Text)
    # runtime
    train_seconds: Mapped[float | None] = mapped_column(Float)
    train_steps: Mapped[int | None] = mapped_column(Integer)
    train_samples_per_s: Mapped[float | None] = mapped_column(Float)
    infer_ms_p50: Mapped[float | None] = mapped_column(Float)
    infer_ms_p95: Mapped[float | None] = mapped_column(Float)
    tiles_per_s: Mapped[float | None] = mapped_column(Float)
    # Peak resident memory of the run's own process (VmHWM; with the interpreter, torch and the plugins it
    # imported); forked workers add the forkserver's share (vbench.run.execute.peak_rss_mb); CUDA peak
    # allocation on a GPU; None for --no-isolate runs.
    peak_mem_mb: Mapped[float | None] = mapped_column(Float)
    n_params: Mapped[int | None] = mapped_column(Integer)
    flops_per_tile: Mapped[float | None] = mapped_column(Float)
    n_test_tiles: Mapped[int | None] = mapped_column(Integer)
    # FLOPs of the training steps (vbench.compute.StepFlops); seconds spent on the anytime curve
    train_flops: Mapped[float | None] = mapped_column(Float)
    curve_seconds: Mapped[float | None] = mapped_column(Float)
    precision: Mapped[str] = mapped_column(String(8), default="fp32")  # fp32 | bf16 (autocast)
    # tiles: scored per test tile; whole: per whole-image test region (vbench run --eval whole)
    evaluation: Mapped[str] = mapped_column(String(16), default="tiles")
    # JSON {tile: source image} when the test tiles come from two or more recorded sources, else None
    tile_sources: Mapped[str | None] = mapped_column(Text)

    # The typed view: JSON columns parsed here once, so no reader re-parses them.
    @property
    def params_dict(self) -> dict:
        return json.loads(self.params or "{}")

    @property
    def hardware_dict(self) -> dict:
        return json.loads(self.hardware or "{}")

    @property
    def libraries_dict(self) -> dict:
        return json.loads(self.libraries or "{}")

    @property
    def tile_sources_dict(self) -> dict:
        return json.loads(self.tile_sources or "{}")

    @property
    def label(self) -> str:
        """``stainer:preset`` as tables show it (see :func:`vbench.run.spec.stainer_label`)."""
        return stainer_label(self.stainer, self.preset)

    def to_dict(self) -> dict:
        """Every column, with the JSON columns parsed."""
        data = {c: getattr(self, c) for c in self.__table__.columns.keys()}
        data.update(
            params=self.params_dict,
            hardware=self.hardware_dict,
            libraries=self.libraries_dict,
            tile_sources=self.tile_sources_dict or None,
        )
        return data


class Score(Base):
    """One metric value of one test tile. Millions of rows: keep it narrow."""

    __tablename__ = "scores"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"))
    metric: Mapped[str] = mapped_column(String(64))
    tile: Mapped[str] = mapped_column(String(256))
    value: Mapped[float | None] = mapped_column(Float)
    __table_args__ = (Index("ix_scores_run_metric", "run_id", "metric"),)


class Summary(Base):
    """Aggregate of one metric over one run's test tiles (what leaderboards read)."""

    __tablename__ = "summaries"
    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True)
    metric: Mapped[str] = mapped_column(String(64), primary_key=True)
    status: Mapped[str] = mapped_column(String(16), default="computed")  # computed | not computed
    reason: Mapped[str | None] = mapped_column(Text)
    higher_is_better: Mapped[bool] = mapped_column(Boolean, default=True)
    pipeline: Mapped[str] = mapped_column(Text, default="")
    n: Mapped[int] = mapped_column(Integer, default=0)
    mean: Mapped[float | None] = mapped_column(Float)
    std: Mapped[float | None] = mapped_column(Float)
    ci_low: Mapped[float | None] = mapped_column(Float)
    ci_high: Mapped[float | None] = mapped_column(Float)


class CurvePoint(Base):
    """One metric of one anytime-curve point: the model scored on validation tiles after ``step``
    training steps (``train_seconds``, ``train_flops`` so far)."""

    __tablename__ = "curve_points"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"), index=True)
    step: Mapped[int] = mapped_column(BigInteger)
    train_seconds: Mapped[float | None] = mapped_column(Float)
    train_flops: Mapped[float | None] = mapped_column(Float)
    metric: Mapped[str] = mapped_column(String(64))
    value: Mapped[float | None] = mapped_column(Float)
    n: Mapped[int] = mapped_column(Integer, default=0)
    status: Mapped[str] = mapped_column(String(16), default="computed")  # computed | not computed
    reason: Mapped[str | None] = mapped_column(Text)


CURVE_FIELDS = ("step", "train_seconds", "train_flops", "metric", "value", "n", "status", "reason")
