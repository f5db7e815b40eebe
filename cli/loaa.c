/*
 * loaa.c - the `loaa` binary: global flags, then one subcommand from a
 * static {name, fn, summary, flags, subcommands} table (git style; the
 * flags ask main() for special start-up steps, e.g. LOAA_CMD_PREFORK).
 */
#include "config.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/commands.h"
#include "cli/options.h"
#include "common/log.h"
#include "common/status.h"
#include "kernels/gemm.h"
#include "worker/launcher.h"

const loaa_command loaa_commands[] = {
    {"help", cmd_help, "show commands, or the full help of one (loaa help CMD; loaa help keys)", 0, NULL},
    {"version", cmd_version, "print the version and the libraries in use", 0, NULL},
    {"config", cmd_config, "validate a trial config; print its canonical JSON and identity hash", 0, NULL},
    {"bench", cmd_bench, "benchmarks: bench step (training step), bench data (front end), bench gemm (BLAS vs ScaLAPACK)", 0,
     loaa_bench_commands},
    {"synth", cmd_synth, "write a deterministic synthetic audio or image dataset (loaa dataset layout)", 0, NULL},
    {"predict", cmd_predict, "classify audio files with a trained adapter file (top-k classes, --json)", 0, NULL},
    {"sweep", cmd_sweep, "run a sweep file's trials under mpirun, recording results in SQLite", LOAA_CMD_PREFORK, NULL},
    {"train", cmd_train, "train one trial config in this process (no MPI needed)", 0, NULL},
    {"report", cmd_report, "leaderboards and the cross-dataset table of a results database", 0, NULL},
    {"export", cmd_export, "copy a finished trial's adapter (or backbone) file out, with a JSON card", 0, NULL},
    {"pack", cmd_pack, "turn a dataset on disk (esc50, spc2, epic-sounds, csv) into a loaa dataset folder", 0, NULL},
    {NULL, NULL, NULL, 0, NULL},
};

static const loaa_command *find_command(const loaa_command *table, const char *name, size_t len)
{
    for (const loaa_command *c = table; c && c->name; c++)
        if (strlen(c->name) == len && strncmp(c->name, name, len) == 0)
            return c;
    return NULL;
}

const char *loaa_cli_summary(const char *command)
{
    const loaa_command *table = loaa_commands, *c = NULL;
    for (const char *p = command; table && *p;) {
        size_t len = strcspn(p, " ");
        if (!(c = find_command(table, p, len)))
            return NULL;
        table = c->subcommands;
        p += len + (p[len] == ' ');
    }
    return c ? c->summary : NULL;
}

void loaa_cli_print_commands(FILE *out, const loaa_command *table, int width)
{
    for (const loaa_command *c = table; c->name; c++)
        fprintf(out, "  %-*s %s\n", width, c->name, c->summary);
}

void loaa_cli_print_usage(FILE *out)
{
    fprintf(out, "usage: loaa [-q|-v] COMMAND [ARGS]\n\ncommands:\n");
    loaa_cli_print_commands(out, loaa_commands, 10);
    fprintf(out, "\n'loaa help COMMAND' (or 'loaa COMMAND --help') shows one command in full; 'loaa help keys' the trial keys.\n");
}

/* LOAA_CMD_PREFORK applies unless the run never starts MPI (dry run, help). */
static int wants_prefork(const loaa_command *c, int argc, char **argv)
{
    if (!(c->flags & LOAA_CMD_PREFORK))
        return 0;
    for (int k = 1; k < argc; k++)
        if (!strcmp(argv[k], "--dry-run") || !strcmp(argv[k], "--help") || !strcmp(argv[k], "-h"))
            return 0;
    return 1;
}

int loaa_cli_report(const char *command, int status)
{
    loaa_status st = (loaa_status)status;
    if (st == LOAA_OK)
        return 0;
    const char *detail = loaa_error_detail();
    fprintf(stderr, "loaa %s: %s%s%s\n", command, loaa_strerror(st), detail[0] ? ": " : "", detail);
    return st == LOAA_ERR_USAGE ? 2 : 1;
}

static loaa_status set_quiet(void *unused, const char *value)
{
    (void)unused, (void)value;
    loaa_log_quiet();
    return LOAA_OK;
}

static loaa_status set_verbose(void *unused, const char *value)
{
    (void)unused, (void)value;
    loaa_log_verbose();
    return LOAA_OK;
}

int main(int argc, char **argv)
{
    loaa_gemm_prepare_environment(argv); /* OMP_WAIT_POLICY before libgomp loads: may re-exec once (gemm.h) */
    int version = 0, help = 0, rc;
    const loaa_option opts[] = {
        {.kind = LOAA_OPT_CALLBACK, .name = "quiet", .short_name = 'q', .cb = set_quiet, .help = "print errors only"},
        {.kind = LOAA_OPT_CALLBACK, .name = "verbose", .short_name = 'v', .cb = set_verbose, .help = "print debug messages"},
        OPT_FLAG("version", &version, "print the version (loaa version)"),
        {.kind = LOAA_OPT_SET_INT, .name = "help", .short_name = 'h', .dest = &help, .value = 1, .help = "list the commands"},
        OPT_END(),
    };
    const loaa_cli_spec spec = {.command = NULL, .usage = NULL, .options = opts, .max_args = LOAA_CLI_ANY_ARGS, .flags = LOAA_CLI_STOP_AT_ARG};
    int nargs = loaa_cli_parse(&spec, argc, argv, &rc);
    if (nargs < 0 || help || (!version && nargs == 0)) {
        loaa_cli_print_usage(nargs < 0 || !help ? stderr : stdout);
        return nargs < 0 ? rc : help ? 0 : 2;
    }
    if (version)
        return cmd_version(1, argv);
    /* A file-size limit (ulimit -f) then fails writes with EFBIG, reported like a full disk, instead of killing us. */
    signal(SIGXFSZ, SIG_IGN);
    const loaa_command *c = find_command(loaa_commands, argv[1], strlen(argv[1]));
    if (!c) {
        fprintf(stderr, "loaa: '%s' is not a loaa command.\n\n", argv[1]);
        loaa_cli_print_usage(stderr);
        return 2;
    }
    if (wants_prefork(c, nargs, argv + 1))
        loaa_launcher_prefork();
    return c->fn(nargs, argv + 1);
}
