/*
 * parse.h - integers from text and from JSON, the one way: a whole decimal
 * (strtol rules: optional leading space and sign, nothing after it, no
 * overflow) and a JSON integer or a real with no fraction (1.0 where 1 is
 * meant). Callers name what they read in their own error messages.
 */
#ifndef LOAA_PARSE_H
#define LOAA_PARSE_H

#include <jansson.h>
#include <stdint.h>

#include "common/status.h"

/*
 * The decimal integer that is the whole of text, within lo..hi, into *out.
 * Returns LOAA_OK; LOAA_ERR_PARSE when text is not one (empty, trailing
 * characters, overflow) and LOAA_ERR_CONFIG when it is outside lo..hi
 * (*out unchanged on failure). No error detail.
 */
loaa_status loaa_parse_long(const char *text, long lo, long hi, long *out);

/*
 * A JSON integer, or a real without a fractional part, into *out (its
 * value, as a double, is *as_double when that is not NULL; reals beyond
 * int64 saturate *out). Returns 1, or 0 for anything else (*out unchanged).
 */
int loaa_parse_json_int(const json_t *v, int64_t *out, double *as_double);

#endif
