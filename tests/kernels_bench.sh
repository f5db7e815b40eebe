#!/bin/sh
# Smoke test of `loaa bench step` at a tiny size: it runs and reports; no timing is asserted.
n=0; failed=0
check() { n=$((n+1)); if eval "$2"; then echo "ok $n - $1"; else echo "not ok $n - $1"; failed=1; fi; }
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT

"$LOAA" bench step --model vit-micro --method loaa-tf --bottleneck 8 --batch 2 --mel 32 --frames 48 \
    --fstride 16 --tstride 16 --threads 1 --steps 2 --warmup 1 --peak-seconds 0.05 > "$tmp/out" 2>&1; rc=$?
sed 's/^/# /' "$tmp/out"
check "bench step runs" '[ $rc -eq 0 ]'
check "bench step reports samples/s, GFLOP/s, the sgemm peak and peak RSS" \
    'grep -q "samples/s" "$tmp/out" && grep -q "GFLOP/s achieved" "$tmp/out" && grep -q "sgemm peak" "$tmp/out" &&
     grep -q "^peak RSS: [0-9]" "$tmp/out" && grep -q "^result: samples_per_s=[0-9]" "$tmp/out"'
check "7 tokens for a 32x48 input at stride 16" 'grep -q "= 7 tokens" "$tmp/out"'
"$LOAA" bench step --model vit-micro --mel 8 --frames 48 --steps 1 > "$tmp/out" 2>&1; rc=$?
check "an input smaller than a patch is refused naming the setting" '[ $rc -eq 1 ] && grep -q "n_mel" "$tmp/out"'
"$LOAA" bench frobnicate > "$tmp/out" 2>&1; rc=$?
check "an unknown benchmark is a usage error listing the benchmarks" '[ $rc -eq 2 ] && grep -q "^  step" "$tmp/out"'
"$LOAA" bench step --model vit-micro --method noop --steps 1 --peak-seconds 0 > "$tmp/out" 2>&1; rc=$?
check "the noop method benchmarks without a model" '[ $rc -eq 0 ]'
echo "1..$n"
exit $failed
