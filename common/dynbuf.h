/*
 * dynbuf.h - growable memory, in one place (in the spirit of curl's
 * Curl_dyn_* buffers): a byte buffer with a length cap that stays
 * NUL-terminated, and a reserve for arrays of fixed-size elements.
 *
 * A loaa_dyn fails clearly and stays failed: when an addition would pass
 * the cap (LOAA_ERR_LIMIT) or memory runs out (LOAA_ERR_NOMEM), the bytes
 * are freed, that status is returned and kept, and every later addition
 * returns it without doing anything. So a writer can add many pieces and
 * check once (loaa_dyn_status) at the end. These functions set no error
 * detail: the caller knows what the buffer held and names it.
 */
#ifndef LOAA_DYNBUF_H
#define LOAA_DYNBUF_H

#include <stddef.h>

#include "common/status.h"

typedef struct loaa_dyn {
    char *data;         /* NULL until the first byte; always NUL-terminated after that */
    size_t len;         /* bytes held, not counting the NUL */
    size_t alloc;       /* bytes allocated */
    size_t max;         /* most bytes it may hold */
    loaa_status failed; /* LOAA_OK, or the failure that emptied it */
} loaa_dyn;

/* An empty buffer that may hold up to max bytes (max >= 1). */
void loaa_dyn_init(loaa_dyn *b, size_t max);

/* Frees the bytes; the buffer is empty (and no longer failed), ready for reuse with the same cap. */
void loaa_dyn_free(loaa_dyn *b);

/* Appends n bytes (n may be 0). Returns LOAA_OK, or LOAA_ERR_LIMIT / LOAA_ERR_NOMEM (buffer freed, failed). */
loaa_status loaa_dyn_add(loaa_dyn *b, const void *mem, size_t n);

/* Appends a NUL-terminated string. Same results as loaa_dyn_add. */
loaa_status loaa_dyn_adds(loaa_dyn *b, const char *s);

/* Appends printf-formatted text. Same results as loaa_dyn_add. */
loaa_status loaa_dyn_addf(loaa_dyn *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/*
 * Room to write n bytes after the held ones (for read(2) or fread): returns
 * the place, or NULL when the cap or memory refuses (buffer freed, failed).
 * loaa_dyn_advance(b, k) then counts k <= n of them as held.
 */
char *loaa_dyn_space(loaa_dyn *b, size_t n);
void loaa_dyn_advance(loaa_dyn *b, size_t k);

/* Marks the buffer failed with st (a step that feeds it failed): frees the bytes, as a failed addition does. */
void loaa_dyn_fail(loaa_dyn *b, loaa_status st);

/* Drops the first n <= len bytes (a consumed line), keeping the rest in order. */
void loaa_dyn_drop(loaa_dyn *b, size_t n);

/* Hands the bytes to the caller (who frees them; NULL when empty or failed), *len (may be NULL) their length; b is empty. */
char *loaa_dyn_take(loaa_dyn *b, size_t *len);

/* The held bytes ("" when empty or failed: never NULL), their length, and LOAA_OK or the failure that emptied the buffer. */
const char *loaa_dyn_ptr(const loaa_dyn *b);
size_t loaa_dyn_len(const loaa_dyn *b);
loaa_status loaa_dyn_status(const loaa_dyn *b);

/*
 * Makes the array *array (of *cap elements of size bytes) hold at least
 * need elements, doubling; *array and *cap change only on success. Returns
 * LOAA_OK, or LOAA_ERR_NOMEM (also when the size would overflow) with the
 * array as it was. No error detail.
 */
loaa_status loaa_dyn_reserve_array(void **array, size_t *cap, size_t need, size_t size);

#endif
