/* coordinator.c - rank 0: sweep preparation, dynamic scheduling, early termination, recording, progress. */
#include "config.h"

#include "coordinator/coordinator.h"

#include <assert.h>
#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/fs.h"
#include "common/log.h"
#include "common/protocol.h"
#include "common/timer.h"
#include "coordinator/prune.h"
#include "coordinator/query.h"
#include "coordinator/stats.h"
#include "coordinator/store.h"
#include "coordinator/sweep.h"

#define FLUSH_INTERVAL_S 0.5
#define FLUSH_WRITES 20000

typedef struct group {
    int leader;
    int64_t trial_id; /* -1 = free */
    int attempt;
    double started;
} group;

struct loaa_coordinator {
    loaa_sweep_opts opts;
    loaa_sweep *sw;
    loaa_store *store;
    loaa_pruner *pruner;
    int64_t sweep_id;
    char *dir_prefix;         /* "ARTIFACTS/SWEEP" (valid UTF-8): trial folders are DIR_PREFIX/HASH16 */
    char artifacts[4096];
    int64_t *queue;           /* pending trial ids */
    size_t q_head, q_len, q_cap;
    int64_t total, done, pruned, failed, running, ran_here;
    int64_t *stopping;        /* trials told to stop (early termination), small */
    size_t n_stopping, cap_stopping;
    int warned_slow_bf16;     /* the "bf16 slower than fp32" warning was given */
    double t_start, t_flush, t_progress;
    int tty, progress_shown;
};

static volatile sig_atomic_t stop_signal;

static void on_signal(int sig) { stop_signal = sig; }

static loaa_status queue_push(loaa_coordinator *c, int64_t id)
{
    if (c->q_len == c->q_cap) {
        if (c->q_head > 0) {
            memmove(c->queue, c->queue + c->q_head, (c->q_len - c->q_head) * sizeof *c->queue);
            c->q_len -= c->q_head;
            c->q_head = 0;
        }
        if (c->q_len == c->q_cap) {
            size_t cap = c->q_cap ? c->q_cap * 2 : 1024;
            int64_t *q = realloc(c->queue, cap * sizeof *q);
            if (!q)
                return loaa_fail(LOAA_ERR_NOMEM, "coordinator: out of memory");
            c->queue = q;
            c->q_cap = cap;
        }
    }
    c->queue[c->q_len++] = id;
    return LOAA_OK;
}

static size_t queue_size(const loaa_coordinator *c) { return c->q_len - c->q_head; }

/* The sweep name as a folder name: anything outside [A-Za-z0-9._-] becomes '_'. */
static void safe_name(const char *in, char *out, size_t cap)
{
    size_t i = 0;
    for (; in[i] && i + 1 < cap; i++) {
        char ch = in[i];
        int ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '.' || ch == '-' ||
                 ch == '_';
        out[i] = ok ? ch : '_';
    }
    out[i] = '\0';
    if (!strcmp(out, ".") || !strcmp(out, ".."))
        out[0] = '_';
}

static void default_artifacts(const char *db, char *out, size_t cap)
{
    const char *slash = strrchr(db, '/');
    if (slash)
        snprintf(out, cap, "%.*s/artifacts", (int)(slash - db), db);
    else
        snprintf(out, cap, "artifacts");
}

typedef struct add_ctx {
    loaa_coordinator *c;
} add_ctx;

static loaa_status add_trial(void *p, const loaa_sweep_trial *t)
{
    loaa_coordinator *c = ((add_ctx *)p)->c;
    loaa_store_trial_spec spec = {
        .number = t->number,
        .config_json = t->config_json,
        .exec_json = t->exec_json,
        .hash = t->hash,
        .dataset = t->cfg->dataset,
        .dataset_sha256 = t->dataset_sha256,
        .backbone = t->cfg->backbone_kind == LOAA_BACKBONE_NONE ? NULL : t->cfg->backbone,
        .backbone_sha256 = t->backbone_sha256,
        .backbone_ref = t->backbone_ref,
        .method = loaa_method_name(t->cfg->method),
        .seed = t->cfg->seed,
        .fold = t->cfg->fold,
        .params = t->params,
    };
    int64_t id;
    char state[16];
    int attempts, slow = 0;
    /* Before any trial starts, not after an epoch: a node without bf16 matmuls refuses the sweep whole. */
    loaa_status st = c->opts.cpu_isa ? loaa_config_check_precision(t->cfg, c->opts.bf16_level, c->opts.cpu_isa, &slow)
                                     : LOAA_OK;
    if (st)
        return loaa_fail_prefix(st, "trial %lld: ", (long long)t->number);
    if (slow && !c->warned_slow_bf16++)
        loaa_warn("precision bf16 on '%s' (AVX-512 without BF16 instructions) runs slower than fp32", c->opts.cpu_isa);
    st = loaa_store_trial_add(c->store, c->sweep_id, &spec, &id, state, &attempts);
    if (!st && c->pruner)
        st = loaa_pruner_assign(c->pruner, id, t->config_json);
    if (st)
        return st;
    c->total++;
    if (!strcmp(state, "done"))
        c->done++;
    else if (!strcmp(state, "pruned"))
        c->pruned++;
    else if (!strcmp(state, "failed"))
        c->failed++;
    else
        st = queue_push(c, id);
    if (!st && loaa_store_pending_writes(c->store) >= FLUSH_WRITES)
        st = loaa_store_flush(c->store);
    return st;
}

static void seed_pruner(void *p, int64_t trial_id, int epoch, double value)
{
    loaa_pruner_seed((loaa_pruner *)p, trial_id, epoch, value);
}

/*
 * Chained backbones, from this database: each {sweep: NAME, best: true} keeps
 * the file this sweep's trials already resolved for it (so they keep their
 * identities, whatever NAME's best trial is now: e.g. after NAME's metric
 * changed from a test to a validation metric); a new one, or every one with
 * reselect, is NAME's best finished trial. required = 0 (dry run): a
 * reference that cannot be resolved stays unresolved instead of failing.
 */
static loaa_status resolve_backbones(loaa_sweep *sw, loaa_store *store, int reselect, int required)
{
    const char *const *names;
    size_t n = loaa_sweep_backbone_refs(sw, &names);
    for (size_t i = 0; i < n; i++) {
        char path[4096];
        int64_t trial_id = -1;
        loaa_status st = reselect ? LOAA_ERR_NOTFOUND : loaa_store_resolved_backbone(store, loaa_sweep_name(sw), names[i], path, sizeof path);
        int kept = !st;
        if (st == LOAA_ERR_NOTFOUND)
            st = loaa_store_best_backbone(store, names[i], &trial_id, path, sizeof path);
        if (st && !required)
            continue;
        if (st)
            return loaa_fail_prefix(st, "%s: ", loaa_sweep_name(sw));
        if (kept && required && access(path, R_OK) != 0)
            return loaa_fail(LOAA_ERR_NOTFOUND,
                             "%s: backbone {sweep: %s, best: true}: %s, the file this sweep's trials resolved, cannot be read: %s "
                             "(loaa sweep --reselect-backbones chooses again)",
                             loaa_sweep_name(sw), names[i], path, strerror(errno));
        if ((st = loaa_sweep_resolve_backbone(sw, names[i], path)))
            return st;
        if (kept && required)
            loaa_info("backbone {sweep: %s, best: true} = %s, as this sweep's trials resolved it (--reselect-backbones chooses again)",
                      names[i], path);
        else if (required)
            loaa_info("backbone {sweep: %s, best: true} = trial %lld, %s", names[i], (long long)trial_id, path);
    }
    return LOAA_OK;
}

/* c->dir_prefix = ARTIFACTS/SWEEP (the sweep name made a safe folder name); refused when not UTF-8 (JSON carries it). */
static loaa_status set_dir_prefix(loaa_coordinator *c)
{
    char name[256], prefix[4400];
    safe_name(loaa_sweep_name(c->sw), name, sizeof name);
    snprintf(prefix, sizeof prefix, "%s/%s", c->artifacts, name);
    json_t *utf8 = json_string(prefix);
    json_decref(utf8);
    if (!utf8)
        return loaa_fail(LOAA_ERR_PARSE, "--artifacts: not valid UTF-8 text");
    if (!(c->dir_prefix = strdup(prefix)))
        return loaa_fail(LOAA_ERR_NOMEM, "coordinator: out of memory");
    return LOAA_OK;
}

loaa_status loaa_coordinator_open(loaa_coordinator **out, const loaa_sweep_opts *opts)
{
    loaa_status st;
    *out = NULL;
    loaa_coordinator *c = calloc(1, sizeof *c);
    if (!c)
        return loaa_fail(LOAA_ERR_NOMEM, "coordinator: out of memory");
    c->opts = *opts;
    if (!c->opts.max_trials)
        c->opts.max_trials = LOAA_SWEEP_DEFAULT_MAX_TRIALS;
    if ((st = loaa_sweep_load(&c->sw, opts->sweep_path)))
        goto fail;
    int64_t count;
    if ((st = loaa_sweep_count(c->sw, c->opts.max_trials, &count)))
        goto fail;
    if (opts->artifacts)
        snprintf(c->artifacts, sizeof c->artifacts, "%s", opts->artifacts);
    else
        default_artifacts(opts->db_path, c->artifacts, sizeof c->artifacts);
    /* Made now (an unwritable place fails before any trial runs) and recorded absolute, so the paths in the
     * database stay valid from any working directory (chained sweeps, loaa export). */
    if ((st = loaa_fs_make_dirs(c->artifacts))) {
        st = loaa_fail_prefix(st, "--artifacts: ");
        goto fail;
    }
    char *abs_path = realpath(c->artifacts, NULL);
    if (!abs_path) {
        st = loaa_fail(LOAA_ERR_IO, "--artifacts %s: %s", c->artifacts, strerror(errno));
        goto fail;
    }
    snprintf(c->artifacts, sizeof c->artifacts, "%s", abs_path);
    free(abs_path);
    if ((st = loaa_store_open(&c->store, opts->db_path, LOAA_STORE_WRITER)))
        goto fail;
    if ((st = resolve_backbones(c->sw, c->store, opts->reselect_backbones, 1)))
        goto fail;
    if ((st = loaa_store_sweep_upsert(c->store, loaa_sweep_name(c->sw), loaa_sweep_text(c->sw), loaa_sweep_metric(c->sw),
                                      loaa_sweep_goal(c->sw), loaa_sweep_method(c->sw), loaa_sweep_ranks_per_trial(c->sw),
                                      &c->sweep_id)))
        goto fail;
    int reset;
    if ((st = loaa_store_sweep_reset(c->store, c->sweep_id, opts->retry_failed, &reset)))
        goto fail;
    const loaa_early_terminate *et = loaa_sweep_early(c->sw);
    const char *sel = loaa_sweep_select_on(c->sw);
    /* Made before the expansion: add_trial places each trial in its pruning group. */
    if (et->type != LOAA_EARLY_NONE && !(c->pruner = loaa_pruner_new(et, loaa_metric_direction(sel) > 0))) {
        st = loaa_fail(LOAA_ERR_NOMEM, "coordinator: out of memory");
        goto fail;
    }
    add_ctx ac = {c};
    int64_t unique, dups;
    if ((st = loaa_sweep_expand(c->sw, c->opts.max_trials, 0, add_trial, &ac, &unique, &dups)))
        goto fail;
    if ((st = loaa_store_flush(c->store)))
        goto fail;
    if (dups)
        loaa_info("%lld duplicate trial(s) dropped (same identity)", (long long)dups);
    if (c->pruner && (st = loaa_store_metric_history(c->store, c->sweep_id, sel, seed_pruner, c->pruner)))
        goto fail;
    if ((st = set_dir_prefix(c)))
        goto fail;
    *out = c;
    return LOAA_OK;
fail:
    loaa_coordinator_close(c);
    return st;
}

void loaa_coordinator_close(loaa_coordinator *c)
{
    if (!c)
        return;
    loaa_store_close(c->store);
    loaa_sweep_free(c->sw);
    loaa_pruner_free(c->pruner);
    free(c->queue);
    free(c->stopping);
    free(c->dir_prefix);
    free(c);
}

int loaa_coordinator_ranks_per_trial(const loaa_coordinator *c) { return loaa_sweep_ranks_per_trial(c->sw); }

/* ---- progress ---- */

static void fmt_duration(double s, char *out, size_t cap)
{
    if (!isfinite(s) || s < 0)
        snprintf(out, cap, "?");
    else if (s < 120)
        snprintf(out, cap, "%.0fs", s);
    else if (s < 7200)
        snprintf(out, cap, "%.0fm", s / 60);
    else
        snprintf(out, cap, "%.1fh", s / 3600);
}

static void progress(loaa_coordinator *c, int final)
{
    double now = loaa_now();
    double interval = c->tty ? 0.5 : 10.0;
    if (!final && now - c->t_progress < interval)
        return;
    c->t_progress = now;
    double elapsed = now - c->t_start;
    double rate = elapsed > 0 ? c->ran_here / elapsed : 0;
    int64_t pending = (int64_t)queue_size(c);
    char eta[32], el[32];
    fmt_duration(rate > 0 ? (pending + c->running) / rate : NAN, eta, sizeof eta);
    fmt_duration(elapsed, el, sizeof el);
    if (final)
        snprintf(eta, sizeof eta, "0s");
    char line[256];
    snprintf(line, sizeof line, "sweep %s: %lld/%lld done, %lld running, %lld failed, %lld pruned, %lld pending | %.0f trials/h | %s elapsed, ETA %s",
             loaa_sweep_name(c->sw), (long long)c->done, (long long)c->total, (long long)c->running, (long long)c->failed,
             (long long)c->pruned, (long long)pending, rate * 3600, el, eta);
    if (loaa_log_get_level() < LOAA_LOG_INFO && !final)
        return;
    if (c->tty)
        fprintf(stderr, "\r\033[K%s%s", line, final ? "\n" : "");
    else
        fprintf(stderr, "%s\n", line);
    fflush(stderr);
    c->progress_shown = 1;
}

/* ---- scheduling ---- */

static loaa_status send_text(MPI_Comm world, int dest, int tag, const char *text)
{
    if (MPI_Send(text, (int)strlen(text) + 1, MPI_CHAR, dest, tag, world) != MPI_SUCCESS)
        return loaa_fail(LOAA_ERR_MPI, "MPI_Send to rank %d failed", dest);
    return LOAA_OK;
}

void loaa_coordinator_stop_all(MPI_Comm world, const int *leaders, int n_groups)
{
    for (int g = 0; g < n_groups; g++)
        send_text(world, leaders[g], LOAA_TAG_STOP, "{}");
}

static loaa_status send_json(MPI_Comm world, int dest, int tag, const json_t *obj)
{
    char *text = obj ? json_dumps(obj, JSON_COMPACT) : NULL;
    if (!text)
        return loaa_fail(LOAA_ERR_NOMEM, "coordinator: out of memory");
    loaa_status st = send_text(world, dest, tag, text);
    free(text);
    return st;
}

char *loaa_coordinator_trial_payload(int64_t trial_id, int attempt, const char *config_json, const char *exec_json, const char *dir,
                                     int early)
{
    assert(config_json && exec_json && dir);
    json_t *config = json_loads(config_json, 0, NULL), *exec = json_loads(exec_json, 0, NULL);
    json_t *msg = json_is_object(config) && json_is_object(exec)
                      ? json_pack("{s:I,s:i,s:O,s:O,s:s,s:b}", "trial_id", (json_int_t)trial_id, "attempt", attempt, "config", config,
                                  "exec", exec, "dir", dir, "early", early)
                      : NULL;
    char *text = msg ? json_dumps(msg, JSON_COMPACT) : NULL;
    json_decref(msg);
    json_decref(config);
    json_decref(exec);
    return text;
}

static loaa_status dispatch(loaa_coordinator *c, MPI_Comm world, group *g)
{
    assert(queue_size(c) > 0 && g->trial_id < 0);
    int64_t id = c->queue[c->q_head++];
    char *config = NULL, *exec = NULL, hash[65];
    int attempts;
    loaa_status st = loaa_store_trial_config(c->store, id, &config, &exec, &attempts, hash);
    if (st)
        return st;
    char dir[4500];
    snprintf(dir, sizeof dir, "%s/%.16s", c->dir_prefix, hash);
    char *msg = loaa_coordinator_trial_payload(id, attempts, config, exec, dir, c->pruner != NULL);
    st = msg ? send_text(world, g->leader, LOAA_TAG_TRIAL, msg)
             : loaa_fail(LOAA_ERR_INTERNAL, "trial %lld: its stored config or execution settings are not a JSON object", (long long)id);
    free(msg);
    free(config);
    free(exec);
    if (st)
        return st;
    g->trial_id = id;
    g->attempt = attempts;
    g->started = loaa_now();
    c->running++;
    /* The log path comes with the result: only trials in their own process write one. */
    return loaa_store_trial_started(c->store, id, loaa_sweep_ranks_per_trial(c->sw), NULL);
}

static group *group_of_trial(group *groups, int n, int64_t id)
{
    for (int i = 0; i < n; i++)
        if (groups[i].trial_id == id)
            return &groups[i];
    return NULL;
}

static int was_stopped(loaa_coordinator *c, int64_t id, int forget)
{
    for (size_t i = 0; i < c->n_stopping; i++)
        if (c->stopping[i] == id) {
            if (forget)
                c->stopping[i] = c->stopping[--c->n_stopping];
            return 1;
        }
    return 0;
}

static loaa_status on_epoch(loaa_coordinator *c, MPI_Comm world, int source, const json_t *msg)
{
    int64_t id = json_integer_value(json_object_get(msg, "trial_id"));
    int epoch = (int)json_integer_value(json_object_get(msg, "epoch"));
    const json_t *metrics = json_object_get(msg, "metrics");
    loaa_status st = loaa_store_trial_epoch(c->store, id, epoch, metrics);
    if (st || !c->pruner)
        return st;
    const json_t *v = json_object_get(metrics, loaa_sweep_select_on(c->sw));
    double value = json_is_number(v) ? json_number_value(v) : NAN;
    int stop = loaa_pruner_report(c->pruner, id, epoch, value);
    if (stop && !was_stopped(c, id, 0)) {
        if (c->n_stopping == c->cap_stopping) {
            size_t cap = c->cap_stopping ? c->cap_stopping * 2 : 16;
            int64_t *s = realloc(c->stopping, cap * sizeof *s);
            if (!s)
                return loaa_fail(LOAA_ERR_NOMEM, "coordinator: out of memory");
            c->stopping = s;
            c->cap_stopping = cap;
        }
        c->stopping[c->n_stopping++] = id;
        loaa_debug("trial %lld stopped early after epoch %d (%s %g)", (long long)id, epoch + 1,
                   loaa_sweep_select_on(c->sw), value);
    }
    json_t *answer = json_pack("{s:I,s:b}", "trial_id", (json_int_t)id, "stop", stop);
    st = send_json(world, source, LOAA_TAG_ANSWER, answer);
    json_decref(answer);
    return st;
}

static loaa_status receive(MPI_Comm world, MPI_Status *status, json_t **out)
{
    int count = 0;
    MPI_Get_count(status, MPI_CHAR, &count);
    *out = NULL;
    if (count < 1 || count > LOAA_PROTO_MAX_PAYLOAD)
        return loaa_fail(LOAA_ERR_MPI, "protocol: payload of %d bytes from rank %d", count, status->MPI_SOURCE);
    char *buf = malloc((size_t)count);
    if (!buf)
        return loaa_fail(LOAA_ERR_NOMEM, "coordinator: out of memory");
    MPI_Recv(buf, count, MPI_CHAR, status->MPI_SOURCE, status->MPI_TAG, world, MPI_STATUS_IGNORE);
    if (buf[count - 1] == '\0')
        *out = json_loads(buf, 0, NULL);
    free(buf);
    if (!*out)
        return loaa_fail(LOAA_ERR_MPI, "protocol: malformed payload from rank %d", status->MPI_SOURCE);
    return LOAA_OK;
}

static loaa_status interrupted(loaa_coordinator *c)
{
    int sig = stop_signal;
    loaa_status st = loaa_store_mark_interrupted(c->store, c->sweep_id);
    if (!st)
        st = loaa_store_flush(c->store);
    if (c->tty && c->progress_shown)
        fputc('\n', stderr);
    loaa_warn("signal %d: recorded every finished trial, marked %lld running trial(s) interrupted; rerun the same command to "
              "resume", sig, (long long)c->running);
    loaa_store_close(c->store);
    c->store = NULL;
    fflush(NULL);
    /* The workers are being killed with the job; a clean MPI_Finalize would wait for them forever. */
    _exit(st ? 1 : 128 + sig);
}

/* A group has finished with its trial (result, failure or requeue): it is free again. */
static void group_release(loaa_coordinator *c, group *g, int64_t id)
{
    assert(g->trial_id == id && c->running > 0);
    was_stopped(c, id, 1);
    g->trial_id = -1;
    c->running--;
}

static loaa_status on_result(loaa_coordinator *c, group *g, int64_t id, const json_t *msg)
{
    loaa_status st = loaa_store_trial_finish(c->store, id, msg);
    if (json_is_true(json_object_get(msg, "pruned")))
        c->pruned++;
    else
        c->done++;
    group_release(c, g, id);
    c->ran_here++;
    return st;
}

/* A FAILED report: stopped from outside runs again at no cost; a crash below max_attempts is retried; else final. */
static loaa_status on_failed(loaa_coordinator *c, group *g, int64_t id, const json_t *msg)
{
    const char *error = json_string_value(json_object_get(msg, "error"));
    int crash = json_is_true(json_object_get(msg, "crash")), requeue = 0;
    loaa_status st;
    if (json_is_true(json_object_get(msg, "interrupted"))) {
        /* Stopped from outside: runs again, no attempt counted (its checkpoint carries it on). */
        loaa_warn("trial %lld: %s; it runs again", (long long)id, error ? error : "interrupted");
        st = loaa_store_trial_requeue(c->store, id);
        if (!st)
            st = queue_push(c, id);
        group_release(c, g, id);
        return st;
    }
    st = loaa_store_trial_failed(c->store, id, error ? error : "failed", json_string_value(json_object_get(msg, "log")), crash,
                                 loaa_sweep_max_attempts(c->sw), &requeue);
    if (!st && requeue) {
        loaa_warn("trial %lld: %s; retrying (attempt %d of %d)", (long long)id, error ? error : "failed", g->attempt + 2,
                  loaa_sweep_max_attempts(c->sw));
        st = queue_push(c, id);
    } else {
        loaa_warn("trial %lld failed: %s", (long long)id, error ? error : "?");
        c->failed++;
        c->ran_here++;
    }
    group_release(c, g, id);
    return st;
}

/* Receives the probed message and acts on it; RESULT/FAILED of a trial no group runs (a stale report) are dropped. */
static loaa_status on_message(loaa_coordinator *c, MPI_Comm world, group *groups, int n_groups, MPI_Status *status)
{
    json_t *msg;
    loaa_status st = receive(world, status, &msg);
    if (st)
        return st;
    int64_t id = json_integer_value(json_object_get(msg, "trial_id"));
    group *g = group_of_trial(groups, n_groups, id);
    switch (status->MPI_TAG) {
    case LOAA_TAG_EPOCH: st = on_epoch(c, world, status->MPI_SOURCE, msg); break;
    case LOAA_TAG_RESULT: st = g ? on_result(c, g, id, msg) : LOAA_OK; break;
    case LOAA_TAG_FAILED: st = g ? on_failed(c, g, id, msg) : LOAA_OK; break;
    default: loaa_warn("protocol: unexpected message tag %d from rank %d", status->MPI_TAG, status->MPI_SOURCE);
    }
    json_decref(msg);
    return st;
}

/* Flushes the store's batch when it is old (FLUSH_INTERVAL_S) or large (FLUSH_WRITES). */
static loaa_status flush_when_due(loaa_coordinator *c)
{
    double now = loaa_now();
    if (now - c->t_flush <= FLUSH_INTERVAL_S && loaa_store_pending_writes(c->store) < FLUSH_WRITES)
        return LOAA_OK;
    loaa_status st = loaa_store_flush(c->store);
    if (!st)
        c->t_flush = now;
    return st;
}

static void install_signal_handlers(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
}

/* The scheduling loop: hands pending trials to free groups and records reports until nothing runs or waits. */
static loaa_status schedule(loaa_coordinator *c, MPI_Comm world, group *groups, int n_groups)
{
    double wait = LOAA_PROTO_BACKOFF_MIN_S;
    for (;;) {
        loaa_status st = LOAA_OK;
        if (stop_signal)
            interrupted(c);
        for (int i = 0; i < n_groups && queue_size(c) > 0 && !st; i++)
            if (groups[i].trial_id < 0)
                st = dispatch(c, world, &groups[i]);
        if (st || (c->running == 0 && queue_size(c) == 0))
            return st;
        int flag = 0;
        MPI_Status status;
        if (MPI_Iprobe(MPI_ANY_SOURCE, MPI_ANY_TAG, world, &flag, &status) != MPI_SUCCESS)
            return loaa_fail(LOAA_ERR_MPI, "MPI_Iprobe failed");
        if ((st = flush_when_due(c)))
            return st;
        progress(c, 0);
        if (!flag) {
            loaa_sleep(wait);
            wait = fmin(wait * LOAA_PROTO_BACKOFF_GROWTH, LOAA_PROTO_BACKOFF_MAX_COORD_S);
            continue;
        }
        wait = LOAA_PROTO_BACKOFF_MIN_S;
        if ((st = on_message(c, world, groups, n_groups, &status)))
            return st;
    }
}

loaa_status loaa_coordinator_run(loaa_coordinator *c, MPI_Comm world, const int *leaders, int n_groups)
{
    assert(c && leaders && n_groups > 0);
    group *groups = calloc((size_t)n_groups, sizeof *groups);
    if (!groups)
        return loaa_fail(LOAA_ERR_NOMEM, "coordinator: out of memory");
    for (int i = 0; i < n_groups; i++) {
        groups[i].leader = leaders[i];
        groups[i].trial_id = -1;
    }
    install_signal_handlers();
    c->tty = c->opts.progress < 0 ? loaa_isatty(stderr) : c->opts.progress;
    c->t_start = c->t_flush = loaa_now();
    c->t_progress = 0;
    loaa_info("sweep %s: %lld trials, %lld to run on %d worker group(s) of %d rank(s); results in %s, artifacts in %s",
              loaa_sweep_name(c->sw), (long long)c->total, (long long)queue_size(c), n_groups,
              loaa_sweep_ranks_per_trial(c->sw), c->opts.db_path, c->artifacts);
    loaa_status st = schedule(c, world, groups, n_groups);
    loaa_status fst = loaa_store_flush(c->store);
    if (!st)
        st = fst;
    if (!st) {
        loaa_coordinator_stop_all(world, leaders, n_groups);
        progress(c, 1);
        double elapsed = loaa_now() - c->t_start;
        printf("sweep %s: %lld done, %lld pruned, %lld failed of %lld trials (%lld run now in %.1f s, %.1f trials/s)\n",
               loaa_sweep_name(c->sw), (long long)c->done, (long long)c->pruned, (long long)c->failed, (long long)c->total,
               (long long)c->ran_here, elapsed, elapsed > 0 ? c->ran_here / elapsed : 0.0);
    }
    free(groups);
    return st;
}

/* ---- dry run ---- */

typedef struct dry_ctx {
    FILE *out;
    loaa_store *store;
    int64_t sweep_id;
} dry_ctx;

static loaa_status print_trial(void *p, const loaa_sweep_trial *t)
{
    dry_ctx *d = p;
    char *params = json_dumps(t->params, JSON_COMPACT | JSON_SORT_KEYS);
    const char *state = "new";
    char found[16] = "";
    if (d->store && d->sweep_id >= 0 && loaa_store_trial_state(d->store, d->sweep_id, t->hash, found) == LOAA_OK && found[0])
        state = found;
    fprintf(d->out, "%6lld  %.12s  %-8s %s\n", (long long)t->number, t->hash, state, params ? params : "?");
    free(params);
    return LOAA_OK;
}

loaa_status loaa_sweep_dry_run(const loaa_sweep_opts *opts, FILE *out)
{
    loaa_sweep *sw;
    loaa_status st = loaa_sweep_load(&sw, opts->sweep_path);
    if (st)
        return st;
    int64_t max = opts->max_trials ? opts->max_trials : LOAA_SWEEP_DEFAULT_MAX_TRIALS, count, unique = 0, dups = 0;
    dry_ctx d = {.out = out, .sweep_id = -1};
    if ((st = loaa_sweep_count(sw, max, &count)))
        goto done;
    if (opts->db_path && access(opts->db_path, F_OK) == 0) {
        if ((st = loaa_store_open(&d.store, opts->db_path, LOAA_STORE_READER)))
            goto done;
        if (loaa_store_sweep_find(d.store, loaa_sweep_name(sw), &d.sweep_id))
            d.sweep_id = -1;
        if ((st = resolve_backbones(sw, d.store, opts->reselect_backbones, 0)))
            goto done;
    }
    fprintf(out, "# sweep %s (%s), metric %s %s, ranks_per_trial %d\n", loaa_sweep_name(sw), loaa_sweep_method(sw),
            loaa_sweep_metric(sw), loaa_sweep_goal(sw), loaa_sweep_ranks_per_trial(sw));
    fprintf(out, "%6s  %-12s  %-8s %s\n", "number", "identity", "state", "parameters");
    if ((st = loaa_sweep_expand(sw, max, 1, print_trial, &d, &unique, &dups)))
        goto done;
    fprintf(out, "%lld trials", (long long)unique);
    if (dups)
        fprintf(out, " (%lld duplicates dropped)", (long long)dups);
    fprintf(out, "\n");
done:
    loaa_store_close(d.store);
    loaa_sweep_free(sw);
    return st;
}
