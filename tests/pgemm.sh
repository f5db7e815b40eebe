#!/bin/sh
# ScaLAPACK GEMM (kernels/pgemm.h) under mpirun with 1, 2 and 4 ranks, so
# every grid of 1, 2 and 4 ranks is covered (1x1, 1x2, 2x1, 1x4, 2x2, 4x1).
. "$top_srcdir/tests/mpi_ranks.sh"
mpi_ranks test_pgemm 1 2 4
