/*
 * test_store_faults.c - the results store under a fault-injecting SQLite VFS
 * (a shim over "unix", registered as the default VFS, so the store opens it
 * unchanged). For every write position k in the recording of ten more
 * trials (started, per-epoch metrics, result, flush after each trial), the
 * k-th write fails, as on a full disk (SQLITE_FULL, and every write after it
 * fails too), a failing device (SQLITE_IOERR_WRITE, once) or a failing fsync
 * (once). Each case must give LOAA_ERR_DB naming the database, and after
 * reopening: integrity_check ok, the ten trials finished before untouched,
 * every trial whose flush was acknowledged finished with all its rows, no
 * trial half-recorded; after a one-off fault the same writes retried on the
 * same handle succeed. Also: every value reaches SQLite through bound
 * parameters (hostile names and values stored verbatim).
 */
#include <jansson.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "coordinator/store.h"
#include "tests/sqlpeek.h"
#include "tests/tap.h"

/* ---- the shim VFS ---- */

enum { FAULT_NONE, FAULT_FULL, FAULT_WRITE_ONCE, FAULT_SYNC_ONCE };
static int fault_kind, countdown = -1, injected_total;
static sqlite3_vfs *base_vfs;

typedef struct shim_file {
    sqlite3_file base;
    sqlite3_file *real; /* follows this struct in the same allocation */
} shim_file;

/* 1 when this operation fails: the countdown reaches 0 at the k-th write (or sync). */
static int fire(int is_sync)
{
    if (countdown < 0 || fault_kind == FAULT_NONE || is_sync != (fault_kind == FAULT_SYNC_ONCE))
        return 0;
    if (countdown > 0) {
        countdown--;
        return 0;
    }
    injected_total++;
    if (fault_kind != FAULT_FULL)
        countdown = -1; /* one-off */
    return 1;
}

#define REAL(f) (((shim_file *)(f))->real)
static int x_close(sqlite3_file *f) { return REAL(f)->pMethods->xClose(REAL(f)); }
static int x_read(sqlite3_file *f, void *b, int n, sqlite3_int64 o) { return REAL(f)->pMethods->xRead(REAL(f), b, n, o); }
static int x_write(sqlite3_file *f, const void *b, int n, sqlite3_int64 o)
{
    if (fire(0))
        return fault_kind == FAULT_FULL ? SQLITE_FULL : SQLITE_IOERR_WRITE;
    return REAL(f)->pMethods->xWrite(REAL(f), b, n, o);
}
static int x_truncate(sqlite3_file *f, sqlite3_int64 n) { return REAL(f)->pMethods->xTruncate(REAL(f), n); }
static int x_sync(sqlite3_file *f, int flags)
{
    if (fire(1))
        return SQLITE_IOERR_FSYNC;
    return REAL(f)->pMethods->xSync(REAL(f), flags);
}
static int x_size(sqlite3_file *f, sqlite3_int64 *n) { return REAL(f)->pMethods->xFileSize(REAL(f), n); }
static int x_lock(sqlite3_file *f, int l) { return REAL(f)->pMethods->xLock(REAL(f), l); }
static int x_unlock(sqlite3_file *f, int l) { return REAL(f)->pMethods->xUnlock(REAL(f), l); }
static int x_reserved(sqlite3_file *f, int *r) { return REAL(f)->pMethods->xCheckReservedLock(REAL(f), r); }
static int x_fcntl(sqlite3_file *f, int op, void *a) { return REAL(f)->pMethods->xFileControl(REAL(f), op, a); }
static int x_sector(sqlite3_file *f) { return REAL(f)->pMethods->xSectorSize(REAL(f)); }
static int x_devchar(sqlite3_file *f) { return REAL(f)->pMethods->xDeviceCharacteristics(REAL(f)); }
static int x_shmmap(sqlite3_file *f, int pg, int sz, int ext, void volatile **p)
{
    return REAL(f)->pMethods->xShmMap(REAL(f), pg, sz, ext, p);
}
static int x_shmlock(sqlite3_file *f, int o, int n, int fl) { return REAL(f)->pMethods->xShmLock(REAL(f), o, n, fl); }
static void x_shmbarrier(sqlite3_file *f) { REAL(f)->pMethods->xShmBarrier(REAL(f)); }
static int x_shmunmap(sqlite3_file *f, int d) { return REAL(f)->pMethods->xShmUnmap(REAL(f), d); }

static const sqlite3_io_methods shim_io = {
    2, x_close, x_read, x_write, x_truncate, x_sync, x_size, x_lock, x_unlock, x_reserved, x_fcntl, x_sector, x_devchar,
    x_shmmap, x_shmlock, x_shmbarrier, x_shmunmap, NULL, NULL,
};

static int shim_open(sqlite3_vfs *vfs, const char *name, sqlite3_file *f, int flags, int *out_flags)
{
    shim_file *s = (shim_file *)f;
    s->real = (sqlite3_file *)(s + 1);
    s->base.pMethods = NULL;
    int rc = base_vfs->xOpen(base_vfs, name, s->real, flags, out_flags);
    if (s->real->pMethods)
        s->base.pMethods = &shim_io;
    return rc;
}

static sqlite3_vfs shim_vfs;

static void shim_register(void)
{
    base_vfs = sqlite3_vfs_find("unix");
    shim_vfs = *base_vfs;
    shim_vfs.zName = "loaa-faulty";
    shim_vfs.szOsFile = (int)sizeof(shim_file) + base_vfs->szOsFile;
    shim_vfs.xOpen = shim_open;
    sqlite3_vfs_register(&shim_vfs, 1);
}

/* ---- recording trials ---- */

static char dir[256], base_db[512], work_db[512];

/* Trial i (1-based): started, three epochs of metrics, its result; flushed. */
static loaa_status record(loaa_store *s, int64_t id, int i)
{
    loaa_status st = loaa_store_trial_started(s, id, 1, NULL);
    for (int e = 0; !st && e < 3; e++) {
        json_t *m = json_pack("{s:f,s:f,s:f}", "train_loss", 2.0 - 0.1 * e - 0.01 * i, "val_loss", 2.1 - 0.1 * e, "val_acc",
                              0.1 * e + 0.001 * i);
        st = loaa_store_trial_epoch(s, id, e, m);
        json_decref(m);
    }
    if (!st) {
        json_t *r = json_pack("{s:b,s:i,s:i,s:{s:f,s:f},s:{s:f,s:i,s:i}}", "pruned", 0, "best_epoch", 2, "epochs_run", 3,
                              "results", "test_acc", 0.5 + 0.01 * i, "val_acc", 0.2 + 0.001 * i, "stats", "seconds", 1.0,
                              "trainable_params", 10, "total_params", 1000);
        st = loaa_store_trial_finish(s, id, r);
        json_decref(r);
    }
    if (!st)
        st = loaa_store_flush(s);
    return st;
}

static int64_t ids[21];

static int make_base(void)
{
    loaa_store *s;
    int64_t sweep;
    if (loaa_store_open(&s, base_db, LOAA_STORE_WRITER) ||
        loaa_store_sweep_upsert(s, "faults", "name: faults\n", "val_acc", "maximize", "grid", 1, &sweep))
        return 0;
    for (int i = 1; i <= 20; i++) {
        char hash[65], config[64], state[16];
        snprintf(hash, sizeof hash, "%064d", i);
        snprintf(config, sizeof config, "{\"seed\":%d}", i);
        json_t *p = json_pack("{s:i}", "seed", i);
        loaa_store_trial_spec t = {.number = i, .config_json = config, .exec_json = "{}", .hash = hash, .dataset = "ds",
                                   .method = "noop", .seed = i, .fold = -1, .params = p};
        int attempts;
        loaa_status st = loaa_store_trial_add(s, sweep, &t, &ids[i], state, &attempts);
        json_decref(p);
        if (st)
            return 0;
    }
    for (int i = 1; i <= 10; i++)
        if (record(s, ids[i], i))
            return 0;
    loaa_store_close(s);
    return 1;
}

static int copy_file(const char *from, const char *to)
{
    FILE *a = fopen(from, "rb"), *b = fopen(to, "wb");
    char buf[65536];
    size_t n;
    int ok = a && b;
    while (ok && (n = fread(buf, 1, sizeof buf, a)) > 0)
        ok = fwrite(buf, 1, n, b) == n;
    if (a)
        fclose(a);
    if (b)
        ok = fclose(b) == 0 && ok;
    return ok;
}

typedef struct outcome {
    int failed_at;      /* trial whose recording failed, 0 = none */
    int acked;          /* trials 11.. whose flush returned OK */
    int clear_error;    /* the failure was LOAA_ERR_DB naming the database */
    int retried;        /* the retry after a one-off fault succeeded */
} outcome;

static outcome run_case(int kind, int k)
{
    outcome o = {0, 0, 1, 1};
    char wal[600], shm[600];
    snprintf(wal, sizeof wal, "%s-wal", work_db);
    snprintf(shm, sizeof shm, "%s-shm", work_db);
    unlink(wal);
    unlink(shm);
    copy_file(base_db, work_db);
    loaa_store *s;
    fault_kind = FAULT_NONE;
    if (loaa_store_open(&s, work_db, LOAA_STORE_WRITER)) {
        o.clear_error = 0;
        return o;
    }
    fault_kind = kind;
    countdown = k;
    for (int i = 11; i <= 20; i++) {
        loaa_status st = record(s, ids[i], i);
        if (!st) {
            o.acked++;
            continue;
        }
        o.failed_at = i;
        o.clear_error = st == LOAA_ERR_DB && strstr(loaa_error_detail(), work_db) != NULL;
        if (kind == FAULT_FULL)
            break; /* the coordinator stops: the disk stays full */
        /* a one-off fault: the same writes again on the same handle */
        o.retried = record(s, ids[i], i) == LOAA_OK;
        if (o.retried)
            o.acked++;
        else
            break;
    }
    if (kind != FAULT_FULL) {
        fault_kind = FAULT_NONE;
        countdown = -1;
    }
    loaa_store_close(s); /* a full disk is still full while the store closes */
    fault_kind = FAULT_NONE;
    countdown = -1;
    return o;
}

/* After a case: 1 when the database is intact and holds what was acknowledged, nothing half-recorded. */
static int verify(const outcome *o, int *lost, char *why, size_t cap)
{
    loaa_store *s;
    if (loaa_store_open(&s, work_db, LOAA_STORE_WRITER)) {
        snprintf(why, cap, "reopen: %s", loaa_error_detail());
        return 0;
    }
    int ok = 1;
    char *integrity = peek_text(work_db, "PRAGMA integrity_check");
    if (!integrity || strcmp(integrity, "ok")) {
        snprintf(why, cap, "integrity_check failed");
        ok = 0;
    }
    free(integrity);
    for (int i = 1; ok && i <= 20; i++) {
        char sql[256];
        snprintf(sql, sizeof sql, "SELECT state = 'done' FROM trials WHERE trial_id = %lld", (long long)ids[i]);
        int done = (int)peek_int(work_db, sql);
        snprintf(sql, sizeof sql, "SELECT count(*) FROM trial_results WHERE trial_id = %lld", (long long)ids[i]);
        long long results = peek_int(work_db, sql);
        snprintf(sql, sizeof sql, "SELECT count(*) FROM trial_metrics WHERE trial_id = %lld", (long long)ids[i]);
        long long metrics = peek_int(work_db, sql);
        int must = i <= 10 + o->acked; /* trials are recorded in order: 11 .. 10 + acked were acknowledged */
        if (must && !done) {
            (*lost)++;
            snprintf(why, cap, "trial %d was acknowledged but is not done", i);
            ok = 0;
        } else if (done && (results < 2 || metrics < 9)) {
            snprintf(why, cap, "trial %d is done with %lld results and %lld metrics (half-recorded)", i, results, metrics);
            ok = 0;
        }
    }
    loaa_store_close(s);
    return ok;
}

/*
 * Values reach SQL only through bound parameters: names and values with
 * quotes, semicolons, SQL comments, format directives, control bytes,
 * invalid UTF-8 and blob-literal look-alikes come back byte for byte, and
 * the schema is untouched.
 */
static void test_verbatim(void)
{
    static const char *const evil[] = {
        "x'); DROP TABLE trials; --",
        "\"; DELETE FROM trial_results WHERE 1=1; /*",
        "X'00ff' || char(0) %s%n%x \\ \\' \\\"",
        "\x01\x02\x1b[31m\x7f\xc3\x28\xff\xfe tab\there\nnewline\r",
        "' OR '1'='1",
    };
    char path[600];
    snprintf(path, sizeof path, "%s/verbatim.db", dir);
    loaa_store *s;
    int64_t sweep;
    fault_kind = FAULT_NONE;
    if (loaa_store_open(&s, path, LOAA_STORE_WRITER) ||
        loaa_store_sweep_upsert(s, evil[0], evil[2], "val_acc", "maximize", "grid", 1, &sweep)) {
        TAP_OK(0, "verbatim store: %s", loaa_error_detail());
        return;
    }
    int n = (int)(sizeof evil / sizeof evil[0]), ok = 1;
    for (int i = 0; i < n; i++) {
        char hash[65], state[16];
        snprintf(hash, sizeof hash, "%064d", 100 + i);
        /* JSON cannot carry invalid UTF-8: those rows keep it in the plain text columns only */
        json_t *p = json_pack("{s:s,s:s}", evil[i], evil[(i + 1) % n], "lr", evil[i]);
        json_t *cfg = json_pack("{s:s}", "dataset", evil[i]);
        if (!p)
            p = json_pack("{s:s}", "lr", "x");
        if (!cfg)
            cfg = json_pack("{s:s}", "dataset", "x");
        char *config = json_dumps(cfg, JSON_COMPACT);
        loaa_store_trial_spec t = {.number = i, .config_json = config, .exec_json = "{}", .hash = hash, .dataset = evil[i],
                                   .method = evil[(i + 2) % n], .seed = i, .fold = -1, .params = p, .backbone = evil[(i + 3) % n]};
        int64_t id;
        int attempts;
        if (loaa_store_trial_add(s, sweep, &t, &id, state, &attempts) ||
            loaa_store_trial_failed(s, id, evil[(i + 4) % n], evil[i], 0, 1, &attempts))
            ok = 0;
        json_decref(p);
        json_decref(cfg);
        free(config);
    }
    ok = ok && loaa_store_flush(s) == LOAA_OK;
    int same = 0;
    sqlite3_stmt *q;
    sqlite3 *db = peek_open(path);
    if (db && sqlite3_prepare_v2(db, "SELECT dataset, method, backbone, error, config_json FROM trials ORDER BY number", -1, &q,
                           NULL) == SQLITE_OK) {
        for (int i = 0; i < n && sqlite3_step(q) == SQLITE_ROW; i++) {
            const char *want[4] = {evil[i], evil[(i + 2) % n], evil[(i + 3) % n], evil[(i + 4) % n]};
            int row = 1;
            for (int c = 0; c < 4; c++) {
                const char *got = (const char *)sqlite3_column_text(q, c);
                row &= got && sqlite3_column_bytes(q, c) == (int)strlen(want[c]) && !memcmp(got, want[c], strlen(want[c]));
            }
            json_t *back = json_loads((const char *)sqlite3_column_text(q, 4), 0, NULL), *dsj = json_string(evil[i]);
            row &= back && (!dsj || !strcmp(json_string_value(json_object_get(back, "dataset")), evil[i]));
            json_decref(dsj);
            json_decref(back);
            same += row;
        }
        sqlite3_finalize(q);
    }
    long long params = peek_int(path, "SELECT count(*) FROM trial_params");
    long long tables = peek_int(path, "SELECT count(*) FROM sqlite_master WHERE name IN ('trials', 'trial_results', 'sweeps')");
    long long name_ok = -1;
    if (db && sqlite3_prepare_v2(db, "SELECT name = ?1, spec_yaml = ?2 FROM sweeps", -1, &q, NULL) == SQLITE_OK) {
        sqlite3_bind_text(q, 1, evil[0], -1, SQLITE_STATIC);
        sqlite3_bind_text(q, 2, evil[2], -1, SQLITE_STATIC);
        if (sqlite3_step(q) == SQLITE_ROW)
            name_ok = sqlite3_column_int(q, 0) && sqlite3_column_int(q, 1);
        sqlite3_finalize(q);
    }
    sqlite3_close(db);
    TAP_OK(ok && same == n && tables == 3 && name_ok == 1 && params >= n,
           "names and values with quotes, semicolons, comments, %%s%%n, control bytes and invalid UTF-8 stored verbatim "
           "(%d of %d rows, %lld params, schema intact)", same, n, params);
    loaa_store_close(s);
}

int main(void)
{
    snprintf(dir, sizeof dir, "/tmp/loaa-test-store-faults-XXXXXX");
    if (!mkdtemp(dir))
        return 1;
    snprintf(base_db, sizeof base_db, "%s/base.db", dir);
    snprintf(work_db, sizeof work_db, "%s/work.db", dir);
    shim_register();
    test_verbatim();
    TAP_OK(make_base(), "a database with 20 trials, 10 finished: %s", loaa_error_detail());

    static const struct {
        int kind, max_k;
        const char *what;
    } kinds[] = {
        {FAULT_FULL, 400, "full disk (SQLITE_FULL from the k-th write on)"},
        {FAULT_WRITE_ONCE, 400, "one failed write (SQLITE_IOERR_WRITE at the k-th write)"},
        {FAULT_SYNC_ONCE, 40, "one failed fsync (SQLITE_IOERR_FSYNC at the k-th sync)"},
    };
    int total_lost = 0;
    for (size_t c = 0; c < sizeof kinds / sizeof kinds[0]; c++) {
        int cases = 0, hit = 0, bad = 0, unclear = 0, noretry = 0;
        char first_bad[256] = "";
        for (int k = 0; k <= kinds[c].max_k; k++) {
            int before = injected_total;
            outcome o = run_case(kinds[c].kind, k);
            char why[256] = "";
            int lost = 0;
            int good = verify(&o, &lost, why, sizeof why);
            total_lost += lost;
            cases++;
            if (injected_total > before)
                hit++;
            if (!good && !bad++)
                snprintf(first_bad, sizeof first_bad, "k=%d: %s", k, why);
            if (o.failed_at && !o.clear_error)
                unclear++;
            if (o.failed_at && kinds[c].kind != FAULT_FULL && !o.retried)
                noretry++;
            if (injected_total == before && k > 0)
                break; /* past the last write of the recording */
        }
        TAP_OK(bad == 0, "%s: %d positions, %d faults injected, database intact and nothing acknowledged lost%s%s", kinds[c].what,
               cases, hit, bad ? ": " : "", first_bad);
        TAP_OK(unclear == 0, "%s: every failure is LOAA_ERR_DB naming the database (%d unclear)", kinds[c].what, unclear);
        if (kinds[c].kind != FAULT_FULL)
            TAP_OK(noretry == 0, "%s: the same writes retried on the same handle succeed (%d did not)", kinds[c].what, noretry);
    }
    TAP_DIAG("figures: %d faults injected, %d acknowledged results lost", injected_total, total_lost);
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        TAP_DIAG("could not remove %s", dir);
    return tap_done();
}
