#!/bin/sh
# bench_data.sh [LOAA] [-- FLAGS] - `loaa bench data` (read + decode + resample + fbank on
# one thread) and the same front end in torchaudio (bench_data_torch.py under Debian's
# /usr/bin/python3) on the same clips, side by side, then the ratio. The issue's target
# is >= 5x. ROUNDS (default 3) alternates the two that many times and reports each
# round's ratio and their median, since a shared machine's load moves both.
# Example: bench/bench_data.sh build/loaa -- --clips 200 --rate 16000
set -e
here=$(cd "$(dirname "$0")" && pwd)
loaa=${1:-${LOAA:-loaa}}
[ $# -gt 0 ] && shift
[ "$1" = "--" ] && shift
python=${PYTHON:-/usr/bin/python3}
rounds=${ROUNDS:-3}
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
echo "== machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "== loaa bench data --keep DIR $*"
"$loaa" bench data --keep "$dir" "$@" | tee "$dir/loaa.out"
get() { sed -n 's/^result:.*clips_per_s=\([0-9.]*\).*/\1/p' "$1"; }
r=1
while [ $r -le "$rounds" ]; do
    [ $r -gt 1 ] && "$loaa" bench data --keep "$dir" "$@" > "$dir/loaa.out"
    OMP_NUM_THREADS=1 "$python" "$here/bench_data_torch.py" "$dir/clips" > "$dir/torch.out"
    [ $r -eq 1 ] && sed -n 1p "$dir/torch.out"
    awk -v r="$r" -v l="$(get "$dir/loaa.out")" -v t="$(get "$dir/torch.out")" 'BEGIN {
        printf "round %d: loaa %.1f clips/s, torchaudio %.1f clips/s: %.2fx\n", r, l, t, l / t }' | tee -a "$dir/rounds"
    r=$((r + 1))
done
sed 's/.*: \([0-9.]*\)x$/\1/' "$dir/rounds" | sort -n | awk '{ v[NR] = $1 } END {
    printf "== ratio (median of %d rounds, per core): %.2fx\n", NR, NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
