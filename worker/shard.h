/*
 * shard.h - tar shards in the WebDataset convention, read as a stream with
 * libarchive (plain, gzip or zstd, detected from the content; never unpacked
 * to disk), and written atomically.
 *
 * Consecutive entries with the same key form one sample: "dir/KEY.wav" and
 * "dir/KEY.cls" share the key "dir/KEY" (the extension starts at the first
 * dot of the base name). Fields kept: audio (wav, flac, ogg), npy, cls, json;
 * other extensions are ignored, directories skipped. An entry naming an
 * absolute path or "..", a link, a device or FIFO, an entry larger than the
 * cap, or a decompressed stream that grows beyond max_ratio times its
 * compressed size is refused with an error naming the shard and key.
 */
#ifndef LOAA_SHARD_H
#define LOAA_SHARD_H

#include <stddef.h>

#include "common/status.h"

#define LOAA_KEY_MAX 256

typedef struct loaa_shard_limits {
    size_t max_entry;  /* bytes per entry; 0 = 256 MiB */
    double max_ratio;  /* decompressed / compressed bytes; 0 = 200 */
} loaa_shard_limits;

/* One sample's raw fields; each buffer malloc'ed (NUL-terminated past size), or NULL when absent. */
typedef struct loaa_raw_sample {
    char key[LOAA_KEY_MAX];
    unsigned char *audio;     /* wav/flac/ogg image */
    size_t audio_size;
    char audio_ext[8];
    unsigned char *npy;
    size_t npy_size;
    char *cls;                /* text */
    char *json;               /* text */
} loaa_raw_sample;

void loaa_raw_sample_clear(loaa_raw_sample *s);

typedef struct loaa_shard loaa_shard;

/* Opens a shard for streaming; LOAA_ERR_NOTFOUND / LOAA_ERR_FORMAT name it. limits may be NULL. */
loaa_status loaa_shard_open(const char *path, const loaa_shard_limits *limits, loaa_shard **out);

/*
 * The next sample: *got = 1 and *out filled (cleared first), or *got = 0 at
 * the end of the shard. A corrupt or truncated shard is LOAA_ERR_FORMAT
 * "SHARD: key 'KEY': ..." (or "after key" when the header itself is broken);
 * after any failure the shard can only be closed.
 */
loaa_status loaa_shard_next(loaa_shard *s, loaa_raw_sample *out, int *got);
/* As loaa_shard_open over a memory buffer (borrowed; must outlive the shard); name appears in errors. */
loaa_status loaa_shard_open_memory(const void *buf, size_t size, const char *name, const loaa_shard_limits *limits,
                                   loaa_shard **out);
void loaa_shard_close(loaa_shard *s);

/* --- writing --- */

typedef enum loaa_compress { LOAA_COMPRESS_NONE, LOAA_COMPRESS_GZ, LOAA_COMPRESS_ZST } loaa_compress;

typedef struct loaa_shard_writer loaa_shard_writer;

/*
 * Starts PATH under a fresh temporary name beside it (common/fs's
 * loaa_fs_atomic: O_EXCL, never a planted link); loaa_shard_writer_finish
 * fsyncs it, renames it into place and fsyncs the folder, so an interrupted
 * writer never leaves a truncated shard under the final name. A failed
 * finish or loaa_shard_writer_abort removes the temporary file.
 */
loaa_status loaa_shard_writer_open(const char *path, loaa_compress compress, loaa_shard_writer **out);
/* Adds one entry NAME (e.g. "KEY.wav") with size bytes of data. */
loaa_status loaa_shard_writer_add(loaa_shard_writer *w, const char *name, const void *data, size_t size);
/* Bytes added so far (uncompressed payload), for --bytes-per-shard. */
size_t loaa_shard_writer_bytes(const loaa_shard_writer *w);
loaa_status loaa_shard_writer_finish(loaa_shard_writer *w);
void loaa_shard_writer_abort(loaa_shard_writer *w);

#endif
