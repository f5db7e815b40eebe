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
    LOAA_GEMM_BLAS = 0 /* cblas_sgemm in this process */
} loaa_gemm_backend;

typedef struct loaa_gemm_ctx {
    loaa_gemm_backend backend;
    void *impl;       /* backend state (a BLACS grid later); NULL for BLAS */
    double flops;     /* running count of multiply-add flops issued (2*M*N*K each) */
} loaa_gemm_ctx;

/* A context for local BLAS. */
void loaa_gemm_ctx_init(loaa_gemm_ctx *ctx);

/* C (M,N) = alpha op(A) op(B) + beta C. */
void loaa_gemm(loaa_gemm_ctx *ctx, int trans_a, int trans_b, int M, int N, int K, float alpha, const float *A,
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
