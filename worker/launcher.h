/*
 * launcher.h - the worker side of `loaa sweep`: the trial launcher forked
 * before MPI_Init (crash isolation), and the worker ranks' loop.
 *
 * Open MPI aborts the whole job when a rank dies, so with ranks_per_trial 1
 * a worker never trains inside its MPI process: main() calls
 * loaa_launcher_prefork() before MPI_Init; on a worker rank (the environment
 * mpirun sets says which) it forks a small launcher process that has no MPI
 * state and an environment without OMPI_* / PMIX_*. For each trial the
 * worker writes the TRIAL line to the launcher, which forks one trial
 * process; that process streams EPOCH / RESULT / FAILED lines back (pipe
 * protocol in common/protocol.h) and writes its output to DIR/trial.log.
 * A trial process that dies (segfault, abort, OOM kill) is reported as
 * FAILED with its signal and crash = true; the worker rank lives on.
 * Every process in the chain asks to die with its parent (PR_SET_PDEATHSIG),
 * so killing mpirun leaves nothing behind.
 *
 * With ranks_per_trial > 1 the group trains inside the MPI processes (the
 * group communicator goes to the trial runner, for distributed GEMM); the
 * group agrees on failure with an allreduce of a status flag, so one failed
 * rank makes one FAILED report and no rank hangs.
 */
#ifndef LOAA_LAUNCHER_H
#define LOAA_LAUNCHER_H

#include <mpi.h>

#include "common/status.h"

/*
 * To be called in main() before MPI_Init when the command is `sweep`.
 * Under mpirun: every rank asks for PR_SET_PDEATHSIG (SIGKILL for workers,
 * SIGTERM for rank 0 so it can flush), and a worker rank forks its launcher
 * (which never returns from this call). Without mpirun: does nothing.
 */
void loaa_launcher_prefork(void);

/* 1 when this process has a launcher to run trials in. */
int loaa_launcher_ready(void);

/*
 * The loop of a worker rank, until the coordinator (world rank 0) sends
 * STOP. group: this rank's group (its lowest rank, the leader, talks to the
 * coordinator). Errors: MPI or protocol failures (LOAA_ERR_MPI); trial
 * failures are reported to the coordinator, not returned.
 */
loaa_status loaa_launcher_worker_run(MPI_Comm world, MPI_Comm group);

/*
 * Waits for a non-blocking request (Ibcast, Iallreduce) to complete without
 * spinning: MPI_Test with the worker's back-off between tries (common/protocol.h,
 * LOAA_PROTO_BACKOFF_MIN_S doubling up to LOAA_PROTO_BACKOFF_MAX_WORKER_S).
 */
void loaa_launcher_wait_request(MPI_Request *req);

/* Closes the launcher's pipe and reaps it. */
void loaa_launcher_shutdown(void);

#endif
