/*
 * bf16_pending.h - TEMPORARY: the agreed bf16 GEMM interface (doc: /work/helpers.md), declared here
 * until branch bf16gemm lands it in kernels/gemm.h on oneDNN. bf16_pending.c is a slow reference
 * (bf16 operands widened to fp32, then cblas_sgemm), so that the model's bf16 path builds and is
 * tested now. Both files are deleted at the merge of bf16gemm; layers.c then includes gemm.h only.
 */
#ifndef LOAA_BF16_PENDING_H
#define LOAA_BF16_PENDING_H

#include <stddef.h>
#include <stdint.h>

#include "kernels/gemm.h"

typedef uint16_t loaa_bf16; /* bfloat16 bits */
typedef enum loaa_dtype { LOAA_F32 = 0, LOAA_BF16 } loaa_dtype;
/* Batched products over up to two batch dims (e.g. samples x heads); NULL = one product. */
typedef struct loaa_gemm_batch {
    int count[2];
    ptrdiff_t stride_a[2], stride_b[2], stride_c[2];
} loaa_gemm_batch;

/* C (M,N) = alpha op(A) op(B) + beta C (+ bias[N] over rows); A, B bf16; fp32 accumulation; C fp32 or bf16. */
void loaa_gemm_bf16(loaa_gemm_ctx *ctx, int trans_a, int trans_b, int M, int N, int K, float alpha, const loaa_bf16 *A,
                    int lda, const loaa_bf16 *B, int ldb, float beta, void *C, loaa_dtype c_type, int ldc,
                    const float *bias, const loaa_gemm_batch *batch);
/* round to nearest even; _n: safetensors.h has a scalar loaa_bf16_to_f32 until bf16gemm renames it */
void loaa_bf16_from_f32(loaa_bf16 *dst, const float *src, size_t n);
void loaa_bf16_to_f32_n(float *dst, const loaa_bf16 *src, size_t n);
/* oneDNN primitives created so far in this process (the reference creates none) */
unsigned long loaa_gemm_primitives_created(void);

#endif
