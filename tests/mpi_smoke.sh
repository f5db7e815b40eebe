#!/bin/sh
# MPI integration smoke test: the root and oversubscribe settings of the
# architecture page let three ranks start, split and reduce on this machine.
. "$top_srcdir/tests/mpi_ranks.sh"
mpi_ranks test_mpi_smoke 3
