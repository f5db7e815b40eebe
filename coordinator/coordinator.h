/*
 * coordinator.h - rank 0 of `loaa sweep`: prepares the sweep (file, store,
 * chained backbones, expansion) before any worker starts, then schedules
 * trials dynamically over the worker groups and records what they report.
 *
 *     loaa_coordinator *c;
 *     st = loaa_coordinator_open(&c, &opts);          // every check first
 *     ... broadcast st and ranks_per_trial, split the groups ...
 *     st = loaa_coordinator_run(c, MPI_COMM_WORLD, leaders, n_groups);
 *     loaa_coordinator_close(c);
 *
 * Scheduling: pending trials in expansion order go to whichever group is
 * free; epoch reports are recorded and, with early_terminate, answered
 * continue/stop; a crash of a trial's own process counts an attempt and
 * requeues it until max_attempts; any other failure is final. The store is
 * flushed in batches (by time and size). While idle the coordinator polls
 * with MPI_Iprobe and a sleep that doubles up to 2 ms, never spinning.
 * SIGTERM/SIGINT: the batch is flushed, running trials are marked
 * interrupted (no attempt counted) and the process exits with 128+signal.
 *
 * Failure: the status with a detail (file:line:col for sweep errors; the
 * database path for store errors; the holder's pid for a locked database).
 */
#ifndef LOAA_COORDINATOR_H
#define LOAA_COORDINATOR_H

#include <mpi.h>
#include <stdint.h>
#include <stdio.h>

#include "common/status.h"

typedef struct loaa_sweep_opts {
    const char *sweep_path;
    const char *db_path;
    const char *artifacts;  /* NULL = "artifacts" beside the database */
    int retry_failed;       /* failed trials run again (attempts reset) */
    int reselect_backbones; /* chained backbones chosen again, not kept as this sweep's trials resolved them */
    int64_t max_trials;     /* cap on the expansion (0 = default) */
    int progress;           /* -1: redraw on a TTY, plain lines otherwise; 0: plain lines; 1: redraw */
    int bf16_level;         /* this node's kernels' loaa_gemm_bf16_level(): a bf16 trial is refused at 0 */
    const char *cpu_isa;    /* oneDNN's ISA name for the messages; NULL = precision not checked */
} loaa_sweep_opts;

typedef struct loaa_coordinator loaa_coordinator;

loaa_status loaa_coordinator_open(loaa_coordinator **out, const loaa_sweep_opts *opts);
void loaa_coordinator_close(loaa_coordinator *c);

int loaa_coordinator_ranks_per_trial(const loaa_coordinator *c);

/* Schedules until every trial of the expansion is finished, pruned or failed; then sends STOP to every leader. */
loaa_status loaa_coordinator_run(loaa_coordinator *c, MPI_Comm world, const int *leaders, int n_groups);

/* Sends STOP to every leader (used when the run cannot start). */
void loaa_coordinator_stop_all(MPI_Comm world, const int *leaders, int n_groups);

/*
 * The TRIAL payload (common/protocol.h) of a stored trial, built with jansson
 * as the workers build theirs: config_json and exec_json are the stored
 * canonical texts (JSON objects), dir the trial folder. Members in the
 * protocol's order, compact; a worker reads the same values as from the
 * stored texts (tests/test_sweep checks it). Caller frees; NULL when either
 * text is not a JSON object, dir is not UTF-8, or no memory.
 */
char *loaa_coordinator_trial_payload(int64_t trial_id, int attempt, const char *config_json, const char *exec_json, const char *dir,
                                     int early);

/*
 * `loaa sweep --dry-run`: checks the file and prints every distinct trial
 * (number, identity prefix, swept keys) and the count. With an existing
 * database, chained backbones are resolved from it (read only) and each
 * trial's recorded state is shown.
 */
loaa_status loaa_sweep_dry_run(const loaa_sweep_opts *opts, FILE *out);

#endif
