/*
 * safetensors.h - reader and writer of the safetensors format, the one
 * weights format of loaa (backbones, checkpoints, adapter files).
 *
 * Layout: an 8-byte little-endian header length N, N bytes of JSON
 *   {"NAME": {"dtype": "F32", "shape": [..], "data_offsets": [begin, end]}, ...,
 *    "__metadata__": {"key": "value", ...}}
 * and then the raw little-endian tensor bytes; offsets are relative to the
 * byte after the header.
 *
 * Reader: the file is memory-mapped and the whole header is validated at
 * open, before any tensor is touched: N against the file size and a 100 MB
 * cap, JSON syntax (duplicate keys refused), every entry's dtype, shape
 * (non-negative, product x dtype size == end - begin, no overflow) and
 * offsets (inside the data, sorted data covering it exactly with no gap or
 * overlap), metadata a string-to-string map. Dtypes of the format that loaa
 * cannot convert (I64, F64, ...) pass open so that a file with such a buffer
 * still opens; reading one of them is refused naming the tensor. Reading
 * converts F32, F16 and BF16 to float32 and refuses NaN/Inf.
 *
 *     loaa_safetensors_file *f;
 *     st = loaa_safetensors_open("w.safetensors", &f);
 *     const loaa_safetensors_tensor *t = loaa_safetensors_find(f, "pos_embed");
 *     st = loaa_safetensors_read_f32(f, t, buf, t->numel);
 *     loaa_safetensors_close(f);
 *
 * Writer: float32 tensors and string metadata, written to a temporary file
 * in the target's folder that is renamed over the target only when complete,
 * so a reader never sees half a file.
 *
 * Every failure returns a status with a detail naming the file and, where
 * one is at fault, the tensor.
 */
#ifndef LOAA_SAFETENSORS_H
#define LOAA_SAFETENSORS_H

#include <stddef.h>
#include <stdint.h>

#include "common/status.h"

#define LOAA_SAFETENSORS_MAX_DIMS 8
#define LOAA_SAFETENSORS_MAX_HEADER (100u << 20) /* the reference implementation's cap */

typedef enum loaa_safetensors_dtype {
    LOAA_SAFETENSORS_F32,
    LOAA_SAFETENSORS_F16,
    LOAA_SAFETENSORS_BF16,
    LOAA_SAFETENSORS_OTHER /* a dtype of the format that loaa does not convert */
} loaa_safetensors_dtype;

typedef struct loaa_safetensors_tensor {
    const char *name;
    loaa_safetensors_dtype dtype;
    const char *dtype_name; /* as written: "F32", "I64", ... */
    int ndim;
    int64_t shape[LOAA_SAFETENSORS_MAX_DIMS];
    size_t numel;
    size_t begin, end; /* byte offsets into the data section */
} loaa_safetensors_tensor;

typedef struct loaa_safetensors_file loaa_safetensors_file;

/* Opens and validates a file. Caller closes with loaa_safetensors_close. */
loaa_status loaa_safetensors_open(const char *path, loaa_safetensors_file **out);

/*
 * As loaa_safetensors_open on a buffer already in memory (fuzzing, tests); the bytes
 * are not copied and must outlive the handle. name is used in messages.
 */
loaa_status loaa_safetensors_open_memory(const void *data, size_t size, const char *name, loaa_safetensors_file **out);

/* Unmaps and frees; NULL is ignored. Pointers obtained from the handle die with it. */
void loaa_safetensors_close(loaa_safetensors_file *f);

/* The path (or name) the handle was opened with. */
const char *loaa_safetensors_path(const loaa_safetensors_file *f);

/* Number of tensors; tensors are ordered by name. */
size_t loaa_safetensors_count(const loaa_safetensors_file *f);
const loaa_safetensors_tensor *loaa_safetensors_tensor_at(const loaa_safetensors_file *f, size_t i);

/* The tensor with that name, or NULL. */
const loaa_safetensors_tensor *loaa_safetensors_find(const loaa_safetensors_file *f, const char *name);

/*
 * The tensor with that name, or LOAA_ERR_NOTFOUND "FILE: tensor 'x' is missing".
 */
loaa_status loaa_safetensors_require(const loaa_safetensors_file *f, const char *name, const loaa_safetensors_tensor **out);

/*
 * Converts a tensor to float32 into dst, which holds count floats; count
 * must equal t->numel (LOAA_ERR_SHAPE otherwise). dst NULL only checks
 * (dtype and finiteness) without writing. LOAA_ERR_UNSUPPORTED for dtypes
 * other than F32/F16/BF16, LOAA_ERR_NUMERIC at the first NaN/Inf (dst may
 * then hold part of the tensor).
 */
loaa_status loaa_safetensors_read_f32(const loaa_safetensors_file *f, const loaa_safetensors_tensor *t, float *dst, size_t count);

/* A metadata value, or NULL when the key is absent. */
const char *loaa_safetensors_meta(const loaa_safetensors_file *f, const char *key);
size_t loaa_safetensors_meta_count(const loaa_safetensors_file *f);
/* The i-th metadata pair (ordered by key). */
void loaa_safetensors_meta_at(const loaa_safetensors_file *f, size_t i, const char **key, const char **value);

/* Writer. */
typedef struct loaa_safetensors_writer loaa_safetensors_writer;

loaa_status loaa_safetensors_writer_new(loaa_safetensors_writer **out);
void loaa_safetensors_writer_free(loaa_safetensors_writer *w);

/*
 * Adds a float32 tensor. The data is not copied: it must stay valid until
 * loaa_safetensors_writer_save returns. Refused: an empty, duplicate or reserved
 * name, ndim outside 0..8, a negative dimension.
 */
loaa_status loaa_safetensors_writer_add(loaa_safetensors_writer *w, const char *name, const float *data, int ndim,
                               const int64_t *shape);

/* As loaa_safetensors_writer_add, but keeps its own copy of the data. */
loaa_status loaa_safetensors_writer_add_copy(loaa_safetensors_writer *w, const char *name, const float *data, int ndim,
                                    const int64_t *shape);

/* Sets a metadata pair (both copied); a second set of a key replaces the value. */
loaa_status loaa_safetensors_writer_meta(loaa_safetensors_writer *w, const char *key, const char *value);

/*
 * Writes the file atomically (temporary file, fsync, rename). Tensors are
 * stored in the order added; header keys sorted. A NaN/Inf in any tensor
 * is refused (LOAA_ERR_NUMERIC naming it) before anything is written, since
 * the reader would refuse the file. On failure the target is untouched.
 */
loaa_status loaa_safetensors_writer_save(loaa_safetensors_writer *w, const char *path);

/* Half-precision to float32 (exact), exposed for tests. (bfloat16: gemm.h's loaa_bf16_value.) */
float loaa_f16_to_f32(uint16_t h);

#endif
