/*
 * fuzz_sweep.c - libFuzzer harness for the sweep-file reader: any bytes must
 * give LOAA_OK or a status with a detail, never a crash, a leak or a hang
 * (aliases, nesting and trial counts are capped); a sweep that parses
 * expands (capped at a few hundred trials) without touching the disk.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "coordinator/sweep.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static loaa_status count_trial(void *ctx, const loaa_sweep_trial *t)
{
    if (!t->hash || strlen(t->hash) != 64 || !t->config_json)
        abort();
    (*(int64_t *)ctx)++;
    return LOAA_OK;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    loaa_sweep *sw = NULL;
    loaa_status st = loaa_sweep_parse(&sw, (const char *)data, size, "fuzz.yaml", 0);
    if (st != LOAA_OK && loaa_error_detail()[0] == '\0')
        abort(); /* every failure must say why */
    if (st == LOAA_OK) {
        int64_t n = 0, unique = 0, dups = 0;
        st = loaa_sweep_expand(sw, 256, 1, count_trial, &n, &unique, &dups);
        if (st == LOAA_OK && n != unique)
            abort();
        loaa_sweep_free(sw);
    }
    return 0;
}
