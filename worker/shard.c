/*
 * shard.c - WebDataset tar shards over libarchive (see shard.h). Entries are
 * read sequentially into memory one at a time, with a one-entry look-ahead
 * to find where a sample's group of entries ends.
 */
#include "worker/shard.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/fs.h"

struct loaa_shard {
    struct archive *a;
    char *path;
    loaa_shard_limits lim;
    int compressed;
    int eof, failed;
    /* the entry read ahead: its key, field and data */
    int have_next;
    char next_key[LOAA_KEY_MAX];
    char next_ext[32];
    unsigned char *next_data;
    size_t next_size;
    char last_key[LOAA_KEY_MAX];
    /* an error found while reading ahead past a complete sample, raised by the next call */
    loaa_status deferred;
    char deferred_msg[1024];
};

void loaa_raw_sample_clear(loaa_raw_sample *s)
{
    free(s->audio);
    free(s->npy);
    free(s->cls);
    free(s->json);
    memset(s, 0, sizeof *s);
}

static loaa_status shard_new(const char *name, const loaa_shard_limits *limits, loaa_shard **out)
{
    loaa_shard *s = calloc(1, sizeof *s);
    if (!s || !(s->path = strdup(name))) {
        free(s);
        return loaa_fail(LOAA_ERR_NOMEM, "%s: out of memory", name);
    }
    s->lim.max_entry = limits && limits->max_entry ? limits->max_entry : (size_t)256 << 20;
    s->lim.max_ratio = limits && limits->max_ratio > 0 ? limits->max_ratio : 200;
    s->a = archive_read_new();
    if (!s->a) {
        loaa_shard_close(s);
        return loaa_fail(LOAA_ERR_NOMEM, "%s: out of memory", name);
    }
    archive_read_support_filter_none(s->a);
    archive_read_support_filter_gzip(s->a);
    archive_read_support_filter_zstd(s->a);
    archive_read_support_format_tar(s->a);
    *out = s;
    return LOAA_OK;
}

loaa_status loaa_shard_open(const char *path, const loaa_shard_limits *limits, loaa_shard **out)
{
    *out = NULL;
    struct stat sb;
    if (stat(path, &sb) != 0)
        return loaa_fail(errno == ENOENT ? LOAA_ERR_NOTFOUND : LOAA_ERR_IO, "%s: %s", path, strerror(errno));
    loaa_shard *s;
    loaa_status st = shard_new(path, limits, &s);
    if (st)
        return st;
    if (archive_read_open_filename(s->a, path, 1 << 16) != ARCHIVE_OK) {
        st = loaa_fail(LOAA_ERR_FORMAT, "%s: %s", path, archive_error_string(s->a));
        loaa_shard_close(s);
        return st;
    }
    *out = s;
    return LOAA_OK;
}

loaa_status loaa_shard_open_memory(const void *buf, size_t size, const char *name, const loaa_shard_limits *limits,
                                   loaa_shard **out)
{
    *out = NULL;
    loaa_shard *s;
    loaa_status st = shard_new(name, limits, &s);
    if (st)
        return st;
    if (archive_read_open_memory(s->a, buf, size) != ARCHIVE_OK) {
        st = loaa_fail(LOAA_ERR_FORMAT, "%s: %s", name, archive_error_string(s->a));
        loaa_shard_close(s);
        return st;
    }
    *out = s;
    return LOAA_OK;
}

void loaa_shard_close(loaa_shard *s)
{
    if (!s)
        return;
    if (s->a)
        archive_read_free(s->a);
    free(s->next_data);
    free(s->path);
    free(s);
}

static int unsafe_name(const char *p)
{
    if (p[0] == '/')
        return 1;
    for (const char *s = p; *s;) {
        const char *e = strchr(s, '/');
        size_t n = e ? (size_t)(e - s) : strlen(s);
        if (n == 2 && s[0] == '.' && s[1] == '.')
            return 1;
        if (!e)
            break;
        s = e + 1;
    }
    return 0;
}

/* Reads the next regular entry into the look-ahead slot; sets eof at the end. */
static loaa_status read_ahead(loaa_shard *s)
{
    struct archive_entry *e;
    s->next_key[0] = '\0';
    for (;;) {
        int r = archive_read_next_header(s->a, &e);
        if (r == ARCHIVE_EOF) {
            s->eof = 1;
            return LOAA_OK;
        }
        if (r < ARCHIVE_WARN) {
            if (s->last_key[0])
                return loaa_fail(LOAA_ERR_FORMAT, "%s: after key '%s': corrupt or truncated shard (%s)", s->path,
                                 s->last_key, archive_error_string(s->a));
            return loaa_fail(LOAA_ERR_FORMAT, "%s: corrupt or truncated shard (%s)", s->path, archive_error_string(s->a));
        }
        if (archive_filter_count(s->a) > 1)
            s->compressed = 1;
        const char *name = archive_entry_pathname(e);
        if (!name)
            return loaa_fail(LOAA_ERR_FORMAT, "%s: after key '%s': entry without a name", s->path, s->last_key);
        mode_t type = archive_entry_filetype(e);
        if (type == AE_IFDIR)
            continue;
        if (unsafe_name(name))
            return loaa_fail(LOAA_ERR_FORMAT, "%s: entry '%s': absolute path or '..' refused", s->path, name);
        if (type != AE_IFREG || archive_entry_hardlink(e) || archive_entry_symlink(e))
            return loaa_fail(LOAA_ERR_FORMAT, "%s: entry '%s': links, devices and FIFOs are refused", s->path, name);
        const char *base = strrchr(name, '/');
        base = base ? base + 1 : name;
        const char *dot = strchr(base, '.');
        size_t keylen = dot ? (size_t)(dot - name) : strlen(name);
        if (keylen == 0 || keylen >= LOAA_KEY_MAX || !dot || strlen(dot + 1) >= sizeof s->next_ext)
            return loaa_fail(LOAA_ERR_FORMAT, "%s: entry '%.300s': name is not KEY.EXT (key 1..%d bytes)", s->path, name,
                             LOAA_KEY_MAX - 1);
        memcpy(s->next_key, name, keylen);
        s->next_key[keylen] = '\0';
        snprintf(s->next_ext, sizeof s->next_ext, "%s", dot + 1);
        for (char *c = s->next_ext; *c; c++)
            if (*c >= 'A' && *c <= 'Z')
                *c = (char)(*c - 'A' + 'a');
        la_int64_t declared = archive_entry_size_is_set(e) ? archive_entry_size(e) : -1;
        if (declared > (la_int64_t)s->lim.max_entry)
            return loaa_fail(LOAA_ERR_LIMIT, "%s: key '%s': entry '%s' is %lld bytes, over the cap of %zu", s->path,
                             s->next_key, name, (long long)declared, s->lim.max_entry);
        size_t cap = declared >= 0 ? (size_t)declared : 65536;
        free(s->next_data);
        s->next_data = malloc(cap + 1);
        if (!s->next_data)
            return loaa_fail(LOAA_ERR_NOMEM, "%s: key '%s': out of memory", s->path, s->next_key);
        size_t len = 0;
        for (;;) {
            if (len == cap) {
                if (cap >= s->lim.max_entry)
                    return loaa_fail(LOAA_ERR_LIMIT, "%s: key '%s': entry '%s' is over the cap of %zu bytes", s->path,
                                     s->next_key, name, s->lim.max_entry);
                cap = cap * 2 > s->lim.max_entry ? s->lim.max_entry : cap * 2;
                unsigned char *d = realloc(s->next_data, cap + 1);
                if (!d)
                    return loaa_fail(LOAA_ERR_NOMEM, "%s: key '%s': out of memory", s->path, s->next_key);
                s->next_data = d;
            }
            la_ssize_t n = archive_read_data(s->a, s->next_data + len, cap - len);
            if (n < 0)
                return loaa_fail(LOAA_ERR_FORMAT, "%s: key '%s': corrupt or truncated entry '%s' (%s)", s->path,
                                 s->next_key, name, archive_error_string(s->a));
            if (n == 0)
                break;
            len += (size_t)n;
        }
        if (declared >= 0 && len != (size_t)declared)
            return loaa_fail(LOAA_ERR_FORMAT, "%s: key '%s': entry '%s' truncated (%zu of %lld bytes)", s->path,
                             s->next_key, name, len, (long long)declared);
        s->next_data[len] = '\0';
        s->next_size = len;
        if (s->compressed) {
            /* A zip-bomb guard: what the decompressor produced vs what it read from disk. */
            double raw = (double)archive_filter_bytes(s->a, -1), produced = (double)archive_filter_bytes(s->a, 0);
            if (produced > s->lim.max_ratio * raw + (1 << 20))
                return loaa_fail(LOAA_ERR_LIMIT, "%s: key '%s': compression ratio above %g refused", s->path,
                                 s->next_key, s->lim.max_ratio);
        }
        s->have_next = 1;
        return LOAA_OK;
    }
}

static loaa_status take_field(loaa_shard *s, loaa_raw_sample *out)
{
    const char *ext = s->next_ext;
    unsigned char **slot = NULL;
    size_t *size = NULL;
    if (!strcmp(ext, "wav") || !strcmp(ext, "flac") || !strcmp(ext, "ogg")) {
        if (out->audio || out->npy)
            return loaa_fail(LOAA_ERR_FORMAT, "%s: key '%s': more than one audio/npy entry", s->path, out->key);
        slot = &out->audio;
        size = &out->audio_size;
        memcpy(out->audio_ext, ext, strlen(ext) + 1); /* "wav", "flac" or "ogg": fits the 8 bytes */
    } else if (!strcmp(ext, "npy")) {
        if (out->audio || out->npy)
            return loaa_fail(LOAA_ERR_FORMAT, "%s: key '%s': more than one audio/npy entry", s->path, out->key);
        slot = &out->npy;
        size = &out->npy_size;
    } else if (!strcmp(ext, "cls")) {
        if (out->cls)
            return loaa_fail(LOAA_ERR_FORMAT, "%s: key '%s': two .cls entries", s->path, out->key);
        slot = (unsigned char **)&out->cls;
    } else if (!strcmp(ext, "json")) {
        if (out->json)
            return loaa_fail(LOAA_ERR_FORMAT, "%s: key '%s': two .json entries", s->path, out->key);
        slot = (unsigned char **)&out->json;
    }
    if (slot) {
        *slot = s->next_data;
        if (size)
            *size = s->next_size;
        s->next_data = NULL;
    }
    s->have_next = 0;
    return LOAA_OK;
}

loaa_status loaa_shard_next(loaa_shard *s, loaa_raw_sample *out, int *got)
{
    loaa_status st;
    loaa_raw_sample_clear(out);
    *got = 0;
    if (s->deferred) {
        s->failed = 1;
        loaa_status st2 = s->deferred;
        s->deferred = LOAA_OK;
        return loaa_fail(st2, "%s", s->deferred_msg);
    }
    if (s->failed)
        return loaa_fail(LOAA_ERR_INTERNAL, "%s: read after an error", s->path);
    if (!s->have_next && !s->eof && (st = read_ahead(s))) {
        s->failed = 1;
        return st;
    }
    if (!s->have_next)
        return LOAA_OK;
    snprintf(out->key, sizeof out->key, "%s", s->next_key);
    snprintf(s->last_key, sizeof s->last_key, "%s", s->next_key);
    for (;;) {
        if ((st = take_field(s, out))) {
            s->failed = 1;
            loaa_raw_sample_clear(out);
            return st;
        }
        if ((st = read_ahead(s))) {
            /* the sample so far is complete unless the broken entry was one of its own */
            if (!strcmp(s->next_key, out->key)) {
                s->failed = 1;
                loaa_raw_sample_clear(out);
                return st;
            }
            s->deferred = st;
            snprintf(s->deferred_msg, sizeof s->deferred_msg, "%s", loaa_error_detail());
            s->have_next = 0;
            break;
        }
        if (!s->have_next || strcmp(s->next_key, out->key))
            break;
    }
    *got = 1;
    return LOAA_OK;
}

/* --- writing --- */

struct loaa_shard_writer {
    struct archive *a;
    char *path;
    loaa_fs_atomic file; /* the shard under its temporary name; file.tmp names it */
    int file_open;       /* file holds an open temporary */
    size_t bytes;
};

loaa_status loaa_shard_writer_open(const char *path, loaa_compress compress, loaa_shard_writer **out)
{
    *out = NULL;
    loaa_shard_writer *w = calloc(1, sizeof *w);
    if (!w)
        return loaa_fail(LOAA_ERR_NOMEM, "%s: out of memory", path);
    w->path = strdup(path);
    w->a = archive_write_new();
    if (!w->path || !w->a) {
        loaa_shard_writer_abort(w);
        return loaa_fail(LOAA_ERR_NOMEM, "%s: out of memory", path);
    }
    archive_write_set_format_pax_restricted(w->a);
    int r = ARCHIVE_OK;
    if (compress == LOAA_COMPRESS_GZ)
        r = archive_write_add_filter_gzip(w->a);
    else if (compress == LOAA_COMPRESS_ZST)
        r = archive_write_add_filter_zstd(w->a);
    if (r != ARCHIVE_OK) {
        loaa_status st = loaa_fail(LOAA_ERR_UNSUPPORTED, "%s: compression not available (%s)", path, archive_error_string(w->a));
        loaa_shard_writer_abort(w);
        return st;
    }
    loaa_status st = loaa_fs_atomic_open(&w->file, path);
    if (st) {
        loaa_shard_writer_abort(w);
        return st;
    }
    w->file_open = 1;
    if (archive_write_open_fd(w->a, w->file.fd) != ARCHIVE_OK) {
        st = loaa_fail(LOAA_ERR_IO, "%s: %s", w->file.tmp, archive_error_string(w->a));
        loaa_shard_writer_abort(w);
        return st;
    }
    *out = w;
    return LOAA_OK;
}

loaa_status loaa_shard_writer_add(loaa_shard_writer *w, const char *name, const void *data, size_t size)
{
    struct archive_entry *e = archive_entry_new();
    if (!e)
        return loaa_fail(LOAA_ERR_NOMEM, "%s: out of memory", w->path);
    archive_entry_set_pathname(e, name);
    archive_entry_set_size(e, (la_int64_t)size);
    archive_entry_set_filetype(e, AE_IFREG);
    archive_entry_set_perm(e, 0644);
    archive_entry_set_mtime(e, 0, 0); /* reproducible shards: same input, same bytes */
    int r = archive_write_header(w->a, e);
    archive_entry_free(e);
    if (r != ARCHIVE_OK)
        return loaa_fail(LOAA_ERR_IO, "%s: entry '%s': %s", w->file.tmp, name, archive_error_string(w->a));
    if (size && archive_write_data(w->a, data, size) != (la_ssize_t)size)
        return loaa_fail(LOAA_ERR_IO, "%s: entry '%s': %s", w->file.tmp, name, archive_error_string(w->a));
    w->bytes += size;
    return LOAA_OK;
}

size_t loaa_shard_writer_bytes(const loaa_shard_writer *w) { return w->bytes; }

loaa_status loaa_shard_writer_finish(loaa_shard_writer *w)
{
    loaa_status st = LOAA_OK;
    if (archive_write_close(w->a) != ARCHIVE_OK) { /* the archive is done with the descriptor; it does not close it */
        st = loaa_fail(LOAA_ERR_IO, "%s: %s", w->file.tmp, archive_error_string(w->a));
        loaa_shard_writer_abort(w);
        return st;
    }
    w->file_open = 0; /* committed or, on failure, removed by the commit */
    st = loaa_fs_atomic_commit(&w->file);
    archive_write_free(w->a);
    free(w->path);
    free(w);
    return st;
    return LOAA_OK;
}

void loaa_shard_writer_abort(loaa_shard_writer *w)
{
    if (!w)
        return;
    if (w->a)
        archive_write_free(w->a);
    if (w->file_open)
        loaa_fs_atomic_abort(&w->file);
    free(w->path);
    free(w);
}
