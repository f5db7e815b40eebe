/*
 * fuzz_config.c - libFuzzer harness for the trial-config parser: any bytes
 * must give LOAA_OK or a status with a detail, never a crash; a config that
 * parses and validates must have a canonical form that parses back to the
 * same canonical form.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    if (!text)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    loaa_config c;
    loaa_status st = loaa_config_parse(&c, text);
    if (st != LOAA_OK && loaa_error_detail()[0] == '\0')
        abort(); /* every failure must say why */
    if (st == LOAA_OK && loaa_config_validate(&c) == LOAA_OK) {
        char *canon = loaa_config_canonical(&c);
        loaa_config back;
        if (!canon || loaa_config_parse(&back, canon) || loaa_config_validate(&back))
            abort();
        char *again = loaa_config_canonical(&back);
        if (!again || strcmp(canon, again))
            abort(); /* canonical form must be a fixed point */
        free(again);
        free(canon);
    }
    free(text);
    return 0;
}
