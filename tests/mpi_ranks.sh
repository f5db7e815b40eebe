#!/bin/sh
# Sourced by MPI tests: mpi_ranks PROGRAM NP... runs PROGRAM (which prints
# TAP on rank 0) under mpirun once per rank count, with a time limit so a
# rank that hangs fails the test instead of stalling make check, and
# renumbers the runs' TAP into one plan. Exits with the verdict. With
# LOAA_VALGRIND=1 every rank runs under memcheck (tests/valgrind.sh) and the
# limit stretches by lib.sh's time_factor.
. "$top_srcdir/tests/lib.sh"
mpi_ranks() {
    prog=$1; shift
    n=0; failed=0
    tmp=$(mktemp) || exit 1
    limit=$(scaled 300)
    run=$top_builddir/tests/$prog
    if [ "${LOAA_VALGRIND:-0}" = 1 ]; then LOAA_BIN=$run run=$top_srcdir/tests/valgrind.sh; export LOAA_BIN; fi
    for np in "$@"; do
        timeout "$limit" "$MPIRUN" -np "$np" --oversubscribe "$run" >"$tmp" 2>&1
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
            echo "not ok $n - np $np: mpirun exit status $rc (124: a rank hung past $limit s; 99: memcheck found an error)"
        fi
    done
    rm -f "$tmp"
    echo "1..$n"
    exit $failed
}
