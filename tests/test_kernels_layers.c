/*
 * test_kernels_layers.c - finite-difference gradient checks of every layer
 * in kernels/layers.h (linear, LayerNorm, GELU, MLP, attention, the tap
 * convolution of LoAA time/freq k=1,3,5 and convpass with special tokens,
 * both losses), plus exact checks of im2col, the convolution and AdamW;
 * then every bf16 layer against its fp32 form (bounds stated there).
 *
 * The checks are directional: for a random direction d, the central
 * difference (L(x+eps d) - L(x-eps d)) / 2eps of a scalar L = <out, w_out>
 * must match <grad, d>. One number sums many partial derivatives, so float
 * rounding averages out and a tolerance of 1e-3 relative is meaningful.
 */
#include "config.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/rng.h"
#include "kernels/gemm.h"
#include "kernels/layers.h"
#include "tests/tap.h"

static loaa_rng rng;
static loaa_gemm_ctx G;

/* Every buffer of the tests is tracked here and released at the end (the checks' early returns leak nothing). */
static void *tracked[8192];
static size_t n_tracked;

static void *track(void *p)
{
    if (n_tracked < sizeof tracked / sizeof *tracked)
        tracked[n_tracked++] = p;
    return p;
}

static void release_all(void)
{
    for (size_t i = 0; i < n_tracked; i++)
        free(tracked[i]);
    n_tracked = 0;
}

static float *randn(size_t n, double sd)
{
    float *p = track(malloc(n * sizeof(float)));
    for (size_t i = 0; i < n; i++)
        p[i] = (float)(sd * loaa_rng_normal(&rng));
    return p;
}

static float *zeros(size_t n)
{
    return track(calloc(n, sizeof(float)));
}

static double dot(const float *a, const float *b, size_t n)
{
    double s = 0;
    for (size_t i = 0; i < n; i++)
        s += (double)a[i] * b[i];
    return s;
}

typedef double (*eval_fn)(void *ctx);

/* Directional check of grad (n) for the tensor x (n) that eval reads. */
static void check_dir(const char *what, float *x, const float *grad, size_t n, eval_fn eval, void *ctx, double eps,
                      double tol)
{
    float *d = randn(n, 1.0);
    float *x0 = malloc(n * sizeof(float));
    memcpy(x0, x, n * sizeof(float));
    for (size_t i = 0; i < n; i++)
        x[i] = x0[i] + (float)(eps * d[i]);
    double lp = eval(ctx);
    for (size_t i = 0; i < n; i++)
        x[i] = x0[i] - (float)(eps * d[i]);
    double lm = eval(ctx);
    memcpy(x, x0, n * sizeof(float));
    double num = (lp - lm) / (2 * eps), ana = dot(grad, d, n);
    /* relative to the directional derivative, but never below a tenth of |grad| (the typical size of
     * <grad, d> for a unit-normal d): a direction that happens to cancel would else compare noise */
    double floor = 0.1 * sqrt(dot(grad, grad, n)) + 1e-6;
    double err = fabs(num - ana) / fmax(floor, fmax(fabs(num), fabs(ana)));
    TAP_OK(err < tol, "%s: analytic %.6g vs numeric %.6g (rel err %.2g)", what, ana, num, err);
    free(x0);
}

/* ---- linear ---- */
typedef struct {
    int R, I, O;
    float *inp, *w, *b, *out, *wo;
} lin_t;

static double lin_eval(void *c)
{
    lin_t *t = c;
    loaa_linear_forward(&G, t->out, t->inp, t->w, t->b, t->R, t->I, t->O);
    return dot(t->out, t->wo, (size_t)t->R * t->O);
}

static void test_linear(void)
{
    lin_t t = {.R = 5, .I = 7, .O = 6};
    t.inp = randn(35, 1), t.w = randn(42, 0.5), t.b = randn(6, 0.5), t.out = zeros(30), t.wo = randn(30, 1);
    float *dinp = zeros(35), *dw = zeros(42), *db = zeros(6);
    loaa_linear_backward(&G, dinp, dw, db, t.wo, t.inp, t.w, t.R, t.I, t.O);
    check_dir("linear d input", t.inp, dinp, 35, lin_eval, &t, 1e-2, 1e-3);
    check_dir("linear d weight", t.w, dw, 42, lin_eval, &t, 1e-2, 1e-3);
    check_dir("linear d bias", t.b, db, 6, lin_eval, &t, 1e-2, 1e-3);
}

/* ---- LayerNorm ---- */
typedef struct {
    int R, D;
    float *inp, *w, *b, *out, *mean, *rstd, *wo;
} ln_t;

static double ln_eval(void *c)
{
    ln_t *t = c;
    loaa_layernorm_forward(t->out, t->mean, t->rstd, t->inp, t->w, t->b, t->R, t->D);
    return dot(t->out, t->wo, (size_t)t->R * t->D);
}

static void test_layernorm(void)
{
    ln_t t = {.R = 4, .D = 16};
    size_t n = 64;
    t.inp = randn(n, 2), t.w = randn(16, 1), t.b = randn(16, 1), t.out = zeros(n), t.wo = randn(n, 1);
    t.mean = zeros(4), t.rstd = zeros(4);
    for (size_t i = 0; i < n; i++)
        t.inp[i] += 0.5f;
    ln_eval(&t);
    float *dinp = zeros(n), *dw = zeros(16), *db = zeros(16);
    loaa_layernorm_backward(dinp, dw, db, t.wo, t.inp, t.w, t.mean, t.rstd, t.R, t.D);
    check_dir("layernorm d input", t.inp, dinp, n, ln_eval, &t, 1e-2, 2e-3);
    check_dir("layernorm d weight", t.w, dw, 16, ln_eval, &t, 1e-2, 1e-3);
    check_dir("layernorm d bias", t.b, db, 16, ln_eval, &t, 1e-2, 1e-3);
    /* the mean and variance of a normalised row are 0 and 1 */
    double s = 0, s2 = 0;
    float *one = track(malloc(16 * sizeof(float))), *zero = zeros(16), mu, rs;
    for (int i = 0; i < 16; i++)
        one[i] = 1;
    float row[16];
    loaa_layernorm_forward(row, &mu, &rs, t.inp, one, zero, 1, 16);
    for (int i = 0; i < 16; i++)
        s += row[i], s2 += row[i] * row[i];
    TAP_NEAR(s / 16, 0, 1e-6, "layernorm output has mean 0");
    TAP_NEAR(s2 / 16, 1, 1e-4, "layernorm output has variance 1");
}

/* ---- GELU ---- */
typedef struct {
    size_t n;
    float *inp, *out, *wo;
} gelu_t;

static double gelu_eval(void *c)
{
    gelu_t *t = c;
    loaa_gelu_forward(t->out, t->inp, t->n);
    return dot(t->out, t->wo, t->n);
}

static void test_gelu(void)
{
    gelu_t t = {.n = 50};
    t.inp = randn(50, 2), t.out = zeros(50), t.wo = randn(50, 1);
    float *dinp = zeros(50);
    loaa_gelu_backward(dinp, t.wo, t.inp, 50);
    check_dir("gelu d input", t.inp, dinp, 50, gelu_eval, &t, 1e-2, 1e-3);
    float x = 1.0f, y;
    loaa_gelu_forward(&y, &x, 1);
    TAP_NEAR(y, 0.8413447460685429, 1e-6, "gelu(1) = Phi(1) (exact erf form)");
}

/* ---- MLP: fc2(gelu(fc1(x))) ---- */
typedef struct {
    int R, D, Hm;
    float *x, *w1, *b1, *w2, *b2, *h, *g, *out, *wo;
} mlp_t;

static double mlp_eval(void *c)
{
    mlp_t *t = c;
    loaa_linear_forward(&G, t->h, t->x, t->w1, t->b1, t->R, t->D, t->Hm);
    loaa_gelu_forward(t->g, t->h, (size_t)t->R * t->Hm);
    loaa_linear_forward(&G, t->out, t->g, t->w2, t->b2, t->R, t->Hm, t->D);
    return dot(t->out, t->wo, (size_t)t->R * t->D);
}

static void test_mlp(void)
{
    mlp_t t = {.R = 4, .D = 8, .Hm = 16};
    t.x = randn(32, 1), t.w1 = randn(128, 0.4), t.b1 = randn(16, 0.3), t.w2 = randn(128, 0.4), t.b2 = randn(8, 0.3);
    t.h = zeros(64), t.g = zeros(64), t.out = zeros(32), t.wo = randn(32, 1);
    mlp_eval(&t);
    float *dg = zeros(64), *dx = zeros(32), *dw1 = zeros(128), *db1 = zeros(16), *dw2 = zeros(128), *db2 = zeros(8);
    loaa_linear_backward(&G, dg, dw2, db2, t.wo, t.g, t.w2, t.R, t.Hm, t.D);
    loaa_gelu_backward(dg, dg, t.h, 64);
    loaa_linear_backward(&G, dx, dw1, db1, dg, t.x, t.w1, t.R, t.D, t.Hm);
    check_dir("mlp d input", t.x, dx, 32, mlp_eval, &t, 1e-2, 1e-3);
    check_dir("mlp d fc1.weight", t.w1, dw1, 128, mlp_eval, &t, 1e-2, 1e-3);
    check_dir("mlp d fc1.bias", t.b1, db1, 16, mlp_eval, &t, 1e-2, 1e-3);
    check_dir("mlp d fc2.weight", t.w2, dw2, 128, mlp_eval, &t, 1e-2, 1e-3);
    check_dir("mlp d fc2.bias", t.b2, db2, 8, mlp_eval, &t, 1e-2, 1e-3);
}

/* ---- attention ---- */
typedef struct {
    int B, N, D, H;
    float *qkv, *out, *att, *wo;
} att_t;

static double att_eval(void *c)
{
    att_t *t = c;
    loaa_attention_forward(&G, t->out, t->att, t->qkv, t->B, t->N, t->D, t->H);
    return dot(t->out, t->wo, (size_t)t->B * t->N * t->D);
}

static void test_attention(void)
{
    att_t t = {.B = 2, .N = 5, .D = 8, .H = 2};
    size_t nq = 2 * 5 * 24, no = 2 * 5 * 8;
    t.qkv = randn(nq, 1), t.out = zeros(no), t.att = zeros(2 * 2 * 25), t.wo = randn(no, 1);
    att_eval(&t);
    float *dqkv = zeros(nq), *scratch = zeros(2 * 2 * 25);
    loaa_attention_backward(&G, dqkv, scratch, t.wo, t.qkv, t.att, t.B, t.N, t.D, t.H);
    check_dir("attention d qkv", t.qkv, dqkv, nq, att_eval, &t, 1e-2, 2e-3);
    /* against a direct evaluation of one head of one sample */
    att_eval(&t);
    int b = 1, h = 1, hd = 4, n = 3;
    double sc[5], mx = -1e30, se = 0;
    for (int m = 0; m < 5; m++) {
        sc[m] = 0;
        for (int e = 0; e < hd; e++)
            sc[m] += t.qkv[(b * 5 + n) * 24 + h * hd + e] * t.qkv[(b * 5 + m) * 24 + 8 + h * hd + e];
        sc[m] /= 2.0;
        mx = fmax(mx, sc[m]);
    }
    for (int m = 0; m < 5; m++)
        se += exp(sc[m] - mx);
    double o = 0;
    for (int m = 0; m < 5; m++)
        o += exp(sc[m] - mx) / se * t.qkv[(b * 5 + m) * 24 + 16 + h * hd + 2];
    TAP_NEAR(t.out[(b * 5 + n) * 8 + h * hd + 2], o, 1e-5, "attention matches a direct evaluation");
}

/* ---- tap convolution (adapter down-projection) ---- */
typedef struct {
    loaa_taps taps;
    int B, S, Fp, Tp, r, D;
    float *u, *w, *bias, *z, *h, *wo;
} tap_t;

static int nrows(const tap_t *t)
{
    return t->B * (t->S + t->Fp * t->Tp);
}

static double tap_eval(void *c)
{
    tap_t *t = c;
    int R = nrows(t), kr = t->taps.k * t->r;
    loaa_gemm(&G, 0, 1, R, kr, t->D, 1.0f, t->u, t->D, t->w, t->D, 0.0f, t->z, kr);
    loaa_tapconv_gather(t->h, t->z, t->bias, &t->taps, t->B, t->S, t->Fp, t->Tp, t->r);
    return dot(t->h, t->wo, (size_t)R * t->r);
}

static void make_taps(loaa_taps *tp, const char *kind, int k)
{
    memset(tp, 0, sizeof *tp);
    if (!strcmp(kind, "convpass")) {
        tp->k = 9, tp->centre = 4;
        for (int j = 0; j < 9; j++)
            tp->df[j] = j / 3 - 1, tp->dt[j] = j % 3 - 1;
        return;
    }
    tp->k = k, tp->centre = k / 2;
    for (int j = 0; j < k; j++) {
        if (!strcmp(kind, "time"))
            tp->dt[j] = j - k / 2;
        else
            tp->df[j] = j - k / 2;
    }
}

static void test_tapconv(const char *kind, int k)
{
    tap_t t;
    memset(&t, 0, sizeof t);
    make_taps(&t.taps, kind, k);
    t.B = 2, t.S = 2, t.Fp = 3, t.Tp = 4, t.r = 3, t.D = 5;
    int N = t.S + t.Fp * t.Tp, R = nrows(&t), K = t.taps.k;
    t.u = randn((size_t)R * t.D, 1), t.w = randn((size_t)K * t.r * t.D, 0.5), t.bias = randn(t.r, 0.5);
    t.z = zeros((size_t)R * K * t.r), t.h = zeros((size_t)R * t.r), t.wo = randn((size_t)R * t.r, 1);
    tap_eval(&t);
    /* reference: the convolution written over explicit grid coordinates */
    double maxerr = 0;
    for (int b = 0; b < t.B; b++)
        for (int n = 0; n < N; n++)
            for (int o = 0; o < t.r; o++) {
                double acc = t.bias[o];
                for (int j = 0; j < K; j++) {
                    int src;
                    if (n < t.S) {
                        if (j != t.taps.centre)
                            continue; /* special tokens see only the centre tap */
                        src = n;
                    } else {
                        int f = (n - t.S) / t.Tp + t.taps.df[j], tt = (n - t.S) % t.Tp + t.taps.dt[j];
                        if (f < 0 || f >= t.Fp || tt < 0 || tt >= t.Tp)
                            continue; /* zero padding */
                        src = t.S + f * t.Tp + tt;
                    }
                    for (int c = 0; c < t.D; c++)
                        acc += (double)t.w[((size_t)j * t.r + o) * t.D + c] * t.u[((size_t)b * N + src) * t.D + c];
                }
                maxerr = fmax(maxerr, fabs(acc - t.h[((size_t)b * N + n) * t.r + o]));
            }
    TAP_OK(maxerr < 1e-5, "tapconv %s k=%d matches the direct convolution (max err %.2g)", kind, K, maxerr);
    float *dz = zeros((size_t)R * K * t.r), *du = zeros((size_t)R * t.D), *dw = zeros((size_t)K * t.r * t.D),
          *db = zeros(t.r);
    loaa_tapconv_scatter(dz, t.wo, &t.taps, t.B, t.S, t.Fp, t.Tp, t.r);
    for (int i = 0; i < R; i++)
        for (int o = 0; o < t.r; o++)
            db[o] += t.wo[i * t.r + o];
    loaa_gemm(&G, 1, 0, K * t.r, t.D, R, 1.0f, dz, K * t.r, t.u, t.D, 0.0f, dw, t.D);
    loaa_gemm(&G, 0, 0, R, t.D, K * t.r, 1.0f, dz, K * t.r, t.w, t.D, 0.0f, du, t.D);
    char what[64];
    snprintf(what, sizeof what, "tapconv %s k=%d d input", kind, K);
    check_dir(what, t.u, du, (size_t)R * t.D, tap_eval, &t, 1e-2, 1e-3);
    snprintf(what, sizeof what, "tapconv %s k=%d d weight", kind, K);
    check_dir(what, t.w, dw, (size_t)K * t.r * t.D, tap_eval, &t, 1e-2, 1e-3);
    snprintf(what, sizeof what, "tapconv %s k=%d d bias", kind, K);
    check_dir(what, t.bias, db, t.r, tap_eval, &t, 1e-2, 1e-3);
}

/* ---- losses ---- */
typedef struct {
    int B, C, bce;
    double smoothing;
    float *z, *y;
} loss_t;

static double loss_eval(void *c)
{
    loss_t *t = c;
    return t->bce ? loaa_loss_bce(NULL, t->z, t->y, t->B, t->C, t->smoothing)
                  : loaa_loss_ce(NULL, t->z, t->y, t->B, t->C, t->smoothing);
}

static void test_losses(void)
{
    for (int bce = 0; bce < 2; bce++) {
        loss_t t = {.B = 3, .C = 5, .bce = bce, .smoothing = 0.1};
        t.z = randn(15, 2), t.y = zeros(15);
        for (int b = 0; b < 3; b++) { /* mixed targets: 0.7 / 0.3 of two classes */
            t.y[b * 5 + b] = 0.7f;
            t.y[b * 5 + (b + 2) % 5] = 0.3f;
        }
        float *dz = zeros(15);
        if (bce)
            loaa_loss_bce(dz, t.z, t.y, 3, 5, 0.1);
        else
            loaa_loss_ce(dz, t.z, t.y, 3, 5, 0.1);
        check_dir(bce ? "bce d logits" : "ce d logits", t.z, dz, 15, loss_eval, &t, 1e-3, 1e-4);
    }
    float z[2] = {0, (float)log(3.0)}, y[2] = {0, 1};
    TAP_NEAR(loaa_loss_ce(NULL, z, y, 1, 2, 0), -log(0.75), 1e-6, "ce of softmax (1/4, 3/4) against class 1");
    TAP_NEAR(loaa_loss_ce(NULL, z, y, 1, 2, 0.2), -(0.1 * log(0.25) + 0.9 * log(0.75)), 1e-6,
             "ce with label smoothing 0.2");
    float zb[2] = {0, 2}, yb[2] = {1, 0};
    double want = (log(2.0) + log1p(exp(2.0))) / 2;
    TAP_NEAR(loaa_loss_bce(NULL, zb, yb, 1, 2, 0), want, 1e-6, "bce with logits, mean over elements");
    float big[2] = {200, -200}, yy[2] = {0, 1};
    TAP_OK(isfinite(loaa_loss_bce(NULL, big, yy, 1, 2, 0)) && isfinite(loaa_loss_ce(NULL, big, yy, 1, 2, 0)),
           "losses stay finite for logits of 200");
}

static void test_im2col(void)
{
    int B = 2, M = 24, T = 40, fs = 4, ts = 6, Fp = (M - 16) / fs + 1, Tp = (T - 16) / ts + 1;
    float *x = randn((size_t)B * M * T, 1), *col = zeros((size_t)B * Fp * Tp * 256);
    loaa_patch_im2col(col, x, B, M, T, fs, ts, Fp, Tp);
    int bad = 0;
    for (int b = 0; b < B; b++)
        for (int f = 0; f < Fp; f++)
            for (int t = 0; t < Tp; t++)
                for (int i = 0; i < 16; i++)
                    for (int j = 0; j < 16; j++)
                        bad += col[(((size_t)b * Fp + f) * Tp + t) * 256 + i * 16 + j] !=
                               x[((size_t)b * M + f * fs + i) * T + t * ts + j];
    TAP_OK(bad == 0 && Fp == 3 && Tp == 5, "im2col: patch (f,t) holds rows f*fstride+i, columns t*tstride+j");
}

static void test_adamw(void)
{
    float p = 1, g = 0.5f, m = 0, v = 0;
    loaa_adamw(&p, &g, &m, &v, 1, 0.1f, 0.9f, 0.999f, 1e-8f, 0.01f, 1, 1.0f);
    TAP_NEAR(p, 1 * (1 - 0.1 * 0.01) - 0.1 * 0.5 / (0.5 + 1e-8), 1e-6, "adamw step 1 (decoupled decay, bias correction)");
    TAP_NEAR(m, 0.05, 1e-7, "adamw first moment");
    TAP_NEAR(v, 0.00025, 1e-8, "adamw second moment");
    float p2 = 1, g2 = 4, m2 = 0, v2 = 0;
    loaa_adamw(&p2, &g2, &m2, &v2, 1, 0.1f, 0.9f, 0.999f, 1e-8f, 0, 1, 0.125f);
    TAP_NEAR(m2, 0.05, 1e-7, "adamw reads the gradient times the clipping scale");
}

/*
 * ---- bf16: every bf16 layer against its fp32 form on the same data ----
 *
 * Bounds. bf16 keeps 8 significant bits (7 stored): rounding to nearest has
 * relative error at most u = 2^-8 = 3.9e-3. A product whose two operands are
 * rounded is off by at most (1+u)^2 - 1 ~ 2u relatively, and the fp32
 * accumulation adds nothing at this scale; a bf16 output adds one more u.
 * The errors are compared normwise, ||y16 - y32|| / ||y32||, which for the
 * random data here stays well below the elementwise worst case, so each
 * bound below is the count of roundings on the path times u:
 *   - LayerNorm, GELU, product: output rounding only: u.
 *   - linear: two rounded operands (2u), +u for a bf16 output: 3u.
 *   - attention: q, k rounded (scores 2u, which softmax turns into an
 *     absolute error of 2u|s| <= 2u*max|s| on log P), P and v rounded (2u),
 *     output rounded (u); with scores of size ~3 here: 2u*3 + 3u = 9u, and
 *     backward passes through as many roundings again: 18u.
 */

#define U (1.0 / 256) /* bf16's unit roundoff 2^-8 */

static loaa_bf16 *to16(const float *x, size_t n)
{
    loaa_bf16 *p = track(malloc(n * sizeof(loaa_bf16)));
    loaa_to_bf16(p, x, n);
    return p;
}

static float *from16(const loaa_bf16 *x, size_t n)
{
    float *p = track(malloc(n * sizeof(float)));
    loaa_bf16_to_f32(p, x, n);
    return p;
}

static void check16(const char *what, const float *got, const float *want, size_t n, double bound)
{
    double e = tap_rel_norm_err(got, want, n);
    TAP_OK(e <= bound && e > 0, "%s: bf16 vs fp32 rel err %.2g <= %.2g (%.1fu)", what, e, bound, bound / U);
}

static void test_bf16_linear(void)
{
    int R = 37, I = 48, O = 40;
    float *x = randn((size_t)R * I, 1), *w = randn((size_t)O * I, 0.2), *b = randn(O, 0.5), *dy = randn((size_t)R * O, 1);
    loaa_bf16 *x16 = to16(x, (size_t)R * I), *w16 = to16(w, (size_t)O * I), *dy16 = to16(dy, (size_t)R * O);
    float *y = zeros((size_t)R * O), *y16 = zeros((size_t)R * O);
    loaa_linear_forward(&G, y, x, w, b, R, I, O);
    loaa_linear_forward_bf16(&G, y16, LOAA_F32, x16, w16, b, R, I, O);
    check16("linear forward, fp32 out", y16, y, (size_t)R * O, 2 * U);
    loaa_bf16 *yb = track(malloc((size_t)R * O * sizeof(loaa_bf16)));
    loaa_linear_forward_bf16(&G, yb, LOAA_BF16, x16, w16, b, R, I, O);
    float *yw = from16(yb, (size_t)R * O);
    check16("linear forward, bf16 out", yw, y, (size_t)R * O, 3 * U);
    float *dx = zeros((size_t)R * I), *dw = zeros((size_t)O * I), *db = zeros(O);
    float *dx16 = zeros((size_t)R * I), *dw16 = zeros((size_t)O * I), *db16 = zeros(O);
    loaa_linear_backward(&G, dx, dw, db, dy, x, w, R, I, O);
    loaa_linear_backward_bf16(&G, dx16, dw16, db16, dy16, dy, x16, w16, R, I, O);
    check16("linear d input", dx16, dx, (size_t)R * I, 2 * U);
    check16("linear d weight", dw16, dw, (size_t)O * I, 2 * U);
    TAP_OK(tap_rel_norm_err(db16, db, O) < 1e-6, "linear d bias sums the fp32 gradient (rel err %.2g)", tap_rel_norm_err(db16, db, O));
}

static void test_bf16_elementwise(void)
{
    int R = 19, D = 300; /* D above the 256-wide blocks of the bf16 forms */
    size_t n = (size_t)R * D;
    float *x = randn(n, 2), *w = randn(D, 1), *b = randn(D, 1);
    float *y = zeros(n), *mu = zeros(R), *rs = zeros(R), *mu16 = zeros(R), *rs16 = zeros(R);
    loaa_bf16 *y16 = track(malloc(n * sizeof(loaa_bf16)));
    loaa_layernorm_forward(y, mu, rs, x, w, b, R, D);
    loaa_layernorm_forward_bf16(y16, mu16, rs16, x, w, b, R, D);
    float *yw = from16(y16, n);
    check16("layernorm forward", yw, y, n, U);
    TAP_OK(!memcmp(mu, mu16, R * sizeof(float)) && !memcmp(rs, rs16, R * sizeof(float)),
           "layernorm statistics stay fp32 (identical)");
    float *g = zeros(n), *d = zeros(n), *d16 = zeros(n);
    loaa_bf16 *dd16 = track(malloc(n * sizeof(loaa_bf16)));
    loaa_gelu_forward_deriv(g, d, x, n);
    loaa_gelu_forward_bf16(y16, d16, dd16, x, n);
    yw = from16(y16, n);
    check16("gelu forward", yw, g, n, U);
    TAP_OK(!memcmp(d, d16, n * sizeof(float)), "gelu derivative in fp32 is the fp32 form's (identical)");
    float *ddw = from16(dd16, n);
    check16("gelu derivative in bf16", ddw, d, n, U);
    /* the product with a bf16 factor: that factor rounded (u), the bf16 output rounded again (u) */
    float *p = zeros(n), *p32 = zeros(n);
    loaa_mul(p, x, d, n);
    loaa_mul_bf16(y16, p32, x, dd16, n);
    yw = from16(y16, n);
    check16("product, bf16 out", yw, p, n, 2 * U);
    check16("product, fp32 out", p32, p, n, U);
}

static void test_bf16_attention(void)
{
    int B = 3, N = 21, D = 48, H = 3;
    size_t nq = (size_t)B * N * 3 * D, no = (size_t)B * N * D, na = (size_t)B * H * N * N;
    float *qkv = randn(nq, 1), *dy = randn(no, 1), *out = zeros(no), *att = zeros(na), *scr = zeros(na);
    float *dqkv = zeros(nq);
    loaa_attention_forward(&G, out, att, qkv, B, N, D, H);
    loaa_attention_backward(&G, dqkv, scr, dy, qkv, att, B, N, D, H);
    loaa_bf16 *q16 = to16(qkv, nq), *dy16 = to16(dy, no), *o16 = track(malloc(no * 2)), *a16 = track(malloc(na * 2));
    loaa_bf16 *dq16 = track(malloc(nq * 2)), *ds16 = track(malloc(na * 2));
    loaa_attention_forward_bf16(&G, o16, a16, scr, q16, B, N, D, H);
    float *ow = from16(o16, no), *aw = from16(a16, na);
    check16("attention probabilities", aw, att, na, 9 * U);
    check16("attention forward", ow, out, no, 9 * U);
    loaa_attention_backward_bf16(&G, dq16, scr, ds16, dy16, q16, a16, B, N, D, H);
    float *dqw = from16(dq16, nq);
    check16("attention d qkv", dqw, dqkv, nq, 18 * U);
}

static void test_bf16_im2col(void)
{
    int B = 2, M = 40, T = 50, fs = 10, ts = 12, Fp = (M - 16) / fs + 1, Tp = (T - 16) / ts + 1;
    size_t n = (size_t)B * Fp * Tp * 256;
    float *x = randn((size_t)B * M * T, 1), *col = zeros(n);
    loaa_bf16 *c16 = track(malloc(n * 2)), *want = track(malloc(n * 2));
    loaa_patch_im2col(col, x, B, M, T, fs, ts, Fp, Tp);
    loaa_patch_im2col_bf16(c16, x, B, M, T, fs, ts, Fp, Tp);
    loaa_to_bf16(want, col, n);
    TAP_OK(!memcmp(c16, want, n * 2), "im2col in bf16 is the rounded fp32 im2col");
}

int main(void)
{
    loaa_rng_seed(&rng, 42);
    loaa_gemm_ctx_init(&G);
    test_linear();
    test_layernorm();
    test_gelu();
    test_mlp();
    test_attention();
    for (int k = 1; k <= 5; k += 2) {
        test_tapconv("time", k);
        test_tapconv("freq", k);
    }
    test_tapconv("convpass", 9);
    test_losses();
    test_im2col();
    test_adamw();
    test_bf16_linear();
    test_bf16_elementwise();
    test_bf16_attention();
    test_bf16_im2col();
    release_all();
    return tap_done();
}
