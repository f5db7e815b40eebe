/*
 * commands.h - every `loaa` subcommand, one function each, and the helpers
 * they share (cli/args.c; the option parser is cli/options.h).
 *
 * A command receives argv with argv[0] = its own name and returns the
 * process exit code: 0 success, 1 failure (message already printed),
 * 2 usage error. Commands join the static table in cli/loaa.c; a command
 * with subcommands (bench) has a table of its own, named by its entry.
 */
#ifndef LOAA_COMMANDS_H
#define LOAA_COMMANDS_H

#include <stdint.h>
#include <stdio.h>

#include "cli/options.h"
#include "common/config.h"
#include "common/status.h"

typedef int (*loaa_command_fn)(int argc, char **argv);

/*
 * Command flags: special start-up steps main() takes before calling the
 * command (git's RUN_SETUP style). LOAA_CMD_PREFORK: fork the crash-isolating
 * trial launcher before MPI_Init (worker/launcher.h); skipped when the
 * arguments hold --dry-run, --help or -h (those runs never start MPI).
 */
enum { LOAA_CMD_PREFORK = 1u << 0 };

typedef struct loaa_command {
    const char *name;
    loaa_command_fn fn;
    const char *summary;                   /* one line for `loaa help` and the head of `loaa help NAME` */
    unsigned flags;                        /* LOAA_CMD_* */
    const struct loaa_command *subcommands; /* {NULL}-terminated table (bench), or NULL */
} loaa_command;

/* The tables, terminated by a {NULL} entry. */
extern const loaa_command loaa_commands[];
extern const loaa_command loaa_bench_commands[];

int cmd_help(int argc, char **argv);
int cmd_version(int argc, char **argv);
int cmd_config(int argc, char **argv);
int cmd_bench(int argc, char **argv);
int cmd_sweep(int argc, char **argv);
int cmd_train(int argc, char **argv);
int cmd_report(int argc, char **argv);
int cmd_export(int argc, char **argv);
int cmd_predict(int argc, char **argv);
int cmd_synth(int argc, char **argv);
int cmd_pack(int argc, char **argv);

/* The summary of a command path ("train", "bench step") from the tables, or NULL for none. */
const char *loaa_cli_summary(const char *command);

/* loaa's usage line, the command list and where to find more (`loaa help`, `loaa --help`). */
void loaa_cli_print_usage(FILE *out);

/* "  NAME  summary" lines of a command table, names padded to width. */
void loaa_cli_print_commands(FILE *out, const loaa_command *table, int width);

/* Prints "loaa NAME: message" for a failed status with its detail; returns 1 (2 for usage). LOAA_OK: 0, prints nothing. */
int loaa_cli_report(const char *command, int status);

/* ---- Shared argument and file helpers (cli/args.c) ---- */

/* The words of --compress (loaa synth, loaa pack): none, gz, zst as loaa_compress values (worker/shard.h). */
extern const loaa_opt_choice loaa_cli_compress_choices[];

/* The whole text file, NUL-terminated; caller frees. NULL when it cannot be read or passes 16 MiB. */
char *loaa_cli_read_file(const char *path);

/*
 * Copies from to to atomically (to.tmp, then rename). LOAA_ERR_NOTFOUND
 * when from cannot be opened, LOAA_ERR_IO when to cannot be written (no
 * to.tmp is left behind); the detail names the file.
 */
loaa_status loaa_cli_copy_file(const char *from, const char *to);

/*
 * Option value text as an integer (or a finite number) in [lo, hi]
 * (hi = LOAA_OPT_NO_MAX: no upper bound). On failure *out is unchanged and
 * the LOAA_ERR_USAGE detail names the option and the text.
 */
loaa_status loaa_cli_int64(const char *flag, const char *text, double lo, double hi, int64_t *out);
loaa_status loaa_cli_double(const char *flag, const char *text, double lo, double hi, double *out);

/*
 * The optional leading CONFIG.json of `loaa config` and `loaa train`: when
 * argv[1] is no option, cfg becomes the defaults plus that file's keys and
 * the file leaves argv (*argc decreases by one). Errors name the file; cfg
 * is then unspecified.
 */
loaa_status loaa_cli_config_file(loaa_config *cfg, int *argc, char **argv);

#endif
