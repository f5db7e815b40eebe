/*
 * gemm.c - the fp32 GEMM interface: local BLAS (cblas_sgemm), and the hand-off
 * of a group's row products to the context's distributed backend (ctx->rows,
 * installed by pgemm.c's loaa_gemm_ctx_init_grid). The bf16 products are in
 * gemm_dnnl.c.
 */
#include "config.h"

#include <cblas.h>

#include "kernels/gemm.h"

void loaa_gemm_ctx_init(loaa_gemm_ctx *ctx)
{
    ctx->backend = LOAA_GEMM_BLAS;
    ctx->rows = NULL;
    ctx->impl = NULL;
    ctx->flops = 0;
    ctx->error = 0;
}

void loaa_gemm(loaa_gemm_ctx *ctx, int trans_a, int trans_b, int M, int N, int K, float alpha, const float *A,
               int lda, const float *B, int ldb, float beta, float *C, int ldc)
{
    /* Row products of a group are collective: a rank with no rows (M == 0) must still take part. */
    if (ctx->rows && !trans_a) {
        ctx->rows(ctx, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
        return;
    }
    loaa_gemm_local(ctx, trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

void loaa_gemm_local(loaa_gemm_ctx *ctx, int trans_a, int trans_b, int M, int N, int K, float alpha, const float *A,
                     int lda, const float *B, int ldb, float beta, float *C, int ldc)
{
    if (M <= 0 || N <= 0)
        return;
    ctx->flops += 2.0 * M * N * K;
    cblas_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans, trans_b ? CblasTrans : CblasNoTrans, M, N, K,
                alpha, A, lda, B, ldb, beta, C, ldc);
}

void loaa_gemm_strided_batched(loaa_gemm_ctx *ctx, int trans_a, int trans_b, int M, int N, int K, float alpha,
                               const float *A, int lda, ptrdiff_t stride_a, const float *B, int ldb,
                               ptrdiff_t stride_b, float beta, float *C, int ldc, ptrdiff_t stride_c, int batch)
{
    for (int i = 0; i < batch; i++)
        loaa_gemm_local(ctx, trans_a, trans_b, M, N, K, alpha, A + i * stride_a, lda, B + i * stride_b, ldb, beta,
                  C + i * stride_c, ldc);
}
