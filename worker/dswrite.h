/*
 * dswrite.h - writes a loaa dataset folder: samples go to tar shards per
 * group (a fold, or a split), shards roll over by sample count or bytes,
 * each shard appears under its final name only when complete (temp name,
 * then rename), and dataset.json is written last, the same way. Used by
 * `loaa pack` and `loaa synth`.
 */
#ifndef LOAA_DSWRITE_H
#define LOAA_DSWRITE_H

#include <jansson.h>
#include <stddef.h>

#include "common/status.h"
#include "worker/shard.h"

typedef struct loaa_dsw loaa_dsw;

typedef struct loaa_dsw_opts {
    int samples_per_shard;   /* 0 = 1000 */
    size_t bytes_per_shard;  /* 0 = no byte limit */
    loaa_compress compress;
} loaa_dsw_opts;

/*
 * Starts a dataset in outdir (created if missing) with n_groups groups: the
 * folds fold1..foldK when folds is non-zero, else the splits train, val,
 * test (n_groups must then be 3). Caller ends with finish or abort.
 */
loaa_status loaa_dsw_open(const char *outdir, int n_groups, int folds, const loaa_dsw_opts *opts, loaa_dsw **out);

/*
 * Adds one sample to a group: its data entry KEY.EXT (ext "wav", "flac",
 * "npy"...), and KEY.cls (cls text, may be NULL) and KEY.json (may be NULL).
 */
loaa_status loaa_dsw_add(loaa_dsw *w, int group, const char *key, const char *ext, const void *data, size_t size,
                         const char *cls, const char *json);

/* Makes group `to` list the shards of group `from` in dataset.json (e.g. test = val), writing none of its own. */
void loaa_dsw_alias(loaa_dsw *w, int to, int from);

/*
 * Closes the shards and writes outdir/dataset.json: manifest (borrowed; its
 * members are copied) plus "folds" or "splits" and "counts". The writer is
 * freed whatever the outcome.
 */
loaa_status loaa_dsw_finish(loaa_dsw *w, const json_t *manifest);

/* Removes the shard being written and frees the writer; complete shards stay. */
void loaa_dsw_abort(loaa_dsw *w);

/*
 * The dataset a manifest describes before any shard exists (empty splits):
 * what pack and synth need to build the featurizer that measures mean/std
 * while the shards are still being written. Caller frees *out.
 */
struct loaa_dataset;
loaa_status loaa_dsw_probe_dataset(const json_t *manifest, const char *outdir, struct loaa_dataset **out);

/* Writes text to path atomically (path.tmp.PID, then rename). */
loaa_status loaa_write_file_atomic(const char *path, const char *text);

#endif
