/* parallel.c - the persistent thread pool behind loaa_parallel_for (see parallel.h). */
#include "config.h"

#include <cblas.h>
#include <pthread.h>
#include <unistd.h>

#include "kernels/gemm.h"
#include "kernels/parallel.h"

#define MAX_THREADS 64

static struct {
    pthread_mutex_t mu;
    pthread_cond_t go, done;
    int nthreads;        /* workers started (the caller is one more) */
    pid_t pid;           /* the process that started them */
    unsigned long round; /* bumped for every job */
    int pending;         /* workers still busy with the current job */
    void (*fn)(void *, size_t, size_t);
    void *ctx;
    size_t n, parts;
} pool = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0, 0, 0, 0, 0, 0, 0};

static void run_part(size_t part)
{
    size_t begin = pool.n * part / pool.parts, end = pool.n * (part + 1) / pool.parts;
    if (begin < end)
        pool.fn(pool.ctx, begin, end);
}

/* loaa_parallel_for_blas1 sets BLAS to one thread while the pool still runs with the caller's count */
static int pool_threads_override;

static int pool_threads(void)
{
    return pool_threads_override ? pool_threads_override : loaa_kernels_threads();
}

/* serialises whole jobs, so two models trained from two threads never share a job slot */
static pthread_mutex_t job_mu = PTHREAD_MUTEX_INITIALIZER;
static unsigned long start_round[MAX_THREADS];

static void *worker(void *arg)
{
    size_t index = (size_t)arg;
    pthread_mutex_lock(&pool.mu);
    unsigned long seen = start_round[index]; /* the round current when it was started: run the next one */
    for (;;) {
        while (pool.round == seen)
            pthread_cond_wait(&pool.go, &pool.mu);
        seen = pool.round;
        size_t parts = pool.parts;
        pthread_mutex_unlock(&pool.mu);
        if (index < parts)
            run_part(index);
        pthread_mutex_lock(&pool.mu);
        if (--pool.pending == 0)
            pthread_cond_signal(&pool.done);
    }
    return NULL;
}

/* Starts the workers for the current thread count; called with the lock held. */
static void ensure_pool(void)
{
    int want = pool_threads() - 1;
    if (want > MAX_THREADS - 1)
        want = MAX_THREADS - 1;
    pid_t me = getpid();
    if (pool.pid != me) { /* a forked child inherits no threads */
        pool.pid = me;
        pool.nthreads = 0;
        pool.round = 0;
    }
    while (pool.nthreads < want) {
        pthread_t t;
        pthread_attr_t attr;
        start_round[pool.nthreads + 1] = pool.round;
        pthread_attr_init(&attr);
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        int rc = pthread_create(&t, &attr, worker, (void *)(size_t)(pool.nthreads + 1));
        pthread_attr_destroy(&attr);
        if (rc)
            break;
        pool.nthreads++;
    }
}

void loaa_parallel_for(size_t n, size_t min_chunk, void (*fn)(void *ctx, size_t begin, size_t end), void *ctx)
{
    if (n == 0)
        return;
    size_t parts = pool_threads();
    if (min_chunk < 1)
        min_chunk = 1;
    if (parts > n / min_chunk)
        parts = n / min_chunk;
    if (parts <= 1) {
        fn(ctx, 0, n);
        return;
    }
    pthread_mutex_lock(&job_mu);
    pthread_mutex_lock(&pool.mu);
    ensure_pool();
    if ((size_t)pool.nthreads + 1 < parts)
        parts = pool.nthreads + 1;
    if (parts <= 1) {
        pthread_mutex_unlock(&pool.mu);
        pthread_mutex_unlock(&job_mu);
        fn(ctx, 0, n);
        return;
    }
    pool.fn = fn;
    pool.ctx = ctx;
    pool.n = n;
    pool.parts = parts;
    pool.pending = pool.nthreads;
    pool.round++;
    pthread_cond_broadcast(&pool.go);
    pthread_mutex_unlock(&pool.mu);
    run_part(0);
    pthread_mutex_lock(&pool.mu);
    while (pool.pending > 0)
        pthread_cond_wait(&pool.done, &pool.mu);
    pthread_mutex_unlock(&pool.mu);
    pthread_mutex_unlock(&job_mu);
}

void loaa_parallel_for_blas1(size_t n, size_t min_chunk, void (*fn)(void *ctx, size_t begin, size_t end), void *ctx)
{
    int threads = loaa_kernels_threads();
    if (threads <= 1 || n < 2 * min_chunk) {
        fn(ctx, 0, n);
        return;
    }
    /* the pool keeps its size: it was sized from the count that is restored below */
    openblas_set_num_threads(1);
    pool_threads_override = threads;
    loaa_parallel_for(n, min_chunk, fn, ctx);
    pool_threads_override = 0;
    openblas_set_num_threads(threads);
}
