/*
 * jsontext.c - JSON strings for bytes that may not be UTF-8 (see jsontext.h).
 */
#include "common/jsontext.h"

#include <stdlib.h>
#include <string.h>

/* Length of the valid UTF-8 sequence at s (1-4), or 0 when the byte there starts none (overlong, surrogate, > U+10FFFF). */
static int utf8_sequence(const unsigned char *s)
{
    unsigned c = s[0];
    if (c < 0x80)
        return 1;
    int n = c >= 0xc2 && c <= 0xdf ? 2 : c >= 0xe0 && c <= 0xef ? 3 : c >= 0xf0 && c <= 0xf4 ? 4 : 0;
    for (int i = 1; i < n; i++)
        if ((s[i] & 0xc0) != 0x80)
            return 0;
    if ((c == 0xe0 && s[1] < 0xa0) || (c == 0xed && s[1] > 0x9f) || (c == 0xf0 && s[1] < 0x90) || (c == 0xf4 && s[1] > 0x8f))
        return 0;
    return n;
}

json_t *loaa_json_bytes(const char *text, int *escaped)
{
    if (escaped)
        *escaped = 0;
    json_t *plain = json_string(text);
    if (plain)
        return plain;
    size_t len = strlen(text);
    char *out = malloc(4 * len + 1); /* each byte at most 4 characters */
    if (!out)
        return NULL;
    size_t o = 0;
    const unsigned char *s = (const unsigned char *)text;
    for (size_t i = 0; i < len;) {
        int n = utf8_sequence(s + i);
        if (n == 0) {
            static const char hex[] = "0123456789abcdef";
            out[o++] = '\\', out[o++] = 'x', out[o++] = hex[s[i] >> 4], out[o++] = hex[s[i] & 15];
            i++;
        } else if (s[i] == '\\') {
            out[o++] = '\\', out[o++] = '\\';
            i++;
        } else {
            memcpy(out + o, s + i, (size_t)n);
            o += (size_t)n, i += (size_t)n;
        }
    }
    out[o] = '\0';
    json_t *v = json_string(out);
    free(out);
    if (v && escaped)
        *escaped = 1;
    return v;
}
