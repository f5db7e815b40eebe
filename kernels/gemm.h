/*
 * gemm.h - the one matrix-multiply interface every kernel goes through.
 *
 * Row-major single precision, BLAS semantics:
 *     C (M,N) = alpha * op(A) (M,K) * op(B) (K,N) + beta * C
 * where op(X) is X or X^T (trans != 0). lda/ldb/ldc are row strides in
 * elements of the matrices as stored.
 *
 * A loaa_gemm_ctx names the backend. Today that is local BLAS (OpenBLAS's
 * cblas_sgemm); the distributed-GEMM work adds a ScaLAPACK backend behind the
 * same calls, so kernels never call cblas directly and never assume more of
 * an operand than (pointer, leading dimension).
 *
 * These calls cannot fail for valid sizes (checked by the callers, which
 * own the shapes); they return nothing.
 */
#ifndef LOAA_GEMM_H
#define LOAA_GEMM_H

#include <stddef.h>

typedef enum loaa_gemm_backend {
    LOAA_GEMM_BLAS = 0, /* cblas_sgemm in this process */
    LOAA_GEMM_SCALAPACK /* psgemm_ over a trial group's BLACS grid (kernels/pgemm.h, loaa_gemm_ctx_init_grid) */
} loaa_gemm_backend;

/*
 * The ScaLAPACK backend (a trial trained by a group of ranks, each holding
 * whole samples of the batch): every rank of the group makes the same
 * sequence of loaa_gemm calls, each with its own rows.
 *   - trans_a == 0 is a row product: A's and C's M rows are this rank's rows
 *     of matrices stacked over the group (M may be 0 on some ranks), B is
 *     replicated; it runs as psgemm_ (loaa_pgemm_rows), collectively.
 *   - trans_a != 0 contracts over the rows (a weight gradient): each rank
 *     computes its own partial sum locally; the caller reduces the sums
 *     (once per step, not once per product).
 *   - loaa_gemm_local and loaa_gemm_strided_batched (per-sample products:
 *     attention, patch embedding) always run locally.
 * A distributed call that fails (the group disagrees on the shapes, no
 * memory) leaves C unspecified and keeps the first failure in ctx->error,
 * identical on every rank, for the caller to check after the step.
 */
typedef struct loaa_gemm_ctx {
    loaa_gemm_backend backend;
    void *impl;       /* backend state: the loaa_pgrid for SCALAPACK (not owned); NULL for BLAS */
    double flops;     /* running count of multiply-add flops issued (2*M*N*K each; this rank's rows) */
    int error;        /* SCALAPACK: first failed call's loaa_status, 0 = none; sticky until cleared */
} loaa_gemm_ctx;

/* A context for local BLAS. */
void loaa_gemm_ctx_init(loaa_gemm_ctx *ctx);

/* C (M,N) = alpha op(A) op(B) + beta C. */
void loaa_gemm(loaa_gemm_ctx *ctx, int trans_a, int trans_b, int M, int N, int K, float alpha, const float *A,
               int lda, const float *B, int ldb, float beta, float *C, int ldc);

/* The same product, always in this process, whatever the backend (work that belongs to one rank's samples). */
void loaa_gemm_local(loaa_gemm_ctx *ctx, int trans_a, int trans_b, int M, int N, int K, float alpha, const float *A,
                     int lda, const float *B, int ldb, float beta, float *C, int ldc);

/*
 * batch independent products; operand i starts at A + i*stride_a (etc.).
 * Used for attention: one product per head, the heads of a sample lying
 * side by side in the fused qkv rows (stride = head width).
 */
void loaa_gemm_strided_batched(loaa_gemm_ctx *ctx, int trans_a, int trans_b, int M, int N, int K, float alpha,
                               const float *A, int lda, ptrdiff_t stride_a, const float *B, int ldb,
                               ptrdiff_t stride_b, float beta, float *C, int ldc, ptrdiff_t stride_c, int batch);

/* BLAS threads for this process (openblas_set_num_threads); n <= 0 leaves the default. */
void loaa_kernels_set_threads(int n);

/* The BLAS thread count in effect. */
int loaa_kernels_threads(void);

#endif
