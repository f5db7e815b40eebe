/* test_store.c - the results store (schema, migrations, lock, bound values verbatim, states) and the reports over it. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "coordinator/query.h"
#include "coordinator/report.h"
#include "coordinator/store.h"
#include "schema/schema.h"
#include "tests/sqlpeek.h"
#include "tests/plant.h"
#include "tests/tap.h"

static char dir[256], db_path[512];

static int64_t add(loaa_store *s, int64_t sweep, const char *hash, const char *dataset, const char *method, int seed, json_t *params,
                   char *state, const char *backbone)
{
    char config[256];
    snprintf(config, sizeof config, "{\"backbone\":\"%s\",\"method\":\"%s\",\"seed\":%d}", backbone ? "b" : "none", method, seed);
    loaa_store_trial_spec t = {.number = seed, .config_json = config, .exec_json = "{}", .hash = hash, .dataset = dataset,
                               .method = method, .seed = seed, .fold = -1, .params = params, .backbone = backbone};
    int64_t id = -1;
    int attempts;
    if (loaa_store_trial_add(s, sweep, &t, &id, state, &attempts))
        TAP_DIAG("add: %s", loaa_error_detail());
    return id;
}

static void finish(loaa_store *s, int64_t id, double acc, const char *backbone)
{
    json_t *r = json_pack("{s:b,s:i,s:i,s:{s:f,s:f},s:{s:f,s:i,s:i},s:{s:s?}}", "pruned", 0, "best_epoch", 1, "epochs_run", 2,
                          "results", "test_acc", acc, "val_acc", acc + 0.01, "stats", "seconds", 1.5, "trainable_params", 10,
                          "total_params", 1000, "files", "backbone", backbone);
    if (loaa_store_trial_finish(s, id, r))
        TAP_DIAG("finish: %s", loaa_error_detail());
    json_decref(r);
}

static void test_store(void)
{
    loaa_store *s, *r;
    char state[16];
    loaa_status st = loaa_store_open(&s, db_path, LOAA_STORE_WRITER);
    TAP_OK(st == LOAA_OK, "a writer creates the database: %s", loaa_error_detail());
    if (st)
        return;
    TAP_OK(loaa_store_version(s) == loaa_store_latest_version() && loaa_store_latest_version() >= 2, "schema at version %d",
           loaa_store_version(s));
    char mode[16];
    TAP_OK(!loaa_store_journal_mode(s, mode, sizeof mode) && !strcmp(mode, "wal"), "WAL on a local disk (%s)", mode);

    /* Another process cannot become a second writer; it is told the holder's pid. */
    pid_t child = fork();
    if (child == 0) {
        loaa_store *t;
        loaa_status cs = loaa_store_open(&t, db_path, LOAA_STORE_WRITER);
        char want[64];
        snprintf(want, sizeof want, "pid %ld", (long)getppid());
        _exit(cs == LOAA_ERR_LOCKED && strstr(loaa_error_detail(), want) ? 0 : 1);
    }
    int status = 0;
    waitpid(child, &status, 0);
    TAP_OK(WIFEXITED(status) && WEXITSTATUS(status) == 0, "a second coordinator is refused with the holder's pid");

    const char *evil = "d';\"DROP TABLE trials;--\"x";
    const char *evil_value = "a\"b;c'd); DELETE FROM sweeps; --";
    int64_t sweep;
    st = loaa_store_sweep_upsert(s, "sw'1;\"", "name: x\n", "test_acc", "maximize", "grid", 1, &sweep);
    TAP_OK(st == LOAA_OK, "sweep recorded");
    json_t *params = json_pack("{s:s,s:s}", "dataset", evil, "fault", evil_value);
    int64_t id1 = add(s, sweep, "h1", evil, "lora", 0, params, state, NULL);
    TAP_OK(id1 > 0 && !strcmp(state, "pending"), "trial recorded pending");
    int64_t again = add(s, sweep, "h1", evil, "lora", 0, params, state, NULL);
    TAP_OK(again == id1 && !strcmp(state, "pending"), "the same identity is the same trial");
    json_decref(params);
    params = json_object();
    int64_t id2 = add(s, sweep, "h2", "d2", "adapter", 1, params, state, "/w/vit'x.safetensors");
    int64_t id3 = add(s, sweep, "h3", "d2", "adapter", 2, params, state, NULL);
    int64_t id4 = add(s, sweep, "h4", evil, "lora", 3, params, state, NULL);
    json_decref(params);
    TAP_OK(loaa_store_flush(s) == LOAA_OK, "batch committed");

    st = loaa_store_open(&r, db_path, LOAA_STORE_READER);
    TAP_OK(st == LOAA_OK, "a reader opens while the writer holds the lock: %s", loaa_error_detail());
    if (!st) {
        char seen[16], none[16];
        TAP_OK(peek_int(db_path, "SELECT count(*) FROM trials") == 4 && !loaa_store_trial_state(r, sweep, "h4", seen) &&
                   !strcmp(seen, "pending"),
               "the reader sees committed trials");
        TAP_OK(loaa_store_trial_state(r, sweep, "h9", none) == LOAA_ERR_NOTFOUND && !none[0], "an unknown identity has no state");
        char *ds = peek_text(db_path, "SELECT dataset FROM trials WHERE config_hash = 'h1'");
        TAP_OK(ds && !strcmp(ds, evil), "a dataset path with quotes and semicolons is stored verbatim");
        free(ds);
        char *v = peek_text(db_path, "SELECT value FROM trial_params WHERE name = 'fault'");
        json_t *back = v ? json_loads(v, JSON_DECODE_ANY, NULL) : NULL;
        TAP_OK(back && json_is_string(back) && !strcmp(json_string_value(back), evil_value),
               "a parameter value with quotes and semicolons round-trips verbatim");
        json_decref(back);
        free(v);
        char *name = peek_text(db_path, "SELECT name FROM sweeps");
        TAP_OK(name && !strcmp(name, "sw'1;\""), "a sweep name with quotes is stored verbatim");
        free(name);
        loaa_store_close(r);
    }

    /* Epochs, results, failures, attempts. */
    loaa_store_trial_started(s, id1, 1, NULL);
    json_t *m = json_pack("{s:f,s:f,s:f}", "train_loss", 1.5, "val_acc", 0.25, "lr", 0.001);
    TAP_OK(loaa_store_trial_epoch(s, id1, 0, m) == LOAA_OK, "epoch metrics recorded");
    json_decref(m);
    finish(s, id1, 0.5, "/runs/x'y/backbone.safetensors");
    loaa_store_trial_started(s, id2, 1, NULL);
    finish(s, id2, 0.7, NULL);
    loaa_store_trial_started(s, id4, 1, NULL);
    finish(s, id4, 0.6, NULL);
    int requeue = 0;
    loaa_store_trial_started(s, id3, 1, NULL);
    st = loaa_store_trial_failed(s, id3, "killed by signal 11", "/a/trial.log", 1, 2, &requeue);
    TAP_OK(!st && requeue, "a crash below max_attempts requeues");
    st = loaa_store_trial_failed(s, id3, "killed by signal 11", NULL, 1, 2, &requeue);
    TAP_OK(!st && !requeue, "the second crash of two attempts is final");
    loaa_store_flush(s);
    TAP_OK(peek_int(db_path, "SELECT attempts FROM trials WHERE config_hash = 'h3'") == 2, "two attempts counted");
    char *e = peek_text(db_path, "SELECT state || ':' || error || ':' || log_path FROM trials WHERE config_hash = 'h3'");
    TAP_OK(e && !strcmp(e, "failed:killed by signal 11:/a/trial.log"), "failed with the signal and its log (%s)", e ? e : "?");
    free(e);
    TAP_OK(peek_int(db_path, "SELECT count(*) FROM trial_metrics WHERE trial_id = 1 AND split = 'val'") == 1, "val metric in its split");
    TAP_OK(peek_int(db_path, "SELECT count(*) FROM leaderboard WHERE metric = 'test_acc'") == 3, "leaderboard view lists done trials");

    /* Chained backbones: the best finished trial by the sweep's metric. */
    int64_t best;
    char path[512];
    st = loaa_store_best_backbone(s, "sw'1;\"", &best, path, sizeof path);
    TAP_OK(st == LOAA_ERR_NOTFOUND && strstr(loaa_error_detail(), "exported no backbone"),
           "best trial without a backbone file refused: %s", loaa_error_detail());
    st = loaa_store_best_backbone(s, "nope", &best, path, sizeof path);
    TAP_OK(st == LOAA_ERR_NOTFOUND && strstr(loaa_error_detail(), "no sweep 'nope'"), "unknown sweep refused: %s",
           loaa_error_detail());
    int64_t empty;
    loaa_store_sweep_upsert(s, "empty", "", "test_acc", "maximize", "grid", 1, &empty);
    st = loaa_store_best_backbone(s, "empty", &best, path, sizeof path);
    TAP_OK(st == LOAA_ERR_NOTFOUND && strstr(loaa_error_detail(), "no finished trial"), "sweep without finished trials refused: %s",
           loaa_error_detail());

    /* Resume: running and interrupted trials become pending at no cost; --retry-failed resets failures. */
    loaa_store_trial_started(s, id3, 1, NULL);
    loaa_store_mark_interrupted(s, sweep);
    int reset = 0;
    loaa_store_sweep_reset(s, sweep, 0, &reset);
    TAP_OK(reset == 1, "an interrupted trial is pending again");
    loaa_store_trial_failed(s, id3, "x", NULL, 0, 3, &requeue);
    loaa_store_sweep_reset(s, sweep, 1, &reset);
    loaa_store_flush(s);
    TAP_OK(reset == 1 && peek_int(db_path, "SELECT attempts FROM trials WHERE config_hash = 'h3'") == 0, "--retry-failed resets attempts");
    loaa_store_close(s);

    /* Reports over the same database. */
    st = loaa_store_open(&r, db_path, LOAA_STORE_READER);
    if (st)
        return;
    char *buf = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&buf, &len);
    loaa_report_opts o = {.format = LOAA_REPORT_TABLE};
    st = loaa_report_write(r, &o, out);
    fclose(out);
    TAP_OK(!st && strstr(buf, "Cross-dataset comparison") && strstr(buf, "55.00 ± 7.07 (n=2)") && strstr(buf, "vit'x.safetensors"),
           "table: mean ± std over seeds and the backbone shown");
    if (st || !strstr(buf, "55.00"))
        TAP_DIAG("%s", buf ? buf : "");
    free(buf);
    out = open_memstream(&buf, &len);
    o.format = LOAA_REPORT_JSON;
    st = loaa_report_write(r, &o, out);
    fclose(out);
    json_t *j = buf ? json_loads(buf, 0, NULL) : NULL;
    TAP_OK(!st && j && json_array_size(json_object_get(j, "leaderboard")) == 3, "json report parses, three trials");
    json_decref(j);
    free(buf);
    out = open_memstream(&buf, &len);
    o.format = LOAA_REPORT_CSV;
    o.where[0] = "seed>=2";
    o.n_where = 1;
    st = loaa_report_write(r, &o, out);
    fclose(out);
    TAP_OK(!st && buf && strstr(buf, "\"d';\"\"DROP TABLE trials;--\"\"x\""), "csv quotes fields; --where filters");
    free(buf);
    out = open_memstream(&buf, &len);
    o.where[0] = "lrr=1";
    st = loaa_report_write(r, &o, out);
    fclose(out);
    free(buf);
    TAP_OK(st == LOAA_ERR_USAGE && strstr(loaa_error_detail(), "unknown key 'lrr'"), "--where with an unknown key refused");
    char html[600];
    snprintf(html, sizeof html, "%s/r.html", dir);
    o.n_where = 0;
    char victim[600], link[700]; /* issue 18 #6: a link planted at the old temporary name r.html.tmp is not followed */
    snprintf(victim, sizeof victim, "%s/victim", dir);
    snprintf(link, sizeof link, "%s.tmp", html);
    plant_link(link, victim);
    st = loaa_report_html(r, &o, html);
    TAP_OK(!st && plant_intact(link, victim) && plant_leftovers(dir, "r.html.tmp") == 0,
           "html written beside a link planted at its old temporary name, which is not followed: %s", st ? loaa_error_detail() : "ok");
    unlink(link);
    unlink(victim);
    FILE *hf = fopen(html, "r");
    char page[65536] = "";
    if (hf) {
        size_t n = fread(page, 1, sizeof page - 1, hf);
        page[n] = '\0';
        fclose(hf);
    }
    TAP_OK(!st && strstr(page, "<svg") && strstr(page, "&#39;;&quot;DROP"), "html page with inline SVG, text escaped");
    unlink(html);
    loaa_store_close(r);
}

static void test_migration(void)
{
    char path[600];
    snprintf(path, sizeof path, "%s/v1.db", dir);
    sqlite3 *db;
    sqlite3_open(path, &db);
    sqlite3_exec(db, loaa_schema_sql, NULL, NULL, NULL);
    sqlite3_exec(db, "INSERT INTO schema_version (version) VALUES (1);"
                     "INSERT INTO sweeps (name, spec_yaml) VALUES ('old', 'x');"
                     "INSERT INTO trials (sweep_id, number, config_json, config_hash, dataset, method, seed, state) "
                     "VALUES (1, 0, '{}', 'h', 'd', 'lora', 0, 'done')",
                 NULL, NULL, NULL);
    sqlite3_close(db);
    loaa_store *s;
    loaa_status st = loaa_store_open(&s, path, LOAA_STORE_READER);
    TAP_OK(st == LOAA_ERR_DB && strstr(loaa_error_detail(), "older"), "a reader does not migrate: %s", loaa_error_detail());
    st = loaa_store_open(&s, path, LOAA_STORE_WRITER);
    TAP_OK(st == LOAA_OK && loaa_store_version(s) == loaa_store_latest_version(), "a writer migrates version 1 to %d",
           loaa_store_latest_version());
    if (!st) {
        TAP_OK(peek_int(path, "SELECT count(*) FROM trials WHERE state = 'done' AND exec_json = '{}'") == 1,
               "migrated rows keep their data and gain the new columns");
        loaa_store_close(s);
    }
    unlink(path);
    snprintf(path, sizeof path, "%s/v1.db-wal", dir);
    unlink(path);
    snprintf(path, sizeof path, "%s/v1.db-shm", dir);
    unlink(path);
    snprintf(path, sizeof path, "%s/v1.db.lock", dir);
    unlink(path);

    snprintf(path, sizeof path, "%s/nfs.db", dir);
    setenv("LOAA_STORE_ASSUME_NETWORK_FS", "1", 1);
    st = loaa_store_open(&s, path, LOAA_STORE_WRITER);
    unsetenv("LOAA_STORE_ASSUME_NETWORK_FS");
    if (!st) {
        char mode[16];
        TAP_OK(loaa_store_network_fs(s) && !loaa_store_journal_mode(s, mode, sizeof mode) && !strcmp(mode, "delete"),
               "network file system: rollback journal (%s)", mode);
        loaa_store_close(s);
    } else {
        TAP_OK(0, "network file system fallback opens: %s", loaa_error_detail());
    }
    unlink(path);
    snprintf(path, sizeof path, "%s/nfs.db.lock", dir);
    unlink(path);
    snprintf(path, sizeof path, "%s/notloaa.db", dir);
    sqlite3_open(path, &db);
    sqlite3_exec(db, "CREATE TABLE t (x)", NULL, NULL, NULL);
    sqlite3_close(db);
    st = loaa_store_open(&s, path, LOAA_STORE_WRITER);
    TAP_OK(st == LOAA_ERR_DB && strstr(loaa_error_detail(), "not a loaa results database"), "a foreign database is refused");
    unlink(path);
    snprintf(path, sizeof path, "%s/notloaa.db.lock", dir);
    unlink(path);
}

int main(void)
{
    snprintf(dir, sizeof dir, "/tmp/loaa-test-store-%ld", (long)getpid());
    if (mkdir(dir, 0755) != 0)
        return 1;
    snprintf(db_path, sizeof db_path, "%s/r.db", dir);
    test_store();
    test_migration();
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        TAP_DIAG("could not remove %s", dir);
    return tap_done();
}
