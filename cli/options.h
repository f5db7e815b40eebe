/*
 * options.h - the one option parser of every `loaa` command: a per-command
 * table of options (name, kind, destination, help) that reads argv and
 * prints the command's help (modelled on git's parse-options, our own code).
 *
 *     int top = 5, json = 0;
 *     const char *adapter = NULL;
 *     const loaa_option opts[] = {
 *         OPT_PATH("adapter", &adapter, "A.safetensors", "the trained adapter file (required)"),
 *         OPT_INT("top", &top, 1, 100000, "K", "classes printed per file (default 5)"),
 *         OPT_FLAG("json", &json, "one JSON document with the top classes and all logits"),
 *         OPT_END(),
 *     };
 *     const loaa_cli_spec spec = {"predict", predict_usage, opts, LOAA_CLI_ANY_ARGS};
 *     int rc, nargs = loaa_cli_parse(&spec, argc, argv, &rc);
 *     if (nargs < 0)
 *         return rc;         // --help printed (0), or an error reported (2 usage, 1 bad trial key)
 *     // argv[1..nargs] now hold the positional arguments, in order
 *
 * Rules: `--NAME VALUE` (the next argument is the value whatever it looks
 * like), `-X` for options with a short name, `--` ends the options, a lone
 * `-` is a positional argument; options and positional arguments may mix
 * (unless LOAA_CLI_STOP_AT_ARG). `-h` / `--help` prints the help (unless the
 * table has its own "help" entry). Every error names the option and the
 * bad value. Adding an option to a command is one table entry.
 */
#ifndef LOAA_OPTIONS_H
#define LOAA_OPTIONS_H

#include <stdint.h>
#include <stdio.h>

#include "common/status.h"

typedef enum loaa_opt_kind {
    LOAA_OPT_END = 0,
    LOAA_OPT_SET_INT,    /* int *: set to .value; no value (flags: 1) */
    LOAA_OPT_BIT,        /* int *: |= .value; no value */
    LOAA_OPT_INT,        /* int *: an integer in [min, max] */
    LOAA_OPT_INT64,      /* int64_t *: an integer in [min, max] */
    LOAA_OPT_DOUBLE,     /* double *: a number in [min, max] */
    LOAA_OPT_STRING,     /* const char **: any text */
    LOAA_OPT_PATH,       /* const char **: a non-empty path */
    LOAA_OPT_CHOICE,     /* int * (or an int-sized enum): the value of one name of .choices */
    LOAA_OPT_CALLBACK,   /* .cb(.dest, value); value NULL when .arg is NULL (no value) */
    LOAA_OPT_CONFIG_KEY, /* loaa_config *: trial key .key from the value (another spelling of a key) */
    LOAA_OPT_CONFIG_KEYS /* loaa_config *: every --KEY VALUE that is no other option sets trial key KEY */
} loaa_opt_kind;

/* One allowed word of a CHOICE option and the value it stores; {NULL} ends the list. */
typedef struct loaa_opt_choice {
    const char *name;
    int value;
} loaa_opt_choice;

/* A CALLBACK option's action; a failure status (with its detail) stops the parse. */
typedef loaa_status (*loaa_opt_fn)(void *dest, const char *value);

/* CALLBACK flag: the value is optional and taken only when the next argument starts with a digit. */
#define LOAA_OPT_NUMERIC_OPTARG 1u

typedef struct loaa_option {
    loaa_opt_kind kind;
    const char *name;               /* long name, without "--" */
    char short_name;                /* -X, or 0 */
    void *dest;
    const char *arg;                /* the value's name in usage and help ("N", "FILE"), as git's argh; NULL: a flag */
    const char *help;               /* one line; NULL hides the option from the help */
    double min, max;                /* INT, INT64, DOUBLE: inclusive range (LOAA_OPT_NO_MAX: none) */
    int value;                      /* SET_INT, BIT */
    const loaa_opt_choice *choices; /* CHOICE */
    loaa_opt_fn cb;                 /* CALLBACK */
    const char *key;                /* CONFIG_KEY */
    unsigned flags;                 /* LOAA_OPT_NUMERIC_OPTARG */
} loaa_option;

/* No upper bound (2^53: every integer below it is exact in a double). */
#define LOAA_OPT_NO_MAX 9007199254740992.0

#define OPT_END() {.kind = LOAA_OPT_END}
#define OPT_FLAG(n, d, h) {.kind = LOAA_OPT_SET_INT, .name = (n), .dest = (d), .help = (h), .value = 1}
#define OPT_SET_INT(n, d, v, h) {.kind = LOAA_OPT_SET_INT, .name = (n), .dest = (d), .help = (h), .value = (v)}
#define OPT_BIT(n, d, v, h) {.kind = LOAA_OPT_BIT, .name = (n), .dest = (d), .help = (h), .value = (v)}
#define OPT_INT(n, d, lo, hi, a, h) {.kind = LOAA_OPT_INT, .name = (n), .dest = (d), .arg = (a), .help = (h), .min = (lo), .max = (hi)}
#define OPT_INT64(n, d, lo, hi, a, h) {.kind = LOAA_OPT_INT64, .name = (n), .dest = (d), .arg = (a), .help = (h), .min = (lo), .max = (hi)}
#define OPT_DOUBLE(n, d, lo, hi, a, h) {.kind = LOAA_OPT_DOUBLE, .name = (n), .dest = (d), .arg = (a), .help = (h), .min = (lo), .max = (hi)}
#define OPT_STRING(n, d, a, h) {.kind = LOAA_OPT_STRING, .name = (n), .dest = (d), .arg = (a), .help = (h)}
#define OPT_PATH(n, d, a, h) {.kind = LOAA_OPT_PATH, .name = (n), .dest = (d), .arg = (a), .help = (h)}
#define OPT_CHOICE(n, d, c, a, h) {.kind = LOAA_OPT_CHOICE, .name = (n), .dest = (d), .arg = (a), .help = (h), .choices = (c)}
#define OPT_CALLBACK(n, d, f, a, h) {.kind = LOAA_OPT_CALLBACK, .name = (n), .dest = (d), .arg = (a), .help = (h), .cb = (f)}
#define OPT_CONFIG_KEY(n, cfg, k, a, h) {.kind = LOAA_OPT_CONFIG_KEY, .name = (n), .dest = (cfg), .arg = (a), .help = (h), .key = (k)}
#define OPT_CONFIG_KEYS(cfg, h) {.kind = LOAA_OPT_CONFIG_KEYS, .name = "KEY", .dest = (cfg), .arg = "VALUE", .help = (h)}

/* loaa_cli_spec.max_args: no limit on positional arguments. */
#define LOAA_CLI_ANY_ARGS (-1)
/* loaa_cli_spec.flags: the first positional argument ends the options (it and the rest stay as they are). */
#define LOAA_CLI_STOP_AT_ARG 1u

typedef struct loaa_cli_spec {
    const char *command;        /* as in messages and help: "predict", "bench step"; NULL: loaa's own options */
    const char *usage;          /* "usage: ..." lines, then a description; every line ends in '\n' */
    const loaa_option *options; /* ends with OPT_END() */
    int max_args;               /* positional arguments allowed (0 by default), or LOAA_CLI_ANY_ARGS */
    unsigned flags;             /* LOAA_CLI_STOP_AT_ARG */
} loaa_cli_spec;

/*
 * Parses argv[1..argc-1] by spec, filling the destinations in argument order
 * (a later option wins). Returns the number of positional arguments, moved
 * to argv[1..n] (argv[n+1] = NULL). Returns -1 when the command must stop
 * with *exit_code: 0 after printing the help to stdout; 2 after reporting a
 * usage error (an unknown option, a missing or bad value, too many
 * arguments) as "loaa CMD: usage error: ..."; 1 after reporting a trial key
 * that loaa_config_set_text refused.
 */
int loaa_cli_parse(const loaa_cli_spec *spec, int argc, char **argv, int *exit_code);

/* The help of spec: "loaa CMD - summary" (when the command table has one), the usage text, then one line per option. */
void loaa_cli_print_help(const loaa_cli_spec *spec, FILE *out);

#endif
