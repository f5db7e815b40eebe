/*
 * test_kernels_train.c - end to end: vit-micro with loaa-tf drives the
 * training loss near zero on a fixed batch of 16 synthetic spectrograms,
 * and does so bit for bit the same way twice from the same seed.
 */
#include "config.h"

#include <math.h>
#include <string.h>

#include "common/config.h"
#include "common/rng.h"
#include "kernels/gemm.h"
#include "kernels/model.h"
#include "tests/tap.h"
#include "worker/spec.h"

#define B 16
#define M 32
#define T 48
#define C 4
#define STEPS 60

/* Class c: a band of energy around mel bin 6c+4 sweeping in time at a class-specific rate, plus noise. */
static void make_batch(float *x, float *y)
{
    loaa_rng rng;
    loaa_rng_seed(&rng, 99);
    memset(y, 0, sizeof(float) * B * C);
    for (int b = 0; b < B; b++) {
        int c = b % C;
        y[b * C + c] = 1;
        for (int f = 0; f < M; f++)
            for (int t = 0; t < T; t++) {
                double centre = 6 * c + 4 + (c % 2 ? 0.1 : -0.1) * t;
                double v = exp(-0.5 * (f - centre) * (f - centre) / 4.0);
                x[((size_t)b * M + f) * T + t] = (float)(2 * v + 0.3 * loaa_rng_normal(&rng));
            }
    }
}

static int train(float *losses, float *final_logits)
{
    loaa_config cfg;
    loaa_config_defaults(&cfg);
    strcpy(cfg.dataset, "synthetic");
    strcpy(cfg.model, "vit-micro");
    cfg.method = LOAA_METHOD_LOAA_TF;
    cfg.bottleneck = 16;
    cfg.fstride = cfg.tstride = 8;
    cfg.scale = 1.0;
    if (loaa_config_validate(&cfg))
        return 0;
    loaa_model_shape sh = {.n_mel = M, .n_frames = T, .n_classes = C, .max_batch = B};
    loaa_model *m;
    if (loaa_spec_create_model(&m, &cfg, &sh))
        return 0;
    loaa_model_init(m, 1234);
    static float x[B * M * T];
    float y[B * C];
    make_batch(x, y);
    int ok = 1;
    for (int s = 0; s < STEPS && ok; s++)
        ok = loaa_model_train_step(m, x, y, B, 3e-3, &losses[s]) == LOAA_OK;
    ok = ok && loaa_model_predict(m, x, B, final_logits) == LOAA_OK;
    loaa_model_free(m);
    return ok;
}

int main(void)
{
    float l1[STEPS], l2[STEPS], z1[B * C], z2[B * C];
    int ok1 = train(l1, z1), ok2 = train(l2, z2);
    TAP_OK(ok1 && ok2, "two training runs of %d steps", STEPS);
    TAP_DIAG("loss: step 0 %.4f, step 20 %.4f, step 40 %.4f, last %.5f", l1[0], l1[20], l1[40], l1[STEPS - 1]);
    TAP_OK(l1[0] > 1.0, "the first loss is near log(4) (%.3f)", l1[0]);
    TAP_OK(l1[STEPS - 1] < 0.05, "the loss is driven near zero (%.5f)", l1[STEPS - 1]);
    int correct = 0;
    for (int b = 0; b < B; b++) {
        int arg = 0;
        for (int c = 1; c < C; c++)
            arg = z1[b * C + c] > z1[b * C + arg] ? c : arg;
        correct += arg == b % C;
    }
    TAP_OK(correct == B, "every training sample is classified right (%d/%d)", correct, B);
    TAP_OK(memcmp(l1, l2, sizeof l1) == 0 && memcmp(z1, z2, sizeof z1) == 0,
           "the same seed gives bit-identical losses and logits");
    /* the thread pool splits rows, never a sum: more threads, the same bits */
    int threads = loaa_kernels_threads();
    loaa_kernels_set_threads(2);
    float l3[STEPS], z3[B * C];
    int ok3 = train(l3, z3);
    loaa_kernels_set_threads(threads);
    TAP_OK(ok3 && memcmp(l1, l3, sizeof l1) == 0 && memcmp(z1, z3, sizeof z1) == 0,
           "two threads give the same bits as %d", threads);
    return tap_done();
}
