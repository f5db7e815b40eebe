/*
 * cmd_sweep.c - `loaa sweep FILE --db DB`: under mpirun, rank 0 coordinates
 * and ranks 1..N-1 work in groups of ranks_per_trial; with --dry-run, a
 * plain process prints the expanded trials.
 *
 * Every check (sweep file, database lock, chained backbones, expansion)
 * happens on rank 0 before any worker starts; the outcome is broadcast (a
 * non-blocking broadcast waited on with back-off, so waiting workers do not
 * spin), and on failure every rank exits with status 1.
 */
#include "config.h"

#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/commands.h"
#include "cli/options.h"
#include "common/log.h"
#include "common/status.h"
#include "coordinator/coordinator.h"
#include "kernels/gemm.h"
#include "worker/launcher.h"

static const char sweep_usage[] =
    "usage: mpirun -np N loaa sweep FILE.yaml --db results.db [--artifacts DIR] [--retry-failed]\n"
    "                  [--max-trials N] [--progress|--no-progress]\n"
    "       loaa sweep --dry-run FILE.yaml [--db results.db] [--max-trials N]\n"
    "Rank 0 coordinates (the only database writer); ranks 1..N-1 train in groups of\n"
    "ranks_per_trial. Rerunning the same command resumes: finished trials are kept,\n"
    "interrupted ones continue from their last checkpoint.\n";

static int usage_error(const char *what)
{
    return loaa_cli_report("sweep", loaa_fail(LOAA_ERR_USAGE, "%s (see 'loaa sweep --help')", what));
}

/*
 * Rank 0's checks before any worker starts: opens the coordinator (*c) and
 * fills info = {status, ranks_per_trial, number of groups}; a failure is
 * reported here and left in info[0].
 */
static void open_on_rank0(loaa_coordinator **c, const loaa_sweep_opts *o, int size, int info[3])
{
    loaa_status st;
    if (size < 2)
        st = loaa_fail(LOAA_ERR_USAGE, "needs a coordinator and at least one worker: mpirun -np 2 (or more) loaa sweep ...");
    else {
        loaa_sweep_opts checked = *o;
        checked.bf16_level = loaa_gemm_bf16_level(); /* a cpuid query: starts no OpenMP thread */
        checked.cpu_isa = loaa_gemm_isa();
        st = loaa_coordinator_open(c, &checked);
    }
    if (!st) {
        info[1] = loaa_coordinator_ranks_per_trial(*c);
        info[2] = (size - 1) / info[1];
        if (info[2] == 0)
            st = loaa_fail(LOAA_ERR_CONFIG, "ranks_per_trial %d needs at least %d ranks (one coordinator + one group), got %d",
                           info[1], info[1] + 1, size);
        else if ((size - 1) % info[1])
            loaa_warn("%d worker ranks do not divide into groups of %d: %d rank(s) stay idle", size - 1, info[1],
                      (size - 1) % info[1]);
    }
    info[0] = st;
    if (st)
        loaa_cli_report("sweep", st);
}

/* Rank 0: runs the sweep over the groups' leaders (world ranks 1, 1 + rpt, ...) and closes c. Aborts the job on failure. */
static loaa_status coordinate(loaa_coordinator *c, int rpt, int n_groups)
{
    int *leaders = malloc((size_t)n_groups * sizeof *leaders);
    loaa_status st;
    if (!leaders) {
        st = loaa_fail(LOAA_ERR_NOMEM, "out of memory");
    } else {
        for (int g = 0; g < n_groups; g++)
            leaders[g] = 1 + g * rpt;
        st = loaa_coordinator_run(c, MPI_COMM_WORLD, leaders, n_groups);
        if (st) {
            loaa_cli_report("sweep", st);
            /* The workers wait for work that will not come: end the job. */
            loaa_coordinator_close(c);
            c = NULL;
            MPI_Abort(MPI_COMM_WORLD, 1);
        }
        free(leaders);
    }
    loaa_coordinator_close(c);
    return st;
}

/* The MPI run: every rank calls it; returns the exit code. */
static int run_sweep(const loaa_sweep_opts *o, int *argc, char ***argv)
{
    MPI_Init(argc, argv);
    int rank, size;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    if (rank > 0)
        loaa_log_set_rank(rank);

    int info[3] = {LOAA_OK, 1, 0};
    loaa_coordinator *c = NULL;
    if (rank == 0)
        open_on_rank0(&c, o, size, info);
    MPI_Request req;
    MPI_Ibcast(info, 3, MPI_INT, 0, MPI_COMM_WORLD, &req);
    loaa_launcher_wait_request(&req); /* the workers' back-off (common/protocol.h) */
    if (info[0] != LOAA_OK) {
        loaa_coordinator_close(c);
        loaa_launcher_shutdown();
        MPI_Finalize();
        return info[0] == LOAA_ERR_USAGE ? 2 : 1;
    }
    int rpt = info[1], n_groups = info[2];
    int color = rank == 0 ? 0 : ((rank - 1) / rpt < n_groups ? 1 + (rank - 1) / rpt : MPI_UNDEFINED);
    MPI_Comm group;
    MPI_Comm_split(MPI_COMM_WORLD, color, rank, &group);

    loaa_status st = LOAA_OK;
    if (rank == 0) {
        st = coordinate(c, rpt, n_groups);
    } else if (group != MPI_COMM_NULL) {
        st = loaa_launcher_worker_run(MPI_COMM_WORLD, group);
        if (st) {
            loaa_cli_report("sweep", st);
            MPI_Abort(MPI_COMM_WORLD, 1);
        }
    }
    loaa_launcher_shutdown();
    if (group != MPI_COMM_NULL)
        MPI_Comm_free(&group);
    MPI_Finalize();
    return st ? 1 : 0;
}

int cmd_sweep(int argc, char **argv)
{
    loaa_sweep_opts o = {.progress = -1};
    int dry_run = 0, rc;
    const loaa_option opts[] = {
        OPT_PATH("db", &o.db_path, "results.db", "the results database (required, except with --dry-run)"),
        OPT_PATH("artifacts", &o.artifacts, "DIR", "checkpoints, adapter files, trial logs (default: 'artifacts' beside the database)"),
        OPT_FLAG("retry-failed", &o.retry_failed, "run failed trials again"),
        OPT_FLAG("dry-run", &dry_run, "print the expanded trials and their count (no MPI needed)"),
        OPT_INT64("max-trials", &o.max_trials, 1, LOAA_OPT_NO_MAX, "N", "cap on the number of expanded trials"),
        OPT_SET_INT("progress", &o.progress, 1, "redraw one progress line (default on a terminal)"),
        OPT_SET_INT("no-progress", &o.progress, 0, "print plain progress lines"),
        OPT_END(),
    };
    const loaa_cli_spec spec = {.command = "sweep", .usage = sweep_usage, .options = opts, .max_args = 1};
    int nargs = loaa_cli_parse(&spec, argc, argv, &rc);
    if (nargs < 0)
        return rc;
    if (nargs == 0)
        return usage_error("no sweep file");
    o.sweep_path = argv[1];
    if (dry_run)
        return loaa_cli_report("sweep", loaa_sweep_dry_run(&o, stdout));
    if (!o.db_path)
        return usage_error("--db is required");
    return run_sweep(&o, &argc, &argv);
}
