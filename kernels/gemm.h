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
 * The bf16 products (loaa_gemm_bf16) run on oneDNN's matmul primitive
 * (kernels/gemm_dnnl.c): bf16 operands, fp32 accumulation, strided operands
 * and up to two batch dims in one primitive call. fp32 stays on OpenBLAS,
 * which measured faster than oneDNN's f32 matmul on the model's shapes
 * (bench/RESULTS.md, "GEMM engines").
 *
 * These calls cannot fail for valid sizes (checked by the callers, which
 * own the shapes); they return nothing.
 */
#ifndef LOAA_GEMM_H
#define LOAA_GEMM_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

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
typedef struct loaa_gemm_ctx loaa_gemm_ctx;

/* A distributed backend's row product (trans_a == 0): C (M,N) = alpha A op(B) + beta C over the group. */
typedef void loaa_gemm_rows_fn(loaa_gemm_ctx *ctx, int trans_b, int M, int N, int K, float alpha, const float *A,
                               int lda, const float *B, int ldb, float beta, float *C, int ldc);

struct loaa_gemm_ctx {
    loaa_gemm_backend backend;
    loaa_gemm_rows_fn *rows; /* the backend's row product (set by loaa_gemm_ctx_init_grid); NULL for BLAS */
    void *impl;       /* backend state: the loaa_pgrid for SCALAPACK (not owned); NULL for BLAS */
    double flops;     /* running count of multiply-add flops issued (2*M*N*K each; this rank's rows) */
    int error;        /* SCALAPACK: first failed call's loaa_status, 0 = none; sticky until cleared */
};

/* A context for local BLAS. */
void loaa_gemm_ctx_init(loaa_gemm_ctx *ctx);

/* C (M,N) = alpha op(A) op(B) + beta C. */
void loaa_gemm(loaa_gemm_ctx *ctx, int trans_a, int trans_b, int M, int N, int K, float alpha, const float *A,
               int lda, const float *B, int ldb, float beta, float *C, int ldc);

/* The same product, always in this process, whatever the backend (work that belongs to one rank's samples). */
void loaa_gemm_local(loaa_gemm_ctx *ctx, int trans_a, int trans_b, int M, int N, int K, float alpha, const float *A,
                     int lda, const float *B, int ldb, float beta, float *C, int ldc);

/*
 * batch independent fp32 products, always local; operand i starts at
 * A + i*stride_a (etc.), each one cblas_sgemm. No fp32 layer uses it today
 * (layers.c's attention loops over samples and heads itself); it stays as
 * the fp32 counterpart of loaa_gemm_bf16's batched products.
 */
void loaa_gemm_strided_batched(loaa_gemm_ctx *ctx, int trans_a, int trans_b, int M, int N, int K, float alpha,
                               const float *A, int lda, ptrdiff_t stride_a, const float *B, int ldb,
                               ptrdiff_t stride_b, float beta, float *C, int ldc, ptrdiff_t stride_c, int batch);

/* ---- bf16 products on oneDNN (kernels/gemm_dnnl.c) ---- */

typedef uint16_t loaa_bf16; /* bfloat16 bits: the high half of an IEEE fp32 */
typedef enum loaa_dtype { LOAA_F32 = 0, LOAA_BF16 } loaa_dtype;

/*
 * Batched products over up to two batch dims (e.g. samples x heads): product
 * (i0, i1), 0 <= i < count, has its operands at A + i0*stride_a[0] +
 * i1*stride_a[1] (elements; the same for B and C). count[1] = 1 for one
 * batch dim. A stride of 0 reuses one operand for the whole dim (a weight
 * shared by all samples). C's products must not overlap.
 * Example: attention scores S (B,H,N,N) = Q K^T over the fused qkv rows
 * (B,N,3D), head h at column h*hd: A = qkv, lda = 3D, B = qkv + D, ldb = 3D,
 * trans_b = 1, count = {B, H}, stride_a = stride_b = {N*3D, hd},
 * stride_c = {H*N*N, N*N}.
 */
typedef struct loaa_gemm_batch {
    int count[2];
    ptrdiff_t stride_a[2], stride_b[2], stride_c[2];
} loaa_gemm_batch;

/*
 * C (M,N) = alpha op(A) op(B) + beta C (+ bias[N] broadcast over rows when
 * bias != NULL; added after alpha, not scaled), for each product of batch
 * (NULL = one product). A, B bf16 (row-major, lda/ldb row strides as
 * stored), fp32 accumulation; C is fp32 or bf16 (c_type, rounded to nearest
 * even), ldc its row stride. beta == 0 never reads C. Runs on oneDNN's
 * matmul primitive, cached per shape (every argument but the pointers and,
 * for batch, alpha/beta/bias's presence make the key): no primitive is
 * created after the first call of a shape. Local to this process whatever
 * ctx->backend; adds 2*M*N*K per product to ctx->flops. Calls from several
 * threads are serialised (each runs on all of loaa_gemm_threads()).
 * Where oneDNN has no bf16 matmul (AVX2-only CPUs) it computes the same
 * product through fp32 copies and cblas_sgemm (slowly). Out of memory or a
 * oneDNN failure on a shape it accepted before aborts with a message.
 */
void loaa_gemm_bf16(loaa_gemm_ctx *ctx, int trans_a, int trans_b, int M, int N, int K, float alpha,
                    const loaa_bf16 *A, int lda, const loaa_bf16 *B, int ldb, float beta, void *C, loaa_dtype c_type,
                    int ldc, const float *bias, const loaa_gemm_batch *batch);

/*
 * oneDNN's f32 matmul with loaa_gemm_local's semantics, for `loaa bench
 * gemm` (which compares it with cblas_sgemm); the model does not use it.
 */
void loaa_gemm_dnnl_f32(int trans_a, int trans_b, int M, int N, int K, float alpha, const float *A, int lda,
                        const float *B, int ldb, float beta, float *C, int ldc);

/* dst[i] = src[i] rounded to nearest even (NaN stays NaN, quiet; infinities stay; no flush of subnormals). */
void loaa_bf16_from_f32(loaa_bf16 *dst, const float *src, size_t n);

/* dst[i] = src[i] exactly. */
void loaa_bf16_to_f32(float *dst, const loaa_bf16 *src, size_t n);

/* One value each way (the same rounding). */
loaa_bf16 loaa_bf16_round(float x);

/* Inline, so that code linking no GEMM engine (the safetensors fuzz harness) can read bf16. */
static inline float loaa_bf16_value(loaa_bf16 b)
{
    uint32_t bits = (uint32_t)b << 16;
    float x;
    memcpy(&x, &bits, sizeof x);
    return x;
}

/* oneDNN's effective ISA, e.g. "avx512_core_bf16", "avx512_core_amx" (static string). */
const char *loaa_gemm_isa(void);

/*
 * One line for `loaa version` and benchmarks, e.g. "oneDNN 2.6.3 on
 * avx512_core_bf16 (bf16 level 2), OMP_WAIT_POLICY=passive", into buf (n bytes, truncated).
 */
void loaa_gemm_engine_info(char *buf, size_t n);

/* 0: no bf16 (AVX2-only), 1: emulated/slow (plain AVX-512), 2: AVX512-BF16, 3: AMX. */
int loaa_gemm_bf16_level(void);

/* oneDNN primitives loaa_gemm_bf16 (and loaa_gemm_dnnl_f32) created so far in this process. */
unsigned long loaa_gemm_primitives_created(void);

/*
 * 1 when this process has started oneDNN (and so libgomp's threads). libgomp
 * is not fork-safe: worker/launcher.c checks this before it forks.
 */
int loaa_gemm_engine_started(void);

/*
 * GEMM threads for this process: OpenBLAS's (openblas_set_num_threads) and
 * OpenMP's (oneDNN) together, and loaa's own pool follows (parallel.h); the
 * three never run at once, so n threads are busy at most. n <= 0 leaves the
 * default (OpenBLAS's: the cores, or OPENBLAS_NUM_THREADS).
 */
void loaa_gemm_set_threads(int n);

/* The GEMM thread count in effect. */
int loaa_gemm_threads(void);

/* Older names of the two above (the fp32 path's callers). */
void loaa_kernels_set_threads(int n);
int loaa_kernels_threads(void);

/*
 * Called first in main(): libgomp reads OMP_WAIT_POLICY when it loads, so
 * when the environment has none this sets OMP_WAIT_POLICY=passive (idle
 * OpenMP threads sleep instead of spinning on a core another process may
 * hold) and re-executes the program once (LOAA_OMP_REEXEC guards against a
 * loop). Returns when the variable was already set or exec failed (then
 * libgomp runs with its default, spinning policy; nothing else changes).
 */
void loaa_gemm_prepare_environment(char **argv);

#endif
