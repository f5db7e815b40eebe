/*
 * dataset.h - the loaa dataset manifest, DATASET/dataset.json, read by both
 * the worker (to stream shards) and the coordinator (to check sweeps).
 *
 * {
 *   "format": "loaa-dataset", "version": 1,
 *   "name": "esc50", "classes": ["dog", ...], "multilabel": false,
 *   "sample_rate": 16000,
 *   "fbank": {"num_mel_bins": 128, "frame_shift_ms": 10, "frame_length_ms": 25,
 *             "window": "hanning", "preemphasis": 0.97, "low_freq": 20, "high_freq": 0,
 *             "dither": 0, "htk_compat": true, "use_energy": false, ...},
 *   "target_length": 512, "mean": -6.6268077, "std": 5.358466,
 *   "folds": [["fold1-000000.tar"], ...]          (k-fold datasets), or
 *   "splits": {"train": [...], "val": [...], "test": [...]},
 *   "counts": {...}                                (optional, samples per shard list)
 * }
 *
 * Shard paths are relative to the dataset folder.
 */
#ifndef LOAA_DATASET_H
#define LOAA_DATASET_H

#include "common/status.h"

typedef struct loaa_dataset loaa_dataset;

typedef enum loaa_split { LOAA_SPLIT_TRAIN, LOAA_SPLIT_VAL, LOAA_SPLIT_TEST } loaa_split;

/*
 * Reads and validates DIR/dataset.json. Errors name the file and the key
 * (and line/column for JSON syntax); a named shard that does not exist is
 * LOAA_ERR_NOTFOUND naming it. Caller frees with loaa_dataset_free.
 */
loaa_status loaa_dataset_open(const char *dir, loaa_dataset **out);
void loaa_dataset_free(loaa_dataset *ds);

const char *loaa_dataset_name(const loaa_dataset *ds);
int loaa_dataset_num_classes(const loaa_dataset *ds);
const char *loaa_dataset_class_name(const loaa_dataset *ds, int index);
int loaa_dataset_num_folds(const loaa_dataset *ds);   /* 0 for split datasets */
int loaa_dataset_sample_rate(const loaa_dataset *ds);
int loaa_dataset_num_mel(const loaa_dataset *ds);
int loaa_dataset_target_length(const loaa_dataset *ds);
int loaa_dataset_multilabel(const loaa_dataset *ds);

/*
 * The shard paths (absolute or relative to the cwd) of one split for a trial:
 * with folds, fold f is test, (f+1) mod k is val, the rest train; fold < 0
 * with a k-fold dataset is LOAA_ERR_CONFIG ("key 'fold': required").
 */
loaa_status loaa_dataset_shards(const loaa_dataset *ds, loaa_split split, int fold, const char *const **paths,
                                int *count);

#endif
