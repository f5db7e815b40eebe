/* bf16_pending.c - TEMPORARY reference of the agreed bf16 GEMM interface (see bf16_pending.h); deleted at bf16gemm's merge. */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "kernels/bf16_pending.h"

void loaa_bf16_from_f32(loaa_bf16 *dst, const float *src, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        uint32_t u;
        memcpy(&u, &src[i], 4);
        if ((u & 0x7fffffffu) > 0x7f800000u) /* NaN stays a quiet NaN */
            dst[i] = (loaa_bf16)((u >> 16) | 0x40);
        else
            dst[i] = (loaa_bf16)((u + 0x7fffu + ((u >> 16) & 1)) >> 16);
    }
}

void loaa_bf16_to_f32_n(float *dst, const loaa_bf16 *src, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        uint32_t u = (uint32_t)src[i] << 16;
        memcpy(&dst[i], &u, 4);
    }
}

unsigned long loaa_gemm_primitives_created(void)
{
    return 0;
}

/* a rows x cols bf16 matrix (row stride ld) widened into a dense fp32 one */
static float *widen(const loaa_bf16 *x, int rows, int cols, int ld)
{
    float *w = malloc((size_t)(rows ? rows : 1) * (cols ? cols : 1) * sizeof(float));
    if (!w)
        abort();
    for (int i = 0; i < rows; i++)
        loaa_bf16_to_f32_n(w + (size_t)i * cols, x + (size_t)i * ld, cols);
    return w;
}

static void one_product(loaa_gemm_ctx *ctx, int ta, int tb, int M, int N, int K, float alpha, const loaa_bf16 *A,
                        int lda, const loaa_bf16 *B, int ldb, float beta, void *C, loaa_dtype c_type, int ldc,
                        const float *bias)
{
    float *a = ta ? widen(A, K, M, lda) : widen(A, M, K, lda), *b = tb ? widen(B, N, K, ldb) : widen(B, K, N, ldb);
    float *c = malloc((size_t)M * N * sizeof(float));
    if (!c)
        abort();
    for (int i = 0; i < M; i++) {
        float *row = c + (size_t)i * N;
        if (c_type == LOAA_F32)
            memcpy(row, (float *)C + (size_t)i * ldc, N * sizeof(float));
        else
            loaa_bf16_to_f32_n(row, (loaa_bf16 *)C + (size_t)i * ldc, N);
        for (int j = 0; j < N; j++)
            row[j] = beta == 0 ? 0 : beta * row[j];
        if (bias)
            for (int j = 0; j < N; j++)
                row[j] += bias[j];
    }
    double f = ctx->flops;
    loaa_gemm_local(ctx, ta, tb, M, N, K, alpha, a, ta ? M : K, b, tb ? K : N, 1.0f, c, N);
    ctx->flops = f + 2.0 * M * N * K;
    for (int i = 0; i < M; i++) {
        if (c_type == LOAA_F32)
            memcpy((float *)C + (size_t)i * ldc, c + (size_t)i * N, N * sizeof(float));
        else
            loaa_bf16_from_f32((loaa_bf16 *)C + (size_t)i * ldc, c + (size_t)i * N, N);
    }
    free(a), free(b), free(c);
}

void loaa_gemm_bf16(loaa_gemm_ctx *ctx, int trans_a, int trans_b, int M, int N, int K, float alpha, const loaa_bf16 *A,
                    int lda, const loaa_bf16 *B, int ldb, float beta, void *C, loaa_dtype c_type, int ldc,
                    const float *bias, const loaa_gemm_batch *batch)
{
    if (M <= 0 || N <= 0)
        return;
    int n0 = batch ? batch->count[0] : 1, n1 = batch ? batch->count[1] : 1;
    size_t esz = c_type == LOAA_F32 ? sizeof(float) : sizeof(loaa_bf16);
    for (int i = 0; i < n0; i++)
        for (int j = 0; j < n1; j++) {
            ptrdiff_t oa = batch ? i * batch->stride_a[0] + j * batch->stride_a[1] : 0;
            ptrdiff_t ob = batch ? i * batch->stride_b[0] + j * batch->stride_b[1] : 0;
            ptrdiff_t oc = batch ? i * batch->stride_c[0] + j * batch->stride_c[1] : 0;
            one_product(ctx, trans_a, trans_b, M, N, K, alpha, A + oa, lda, B + ob, ldb, beta, (char *)C + oc * esz,
                        c_type, ldc, bias);
        }
}
