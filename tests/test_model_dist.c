/*
 * test_model_dist.c - run under mpirun with 1, 2 or 4 ranks: one trial
 * trained by the whole group (loaa_model_set_group, psgemm_ on every grid
 * P x Q = ranks) follows the single-rank run of the same data and seed:
 * vit-micro with loaa-tf and with full fine-tuning, per-step losses within
 * 1e-4 relative for 20 steps, the same evaluation afterwards, parameters
 * bitwise identical on every rank; batches smaller than the group; a NaN
 * on one rank's samples is one agreed failure. Rank 0 prints TAP.
 * Flags --model --batch --mel --frames --stride change the model and sizes
 * (bench/check_dist.sh runs vit-tiny this way; too slow for make check).
 */
#include <math.h>
#include <mpi.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/config.h"
#include "common/status.h"
#include "kernels/gemm.h"
#include "kernels/model.h"
#include "tests/tap.h"
#include "worker/spec.h"

enum { STEPS = 20, CLASSES = 5 };

/* vit-micro on 32 x 48 by default; bench/check_dist.sh passes bigger ones (--model vit-tiny --mel 128 ...). */
static int BATCH = 5, MEL = 32, FRAMES = 48, STRIDE = 10, TRACE = 0;
static double LR = 5e-3, LR_FULL = 5e-3; /* --lr, --lr-full: full fine-tuning of bigger models needs a sane rate */
static char MODEL[32] = "vit-micro";

static int rank, size;

static int all_ok(int ok)
{
    int r = 0;
    MPI_Allreduce(&ok, &r, 1, MPI_INT, MPI_LAND, MPI_COMM_WORLD);
    return r;
}

#define CHECK(ok, ...)                \
    do {                              \
        int ok_ = all_ok(ok);         \
        if (rank == 0)                \
            TAP_OK(ok_, __VA_ARGS__); \
    } while (0)

static float *xs, *ys; /* STEPS batches of (BATCH, MEL, FRAMES) and (BATCH, CLASSES) */

static void make_data(void)
{
    size_t nx = (size_t)STEPS * BATCH * MEL * FRAMES, ny = (size_t)STEPS * BATCH * CLASSES;
    xs = malloc(nx * sizeof(float));
    ys = calloc(ny, sizeof(float));
    uint32_t s = 12345;
    for (size_t i = 0; i < nx; i++) {
        s = s * 1664525u + 1013904223u;
        xs[i] = (float)((s >> 8) & 0xffff) / 16384.0f - 2.0f;
    }
    for (size_t b = 0; b < (size_t)STEPS * BATCH; b++)
        ys[b * CLASSES + (b * 7 + 3) % CLASSES] = 1.0f;
}

static loaa_status make_model(loaa_model **m, const char *method, int batch_max)
{
    loaa_config cfg;
    loaa_config_defaults(&cfg);
    loaa_status st = loaa_config_set_text(&cfg, "model", MODEL);
    cfg.fstride = cfg.tstride = STRIDE;
    if (!st)
        st = loaa_config_set_text(&cfg, "method", method);
    if (!st)
        st = loaa_config_set_text(&cfg, "dataset", "-");
    if (!st)
        st = loaa_config_set_text(&cfg, "bottleneck", "8");
    if (!st)
        st = loaa_config_validate(&cfg);
    loaa_model_shape shape = {.n_mel = MEL, .n_frames = FRAMES, .n_classes = CLASSES, .max_batch = batch_max};
    if (!st)
        st = loaa_spec_create_model(m, &cfg, &shape);
    if (!st)
        st = loaa_model_init(*m, 7);
    return st;
}

static const float *batch_x(int step) { return xs + (size_t)step * BATCH * MEL * FRAMES; }
static const float *batch_y(int step) { return ys + (size_t)step * BATCH * CLASSES; }

/* A hash of every parameter's bits: equal on every rank iff the replicas are identical. */
static uint64_t param_hash(const loaa_model *m)
{
    size_t n;
    const loaa_tensor_ref *t = loaa_model_tensors(m, &n);
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++) {
        size_t numel = 1;
        for (int d = 0; d < t[i].ndim; d++)
            numel *= (size_t)t[i].shape[d];
        const unsigned char *b = (const unsigned char *)t[i].data;
        for (size_t j = 0; j < numel * sizeof(float); j++)
            h = (h ^ b[j]) * 1099511628211ull;
    }
    return h;
}

static int same_everywhere(uint64_t h)
{
    uint64_t lo = h, hi = h;
    MPI_Allreduce(MPI_IN_PLACE, &lo, 1, MPI_UINT64_T, MPI_MIN, MPI_COMM_WORLD);
    MPI_Allreduce(MPI_IN_PLACE, &hi, 1, MPI_UINT64_T, MPI_MAX, MPI_COMM_WORLD);
    return lo == hi;
}

/* 20 steps alone and on the group, then an evaluation of a fresh batch. */
static void compare_training(const char *method, int p, int q)
{
    char label[96];
    snprintf(label, sizeof label, "%s on %d rank(s), grid %dx%d", method, size, p, q);
    loaa_model *ref = NULL, *grp = NULL;
    loaa_status st = make_model(&ref, method, BATCH);
    loaa_status st2 = make_model(&grp, method, BATCH);
    if (!st2)
        st2 = loaa_model_set_group(grp, MPI_COMM_WORLD, p, q);
    int bp = 0, bq = 0;
    const char *backend = st2 ? "?" : loaa_model_backend(grp, &bp, &bq);
    CHECK(!st && !st2 && bp * bq == (size == 1 && p * q == 1 ? 1 : p * q), "%s: model on the group (%s %dx%d)", label,
          backend, bp, bq);
    if (st || st2) {
        if (rank == 0)
            TAP_DIAG("%s", loaa_error_detail());
        loaa_model_free(ref);
        loaa_model_free(grp);
        return;
    }
    size_t bytes1 = loaa_model_activation_bytes(ref), bytesg = loaa_model_activation_bytes(grp);
    CHECK(size == 1 ? bytesg == bytes1 : bytesg < bytes1,
          "%s: activations for this rank's share of the batch: %.2f MiB vs %.2f MiB alone", label, bytesg / 1048576.0,
          bytes1 / 1048576.0);
    double worst = 0, lr = strcmp(method, "full") ? LR : LR_FULL;
    int ok = 1;
    for (int s = 0; s < STEPS && ok; s++) {
        float l1 = 0, lg = 0;
        st = loaa_model_train_step(ref, batch_x(s), batch_y(s), BATCH, lr, &l1);
        st2 = loaa_model_train_step(grp, batch_x(s), batch_y(s), BATCH, lr, &lg);
        double rel = fabs((double)lg - l1) / fmax(fabs((double)l1), 1e-12);
        if (TRACE && rank == 0)
            TAP_DIAG("%s: step %2d: loss %.9g alone, %.9g on the group, relative difference %.2g", label, s, l1, lg, rel);
        worst = fmax(worst, rel);
        if (st || st2 || !(rel <= 1e-4)) {
            ok = 0;
            if (rank == 0)
                TAP_DIAG("%s: step %d: loss %.9g alone, %.9g on the group (status %d/%d %s)", label, s, l1, lg, st, st2,
                         loaa_error_detail());
        }
    }
    CHECK(ok, "%s: %d per-step losses at lr %g within 1e-4 relative of one rank (worst %.2g)", label, STEPS, lr, worst);
    CHECK(same_everywhere(param_hash(grp)), "%s: parameters bitwise identical on every rank after %d steps", label,
          STEPS);

    /* Evaluation after training: logits and loss of another batch. */
    float *lo1 = malloc(sizeof(float) * BATCH * CLASSES), *log_ = malloc(sizeof(float) * BATCH * CLASSES), e1 = 0, eg = 0;
    st = loaa_model_evaluate(ref, batch_x(0), batch_y(1), BATCH, lo1, &e1);
    st2 = loaa_model_evaluate(grp, batch_x(0), batch_y(1), BATCH, log_, &eg);
    /* 20 steps of rounding differences (2e-6 per step at worst) reach the logits: compare them to their size */
    double err = 0, big = 1;
    for (int i = 0; i < BATCH * CLASSES; i++) {
        err = fmax(err, fabs((double)lo1[i] - log_[i]));
        big = fmax(big, fabs((double)lo1[i]));
    }
    CHECK(!st && !st2 && err <= 1e-3 * big && fabs((double)eg - e1) <= 1e-4 * fabs((double)e1),
          "%s: evaluation after training: logits within %.2g (of up to %.3g), loss %.6g vs %.6g", label, err, big, eg,
          e1);
    free(lo1);
    free(log_);

    /* A batch smaller than the group: some ranks hold no sample but still take part. */
    float la = 0, lb = 0;
    st = loaa_model_train_step(ref, batch_x(3), batch_y(3), 1, 5e-3, &la);
    st2 = loaa_model_train_step(grp, batch_x(3), batch_y(3), 1, 5e-3, &lb);
    CHECK(!st && !st2 && fabs((double)la - lb) <= 1e-4 * fabs((double)la),
          "%s: a batch of 1 sample on %d rank(s): loss %.6g vs %.6g", label, size, lb, la);

    loaa_model_free(ref);
    loaa_model_free(grp);
}

/* A NaN in the last rank's samples: every rank gets the same LOAA_ERR_NUMERIC, parameters stay, the next step works. */
static void nan_on_one_rank(void)
{
    loaa_model *m = NULL;
    loaa_status st = make_model(&m, "loaa-tf", BATCH);
    if (!st)
        st = loaa_model_set_group(m, MPI_COMM_WORLD, 0, 0);
    if (st) {
        CHECK(0, "model for the NaN check: %s", loaa_error_detail());
        return;
    }
    size_t nx = (size_t)BATCH * MEL * FRAMES;
    float *x = malloc(nx * sizeof(float)), loss = 0;
    memcpy(x, batch_x(0), nx * sizeof(float));
    x[nx - (size_t)MEL * FRAMES] = NAN; /* the first pixel of the last sample, which the last rank holds */
    uint64_t before = param_hash(m);
    st = loaa_model_train_step(m, x, batch_y(0), BATCH, 5e-3, &loss);
    char detail[256];
    snprintf(detail, sizeof detail, "%s", loaa_error_detail());
    char root[256];
    memcpy(root, detail, sizeof root);
    MPI_Bcast(root, sizeof root, MPI_CHAR, 0, MPI_COMM_WORLD);
    CHECK(st == LOAA_ERR_NUMERIC && strcmp(root, detail) == 0,
          "a NaN in rank %d's sample: LOAA_ERR_NUMERIC on every rank with one detail (%s)", size - 1,
          rank == 0 ? detail : "");
    CHECK(param_hash(m) == before, "parameters untouched by the failed step");
    st = loaa_model_train_step(m, batch_x(1), batch_y(1), BATCH, 5e-3, &loss);
    CHECK(st == LOAA_OK && isfinite(loss), "the group trains on after the failed step (loss %.6g)", loss);
    free(x);
    loaa_model_free(m);
}

int main(int argc, char **argv)
{
    MPI_Init(&argc, &argv);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    for (int i = 1; i + 1 < argc; i += 2) {
        int v = (int)strtol(argv[i + 1], NULL, 10);
        if (!strcmp(argv[i], "--model"))
            snprintf(MODEL, sizeof MODEL, "%s", argv[i + 1]);
        else if (!strcmp(argv[i], "--batch") && v > 0)
            BATCH = v;
        else if (!strcmp(argv[i], "--mel") && v >= 16)
            MEL = v;
        else if (!strcmp(argv[i], "--frames") && v >= 16)
            FRAMES = v;
        else if (!strcmp(argv[i], "--stride") && v > 0)
            STRIDE = v;
        else if (!strcmp(argv[i], "--trace"))
            TRACE = v;
        else if (!strcmp(argv[i], "--lr"))
            LR = strtod(argv[i + 1], NULL);
        else if (!strcmp(argv[i], "--lr-full"))
            LR_FULL = strtod(argv[i + 1], NULL);
    }
    if (rank == 0)
        TAP_DIAG("%s, batch %d, %dx%d, stride %d, %d steps, %d rank(s)", MODEL, BATCH, MEL, FRAMES, STRIDE, STEPS, size);
    loaa_kernels_set_threads(1);
    make_data();
    static const char *const methods[] = {"loaa-tf", "full"};
    for (int p = 1; p <= size; p++) {
        if (size % p || (size == 4 && p != 2)) /* 4 ranks: the 2x2 grid (1x4 and 4x1 add time, not cases) */
            continue;
        for (int i = 0; i < 2; i++)
            compare_training(methods[i], p, size / p);
    }
    nan_on_one_rank();
    free(xs);
    free(ys);
    MPI_Finalize();
    return rank == 0 ? tap_done() : 0;
}
