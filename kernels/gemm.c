/* gemm.c - the GEMM interface: local BLAS (cblas_sgemm), and the hand-off of a group's row products to ScaLAPACK (pgemm.c). */
#include "config.h"

#include <cblas.h>

#include "kernels/gemm.h"
#include "kernels/pgemm.h"

void loaa_gemm_ctx_init(loaa_gemm_ctx *ctx)
{
    ctx->backend = LOAA_GEMM_BLAS;
    ctx->impl = NULL;
    ctx->flops = 0;
    ctx->error = 0;
}

void loaa_gemm(loaa_gemm_ctx *ctx, int trans_a, int trans_b, int M, int N, int K, float alpha, const float *A,
               int lda, const float *B, int ldb, float beta, float *C, int ldc)
{
    /* Row products of a group are collective: a rank with no rows (M == 0) must still take part. */
    if (ctx->backend == LOAA_GEMM_SCALAPACK && !trans_a) {
        loaa_gemm_scalapack(ctx, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
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

void loaa_kernels_set_threads(int n)
{
    if (n > 0)
        openblas_set_num_threads(n);
}

int loaa_kernels_threads(void)
{
    return openblas_get_num_threads();
}
