#!/bin/sh
# One trial trained by a group of 1, 2 and 4 ranks (grids 1x1, 1x2, 2x1,
# 2x2) against the single-rank run: vit-micro, loaa-tf and full, 20 steps.
. "$top_srcdir/tests/mpi_ranks.sh"
mpi_ranks test_model_dist 1 2 4
