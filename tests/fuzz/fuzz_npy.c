/*
 * fuzz_npy.c - libFuzzer harness for KEY.npy entries: the header parser
 * (versions 1-3, dtype, order, shape) and what the front end does with the
 * array, for an audio dataset (precomputed fbank [frames, M]) and an image
 * dataset ([rows = M, cols]). Any bytes must give LOAA_OK or a status with a
 * detail naming the entry; a parse that succeeds must describe data that
 * lies inside the buffer (ASan sees the exact input).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/dataset.h"
#include "worker/features.h"
#include "worker/npy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static loaa_featurizer *audio_feat, *image_feat;

static loaa_featurizer *make(const char *json)
{
    loaa_dataset *ds;
    loaa_featurizer *f;
    if (loaa_dataset_parse(json, "/nonexistent", 0, &ds) || loaa_featurizer_create(ds, 0, &f))
        abort();
    return f; /* the featurizer copies what it needs; ds lives on for the process */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!audio_feat) {
        audio_feat = make("{\"name\": \"fz\", \"classes\": [\"a\"], \"sample_rate\": 8000, \"fbank\": {\"num_mel_bins\": 16},"
                          " \"target_length\": 20, \"splits\": {\"train\": [], \"val\": [], \"test\": []}}");
        image_feat = make("{\"name\": \"fz\", \"classes\": [\"a\"], \"kind\": \"image\", \"image_size\": [16, 20],"
                          " \"splits\": {\"train\": [], \"val\": [], \"test\": []}}");
    }
    const unsigned char *p;
    int rows = -1, cols = -1;
    loaa_status st = loaa_npy_parse(data, size, "fuzz.tar: key 'k'", &p, &rows, &cols);
    if (st != LOAA_OK && !strstr(loaa_error_detail(), "fuzz.tar: key 'k'"))
        abort();
    if (st == LOAA_OK) {
        if (rows < 0 || cols < 0 || p < data || (size_t)(p - data) + (size_t)rows * cols * 4 > size)
            abort(); /* the array lies inside the entry */
        float acc = 0, v;
        for (size_t i = 0; i < (size_t)rows * cols; i++) {
            memcpy(&v, p + 4 * i, 4);
            acc += v;
        }
        (void)acc;
    }
    float x[16 * 20];
    st = loaa_featurizer_run(audio_feat, x, data, size, "npy", -1, -1, "fuzz.tar: key 'k'");
    if (st != LOAA_OK && !strstr(loaa_error_detail(), "fuzz.tar: key 'k'"))
        abort();
    st = loaa_featurizer_run(image_feat, x, data, size, "npy", -1, -1, "fuzz.tar: key 'k'");
    if (st != LOAA_OK && !strstr(loaa_error_detail(), "fuzz.tar: key 'k'"))
        abort();
    return 0;
}
