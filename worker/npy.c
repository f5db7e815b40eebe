/*
 * npy.c - reads and writes 2-D float32 .npy buffers (see npy.h). The header
 * is parsed strictly: the file comes from a shard, which may be hostile.
 */
#include "worker/npy.h"

#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/*
 * The header dict, parsed as the Python literal numpy writes (issue 18 #15: a
 * substring search let one key's value pose as another key). Grammar, in any
 * key order, each key exactly once, spaces allowed between tokens and the
 * header padded with spaces and a final newline after the '}':
 *   dict  := '{' [entry (',' entry)* [',']] '}'
 *   entry := 'descr' ':' string | 'fortran_order' ':' (True | False)
 *          | 'shape' ':' '(' [int (',' int)* [',']] ')'
 *   string := '...' or "..." without backslashes; int := decimal digits
 * Anything else is refused naming the byte offset in the header.
 */
enum { NPY_MAX_DIMS = 32 };

typedef struct npy_header {
    char descr[32];
    int fortran_order;             /* 1 True, 0 False */
    long shape[NPY_MAX_DIMS];      /* each clamped to LONG_MAX / 2 while read */
    int ndim;
    int seen;                      /* bits: 1 descr, 2 fortran_order, 4 shape */
} npy_header;

typedef struct npy_cursor {
    const char *p, *begin, *end;   /* the header bytes [begin, end) */
    const char *name;              /* the entry, for messages */
} npy_cursor;

/* Refuses the header at the cursor: "NAME: .npy header: WHAT at byte N". */
static loaa_status npy_syntax(const npy_cursor *c, const char *what)
{
    return loaa_fail(LOAA_ERR_FORMAT, "%s: .npy header: %s at byte %td (expected a dict like "
                     "{'descr': '<f4', 'fortran_order': False, 'shape': (rows, cols), })", c->name, what, c->p - c->begin);
}

static void npy_skip_spaces(npy_cursor *c)
{
    while (c->p < c->end && *c->p == ' ')
        c->p++;
}

/* Consumes ch (after spaces); 0 when the next byte is something else. */
static int npy_take(npy_cursor *c, char ch)
{
    npy_skip_spaces(c);
    if (c->p < c->end && *c->p == ch) {
        c->p++;
        return 1;
    }
    return 0;
}

/* A quoted string into out (at most outsz - 1 bytes); refuses backslashes, an unclosed or an overlong string. */
static loaa_status npy_string(npy_cursor *c, char *out, size_t outsz)
{
    npy_skip_spaces(c);
    if (c->p >= c->end || (*c->p != '\'' && *c->p != '"'))
        return npy_syntax(c, "a quoted string expected");
    char quote = *c->p++;
    size_t n = 0;
    while (c->p < c->end && *c->p != quote) {
        if (*c->p == '\\' || *c->p == '\0' || *c->p == '\n' || n + 1 >= outsz)
            return npy_syntax(c, "escaped, overlong or unclosed string");
        out[n++] = *c->p++;
    }
    if (c->p >= c->end)
        return npy_syntax(c, "unclosed string");
    c->p++;
    out[n] = '\0';
    return LOAA_OK;
}

static loaa_status npy_bool(npy_cursor *c, int *out)
{
    npy_skip_spaces(c);
    size_t left = (size_t)(c->end - c->p);
    if (left >= 4 && !memcmp(c->p, "True", 4)) {
        c->p += 4;
        *out = 1;
    } else if (left >= 5 && !memcmp(c->p, "False", 5)) {
        c->p += 5;
        *out = 0;
    } else {
        return npy_syntax(c, "True or False expected");
    }
    return LOAA_OK;
}

/* A tuple of non-negative decimal integers, e.g. (12, 34) or (5,) or (). */
static loaa_status npy_shape(npy_cursor *c, npy_header *h)
{
    if (!npy_take(c, '('))
        return npy_syntax(c, "'(' expected for the shape");
    h->ndim = 0;
    while (!npy_take(c, ')')) {
        if (h->ndim == NPY_MAX_DIMS)
            return npy_syntax(c, "too many dimensions");
        npy_skip_spaces(c);
        if (c->p >= c->end || *c->p < '0' || *c->p > '9')
            return npy_syntax(c, "a non-negative integer expected in the shape");
        long v = 0;
        for (; c->p < c->end && *c->p >= '0' && *c->p <= '9'; c->p++)
            v = v > LONG_MAX / 20 ? LONG_MAX / 2 : v * 10 + (*c->p - '0');
        h->shape[h->ndim++] = v;
        if (!npy_take(c, ',')) {
            if (!npy_take(c, ')'))
                return npy_syntax(c, "',' or ')' expected in the shape");
            break;
        }
    }
    return LOAA_OK;
}

/* One "key: value" entry; refuses unknown and repeated keys. */
static loaa_status npy_entry(npy_cursor *c, npy_header *h)
{
    char key[32];
    const char *at = c->p;
    loaa_status st = npy_string(c, key, sizeof key);
    if (st)
        return st;
    int bit = !strcmp(key, "descr") ? 1 : !strcmp(key, "fortran_order") ? 2 : !strcmp(key, "shape") ? 4 : 0;
    if (!bit || (h->seen & bit)) {
        c->p = at;
        return npy_syntax(c, bit ? "repeated key" : "unknown key (only 'descr', 'fortran_order', 'shape')");
    }
    h->seen |= bit;
    if (!npy_take(c, ':'))
        return npy_syntax(c, "':' expected after the key");
    return bit == 1 ? npy_string(c, h->descr, sizeof h->descr) : bit == 2 ? npy_bool(c, &h->fortran_order) : npy_shape(c, h);
}

/* The whole header [hdr, hdr + hlen): the dict, then only spaces and newlines; all three keys present. */
static loaa_status npy_header_parse(const char *hdr, size_t hlen, const char *name, npy_header *h)
{
    npy_cursor c = {hdr, hdr, hdr + hlen, name};
    memset(h, 0, sizeof *h);
    if (!npy_take(&c, '{'))
        return npy_syntax(&c, "'{' expected");
    while (!npy_take(&c, '}')) {
        loaa_status st = npy_entry(&c, h);
        if (st)
            return st;
        if (!npy_take(&c, ',')) {
            if (!npy_take(&c, '}'))
                return npy_syntax(&c, "',' or '}' expected");
            break;
        }
    }
    while (c.p < c.end && (*c.p == ' ' || *c.p == '\n'))
        c.p++;
    if (c.p != c.end)
        return npy_syntax(&c, "bytes after the dict");
    if (h->seen != 7)
        return npy_syntax(&c, !(h->seen & 1) ? "no 'descr' key" : !(h->seen & 2) ? "no 'fortran_order' key" : "no 'shape' key");
    return LOAA_OK;
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
    npy_header h;
    loaa_status st = npy_header_parse((const char *)b + start, hlen, name, &h);
    if (st)
        return st;
    if (strcmp(h.descr, "<f4"))
        return loaa_fail(LOAA_ERR_FORMAT, "%s: .npy dtype must be '<f4' (little-endian float32)", name);
    if (h.fortran_order)
        return loaa_fail(LOAA_ERR_FORMAT, "%s: .npy must be in C order (fortran_order False)", name);
    if (h.ndim != 2)
        return loaa_fail(LOAA_ERR_FORMAT, "%s: .npy must be 2-D [rows, cols]", name);
    long r = h.shape[0], c = h.shape[1];
    if (r > (1 << 24) || c > (1 << 24))
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
