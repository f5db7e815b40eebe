/*
 * fuzz_audio.c - libFuzzer harness for audio decoding from an in-memory
 * archive entry (libsndfile virtual I/O: WAV in every encoding, FLAC,
 * Ogg/Vorbis) and the front end behind it (down-mix, cut, soxr resampling
 * from whatever rate the header claims, fbank, pad/cut, normalise). Any
 * bytes must give LOAA_OK or a status with a detail naming the entry, never
 * a crash, an out-of-bounds read or a runaway allocation.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/dataset.h"
#include "worker/audio.h"
#include "worker/features.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static loaa_dataset *ds;
static loaa_featurizer *feat;

static void must_name(loaa_status st)
{
    if (st != LOAA_OK && !strstr(loaa_error_detail(), "fuzz.tar: key"))
        abort(); /* errors name the shard entry */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!ds) {
        const char *json = "{\"name\": \"fz\", \"classes\": [\"a\"], \"sample_rate\": 8000,"
                           " \"fbank\": {\"num_mel_bins\": 16}, \"target_length\": 20,"
                           " \"splits\": {\"train\": [], \"val\": [], \"test\": []}}";
        if (loaa_dataset_parse(json, "/nonexistent", 0, &ds) || loaa_featurizer_create(ds, 0, &feat))
            abort();
    }
    float *wave = NULL;
    size_t n = 0;
    int rate = 0;
    loaa_status st = loaa_audio_decode(data, size, "fuzz.tar: key 'k'", &wave, &n, &rate);
    must_name(st);
    if (st == LOAA_OK) {
        if (!wave || !n || rate <= 0)
            abort();
        volatile float sum = 0;
        for (size_t i = 0; i < n; i++)
            sum += wave[i]; /* every sample is read: ASan checks the decoder filled what it claims */
        (void)sum;
        free(wave);
        /* The whole front end, as a worker runs it: decode, resample to 8 kHz, fbank, (M, T). */
        float x[16 * 20];
        must_name(loaa_featurizer_run(feat, x, data, size, "wav", -1, -1, "fuzz.tar: key 'k'"));
        /* A cut as a KEY.json's start/end gives it, inside or outside the clip. */
        long start = (long)(size % 97), end = start + (long)(size % 1013);
        must_name(loaa_featurizer_run(feat, x, data, size, "flac", start, end, "fuzz.tar: key 'k'"));
    }
    return 0;
}
