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
#include "common/status.h"
#include "coordinator/report.h"
#include "coordinator/store.h"

int cmd_report(int argc, char **argv)
{
    for (int k = 1; k < argc; k++)
        if (!strcmp(argv[k], "-h") || !strcmp(argv[k], "--help")) {
            char *help_argv[] = {"help", "report", NULL};
            return cmd_help(2, help_argv);
        }
    loaa_report_opts o = {.format = LOAA_REPORT_TABLE};
    const char *db = NULL, *html = NULL;
    loaa_status st;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        int has = i + 1 < argc;
        if (!strcmp(a, "--db") && has)
            db = argv[++i];
        else if (!strcmp(a, "--sweep") && has)
            o.sweep = argv[++i];
        else if (!strcmp(a, "--dataset") && has)
            o.dataset = argv[++i];
        else if (!strcmp(a, "--method") && has)
            o.method = argv[++i];
        else if (!strcmp(a, "--metric") && has)
            o.metric = argv[++i];
        else if (!strcmp(a, "--where") && has) {
            if (o.n_where == LOAA_REPORT_MAX_WHERE)
                return loaa_cli_report("report", loaa_fail(LOAA_ERR_USAGE, "at most %d --where", LOAA_REPORT_MAX_WHERE));
            o.where[o.n_where++] = argv[++i];
        } else if (!strcmp(a, "--format") && has) {
            if ((st = loaa_report_format_parse(argv[++i], &o.format)))
                return loaa_cli_report("report", st);
        } else if (!strcmp(a, "--csv"))
            o.format = LOAA_REPORT_CSV;
        else if (!strcmp(a, "--json"))
            o.format = LOAA_REPORT_JSON;
        else if (!strcmp(a, "--markdown"))
            o.format = LOAA_REPORT_MARKDOWN;
        else if (!strcmp(a, "--leaderboard"))
            o.sections |= 1;
        else if (!strcmp(a, "--cross"))
            o.sections |= 2;
        else if (!strcmp(a, "--top") && has) {
            char *end;
            long v = strtol(argv[++i], &end, 10);
            if (*end || v < 0)
                return loaa_cli_report("report", loaa_fail(LOAA_ERR_USAGE, "--top needs a count"));
            o.top = (int)v;
        } else if (!strcmp(a, "--html") && has)
            html = argv[++i];
        else
            return loaa_cli_report("report", loaa_fail(LOAA_ERR_USAGE, "unknown argument '%s' (see 'loaa help report')", a));
    }
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
