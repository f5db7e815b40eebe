/* options.c - the table-driven option parser and help printer of cli/options.h. */
#include <assert.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/commands.h"
#include "cli/options.h"
#include "common/config.h"
#include "common/status.h"

/* The option named name (short_name when name is NULL), or NULL. */
static const loaa_option *find_option(const loaa_option *opts, const char *name, char short_name)
{
    for (const loaa_option *o = opts; o->kind != LOAA_OPT_END; o++) {
        if (o->kind == LOAA_OPT_CONFIG_KEYS)
            continue;
        if (name ? !strcmp(o->name, name) : (short_name && o->short_name == short_name))
            return o;
    }
    return NULL;
}

static const loaa_option *find_kind(const loaa_option *opts, loaa_opt_kind kind)
{
    for (const loaa_option *o = opts; o->kind != LOAA_OPT_END; o++)
        if (o->kind == kind)
            return o;
    return NULL;
}

/* Is choice i the first with its value? (Later names of a value are aliases, left out of messages.) */
static int first_of_value(const loaa_opt_choice *c, int i)
{
    for (int j = 0; j < i; j++)
        if (c[j].value == c[i].value)
            return 0;
    return 1;
}

/* "a, b or c": the first name of each value, for messages; buf is always terminated. */
static const char *choice_list(const loaa_opt_choice *c, char *buf, size_t cap)
{
    int count = 0;
    for (int i = 0; c[i].name; i++)
        count += first_of_value(c, i);
    size_t len = 0;
    buf[0] = '\0';
    for (int i = 0, k = 0; c[i].name && len < cap; i++) {
        if (!first_of_value(c, i))
            continue;
        const char *sep = k == 0 ? "" : k == count - 1 ? " or " : ", ";
        int n = snprintf(buf + len, cap - len, "%s%s", sep, c[i].name);
        len += n > 0 ? (size_t)n : 0;
        k++;
    }
    return buf;
}

/* Stores value (NULL for options without one) by o's kind. Failures carry a detail naming the option and the value. */
static loaa_status apply(const loaa_option *o, const char *flag, const char *value)
{
    int64_t i64;
    switch (o->kind) {
    case LOAA_OPT_SET_INT:
        *(int *)o->dest = o->value;
        return LOAA_OK;
    case LOAA_OPT_BIT:
        *(int *)o->dest |= o->value;
        return LOAA_OK;
    case LOAA_OPT_INT: {
        loaa_status st = loaa_cli_int64(flag, value, o->min, o->max < INT_MAX ? o->max : INT_MAX, &i64);
        if (!st)
            *(int *)o->dest = (int)i64;
        return st;
    }
    case LOAA_OPT_INT64:
        return loaa_cli_int64(flag, value, o->min, o->max, (int64_t *)o->dest);
    case LOAA_OPT_DOUBLE:
        return loaa_cli_double(flag, value, o->min, o->max, (double *)o->dest);
    case LOAA_OPT_PATH:
        if (!value[0])
            return loaa_fail(LOAA_ERR_USAGE, "%s needs a path, got ''", flag);
        /* fall through */
    case LOAA_OPT_STRING:
        *(const char **)o->dest = value;
        return LOAA_OK;
    case LOAA_OPT_CHOICE: {
        for (const loaa_opt_choice *c = o->choices; c->name; c++)
            if (!strcmp(c->name, value)) {
                *(int *)o->dest = c->value;
                return LOAA_OK;
            }
        char names[256];
        return loaa_fail(LOAA_ERR_USAGE, "%s must be %s, got '%s'", flag, choice_list(o->choices, names, sizeof names), value);
    }
    case LOAA_OPT_CALLBACK:
        return o->cb(o->dest, value);
    case LOAA_OPT_CONFIG_KEY:
        return loaa_config_set_text((loaa_config *)o->dest, o->key, value);
    case LOAA_OPT_CONFIG_KEYS:
        return loaa_config_set_text((loaa_config *)o->dest, flag + 2, value);
    case LOAA_OPT_END:
        break;
    }
    assert(!"an option of no known kind");
    return LOAA_ERR_INTERNAL;
}

/* One option at argv[*i] (advanced past its value). help_asked set for the built-in --help. */
static loaa_status parse_one(const loaa_cli_spec *spec, int argc, char **argv, int *i, int *help_asked)
{
    const char *a = argv[*i];
    int is_long = a[1] == '-';
    const loaa_option *o = is_long ? find_option(spec->options, a + 2, 0) : a[2] ? NULL : find_option(spec->options, NULL, a[1]);
    if (!o && (!strcmp(a, "--help") || !strcmp(a, "-h"))) {
        *help_asked = 1;
        return LOAA_OK;
    }
    if (!o && is_long)
        o = find_kind(spec->options, LOAA_OPT_CONFIG_KEYS);
    if (!o) {
        if (spec->command)
            return loaa_fail(LOAA_ERR_USAGE, "unknown option '%s' (see 'loaa %s --help')", a, spec->command);
        return loaa_fail(LOAA_ERR_USAGE, "unknown option '%s'", a);
    }
    const char *next = *i + 1 < argc ? argv[*i + 1] : NULL;
    int optional = (o->flags & LOAA_OPT_NUMERIC_OPTARG) != 0;
    if (!o->arg || (optional && !(next && next[0] >= '0' && next[0] <= '9')))
        return apply(o, a, NULL);
    if (!next)
        return loaa_fail(LOAA_ERR_USAGE, "%s needs a value (%s)", a, o->arg);
    *i += 1;
    return apply(o, a, next);
}

int loaa_cli_parse(const loaa_cli_spec *spec, int argc, char **argv, int *exit_code)
{
    assert(spec && spec->options && argc >= 1 && argv);
    int nargs = 0, help_asked = 0, only_args = 0;
    loaa_status st = LOAA_OK;
    for (int i = 1; i < argc && !st && !help_asked; i++) {
        const char *a = argv[i];
        int is_arg = only_args || a[0] != '-' || !a[1];
        if (!is_arg && !strcmp(a, "--")) {
            only_args = 1;
            continue;
        }
        if (is_arg && (spec->flags & LOAA_CLI_STOP_AT_ARG)) {
            while (i < argc)
                argv[++nargs] = argv[i++];
            break;
        }
        if (!is_arg)
            st = parse_one(spec, argc, argv, &i, &help_asked);
        else if (spec->max_args != LOAA_CLI_ANY_ARGS && nargs >= spec->max_args)
            st = loaa_fail(LOAA_ERR_USAGE, "unexpected argument '%s'", a);
        else
            argv[++nargs] = argv[i];
    }
    argv[nargs + 1] = NULL;
    if (help_asked) {
        loaa_cli_print_help(spec, stdout);
        *exit_code = 0;
        return -1;
    }
    if (st) {
        *exit_code = spec->command ? loaa_cli_report(spec->command, st)
                                   : (fprintf(stderr, "loaa: %s\n", loaa_error_detail()), 2);
        return -1;
    }
    return nargs;
}

void loaa_cli_print_help(const loaa_cli_spec *spec, FILE *out)
{
    const char *summary = spec->command ? loaa_cli_summary(spec->command) : NULL;
    if (summary)
        fprintf(out, "loaa %s - %s\n\n", spec->command, summary);
    if (spec->usage)
        fputs(spec->usage, out);
    int header = 0;
    for (const loaa_option *o = spec->options; o->kind != LOAA_OPT_END; o++) {
        if (!o->help)
            continue;
        if (!header++)
            fputs("\noptions:\n", out);
        char left[96];
        const char *arg = o->arg ? o->arg : "";
        const char *open = o->flags & LOAA_OPT_NUMERIC_OPTARG ? " [" : " ", *close = o->flags & LOAA_OPT_NUMERIC_OPTARG ? "]" : "";
        if (o->short_name)
            snprintf(left, sizeof left, "-%c, --%s%s%s%s", o->short_name, o->name, arg[0] ? open : "", arg, arg[0] ? close : "");
        else
            snprintf(left, sizeof left, "--%s%s%s%s", o->name, arg[0] ? open : "", arg, arg[0] ? close : "");
        if (strlen(left) <= 26)
            fprintf(out, "  %-26s  %s\n", left, o->help);
        else
            fprintf(out, "  %s\n  %-26s  %s\n", left, "", o->help);
    }
}
