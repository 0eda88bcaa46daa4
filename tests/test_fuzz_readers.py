"""Fuzzing the readers of other people's files (benchmarks/fuzz_readers.py holds the readers and
the strategies): every generated or mutated file is accepted or refused with a one-line vbench
error, never another exception, a run left `running`, a hidden character or unescaped HTML.
The benchmark script runs many more examples (`--examples N`)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

PATH = Path(__file__).resolve().parent.parent / "benchmarks" / "fuzz_readers.py"
spec = importlib.util.spec_from_file_location("vbench_fuzz_readers_benchmark", PATH)
fuzz_readers = importlib.util.module_from_spec(spec)
sys.modules[spec.name] = fuzz_readers  # its dataclass looks its module up
spec.loader.exec_module(fuzz_readers)

# reader: (examples in every run, in the slow run): 2,400 files in CI; benchmarks/fuzz_readers.py
# --examples N runs more
COUNTS = {"import": (120, 600), "from-json": (120, 600), "suite": (150, 600), "csv": (150, 600)}


@pytest.mark.parametrize("reader", sorted(COUNTS))
def test_every_file_is_accepted_or_a_one_line_error(tmp_path, reader):
    counts = fuzz_readers.fuzz(reader, tmp_path, COUNTS[reader][0], seed=20)
    assert counts["accepted"] and counts["refused"], counts  # both outcomes were reached


@pytest.mark.slow
@pytest.mark.parametrize("reader", sorted(COUNTS))
def test_thousands_of_files(tmp_path, reader):
    counts = fuzz_readers.fuzz(reader, tmp_path, COUNTS[reader][1], seed=21)
    assert sum(counts.values()) == COUNTS[reader][1]
