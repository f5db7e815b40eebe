/* store.c - the SQLite results store: open/lock/migrate, batched writes with bound parameters. */
#include "config.h"

#include "coordinator/store.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include "common/log.h"
#include "common/timer.h"
#include "coordinator/store_private.h"
#include "schema/schema.h"

enum {
    Q_TRIAL_INSERT,
    Q_TRIAL_LOOKUP,
    Q_TRIAL_EXEC,
    Q_PARAM_INSERT,
    Q_TRIAL_CONFIG,
    Q_TRIAL_STARTED,
    Q_METRIC,
    Q_LAST_EPOCH,
    Q_RESULT,
    Q_FINISH,
    Q_FAIL_GET,
    Q_FAIL_SET,
    Q_COUNT
};

static const char *const query_text[Q_COUNT] = {
    [Q_TRIAL_INSERT] =
        "INSERT OR IGNORE INTO trials (sweep_id, number, config_json, exec_json, config_hash, dataset, dataset_sha256,"
        " backbone, backbone_sha256, backbone_ref, method, seed, fold) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
    [Q_TRIAL_LOOKUP] = "SELECT trial_id, state, attempts, exec_json FROM trials WHERE sweep_id = ? AND config_hash = ?",
    [Q_TRIAL_EXEC] = "UPDATE trials SET exec_json = ?, number = ? WHERE trial_id = ?",
    [Q_PARAM_INSERT] = "INSERT OR REPLACE INTO trial_params (trial_id, name, value) VALUES (?,?,?)",
    [Q_TRIAL_CONFIG] = "SELECT config_json, exec_json, attempts, config_hash FROM trials WHERE trial_id = ?",
    [Q_TRIAL_STARTED] = "UPDATE trials SET state = 'running', started = ?, ranks = ?, log_path = COALESCE(?, log_path), error = NULL WHERE trial_id = ?",
    [Q_METRIC] = "INSERT OR REPLACE INTO trial_metrics (trial_id, epoch, split, name, value) VALUES (?,?,?,?,?)",
    [Q_LAST_EPOCH] = "UPDATE trials SET last_epoch = ? WHERE trial_id = ?",
    [Q_RESULT] = "INSERT OR REPLACE INTO trial_results (trial_id, name, value, best_epoch) VALUES (?,?,?,?)",
    [Q_FINISH] =
        "UPDATE trials SET state = ?, finished = ?, seconds = ?, trainable_params = ?, total_params = ?, samples_per_s = ?,"
        " peak_rss = ?, best_epoch = ?, pruned_epoch = ?, last_epoch = ?, checkpoint_path = ?, best_checkpoint_path = ?,"
        " adapter_path = ?, backbone_export_path = ?, log_path = COALESCE(?, log_path), loaa_version = ?, blas = ?,"
        " scalapack = ?, gemm_backend = ?, host = ?, grid = ?, ranks = COALESCE(?, ranks), isa = ?, error = NULL WHERE trial_id = ?",
    [Q_FAIL_GET] = "SELECT attempts FROM trials WHERE trial_id = ?",
    [Q_FAIL_SET] = "UPDATE trials SET state = ?, attempts = ?, error = ?, finished = ?, log_path = COALESCE(?, log_path) WHERE trial_id = ?",
};

struct loaa_store {
    sqlite3 *db;
    char *path;
    int writer, lock_fd, version, network_fs, in_tx, writes;
    sqlite3_stmt *q[Q_COUNT];
};

loaa_status loaa_store_db_fail(loaa_store *s, const char *what)
{
    assert(s && what);
    return loaa_fail(LOAA_ERR_DB, "%s: %s: %s", s->path, what, s->db ? sqlite3_errmsg(s->db) : "no connection");
}

static loaa_status db_fail(loaa_store *s, const char *what) { return loaa_store_db_fail(s, what); }

static loaa_status exec_sql(loaa_store *s, const char *sql, const char *what)
{
    char *msg = NULL;
    if (sqlite3_exec(s->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
        loaa_status st = loaa_fail(LOAA_ERR_DB, "%s: %s: %s", s->path, what, msg ? msg : "?");
        sqlite3_free(msg);
        return st;
    }
    return LOAA_OK;
}

/* The number of "-- migration N:" sections in the embedded migrations. */
static int migration_count(void)
{
    int n = 0;
    for (const char *p = loaa_schema_migrations_sql; (p = strstr(p, "\n-- migration ")); p++)
        n++;
    if (strncmp(loaa_schema_migrations_sql, "-- migration ", 13) == 0)
        n++;
    return n;
}

int loaa_store_latest_version(void) { return 1 + migration_count(); }

/* The SQL of migration `version` (2..latest): a new string, caller frees; NULL if absent. */
static char *migration_text(int version)
{
    char marker[48];
    snprintf(marker, sizeof marker, "\n-- migration %d:", version);
    const char *start = strstr(loaa_schema_migrations_sql, marker);
    if (!start)
        return NULL;
    start++;
    const char *end = strstr(start + 1, "\n-- migration ");
    size_t n = end ? (size_t)(end - start) : strlen(start);
    char *text = malloc(n + 1);
    if (text) {
        memcpy(text, start, n);
        text[n] = '\0';
    }
    return text;
}

/* Magic numbers of file systems where SQLite's WAL shared memory is unsafe (statfs(2)). */
static int is_network_fs(const char *db_path)
{
    const char *force = getenv("LOAA_STORE_ASSUME_NETWORK_FS");
    if (force && *force)
        return strcmp(force, "0") != 0;
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", db_path);
    char *slash = strrchr(dir, '/');
    if (slash)
        slash == dir ? (void)(dir[1] = '\0') : (void)(*slash = '\0');
    else
        snprintf(dir, sizeof dir, ".");
    struct statfs sf;
    if (statfs(dir, &sf) != 0)
        return 0;
    switch ((unsigned long)sf.f_type) {
    case 0x6969UL:     /* NFS */
    case 0x0BD00BD0UL: /* Lustre */
    case 0x47504653UL: /* GPFS */
    case 0xFF534D42UL: /* CIFS */
    case 0xFE534D42UL: /* SMB2 */
    case 0x517BUL:     /* SMB */
    case 0x19830326UL: /* BeeGFS */
    case 0x65735546UL: /* FUSE (sshfs and friends) */
        return 1;
    default:
        return 0;
    }
}

/* The coordinator lock: fcntl on DB.lock, the holder's pid inside for the message. */
static loaa_status take_lock(loaa_store *s)
{
    char lock_path[4200];
    snprintf(lock_path, sizeof lock_path, "%s.lock", s->path);
    int fd = open(lock_path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0)
        return loaa_fail(LOAA_ERR_IO, "%s: cannot create the lock file: %s", lock_path, strerror(errno));
    struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 0};
    if (fcntl(fd, F_SETLK, &fl) != 0) {
        struct flock probe = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 0};
        long pid = 0;
        if (fcntl(fd, F_GETLK, &probe) == 0 && probe.l_type != F_UNLCK)
            pid = (long)probe.l_pid;
        if (pid <= 0) {
            char text[32] = "";
            ssize_t n = pread(fd, text, sizeof text - 1, 0);
            if (n > 0) {
                text[n] = '\0';
                pid = strtol(text, NULL, 10);
            }
        }
        close(fd);
        return loaa_fail(LOAA_ERR_LOCKED,
                         "%s: in use by another coordinator (pid %ld); one database has one writer. "
                         "Wait for that sweep, or give this one its own --db",
                         s->path, pid);
    }
    char text[32];
    int n = snprintf(text, sizeof text, "%ld\n", (long)getpid());
    if (ftruncate(fd, 0) != 0 || pwrite(fd, text, (size_t)n, 0) != n)
        loaa_warn("%s: cannot record the pid in the lock file", lock_path);
    s->lock_fd = fd;
    return LOAA_OK;
}

static loaa_status read_version(loaa_store *s, int *version)
{
    sqlite3_stmt *q;
    *version = 0;
    if (sqlite3_prepare_v2(s->db, "SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'schema_version'", -1, &q,
                           NULL) != SQLITE_OK)
        return db_fail(s, "not a database");
    int exists = sqlite3_step(q) == SQLITE_ROW;
    sqlite3_finalize(q);
    if (!exists) {
        if (sqlite3_prepare_v2(s->db, "SELECT count(*) FROM sqlite_master", -1, &q, NULL) != SQLITE_OK)
            return db_fail(s, "not a database");
        int objects = sqlite3_step(q) == SQLITE_ROW ? sqlite3_column_int(q, 0) : -1;
        sqlite3_finalize(q);
        if (objects != 0)
            return loaa_fail(LOAA_ERR_DB, "%s: not a loaa results database (no schema_version table)", s->path);
        return LOAA_OK;
    }
    if (sqlite3_prepare_v2(s->db, "SELECT COALESCE(MAX(version), 0) FROM schema_version", -1, &q, NULL) != SQLITE_OK)
        return db_fail(s, "reading the schema version");
    if (sqlite3_step(q) == SQLITE_ROW)
        *version = sqlite3_column_int(q, 0);
    sqlite3_finalize(q);
    return LOAA_OK;
}

static loaa_status set_version(loaa_store *s, int version)
{
    sqlite3_stmt *q;
    if (sqlite3_prepare_v2(s->db, "INSERT INTO schema_version (version) VALUES (?)", -1, &q, NULL) != SQLITE_OK)
        return db_fail(s, "schema_version");
    sqlite3_bind_int(q, 1, version);
    int rc = sqlite3_step(q);
    sqlite3_finalize(q);
    return rc == SQLITE_DONE ? LOAA_OK : db_fail(s, "schema_version");
}

/* Brings the database to the latest version, each step in one transaction. */
static loaa_status migrate(loaa_store *s)
{
    loaa_status st;
    int version, latest = loaa_store_latest_version();
    if ((st = read_version(s, &version)))
        return st;
    if (version > latest)
        return loaa_fail(LOAA_ERR_DB, "%s: written by a newer loaa (schema version %d; this loaa knows up to %d)", s->path,
                         version, latest);
    if (version == latest)
        return LOAA_OK;
    int initial = version;
    if (!s->writer && version == 0) /* a 0-byte file or a database without tables: nothing to read or migrate */
        return loaa_fail(LOAA_ERR_DB, "%s: empty, not a loaa results database yet; `loaa sweep SWEEP.yaml --db %s` creates one",
                         s->path, s->path);
    if (!s->writer)
        return loaa_fail(LOAA_ERR_DB, "%s: schema version %d is older than %d; any `loaa sweep` on it migrates it", s->path,
                         version, latest);
    while (version < latest) {
        int next = version + 1;
        char *sql = next == 1 ? strdup(loaa_schema_sql) : migration_text(next);
        if (!sql)
            return loaa_fail(LOAA_ERR_INTERNAL, "schema migration %d missing", next);
        if ((st = exec_sql(s, "BEGIN IMMEDIATE", "begin migration")) == LOAA_OK) {
            char what[64];
            snprintf(what, sizeof what, "schema migration %d", next);
            st = exec_sql(s, sql, what);
            if (!st)
                st = set_version(s, next);
            if (!st)
                st = exec_sql(s, "COMMIT", what);
            if (st)
                sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
        }
        free(sql);
        if (st)
            return st;
        if (initial > 0) /* a new database is built quietly */
            loaa_info("%s: migrated the schema from version %d to %d", s->path, version, next);
        version = next;
    }
    return LOAA_OK;
}

loaa_status loaa_store_open(loaa_store **out, const char *path, loaa_store_mode mode)
{
    assert(out && path);
    loaa_status st;
    *out = NULL;
    loaa_store *s = calloc(1, sizeof *s);
    if (!s || !(s->path = strdup(path))) {
        free(s);
        return loaa_fail(LOAA_ERR_NOMEM, "store: out of memory");
    }
    s->writer = mode == LOAA_STORE_WRITER;
    s->lock_fd = -1;
    if (!s->writer && access(path, F_OK) != 0) {
        st = loaa_fail(LOAA_ERR_NOTFOUND, "%s: no such database", path);
        goto fail;
    }
    if (s->writer && (st = take_lock(s)))
        goto fail;
    int flags = s->writer ? SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE : SQLITE_OPEN_READONLY;
    if (sqlite3_open_v2(path, &s->db, flags | SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK) {
        st = db_fail(s, "cannot open");
        goto fail;
    }
    sqlite3_busy_timeout(s->db, 10000);
    sqlite3_extended_result_codes(s->db, 1);
    if (s->writer) {
        s->network_fs = is_network_fs(path);
        if (s->network_fs) {
            loaa_warn("%s is on a network file system (NFS/Lustre/...): using a rollback journal with exclusive locking "
                      "instead of WAL; readers wait until the sweep ends. Put --db on a local disk for live reports.",
                      path);
            st = exec_sql(s, "PRAGMA locking_mode = EXCLUSIVE; PRAGMA journal_mode = DELETE; PRAGMA synchronous = FULL",
                          "journal mode");
        } else {
            st = exec_sql(s, "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL", "journal mode");
        }
        if (st)
            goto fail;
    }
    if ((st = exec_sql(s, "PRAGMA foreign_keys = ON", "foreign keys")) || (st = migrate(s)) ||
        (st = read_version(s, &s->version)))
        goto fail;
    if (s->version == 0) {
        st = loaa_fail(LOAA_ERR_DB, "%s: empty database (no sweep has written to it)", path);
        goto fail;
    }
    *out = s;
    return LOAA_OK;
fail:
    loaa_store_close(s);
    return st;
}

void loaa_store_close(loaa_store *s)
{
    if (!s)
        return;
    if (s->in_tx && loaa_store_flush(s))
        loaa_error("%s", loaa_error_detail());
    for (int i = 0; i < Q_COUNT; i++)
        sqlite3_finalize(s->q[i]);
    if (s->db) {
        /* The last connection of a WAL database checkpoints it on close; no -wal left behind. */
        sqlite3_close(s->db);
    }
    if (s->lock_fd >= 0)
        close(s->lock_fd); /* releases the fcntl lock */
    free(s->path);
    free(s);
}

sqlite3 *loaa_store_connection(loaa_store *s)
{
    assert(s && s->db);
    return s->db;
}

const char *loaa_store_path(const loaa_store *s) { return s->path; }

loaa_status loaa_store_journal_mode(loaa_store *s, char *out, size_t cap)
{
    assert(s && out && cap > 0);
    sqlite3_stmt *q;
    out[0] = '\0';
    if (sqlite3_prepare_v2(s->db, "PRAGMA journal_mode", -1, &q, NULL) != SQLITE_OK)
        return db_fail(s, "journal mode");
    int rc = sqlite3_step(q);
    if (rc == SQLITE_ROW)
        snprintf(out, cap, "%s", (const char *)sqlite3_column_text(q, 0));
    sqlite3_finalize(q);
    return rc == SQLITE_ROW ? LOAA_OK : db_fail(s, "journal mode");
}
int loaa_store_version(const loaa_store *s) { return s->version; }
int loaa_store_network_fs(const loaa_store *s) { return s->network_fs; }
int loaa_store_pending_writes(const loaa_store *s) { return s->writes; }

/* A cached prepared statement, reset and unbound for reuse. */
static sqlite3_stmt *stmt(loaa_store *s, int which)
{
    if (!s->q[which] && sqlite3_prepare_v3(s->db, query_text[which], -1, SQLITE_PREPARE_PERSISTENT, &s->q[which], NULL))
        return NULL;
    sqlite3_reset(s->q[which]);
    sqlite3_clear_bindings(s->q[which]);
    return s->q[which];
}

static loaa_status begin(loaa_store *s)
{
    if (s->in_tx)
        return LOAA_OK;
    loaa_status st = exec_sql(s, "BEGIN IMMEDIATE", "begin");
    if (!st)
        s->in_tx = 1;
    return st;
}

loaa_status loaa_store_flush(loaa_store *s)
{
    if (!s->in_tx)
        return LOAA_OK;
    loaa_status st = exec_sql(s, "COMMIT", "commit");
    if (st)
        sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
    s->in_tx = 0;
    s->writes = 0;
    return st;
}

/* Runs a bound write; on failure rolls the batch back so no half-recorded trial survives. */
static loaa_status step_done(loaa_store *s, sqlite3_stmt *q, const char *what)
{
    if (!q)
        return db_fail(s, what);
    int rc = sqlite3_step(q);
    if (rc != SQLITE_DONE && rc != SQLITE_ROW) {
        loaa_status st = db_fail(s, what);
        sqlite3_reset(q);
        if (s->in_tx) {
            sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
            s->in_tx = 0;
            s->writes = 0;
        }
        return st;
    }
    s->writes++;
    sqlite3_reset(q);
    return LOAA_OK;
}

static void bind_text_or_null(sqlite3_stmt *q, int i, const char *text)
{
    if (text)
        sqlite3_bind_text(q, i, text, -1, SQLITE_TRANSIENT);
    else
        sqlite3_bind_null(q, i);
}

loaa_status loaa_store_sweep_upsert(loaa_store *s, const char *name, const char *spec_yaml, const char *metric,
                                    const char *goal, const char *method, int ranks_per_trial, int64_t *sweep_id)
{
    assert(s && name && spec_yaml && metric && goal && method && sweep_id);
    loaa_status st;
    sqlite3_stmt *q;
    if ((st = begin(s)))
        return st;
    if (sqlite3_prepare_v2(s->db,
                           "INSERT INTO sweeps (name, spec_yaml, metric, goal, method, ranks_per_trial) VALUES (?,?,?,?,?,?) "
                           "ON CONFLICT (name) DO UPDATE SET spec_yaml = excluded.spec_yaml, metric = excluded.metric, "
                           "goal = excluded.goal, method = excluded.method, ranks_per_trial = excluded.ranks_per_trial, "
                           "updated = strftime('%Y-%m-%dT%H:%M:%fZ', 'now')",
                           -1, &q, NULL) != SQLITE_OK)
        return db_fail(s, "sweeps");
    sqlite3_bind_text(q, 1, name, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(q, 2, spec_yaml, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(q, 3, metric, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(q, 4, goal, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(q, 5, method, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int(q, 6, ranks_per_trial);
    st = step_done(s, q, "recording the sweep");
    sqlite3_finalize(q);
    if (st)
        return st;
    return loaa_store_sweep_find(s, name, sweep_id);
}

loaa_status loaa_store_sweep_find(loaa_store *s, const char *name, int64_t *sweep_id)
{
    assert(s && name && sweep_id);
    sqlite3_stmt *q;
    if (sqlite3_prepare_v2(s->db, "SELECT sweep_id FROM sweeps WHERE name = ?", -1, &q, NULL) != SQLITE_OK)
        return db_fail(s, "sweeps");
    sqlite3_bind_text(q, 1, name, -1, SQLITE_TRANSIENT);
    int rc = sqlite3_step(q);
    if (rc == SQLITE_ROW)
        *sweep_id = sqlite3_column_int64(q, 0);
    sqlite3_finalize(q);
    if (rc == SQLITE_ROW)
        return LOAA_OK;
    if (rc == SQLITE_DONE)
        return loaa_fail(LOAA_ERR_NOTFOUND, "%s: no sweep named '%s'", s->path, name);
    return db_fail(s, "sweeps");
}

loaa_status loaa_store_sweep_reset(loaa_store *s, int64_t sweep_id, int retry_failed, int *reset)
{
    assert(s && reset);
    loaa_status st;
    sqlite3_stmt *q;
    *reset = 0;
    if ((st = begin(s)))
        return st;
    if (sqlite3_prepare_v2(s->db, "UPDATE trials SET state = 'pending' WHERE sweep_id = ? AND state IN ('running', 'interrupted')",
                           -1, &q, NULL) != SQLITE_OK)
        return db_fail(s, "reset");
    sqlite3_bind_int64(q, 1, sweep_id);
    st = step_done(s, q, "resetting interrupted trials");
    sqlite3_finalize(q);
    if (st)
        return st;
    *reset += sqlite3_changes(s->db);
    if (retry_failed) {
        if (sqlite3_prepare_v2(s->db,
                               "UPDATE trials SET state = 'pending', attempts = 0, error = NULL WHERE sweep_id = ? AND state = 'failed'",
                               -1, &q, NULL) != SQLITE_OK)
            return db_fail(s, "reset");
        sqlite3_bind_int64(q, 1, sweep_id);
        st = step_done(s, q, "resetting failed trials");
        sqlite3_finalize(q);
        if (st)
            return st;
        *reset += sqlite3_changes(s->db);
    }
    return LOAA_OK;
}

loaa_status loaa_store_trial_add(loaa_store *s, int64_t sweep_id, const loaa_store_trial_spec *t, int64_t *trial_id,
                                 char *state, int *attempts)
{
    assert(s && t && t->config_json && t->hash && t->dataset && t->method && trial_id && state && attempts);
    loaa_status st;
    if ((st = begin(s)))
        return st;
    sqlite3_stmt *q = stmt(s, Q_TRIAL_INSERT);
    if (!q)
        return db_fail(s, "trials");
    sqlite3_bind_int64(q, 1, sweep_id);
    sqlite3_bind_int64(q, 2, t->number);
    sqlite3_bind_text(q, 3, t->config_json, -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 4, t->exec_json ? t->exec_json : "{}", -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 5, t->hash, -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 6, t->dataset, -1, SQLITE_STATIC);
    bind_text_or_null(q, 7, t->dataset_sha256);
    bind_text_or_null(q, 8, t->backbone);
    bind_text_or_null(q, 9, t->backbone_sha256);
    bind_text_or_null(q, 10, t->backbone_ref);
    sqlite3_bind_text(q, 11, t->method, -1, SQLITE_STATIC);
    sqlite3_bind_int64(q, 12, t->seed);
    if (t->fold >= 0)
        sqlite3_bind_int(q, 13, t->fold);
    else
        sqlite3_bind_null(q, 13);
    if ((st = step_done(s, q, "recording a trial")))
        return st;
    if (sqlite3_changes(s->db) == 1) {
        *trial_id = sqlite3_last_insert_rowid(s->db);
        snprintf(state, 16, "pending");
        *attempts = 0;
        const char *name;
        json_t *value;
        json_object_foreach((json_t *)t->params, name, value) {
            char *text = json_dumps(value, JSON_ENCODE_ANY | JSON_COMPACT | JSON_SORT_KEYS);
            if (!text)
                return loaa_fail(LOAA_ERR_NOMEM, "trial_params: out of memory");
            q = stmt(s, Q_PARAM_INSERT);
            if (!q) {
                free(text);
                return db_fail(s, "trial_params");
            }
            sqlite3_bind_int64(q, 1, *trial_id);
            sqlite3_bind_text(q, 2, name, -1, SQLITE_STATIC);
            sqlite3_bind_text(q, 3, text, -1, SQLITE_TRANSIENT);
            free(text);
            if ((st = step_done(s, q, "recording a trial parameter")))
                return st;
        }
        return LOAA_OK;
    }
    q = stmt(s, Q_TRIAL_LOOKUP);
    if (!q)
        return db_fail(s, "trials");
    sqlite3_bind_int64(q, 1, sweep_id);
    sqlite3_bind_text(q, 2, t->hash, -1, SQLITE_STATIC);
    if (sqlite3_step(q) != SQLITE_ROW) {
        st = db_fail(s, "looking up a trial");
        sqlite3_reset(q);
        return st;
    }
    *trial_id = sqlite3_column_int64(q, 0);
    snprintf(state, 16, "%s", (const char *)sqlite3_column_text(q, 1));
    *attempts = sqlite3_column_int(q, 2);
    const char *old_exec = (const char *)sqlite3_column_text(q, 3);
    int exec_changed = strcmp(old_exec ? old_exec : "", t->exec_json ? t->exec_json : "{}") != 0;
    int finished = !strcmp(state, "done") || !strcmp(state, "pruned");
    sqlite3_reset(q);
    if (exec_changed && !finished) {
        q = stmt(s, Q_TRIAL_EXEC);
        if (!q)
            return db_fail(s, "trials");
        sqlite3_bind_text(q, 1, t->exec_json ? t->exec_json : "{}", -1, SQLITE_STATIC);
        sqlite3_bind_int64(q, 2, t->number);
        sqlite3_bind_int64(q, 3, *trial_id);
        return step_done(s, q, "updating execution settings");
    }
    return LOAA_OK;
}

loaa_status loaa_store_trial_config(loaa_store *s, int64_t trial_id, char **config_json, char **exec_json, int *attempts,
                                    char hash[65])
{
    assert(s && config_json && exec_json && attempts && hash);
    sqlite3_stmt *q = stmt(s, Q_TRIAL_CONFIG);
    *config_json = *exec_json = NULL;
    if (!q)
        return db_fail(s, "trials");
    sqlite3_bind_int64(q, 1, trial_id);
    if (sqlite3_step(q) != SQLITE_ROW) {
        sqlite3_reset(q);
        return loaa_fail(LOAA_ERR_NOTFOUND, "%s: no trial %lld", s->path, (long long)trial_id);
    }
    *config_json = strdup((const char *)sqlite3_column_text(q, 0));
    *exec_json = strdup((const char *)sqlite3_column_text(q, 1));
    *attempts = sqlite3_column_int(q, 2);
    snprintf(hash, 65, "%s", (const char *)sqlite3_column_text(q, 3));
    sqlite3_reset(q);
    if (!*config_json || !*exec_json) {
        free(*config_json);
        free(*exec_json);
        return loaa_fail(LOAA_ERR_NOMEM, "trial config: out of memory");
    }
    return LOAA_OK;
}

loaa_status loaa_store_trial_started(loaa_store *s, int64_t trial_id, int ranks, const char *log_path)
{
    loaa_status st;
    if ((st = begin(s)))
        return st;
    sqlite3_stmt *q = stmt(s, Q_TRIAL_STARTED);
    if (!q)
        return db_fail(s, "trials");
    sqlite3_bind_double(q, 1, loaa_wall_clock());
    sqlite3_bind_int(q, 2, ranks);
    bind_text_or_null(q, 3, log_path);
    sqlite3_bind_int64(q, 4, trial_id);
    return step_done(s, q, "marking a trial running");
}

static const char *split_of(const char *name)
{
    if (!strncmp(name, "val_", 4))
        return "val";
    if (!strncmp(name, "test_", 5))
        return "test";
    return "train";
}

loaa_status loaa_store_trial_epoch(loaa_store *s, int64_t trial_id, int epoch, const json_t *metrics)
{
    loaa_status st;
    const char *name;
    json_t *value;
    if ((st = begin(s)))
        return st;
    json_object_foreach((json_t *)metrics, name, value) {
        if (!json_is_number(value))
            continue;
        sqlite3_stmt *q = stmt(s, Q_METRIC);
        if (!q)
            return db_fail(s, "trial_metrics");
        sqlite3_bind_int64(q, 1, trial_id);
        sqlite3_bind_int(q, 2, epoch);
        sqlite3_bind_text(q, 3, split_of(name), -1, SQLITE_STATIC);
        sqlite3_bind_text(q, 4, name, -1, SQLITE_STATIC);
        sqlite3_bind_double(q, 5, json_number_value(value));
        if ((st = step_done(s, q, "recording an epoch metric")))
            return st;
    }
    sqlite3_stmt *q = stmt(s, Q_LAST_EPOCH);
    if (!q)
        return db_fail(s, "trials");
    sqlite3_bind_int(q, 1, epoch);
    sqlite3_bind_int64(q, 2, trial_id);
    return step_done(s, q, "recording the last epoch");
}

static void bind_member_text(sqlite3_stmt *q, int i, const json_t *obj, const char *key)
{
    const json_t *v = json_object_get(obj, key);
    bind_text_or_null(q, i, json_is_string(v) && json_string_value(v)[0] ? json_string_value(v) : NULL);
}

static void bind_member_number(sqlite3_stmt *q, int i, const json_t *obj, const char *key, int integer)
{
    const json_t *v = json_object_get(obj, key);
    if (!json_is_number(v))
        sqlite3_bind_null(q, i);
    else if (integer)
        sqlite3_bind_int64(q, i, (sqlite3_int64)json_number_value(v));
    else
        sqlite3_bind_double(q, i, json_number_value(v));
}

loaa_status loaa_store_trial_finish(loaa_store *s, int64_t trial_id, const json_t *result)
{
    loaa_status st;
    if ((st = begin(s)))
        return st;
    const json_t *results = json_object_get(result, "results");
    const json_t *stats = json_object_get(result, "stats");
    const json_t *files = json_object_get(result, "files");
    const json_t *prov = json_object_get(result, "provenance");
    int pruned = json_is_true(json_object_get(result, "pruned"));
    const json_t *best = json_object_get(result, "best_epoch");
    const char *name;
    json_t *value;
    json_object_foreach((json_t *)results, name, value) {
        if (!json_is_number(value))
            continue;
        sqlite3_stmt *q = stmt(s, Q_RESULT);
        if (!q)
            return db_fail(s, "trial_results");
        sqlite3_bind_int64(q, 1, trial_id);
        sqlite3_bind_text(q, 2, name, -1, SQLITE_STATIC);
        sqlite3_bind_double(q, 3, json_number_value(value));
        if (json_is_integer(best))
            sqlite3_bind_int64(q, 4, json_integer_value(best));
        if ((st = step_done(s, q, "recording a result")))
            return st;
    }
    sqlite3_stmt *q = stmt(s, Q_FINISH);
    if (!q)
        return db_fail(s, "trials");
    sqlite3_bind_text(q, 1, pruned ? "pruned" : "done", -1, SQLITE_STATIC);
    sqlite3_bind_double(q, 2, loaa_wall_clock());
    bind_member_number(q, 3, stats, "seconds", 0);
    bind_member_number(q, 4, stats, "trainable_params", 1);
    bind_member_number(q, 5, stats, "total_params", 1);
    bind_member_number(q, 6, stats, "samples_per_s", 0);
    bind_member_number(q, 7, stats, "peak_rss", 1);
    bind_member_number(q, 8, result, "best_epoch", 1);
    if (pruned)
        bind_member_number(q, 9, result, "epochs_run", 1);
    if (json_is_integer(json_object_get(result, "epochs_run")))
        sqlite3_bind_int64(q, 10, json_integer_value(json_object_get(result, "epochs_run")) - 1);
    bind_member_text(q, 11, files, "checkpoint");
    bind_member_text(q, 12, files, "best_checkpoint");
    bind_member_text(q, 13, files, "adapter");
    bind_member_text(q, 14, files, "backbone");
    bind_member_text(q, 15, files, "log");
    bind_member_text(q, 16, prov, "loaa_version");
    bind_member_text(q, 17, prov, "blas");
    bind_member_text(q, 18, prov, "scalapack");
    bind_member_text(q, 19, prov, "gemm_backend");
    bind_member_text(q, 20, prov, "host");
    bind_member_text(q, 21, prov, "grid");
    bind_member_number(q, 22, prov, "ranks", 1);
    bind_member_text(q, 23, prov, "isa");
    sqlite3_bind_int64(q, 24, trial_id);
    return step_done(s, q, "recording a finished trial");
}

loaa_status loaa_store_trial_failed(loaa_store *s, int64_t trial_id, const char *error, const char *log_path, int crash,
                                    int max_attempts, int *requeue)
{
    assert(s && error && requeue);
    loaa_status st;
    *requeue = 0;
    if ((st = begin(s)))
        return st;
    sqlite3_stmt *q = stmt(s, Q_FAIL_GET);
    if (!q)
        return db_fail(s, "trials");
    sqlite3_bind_int64(q, 1, trial_id);
    int attempts = sqlite3_step(q) == SQLITE_ROW ? sqlite3_column_int(q, 0) : 0;
    sqlite3_reset(q);
    if (crash) {
        attempts++;
        *requeue = attempts < max_attempts;
    }
    q = stmt(s, Q_FAIL_SET);
    if (!q)
        return db_fail(s, "trials");
    sqlite3_bind_text(q, 1, *requeue ? "pending" : "failed", -1, SQLITE_STATIC);
    sqlite3_bind_int(q, 2, attempts);
    sqlite3_bind_text(q, 3, error, -1, SQLITE_TRANSIENT);
    sqlite3_bind_double(q, 4, loaa_wall_clock());
    bind_text_or_null(q, 5, log_path);
    sqlite3_bind_int64(q, 6, trial_id);
    return step_done(s, q, "recording a failed trial");
}

loaa_status loaa_store_trial_requeue(loaa_store *s, int64_t trial_id)
{
    loaa_status st;
    sqlite3_stmt *q;
    if ((st = begin(s)))
        return st;
    if (sqlite3_prepare_v2(s->db, "UPDATE trials SET state = 'pending' WHERE trial_id = ?", -1, &q, NULL) != SQLITE_OK)
        return db_fail(s, "trials");
    sqlite3_bind_int64(q, 1, trial_id);
    st = step_done(s, q, "requeueing a trial");
    sqlite3_finalize(q);
    return st;
}

loaa_status loaa_store_mark_interrupted(loaa_store *s, int64_t sweep_id)
{
    loaa_status st;
    sqlite3_stmt *q;
    if ((st = begin(s)))
        return st;
    if (sqlite3_prepare_v2(s->db, "UPDATE trials SET state = 'interrupted' WHERE sweep_id = ? AND state = 'running'", -1, &q,
                           NULL) != SQLITE_OK)
        return db_fail(s, "trials");
    sqlite3_bind_int64(q, 1, sweep_id);
    st = step_done(s, q, "marking running trials interrupted");
    sqlite3_finalize(q);
    return st;
}

loaa_status loaa_store_best_backbone(loaa_store *s, const char *sweep, int64_t *trial_id, char *path, size_t cap)
{
    assert(s && sweep && trial_id && path && cap > 0);
    sqlite3_stmt *q;
    int64_t sweep_id;
    loaa_status st = loaa_store_sweep_find(s, sweep, &sweep_id);
    if (st)
        return loaa_fail(LOAA_ERR_NOTFOUND, "backbone {sweep: %s, best: true}: the database has no sweep '%s'; run it first",
                         sweep, sweep);
    if (sqlite3_prepare_v2(s->db,
                           "SELECT t.trial_id, t.backbone_export_path FROM trials t JOIN sweeps s ON s.sweep_id = t.sweep_id "
                           "JOIN trial_results r ON r.trial_id = t.trial_id AND r.name = s.metric "
                           "WHERE t.sweep_id = ? AND t.state = 'done' AND r.value IS NOT NULL "
                           "ORDER BY CASE WHEN s.goal = 'minimize' THEN r.value ELSE -r.value END, t.trial_id LIMIT 1",
                           -1, &q, NULL) != SQLITE_OK)
        return db_fail(s, "best trial");
    sqlite3_bind_int64(q, 1, sweep_id);
    int rc = sqlite3_step(q);
    if (rc != SQLITE_ROW) {
        sqlite3_finalize(q);
        if (rc != SQLITE_DONE)
            return db_fail(s, "best trial");
        return loaa_fail(LOAA_ERR_NOTFOUND,
                         "backbone {sweep: %s, best: true}: sweep '%s' has no finished trial with its metric yet; "
                         "run or finish it first",
                         sweep, sweep);
    }
    *trial_id = sqlite3_column_int64(q, 0);
    const char *p = (const char *)sqlite3_column_text(q, 1);
    st = LOAA_OK;
    if (!p || !*p)
        st = loaa_fail(LOAA_ERR_NOTFOUND,
                       "backbone {sweep: %s, best: true}: its best trial %lld exported no backbone file "
                       "(only method 'full' trains and exports a whole backbone)",
                       sweep, (long long)*trial_id);
    else if (strlen(p) >= cap)
        st = loaa_fail(LOAA_ERR_LIMIT, "backbone path too long");
    else
        snprintf(path, cap, "%s", p);
    sqlite3_finalize(q);
    return st;
}

loaa_status loaa_store_metric_history(loaa_store *s, int64_t sweep_id, const char *name,
                                      void (*fn)(void *ctx, int64_t trial_id, int epoch, double value), void *ctx)
{
    assert(s && name && fn);
    sqlite3_stmt *q;
    if (sqlite3_prepare_v2(s->db,
                           "SELECT m.trial_id, m.epoch, m.value FROM trial_metrics m JOIN trials t ON t.trial_id = m.trial_id "
                           "WHERE t.sweep_id = ? AND m.name = ? AND m.value IS NOT NULL ORDER BY m.trial_id, m.epoch",
                           -1, &q, NULL) != SQLITE_OK)
        return db_fail(s, "metric history");
    sqlite3_bind_int64(q, 1, sweep_id);
    sqlite3_bind_text(q, 2, name, -1, SQLITE_TRANSIENT);
    int rc;
    while ((rc = sqlite3_step(q)) == SQLITE_ROW)
        fn(ctx, sqlite3_column_int64(q, 0), sqlite3_column_int(q, 1), sqlite3_column_double(q, 2));
    sqlite3_finalize(q);
    return rc == SQLITE_DONE ? LOAA_OK : db_fail(s, "metric history");
}
