/*
 * jsontext.h - JSON strings for bytes that may not be UTF-8 (file names):
 * jansson refuses such text, and a refused value used to drop a result.
 */
#ifndef LOAA_JSONTEXT_H
#define LOAA_JSONTEXT_H

#include <jansson.h>

/*
 * A JSON string for the NUL-terminated bytes text: text itself when it is
 * valid UTF-8; otherwise text with each backslash doubled and each byte that
 * is not part of a valid UTF-8 sequence written as the four characters \xHH
 * (lower-case hex), and *escaped (when not NULL) set to 1 (else 0). NULL
 * only when out of memory.
 */
json_t *loaa_json_bytes(const char *text, int *escaped);

#endif
