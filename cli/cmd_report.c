/*
 * cmd_report.c - `loaa report --db DB [filters] [--format F] [--html FILE]`:
 * leaderboards and the cross-dataset table of a results database (read
 * only; safe while a sweep writes it).
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/commands.h"
#include "cli/options.h"
#include "common/status.h"
#include "coordinator/report.h"
#include "coordinator/store.h"

static const char report_usage[] =
    "usage: loaa report --db results.db [--sweep S] [--dataset D] [--method M] [--where KEY=VALUE ...]\n"
    "                   [--metric NAME] [--leaderboard] [--cross] [--per-config] [--top N] [--compare A,B[,C...]]\n"
    "                   [--format table|csv|json|markdown] [--html FILE]\n"
    "The cross-dataset table is the paper's protocol: per dataset, method and backbone the\n"
    "configuration with the best mean validation metric (the sweep's), then its test mean +- std\n"
    "over seeds and folds of done trials; pruned, failed and unfinished trials are counted\n"
    "(n=9 of 15, 6 pruned), never averaged. --per-config: every configuration. --compare A,B:\n"
    "per dataset and pooled, A - B paired by fold (seeds averaged) with the Nadeau-Bengio\n"
    "corrected t (95% interval, p, Holm's p over pairs) and the Wilcoxon p beside its smallest\n"
    "reachable p. Safe while a sweep writes the database.\n";

/* --csv, --json, --markdown store the format through an int. */
_Static_assert(sizeof(loaa_report_format) == sizeof(int), "loaa_report_format is int-sized");

static loaa_status set_format(void *dest, const char *value)
{
    return loaa_report_format_parse(value, &((loaa_report_opts *)dest)->format);
}

static loaa_status add_where(void *dest, const char *value)
{
    loaa_report_opts *o = dest;
    if (o->n_where == LOAA_REPORT_MAX_WHERE)
        return loaa_fail(LOAA_ERR_USAGE, "at most %d --where", LOAA_REPORT_MAX_WHERE);
    o->where[o->n_where++] = value;
    return LOAA_OK;
}

int cmd_report(int argc, char **argv)
{
    loaa_report_opts o = {.format = LOAA_REPORT_TABLE};
    const char *db = NULL, *html = NULL;
    int rc;
    const loaa_option opts[] = {
        OPT_PATH("db", &db, "results.db", "the results database (required)"),
        OPT_STRING("sweep", &o.sweep, "S", "only this sweep"),
        OPT_STRING("dataset", &o.dataset, "D", "only this dataset"),
        OPT_STRING("method", &o.method, "M", "only this method"),
        OPT_CALLBACK("where", &o, add_where, "KEY=VALUE", "filter on the trial config (OP: = != < <= > >=); repeatable"),
        OPT_STRING("metric", &o.metric, "NAME", "rank by and show this metric, in its own direction (default: each sweep's)"),
        OPT_BIT("leaderboard", &o.sections, 1, "the leaderboards per dataset"),
        OPT_BIT("cross", &o.sections, 2, "the cross-dataset table"),
        OPT_FLAG("per-config", &o.per_config, "cross-dataset table per configuration (not validation-selected)"),
        OPT_STRING("compare", &o.compare, "A,B[,C]", "paired comparison of methods at their validation-selected configurations"),
        OPT_INT("top", &o.top, 0, LOAA_OPT_NO_MAX, "N", "leaderboard rows per dataset (0: all)"),
        OPT_CALLBACK("format", &o, set_format, "table|csv|json|markdown", "output format (default table)"),
        OPT_SET_INT("csv", (int *)&o.format, LOAA_REPORT_CSV, "--format csv"),
        OPT_SET_INT("json", (int *)&o.format, LOAA_REPORT_JSON, "--format json"),
        OPT_SET_INT("markdown", (int *)&o.format, LOAA_REPORT_MARKDOWN, "--format markdown"),
        OPT_PATH("html", &html, "FILE", "also write one self-contained page with learning curves and charts"),
        OPT_END(),
    };
    const loaa_cli_spec spec = {.command = "report", .usage = report_usage, .options = opts};
    if (loaa_cli_parse(&spec, argc, argv, &rc) < 0)
        return rc;
    loaa_status st;
    if (!db)
        return loaa_cli_report("report", loaa_fail(LOAA_ERR_USAGE, "--db is required"));
    loaa_store *s;
    if ((st = loaa_store_open(&s, db, LOAA_STORE_READER)))
        return loaa_cli_report("report", st);
    st = loaa_report_write(s, &o, stdout);
    if (!st && html)
        st = loaa_report_html(s, &o, html);
    loaa_store_close(s);
    return loaa_cli_report("report", st);
}
