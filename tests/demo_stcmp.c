/*
 * demo_stcmp.c - a helper of tests/demo.sh: compares the tensors of two
 * safetensors files bit for bit.
 *
 *     demo_stcmp A B [SKIP_PREFIX]
 *
 * Every tensor of A (but those whose name starts with SKIP_PREFIX) must be
 * in B with the same shape and the same float32 values, bit for bit; B may
 * hold more (a checkpoint's optimiser moments). Prints one line and exits 0
 * when they match, 1 otherwise (naming the first tensor that differs).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/status.h"
#include "kernels/safetensors.h"

static int same_tensor(const loaa_safetensors_file *a, const loaa_safetensors_tensor *ta, const loaa_safetensors_file *b,
                       const loaa_safetensors_tensor *tb)
{
    if (ta->ndim != tb->ndim || ta->numel != tb->numel)
        return 0;
    for (int d = 0; d < ta->ndim; d++)
        if (ta->shape[d] != tb->shape[d])
            return 0;
    float *x = malloc((ta->numel + 1) * sizeof *x), *y = malloc((ta->numel + 1) * sizeof *y);
    int same = x && y && !loaa_safetensors_read_f32(a, ta, x, ta->numel) && !loaa_safetensors_read_f32(b, tb, y, tb->numel) &&
               !memcmp(x, y, ta->numel * sizeof *x);
    free(x);
    free(y);
    return same;
}

int main(int argc, char **argv)
{
    if (argc < 3 || argc > 4) {
        fprintf(stderr, "usage: demo_stcmp A B [SKIP_PREFIX]\n");
        return 2;
    }
    const char *skip = argc == 4 ? argv[3] : NULL;
    loaa_safetensors_file *a = NULL, *b = NULL;
    if (loaa_safetensors_open(argv[1], &a) || loaa_safetensors_open(argv[2], &b)) {
        fprintf(stderr, "demo_stcmp: %s\n", loaa_error_detail());
        loaa_safetensors_close(a);
        return 1;
    }
    size_t n = loaa_safetensors_count(a), compared = 0;
    int rc = 0;
    for (size_t i = 0; i < n && !rc; i++) {
        const loaa_safetensors_tensor *ta = loaa_safetensors_tensor_at(a, i);
        if (skip && !strncmp(ta->name, skip, strlen(skip)))
            continue;
        const loaa_safetensors_tensor *tb = loaa_safetensors_find(b, ta->name);
        if (!tb) {
            printf("%s: tensor '%s' is missing\n", argv[2], ta->name);
            rc = 1;
        } else if (!same_tensor(a, ta, b, tb)) {
            printf("tensor '%s' differs\n", ta->name);
            rc = 1;
        }
        compared++;
    }
    if (!rc && !compared) {
        printf("%s: no tensor to compare\n", argv[1]);
        rc = 1;
    } else if (!rc) {
        printf("%zu tensors equal\n", compared);
    }
    loaa_safetensors_close(a);
    loaa_safetensors_close(b);
    return rc;
}
