/*
 * commands.h - every `loaa` subcommand, one function each.
 *
 * A command receives argv with argv[0] = its own name and returns the
 * process exit code: 0 success, 1 failure (message already printed),
 * 2 usage error. Commands join the table in cli/loaa.c.
 */
#ifndef LOAA_COMMANDS_H
#define LOAA_COMMANDS_H

typedef int (*loaa_command_fn)(int argc, char **argv);

typedef struct loaa_command {
    const char *name;
    loaa_command_fn fn;
    const char *help;   /* one line for `loaa help` */
    const char *usage;  /* full text for `loaa help NAME` */
} loaa_command;

/* The table, terminated by a {NULL} entry. */
extern const loaa_command loaa_commands[];

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

/* Prints "loaa NAME: message" for a failed status with its detail; returns 1 (2 for usage). */
int loaa_cli_report(const char *command, int status);

/* Shared argument helpers (cli/args.c). */
#include "common/config.h"

/* The whole text file, NUL-terminated; caller frees. NULL when it cannot be read or passes 16 MiB. */
char *loaa_cli_read_file(const char *path);

/* Flag value as an integer (or number) in [lo, hi]: 1 and *out set, or 0 with a LOAA_ERR_USAGE detail naming the flag. */
int loaa_cli_long(const char *flag, const char *v, long lo, long hi, long *out);
int loaa_cli_double(const char *flag, const char *v, double lo, double hi, double *out);

/*
 * The optional leading CONFIG.json of `loaa config` and `loaa train`: when
 * argv[*next] is not a flag, cfg becomes the defaults plus that file's keys
 * and *next advances past it. Errors name the file; cfg is then unspecified.
 */
loaa_status loaa_cli_config_file(loaa_config *cfg, int argc, char **argv, int *next);

#endif
