#!/bin/sh
# bench_step.sh [LOAA] [-- FLAGS] - `loaa bench step` and the same step in PyTorch
# (bench_step_torch.py under Debian's /usr/bin/python3), side by side, then the ratios.
# Default configuration: the issue's target (vit-tiny, loaa-tf, r=32, batch 8, 128x512,
# stride 16, 2 threads). Example: bench/bench_step.sh build/loaa -- --model vit-small
# The two run one after the other on the same machine; run it on a quiet machine and
# repeat: only the ratio is meaningful on a shared one.
set -e
here=$(cd "$(dirname "$0")" && pwd)
loaa=${1:-${LOAA:-loaa}}
[ $# -gt 0 ] && shift
[ "$1" = "--" ] && shift
flags="--model vit-tiny --method loaa-tf --bottleneck 32 --batch 8 --mel 128 --frames 512 --fstride 16 --tstride 16 --threads 2 --steps 10 $*"
python=${PYTHON:-/usr/bin/python3}

echo "== machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "== loaa bench step $flags"
"$loaa" bench step $flags | tee /tmp/bench_step_loaa.$$
echo "== $python bench_step_torch.py $flags"
env -u OMP_NUM_THREADS "$python" "$here/bench_step_torch.py" $flags | tee /tmp/bench_step_torch.$$
get() { sed -n "s/^result:.*$2=\([0-9.]*\).*/\1/p" "$1"; }
ls=$(get /tmp/bench_step_loaa.$$ samples_per_s); ts=$(get /tmp/bench_step_torch.$$ samples_per_s)
lm=$(get /tmp/bench_step_loaa.$$ rss_mib); tm=$(get /tmp/bench_step_torch.$$ rss_mib)
rm -f /tmp/bench_step_loaa.$$ /tmp/bench_step_torch.$$
awk -v ls="$ls" -v ts="$ts" -v lm="$lm" -v tm="$tm" 'BEGIN {
    printf "== ratio: loaa %.2f samples/s vs PyTorch %.2f: %.2fx; peak RSS loaa %.0f MiB vs PyTorch %.0f MiB: %.2fx\n",
        ls, ts, ls / ts, lm, tm, lm / tm }'
