/*
 * fuzz_weights.c - libFuzzer harness for backbone import: any bytes that
 * open as safetensors go through shape inference, and a small enough
 * inferred ViT is built and the file imported into it (channel sum,
 * positional crop/interpolation, transformers qkv fusion); bytes that open
 * as an adapter file (what `loaa predict` reads from strangers) get their
 * model built from the recorded config and the tensors applied. Every outcome
 * must be LOAA_OK or a status with a detail; ASan watches the reads.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/config.h"
#include "kernels/checkpoint.h"
#include "kernels/model.h"
#include "kernels/safetensors.h"
#include "kernels/weights.h"
#include "worker/spec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void must_explain(loaa_status st)
{
    if (st != LOAA_OK && loaa_error_detail()[0] == '\0')
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    loaa_safetensors_file *f = NULL;
    if (loaa_safetensors_open_memory(data, size, "fuzz", &f) != LOAA_OK)
        return 0;
    loaa_backbone_info bi;
    loaa_error_clear();
    loaa_status st = loaa_weights_inspect_file(f, &bi);
    must_explain(st);
    /* Only small models: the point is the importer, not the allocator. */
    if (!st && bi.dim <= 64 && bi.depth <= 3 && bi.mlp_hidden <= 256 && bi.grid_f <= 32 && bi.grid_t <= 32) {
        loaa_config c;
        loaa_config_defaults(&c);
        strcpy(c.dataset, "fuzz");
        c.method = LOAA_METHOD_LINEAR;
        c.fstride = 16;
        c.tstride = 8; /* 3 x 5 grid: crop or interpolate depending on the file's */
        loaa_model_shape shape = {.n_mel = 48, .n_frames = 48, .n_classes = 2, .max_batch = 1};
        loaa_model *m = NULL;
        loaa_error_clear();
        st = loaa_spec_apply_backbone(&bi, &c, &shape);
        if (!st)
            st = loaa_config_validate(&c);
        if (!st)
            st = loaa_spec_create_model(&m, &c, &shape);
        if (!st) {
            loaa_error_clear();
            must_explain(loaa_weights_load_backbone_file(m, f));
        }
        loaa_model_free(m);
    }
    loaa_safetensors_close(f);

    loaa_checkpoint_adapter *ad = NULL;
    loaa_error_clear();
    st = loaa_checkpoint_adapter_open_memory(data, size, "fuzz", &ad);
    must_explain(st);
    loaa_config c;
    if (!st) {
        loaa_error_clear();
        st = loaa_spec_adapter_config(ad, &c);
        must_explain(st);
    }
    if (!st) {
        loaa_model_shape shape = loaa_checkpoint_adapter_shape(ad);
        c.threads = 0;
        if (c.dim <= 64 && c.depth <= 3 && c.mlp_ratio * c.dim <= 256 && c.fstride >= 4 && c.tstride >= 4 &&
            shape.n_mel <= 64 && shape.n_frames <= 64 && shape.n_classes <= 64 && c.bottleneck <= 16 && c.kernel <= 9) {
            loaa_model *m = NULL;
            loaa_error_clear();
            st = loaa_spec_create_model(&m, &c, &shape);
            must_explain(st);
            if (!st) {
                loaa_error_clear();
                must_explain(loaa_checkpoint_adapter_apply(ad, m));
            }
            loaa_model_free(m);
        }
    }
    loaa_checkpoint_adapter_close(ad);
    return 0;
}
