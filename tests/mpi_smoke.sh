#!/bin/sh
# MPI integration smoke test: the root and oversubscribe settings of the
# architecture page let three ranks start, split and reduce on this machine.
exec "$MPIRUN" -np 3 --oversubscribe "$top_builddir/tests/test_mpi_smoke"
