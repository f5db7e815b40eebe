/*
 * test_gemm_bf16.c - loaa_gemm_bf16 (oneDNN's matmul) against a double
 * reference on odd shapes, transposes, padded strides, two batch dims (the
 * attention products on fused qkv rows), shared operands, alpha/beta/bias
 * and bf16 output; the bf16 conversions; the primitive cache's counter.
 *
 * Error bounds. Each product is checked twice, element by element:
 *  1. Against the exact product of the bf16 operands as given (computed in
 *     double). bf16 x bf16 products are exact in fp32 (8 + 8 significand
 *     bits), so the only error is fp32 accumulation and scaling:
 *     |err| <= (K + 2) 2^-24 sum_k |a_ik b_kj|, plus for bf16 output one
 *     more rounding of 2^-8 |c| (8 significand bits, the implicit one
 *     included: unit roundoff 2^-8, as fp32's 24 bits give 2^-24).
 *     This bound is rigorous and tight enough that a wrong stride,
 *     transpose or batch offset (which changes the terms) cannot pass it.
 *  2. Against the fp32 product of the unrounded fp32 data the operands were
 *     made from: rounding each input to bf16 moves it by at most 2^-8
 *     relative (uniform in +-2^-8: standard deviation 2^-8/sqrt(3)), so
 *     each term a*b moves by 2^-8 sqrt(2/3) relative (one standard
 *     deviation) with a random sign, and the sum's error grows like sqrt(K)
 *     times the terms' size: with s_ij = sqrt(sum_k (a_ik b_kj)^2),
 *     |err| <= 6 * 2^-8 s_ij (over seven standard deviations of that random
 *     sum; a worst case over ~10^5 checked elements stays far inside) plus
 *     the output rounding. This is the accuracy a user of the bf16 path gets.
 */
#include "config.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/rng.h"
#include "kernels/gemm.h"
#include "tests/tap.h"

static loaa_rng rng;
static loaa_gemm_ctx G;

/* A (rows, ld) fp32 matrix of N(0,1) values and its bf16 copy. */
typedef struct operand {
    float *f;
    loaa_bf16 *h;
    size_t n;
} operand;

static operand make_operand(size_t n)
{
    operand o = {malloc(n * sizeof(float)), malloc(n * sizeof(loaa_bf16)), n};
    for (size_t i = 0; i < n; i++)
        o.f[i] = (float)loaa_rng_normal(&rng);
    loaa_bf16_from_f32(o.h, o.f, n);
    return o;
}

static void free_operand(operand *o)
{
    free(o->f);
    free(o->h);
}

/* One product's geometry as loaa_gemm_bf16 takes it. */
typedef struct gemm_case {
    const char *name;
    int trans_a, trans_b, M, N, K, lda, ldb, ldc;
    float alpha, beta;
    int has_bias;
    loaa_dtype c_type;
    loaa_gemm_batch batch; /* count {1,1} = one product */
} gemm_case;

static double a_at(const gemm_case *t, const float *A, int m, int k)
{
    return t->trans_a ? A[(size_t)k * t->lda + m] : A[(size_t)m * t->lda + k];
}

static double b_at(const gemm_case *t, const float *B, int k, int n)
{
    return t->trans_b ? B[(size_t)n * t->ldb + k] : B[(size_t)k * t->ldb + n];
}

/* Worst element of |got - want| / bound over all products; bound per element from the header's rules. */
static double check_products(const gemm_case *t, const float *Af, const float *Bf, const loaa_bf16 *Ah,
                             const loaa_bf16 *Bh, const float *bias, const float *c0, const void *got, int exact)
{
    size_t na = 0, nb = 0; /* widen the bf16 operands for the exact reference */
    for (int i = 0; i < 2; i++) {
        na += (size_t)(t->batch.count[i] - 1) * t->batch.stride_a[i];
        nb += (size_t)(t->batch.count[i] - 1) * t->batch.stride_b[i];
    }
    na += (size_t)((t->trans_a ? t->K : t->M) - 1) * t->lda + (t->trans_a ? t->M : t->K); /* last row ends at its width */
    nb += (size_t)((t->trans_b ? t->N : t->K) - 1) * t->ldb + (t->trans_b ? t->K : t->N);
    float *Aw = malloc(na * sizeof(float)), *Bw = malloc(nb * sizeof(float));
    loaa_bf16_to_f32(Aw, Ah, na);
    loaa_bf16_to_f32(Bw, Bh, nb);
    const float *A = exact ? Aw : Af, *B = exact ? Bw : Bf;
    double worst = 0;
    for (int i0 = 0; i0 < t->batch.count[0]; i0++)
        for (int i1 = 0; i1 < t->batch.count[1]; i1++) {
            const loaa_gemm_batch *b = &t->batch;
            const float *a = A + i0 * b->stride_a[0] + i1 * b->stride_a[1], *bb = B + i0 * b->stride_b[0] + i1 * b->stride_b[1];
            ptrdiff_t oc = i0 * b->stride_c[0] + i1 * b->stride_c[1];
            for (int m = 0; m < t->M; m++)
                for (int n = 0; n < t->N; n++) {
                    double sum = 0, abs_sum = 0, sq = 0;
                    for (int k = 0; k < t->K; k++) {
                        double term = a_at(t, a, m, k) * b_at(t, bb, k, n);
                        sum += term, abs_sum += fabs(term), sq += term * term;
                    }
                    size_t at = (size_t)(oc + (ptrdiff_t)m * t->ldc + n);
                    double want = t->alpha * sum + (t->has_bias ? bias[n] : 0) + t->beta * c0[at];
                    double g = t->c_type == LOAA_F32 ? ((const float *)got)[at] : loaa_bf16_value(((const loaa_bf16 *)got)[at]);
                    double scale = fabs(t->alpha);
                    double bound = exact ? (t->K + 2) * ldexp(1, -24) * scale * abs_sum : 6 * ldexp(1, -8) * scale * sqrt(sq);
                    bound += ldexp(1, -23) * (fabs(want) + fabs(t->beta * c0[at])) + 1e-30;
                    if (t->c_type == LOAA_BF16)
                        bound += ldexp(1, -8) * (fabs(want) + fabs(t->beta * c0[at]));
                    double r = fabs(g - want) / bound;
                    if (!(r <= worst))
                        worst = isnan(r) ? INFINITY : r;
                }
        }
    free(Aw);
    free(Bw);
    return worst;
}

/* Size in elements of C's storage for t (all products). */
static size_t c_extent(const gemm_case *t)
{
    size_t n = (size_t)(t->M - 1) * t->ldc + t->N;
    for (int i = 0; i < 2; i++)
        n += (size_t)(t->batch.count[i] - 1) * t->batch.stride_c[i];
    return n;
}

/* Runs t on fresh operands of na/nb elements and checks both bounds; C starts random (read when beta != 0). */
static void run_case(const gemm_case *t, size_t na, size_t nb, int shared)
{
    operand a = make_operand(na), b = shared ? a : make_operand(nb);
    size_t nc = c_extent(t);
    float *c0 = malloc(nc * sizeof(float)), *bias = malloc((size_t)t->N * sizeof(float));
    operand cinit = make_operand(nc);
    for (size_t i = 0; i < nc; i++) /* a bf16 C starts from bf16 values, so c0 is exactly what beta scales */
        c0[i] = t->c_type == LOAA_BF16 ? loaa_bf16_value(cinit.h[i]) : cinit.f[i];
    for (int i = 0; i < t->N; i++)
        bias[i] = (float)loaa_rng_normal(&rng);
    void *C = malloc(nc * sizeof(float));
    if (t->c_type == LOAA_F32)
        memcpy(C, c0, nc * sizeof(float));
    else
        memcpy(C, cinit.h, nc * sizeof(loaa_bf16));
    const loaa_gemm_batch *batch = t->batch.count[0] * t->batch.count[1] > 1 ? &t->batch : NULL;
    loaa_gemm_bf16(&G, t->trans_a, t->trans_b, t->M, t->N, t->K, t->alpha, a.h, t->lda, b.h, t->ldb, t->beta, C,
                   t->c_type, t->ldc, t->has_bias ? bias : NULL, batch);
    double exact = check_products(t, a.f, b.f, a.h, b.h, bias, c0, C, 1);
    double fp32 = check_products(t, a.f, b.f, a.h, b.h, bias, c0, C, 0);
    if (!TAP_OK(exact <= 1, "%s: within the fp32-accumulation bound of the exact bf16 product", t->name))
        TAP_DIAG("worst error / bound = %g", exact);
    if (!TAP_OK(fp32 <= 1, "%s: within the bf16-rounding bound of the fp32 product", t->name))
        TAP_DIAG("worst error / bound = %g", fp32);
    free(C);
    free(c0);
    free(bias);
    free_operand(&cinit);
    free_operand(&a);
    if (!shared)
        free_operand(&b);
}

static const loaa_gemm_batch ONE = {{1, 1}, {0, 0}, {0, 0}, {0, 0}};

static void test_plain_products(void)
{
    const int M = 37, N = 29, K = 53;
    for (int ta = 0; ta < 2; ta++)
        for (int tb = 0; tb < 2; tb++) {
            char name[64];
            snprintf(name, sizeof name, "37x29x53 trans_a %d trans_b %d, padded strides", ta, tb);
            int lda = (ta ? M : K) + 3, ldb = (tb ? K : N) + 5;
            gemm_case t = {name, ta, tb, M, N, K, lda, ldb, N + 2, 1.0f, 0.0f, 0, LOAA_F32, ONE};
            run_case(&t, (size_t)(ta ? K : M) * lda, (size_t)(tb ? N : K) * ldb, 0);
        }
    gemm_case scaled = {"alpha 0.25, beta 0.5, bias, fp32 out", 0, 1, 33, 65, 130, 130, 130, 65, 0.25f, 0.5f, 1,
                        LOAA_F32, ONE};
    run_case(&scaled, 33 * 130, 65 * 130, 0);
    gemm_case bf16_out = {"bf16 out, beta 1 (residual), bias", 0, 0, 19, 48, 96, 96, 48, 48, 1.0f, 1.0f, 1, LOAA_BF16,
                          ONE};
    run_case(&bf16_out, 19 * 96, 96 * 48, 0);
    gemm_case bf16_plain = {"bf16 out, beta 0, trans_a", 1, 0, 24, 17, 31, 24, 17, 17, 2.0f, 0.0f, 0, LOAA_BF16, ONE};
    run_case(&bf16_plain, 31 * 24, 31 * 17, 0);
    gemm_case thin = {"M 1, K 1", 0, 0, 1, 7, 1, 1, 7, 7, 1.0f, 0.0f, 1, LOAA_F32, ONE};
    run_case(&thin, 1, 7, 0);
    gemm_case big_k = {"K 2000 (sqrt(K) growth)", 0, 1, 8, 9, 2000, 2000, 2000, 9, 1.0f, 0.0f, 0, LOAA_F32, ONE};
    run_case(&big_k, 8 * 2000, 9 * 2000, 0);
}

/* Attention on fused qkv rows (B, N, 3D), heads of width hd side by side: S = Q K^T / sqrt(hd), then O = P V. */
static void test_attention_batches(void)
{
    const int B = 2, N = 17, H = 3, hd = 8, D = H * hd;
    gemm_case scores = {"Q K^T over (B, H) on fused qkv rows, alpha 1/sqrt(hd)", 0, 1, N, N, hd, 3 * D, 3 * D, N,
                        1.0f / sqrtf((float)hd), 0.0f, 0, LOAA_F32,
                        {{B, H}, {(ptrdiff_t)N * 3 * D, hd}, {(ptrdiff_t)N * 3 * D, hd}, {(ptrdiff_t)H * N * N, (ptrdiff_t)N * N}}};
    /* A = qkv, B = qkv + D: one qkv buffer serves as both; the case shifts B by D through a shared operand */
    operand qkv = make_operand((size_t)B * N * 3 * D);
    size_t nc = c_extent(&scores);
    float *S = malloc(nc * sizeof(float)), *zero = calloc(nc, sizeof(float));
    loaa_gemm_bf16(&G, 0, 1, N, N, hd, scores.alpha, qkv.h, 3 * D, qkv.h + D, 3 * D, 0.0f, S, LOAA_F32, N, NULL,
                   &scores.batch);
    double e1 = check_products(&scores, qkv.f, qkv.f + D, qkv.h, qkv.h + D, NULL, zero, S, 1);
    double e2 = check_products(&scores, qkv.f, qkv.f + D, qkv.h, qkv.h + D, NULL, zero, S, 0);
    TAP_OK(e1 <= 1 && e2 <= 1, "%s (error/bound %.3g exact, %.3g fp32)", scores.name, e1, e2);
    gemm_case pv = {"P V over (B, H) into head columns of (B, N, D), bf16 out", 0, 0, N, hd, N, N, 3 * D, D, 1.0f,
                    0.0f, 0, LOAA_BF16,
                    {{B, H}, {(ptrdiff_t)H * N * N, (ptrdiff_t)N * N}, {(ptrdiff_t)N * 3 * D, hd}, {(ptrdiff_t)N * D, hd}}};
    operand P = make_operand(nc);
    size_t no = (size_t)B * N * D;
    loaa_bf16 *O = malloc(no * sizeof(loaa_bf16));
    loaa_gemm_bf16(&G, 0, 0, N, hd, N, 1.0f, P.h, N, qkv.h + 2 * D, 3 * D, 0.0f, O, LOAA_BF16, D, NULL, &pv.batch);
    e1 = check_products(&pv, P.f, qkv.f + 2 * D, P.h, qkv.h + 2 * D, NULL, zero, O, 1);
    e2 = check_products(&pv, P.f, qkv.f + 2 * D, P.h, qkv.h + 2 * D, NULL, zero, O, 0);
    TAP_OK(e1 <= 1 && e2 <= 1, "%s (error/bound %.3g exact, %.3g fp32)", pv.name, e1, e2);
    free(O);
    free(S);
    free(zero);
    free_operand(&P);
    free_operand(&qkv);
    gemm_case shared_w = {"one batch dim, weight shared (stride_b 0), bias", 0, 1, 11, 13, 20, 20, 20, 13, 1.0f, 0.0f,
                          1, LOAA_F32, {{4, 1}, {11 * 20, 0}, {0, 0}, {11 * 13, 0}}};
    run_case(&shared_w, 4 * 11 * 20, 13 * 20, 0);
    gemm_case shared_a = {"two batch dims, A shared over the second, beta 1", 1, 0, 6, 5, 9, 6, 5, 5, 1.0f, 1.0f, 0,
                          LOAA_F32, {{2, 3}, {6 * 9, 0}, {3 * 9 * 5, 9 * 5}, {3 * 6 * 5, 6 * 5}}};
    run_case(&shared_a, 2 * 6 * 9, 2 * 3 * 9 * 5, 0);
}

static void test_k_zero(void)
{
    float C[6] = {1, 2, 3, 4, 5, 6}, bias[3] = {10, 20, 30};
    loaa_bf16 dummy[1] = {0};
    loaa_gemm_bf16(&G, 0, 0, 2, 3, 0, 1.0f, dummy, 1, dummy, 3, 2.0f, C, LOAA_F32, 3, bias, NULL);
    TAP_OK(C[0] == 12 && C[2] == 36 && C[5] == 42, "K = 0: C = beta C + bias (got %g %g %g)", C[0], C[2], C[5]);
}

static uint32_t bits_of(float x)
{
    uint32_t b;
    memcpy(&b, &x, sizeof b);
    return b;
}

static float float_of(uint32_t b)
{
    float x;
    memcpy(&x, &b, sizeof x);
    return x;
}

static void test_conversions(void)
{
    /* every bf16 pattern survives to_f32 then from_f32; NaNs stay NaN */
    enum { ALL = 65536 };
    loaa_bf16 *h = malloc(ALL * sizeof *h), *back = malloc(ALL * sizeof *back);
    float *f = malloc(ALL * sizeof *f);
    for (int i = 0; i < ALL; i++)
        h[i] = (loaa_bf16)i;
    loaa_bf16_to_f32(f, h, ALL);
    loaa_bf16_from_f32(back, f, ALL);
    int bad = 0;
    for (int i = 0; i < ALL; i++) {
        int nan = isnan(f[i]);
        bad += nan ? !isnan(loaa_bf16_value(back[i])) : back[i] != h[i] || bits_of(f[i]) != (uint32_t)i << 16;
    }
    TAP_OK(bad == 0, "all 65536 bf16 patterns round-trip exactly (NaN stays NaN): %d bad", bad);
    struct { uint32_t in; loaa_bf16 want; const char *what; } cases[] = {
        {0x3f808000u, 0x3f80, "1 + 2^-8 (a tie) rounds to even 1"},
        {0x3f818000u, 0x3f82, "1 + 3*2^-8 (a tie) rounds up to even"},
        {0x3f808001u, 0x3f81, "just above a tie rounds up"},
        {0x3f807fffu, 0x3f80, "just below a tie rounds down"},
        {0xbf808001u, 0xbf81, "negative: away from zero past the tie"},
        {0x7f7fffffu, 0x7f80, "FLT_MAX rounds to +inf"},
        {0x7f800000u, 0x7f80, "+inf stays"},
        {0xff800000u, 0xff80, "-inf stays"},
        {0x00010000u, 0x0001, "a subnormal is kept, not flushed"},
        {0x80000000u, 0x8000, "-0 stays"},
    };
    int n = (int)(sizeof cases / sizeof cases[0]);
    float in[16];
    loaa_bf16 out[16];
    for (int i = 0; i < 16; i++) /* one full vector of 16, so the AVX-512 path is the one checked */
        in[i] = float_of(cases[i % n].in);
    loaa_bf16_from_f32(out, in, 16);
    for (int i = 0; i < n; i++)
        TAP_OK(out[i] == cases[i].want && loaa_bf16_round(in[i]) == cases[i].want, "%s (0x%08x -> 0x%04x, want 0x%04x)",
               cases[i].what, cases[i].in, out[i], cases[i].want);
    uint32_t nans[3] = {0x7f800001u, 0xffc00000u, 0x7fffffffu};
    for (int i = 0; i < 16; i++)
        in[i] = float_of(nans[i % 3]);
    loaa_bf16_from_f32(out, in, 16);
    TAP_OK(isnan(loaa_bf16_value(out[0])) && isnan(loaa_bf16_value(out[1])) && isnan(loaa_bf16_value(out[2])) &&
               isnan(loaa_bf16_value(loaa_bf16_round(in[0]))),
           "NaN stays NaN, also one whose payload is only in the dropped bits (0x7f800001 -> 0x%04x)", out[0]);
    /* the vector path and the scalar rounding agree on a long odd-length array */
    enum { LONG = 1000003 };
    float *r = malloc(LONG * sizeof *r);
    loaa_bf16 *v = malloc(LONG * sizeof *v);
    for (int i = 0; i < LONG; i++)
        r[i] = float_of((uint32_t)(loaa_rng_next(&rng) >> 32));
    loaa_bf16_from_f32(v, r, LONG);
    int differ = 0;
    for (int i = 0; i < LONG; i++) {
        loaa_bf16 s = loaa_bf16_round(r[i]);
        differ += isnan(r[i]) ? !isnan(loaa_bf16_value(v[i])) : v[i] != s;
    }
    TAP_OK(differ == 0, "vectorised and scalar rounding agree on 1000003 random bit patterns (%d differ)", differ);
    free(r);
    free(v);
    free(h);
    free(back);
    free(f);
}

/* The same call again creates nothing; a new shape creates exactly one primitive. */
static void test_primitive_cache(void)
{
    enum { M = 40, N = 24, K = 32 };
    operand a = make_operand(M * K), b = make_operand(K * N);
    float C[M * N];
    loaa_gemm_bf16(&G, 0, 0, M, N, K, 1.0f, a.h, K, b.h, N, 0.0f, C, LOAA_F32, N, NULL, NULL);
    unsigned long after_first = loaa_gemm_primitives_created();
    for (int i = 0; i < 5; i++)
        loaa_gemm_bf16(&G, 0, 0, M, N, K, 1.0f, a.h, K, b.h, N, 0.0f, C, LOAA_F32, N, NULL, NULL);
    TAP_OK(loaa_gemm_primitives_created() == after_first, "repeating a shape creates no primitive (%lu)", after_first);
    loaa_gemm_bf16(&G, 0, 0, M, N, K, 1.0f, a.h, K, b.h, N, 1.0f, C, LOAA_F32, N, NULL, NULL);
    TAP_OK(loaa_gemm_primitives_created() == after_first + 1, "beta != 0 is a new primitive, made once");
    loaa_gemm_bf16(&G, 0, 0, M, N, K, 1.0f, a.h, K, b.h, N, 1.0f, C, LOAA_F32, N, NULL, NULL);
    loaa_gemm_bf16(&G, 0, 0, M, N, K, 1.0f, a.h + K, K, b.h, N, 1.0f, C, LOAA_F32, N, NULL, NULL); /* other pointers */
    TAP_OK(loaa_gemm_primitives_created() == after_first + 1, "other pointers, same shape: no primitive");
    free_operand(&a);
    free_operand(&b);
}

static void test_isa_and_fork(void)
{
    const char *isa = loaa_gemm_isa();
    int level = loaa_gemm_bf16_level();
    TAP_OK(isa && isa[0] && strcmp(isa, "unknown") != 0 && level >= 0 && level <= 3, "oneDNN ISA %s, bf16 level %d",
           isa, level);
    TAP_OK((level == 3) == (strstr(isa, "amx") != NULL), "level 3 exactly when the ISA is AMX");
    TAP_OK(loaa_gemm_engine_started(), "the engine is started in this process");
    pid_t pid = fork();
    if (pid == 0)
        _exit(loaa_gemm_engine_started() ? 1 : 0);
    int status = 0;
    waitpid(pid, &status, 0);
    TAP_OK(WIFEXITED(status) && WEXITSTATUS(status) == 0, "a forked child does not count as started (launcher check)");
}

int main(void)
{
    loaa_rng_seed(&rng, 13);
    loaa_gemm_ctx_init(&G);
    test_conversions();
    test_plain_products();
    test_attention_batches();
    test_k_zero();
    test_primitive_cache();
    test_isa_and_fork();
    TAP_OK(G.flops > 0, "flops are counted");
    return tap_done();
}
