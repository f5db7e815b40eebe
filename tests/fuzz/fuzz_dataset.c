/*
 * fuzz_dataset.c - libFuzzer harness for the dataset.json reader: any bytes
 * give LOAA_OK or a status with a detail naming dataset.json, never a crash;
 * a manifest that parses must answer every accessor, give the shard lists of
 * every split (and fold), and build its fbank.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/dataset.h"
#include "worker/fbank.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    if (!text)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    loaa_dataset *ds;
    loaa_status st = loaa_dataset_parse(text, "/nonexistent", 0, &ds);
    free(text);
    if (st) {
        if (!strstr(loaa_error_detail(), "dataset.json"))
            abort(); /* every failure names the file */
        return 0;
    }
    int C = loaa_dataset_num_classes(ds), k = loaa_dataset_num_folds(ds);
    for (int i = 0; i < C; i++)
        if (!loaa_dataset_class_name(ds, i) || loaa_dataset_class_index(ds, loaa_dataset_class_name(ds, i)) != i)
            abort();
    for (int s = 0; s < 3; s++)
        for (int f = k ? 0 : -1; f <= (k ? k + 1 : -1); f++) {
            const char *const *paths;
            int n;
            if (loaa_dataset_shards(ds, (loaa_split)s, f, &paths, &n) == LOAA_OK)
                for (int i = 0; i < n; i++)
                    if (!paths[i] || strstr(paths[i], "/../"))
                        abort(); /* shard paths stay inside the folder */
        }
    if (loaa_dataset_num_mel(ds) < 1 || loaa_dataset_target_length(ds) < 1 || !(loaa_dataset_std(ds) > 0))
        abort();
    if (!loaa_dataset_is_image(ds)) {
        loaa_fbank *fb;
        if (loaa_fbank_create(loaa_dataset_fbank(ds), loaa_dataset_sample_rate(ds), &fb) == LOAA_OK)
            loaa_fbank_free(fb);
    }
    loaa_dataset_free(ds);
    return 0;
}
