/*
 * kernels_torch_dump.c - writes a vit-micro loaa-tf model (weights perturbed off their
 * zero init), a batch, its logits, loss and gradients as raw float32 files into DIR,
 * for kernels_torch_check.py to recompute in PyTorch (double precision).
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/config.h"
#include "common/rng.h"
#include "kernels/model.h"
#include "worker/spec.h"

static const char *outdir = ".";

static void dump(const char *name, const float *p, size_t n)
{
    char path[256];
    snprintf(path, sizeof path, "%s/%s.bin", outdir, name);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(p, sizeof(float), n, f) != n) {
        fprintf(stderr, "cannot write %s\n", path);
        exit(1);
    }
    fclose(f);
}

int main(int argc, char **argv)
{
    if (argc > 1)
        outdir = argv[1];
    loaa_config c;
    loaa_config_defaults(&c);
    strcpy(c.dataset, "x");
    strcpy(c.model, "vit-micro");
    c.method = LOAA_METHOD_LOAA_TF;
    c.bottleneck = 8;
    c.kernel = 3;
    c.fstride = c.tstride = 8;
    c.scale = 0.5;
    if (loaa_config_validate(&c))
        return 1;
    loaa_model_shape sh = {.n_mel = 32, .n_frames = 48, .n_classes = 5, .max_batch = 2};
    loaa_model *m;
    if (loaa_spec_create_model(&m, &c, &sh))
        return 1;
    loaa_model_init(m, 5);
    loaa_rng rng;
    loaa_rng_seed(&rng, 77);
    size_t n;
    const loaa_tensor_ref *t = loaa_model_tensors(m, &n);
    for (size_t i = 0; i < n; i++) {
        size_t k = 1;
        for (int d = 0; d < t[i].ndim; d++)
            k *= t[i].shape[d];
        if (strstr(t[i].name, ".up.") || strstr(t[i].name, "bias") || strstr(t[i].name, "norm"))
            for (size_t j = 0; j < k; j++)
                t[i].data[j] += (float)(0.1 * loaa_rng_normal(&rng));
        dump(t[i].name, t[i].data, k);
    }
    float x[2 * 32 * 48], y[10] = {0}, loss, logits[10];
    for (int i = 0; i < 2 * 32 * 48; i++) x[i] = (float)loaa_rng_normal(&rng);
    y[1] = 1;
    y[5 + 3] = 1;
    dump("x", x, 2 * 32 * 48);
    dump("y", y, 10);
    loaa_model_predict(m, x, 2, logits);
    dump("logits", logits, 10);
    loaa_model_gradients(m, x, y, 2, &loss);
    printf("loss %.7f\n", loss);
    for (size_t i = 0; i < n; i++) {
        if (!t[i].grad)
            continue;
        size_t k = 1;
        for (int d = 0; d < t[i].ndim; d++)
            k *= t[i].shape[d];
        char nm[128];
        snprintf(nm, sizeof nm, "grad.%s", t[i].name);
        dump(nm, t[i].grad, k);
    }
    loaa_model_free(m);
    return 0;
}
