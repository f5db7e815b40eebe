#!/bin/sh
# bench_step.sh [LOAA] [-- FLAGS] - `loaa bench step` and the same step in PyTorch
# (bench_step_torch.py under Debian's /usr/bin/python3), side by side, then the ratios.
# Default configuration: the issue's target (vit-tiny, loaa-tf, r=32, batch 8, 128x512,
# stride 16, 2 threads) in bf16 (PRECISION=fp32 or a --precision flag for the fp32 pair; PyTorch
# then runs under torch.autocast('cpu', dtype=torch.bfloat16)).
# Example: bench/bench_step.sh build/loaa -- --model vit-small --precision fp32
# The two alternate REPEAT times (default 3) on the same machine and the best run of
# each counts: on a shared machine only the best runs and the ratio mean anything.
set -e
here=$(cd "$(dirname "$0")" && pwd)
loaa=${1:-${LOAA:-loaa}}
[ $# -gt 0 ] && shift
[ "$1" = "--" ] && shift
flags="--model vit-tiny --method loaa-tf --bottleneck 32 --batch 8 --mel 128 --frames 512 --fstride 16 --tstride 16 --threads 2 --steps 10 --precision ${PRECISION:-bf16} $*"
python=${PYTHON:-/usr/bin/python3}
# Both link libgomp (oneDNN's and PyTorch's OpenMP): the same policy for both, idle threads sleeping rather than
# spinning on a core another process holds (loaa sets this itself when it can re-execute; see gemm.h).
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-passive}
repeat=${REPEAT:-3}
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT

echo "== machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "== flags: $flags"
echo "== $("$loaa" version 2>/dev/null | grep '^gemm:') (the CPU's bf16 flags: $(grep -m1 -o -w -E 'amx_bf16|avx512_bf16' /proc/cpuinfo | tr '\n' ' '))"
i=1
while [ $i -le "$repeat" ]; do
    echo "== run $i: loaa bench step"
    "$loaa" bench step $flags | tee "$tmp/loaa.$i"
    echo "== run $i: $python bench_step_torch.py"
    env -u OMP_NUM_THREADS "$python" "$here/bench_step_torch.py" $flags | tee "$tmp/torch.$i"
    i=$((i + 1))
done
echo "== load after: $(cut -d' ' -f1-3 /proc/loadavg)"
cat "$tmp"/loaa.* | sed -n 's/^result: //p' | sed 's/^/loaa  /' > "$tmp/all"
cat "$tmp"/torch.* | sed -n 's/^result: //p' | sed 's/^/torch /' >> "$tmp/all"
awk '{
    for (i = 2; i <= NF; i++) { split($i, kv, "="); v[$1, kv[1]] = kv[2] + 0 }
    if (v[$1, "samples_per_s"] > best[$1]) { best[$1] = v[$1, "samples_per_s"]; rss[$1] = v[$1, "rss_mib"];
        gf[$1] = v[$1, "gflops"]; pk[$1] = v[$1, "peak_gflops"]; pk16[$1] = v[$1, "bf16_peak_gflops"] }
    printf "   %s %.2f samples/s, peak RSS %.0f MiB\n", $1, v[$1, "samples_per_s"], v[$1, "rss_mib"]
} END {
    printf "== best: loaa %.2f samples/s (%.1f GFLOP/s, %.0f%% of the sgemm peak of its run, %.0f), PyTorch %.2f samples/s: %.2fx\n",
        best["loaa"], gf["loaa"], (pk["loaa"] > 0 ? 100 * gf["loaa"] / pk["loaa"] : 0), pk["loaa"], best["torch"],
        best["loaa"] / best["torch"]
    if (pk16["loaa"] > 0)
        printf "== loaa GEMM throughput: %.1f GFLOP/s = %.0f%% of oneDNN'"'"'s bf16 matmul peak of its run (%.0f GFLOP/s)\n",
            gf["loaa"], 100 * gf["loaa"] / pk16["loaa"], pk16["loaa"]
    printf "== peak RSS: loaa %.0f MiB, PyTorch %.0f MiB: %.2fx\n", rss["loaa"], rss["torch"], rss["loaa"] / rss["torch"]
}' "$tmp/all"
