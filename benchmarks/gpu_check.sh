#!/usr/bin/env bash
# The paper presets on one GPU, as a session lent one runs it: each of the four methods' paper
# presets trains for a fixed number of steps on a bundled dataset, predicts and scores the test
# tiles (benchmarks/paper_check.py); one JSON per method goes to $OUT (steps/s, samples/s, peak
# GPU memory, training FLOP/s and its fraction of the GPU's bf16 torch.mm peak, losses at the
# first and last step, scores). Sized for 8 minutes on an H100; run it with a 540 s timeout.
#
#   bash benchmarks/gpu_check.sh --prepare   # here, with PyPI: wheels the device lacks -> .gpu-wheels/
#   bash benchmarks/gpu_check.sh             # on the device (no registry): install them, then check
#   bash benchmarks/gpu_check.sh --cpu       # 2 steps per paper preset on this machine's CPU
#
# The device has PyTorch, timm, pluggy, rich, typer, scikit-image, pandas, safetensors and
# matplotlib; vbench also needs SQLAlchemy, pydantic and imagecodecs (reading the bundled slide).
# pyiqa is not carried: its metrics' plugin is then reported broken and skipped (PSNR and SSIM
# are vbench's own). .gpu-wheels/ (about 34 MB) is ignored by git: name it in the device call's
# carry list (64 MiB at most) so it travels with the tree.
set -euo pipefail
cd "$(dirname "$0")/.."
WHEELS=.gpu-wheels
OUT=${OUT:-gpu-check}
STEPS=${STEPS:-20}
PY=${PYTHON:-python3}

case "${1:-}" in
--prepare)
  # Versions of this checkout's tested lock; the device's Python is 3.12 (x86-64).
  pins=$(grep -iE '^(sqlalchemy|pydantic|pydantic[-_]core|annotated[-_]types|typing[-_]inspection|imagecodecs)==' constraints.txt)
  # shellcheck disable=SC2086
  .venv/bin/pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
    --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
    -d "$WHEELS" $pins
  ls -la "$WHEELS"
  exit 0
  ;;
--cpu)
  # bbdm:paper is left out: one step at batch 8 on 256 px crops needs about 60 GB and half an hour
  # on 2 cores; add it with `--cpu bbdm`.
  shift
  [ $# -gt 0 ] || set -- phasestain cyclegan distill
  args=()
  for m in "$@"; do args+=(--method "$m"); done
  exec .venv/bin/python benchmarks/paper_check.py --device cpu --steps 2 --sample-steps 1 --out "$OUT" "${args[@]}"
  ;;
esac

site=/tmp/vbench-site
"$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target "$site" "$WHEELS"/*.whl
# vbench itself from this tree (the device's setuptools builds it; its entry points register the plugins)
"$PY" -m pip install -q --no-index --no-deps --no-build-isolation --no-compile --no-cache-dir --target "$site" .
export PYTHONPATH="$site" PYTHONUNBUFFERED=1 VBENCH_HOME=/tmp/vbench-home
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true
"$PY" -c "import torch, vbench; print('torch', torch.__version__, 'cuda', torch.cuda.is_available())"
mkdir -p "$OUT"
# 20 steps of each method (distill: 20 teacher + 20 student), bbdm sampled with 20 steps; every
# method is bounded so one slow or stuck method cannot eat the others' time.
status=0
for m in cyclegan phasestain distill bbdm; do
  timeout 110 "$PY" benchmarks/paper_check.py --device cuda --steps "$STEPS" --sample-steps 20 \
    --method "$m" --out "$OUT" || status=1
done
exit $status
