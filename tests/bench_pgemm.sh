#!/bin/sh
# `loaa bench gemm` and `loaa bench step --ranks-per-trial 2` under mpirun
# with tiny sizes: they run, report every grid, and refuse a world that does
# not split into groups.
n=0; failed=0
check() { n=$((n+1)); if eval "$2"; then echo "ok $n - $1"; else echo "not ok $n - $1"; failed=1; fi; }
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT

timeout 300 "$MPIRUN" -np 2 --oversubscribe "$LOAA" bench gemm --model vit-micro --batch 2 --tokens 9 --classes 3 --reps 1 \
    >"$tmp/gemm" 2>&1; rc=$?
check "bench gemm under mpirun -np 2 exits 0" '[ $rc -eq 0 ]'
check "bench gemm reports blas and psgemm, pgemm, rows on 1x1, 1x2, 2x1" \
    'for g in 1x1 1x2 2x1; do for b in psgemm pgemm rows; do grep -q "^qkv .* $b  *$g " "$tmp/gemm" || exit 1; done; done'
check "bench gemm times the backward products (dx and dw)" 'grep -q "^fc1.dx " "$tmp/gemm" && grep -q "^fc2.dw " "$tmp/gemm"'
check "bench gemm: one report, from rank 0" '[ "$(grep -c "^# loaa bench gemm" "$tmp/gemm")" -eq 1 ]'
flags="--model vit-micro --method loaa-tf --bottleneck 4 --batch 3 --mel 32 --frames 48 --classes 3 --threads 1 --steps 2 --warmup 1 --peak-seconds 0"
timeout 300 "$MPIRUN" -np 2 --oversubscribe "$LOAA" bench step $flags --ranks-per-trial 2 >"$tmp/step2" 2>&1; rc=$?
"$LOAA" bench step $flags --ranks-per-trial 1 >"$tmp/step1" 2>&1; rc1=$?
check "bench step --ranks-per-trial 2 under mpirun -np 2" '[ $rc -eq 0 ] && grep -q "gemm backend: scalapack, grid 1x2, 2 rank" "$tmp/step2"'
check "bench step --ranks-per-trial 1 stays on BLAS" '[ $rc1 -eq 0 ] && grep -q "gemm backend: blas, grid 1x1" "$tmp/step1"'
l1=$(sed -n 's/.*last loss \([0-9.]*\).*/\1/p' "$tmp/step1"); l2=$(sed -n 's/.*last loss \([0-9.]*\).*/\1/p' "$tmp/step2")
check "the group's last loss matches one rank's ($l2 vs $l1)" '[ -n "$l1" ] && [ "$l1" = "$l2" ]'
timeout 300 "$MPIRUN" -np 3 --oversubscribe "$LOAA" bench step $flags --ranks-per-trial 2 >"$tmp/bad" 2>&1; rc=$?
check "3 ranks in groups of 2 are refused with one message" \
    '[ $rc -ne 0 ] && [ "$(grep -c "do not split into groups of 2" "$tmp/bad")" -eq 1 ]'
echo "1..$n"
exit $failed
