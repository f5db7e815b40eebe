/* launcher.c - crash isolation for trials (launcher forked before MPI_Init) and the worker ranks' protocol loop. */
#include "config.h"

#include "worker/launcher.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/config.h"
#include "common/dynbuf.h"
#include "common/fs.h"
#include "common/log.h"
#include "common/parse.h"
#include "common/protocol.h"
#include "common/timer.h"
#include "kernels/gemm.h"
#include "worker/trial.h"

extern char **environ;

static int launcher_in = -1;  /* worker writes TRIAL/ANSWER lines here */
static int launcher_out = -1; /* worker reads EPOCH/RESULT/FAILED/exit lines here */
static pid_t launcher_pid = -1;

/* ---- line I/O over pipes ---- */

/* A zeroed linebuf with its fd set is ready: the buffer is set up on the first read. */
typedef struct linebuf {
    int fd;
    loaa_dyn buf; /* bytes read and not yet consumed */
} linebuf;

/* A line longer than the largest payload is an error; the buffer holds at most one read more. */
#define LINE_READ 4096
#define LINE_MAX_BYTES (LOAA_PROTO_MAX_PAYLOAD + LINE_READ)

/*
 * Reads one line (without the newline) into *line (valid until the next
 * call). timeout_ms < 0 blocks. Returns 1 with a line, 0 on timeout, -1 at
 * end of file or on an error.
 */
static int read_line(linebuf *lb, char **line, int timeout_ms)
{
    assert(lb && line);
    if (!lb->buf.max)
        loaa_dyn_init(&lb->buf, LINE_MAX_BYTES);
    for (;;) {
        size_t len = loaa_dyn_len(&lb->buf);
        char *nl = len ? memchr(lb->buf.data, '\n', len) : NULL;
        if (nl) {
            *nl = '\0';
            *line = lb->buf.data;
            return 1;
        }
        if (len > LOAA_PROTO_MAX_PAYLOAD)
            return -1;
        if (timeout_ms >= 0) {
            struct pollfd pfd = {.fd = lb->fd, .events = POLLIN};
            int r = poll(&pfd, 1, timeout_ms);
            if (r == 0)
                return 0;
            if (r < 0 && errno != EINTR)
                return -1;
            if (r < 0)
                continue;
        }
        char *room = loaa_dyn_space(&lb->buf, LINE_READ);
        if (!room)
            return -1;
        ssize_t n = read(lb->fd, room, LINE_READ);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        loaa_dyn_advance(&lb->buf, (size_t)n);
    }
}

/* Drops the line returned by the last read_line. */
static void consume_line(linebuf *lb)
{
    size_t len = loaa_dyn_len(&lb->buf);
    char *end = len ? memchr(lb->buf.data, '\0', len) : NULL;
    loaa_dyn_drop(&lb->buf, end ? (size_t)(end - lb->buf.data) + 1 : len);
}

static int write_all(int fd, const char *text, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, text, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        text += w;
        n -= (size_t)w;
    }
    return 0;
}

/* Writes obj as one compact line. */
static int write_json_line(int fd, const json_t *obj)
{
    char *text = json_dumps(obj, JSON_COMPACT);
    if (!text)
        return -1;
    size_t n = strlen(text);
    int rc = write_all(fd, text, n);
    if (!rc)
        rc = write_all(fd, "\n", 1);
    free(text);
    return rc;
}

/* ---- processes ---- */

static void die_with_parent(int sig, pid_t parent)
{
    prctl(PR_SET_PDEATHSIG, sig);
    if (getppid() != parent) /* the parent died before prctl took effect */
        _exit(1);
}

static void clean_mpi_environment(void)
{
    for (;;) {
        char name[256] = "";
        for (char **e = environ; e && *e; e++)
            if (!strncmp(*e, "OMPI_", 5) || !strncmp(*e, "PMIX_", 5)) {
                const char *eq = strchr(*e, '=');
                size_t n = eq ? (size_t)(eq - *e) : strlen(*e);
                if (n < sizeof name) {
                    memcpy(name, *e, n);
                    name[n] = '\0';
                }
                break;
            }
        if (!name[0] || unsetenv(name) != 0)
            return;
    }
}

/* The merged config of a TRIAL payload: identity keys + execution settings. */
static loaa_status trial_config(const json_t *msg, loaa_config *cfg)
{
    const json_t *config = json_object_get(msg, "config");
    const json_t *exec = json_object_get(msg, "exec");
    if (!json_is_object(config))
        return loaa_fail(LOAA_ERR_MPI, "protocol: TRIAL without a config object");
    json_t *all = json_deep_copy(config);
    if (!all)
        return loaa_fail(LOAA_ERR_NOMEM, "trial config: out of memory");
    if (json_is_object(exec))
        json_object_update(all, (json_t *)exec);
    loaa_status st = loaa_config_from_json(cfg, all);
    json_decref(all);
    if (!st)
        st = loaa_config_validate(cfg);
    return st;
}

typedef struct child_ctx {
    int out_fd;
    linebuf *in;
    int early;
} child_ctx;

static loaa_trial_action child_on_epoch(void *p, const loaa_epoch_report *r)
{
    child_ctx *c = p;
    json_t *obj = loaa_epoch_report_json(r);
    if (!obj)
        return LOAA_TRIAL_CONTINUE;
    json_object_set_new(obj, "type", json_string("epoch"));
    write_json_line(c->out_fd, obj);
    json_decref(obj);
    if (!c->early)
        return LOAA_TRIAL_CONTINUE;
    char *line;
    while (read_line(c->in, &line, -1) == 1) {
        json_t *answer = json_loads(line, 0, NULL);
        consume_line(c->in);
        if (!answer)
            continue;
        int is_answer = json_is_string(json_object_get(answer, "type")) &&
                        !strcmp(json_string_value(json_object_get(answer, "type")), "answer");
        int stop = json_is_true(json_object_get(answer, "stop"));
        json_decref(answer);
        if (is_answer)
            return stop ? LOAA_TRIAL_STOP : LOAA_TRIAL_CONTINUE;
    }
    _exit(3); /* the worker is gone */
}

/*
 * Opens DIR/NAME for appending, making DIR and its parents first (the runner
 * would make DIR too, but the log must open before the trial starts). Returns
 * the descriptor, or -1 when the file cannot be opened (output then stays
 * where it was).
 */
static int open_trial_log(const char *dir, const char *name)
{
    assert(dir && name);
    char path[LOAA_PATH_MAX + 64];
    (void)loaa_fs_make_dirs(dir); /* on failure the open below fails too, and says so by -1 */
    if ((size_t)snprintf(path, sizeof path, "%s/%s", dir, name) >= sizeof path)
        return -1; /* never a truncated name */
    return open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
}

/* The trial process: no MPI, output to DIR/trial.log, lines to the worker. Never returns. */
static void trial_child(const json_t *msg, linebuf *in, int out_fd)
{
    loaa_config cfg;
    const char *dir = json_string_value(json_object_get(msg, "dir"));
    loaa_status st = trial_config(msg, &cfg);
    if (!st && dir) {
        int fd = open_trial_log(dir, "trial.log");
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
            close(fd);
        }
        setvbuf(stdout, NULL, _IOLBF, 0);
        printf("--- trial %lld, attempt %lld, pid %ld\n", (long long)json_integer_value(json_object_get(msg, "trial_id")),
               (long long)json_integer_value(json_object_get(msg, "attempt")) + 1, (long)getpid());
    }
    loaa_trial_result r;
    if (!st) {
        child_ctx c = {.out_fd = out_fd, .in = in, .early = json_is_true(json_object_get(msg, "early"))};
        loaa_trial_hooks hooks = {.ctx = &c, .on_epoch = child_on_epoch};
        loaa_trial_opts opts = {.dir = dir, .resume = 1, .group = MPI_COMM_NULL, .print_epochs = 1};
        st = loaa_trial_run(&cfg, &opts, &hooks, &r);
    }
    json_t *obj;
    if (!st) {
        obj = loaa_trial_result_json(&r);
        if (obj) {
            json_object_set_new(obj, "type", json_string("result"));
            if (dir) {
                char log_path[LOAA_PATH_MAX + 64];
                snprintf(log_path, sizeof log_path, "%s/trial.log", dir);
                json_object_set_new(json_object_get(obj, "files"), "log", json_string(log_path));
            }
        }
    } else {
        char error[2048];
        snprintf(error, sizeof error, "%s: %s", loaa_strerror(st), loaa_error_detail());
        fprintf(stderr, "trial failed: %s\n", error);
        obj = json_pack("{s:s,s:s,s:b,s:i}", "type", "failed", "error", error, "crash", 0, "signal", 0);
    }
    fflush(NULL);
    int rc = obj && write_json_line(out_fd, obj) == 0 ? 0 : 2;
    json_decref(obj);
    _exit(rc);
}

static const char *signal_words(int sig)
{
    switch (sig) {
    case SIGSEGV: return "SIGSEGV, segmentation fault";
    case SIGABRT: return "SIGABRT, abort";
    case SIGKILL: return "SIGKILL; out of memory, or killed";
    case SIGBUS: return "SIGBUS, bus error";
    case SIGFPE: return "SIGFPE, arithmetic exception";
    case SIGILL: return "SIGILL, illegal instruction";
    case SIGTERM: return "SIGTERM";
    default: return "signal";
    }
}

/* The launcher: one trial process at a time; exits when the worker closes the pipe. Never returns. */
static void launcher_main(int in_fd, int out_fd)
{
    linebuf in = {.fd = in_fd};
    char *line;
    signal(SIGPIPE, SIG_IGN);
    while (read_line(&in, &line, -1) == 1) {
        json_t *msg = json_loads(line, 0, NULL);
        consume_line(&in);
        const char *type = msg ? json_string_value(json_object_get(msg, "type")) : NULL;
        if (!type || strcmp(type, "trial")) { /* a stray ANSWER for a trial that died */
            json_decref(msg);
            continue;
        }
        pid_t me = getpid();
        assert(!loaa_gemm_engine_started()); /* libgomp is not fork-safe: the launcher never runs a GEMM */
        pid_t pid = fork();
        if (pid == 0) {
            die_with_parent(SIGKILL, me);
            trial_child(msg, &in, out_fd);
        }
        json_t *exit_msg;
        if (pid < 0) {
            exit_msg = json_pack("{s:s,s:i,s:i,s:s}", "type", "exit", "status", -1, "signal", 0, "error", strerror(errno));
        } else {
            int status = 0;
            while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
                ;
            exit_msg = json_pack("{s:s,s:i,s:i}", "type", "exit", "status", WIFEXITED(status) ? WEXITSTATUS(status) : -1,
                                 "signal", WIFSIGNALED(status) ? WTERMSIG(status) : 0);
        }
        json_decref(msg);
        if (!exit_msg || write_json_line(out_fd, exit_msg))
            _exit(1);
        json_decref(exit_msg);
    }
    _exit(0);
}

static int world_rank_from_env(void)
{
    /* Open MPI's mpirun sets the first; PMIx and PMI launchers (srun --mpi=pmix) the others. */
    const char *r = getenv("OMPI_COMM_WORLD_RANK");
    if (!r)
        r = getenv("PMIX_RANK");
    if (!r)
        r = getenv("PMI_RANK");
    if (!r)
        return -1;
    long v;
    return loaa_parse_long(r, 0, INT_MAX, &v) ? -1 : (int)v;
}

void loaa_launcher_prefork(void)
{
    int rank = world_rank_from_env();
    if (rank < 0)
        return;
    /* Rank 0 gets SIGTERM so it flushes the store and marks its trials interrupted. */
    die_with_parent(rank == 0 ? SIGTERM : SIGKILL, getppid());
    if (rank == 0)
        return;
    int to_l[2], from_l[2];
    if (pipe2(to_l, O_CLOEXEC) || pipe2(from_l, O_CLOEXEC))
        return; /* trials then run inside the rank: no isolation, but the sweep works */
    pid_t parent = getpid();
    assert(!loaa_gemm_engine_started()); /* libgomp is not fork-safe: nothing before MPI_Init runs a GEMM */
    pid_t pid = fork();
    if (pid < 0) {
        close(to_l[0]);
        close(to_l[1]);
        close(from_l[0]);
        close(from_l[1]);
        return;
    }
    if (pid == 0) {
        die_with_parent(SIGKILL, parent);
        close(to_l[1]);
        close(from_l[0]);
        clean_mpi_environment();
        launcher_main(to_l[0], from_l[1]);
    }
    close(to_l[0]);
    close(from_l[1]);
    launcher_in = to_l[1];
    launcher_out = from_l[0];
    launcher_pid = pid;
    signal(SIGPIPE, SIG_IGN);
}

int loaa_launcher_ready(void) { return launcher_pid > 0; }

void loaa_launcher_shutdown(void)
{
    if (launcher_pid <= 0)
        return;
    close(launcher_in);
    close(launcher_out);
    while (waitpid(launcher_pid, NULL, 0) < 0 && errno == EINTR)
        ;
    launcher_pid = -1;
}

/* ---- the worker ranks ---- */

typedef struct backoff {
    double cur, max;
} backoff;

static void backoff_sleep(backoff *b)
{
    loaa_sleep(b->cur);
    b->cur *= LOAA_PROTO_BACKOFF_GROWTH;
    if (b->cur > b->max)
        b->cur = b->max;
}

/* Waits (never spinning) for a message from `source` with `tag` (MPI_ANY_TAG) and receives it. Caller frees. */
static loaa_status recv_json(MPI_Comm comm, int source, int tag, int *got_tag, json_t **out)
{
    backoff b = {LOAA_PROTO_BACKOFF_MIN_S, LOAA_PROTO_BACKOFF_MAX_WORKER_S};
    MPI_Status status;
    int flag = 0, count = 0;
    *out = NULL;
    for (;;) {
        if (MPI_Iprobe(source, tag, comm, &flag, &status) != MPI_SUCCESS)
            return loaa_fail(LOAA_ERR_MPI, "MPI_Iprobe failed");
        if (flag)
            break;
        backoff_sleep(&b);
    }
    MPI_Get_count(&status, MPI_CHAR, &count);
    if (count < 1 || count > LOAA_PROTO_MAX_PAYLOAD)
        return loaa_fail(LOAA_ERR_MPI, "protocol: payload of %d bytes", count);
    char *buf = malloc((size_t)count);
    if (!buf)
        return loaa_fail(LOAA_ERR_NOMEM, "protocol: out of memory");
    MPI_Recv(buf, count, MPI_CHAR, status.MPI_SOURCE, status.MPI_TAG, comm, MPI_STATUS_IGNORE);
    *got_tag = status.MPI_TAG;
    if (buf[count - 1] != '\0') {
        free(buf);
        return loaa_fail(LOAA_ERR_MPI, "protocol: payload not NUL-terminated");
    }
    *out = json_loads(buf, 0, NULL);
    free(buf);
    if (!*out)
        return loaa_fail(LOAA_ERR_MPI, "protocol: payload is not JSON");
    return LOAA_OK;
}

static loaa_status send_json(MPI_Comm comm, int dest, int tag, const json_t *obj)
{
    char *text = json_dumps(obj, JSON_COMPACT);
    if (!text)
        return loaa_fail(LOAA_ERR_NOMEM, "protocol: out of memory");
    int rc = MPI_Send(text, (int)strlen(text) + 1, MPI_CHAR, dest, tag, comm);
    free(text);
    return rc == MPI_SUCCESS ? LOAA_OK : loaa_fail(LOAA_ERR_MPI, "MPI_Send to rank %d failed", dest);
}

/* crash: 0 an ordinary failure, 1 the trial's own process died, 2 it was stopped from outside ("interrupted"). */
static loaa_status send_failed(MPI_Comm world, json_int_t trial_id, const char *error, int crash, int sig, const char *dir)
{
    json_t *obj = json_pack("{s:I,s:s,s:b,s:b,s:i}", "trial_id", trial_id, "error", error, "crash", crash == 1, "interrupted",
                            crash == 2, "signal", sig);
    if (!obj)
        return loaa_fail(LOAA_ERR_NOMEM, "protocol: out of memory");
    if (dir) {
        char log_path[LOAA_PATH_MAX + 64];
        snprintf(log_path, sizeof log_path, "%s/trial.log", dir);
        json_object_set_new(obj, "log", json_string(log_path));
    }
    loaa_status st = send_json(world, 0, LOAA_TAG_FAILED, obj);
    json_decref(obj);
    return st;
}

void loaa_launcher_wait_request(MPI_Request *req)
{
    assert(req);
    backoff b = {LOAA_PROTO_BACKOFF_MIN_S, LOAA_PROTO_BACKOFF_MAX_WORKER_S};
    int done = 0;
    for (;;) {
        MPI_Test(req, &done, MPI_STATUS_IGNORE);
        if (done)
            return;
        backoff_sleep(&b);
    }
}

/* A trial through the launcher: forward lines both ways until the trial process has exited. */
static loaa_status run_via_launcher(MPI_Comm world, json_t *msg, json_int_t trial_id, int early)
{
    const char *dir = json_string_value(json_object_get(msg, "dir"));
    static linebuf out;
    out.fd = launcher_out;
    json_object_set_new(msg, "type", json_string("trial"));
    if (write_json_line(launcher_in, msg))
        return loaa_fail(LOAA_ERR_IO, "the trial launcher is gone");
    int reported = 0;
    for (;;) {
        char *line;
        /* Blocking in poll/read costs no CPU; the coordinator sends nothing unasked while a trial runs. */
        int r = read_line(&out, &line, -1);
        if (r < 0)
            return loaa_fail(LOAA_ERR_IO, "the trial launcher is gone");
        json_t *obj = json_loads(line, 0, NULL);
        consume_line(&out);
        if (!obj)
            continue;
        char type_buf[16] = "";
        if (json_is_string(json_object_get(obj, "type")))
            snprintf(type_buf, sizeof type_buf, "%s", json_string_value(json_object_get(obj, "type")));
        const char *type = type_buf;
        loaa_status st = LOAA_OK;
        json_object_del(obj, "type"); /* frees the member: hence the copy above */
        json_object_set_new(obj, "trial_id", json_integer(trial_id));
        if (!strcmp(type, "epoch")) {
            st = send_json(world, 0, LOAA_TAG_EPOCH, obj);
            if (!st && early) {
                json_t *answer;
                int tag;
                st = recv_json(world, 0, LOAA_TAG_ANSWER, &tag, &answer);
                if (!st) {
                    json_object_set_new(answer, "type", json_string("answer"));
                    write_json_line(launcher_in, answer); /* a dead trial leaves it for the launcher to drop */
                    json_decref(answer);
                }
            }
        } else if (!strcmp(type, "result") && !reported) {
            st = send_json(world, 0, LOAA_TAG_RESULT, obj);
            reported = 1;
        } else if (!strcmp(type, "failed") && !reported) {
            if (dir) {
                char log_path[LOAA_PATH_MAX + 64];
                snprintf(log_path, sizeof log_path, "%s/trial.log", dir);
                json_object_set_new(obj, "log", json_string(log_path));
            }
            st = send_json(world, 0, LOAA_TAG_FAILED, obj);
            reported = 1;
        } else if (!strcmp(type, "exit")) {
            int sig = (int)json_integer_value(json_object_get(obj, "signal"));
            int status = (int)json_integer_value(json_object_get(obj, "status"));
            json_decref(obj);
            if (reported)
                return LOAA_OK;
            char error[256];
            if (sig)
                snprintf(error, sizeof error, "trial process killed by signal %d (%s)", sig, signal_words(sig));
            else
                snprintf(error, sizeof error, "trial process exited with status %d without a result", status);
            /* Stopped from outside (the job ending, a user): no fault of the trial, so no attempt is counted. */
            int stopped = sig == SIGTERM || sig == SIGINT || sig == SIGHUP;
            return send_failed(world, trial_id, error, stopped ? 2 : 1, sig, dir);
        }
        json_decref(obj);
        if (st)
            return st;
    }
}

typedef struct group_ctx {
    MPI_Comm world, group;
    int leader, gsize, early, peer_failed;
    json_int_t trial_id;
} group_ctx;

/* Every rank of a group: agree that all are well (HPL style), then the leader's early-termination answer. */
static loaa_trial_action group_on_epoch(void *p, const loaa_epoch_report *r)
{
    group_ctx *c = p;
    if (c->gsize > 1) {
        int ok = 1, all = 0;
        MPI_Request req;
        MPI_Iallreduce(&ok, &all, 1, MPI_INT, MPI_MIN, c->group, &req);
        loaa_launcher_wait_request(&req);
        if (!all) {
            c->peer_failed = 1;
            return LOAA_TRIAL_STOP;
        }
    }
    int stop = 0;
    if (c->leader) {
        json_t *obj = loaa_epoch_report_json(r);
        if (obj) {
            json_object_set_new(obj, "trial_id", json_integer(c->trial_id));
            send_json(c->world, 0, LOAA_TAG_EPOCH, obj);
            json_decref(obj);
        }
        if (c->early) {
            json_t *answer;
            int tag;
            if (!recv_json(c->world, 0, LOAA_TAG_ANSWER, &tag, &answer)) {
                stop = json_is_true(json_object_get(answer, "stop"));
                json_decref(answer);
            }
        }
    }
    if (c->gsize > 1 && c->early) {
        MPI_Request req;
        MPI_Ibcast(&stop, 1, MPI_INT, 0, c->group, &req);
        loaa_launcher_wait_request(&req);
    }
    return stop ? LOAA_TRIAL_STOP : LOAA_TRIAL_CONTINUE;
}

/* A trial inside this process (noop fast path, no launcher, or a multi-rank group). */
static loaa_status run_in_process(MPI_Comm world, MPI_Comm group, const json_t *msg, int leader, int gsize, int keep_files)
{
    /* A noop trial keeps nothing on disk: the dispatch benchmark would otherwise measure mkdir. */
    const char *in_place_dir = keep_files ? json_string_value(json_object_get(msg, "dir")) : NULL;
    loaa_config cfg;
    loaa_trial_result r;
    json_int_t trial_id = json_integer_value(json_object_get(msg, "trial_id"));
    group_ctx c = {.world = world, .group = group, .leader = leader, .gsize = gsize, .trial_id = trial_id,
                   .early = json_is_true(json_object_get(msg, "early"))};
    loaa_trial_hooks hooks = {.ctx = &c, .on_epoch = group_on_epoch};
    loaa_trial_opts opts = {.dir = in_place_dir, .resume = 1, .group = gsize > 1 ? group : MPI_COMM_NULL,
                            .print_epochs = gsize > 1 && leader};
    /*
     * A group's trial runs in the ranks themselves: while it runs, their output goes
     * to the trial's folder as a trial process's would (the leader's to trial.log,
     * the others' to trial.rank-K.log), not into mpirun's.
     */
    int saved_out = -1, saved_err = -1;
    if (gsize > 1 && in_place_dir) {
        int grank = 0;
        MPI_Comm_rank(group, &grank);
        char name[64];
        snprintf(name, sizeof name, grank == 0 ? "trial.log" : "trial.rank-%d.log", grank);
        fflush(NULL);
        int fd = open_trial_log(in_place_dir, name);
        if (fd >= 0) {
            saved_out = dup(1);
            saved_err = dup(2);
            dup2(fd, 1);
            dup2(fd, 2);
            close(fd);
            printf("--- trial %lld, attempt %lld, rank %d of a group of %d, pid %ld\n", (long long)trial_id,
                   (long long)json_integer_value(json_object_get(msg, "attempt")) + 1, grank, gsize, (long)getpid());
        }
    }
    loaa_status st = trial_config(msg, &cfg);
    if (!st)
        st = loaa_trial_run(&cfg, &opts, &hooks, &r);
    if (st && saved_err >= 0)
        fprintf(stderr, "trial failed: %s: %s\n", loaa_strerror(st), loaa_error_detail());
    if (saved_out >= 0) {
        fflush(NULL);
        dup2(saved_out, 1);
        dup2(saved_err, 2);
        close(saved_out);
        close(saved_err);
    }
    if (gsize > 1 && !c.peer_failed) {
        int ok = st == LOAA_OK, all = 0;
        MPI_Request req;
        MPI_Iallreduce(&ok, &all, 1, MPI_INT, MPI_MIN, group, &req);
        loaa_launcher_wait_request(&req);
        if (!all && !st)
            st = loaa_fail(LOAA_ERR_MPI, "another rank of the trial's group failed (see its log)");
    }
    if (c.peer_failed && !st)
        st = loaa_fail(LOAA_ERR_MPI, "another rank of the trial's group failed (see its log)");
    if (!leader)
        return LOAA_OK;
    if (st) {
        char error[2048];
        snprintf(error, sizeof error, "%s: %s", loaa_strerror(st), loaa_error_detail());
        return send_failed(world, trial_id, error, 0, 0, NULL);
    }
    json_t *obj = loaa_trial_result_json(&r);
    if (!obj)
        return loaa_fail(LOAA_ERR_NOMEM, "protocol: out of memory");
    json_object_set_new(obj, "trial_id", json_integer(trial_id));
    if (gsize > 1 && in_place_dir) {
        char log_path[LOAA_PATH_MAX + 64];
        snprintf(log_path, sizeof log_path, "%s/trial.log", in_place_dir);
        json_object_set_new(json_object_get(obj, "files"), "log", json_string(log_path));
    }
    st = send_json(world, 0, LOAA_TAG_RESULT, obj);
    json_decref(obj);
    return st;
}

/* Group members learn each payload from the leader: its length, then its text (non-blocking, backed off). */
static loaa_status group_share(MPI_Comm group, char **text)
{
    int len = *text ? (int)strlen(*text) + 1 : 0;
    MPI_Request req;
    MPI_Ibcast(&len, 1, MPI_INT, 0, group, &req);
    loaa_launcher_wait_request(&req);
    if (len <= 0 || len > LOAA_PROTO_MAX_PAYLOAD)
        return loaa_fail(LOAA_ERR_MPI, "protocol: group payload of %d bytes", len);
    if (!*text && !(*text = calloc(1, (size_t)len)))
        return loaa_fail(LOAA_ERR_NOMEM, "protocol: out of memory");
    MPI_Ibcast(*text, len, MPI_CHAR, 0, group, &req);
    loaa_launcher_wait_request(&req);
    return LOAA_OK;
}

loaa_status loaa_launcher_worker_run(MPI_Comm world, MPI_Comm group)
{
    int grank, gsize;
    MPI_Comm_rank(group, &grank);
    MPI_Comm_size(group, &gsize);
    int leader = grank == 0;
    for (;;) {
        json_t *msg = NULL;
        int tag = LOAA_TAG_STOP;
        loaa_status st;
        if (leader) {
            if ((st = recv_json(world, 0, MPI_ANY_TAG, &tag, &msg)))
                return st;
        }
        if (gsize > 1) {
            char *text = NULL;
            if (leader) {
                json_t *shared = json_pack("{s:i,s:O}", "tag", tag, "msg", msg);
                text = shared ? json_dumps(shared, JSON_COMPACT) : NULL;
                json_decref(shared);
                if (!text)
                    return loaa_fail(LOAA_ERR_NOMEM, "protocol: out of memory");
            }
            st = group_share(group, &text);
            if (!st && !leader) {
                json_t *shared = json_loads(text, 0, NULL);
                tag = (int)json_integer_value(json_object_get(shared, "tag"));
                msg = json_incref(json_object_get(shared, "msg"));
                json_decref(shared);
            }
            free(text);
            if (st)
                return st;
        }
        if (tag == LOAA_TAG_STOP || !msg) {
            json_decref(msg);
            return LOAA_OK;
        }
        if (tag != LOAA_TAG_TRIAL) {
            json_decref(msg);
            continue; /* e.g. a late ANSWER for a trial that has ended */
        }
        json_int_t trial_id = json_integer_value(json_object_get(msg, "trial_id"));
        const json_t *config = json_object_get(msg, "config"), *exec = json_object_get(msg, "exec");
        const char *method = json_string_value(json_object_get(config, "method"));
        const char *fault = json_string_value(json_object_get(exec, "fault"));
        /* noop never touches a model or data and cannot crash: it runs in place, which is what the dispatch benchmark measures. */
        int in_place = gsize > 1 || !loaa_launcher_ready() || (method && !strcmp(method, "noop") && (!fault || !fault[0]));
        if (in_place)
            st = run_in_process(world, group, msg, leader, gsize, !(method && !strcmp(method, "noop")));
        else
            st = run_via_launcher(world, msg, trial_id, json_is_true(json_object_get(msg, "early")));
        json_decref(msg);
        if (st == LOAA_ERR_IO && !in_place) {
            /* The launcher died (not the trial): report, and run the rest inside this rank. */
            loaa_error("%s", loaa_error_detail());
            send_failed(world, trial_id, "the trial launcher died", 1, 0, NULL);
            loaa_launcher_shutdown();
            continue;
        }
        if (st)
            return st;
    }
}
