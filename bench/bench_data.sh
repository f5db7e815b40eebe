#!/bin/sh
# bench_data.sh [LOAA] [-- FLAGS] - `loaa bench data` (read + decode + resample + fbank on
# one thread) and the same front end in torchaudio (bench_data_torch.py under Debian's
# /usr/bin/python3) on the same clips, side by side, then the ratio. The issue's target
# is >= 5x. Example: bench/bench_data.sh build/loaa -- --clips 200
set -e
here=$(cd "$(dirname "$0")" && pwd)
loaa=${1:-${LOAA:-loaa}}
[ $# -gt 0 ] && shift
[ "$1" = "--" ] && shift
python=${PYTHON:-/usr/bin/python3}
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
echo "== machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "== loaa bench data --keep DIR $*"
"$loaa" bench data --keep "$dir" "$@" | tee "$dir/loaa.out"
echo "== $python bench_data_torch.py DIR/clips"
OMP_NUM_THREADS=1 "$python" "$here/bench_data_torch.py" "$dir/clips" | tee "$dir/torch.out"
get() { sed -n 's/^result:.*clips_per_s=\([0-9.]*\).*/\1/p' "$1"; }
awk -v l="$(get "$dir/loaa.out")" -v t="$(get "$dir/torch.out")" 'BEGIN {
    printf "== ratio: loaa %.1f clips/s vs torchaudio %.1f clips/s per core: %.2fx\n", l, t, l / t }'
