/*
 * test_mpi_smoke.c - run under mpirun: every rank takes part in a split and
 * an allreduce the way loaa's worker groups do, and rank 0 prints TAP.
 */
#include <mpi.h>
#include <stdio.h>

#include "tests/tap.h"

int main(int argc, char **argv)
{
    int rank, size;
    MPI_Init(&argc, &argv);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);

    int sum = 0;
    MPI_Allreduce(&rank, &sum, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD);

    /* Rank 0 alone (the coordinator), workers in groups of two. */
    MPI_Comm group;
    int color = rank == 0 ? 0 : 1 + (rank - 1) / 2;
    MPI_Comm_split(MPI_COMM_WORLD, color, rank, &group);
    int group_size;
    MPI_Comm_size(group, &group_size);
    int sizes_ok = rank == 0 ? group_size == 1 : group_size >= 1 && group_size <= 2;
    int all_ok = 0;
    MPI_Allreduce(&sizes_ok, &all_ok, 1, MPI_INT, MPI_LAND, MPI_COMM_WORLD);

    if (rank == 0) {
        TAP_OK(size >= 3, "at least 3 ranks (got %d)", size);
        TAP_OK(sum == size * (size - 1) / 2, "allreduce of ranks");
        TAP_OK(all_ok, "worker groups of ranks_per_trial=2 after splitting off rank 0");
    }
    MPI_Comm_free(&group);
    MPI_Finalize();
    return rank == 0 ? tap_done() : 0;
}
