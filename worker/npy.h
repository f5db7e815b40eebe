/*
 * npy.h - the subset of NumPy's .npy format loaa stores in shards: a 2-D
 * little-endian float32 array in C order ("<f4", fortran_order False),
 * versions 1.0 to 3.0 of the header.
 */
#ifndef LOAA_NPY_H
#define LOAA_NPY_H

#include <stddef.h>

#include "common/status.h"

/*
 * Parses an in-memory .npy file. On success *data points INTO buf (at the
 * first element; it may be unaligned, copy with memcpy) and rows/cols give
 * the shape. Anything else (wrong dtype, ndim != 2, truncated) is
 * LOAA_ERR_FORMAT naming `name`.
 */
loaa_status loaa_npy_parse(const void *buf, size_t size, const char *name, const unsigned char **data, int *rows,
                           int *cols);

/* A malloc'ed .npy image of x (rows, cols). */
loaa_status loaa_npy_encode(const float *x, int rows, int cols, void **out, size_t *size);

#endif
