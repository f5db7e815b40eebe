/*
 * bench_group.h - benchmarks on groups of ranks (cli/cmd_bench_gemm.c):
 * `loaa bench gemm`, and what `loaa bench step --ranks-per-trial g`
 * (cli/cmd_bench.c) needs to train one model on a group under mpirun.
 */
#ifndef LOAA_BENCH_GROUP_H
#define LOAA_BENCH_GROUP_H

#include "common/config.h"
#include "common/status.h"
#include "kernels/model.h"

/* `loaa bench gemm`: the model's GEMM shapes, cblas_sgemm against psgemm_ on small grids. */
int loaa_bench_gemm(int argc, char **argv);

/*
 * Starts MPI if needed, splits the world into groups of cfg->ranks_per_trial
 * consecutive ranks and puts the model on its group (grid cfg->grid_p x
 * grid_q, 0 x 0 = automatic). Collective over the world; a no-op returning
 * world rank 0 when ranks_per_trial <= 1. LOAA_ERR_CONFIG when the world
 * does not split into such groups; the status is the same on every rank.
 */
loaa_status loaa_bench_join_group(loaa_model *m, const loaa_config *cfg, int *world_rank);

/* 1 while MPI is initialised and not finalised. */
int loaa_bench_in_world(void);

/* HPL timing: a barrier over the world before the clock starts; no-op without MPI. */
void loaa_bench_world_barrier(void);

/* The max (sum != 0: the sum) of v over the world; v itself without MPI. */
double loaa_bench_world_reduce(double v, int sum);

/* MPI_Finalize, if loaa_bench_join_group started MPI. */
void loaa_bench_finish(void);

#endif
