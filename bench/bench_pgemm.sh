#!/bin/sh
# bench_pgemm.sh [LOAA] [-- FLAGS] - one trial on one rank against the same trial
# on a group of two (ranks_per_trial 2: psgemm_ on a 1x2 BLACS grid, each rank
# half the batch), one BLAS thread per rank in both, then the step-time ratio.
# Default configuration: bench_step.sh's (loaa-tf, r=32, batch 8, 128x512,
# stride 16 -> 257 tokens) with --model vit-small. Target: ratio <= 0.7.
# Example: bench/bench_pgemm.sh build/loaa -- --model vit-tiny --method full
# The runs follow each other on the same machine; on a shared one only the
# ratio means anything, and repeating it shows the noise.
set -e
loaa=${1:-${LOAA:-loaa}}
[ $# -gt 0 ] && shift
[ "$1" = "--" ] && shift
flags="--model vit-small --method loaa-tf --bottleneck 32 --batch 8 --mel 128 --frames 512 --fstride 16 --tstride 16"
flags="$flags --threads 1 --steps 5 --warmup 1 --peak-seconds 0 $*"
mpirun=${MPIRUN:-mpirun}
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OPENBLAS_NUM_THREADS=1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

echo "== machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "== loaa bench step $flags --ranks-per-trial 1"
"$loaa" bench step $flags --ranks-per-trial 1 | tee "$tmp/one"
echo "== $mpirun -np 2 loaa bench step $flags --ranks-per-trial 2"
"$mpirun" -np 2 --oversubscribe "$loaa" bench step $flags --ranks-per-trial 2 | tee "$tmp/two"
get() { sed -n "s/^steps:.* \([0-9.]*\) s\/step.*/\1/p" "$1"; }
t1=$(get "$tmp/one"); t2=$(get "$tmp/two")
awk -v a="$t1" -v b="$t2" 'BEGIN {
    printf "== ratio: %.4f s/step on a group of 2 vs %.4f s/step on 1 rank: %.3fx (target <= 0.7; parallel efficiency %.0f %%)\n",
        b, a, b / a, 100 * a / (2 * b) }'
