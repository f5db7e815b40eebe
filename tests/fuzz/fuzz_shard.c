/*
 * fuzz_shard.c - libFuzzer harness for the tar shard reader and what the
 * loader does with each sample: any bytes (plain, gzip or zstd) must stream
 * to LOAA_OK or a status with a detail naming the shard, never a crash, hang
 * or leak; every sample's label is parsed and its audio or .npy turned into
 * features, as a worker would.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/dataset.h"
#include "worker/features.h"
#include "worker/loader.h"
#include "worker/shard.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static loaa_dataset *ds;
static loaa_featurizer *feat;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!ds) {
        const char *json = "{\"name\": \"fz\", \"classes\": [\"a\", \"b\", \"c\"], \"sample_rate\": 8000,"
                           " \"fbank\": {\"num_mel_bins\": 16}, \"target_length\": 20,"
                           " \"splits\": {\"train\": [], \"val\": [], \"test\": []}}";
        if (loaa_dataset_parse(json, "/nonexistent", 0, &ds) || loaa_featurizer_create(ds, 0, &feat))
            abort();
    }
    loaa_shard_limits lim = {1 << 20, 50};
    loaa_shard *sh;
    loaa_status st = loaa_shard_open_memory(data, size, "fuzz.tar", &lim, &sh);
    if (st) {
        if (!strstr(loaa_error_detail(), "fuzz.tar"))
            abort(); /* errors name the shard */
        return 0;
    }
    loaa_raw_sample s;
    memset(&s, 0, sizeof s);
    int got, n = 0;
    float x[16 * 20], y[3];
    while (n++ < 1000 && !(st = loaa_shard_next(sh, &s, &got)) && got) {
        int label;
        long start, end;
        if (loaa_loader_parse_label(ds, s.cls, s.json, "fuzz.tar: key", y, &label, &start, &end) == LOAA_OK) {
            if (start > 100000 || end > 100000) /* keep cuts of hostile headers cheap */
                start = end = -1;
            if (s.npy)
                loaa_featurizer_run(feat, x, s.npy, s.npy_size, "npy", start, end, "fuzz.tar: key");
            else if (s.audio)
                loaa_featurizer_run(feat, x, s.audio, s.audio_size, s.audio_ext, start, end, "fuzz.tar: key");
        }
    }
    if (st && !strstr(loaa_error_detail(), "fuzz.tar"))
        abort();
    loaa_raw_sample_clear(&s);
    loaa_shard_close(sh);
    return 0;
}
