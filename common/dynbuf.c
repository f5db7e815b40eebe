/* dynbuf.c - growable byte buffers with a cap, and array reserves (see dynbuf.h). */
#include "common/dynbuf.h"

#include <assert.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void loaa_dyn_init(loaa_dyn *b, size_t max)
{
    assert(b && max >= 1 && max < SIZE_MAX / 2);
    b->data = NULL;
    b->len = b->alloc = 0;
    b->max = max;
    b->failed = LOAA_OK;
}

void loaa_dyn_free(loaa_dyn *b)
{
    assert(b);
    free(b->data);
    b->data = NULL;
    b->len = b->alloc = 0;
    b->failed = LOAA_OK;
}

/* Empties the buffer and remembers why. Returns st. */
static loaa_status fail(loaa_dyn *b, loaa_status st)
{
    free(b->data);
    b->data = NULL;
    b->len = b->alloc = 0;
    b->failed = st;
    return st;
}

/* Makes room for n more bytes and the NUL. Returns LOAA_OK or the (kept) failure. */
static loaa_status ensure(loaa_dyn *b, size_t n)
{
    assert(b && b->max >= 1);
    if (b->failed)
        return b->failed;
    if (n > b->max - b->len)
        return fail(b, LOAA_ERR_LIMIT);
    size_t need = b->len + n + 1;
    if (need <= b->alloc)
        return LOAA_OK;
    size_t a = b->alloc ? b->alloc : 32;
    while (a < need)
        a *= 2;
    if (a > b->max + 1)
        a = b->max + 1;
    char *p = realloc(b->data, a);
    if (!p)
        return fail(b, LOAA_ERR_NOMEM);
    p[b->len] = '\0'; /* NUL-terminated from the first allocation on */
    b->data = p;
    b->alloc = a;
    return LOAA_OK;
}

loaa_status loaa_dyn_add(loaa_dyn *b, const void *mem, size_t n)
{
    assert(b && (mem || n == 0));
    loaa_status st = ensure(b, n);
    if (st)
        return st;
    if (n)
        memcpy(b->data + b->len, mem, n);
    b->len += n;
    b->data[b->len] = '\0';
    return LOAA_OK;
}

loaa_status loaa_dyn_adds(loaa_dyn *b, const char *s)
{
    assert(s);
    return loaa_dyn_add(b, s, strlen(s));
}

loaa_status loaa_dyn_addf(loaa_dyn *b, const char *fmt, ...)
{
    assert(b && fmt);
    if (b->failed)
        return b->failed;
    va_list ap;
    va_start(ap, fmt);
    char small[256];
    int n = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    if (n < 0)
        return fail(b, LOAA_ERR_INTERNAL);
    if ((size_t)n < sizeof small)
        return loaa_dyn_add(b, small, (size_t)n);
    loaa_status st = ensure(b, (size_t)n);
    if (st)
        return st;
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
    return LOAA_OK;
}

char *loaa_dyn_space(loaa_dyn *b, size_t n)
{
    if (ensure(b, n))
        return NULL;
    return b->data + b->len;
}

void loaa_dyn_advance(loaa_dyn *b, size_t k)
{
    assert(b && !b->failed && (k == 0 || (b->data && b->len + k < b->alloc)));
    if (!k)
        return;
    b->len += k;
    b->data[b->len] = '\0';
}

void loaa_dyn_fail(loaa_dyn *b, loaa_status st)
{
    assert(b && st != LOAA_OK);
    fail(b, st);
}

void loaa_dyn_drop(loaa_dyn *b, size_t n)
{
    assert(b && n <= b->len);
    if (!n)
        return;
    memmove(b->data, b->data + n, b->len - n);
    b->len -= n;
    b->data[b->len] = '\0';
}

char *loaa_dyn_take(loaa_dyn *b, size_t *len)
{
    assert(b);
    char *p = b->data;
    if (len)
        *len = b->len;
    b->data = NULL;
    b->len = b->alloc = 0;
    return p;
}

const char *loaa_dyn_ptr(const loaa_dyn *b)
{
    assert(b);
    return b->data ? b->data : "";
}

size_t loaa_dyn_len(const loaa_dyn *b)
{
    assert(b);
    return b->len;
}

loaa_status loaa_dyn_status(const loaa_dyn *b)
{
    assert(b);
    return b->failed;
}

loaa_status loaa_dyn_reserve_array(void **array, size_t *cap, size_t need, size_t size)
{
    assert(array && cap && size > 0 && (*array || *cap == 0));
    if (need <= *cap)
        return LOAA_OK;
    size_t c = *cap ? *cap : 8;
    while (c < need) {
        if (c > SIZE_MAX / 2)
            return LOAA_ERR_NOMEM;
        c *= 2;
    }
    if (c > SIZE_MAX / size)
        return LOAA_ERR_NOMEM;
    void *q = realloc(*array, c * size);
    if (!q)
        return LOAA_ERR_NOMEM;
    *array = q;
    *cap = c;
    return LOAA_OK;
}
