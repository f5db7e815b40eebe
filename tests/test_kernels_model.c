/*
 * test_kernels_model.c - the model as a whole: a finite-difference check of
 * every trainable tensor for every method (linear, full, adapter, lora,
 * loaa-time/freq with k = 1, 3, 5, loaa-tf, convpass; CLS+DIST tokens,
 * mean pooling, placement and blocks, both losses), LoAA k=1 = the parallel
 * adapter, step 0 = the frozen model, trainable counts, bad input, NaN
 * handling and the noop method. Tiny sizes: dim 32, depth 2, 32x48 input.
 */
#include "config.h"

#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/config.h"
#include "common/rng.h"
#include "kernels/layers.h"
#include "kernels/model.h"
#include "tests/tap.h"
#include "worker/spec.h"

#define NMEL 32
#define NFR 48
#define NCLS 5
#define BATCH 3

static loaa_rng rng;

static loaa_config make_cfg(loaa_method method, int kernel)
{
    loaa_config c;
    loaa_config_defaults(&c);
    strcpy(c.dataset, "synthetic");
    strcpy(c.model, "custom");
    c.dim = 32, c.depth = 2, c.heads = 2, c.mlp_ratio = 2;
    c.fstride = 8, c.tstride = 8; /* grid 3 x 5 */
    c.method = method;
    c.kernel = kernel;
    c.bottleneck = 4;
    c.scale = 0.5;
    c.weight_decay = 0.01;
    loaa_status st = loaa_config_validate(&c);
    if (st)
        printf("# config: %s\n", loaa_error_detail());
    return c;
}

static loaa_model_shape make_shape(int dist)
{
    loaa_model_shape s = {.n_mel = NMEL, .n_frames = NFR, .n_classes = NCLS, .max_batch = BATCH, .dist_token = dist};
    return s;
}

static void fill(float *p, size_t n, double sd)
{
    for (size_t i = 0; i < n; i++)
        p[i] = (float)(sd * loaa_rng_normal(&rng));
}

static size_t numel(const loaa_tensor_ref *t)
{
    size_t n = 1;
    for (int d = 0; d < t->ndim; d++)
        n *= (size_t)t->shape[d];
    return n;
}

/* Zero-initialised up-projections (and LoRA B) get random values, so every adapter tensor has a gradient. */
static void wake_adapters(loaa_model *m)
{
    size_t n;
    const loaa_tensor_ref *t = loaa_model_tensors(m, &n);
    for (size_t i = 0; i < n; i++)
        if (strstr(t[i].name, ".up.") || strstr(t[i].name, ".b.weight"))
            fill(t[i].data, numel(&t[i]), 0.2);
}

static void batch(float *x, float *y, int B)
{
    fill(x, (size_t)B * NMEL * NFR, 1.0);
    memset(y, 0, (size_t)B * NCLS * sizeof(float));
    for (int b = 0; b < B; b++) {
        y[b * NCLS + b % NCLS] = 0.6f;
        y[b * NCLS + (b + 1) % NCLS] = 0.4f;
    }
}

/* The loss in double from the logits: the float loss of evaluate would quantise the differences. */
static double loss_of(loaa_model *m, const loaa_config *c, const float *x, const float *y)
{
    float logits[BATCH * NCLS];
    loaa_model_predict(m, x, BATCH, logits);
    if (c->loss == LOAA_LOSS_BCE)
        return loaa_loss_bce(NULL, logits, y, BATCH, NCLS, c->label_smoothing);
    return loaa_loss_ce(NULL, logits, y, BATCH, NCLS, c->label_smoothing);
}

static double dotf(const float *a, const float *b, size_t n)
{
    double s = 0;
    for (size_t i = 0; i < n; i++)
        s += (double)a[i] * b[i];
    return s;
}

/* Directional finite differences of the loss for every trainable tensor; returns the number that failed. */
static int grad_check(const char *label, loaa_config cfg, int dist)
{
    loaa_model_shape sh = make_shape(dist);
    loaa_model *m;
    loaa_status st = loaa_spec_create_model(&m, &cfg, &sh);
    if (!TAP_OK(st == LOAA_OK, "%s: create (%s)", label, loaa_error_detail()))
        return 1;
    loaa_model_init(m, 7);
    wake_adapters(m);
    float x[BATCH * NMEL * NFR], y[BATCH * NCLS], loss;
    double lp, lm;
    batch(x, y, BATCH);
    st = loaa_model_gradients(m, x, y, BATCH, &loss);
    size_t n;
    const loaa_tensor_ref *t = loaa_model_tensors(m, &n);
    int bad = 0, checked = 0;
    double worst = 0;
    for (size_t i = 0; i < n; i++) {
        if (!t[i].trainable)
            continue;
        size_t k = numel(&t[i]);
        float *d = malloc(k * sizeof(float)), *p0 = malloc(k * sizeof(float));
        fill(d, k, 1.0);
        memcpy(p0, t[i].data, k * sizeof(float));
        double rms = sqrt(dotf(p0, p0, k) / k);
        /* 1% of the tensor scale: the residual stream of a 0.02-init ViT is small, and LayerNorm makes it curved */
        double eps = 1e-2 * (rms > 0.02 ? rms : 0.02);
        for (size_t j = 0; j < k; j++)
            t[i].data[j] = p0[j] + (float)(eps * d[j]);
        lp = loss_of(m, &cfg, x, y);
        for (size_t j = 0; j < k; j++)
            t[i].data[j] = p0[j] - (float)(eps * d[j]);
        lm = loss_of(m, &cfg, x, y);
        memcpy(t[i].data, p0, k * sizeof(float));
        double num = (lp - lm) / (2 * eps), ana = dotf(t[i].grad, d, k);
        /* float forward passes leave ~1e-6 of noise in the difference quotient: below 3e-4 the
         * comparison is absolute (6e-6), above it relative (2%) */
        double floor = 0.1 * sqrt(dotf(t[i].grad, t[i].grad, k)) + 3e-4;
        double err = fabs(num - ana) / fmax(floor, fmax(fabs(num), fabs(ana)));
        if (err > worst)
            worst = err;
        if (err > 2e-2) {
            bad++;
            printf("# %s %s: analytic %.6g numeric %.6g (rel err %.2g)\n", label, t[i].name, ana, num, err);
        }
        checked++;
        free(d);
        free(p0);
    }
    TAP_OK(st == LOAA_OK && bad == 0 && checked > 0, "%s: gradients of %d trainable tensors match finite differences "
           "(worst rel err %.2g)", label, checked, worst);
    loaa_model_free(m);
    return bad;
}

static void test_gradients(void)
{
    grad_check("linear", make_cfg(LOAA_METHOD_LINEAR, 3), 1);
    grad_check("full", make_cfg(LOAA_METHOD_FULL, 3), 1);
    grad_check("adapter", make_cfg(LOAA_METHOD_ADAPTER, 3), 1);
    grad_check("lora", make_cfg(LOAA_METHOD_LORA, 3), 1);
    for (int k = 1; k <= 5; k += 2) {
        char label[64];
        snprintf(label, sizeof label, "loaa-time k=%d", k);
        grad_check(label, make_cfg(LOAA_METHOD_LOAA_TIME, k), 1);
        snprintf(label, sizeof label, "loaa-freq k=%d", k);
        grad_check(label, make_cfg(LOAA_METHOD_LOAA_FREQ, k), 1);
    }
    grad_check("loaa-tf k=3", make_cfg(LOAA_METHOD_LOAA_TF, 3), 1);
    grad_check("convpass", make_cfg(LOAA_METHOD_CONVPASS, 3), 1);
    loaa_config c = make_cfg(LOAA_METHOD_LOAA_TF, 5);
    c.pool = LOAA_POOL_MEAN;
    grad_check("loaa-tf, mean pool, CLS only", c, 0);
    c = make_cfg(LOAA_METHOD_LOAA_FREQ, 3);
    c.placement = LOAA_PLACE_MLP;
    c.blocks = 1;
    grad_check("loaa-freq, mlp placement, last block", c, 1);
    c = make_cfg(LOAA_METHOD_LORA, 3);
    c.blocks = 1;
    c.lora_alpha = 8;
    grad_check("lora, last block, alpha 8", c, 0);
    c = make_cfg(LOAA_METHOD_ADAPTER, 3);
    c.loss = LOAA_LOSS_BCE;
    c.label_smoothing = 0.1;
    grad_check("adapter, bce, smoothing 0.1", c, 1);
    c = make_cfg(LOAA_METHOD_FULL, 3);
    c.label_smoothing = 0.1;
    c.pool = LOAA_POOL_MEAN;
    grad_check("full, ce smoothing 0.1, mean pool", c, 0);
}

static loaa_model *build(loaa_config cfg, int dist, uint64_t seed)
{
    loaa_model_shape sh = make_shape(dist);
    loaa_model *m = NULL;
    if (loaa_spec_create_model(&m, &cfg, &sh)) {
        printf("# create: %s\n", loaa_error_detail());
        return NULL;
    }
    loaa_model_init(m, seed);
    return m;
}

static const loaa_tensor_ref *find(loaa_model *m, const char *name)
{
    size_t n;
    const loaa_tensor_ref *t = loaa_model_tensors(m, &n);
    for (size_t i = 0; i < n; i++)
        if (!strcmp(t[i].name, name))
            return &t[i];
    return NULL;
}

static double max_diff(const float *a, const float *b, size_t n)
{
    double d = 0;
    for (size_t i = 0; i < n; i++)
        d = fmax(d, fabs((double)a[i] - b[i]));
    return d;
}

static void test_k1_equals_adapter(void)
{
    loaa_model *a = build(make_cfg(LOAA_METHOD_ADAPTER, 1), 1, 3);
    loaa_model *t = build(make_cfg(LOAA_METHOD_LOAA_TIME, 1), 1, 3);
    loaa_model *f = build(make_cfg(LOAA_METHOD_LOAA_FREQ, 1), 1, 3);
    wake_adapters(a);
    size_t n;
    const loaa_tensor_ref *ta = loaa_model_tensors(a, &n);
    for (size_t i = 0; i < n; i++) { /* same names, same element count: copy the adapter's weights over */
        const loaa_tensor_ref *tt = find(t, ta[i].name), *tf = find(f, ta[i].name);
        if (tt && tf && numel(tt) == numel(&ta[i])) {
            memcpy(tt->data, ta[i].data, numel(tt) * sizeof(float));
            memcpy(tf->data, ta[i].data, numel(tf) * sizeof(float));
        }
    }
    float x[BATCH * NMEL * NFR], y[BATCH * NCLS], la[BATCH * NCLS], lt[BATCH * NCLS], lf[BATCH * NCLS];
    batch(x, y, BATCH);
    loaa_model_predict(a, x, BATCH, la);
    loaa_model_predict(t, x, BATCH, lt);
    loaa_model_predict(f, x, BATCH, lf);
    TAP_OK(max_diff(la, lt, BATCH * NCLS) < 1e-6 && max_diff(la, lf, BATCH * NCLS) < 1e-6,
           "loaa-time and loaa-freq with k=1 equal the parallel adapter with the same weights");
    TAP_OK(max_diff(la, lt, BATCH * NCLS) == 0 || 1, "(max diff %.3g)", max_diff(la, lt, BATCH * NCLS));
    loaa_model_free(a);
    loaa_model_free(t);
    loaa_model_free(f);
}

static void test_step0_frozen(void)
{
    loaa_model *ref = build(make_cfg(LOAA_METHOD_LINEAR, 3), 1, 11);
    float x[BATCH * NMEL * NFR], y[BATCH * NCLS], l0[BATCH * NCLS], l1[BATCH * NCLS];
    batch(x, y, BATCH);
    loaa_model_predict(ref, x, BATCH, l0);
    loaa_method ms[] = {LOAA_METHOD_FULL, LOAA_METHOD_ADAPTER, LOAA_METHOD_LORA, LOAA_METHOD_LOAA_TIME,
                        LOAA_METHOD_LOAA_FREQ, LOAA_METHOD_LOAA_TF, LOAA_METHOD_CONVPASS};
    for (size_t i = 0; i < sizeof ms / sizeof ms[0]; i++) {
        loaa_model *m = build(make_cfg(ms[i], 3), 1, 11);
        loaa_model_predict(m, x, BATCH, l1);
        TAP_OK(max_diff(l0, l1, BATCH * NCLS) == 0, "%s at step 0 gives the frozen model's logits (max diff %.3g)",
               loaa_method_name(ms[i]), max_diff(l0, l1, BATCH * NCLS));
        loaa_model_free(m);
    }
    loaa_model_free(ref);
}

static void test_counts(void)
{
    loaa_model *lin = build(make_cfg(LOAA_METHOD_LINEAR, 3), 0, 1);
    loaa_model *full = build(make_cfg(LOAA_METHOD_FULL, 3), 0, 1);
    loaa_model *tf = build(make_cfg(LOAA_METHOD_LOAA_TF, 3), 0, 1);
    loaa_model *lora = build(make_cfg(LOAA_METHOD_LORA, 3), 0, 1);
    int D = 32, r = 4, C = NCLS;
    TAP_OK(loaa_model_trainable_params(lin) == (size_t)(2 * D + C * D + C), "linear trains the final norm and head");
    TAP_OK(loaa_model_trainable_params(full) == loaa_model_total_params(full), "full trains everything");
    TAP_OK(loaa_model_total_params(lin) == loaa_model_total_params(full), "linear and full have the same parameters");
    size_t ad = 2 * 2 * (3 * r * D + r + D * r + D); /* 2 blocks x 2 branches, k=3 down, up */
    TAP_OK(loaa_model_trainable_params(tf) == (size_t)(2 * D + C * D + C) + ad &&
               loaa_model_total_params(tf) == loaa_model_total_params(lin) + ad,
           "loaa-tf trains its adapters, the final norm and head (%zu of %zu)", loaa_model_trainable_params(tf),
           loaa_model_total_params(tf));
    TAP_OK(loaa_model_trainable_params(lora) == (size_t)(2 * D + C * D + C) + 2 * 2 * 2 * r * D,
           "lora trains A and B on W_q and W_v (%zu)", loaa_model_trainable_params(lora));
    const loaa_tensor_ref *q = find(full, "blocks.1.attn.qkv.weight");
    TAP_OK(q && q->ndim == 2 && q->shape[0] == 3 * D && q->shape[1] == D && q->grad, "timm names and shapes");
    const loaa_tensor_ref *q2 = find(tf, "blocks.1.attn.qkv.weight");
    TAP_OK(q2 && !q2->trainable && !q2->grad, "frozen tensors have no gradient");
    TAP_OK(find(tf, "blocks.0.adapter_attn.down.weight") && find(tf, "blocks.1.adapter_mlp.up.bias"),
           "adapters are named blocks.N.adapter_{attn,mlp}.{down,up}.{weight,bias}");
    loaa_optim_state os = loaa_model_optim_state(tf);
    TAP_OK(os.count == loaa_model_trainable_params(tf) && os.m && os.v && os.step == 0, "optimiser state exposed");
    loaa_model_free(lin);
    loaa_model_free(full);
    loaa_model_free(tf);
    loaa_model_free(lora);
}

static void expect_fail(loaa_config c, loaa_model_shape sh, loaa_status want, const char *word, const char *what)
{
    loaa_model *m = NULL;
    loaa_status st = loaa_spec_create_model(&m, &c, &sh);
    TAP_OK(st == want && m == NULL && strstr(loaa_error_detail(), word), "%s is refused: %s", what,
           loaa_error_detail());
    loaa_model_free(m);
}

static void test_bad_input(void)
{
    loaa_model_shape sh = make_shape(0);
    loaa_model_shape small = sh;
    small.n_mel = 8;
    expect_fail(make_cfg(LOAA_METHOD_LOAA_TF, 3), small, LOAA_ERR_SHAPE, "n_mel", "a patch taller than the input");
    small = sh;
    small.n_frames = 10;
    expect_fail(make_cfg(LOAA_METHOD_LOAA_TF, 3), small, LOAA_ERR_SHAPE, "n_frames", "a patch wider than the input");
    loaa_config c = make_cfg(LOAA_METHOD_LOAA_TF, 3);
    c.heads = 3;
    expect_fail(c, sh, LOAA_ERR_CONFIG, "heads", "heads not dividing dim");
    c = make_cfg(LOAA_METHOD_LOAA_TF, 3);
    c.bottleneck = 0;
    expect_fail(c, sh, LOAA_ERR_CONFIG, "bottleneck", "r = 0");
    c = make_cfg(LOAA_METHOD_LOAA_TIME, 3);
    c.kernel = 4;
    expect_fail(c, sh, LOAA_ERR_CONFIG, "kernel", "an even kernel");
    c = make_cfg(LOAA_METHOD_LOAA_TF, 3);
    c.blocks = 5;
    expect_fail(c, sh, LOAA_ERR_CONFIG, "blocks", "blocks beyond the depth");
    small = sh;
    small.n_classes = 0;
    expect_fail(make_cfg(LOAA_METHOD_LINEAR, 3), small, LOAA_ERR_SHAPE, "n_classes", "zero classes");
    /* issue 18 #16: B*H*N*N = 2^31 x 8 x 43506^2 wraps size_t; refused with the sizes, nothing allocated */
    c = make_cfg(LOAA_METHOD_LOAA_TF, 3);
    c.dim = 64, c.heads = 8, c.depth = 1, c.fstride = 1, c.tstride = 1;
    small = sh;
    small.n_mel = 128, small.n_frames = 400, small.max_batch = INT_MAX;
    expect_fail(c, small, LOAA_ERR_LIMIT, "B*H*N*N", "an activation table past size_t (batch 2^31-1, 43506 tokens, 8 heads)");

    loaa_model *m = build(make_cfg(LOAA_METHOD_LOAA_TF, 3), 0, 5);
    float x[BATCH * NMEL * NFR], y[BATCH * NCLS], loss;
    batch(x, y, BATCH);
    float big[(BATCH + 1) * NMEL * NFR];
    memset(big, 0, sizeof big);
    loaa_status st = loaa_model_train_step(m, big, y, BATCH + 1, 1e-3, &loss);
    TAP_OK(st == LOAA_ERR_SHAPE && strstr(loaa_error_detail(), "max_batch"), "a batch above max_batch is refused");
    /* NaN in, NaN loss: refused with the step, parameters untouched */
    TAP_OK(loaa_model_train_step(m, x, y, BATCH, 1e-3, &loss) == LOAA_OK, "a normal step");
    size_t n;
    const loaa_tensor_ref *t = loaa_model_tensors(m, &n);
    size_t total = loaa_model_total_params(m);
    float *before = malloc(total * sizeof(float));
    float *p = t[0].data; /* the parameter allocation is one block, starting at the first tensor */
    memcpy(before, p, total * sizeof(float));
    x[5] = NAN;
    st = loaa_model_train_step(m, x, y, BATCH, 1e-3, &loss);
    TAP_OK(st == LOAA_ERR_NUMERIC && strstr(loaa_error_detail(), "step 1"), "a NaN loss is refused naming the step: %s",
           loaa_error_detail());
    TAP_OK(memcmp(before, p, total * sizeof(float)) == 0, "parameters untouched after a NaN loss");
    TAP_OK(loaa_model_optim_state(m).step == 1, "the step count does not advance");
    free(before);
    loaa_model_free(m);
}

static void test_evaluate_and_blocks(void)
{
    loaa_config c = make_cfg(LOAA_METHOD_LOAA_TF, 3);
    loaa_model *m = build(c, 1, 21);
    wake_adapters(m);
    float x[BATCH * NMEL * NFR], y[BATCH * NCLS], l1[BATCH * NCLS], l2[BATCH * NCLS], le, lg;
    batch(x, y, BATCH);
    loaa_model_predict(m, x, BATCH, l1);
    loaa_model_evaluate(m, x, y, BATCH, l2, &le);
    loaa_model_gradients(m, x, y, BATCH, &lg);
    TAP_OK(memcmp(l1, l2, sizeof l1) == 0 && le == lg, "predict, evaluate and the training forward agree (loss %.6f)", le);
    loaa_model_free(m);
    c.blocks = 1;
    m = build(c, 1, 21);
    TAP_OK(!find(m, "blocks.0.adapter_attn.down.weight") && find(m, "blocks.1.adapter_attn.down.weight") &&
               find(m, "blocks.1.adapter_mlp.down.weight"),
           "blocks 1: adapters in the last block only");
    loaa_model_free(m);
    c.blocks = 0;
    c.placement = LOAA_PLACE_MHSA;
    m = build(c, 1, 21);
    TAP_OK(find(m, "blocks.0.adapter_attn.up.weight") && !find(m, "blocks.0.adapter_mlp.up.weight"),
           "placement mhsa: no adapters beside the MLP");
    const loaa_tensor_ref *dw = find(m, "blocks.0.adapter_attn.down.weight");
    TAP_OK(dw && dw->ndim == 3 && dw->shape[0] == 3 && dw->shape[1] == 4 && dw->shape[2] == 32,
           "a LoAA down weight is (k, r, D)");
    loaa_model_free(m);
}

static void test_noop(void)
{
    loaa_config c = make_cfg(LOAA_METHOD_NOOP, 3);
    loaa_model_shape sh = make_shape(0);
    loaa_model *m;
    TAP_OK(loaa_spec_create_model(&m, &c, &sh) == LOAA_OK, "noop: create");
    float x[1] = {0}, y[NCLS] = {1}, loss = -1, logits[NCLS];
    TAP_OK(loaa_model_init(m, 1) == LOAA_OK && loaa_model_train_step(m, x, y, 1, 1e-3, &loss) == LOAA_OK &&
               fabsf(loss - logf(NCLS)) < 1e-6,
           "noop: train_step returns the fixed loss log(C) without computing");
    TAP_OK(loaa_model_predict(m, x, 1, logits) == LOAA_OK && logits[0] == 0, "noop: predict gives zero logits");
    size_t n;
    loaa_model_tensors(m, &n);
    TAP_OK(n == 0 && loaa_model_trainable_params(m) == 0, "noop: no tensors");
    loaa_model_free(m);
}

static void test_step_moves(void)
{
    /* one AdamW step moves every trainable parameter with a gradient by about lr, frozen ones not at all */
    loaa_model *m = build(make_cfg(LOAA_METHOD_LOAA_TF, 3), 0, 9);
    size_t n;
    const loaa_tensor_ref *t = loaa_model_tensors(m, &n);
    const loaa_tensor_ref *up = find(m, "blocks.1.adapter_mlp.up.weight"), *qkv = find(m, "blocks.1.attn.qkv.weight");
    float qkv0 = qkv->data[3];
    float x[BATCH * NMEL * NFR], y[BATCH * NCLS], loss;
    batch(x, y, BATCH);
    loaa_model_train_step(m, x, y, BATCH, 1e-3, &loss);
    double mx = 0;
    for (size_t i = 0; i < numel(up); i++)
        mx = fmax(mx, fabs(up->data[i]));
    TAP_OK(mx > 0.5e-3 && mx < 1.5e-3, "one step moves a zero-initialised up-projection by about lr (%.3g)", mx);
    TAP_OK(qkv->data[3] == qkv0, "frozen weights stay");
    (void)t;
    (void)n;
    loaa_model_free(m);
}

/*
 * precision bf16 against fp32 on the same weights and batch: the loss and
 * every trainable tensor's gradient. Bound: with u = 2^-8 (bf16's unit
 * roundoff) a layer's bf16 form is within a few u of its fp32 form
 * (test_kernels_layers states each); the gradient of this 2-block model
 * passes through about 12 such layers forward and back, and their errors
 * add at most linearly: 12 x 3u = 36u = 0.14 normwise for a gradient,
 * and the loss (one forward, rounded errors averaging over the batch) 3u.
 */
static void bf16_case(const char *label, loaa_config cfg)
{
    loaa_model *f = build(cfg, 0, 5);
    cfg.precision = LOAA_PRECISION_BF16;
    loaa_model *h = build(cfg, 0, 5);
    if (!f || !h) {
        TAP_OK(0, "%s: bf16 and fp32 models created", label);
        return;
    }
    wake_adapters(f);
    size_t n;
    const loaa_tensor_ref *tf = loaa_model_tensors(f, &n), *th = loaa_model_tensors(h, &n);
    for (size_t i = 0; i < n; i++)
        memcpy(th[i].data, tf[i].data, numel(&tf[i]) * sizeof(float));
    loaa_model_weights_changed(h);
    float x[BATCH * NMEL * NFR], y[BATCH * NCLS], lf, lh;
    batch(x, y, BATCH);
    loaa_model_gradients(f, x, y, BATCH, &lf);
    loaa_model_gradients(h, x, y, BATCH, &lh);
    double worst = 0, u = 1.0 / 256;
    const char *worst_name = "";
    for (size_t i = 0; i < n; i++) {
        if (!tf[i].trainable)
            continue;
        double e = tap_rel_norm_err(th[i].grad, tf[i].grad, numel(&tf[i]));
        if (e > worst)
            worst = e, worst_name = tf[i].name;
    }
    TAP_OK(fabs(lh - lf) <= 3 * u * fabs(lf), "%s: bf16 loss %.6f vs fp32 %.6f (rel %.2g <= 3u)", label, lh, lf,
           fabs(lh - lf) / fabs(lf));
    TAP_OK(worst > 0 && worst <= 36 * u, "%s: bf16 gradients within 36u = %.2g of fp32 (worst %.2g, %s)", label, 36 * u,
           worst, worst_name);
    loaa_model_free(f);
    loaa_model_free(h);
}

static void test_bf16(void)
{
    bf16_case("loaa-tf k=3", make_cfg(LOAA_METHOD_LOAA_TF, 3));
    bf16_case("lora", make_cfg(LOAA_METHOD_LORA, 3));
    bf16_case("full", make_cfg(LOAA_METHOD_FULL, 3));
    bf16_case("adapter", make_cfg(LOAA_METHOD_ADAPTER, 1));
    bf16_case("convpass", make_cfg(LOAA_METHOD_CONVPASS, 3));
    bf16_case("linear", make_cfg(LOAA_METHOD_LINEAR, 3));
    /* training steps: the trainable weights' bf16 copies follow AdamW; no oneDNN primitive after the first step */
    loaa_config c = make_cfg(LOAA_METHOD_LOAA_TF, 3);
    c.precision = LOAA_PRECISION_BF16;
    loaa_model *m = build(c, 0, 5);
    float x[BATCH * NMEL * NFR], y[BATCH * NCLS], l0 = 0, l = 0, l1 = 0;
    batch(x, y, BATCH);
    loaa_model_train_step(m, x, y, BATCH, 3e-3, &l0);
    unsigned long created = loaa_gemm_primitives_created();
    for (int s = 0; s < 20; s++)
        loaa_model_train_step(m, x, y, BATCH, 3e-3, &l);
    loaa_model_evaluate(m, x, y, BATCH, NULL, &l1);
    TAP_OK(loaa_gemm_primitives_created() == created, "bf16: no oneDNN primitive created after the first step (%lu)",
           created);
    TAP_OK(l1 < 0.7 * l0, "bf16: 20 steps lower the loss (%.4f -> %.4f): the bf16 copies follow the updates", l0, l1);
    loaa_model_free(m);
}

/* The config -> spec translation (worker/spec.c) and what only the spec can say. */
static void test_spec(void)
{
    loaa_config c = make_cfg(LOAA_METHOD_LORA, 3);
    c.lora_alpha = 8;
    c.weight_decay = 0.05;
    loaa_model_spec s = loaa_spec_model_from_config(&c);
    TAP_OK(s.dim == c.dim && s.depth == c.depth && s.heads == c.heads && s.method == LOAA_METHOD_LORA && s.bottleneck == c.bottleneck &&
               s.lora_alpha == 8 && s.weight_decay == 0.05 && s.clip == 1.0 && s.precision == 0,
           "the model spec carries the config's keys, clipping at 1.0, fp32");
    loaa_model *m = NULL;
    loaa_model_shape sh = make_shape(0);
    s.precision = 7; /* neither fp32 nor bf16 (bf16 is built now) */
    loaa_status st = loaa_model_create(&m, &s, &sh);
    TAP_OK(st == LOAA_ERR_CONFIG && !m && strstr(loaa_error_detail(), "precision"), "an unknown precision is refused: %s",
           loaa_error_detail());
    s.precision = 0;
    st = loaa_model_create(&m, &s, &sh);
    TAP_OK(st == LOAA_OK && loaa_model_get_spec(m)->lora_alpha == 8, "the model keeps its spec");
    loaa_model_free(m);
    loaa_error_clear();
}

/* The one rule that splits a batch among a group's ranks. */
static void test_batch_share(void)
{
    int ok = 1;
    for (int g = 1; g <= 5; g++) {
        for (int b = 0; b <= 11; b++) {
            int next = 0;
            for (int r = 0; r < g; r++) {
                int first, count;
                loaa_model_batch_share(b, r, g, &first, &count);
                ok = ok && first == next && count == b / g + (r < b % g);
                next = first + count;
            }
            ok = ok && next == b;
        }
    }
    TAP_OK(ok, "batch share: contiguous blocks covering the batch, the first batch %% g ranks one more");
    int first, count;
    loaa_model_batch_share(7, 1, 3, &first, &count);
    TAP_OK(first == 3 && count == 2, "7 samples on 3 ranks: rank 1 has [3, 5)");
}

int main(void)
{
    loaa_rng_seed(&rng, 2024);
    test_spec();
    test_batch_share();
    test_gradients();
    test_k1_equals_adapter();
    test_step0_frozen();
    test_counts();
    test_bad_input();
    test_evaluate_and_blocks();
    test_noop();
    test_step_moves();
    test_bf16();
    return tap_done();
}
