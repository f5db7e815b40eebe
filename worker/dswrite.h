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
 * Refuses a layout with an empty group before anything is written (issue 18
 * #4): counts[i] samples in group i of n_groups, k folds when folds > 0 (n_groups
 * = k), else the splits train, val, test (test_is_val: test lists val's shards,
 * its own count is not checked). LOAA_ERR_USAGE "WHAT: fold 2 would be empty
 * (fold1 12, fold2 0, ...)" or "WHAT: split 'val' would be empty (train 20,
 * val 0, test 4)"; what names the command and its input.
 */
loaa_status loaa_dsw_check_groups(const long *counts, int n_groups, int folds, int test_is_val, const char *what);

/*
 * Closes the shards and writes outdir/dataset.json: manifest (borrowed; its
 * members are copied) plus "folds" or "splits" and "counts". A split left
 * without samples is refused as loaa_dsw_check_groups does, and then no
 * dataset.json is written (empty folds are the callers' to check). The
 * writer is freed whatever the outcome.
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

/*
 * Writes text to path atomically and durably (common/fs's loaa_fs_write_atomic:
 * a fresh O_EXCL temporary file beside it, fsync, rename, fsync of the folder).
 */
loaa_status loaa_write_file_atomic(const char *path, const char *text);

#endif
