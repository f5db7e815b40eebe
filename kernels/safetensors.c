/*
 * safetensors.c - safetensors reader (mmap, validate everything at open)
 * and atomic writer. See safetensors.h for the contract.
 */
#include "kernels/safetensors.h"
#include "kernels/gemm.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/fs.h"

/* More tensors than any ViT has by far; bounds the work a hostile header can ask for. */
#define MAX_TENSORS 1000000
#define META_KEY "__metadata__"

typedef struct meta_pair {
    char *key, *value;
} meta_pair;

struct loaa_safetensors_file {
    char *path;
    const uint8_t *map;   /* whole file */
    size_t map_size;
    int mapped;           /* 1: munmap on close */
    const uint8_t *data;  /* data section */
    size_t data_size;
    loaa_safetensors_tensor *tensors;
    size_t count;
    meta_pair *meta;
    size_t meta_count;
};

typedef struct dtype_info {
    const char *name;
    size_t size;
    loaa_safetensors_dtype kind;
} dtype_info;

/* Every dtype of the format, so that sizes can be checked even for those we do not convert. */
static const dtype_info dtypes[] = {
    {"F32", 4, LOAA_SAFETENSORS_F32},     {"F16", 2, LOAA_SAFETENSORS_F16},     {"BF16", 2, LOAA_SAFETENSORS_BF16},
    {"F64", 8, LOAA_SAFETENSORS_OTHER},   {"I64", 8, LOAA_SAFETENSORS_OTHER},   {"U64", 8, LOAA_SAFETENSORS_OTHER},
    {"I32", 4, LOAA_SAFETENSORS_OTHER},   {"U32", 4, LOAA_SAFETENSORS_OTHER},   {"I16", 2, LOAA_SAFETENSORS_OTHER},
    {"U16", 2, LOAA_SAFETENSORS_OTHER},   {"I8", 1, LOAA_SAFETENSORS_OTHER},    {"U8", 1, LOAA_SAFETENSORS_OTHER},
    {"BOOL", 1, LOAA_SAFETENSORS_OTHER},  {"F8_E4M3", 1, LOAA_SAFETENSORS_OTHER}, {"F8_E5M2", 1, LOAA_SAFETENSORS_OTHER},
};

static const dtype_info *find_dtype(const char *name)
{
    for (size_t i = 0; i < sizeof dtypes / sizeof dtypes[0]; i++)
        if (strcmp(dtypes[i].name, name) == 0)
            return &dtypes[i];
    return NULL;
}

float loaa_f16_to_f32(uint16_t h)
{
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
    uint32_t exp = (h >> 10) & 0x1fu;
    uint32_t man = h & 0x3ffu;
    uint32_t bits;
    if (exp == 0x1f) {
        bits = sign | 0x7f800000u | (man << 13);
    } else if (exp == 0) {
        if (man == 0) {
            bits = sign;
        } else { /* subnormal: normalise */
            int e = -1;
            do {
                man <<= 1;
                e++;
            } while (!(man & 0x400u));
            bits = sign | ((uint32_t)(127 - 15 - e) << 23) | ((man & 0x3ffu) << 13);
        }
    } else {
        bits = sign | ((exp + 127 - 15) << 23) | (man << 13);
    }
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

static int cmp_tensor_name(const void *a, const void *b)
{
    return strcmp(((const loaa_safetensors_tensor *)a)->name, ((const loaa_safetensors_tensor *)b)->name);
}

static int cmp_meta_key(const void *a, const void *b)
{
    return strcmp(((const meta_pair *)a)->key, ((const meta_pair *)b)->key);
}

static int cmp_tensor_ptr_begin(const void *a, const void *b)
{
    const loaa_safetensors_tensor *x = *(const loaa_safetensors_tensor *const *)a, *y = *(const loaa_safetensors_tensor *const *)b;
    if (x->begin != y->begin)
        return x->begin < y->begin ? -1 : 1;
    return x->end < y->end ? -1 : x->end > y->end;
}

static void free_contents(loaa_safetensors_file *f)
{
    for (size_t i = 0; i < f->count; i++)
        free((char *)f->tensors[i].name);
    free(f->tensors);
    for (size_t i = 0; i < f->meta_count; i++) {
        free(f->meta[i].key);
        free(f->meta[i].value);
    }
    free(f->meta);
}

void loaa_safetensors_close(loaa_safetensors_file *f)
{
    if (!f)
        return;
    free_contents(f);
    if (f->mapped && f->map_size)
        munmap((void *)f->map, f->map_size);
    free(f->path);
    free(f);
}

/* One header entry -> t; the name is already set. */
static loaa_status parse_entry(loaa_safetensors_file *f, const char *name, json_t *v, loaa_safetensors_tensor *t)
{
    const char *p = f->path;
    if (!json_is_object(v))
        return loaa_fail(LOAA_ERR_FORMAT, "%s: tensor '%s': header entry is not an object", p, name);
    json_t *jd = json_object_get(v, "dtype"), *js = json_object_get(v, "shape");
    json_t *jo = json_object_get(v, "data_offsets");
    if (!json_is_string(jd))
        return loaa_fail(LOAA_ERR_FORMAT, "%s: tensor '%s': 'dtype' missing or not a string", p, name);
    if (!json_is_array(js))
        return loaa_fail(LOAA_ERR_FORMAT, "%s: tensor '%s': 'shape' missing or not a list", p, name);
    if (!json_is_array(jo) || json_array_size(jo) != 2)
        return loaa_fail(LOAA_ERR_FORMAT, "%s: tensor '%s': 'data_offsets' must be a list [begin, end]", p,
                         name);
    if (json_object_size(v) != 3)
        return loaa_fail(LOAA_ERR_FORMAT, "%s: tensor '%s': unexpected keys besides dtype, shape, data_offsets",
                         p, name);
    const dtype_info *di = find_dtype(json_string_value(jd));
    if (!di)
        return loaa_fail(LOAA_ERR_FORMAT, "%s: tensor '%s': unknown dtype '%.32s'", p, name,
                         json_string_value(jd));
    t->dtype = di->kind;
    t->dtype_name = di->name;
    size_t nd = json_array_size(js);
    if (nd > LOAA_SAFETENSORS_MAX_DIMS)
        return loaa_fail(LOAA_ERR_FORMAT, "%s: tensor '%s': %zu dimensions (at most %d)", p, name, nd,
                         LOAA_SAFETENSORS_MAX_DIMS);
    t->ndim = (int)nd;
    size_t numel = 1;
    for (size_t i = 0; i < nd; i++) {
        json_t *d = json_array_get(js, i);
        if (!json_is_integer(d) || json_integer_value(d) < 0)
            return loaa_fail(LOAA_ERR_FORMAT, "%s: tensor '%s': shape[%zu] is not a non-negative integer", p,
                             name, i);
        t->shape[i] = json_integer_value(d);
        if (__builtin_mul_overflow(numel, (size_t)t->shape[i], &numel))
            return loaa_fail(LOAA_ERR_FORMAT, "%s: tensor '%s': shape product overflows", p, name);
    }
    t->numel = numel;
    json_t *b = json_array_get(jo, 0), *e = json_array_get(jo, 1);
    if (!json_is_integer(b) || !json_is_integer(e) || json_integer_value(b) < 0 || json_integer_value(e) < 0)
        return loaa_fail(LOAA_ERR_FORMAT, "%s: tensor '%s': data_offsets are not non-negative integers", p,
                         name);
    json_int_t jb = json_integer_value(b), je = json_integer_value(e);
    if ((unsigned long long)jb > f->data_size || (unsigned long long)je > f->data_size)
        return loaa_fail(LOAA_ERR_FORMAT, "%s: tensor '%s': data_offsets [%lld, %lld] outside the %zu data bytes",
                         p, name, (long long)jb, (long long)je, f->data_size);
    if (je < jb)
        return loaa_fail(LOAA_ERR_FORMAT, "%s: tensor '%s': data_offsets end %lld before begin %lld", p, name,
                         (long long)je, (long long)jb);
    t->begin = (size_t)jb;
    t->end = (size_t)je;
    size_t bytes;
    if (__builtin_mul_overflow(numel, di->size, &bytes) || bytes != t->end - t->begin)
        return loaa_fail(LOAA_ERR_FORMAT, "%s: tensor '%s': shape and %s need %zu bytes, data_offsets give %zu", p,
                         name, di->name, numel * di->size, t->end - t->begin);
    return LOAA_OK;
}

static loaa_status parse_metadata(loaa_safetensors_file *f, json_t *m)
{
    if (!json_is_object(m))
        return loaa_fail(LOAA_ERR_FORMAT, "%s: '__metadata__' is not an object", f->path);
    size_t n = json_object_size(m);
    f->meta = calloc(n ? n : 1, sizeof *f->meta);
    if (!f->meta)
        return loaa_fail(LOAA_ERR_NOMEM, "%s: metadata", f->path);
    const char *key;
    json_t *v;
    json_object_foreach(m, key, v) {
        if (!json_is_string(v))
            return loaa_fail(LOAA_ERR_FORMAT, "%s: metadata '%.64s' is not a string", f->path, key);
        meta_pair *mp = &f->meta[f->meta_count];
        mp->key = strdup(key);
        mp->value = strdup(json_string_value(v));
        if (!mp->key || !mp->value) {
            free(mp->key);
            free(mp->value);
            return loaa_fail(LOAA_ERR_NOMEM, "%s: metadata", f->path);
        }
        f->meta_count++;
    }
    qsort(f->meta, f->meta_count, sizeof *f->meta, cmp_meta_key);
    return LOAA_OK;
}

/* Data must be covered exactly: sorted by begin, each tensor starts where the previous ended. */
static loaa_status check_coverage(loaa_safetensors_file *f)
{
    if (f->count == 0) {
        if (f->data_size)
            return loaa_fail(LOAA_ERR_FORMAT, "%s: %zu data bytes but no tensors", f->path, f->data_size);
        return LOAA_OK;
    }
    const loaa_safetensors_tensor **order = malloc(f->count * sizeof *order);
    if (!order)
        return loaa_fail(LOAA_ERR_NOMEM, "%s: tensor index", f->path);
    for (size_t i = 0; i < f->count; i++)
        order[i] = &f->tensors[i];
    qsort(order, f->count, sizeof *order, cmp_tensor_ptr_begin);
    size_t at = 0;
    loaa_status st = LOAA_OK;
    for (size_t i = 0; i < f->count && !st; i++) {
        const loaa_safetensors_tensor *t = order[i];
        if (t->begin < at)
            st = loaa_fail(LOAA_ERR_FORMAT, "%s: tensor '%s': data [%zu, %zu) overlaps tensor '%s'", f->path,
                           t->name, t->begin, t->end, order[i - 1]->name);
        else if (t->begin > at)
            st = loaa_fail(LOAA_ERR_FORMAT, "%s: tensor '%s': gap of %zu bytes before its data", f->path, t->name,
                           t->begin - at);
        at = t->end;
    }
    if (!st && at != f->data_size)
        st = loaa_fail(LOAA_ERR_FORMAT, "%s: %zu trailing data bytes belong to no tensor", f->path,
                       f->data_size - at);
    free(order);
    return st;
}

static loaa_status parse_header(loaa_safetensors_file *f)
{
    if (f->map_size < 8)
        return loaa_fail(LOAA_ERR_FORMAT, "%s: %zu bytes, too short for the 8-byte header length", f->path,
                         f->map_size);
    uint64_t n = 0;
    for (int i = 7; i >= 0; i--)
        n = (n << 8) | f->map[i];
    if (n > LOAA_SAFETENSORS_MAX_HEADER)
        return loaa_fail(LOAA_ERR_LIMIT, "%s: header length %llu exceeds the %u-byte cap", f->path,
                         (unsigned long long)n, LOAA_SAFETENSORS_MAX_HEADER);
    if (n > f->map_size - 8)
        return loaa_fail(LOAA_ERR_FORMAT, "%s: header length %llu runs past the end of the %zu-byte file",
                         f->path, (unsigned long long)n, f->map_size);
    if (n < 2 || f->map[8] != '{')
        return loaa_fail(LOAA_ERR_FORMAT, "%s: header is not a JSON object", f->path);
    f->data = f->map + 8 + n;
    f->data_size = f->map_size - 8 - (size_t)n;

    json_error_t err;
    /* Objects may nest only two deep (entry, metadata); jansson itself caps recursion during parsing. */
    json_t *root = json_loadb((const char *)f->map + 8, (size_t)n, JSON_REJECT_DUPLICATES, &err);
    if (!root)
        return loaa_fail(LOAA_ERR_FORMAT, "%s: header JSON at byte %d: %s", f->path, err.position, err.text);
    loaa_status st = LOAA_OK;
    if (!json_is_object(root)) {
        st = loaa_fail(LOAA_ERR_FORMAT, "%s: header is not a JSON object", f->path);
        goto out;
    }
    size_t total = json_object_size(root);
    if (total > MAX_TENSORS) {
        st = loaa_fail(LOAA_ERR_LIMIT, "%s: %zu header entries exceed the cap of %d", f->path, total, MAX_TENSORS);
        goto out;
    }
    f->tensors = calloc(total ? total : 1, sizeof *f->tensors);
    if (!f->tensors) {
        st = loaa_fail(LOAA_ERR_NOMEM, "%s: %zu tensors", f->path, total);
        goto out;
    }
    const char *key;
    json_t *v;
    json_object_foreach(root, key, v) {
        if (strcmp(key, META_KEY) == 0) {
            if ((st = parse_metadata(f, v)))
                goto out;
            continue;
        }
        if (key[0] == '\0') {
            st = loaa_fail(LOAA_ERR_FORMAT, "%s: a tensor has an empty name", f->path);
            goto out;
        }
        loaa_safetensors_tensor *t = &f->tensors[f->count];
        t->name = strdup(key);
        if (!t->name) {
            st = loaa_fail(LOAA_ERR_NOMEM, "%s: tensor names", f->path);
            goto out;
        }
        f->count++;
        if ((st = parse_entry(f, key, v, t)))
            goto out;
    }
    qsort(f->tensors, f->count, sizeof *f->tensors, cmp_tensor_name);
    st = check_coverage(f);
out:
    json_decref(root);
    return st;
}

static loaa_status open_common(loaa_safetensors_file *f, loaa_safetensors_file **out)
{
    loaa_status st = parse_header(f);
    if (st) {
        loaa_safetensors_close(f);
        return st;
    }
    *out = f;
    return LOAA_OK;
}

loaa_status loaa_safetensors_open_memory(const void *data, size_t size, const char *name, loaa_safetensors_file **out)
{
    *out = NULL;
    loaa_safetensors_file *f = calloc(1, sizeof *f);
    if (!f || !(f->path = strdup(name ? name : "(memory)"))) {
        free(f);
        return loaa_fail(LOAA_ERR_NOMEM, "%s: safetensors handle", name ? name : "(memory)");
    }
    f->map = data;
    f->map_size = size;
    return open_common(f, out);
}

loaa_status loaa_safetensors_open(const char *path, loaa_safetensors_file **out)
{
    *out = NULL;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return loaa_fail(errno == ENOENT ? LOAA_ERR_NOTFOUND : LOAA_ERR_IO, "%s: %s", path, strerror(errno));
    struct stat sb;
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        close(fd);
        return loaa_fail(LOAA_ERR_IO, "%s: not a regular file", path);
    }
    loaa_safetensors_file *f = calloc(1, sizeof *f);
    if (!f || !(f->path = strdup(path))) {
        free(f);
        close(fd);
        return loaa_fail(LOAA_ERR_NOMEM, "%s: safetensors handle", path);
    }
    f->map_size = (size_t)sb.st_size;
    if (f->map_size) {
        void *p = mmap(NULL, f->map_size, PROT_READ, MAP_PRIVATE, fd, 0);
        if (p == MAP_FAILED) {
            int e = errno;
            close(fd);
            free(f->path);
            free(f);
            return loaa_fail(LOAA_ERR_IO, "%s: mmap: %s", path, strerror(e));
        }
        f->map = p;
        f->mapped = 1;
    }
    close(fd);
    return open_common(f, out);
}

const char *loaa_safetensors_path(const loaa_safetensors_file *f) { return f->path; }
size_t loaa_safetensors_count(const loaa_safetensors_file *f) { return f->count; }

const loaa_safetensors_tensor *loaa_safetensors_tensor_at(const loaa_safetensors_file *f, size_t i)
{
    return i < f->count ? &f->tensors[i] : NULL;
}

const loaa_safetensors_tensor *loaa_safetensors_find(const loaa_safetensors_file *f, const char *name)
{
    if (!f->count)
        return NULL;
    loaa_safetensors_tensor key = {.name = name};
    return bsearch(&key, f->tensors, f->count, sizeof *f->tensors, cmp_tensor_name);
}

loaa_status loaa_safetensors_require(const loaa_safetensors_file *f, const char *name, const loaa_safetensors_tensor **out)
{
    *out = loaa_safetensors_find(f, name);
    if (!*out)
        return loaa_fail(LOAA_ERR_NOTFOUND, "%s: tensor '%s' is missing", f->path, name);
    return LOAA_OK;
}

loaa_status loaa_safetensors_read_f32(const loaa_safetensors_file *f, const loaa_safetensors_tensor *t, float *dst, size_t count)
{
    if (count != t->numel)
        return loaa_fail(LOAA_ERR_SHAPE, "%s: tensor '%s': has %zu elements, the caller expects %zu", f->path,
                         t->name, t->numel, count);
    if (t->dtype == LOAA_SAFETENSORS_OTHER)
        return loaa_fail(LOAA_ERR_UNSUPPORTED, "%s: tensor '%s': dtype %s is not supported (F32, F16, BF16)",
                         f->path, t->name, t->dtype_name);
    const uint8_t *src = f->data + t->begin;
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    if (t->dtype == LOAA_SAFETENSORS_F32 && dst) {
        /* Bulk copy (the mapping may be unaligned, memcpy does not mind), then the finiteness scan. */
        if (count)
            memcpy(dst, src, count * sizeof(float));
        for (size_t i = 0; i < count; i++)
            if (!isfinite(dst[i]))
                return loaa_fail(LOAA_ERR_NUMERIC, "%s: tensor '%s': element %zu is %s", f->path, t->name, i,
                                 isnan(dst[i]) ? "NaN" : "Inf");
        return LOAA_OK;
    }
#endif
    for (size_t i = 0; i < count; i++) {
        float x;
        if (t->dtype == LOAA_SAFETENSORS_F32) {
            uint32_t b = (uint32_t)src[4 * i] | (uint32_t)src[4 * i + 1] << 8 | (uint32_t)src[4 * i + 2] << 16 |
                         (uint32_t)src[4 * i + 3] << 24;
            memcpy(&x, &b, 4);
        } else {
            uint16_t h = (uint16_t)(src[2 * i] | src[2 * i + 1] << 8);
            x = t->dtype == LOAA_SAFETENSORS_F16 ? loaa_f16_to_f32(h) : loaa_bf16_value(h);
        }
        if (!isfinite(x))
            return loaa_fail(LOAA_ERR_NUMERIC, "%s: tensor '%s': element %zu is %s", f->path, t->name, i,
                             isnan(x) ? "NaN" : "Inf");
        if (dst)
            dst[i] = x;
    }
    return LOAA_OK;
}

const char *loaa_safetensors_meta(const loaa_safetensors_file *f, const char *key)
{
    if (!f->meta_count) /* bsearch may not be handed a NULL array */
        return NULL;
    meta_pair k = {.key = (char *)key};
    const meta_pair *m = bsearch(&k, f->meta, f->meta_count, sizeof *f->meta, cmp_meta_key);
    return m ? m->value : NULL;
}

size_t loaa_safetensors_meta_count(const loaa_safetensors_file *f) { return f->meta_count; }

void loaa_safetensors_meta_at(const loaa_safetensors_file *f, size_t i, const char **key, const char **value)
{
    *key = i < f->meta_count ? f->meta[i].key : NULL;
    *value = i < f->meta_count ? f->meta[i].value : NULL;
}

/* ---- writer ---- */

typedef struct w_entry {
    char *name;
    const float *data;
    float *owned;
    int ndim;
    int64_t shape[LOAA_SAFETENSORS_MAX_DIMS];
    size_t numel;
} w_entry;

struct loaa_safetensors_writer {
    w_entry *e;
    size_t n, cap;
    json_t *meta;
};

loaa_status loaa_safetensors_writer_new(loaa_safetensors_writer **out)
{
    *out = calloc(1, sizeof **out);
    if (!*out || !((*out)->meta = json_object())) {
        free(*out);
        *out = NULL;
        return loaa_fail(LOAA_ERR_NOMEM, "safetensors writer");
    }
    return LOAA_OK;
}

void loaa_safetensors_writer_free(loaa_safetensors_writer *w)
{
    if (!w)
        return;
    for (size_t i = 0; i < w->n; i++) {
        free(w->e[i].name);
        free(w->e[i].owned);
    }
    free(w->e);
    json_decref(w->meta);
    free(w);
}

static loaa_status writer_add(loaa_safetensors_writer *w, const char *name, const float *data, int ndim,
                              const int64_t *shape, int copy)
{
    if (!name || !name[0] || strcmp(name, META_KEY) == 0)
        return loaa_fail(LOAA_ERR_INTERNAL, "safetensors writer: tensor name '%s' is empty or reserved",
                         name ? name : "");
    if (ndim < 0 || ndim > LOAA_SAFETENSORS_MAX_DIMS)
        return loaa_fail(LOAA_ERR_SHAPE, "safetensors writer: tensor '%s': %d dimensions", name, ndim);
    for (size_t i = 0; i < w->n; i++)
        if (strcmp(w->e[i].name, name) == 0)
            return loaa_fail(LOAA_ERR_INTERNAL, "safetensors writer: tensor '%s' added twice", name);
    size_t numel = 1;
    for (int i = 0; i < ndim; i++) {
        if (shape[i] < 0 || __builtin_mul_overflow(numel, (size_t)shape[i], &numel))
            return loaa_fail(LOAA_ERR_SHAPE, "safetensors writer: tensor '%s': bad shape[%d] = %lld", name, i,
                             (long long)shape[i]);
    }
    if (w->n == w->cap) {
        size_t cap = w->cap ? 2 * w->cap : 64;
        w_entry *e = realloc(w->e, cap * sizeof *e);
        if (!e)
            return loaa_fail(LOAA_ERR_NOMEM, "safetensors writer");
        w->e = e;
        w->cap = cap;
    }
    w_entry *e = &w->e[w->n];
    memset(e, 0, sizeof *e);
    if (!(e->name = strdup(name)))
        return loaa_fail(LOAA_ERR_NOMEM, "safetensors writer");
    if (copy) {
        e->owned = malloc(numel ? numel * sizeof(float) : 1);
        if (!e->owned) {
            free(e->name);
            return loaa_fail(LOAA_ERR_NOMEM, "safetensors writer: tensor '%s'", name);
        }
        if (numel)
            memcpy(e->owned, data, numel * sizeof(float));
        e->data = e->owned;
    } else {
        e->data = data;
    }
    e->ndim = ndim;
    for (int i = 0; i < ndim; i++)
        e->shape[i] = shape[i];
    e->numel = numel;
    w->n++;
    return LOAA_OK;
}

loaa_status loaa_safetensors_writer_add(loaa_safetensors_writer *w, const char *name, const float *data, int ndim,
                               const int64_t *shape)
{
    return writer_add(w, name, data, ndim, shape, 0);
}

loaa_status loaa_safetensors_writer_add_copy(loaa_safetensors_writer *w, const char *name, const float *data, int ndim,
                                    const int64_t *shape)
{
    return writer_add(w, name, data, ndim, shape, 1);
}

loaa_status loaa_safetensors_writer_meta(loaa_safetensors_writer *w, const char *key, const char *value)
{
    if (json_object_set_new(w->meta, key, json_string(value)) != 0)
        return loaa_fail(LOAA_ERR_NOMEM, "safetensors writer: metadata '%s' (not UTF-8?)", key);
    return LOAA_OK;
}

static char *build_header(loaa_safetensors_writer *w, size_t *len)
{
    json_t *root = json_object();
    size_t at = 0;
    int bad = !root;
    for (size_t i = 0; i < w->n && !bad; i++) {
        json_t *shape = json_array();
        for (int d = 0; shape && d < w->e[i].ndim; d++)
            json_array_append_new(shape, json_integer(w->e[i].shape[d]));
        size_t bytes = w->e[i].numel * 4;
        json_t *ent = json_pack("{s:s, s:o, s:[I,I]}", "dtype", "F32", "shape", shape, "data_offsets",
                                (json_int_t)at, (json_int_t)(at + bytes));
        bad = !ent || json_object_set_new(root, w->e[i].name, ent) != 0;
        at += bytes;
    }
    if (!bad && json_object_size(w->meta))
        bad = json_object_set(root, META_KEY, w->meta) != 0;
    char *text = bad ? NULL : json_dumps(root, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(root);
    if (!text)
        return NULL;
    /* Pad with spaces so the data starts 8-aligned, as the reference writer does. */
    size_t n = strlen(text), padded = (n + 7) & ~(size_t)7;
    char *out = realloc(text, padded + 1);
    if (!out) {
        free(text);
        return NULL;
    }
    memset(out + n, ' ', padded - n);
    out[padded] = '\0';
    *len = padded;
    return out;
}

static int write_all(int fd, const void *buf, size_t n)
{
    const uint8_t *p = buf;
    while (n) {
        ssize_t k = write(fd, p, n);
        if (k < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        p += k;
        n -= (size_t)k;
    }
    return 0;
}

static int write_tensor(int fd, const w_entry *e)
{
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    /* The disk order already: a checkpoint of a full fine-tune is a gigabyte, so no copy. */
    return e->numel ? write_all(fd, e->data, e->numel * sizeof(float)) : 0;
#endif
    /* Little-endian on disk: convert through a small buffer so big-endian hosts stay correct. */
    uint8_t buf[4096];
    size_t fill = 0;
    for (size_t i = 0; i < e->numel; i++) {
        uint32_t b;
        memcpy(&b, &e->data[i], 4);
        buf[fill++] = (uint8_t)b;
        buf[fill++] = (uint8_t)(b >> 8);
        buf[fill++] = (uint8_t)(b >> 16);
        buf[fill++] = (uint8_t)(b >> 24);
        if (fill == sizeof buf) {
            if (write_all(fd, buf, fill))
                return -1;
            fill = 0;
        }
    }
    return fill ? write_all(fd, buf, fill) : 0;
}

loaa_status loaa_safetensors_writer_save(loaa_safetensors_writer *w, const char *path)
{
    for (size_t i = 0; i < w->n; i++)
        for (size_t j = 0; j < w->e[i].numel; j++)
            if (!isfinite(w->e[i].data[j]))
                return loaa_fail(LOAA_ERR_NUMERIC, "%s: tensor '%s': element %zu is %s, not written", path,
                                 w->e[i].name, j, isnan(w->e[i].data[j]) ? "NaN" : "Inf");
    size_t hlen;
    char *header = build_header(w, &hlen);
    if (!header)
        return loaa_fail(LOAA_ERR_NOMEM, "%s: header", path);
    loaa_fs_atomic a; /* a fresh O_EXCL temporary beside path; fsync, rename, fsync of the folder */
    loaa_status st = loaa_fs_atomic_open(&a, path);
    if (st) {
        free(header);
        return st;
    }
    uint8_t lenb[8];
    for (int i = 0; i < 8; i++)
        lenb[i] = (uint8_t)((uint64_t)hlen >> (8 * i));
    int bad = write_all(a.fd, lenb, 8) || write_all(a.fd, header, hlen);
    for (size_t i = 0; i < w->n && !bad; i++)
        bad = write_tensor(a.fd, &w->e[i]);
    if (bad) {
        st = loaa_fail(LOAA_ERR_IO, "%s: write: %s", path, strerror(errno));
        loaa_fs_atomic_abort(&a);
    } else {
        st = loaa_fs_atomic_commit(&a);
    }
    free(header);
    return st;
}
