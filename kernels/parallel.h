/*
 * parallel.h - a small persistent thread pool for the row-wise and
 * element-wise kernels (LayerNorm, GELU, softmax, AdamW) that BLAS does not
 * thread. GEMMs stay with OpenBLAS's own threads; the pool runs between them.
 *
 * Work is split into contiguous, deterministic ranges by item index, and
 * every item is computed by one thread with the same arithmetic whatever
 * the thread count, so results do not depend on the number of threads.
 *
 * The pool starts on first use with loaa_kernels_threads() threads (the
 * caller included) and is rebuilt after fork() in the child. It never fails:
 * if a thread cannot be started the work runs on the caller.
 */
#ifndef LOAA_PARALLEL_H
#define LOAA_PARALLEL_H

#include <stddef.h>

/* fn(ctx, begin, end) over [0, n) in contiguous ranges; at least min_chunk items per range. */
void loaa_parallel_for(size_t n, size_t min_chunk, void (*fn)(void *ctx, size_t begin, size_t end), void *ctx);

/*
 * The same, for tasks that call GEMMs themselves: BLAS runs single-threaded
 * inside (each pool thread one product) and gets its thread count back after.
 */
void loaa_parallel_for_blas1(size_t n, size_t min_chunk, void (*fn)(void *ctx, size_t begin, size_t end), void *ctx);

#endif
