/*
 * npy.c - reads and writes 2-D float32 .npy buffers (see npy.h). The header
 * is parsed strictly: the file comes from a shard, which may be hostile.
 */
#include "worker/npy.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *find_value(const char *hdr, const char *key)
{
    const char *p = strstr(hdr, key);
    if (!p)
        return NULL;
    p += strlen(key);
    while (*p == ' ')
        p++;
    if (*p != ':')
        return NULL;
    p++;
    while (*p == ' ')
        p++;
    return p;
}

loaa_status loaa_npy_parse(const void *buf, size_t size, const char *name, const unsigned char **data, int *rows,
                           int *cols)
{
    const unsigned char *b = buf;
    if (size < 10 || memcmp(b, "\x93NUMPY", 6))
        return loaa_fail(LOAA_ERR_FORMAT, "%s: not a .npy file", name);
    size_t hlen, start;
    if (b[6] == 1) {
        hlen = b[8] | (size_t)b[9] << 8;
        start = 10;
    } else if (b[6] == 2 || b[6] == 3) {
        if (size < 12)
            return loaa_fail(LOAA_ERR_FORMAT, "%s: truncated .npy header", name);
        hlen = b[8] | (size_t)b[9] << 8 | (size_t)b[10] << 16 | (size_t)b[11] << 24;
        start = 12;
    } else {
        return loaa_fail(LOAA_ERR_FORMAT, "%s: .npy version %d is unknown", name, b[6]);
    }
    if (hlen > 65536 || start + hlen > size)
        return loaa_fail(LOAA_ERR_FORMAT, "%s: truncated .npy header", name);
    char hdr[65537];
    memcpy(hdr, b + start, hlen);
    hdr[hlen] = '\0';
    const char *d = find_value(hdr, "'descr'");
    if (!d || strncmp(d, "'<f4'", 5))
        return loaa_fail(LOAA_ERR_FORMAT, "%s: .npy dtype must be '<f4' (little-endian float32)", name);
    const char *f = find_value(hdr, "'fortran_order'");
    if (!f || strncmp(f, "False", 5))
        return loaa_fail(LOAA_ERR_FORMAT, "%s: .npy must be in C order (fortran_order False)", name);
    const char *s = find_value(hdr, "'shape'");
    long r = 0, c = 0;
    char *end;
    if (!s || *s != '(')
        return loaa_fail(LOAA_ERR_FORMAT, "%s: .npy header has no shape", name);
    r = strtol(s + 1, &end, 10);
    if (end == s + 1 || *end != ',')
        return loaa_fail(LOAA_ERR_FORMAT, "%s: .npy must be 2-D [rows, cols]", name);
    s = end + 1;
    while (*s == ' ')
        s++;
    c = strtol(s, &end, 10);
    if (end == s)
        return loaa_fail(LOAA_ERR_FORMAT, "%s: .npy must be 2-D [rows, cols]", name);
    while (*end == ' ' || *end == ',')
        end++;
    if (*end != ')')
        return loaa_fail(LOAA_ERR_FORMAT, "%s: .npy must be 2-D [rows, cols]", name);
    if (r < 0 || c < 0 || r > (1 << 24) || c > (1 << 24))
        return loaa_fail(LOAA_ERR_FORMAT, "%s: .npy shape (%ld, %ld) out of range", name, r, c);
    size_t need = (size_t)r * (size_t)c * 4;
    if (size - start - hlen < need)
        return loaa_fail(LOAA_ERR_FORMAT, "%s: .npy data truncated (%zu of %zu bytes)", name, size - start - hlen, need);
    *data = b + start + hlen;
    *rows = (int)r;
    *cols = (int)c;
    return LOAA_OK;
}

loaa_status loaa_npy_encode(const float *x, int rows, int cols, void **out, size_t *size)
{
    char dict[128];
    int n = snprintf(dict, sizeof dict, "{'descr': '<f4', 'fortran_order': False, 'shape': (%d, %d), }", rows, cols);
    /* Header padded with spaces and a newline so the data starts 64-byte aligned, as numpy writes it. */
    size_t total_hdr = 10 + (size_t)n + 1;
    size_t padded = (total_hdr + 63) / 64 * 64;
    size_t hlen = padded - 10;
    size_t bytes = (size_t)rows * cols * 4;
    unsigned char *b = malloc(padded + bytes);
    if (!b)
        return loaa_fail(LOAA_ERR_NOMEM, "npy: out of memory");
    memcpy(b, "\x93NUMPY\x01\x00", 8);
    b[8] = (unsigned char)(hlen & 0xff);
    b[9] = (unsigned char)(hlen >> 8);
    memset(b + 10, ' ', hlen);
    memcpy(b + 10, dict, n);
    b[padded - 1] = '\n';
    memcpy(b + padded, x, bytes); /* loaa runs on little-endian hosts */
    *out = b;
    *size = padded + bytes;
    return LOAA_OK;
}
