/*
 * fuzz_safetensors.c - libFuzzer harness for the safetensors reader: any
 * bytes must open cleanly or fail with a detail, and every tensor of a file
 * that opens must be readable (or refused) without an out-of-bounds read;
 * ASan sees the exact input buffer, so one byte too far is caught.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/safetensors.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    loaa_safetensors_file *f = NULL;
    loaa_error_clear();
    loaa_status st = loaa_safetensors_open_memory(data, size, "fuzz", &f);
    if (st != LOAA_OK) {
        if (loaa_error_detail()[0] == '\0' || f)
            abort(); /* every failure must say why and leave nothing open */
        return 0;
    }
    for (size_t i = 0; i < loaa_safetensors_count(f); i++) {
        const loaa_safetensors_tensor *t = loaa_safetensors_tensor_at(f, i);
        if (loaa_safetensors_find(f, t->name) != t)
            abort();
        if (t->numel > (1u << 20)) {
            loaa_safetensors_read_f32(f, t, NULL, t->numel);
            continue;
        }
        float *buf = malloc(t->numel * sizeof(float) + 1);
        if (!buf)
            break;
        st = loaa_safetensors_read_f32(f, t, buf, t->numel);
        if (st != LOAA_OK && loaa_error_detail()[0] == '\0')
            abort();
        free(buf);
    }
    for (size_t i = 0; i < loaa_safetensors_meta_count(f); i++) {
        const char *k, *v;
        loaa_safetensors_meta_at(f, i, &k, &v);
        if (loaa_safetensors_meta(f, k) != v)
            abort();
    }
    loaa_safetensors_close(f);
    return 0;
}
