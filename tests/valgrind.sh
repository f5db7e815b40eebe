#!/bin/sh
# tests/valgrind.sh - stands in for the loaa binary when LOAA_VALGRIND=1
# (Makefile.am points $LOAA here; scripts/check --valgrind sets it): runs
# $LOAA_BIN under valgrind memcheck, as mpirun starts it on every rank
# (tests/mpi_ranks.sh points LOAA_BIN at its MPI test program the same way). A
# memory error makes the process exit 99, which the test sees as a failure;
# the launcher and trial processes it forks stay under valgrind. Leaks are
# LeakSanitizer's job (scripts/check --sanitizers), so they are not reported
# here; Open MPI's own suppressions and tests/valgrind.supp (each entry
# explained) silence known false positives and the crashes tests ask for.
# Each process logs to $LOAA_VALGRIND_LOGS/PID.log (empty when clean).
supp=
for f in /usr/share/openmpi/openmpi-valgrind.supp "$(dirname "$0")/valgrind.supp"; do
    [ -f "$f" ] && supp="$supp --suppressions=$f"
done
# loaa re-executes itself when OMP_WAIT_POLICY is unset (kernels/gemm.h), which would leave valgrind: set it.
OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-passive}
export OMP_WAIT_POLICY
exec valgrind --tool=memcheck -q --error-exitcode=99 --leak-check=no --track-origins=no \
    --log-file="${LOAA_VALGRIND_LOGS:-/tmp}/loaa-valgrind.%p.log" $supp "$LOAA_BIN" "$@"
