#!/bin/sh
# Cross-check against PyTorch: loaa's logits and gradients for a vit-micro loaa-tf model
# recomputed in double precision by an independent PyTorch formulation (bench/bench_step_torch.py).
# Skipped where Debian's python3 has no torch.
python=${PYTHON:-/usr/bin/python3}
if ! "$python" -c "import torch, numpy" >/dev/null 2>&1; then
    echo "1..0 # SKIP $python has no torch/numpy"
    exit 0
fi
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
"$top_builddir/tests/kernels_torch_dump" "$tmp" | sed 's/^/# /' || { echo "1..1"; echo "not ok 1 - dump"; exit 1; }
"$python" "$top_srcdir/tests/kernels_torch_check.py" "$tmp"
