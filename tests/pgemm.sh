#!/bin/sh
# ScaLAPACK GEMM (kernels/pgemm.h) under mpirun with 1, 2 and 4 ranks, so
# every grid of 1, 2 and 4 ranks is covered (1x1, 1x2, 2x1, 1x4, 2x2, 4x1).
# Each run has a time limit, so a rank that hangs fails the test instead of
# stalling make check; the runs' TAP is renumbered into one plan.
n=0; failed=0
tmp=$(mktemp) || exit 1
trap 'rm -f "$tmp"' EXIT
for np in 1 2 4; do
    timeout 300 "$MPIRUN" -np "$np" --oversubscribe "$top_builddir/tests/test_pgemm" >"$tmp" 2>&1
    rc=$?
    while IFS= read -r line; do
        case $line in
        "ok "*) n=$((n+1)); echo "ok $n - np $np:${line#ok [0-9]* -}" ;;
        "not ok "*) n=$((n+1)); failed=1; echo "not ok $n - np $np:${line#not ok [0-9]* -}" ;;
        1..*) ;;
        *) echo "# $line" ;;
        esac
    done <"$tmp"
    n=$((n+1))
    if [ "$rc" -eq 0 ]; then
        echo "ok $n - np $np: every rank exited cleanly"
    else
        failed=1
        echo "not ok $n - np $np: mpirun exit status $rc (124: a rank hung past 300 s)"
    fi
done
echo "1..$n"
exit $failed
