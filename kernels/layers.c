/* layers.c - forward/backward of the ViT layers, losses and AdamW (see layers.h). */
#include "config.h"

/*
 * The element-wise loops (GELU's erfc/exp, softmax, LayerNorm, AdamW) only
 * vectorise when float selects may be if-converted, which -ftrapping-math
 * (GCC's default) forbids; nothing here relies on FP exceptions. O3 lets
 * the vectoriser version loops for aliasing.
 */
#pragma GCC optimize("O3", "no-trapping-math")

#include <math.h>
#include <string.h>

#include "kernels/layers.h"
#include "kernels/parallel.h"

/* Hot element-wise loops are built for AVX-512, AVX2 and baseline x86-64, picked at load time (GCC ifunc). */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define VECTOR_LOOP __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define VECTOR_LOOP
#endif

/* the 16x16 patches of x into col (B*F'*T', 256), fp32 or rounded to bf16 */
static void im2col(float *col, loaa_bf16 *col16, const float *x, int B, int M, int T, int fs, int ts, int Fp, int Tp)
{
    for (int b = 0; b < B; b++)
        for (int f = 0; f < Fp; f++)
            for (int t = 0; t < Tp; t++) {
                size_t dst = (((size_t)b * Fp + f) * Tp + t) * (LOAA_PATCH * LOAA_PATCH);
                const float *src = x + ((size_t)b * M + (size_t)f * fs) * T + (size_t)t * ts;
                for (int i = 0; i < LOAA_PATCH; i++)
                    if (col16)
                        loaa_bf16_from_f32(col16 + dst + i * LOAA_PATCH, src + (size_t)i * T, LOAA_PATCH);
                    else
                        memcpy(col + dst + i * LOAA_PATCH, src + (size_t)i * T, LOAA_PATCH * sizeof(float));
            }
}

void loaa_patch_im2col(float *col, const float *x, int B, int M, int T, int fs, int ts, int Fp, int Tp)
{
    im2col(col, NULL, x, B, M, T, fs, ts, Fp, Tp);
}

void loaa_patch_im2col_bf16(loaa_bf16 *col, const float *x, int B, int M, int T, int fs, int ts, int Fp, int Tp)
{
    im2col(NULL, col, x, B, M, T, fs, ts, Fp, Tp);
}

void loaa_linear_forward(loaa_gemm_ctx *g, float *out, const float *inp, const float *w, const float *b, int R, int I,
                         int O)
{
    /* Pre-filling the bias lets the GEMM add onto it (beta 1): one pass over out either way. */
    if (b)
        for (int i = 0; i < R; i++)
            memcpy(out + (size_t)i * O, b, O * sizeof(float));
    loaa_gemm(g, 0, 1, R, O, I, 1.0f, inp, I, w, I, b ? 1.0f : 0.0f, out, O);
}

void loaa_linear_backward(loaa_gemm_ctx *g, float *dinp, float *dw, float *db, const float *dout, const float *inp,
                          const float *w, int R, int I, int O)
{
    if (dinp)
        loaa_gemm(g, 0, 0, R, I, O, 1.0f, dout, O, w, I, 1.0f, dinp, I);
    if (dw)
        loaa_gemm(g, 1, 0, O, I, R, 1.0f, dout, O, inp, I, 1.0f, dw, I);
    if (db)
        for (int i = 0; i < R; i++) {
            const float *d = dout + (size_t)i * O;
            for (int o = 0; o < O; o++)
                db[o] += d[o];
        }
}

typedef struct ln_job {
    float *out, *mean, *rstd, *dinp;
    loaa_bf16 *out16; /* the output in bf16 instead of out, when non-NULL */
    const float *inp, *w, *b, *dout, *cmean, *crstd;
    float *dw, *db;
    int D;
} ln_job;

VECTOR_LOOP static void ln_forward_rows(void *arg, size_t begin, size_t end)
{
    const ln_job *j = arg;
    int D = j->D;
    for (size_t i = begin; i < end; i++) {
        const float *x = j->inp + i * D;
        float *y = j->out16 ? NULL : j->out + i * D;
        float s = 0;
        for (int d = 0; d < D; d++)
            s += x[d];
        float mu = s / D;
        float v = 0;
        for (int d = 0; d < D; d++) {
            float c = x[d] - mu;
            v += c * c;
        }
        float rs = 1.0f / sqrtf(v / D + 1e-6f);
        if (j->out16) {
            /* normalised in blocks of 256 and rounded: the same fp32 arithmetic as below */
            float buf[256];
            for (int d0 = 0; d0 < D; d0 += 256) {
                int n = D - d0 < 256 ? D - d0 : 256;
                for (int d = 0; d < n; d++)
                    buf[d] = (x[d0 + d] - mu) * rs * j->w[d0 + d] + j->b[d0 + d];
                loaa_bf16_from_f32(j->out16 + i * D + d0, buf, n);
            }
        } else {
            for (int d = 0; d < D; d++)
                y[d] = (x[d] - mu) * rs * j->w[d] + j->b[d];
        }
        j->mean[i] = mu;
        j->rstd[i] = rs;
    }
}

void loaa_layernorm_forward(float *out, float *mean, float *rstd, const float *inp, const float *w, const float *b,
                            int R, int D)
{
    ln_job j = {.out = out, .mean = mean, .rstd = rstd, .inp = inp, .w = w, .b = b, .D = D};
    loaa_parallel_for(R, 64, ln_forward_rows, &j);
}

void loaa_layernorm_forward_bf16(loaa_bf16 *out, float *mean, float *rstd, const float *inp, const float *w,
                                 const float *b, int R, int D)
{
    ln_job j = {.out16 = out, .mean = mean, .rstd = rstd, .inp = inp, .w = w, .b = b, .D = D};
    loaa_parallel_for(R, 64, ln_forward_rows, &j);
}

VECTOR_LOOP static void ln_backward_rows(void *arg, size_t begin, size_t end)
{
    const ln_job *j = arg;
    int D = j->D;
    float *dw = j->dw, *db = j->db;
    for (size_t i = begin; i < end; i++) {
        const float *dy = j->dout + i * D;
        const float *x = j->inp + i * D;
        float mu = j->cmean[i], rs = j->crstd[i];
        float sum_g = 0, sum_gx = 0;
        for (int d = 0; d < D; d++) {
            float xh = (x[d] - mu) * rs;
            float gd = dy[d] * j->w[d];
            sum_g += gd;
            sum_gx += gd * xh;
            if (dw) {
                dw[d] += dy[d] * xh;
                db[d] += dy[d];
            }
        }
        if (!j->dinp)
            continue;
        sum_g /= D;
        sum_gx /= D;
        float *dx = j->dinp + i * D;
        for (int d = 0; d < D; d++) {
            float xh = (x[d] - mu) * rs;
            dx[d] += (dy[d] * j->w[d] - sum_g - xh * sum_gx) * rs;
        }
    }
}

void loaa_layernorm_backward(float *dinp, float *dw, float *db, const float *dout, const float *inp, const float *w,
                             const float *mean, const float *rstd, int R, int D)
{
    if (!dinp && !dw)
        return;
    ln_job j = {.dinp = dinp, .dw = dw, .db = db, .dout = dout, .inp = inp, .w = w, .cmean = mean, .crstd = rstd, .D = D};
    /* weight gradients sum over rows: one thread keeps that sum in a fixed order */
    if (dw)
        ln_backward_rows(&j, 0, R);
    else
        loaa_parallel_for(R, 64, ln_backward_rows, &j);
}

/*
 * expf and erfc written branch-free so that the compiler vectorises the loops
 * that call them (libm's are scalar calls, and GELU's erf dominated the
 * non-GEMM time). exp: range reduction by ln 2 and a degree-6 polynomial,
 * about 2 ulp. erfc: Numerical Recipes' erfcc, fractional error < 1.2e-7
 * everywhere, i.e. float precision: this stays the exact (erf) GELU, not the
 * tanh approximation.
 */
static inline float fast_expf(float xin)
{
    /* the clamp sends NaN to -87 (a float-to-int conversion of NaN is undefined); the select below gives it back */
    float x = xin > -87.0f ? xin : -87.0f;
    x = x < 88.0f ? x : 88.0f;
    /* floor(t + 0.5) by truncation of a positive number: floorf is a libm call that stops vectorisation */
    float n = (float)((int)(x * 1.44269504f + 128.5f) - 128);
    float r = x - n * 0.693145752f - n * 1.42860677e-6f;
    float p = 1.0f + r * (1.0f + r * (0.5f + r * (0.166666672f + r * (0.0416666679f + r * (0.00833333377f +
                                                                                      r * 0.00138888892f)))));
    union {
        int i;
        float f;
    } u = {.i = ((int)n + 127) << 23};
    return xin == xin ? p * u.f : xin;
}

/* erfc(z) for z >= 0 */
static inline float fast_erfcf_pos(float z)
{
    float t = 1.0f / (1.0f + 0.5f * z);
    float poly = -1.26551223f + t * (1.00002368f + t * (0.37409196f + t * (0.09678418f + t * (-0.18628806f +
                 t * (0.27886807f + t * (-1.13520398f + t * (1.48851587f + t * (-0.82215223f + t * 0.17087277f))))))));
    return t * fast_expf(-z * z + poly);
}

/* Phi(x) = 0.5 erfc(-x/sqrt2), from the tail that keeps relative precision */
static inline float gauss_cdf(float x)
{
    float z = x * (float)M_SQRT1_2;
    float az = z < 0 ? -z : z;
    float half = 0.5f * fast_erfcf_pos(az);
    return z < 0 ? half : 1.0f - half;
}

typedef struct ew_job {
    float *out, *deriv;
    const float *a, *b;
} ew_job;

VECTOR_LOOP static void gelu_deriv_range(void *arg, size_t begin, size_t end)
{
    const ew_job *j = arg;
    const float inv_sqrt_2pi = 0.3989422804014327f;
    float *restrict out = j->out, *restrict deriv = j->deriv;
    /* deriv usually overwrites inp in place: staging a block keeps the loop free of aliasing, so it vectorises */
    float buf[256];
    for (size_t i0 = begin; i0 < end; i0 += 256) {
        size_t n = end - i0 < 256 ? end - i0 : 256;
        memcpy(buf, j->a + i0, n * sizeof(float));
        for (size_t i = 0; i < n; i++) {
            float x = buf[i];
            float cdf = gauss_cdf(x);
            out[i0 + i] = x * cdf;
            deriv[i0 + i] = cdf + x * inv_sqrt_2pi * fast_expf(-0.5f * x * x);
        }
    }
}

void loaa_gelu_forward_deriv(float *out, float *deriv, const float *inp, size_t n)
{
    ew_job j = {.out = out, .deriv = deriv, .a = inp};
    loaa_parallel_for(n, 16384, gelu_deriv_range, &j);
}

VECTOR_LOOP static void gelu_range(void *arg, size_t begin, size_t end)
{
    const ew_job *j = arg;
    for (size_t i = begin; i < end; i++) {
        float x = j->a[i];
        j->out[i] = x * gauss_cdf(x);
    }
}

void loaa_gelu_forward(float *out, const float *inp, size_t n)
{
    ew_job j = {.out = out, .a = inp};
    loaa_parallel_for(n, 16384, gelu_range, &j);
}

void loaa_gelu_backward(float *dinp, const float *dout, const float *inp, size_t n)
{
    const float inv_sqrt_2pi = 0.3989422804014327f;
    for (size_t i = 0; i < n; i++) {
        float x = inp[i];
        dinp[i] = dout[i] * (gauss_cdf(x) + x * inv_sqrt_2pi * fast_expf(-0.5f * x * x));
    }
}

VECTOR_LOOP static void mul_range(void *arg, size_t begin, size_t end)
{
    const ew_job *j = arg;
    for (size_t i = begin; i < end; i++)
        j->out[i] = j->a[i] * j->b[i];
}

void loaa_mul(float *out, const float *a, const float *b, size_t n)
{
    ew_job j = {.out = out, .a = a, .b = b};
    loaa_parallel_for(n, 32768, mul_range, &j);
}

/*
 * Row reductions in 8 interleaved lanes: a fixed order (so results do not
 * depend on threads or alignment) that the compiler can vectorise without
 * -ffast-math.
 */
static inline float row_max(const float *restrict r, int n)
{
    float m[8];
    int k = 0;
    for (int l = 0; l < 8; l++)
        m[l] = r[0];
    for (; k + 8 <= n; k += 8)
        for (int l = 0; l < 8; l++)
            m[l] = r[k + l] > m[l] ? r[k + l] : m[l];
    float mx = m[0];
    for (int l = 1; l < 8; l++)
        mx = m[l] > mx ? m[l] : mx;
    for (; k < n; k++)
        mx = r[k] > mx ? r[k] : mx;
    return mx;
}

static inline float row_dot(const float *restrict a, const float *restrict b, int n)
{
    float s[8] = {0};
    int k = 0;
    for (; k + 8 <= n; k += 8)
        for (int l = 0; l < 8; l++)
            s[l] += a[k + l] * b[k + l];
    float t = ((s[0] + s[1]) + (s[2] + s[3])) + ((s[4] + s[5]) + (s[6] + s[7]));
    for (; k < n; k++)
        t += a[k] * b[k];
    return t;
}

static inline float row_sum(const float *restrict a, int n)
{
    float s[8] = {0};
    int k = 0;
    for (; k + 8 <= n; k += 8)
        for (int l = 0; l < 8; l++)
            s[l] += a[k + l];
    float t = ((s[0] + s[1]) + (s[2] + s[3])) + ((s[4] + s[5]) + (s[6] + s[7]));
    for (; k < n; k++)
        t += a[k];
    return t;
}

/* r (n) = exp(r - mx), staged through a buffer: the in-place loop does not vectorise */
static inline void exp_shift_row(float *r, int n, float mx)
{
    float buf[256];
    for (int k0 = 0; k0 < n; k0 += 256) {
        int m = n - k0 < 256 ? n - k0 : 256;
        memcpy(buf, r + k0, m * sizeof(float));
        float *restrict o = r + k0;
        for (int k = 0; k < m; k++)
            o[k] = fast_expf(buf[k] - mx);
    }
}

typedef struct rows_job {
    float *a;
    const float *p;
    loaa_bf16 *out;      /* bf16 forms: the rows' result */
    const loaa_bf16 *p16; /* bf16 forms: the probabilities */
    int n;
    float scale;
} rows_job;

VECTOR_LOOP static void softmax_range(void *arg, size_t begin, size_t end)
{
    const rows_job *j = arg;
    int n = j->n;
    for (size_t i = begin; i < end; i++) {
        float *r = j->a + i * n;
        exp_shift_row(r, n, row_max(r, n));
        float inv = 1.0f / row_sum(r, n);
        for (int k = 0; k < n; k++)
            r[k] *= inv;
    }
}

/* d (rows,n) <- scale * P (d - rowsum(P d)): softmax backward with the score scale folded in */
VECTOR_LOOP static void softmax_back_range(void *arg, size_t begin, size_t end)
{
    const rows_job *j = arg;
    int n = j->n;
    for (size_t i = begin; i < end; i++) {
        const float *p = j->p + i * n;
        float *d = j->a + i * n;
        float s = row_dot(p, d, n);
        for (int k = 0; k < n; k++)
            d[k] = j->scale * p[k] * (d[k] - s);
    }
}

/*
 * Attention's products run as batched matmuls over samples x heads: one call
 * each for Q K^T, P V and their backward products. Head h of sample b is a
 * block of the fused qkv rows (row stride 3D, batch strides N*3D and D/H);
 * the scores of all heads lie in one (B,H,N,N) array. In fp32 a batch runs
 * its items on the pool, each single-threaded (the per-head products,
 * N x N x D/H, are too small for OpenBLAS to split well).
 */
typedef struct batched_job {
    const loaa_gemm_batch *batch;
    const float *A, *B;
    float *C;
    int trans_a, trans_b, M, N, K, lda, ldb, ldc;
    float alpha, beta;
} batched_job;

static void batched_range(void *arg, size_t begin, size_t end)
{
    const batched_job *j = arg;
    const loaa_gemm_batch *bt = j->batch;
    loaa_gemm_ctx g;
    loaa_gemm_ctx_init(&g);
    for (size_t i = begin; i < end; i++) {
        size_t i0 = i / bt->count[1], i1 = i % bt->count[1];
        ptrdiff_t oa = i0 * bt->stride_a[0] + i1 * bt->stride_a[1], ob = i0 * bt->stride_b[0] + i1 * bt->stride_b[1];
        ptrdiff_t oc = i0 * bt->stride_c[0] + i1 * bt->stride_c[1];
        loaa_gemm_local(&g, j->trans_a, j->trans_b, j->M, j->N, j->K, j->alpha, j->A + oa, j->lda, j->B + ob, j->ldb,
                        j->beta, j->C + oc, j->ldc);
    }
}

/* count[0] x count[1] products C_i (M,N) = alpha op(A_i) op(B_i) + beta C_i, operand i at its batch offsets */
static void gemm_batched(loaa_gemm_ctx *g, int trans_a, int trans_b, int M, int N, int K, float alpha, const float *A,
                         int lda, const float *B, int ldb, float beta, float *C, int ldc, const loaa_gemm_batch *batch)
{
    batched_job j = {.batch = batch, .A = A, .B = B, .C = C, .trans_a = trans_a, .trans_b = trans_b, .M = M, .N = N,
                     .K = K, .lda = lda, .ldb = ldb, .ldc = ldc, .alpha = alpha, .beta = beta};
    size_t items = (size_t)batch->count[0] * batch->count[1];
    loaa_parallel_for_blas1(items, 1, batched_range, &j);
    g->flops += 2.0 * M * N * K * (double)items;
}

/* The batch strides over samples x heads of operands laid out as (B,N,ld) token rows, heads side by side. */
static void head_strides(ptrdiff_t *stride, int N, int ld, int hd)
{
    stride[0] = (ptrdiff_t)N * ld;
    stride[1] = hd;
}

/* The batch strides over samples x heads of (B,H,N,N) score matrices. */
static void score_strides(ptrdiff_t *stride, int N, int H)
{
    stride[0] = (ptrdiff_t)H * N * N;
    stride[1] = (ptrdiff_t)N * N;
}

void loaa_attention_forward(loaa_gemm_ctx *g, float *out, float *att, const float *qkv, int B, int N, int D, int H)
{
    int hd = D / H;
    float scale = 1.0f / sqrtf((float)hd);
    loaa_gemm_batch qk = {.count = {B, H}};
    head_strides(qk.stride_a, N, 3 * D, hd);
    head_strides(qk.stride_b, N, 3 * D, hd);
    score_strides(qk.stride_c, N, H);
    /* scores (B,H,N,N) = scale * Q_h K_h^T; softmax over the rows; out_h (N,hd) = P V_h into the merged-heads layout */
    gemm_batched(g, 0, 1, N, N, hd, scale, qkv, 3 * D, qkv + D, 3 * D, 0.0f, att, N, &qk);
    rows_job sj = {.a = att, .n = N};
    loaa_parallel_for((size_t)B * H * N, 64, softmax_range, &sj);
    loaa_gemm_batch pv = {.count = {B, H}};
    score_strides(pv.stride_a, N, H);
    head_strides(pv.stride_b, N, 3 * D, hd);
    head_strides(pv.stride_c, N, D, hd);
    gemm_batched(g, 0, 0, N, hd, N, 1.0f, att, N, qkv + 2 * D, 3 * D, 0.0f, out, D, &pv);
}

void loaa_attention_backward(loaa_gemm_ctx *g, float *dqkv, float *scratch, const float *dout, const float *qkv,
                             const float *att, int B, int N, int D, int H)
{
    int hd = D / H;
    loaa_gemm_batch tok_tok = {.count = {B, H}}, sc_tok = {.count = {B, H}};
    /* dP (N,N) = dY_h V_h^T: A dout rows (ld D), B v rows (ld 3D), C scores */
    head_strides(tok_tok.stride_a, N, D, hd);
    head_strides(tok_tok.stride_b, N, 3 * D, hd);
    score_strides(tok_tok.stride_c, N, H);
    gemm_batched(g, 0, 1, N, N, hd, 1.0f, dout, D, qkv + 2 * D, 3 * D, 0.0f, scratch, N, &tok_tok);
    /* dV_h = P^T dY_h: A scores, B dout rows, C dqkv rows */
    score_strides(sc_tok.stride_a, N, H);
    head_strides(sc_tok.stride_b, N, D, hd);
    head_strides(sc_tok.stride_c, N, 3 * D, hd);
    gemm_batched(g, 1, 0, N, hd, N, 1.0f, att, N, dout, D, 0.0f, dqkv + 2 * D, 3 * D, &sc_tok);
    /* dS = scale P (dP - rowsum(P dP)) */
    rows_job sj = {.a = scratch, .p = att, .n = N, .scale = 1.0f / sqrtf((float)hd)};
    loaa_parallel_for((size_t)B * H * N, 64, softmax_back_range, &sj);
    /* dQ_h = dS K_h; dK_h = dS^T Q_h: A scores, B and C qkv rows */
    head_strides(sc_tok.stride_b, N, 3 * D, hd);
    gemm_batched(g, 0, 0, N, hd, N, 1.0f, scratch, N, qkv + D, 3 * D, 0.0f, dqkv, 3 * D, &sc_tok);
    gemm_batched(g, 1, 0, N, hd, N, 1.0f, scratch, N, qkv, 3 * D, 0.0f, dqkv + D, 3 * D, &sc_tok);
}

/* The token a tap reads for token n of a sample, or -1 (zero padding / special token off-centre). */
static inline int tap_source(const loaa_taps *taps, int j, int n, int S, int Fp, int Tp)
{
    if (n < S)
        return j == taps->centre ? n : -1;
    int p = n - S, f = p / Tp + taps->df[j], t = p % Tp + taps->dt[j];
    if (f < 0 || f >= Fp || t < 0 || t >= Tp)
        return -1;
    return S + f * Tp + t;
}

void loaa_tapconv_gather(float *h, const float *z, const float *bias, const loaa_taps *taps, int B, int S, int Fp,
                         int Tp, int r)
{
    int N = S + Fp * Tp, k = taps->k;
    for (int b = 0; b < B; b++)
        for (int n = 0; n < N; n++) {
            float *o = h + ((size_t)b * N + n) * r;
            memcpy(o, bias, r * sizeof(float));
            for (int j = 0; j < k; j++) {
                int src = tap_source(taps, j, n, S, Fp, Tp);
                if (src < 0)
                    continue;
                const float *zz = z + ((size_t)b * N + src) * k * r + (size_t)j * r;
                for (int c = 0; c < r; c++)
                    o[c] += zz[c];
            }
        }
}

void loaa_tapconv_scatter(float *dz, const float *dh, const loaa_taps *taps, int B, int S, int Fp, int Tp, int r)
{
    int N = S + Fp * Tp, k = taps->k;
    memset(dz, 0, (size_t)B * N * k * r * sizeof(float));
    for (int b = 0; b < B; b++)
        for (int n = 0; n < N; n++) {
            const float *d = dh + ((size_t)b * N + n) * r;
            for (int j = 0; j < k; j++) {
                int src = tap_source(taps, j, n, S, Fp, Tp);
                if (src < 0)
                    continue;
                float *zz = dz + ((size_t)b * N + src) * k * r + (size_t)j * r;
                for (int c = 0; c < r; c++)
                    zz[c] += d[c];
            }
        }
}

double loaa_loss_ce(float *dlogits, const float *logits, const float *y, int B, int C, double smoothing)
{
    double total = 0;
    for (int b = 0; b < B; b++) {
        const float *z = logits + (size_t)b * C;
        const float *t = y + (size_t)b * C;
        double mx = z[0];
        for (int c = 1; c < C; c++)
            mx = z[c] > mx ? z[c] : mx;
        double se = 0;
        for (int c = 0; c < C; c++)
            se += exp(z[c] - mx);
        double lse = mx + log(se);
        double ysum = 0, yz = 0;
        for (int c = 0; c < C; c++) {
            double ys = (1 - smoothing) * t[c] + smoothing / C;
            ysum += ys;
            yz += ys * z[c];
        }
        total += lse * ysum - yz;
        if (dlogits)
            for (int c = 0; c < C; c++) {
                double ys = (1 - smoothing) * t[c] + smoothing / C;
                dlogits[(size_t)b * C + c] = (float)((exp(z[c] - lse) * ysum - ys) / B);
            }
    }
    return total / B;
}

double loaa_loss_bce(float *dlogits, const float *logits, const float *y, int B, int C, double smoothing)
{
    double total = 0;
    size_t n = (size_t)B * C;
    for (size_t i = 0; i < n; i++) {
        double z = logits[i];
        double t = (1 - smoothing) * y[i] + smoothing / 2;
        /* log(1+exp(z)) - z t, written so that neither branch overflows */
        total += (z > 0 ? z : 0) - z * t + log1p(exp(-fabs(z)));
        if (dlogits)
            dlogits[i] = (float)((1.0 / (1.0 + exp(-z)) - t) / n);
    }
    return total / n;
}

double loaa_sumsq(const float *g, size_t n)
{
    double s = 0;
    for (size_t i = 0; i < n; i++)
        s += (double)g[i] * g[i];
    return s;
}

typedef struct adamw_job {
    float *p, *m, *v;
    const float *g;
    float lr, beta1, beta2, eps, decay, c1, c2, gscale;
} adamw_job;

VECTOR_LOOP static void adamw_range(void *arg, size_t begin, size_t end)
{
    const adamw_job *j = arg;
    for (size_t i = begin; i < end; i++) {
        float gi = j->g[i] * j->gscale;
        float mi = j->beta1 * j->m[i] + (1.0f - j->beta1) * gi;
        float vi = j->beta2 * j->v[i] + (1.0f - j->beta2) * gi * gi;
        j->m[i] = mi;
        j->v[i] = vi;
        j->p[i] = j->p[i] * j->decay - j->lr * (mi * j->c1) / (sqrtf(vi * j->c2) + j->eps);
    }
}

void loaa_adamw(float *p, const float *g, float *m, float *v, size_t n, float lr, float beta1, float beta2, float eps,
                float wd, long long t, float gscale)
{
    /* bias corrections in double: 1 - 0.999^1 loses digits in float */
    adamw_job j = {.p = p, .m = m, .v = v, .g = g, .lr = lr, .beta1 = beta1, .beta2 = beta2, .eps = eps,
                   .decay = 1.0f - lr * wd, .c1 = (float)(1.0 / (1.0 - pow(beta1, (double)t))),
                   .c2 = (float)(1.0 / (1.0 - pow(beta2, (double)t))), .gscale = gscale};
    loaa_parallel_for(n, 32768, adamw_range, &j);
}

/* ---- bf16 forms (layers.h) ---- */

typedef struct cvt_job {
    loaa_bf16 *dst16, *aux16;
    float *dst;
    const float *a, *b;
    const loaa_bf16 *b16;
} cvt_job;

static void to_bf16_range(void *arg, size_t begin, size_t end)
{
    const cvt_job *j = arg;
    loaa_bf16_from_f32(j->dst16 + begin, j->a + begin, end - begin);
}

void loaa_to_bf16(loaa_bf16 *dst, const float *src, size_t n)
{
    cvt_job j = {.dst16 = dst, .a = src};
    loaa_parallel_for(n, 65536, to_bf16_range, &j);
}

void loaa_linear_forward_bf16(loaa_gemm_ctx *g, void *out, loaa_dtype out_type, const loaa_bf16 *inp,
                              const loaa_bf16 *w, const float *b, int R, int I, int O)
{
    loaa_gemm_bf16(g, 0, 1, R, O, I, 1.0f, inp, I, w, I, 0.0f, out, out_type, O, b, NULL);
}

void loaa_linear_backward_bf16(loaa_gemm_ctx *g, float *dinp, float *dw, float *db, const loaa_bf16 *dout,
                               const float *dout_f32, const loaa_bf16 *inp, const loaa_bf16 *w, int R, int I, int O)
{
    if (dinp)
        loaa_gemm_bf16(g, 0, 0, R, I, O, 1.0f, dout, O, w, I, 1.0f, dinp, LOAA_F32, I, NULL, NULL);
    if (dw)
        loaa_gemm_bf16(g, 1, 0, O, I, R, 1.0f, dout, O, inp, I, 1.0f, dw, LOAA_F32, I, NULL, NULL);
    if (db)
        for (int i = 0; i < R; i++) {
            const float *d = dout_f32 + (size_t)i * O;
            for (int o = 0; o < O; o++)
                db[o] += d[o];
        }
}

VECTOR_LOOP static void gelu_bf16_range(void *arg, size_t begin, size_t end)
{
    const cvt_job *j = arg;
    const float inv_sqrt_2pi = 0.3989422804014327f;
    /* staged through local blocks so that one branch-free loop (one erfc per element) vectorises */
    float buf[256], y[256], dy[256];
    for (size_t i0 = begin; i0 < end; i0 += 256) {
        size_t n = end - i0 < 256 ? end - i0 : 256;
        memcpy(buf, j->a + i0, n * sizeof(float));
        float *restrict yo = y, *restrict dyo = dy;
        for (size_t i = 0; i < n; i++) {
            float x = buf[i], cdf = gauss_cdf(x);
            yo[i] = x * cdf;
            dyo[i] = cdf + x * inv_sqrt_2pi * fast_expf(-0.5f * x * x);
        }
        if (j->dst)
            memcpy(j->dst + i0, dy, n * sizeof(float));
        if (j->aux16)
            loaa_bf16_from_f32(j->aux16 + i0, dy, n);
        loaa_bf16_from_f32(j->dst16 + i0, y, n);
    }
}

void loaa_gelu_forward_bf16(loaa_bf16 *out, float *deriv, loaa_bf16 *deriv16, const float *inp, size_t n)
{
    cvt_job j = {.dst16 = out, .aux16 = deriv16, .dst = deriv, .a = inp};
    loaa_parallel_for(n, 16384, gelu_bf16_range, &j);
}

VECTOR_LOOP static void mul_bf16_range(void *arg, size_t begin, size_t end)
{
    const cvt_job *j = arg;
    float buf[256], bb[256];
    for (size_t i0 = begin; i0 < end; i0 += 256) {
        size_t n = end - i0 < 256 ? end - i0 : 256;
        loaa_bf16_to_f32(bb, j->b16 + i0, n);
        for (size_t i = 0; i < n; i++)
            buf[i] = j->a[i0 + i] * bb[i];
        if (j->dst)
            memcpy(j->dst + i0, buf, n * sizeof(float));
        loaa_bf16_from_f32(j->dst16 + i0, buf, n);
    }
}

void loaa_mul_bf16(loaa_bf16 *out16, float *out, const float *a, const loaa_bf16 *b, size_t n)
{
    cvt_job j = {.dst16 = out16, .dst = out, .a = a, .b16 = b};
    loaa_parallel_for(n, 32768, mul_bf16_range, &j);
}

void loaa_colsum_bf16(float *db, const loaa_bf16 *d, int R, int O)
{
    float buf[256];
    for (int i = 0; i < R; i++)
        for (int o0 = 0; o0 < O; o0 += 256) {
            int n = O - o0 < 256 ? O - o0 : 256;
            loaa_bf16_to_f32(buf, d + (size_t)i * O + o0, n);
            for (int o = 0; o < n; o++)
                db[o0 + o] += buf[o];
        }
}

/* out (rows,n) bf16 = softmax of the fp32 rows of a (a is overwritten by exp(a - max)) */
VECTOR_LOOP static void softmax_bf16_range(void *arg, size_t begin, size_t end)
{
    const rows_job *j = arg;
    int n = j->n;
    float buf[256];
    for (size_t i = begin; i < end; i++) {
        float *r = j->a + i * n;
        exp_shift_row(r, n, row_max(r, n));
        float inv = 1.0f / row_sum(r, n);
        for (int k0 = 0; k0 < n; k0 += 256) {
            int m = n - k0 < 256 ? n - k0 : 256;
            for (int k = 0; k < m; k++)
                buf[k] = r[k0 + k] * inv;
            loaa_bf16_from_f32(j->out + i * n + k0, buf, m);
        }
    }
}

/* out (rows,n) bf16 = scale * P (d - rowsum(P d)) with P bf16 and d the fp32 rows of a */
VECTOR_LOOP static void softmax_back_bf16_range(void *arg, size_t begin, size_t end)
{
    const rows_job *j = arg;
    int n = j->n;
    float buf[256];
    for (size_t i = begin; i < end; i++) {
        const loaa_bf16 *p = j->p16 + i * n;
        const float *d = j->a + i * n;
        float s = 0;
        for (int k0 = 0; k0 < n; k0 += 256) {
            int m = n - k0 < 256 ? n - k0 : 256;
            loaa_bf16_to_f32(buf, p + k0, m);
            s += row_dot(buf, d + k0, m);
        }
        for (int k0 = 0; k0 < n; k0 += 256) {
            int m = n - k0 < 256 ? n - k0 : 256;
            loaa_bf16_to_f32(buf, p + k0, m);
            for (int k = 0; k < m; k++)
                buf[k] = j->scale * buf[k] * (d[k0 + k] - s);
            loaa_bf16_from_f32(j->out + i * n + k0, buf, m);
        }
    }
}

void loaa_attention_forward_bf16(loaa_gemm_ctx *g, loaa_bf16 *out, loaa_bf16 *att, float *scores,
                                 const loaa_bf16 *qkv, int B, int N, int D, int H)
{
    int hd = D / H;
    loaa_gemm_batch qk = {.count = {B, H}}, pv = {.count = {B, H}};
    head_strides(qk.stride_a, N, 3 * D, hd);
    head_strides(qk.stride_b, N, 3 * D, hd);
    score_strides(qk.stride_c, N, H);
    score_strides(pv.stride_a, N, H);
    head_strides(pv.stride_b, N, 3 * D, hd);
    head_strides(pv.stride_c, N, D, hd);
    loaa_gemm_bf16(g, 0, 1, N, N, hd, 1.0f / sqrtf((float)hd), qkv, 3 * D, qkv + D, 3 * D, 0.0f, scores, LOAA_F32, N,
                   NULL, &qk);
    rows_job sj = {.a = scores, .out = att, .n = N};
    loaa_parallel_for((size_t)B * H * N, 64, softmax_bf16_range, &sj);
    loaa_gemm_bf16(g, 0, 0, N, hd, N, 1.0f, att, N, qkv + 2 * D, 3 * D, 0.0f, out, LOAA_BF16, D, NULL, &pv);
}

void loaa_attention_backward_bf16(loaa_gemm_ctx *g, loaa_bf16 *dqkv, float *scratch, loaa_bf16 *ds,
                                  const loaa_bf16 *dout, const loaa_bf16 *qkv, const loaa_bf16 *att, int B, int N,
                                  int D, int H)
{
    int hd = D / H;
    loaa_gemm_batch tok_tok = {.count = {B, H}}, sc_tok = {.count = {B, H}};
    head_strides(tok_tok.stride_a, N, D, hd);
    head_strides(tok_tok.stride_b, N, 3 * D, hd);
    score_strides(tok_tok.stride_c, N, H);
    score_strides(sc_tok.stride_a, N, H);
    head_strides(sc_tok.stride_b, N, D, hd);
    head_strides(sc_tok.stride_c, N, 3 * D, hd);
    /* dP = dY_h V_h^T (fp32); dV_h = P^T dY_h; dS = scale P (dP - rowsum(P dP)) in bf16; dQ_h = dS K_h; dK_h = dS^T Q_h */
    loaa_gemm_bf16(g, 0, 1, N, N, hd, 1.0f, dout, D, qkv + 2 * D, 3 * D, 0.0f, scratch, LOAA_F32, N, NULL, &tok_tok);
    loaa_gemm_bf16(g, 1, 0, N, hd, N, 1.0f, att, N, dout, D, 0.0f, dqkv + 2 * D, LOAA_BF16, 3 * D, NULL, &sc_tok);
    rows_job sj = {.a = scratch, .out = ds, .p16 = att, .n = N, .scale = 1.0f / sqrtf((float)hd)};
    loaa_parallel_for((size_t)B * H * N, 64, softmax_back_bf16_range, &sj);
    head_strides(sc_tok.stride_b, N, 3 * D, hd);
    loaa_gemm_bf16(g, 0, 0, N, hd, N, 1.0f, ds, N, qkv + D, 3 * D, 0.0f, dqkv, LOAA_BF16, 3 * D, NULL, &sc_tok);
    loaa_gemm_bf16(g, 1, 0, N, hd, N, 1.0f, ds, N, qkv, 3 * D, 0.0f, dqkv + D, LOAA_BF16, 3 * D, NULL, &sc_tok);
}
