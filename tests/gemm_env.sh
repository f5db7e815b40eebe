#!/bin/sh
# tests/gemm_env.sh - the GEMM engine seen from the binary: loaa puts
# OMP_WAIT_POLICY=passive in its environment before libgomp loads (one
# re-exec, guarded by LOAA_OMP_REEXEC; gemm.h), keeps a policy the user set,
# `loaa version` names oneDNN's ISA, and `loaa bench gemm --precision bf16`
# runs the three engines on a small model's shapes.
n=0; failed=0
check() { n=$((n+1)); if eval "$2"; then echo "ok $n - $1"; else echo "not ok $n - $1"; failed=1; fi; }
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT

env -u OMP_WAIT_POLICY -u LOAA_OMP_REEXEC "$LOAA" version > "$tmp/v" 2>&1
check "without OMP_WAIT_POLICY loaa runs with passive" 'grep -q "^gemm: oneDNN [0-9.]* on [a-z0-9_]* (bf16 level [0-3]), OMP_WAIT_POLICY=passive$" "$tmp/v"'
OMP_WAIT_POLICY=active "$LOAA" version > "$tmp/a" 2>&1
check "a policy the user set is kept" 'grep -q "OMP_WAIT_POLICY=active$" "$tmp/a"'
env -u OMP_WAIT_POLICY LOAA_OMP_REEXEC=1 "$LOAA" version > "$tmp/g" 2>&1; rc=$?
# (tests/valgrind.sh sets the policy itself, so under valgrind it is never unset)
check "the guard stops a second re-exec (the policy stays unset, no loop)" \
    '[ $rc -eq 0 ] && { [ "${LOAA_VALGRIND:-0}" = 1 ] || grep -q "OMP_WAIT_POLICY=(unset" "$tmp/g"; }'
"$LOAA" bench gemm --precision bf16 --model vit-tiny --batch 1 --tokens 17 --classes 5 --reps 1 > "$tmp/b" 2>&1; rc=$?
check "bench gemm --precision bf16 prints every engine and the peaks" \
    '[ $rc -eq 0 ] && grep -q "^qkv .* dnnl-bf16 " "$tmp/b" && grep -q "^1024^3 .* dnnl-f32 " "$tmp/b" && grep -q "^result: .*bf16_peak=" "$tmp/b"'
"$LOAA" bench gemm --precision fp16 > "$tmp/e" 2>&1; rc=$?
check "bench gemm --precision fp16 is refused" '[ $rc -eq 2 ]'
[ $failed = 0 ] || sed 's/^/# /' "$tmp/v" "$tmp/b" | tail -20
echo "1..$n"
exit $failed
