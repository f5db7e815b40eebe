/*
 * dataset.h - the loaa dataset manifest, DATASET/dataset.json, read by both
 * the worker (to stream shards) and the coordinator (to check sweeps).
 *
 * {
 *   "format": "loaa-dataset", "version": 1,
 *   "name": "esc50", "classes": ["dog", ...], "multilabel": false,
 *   "kind": "audio",                               ("audio" default, or "image")
 *   "sample_rate": 16000,
 *   "fbank": {"num_mel_bins": 128, "frame_shift_ms": 10, "frame_length_ms": 25,
 *             "window": "hanning", "preemphasis": 0.97, "low_freq": 20, "high_freq": 0,
 *             "dither": 0, "htk_compat": true, "use_energy": false, ...},
 *   "image_size": [rows, cols],                    (kind "image" only, instead of fbank)
 *   "target_length": 512, "mean": -6.6268077, "std": 5.358466,
 *   "folds": [["fold1-000000.tar"], ...]          (k-fold datasets), or
 *   "splits": {"train": [...], "val": [...], "test": [...]},
 *   "counts": {...}                                (optional, samples per shard list)
 * }
 *
 * Shard paths are relative to the dataset folder. Folds are numbered from 1
 * (as ESC-50 names them): a trial's `fold: 3` is the third list of "folds".
 * Missing fbank members take AST's settings (loaa_fbank_opts_default); an
 * unknown member of "fbank" or of the top level is refused, so a typo cannot
 * silently change the features.
 */
#ifndef LOAA_DATASET_H
#define LOAA_DATASET_H

#include "common/status.h"

typedef struct loaa_dataset loaa_dataset;

typedef enum loaa_split { LOAA_SPLIT_TRAIN, LOAA_SPLIT_VAL, LOAA_SPLIT_TEST } loaa_split;

typedef enum loaa_window {
    LOAA_WINDOW_HAMMING,
    LOAA_WINDOW_HANNING,
    LOAA_WINDOW_POVEY,
    LOAA_WINDOW_RECTANGULAR,
    LOAA_WINDOW_BLACKMAN
} loaa_window;

/*
 * Every setting of torchaudio.compliance.kaldi.fbank, under the same names
 * in dataset.json's "fbank" object (preemphasis = preemphasis_coefficient,
 * frame_*_ms = frame_*). vtln_warp other than 1 is refused (unsupported).
 */
typedef struct loaa_fbank_opts {
    int num_mel_bins;
    double frame_shift_ms, frame_length_ms;
    loaa_window window;
    double blackman_coeff, preemphasis, low_freq, high_freq, dither, energy_floor;
    double vtln_warp, vtln_low, vtln_high;
    int htk_compat, use_energy, raw_energy, remove_dc_offset, round_to_power_of_two;
    int snip_edges, subtract_mean, use_log_fbank, use_power;
} loaa_fbank_opts;

/* AST's settings: 128 mel, hanning, dither 0, htk_compat, no energy; the rest torchaudio's defaults. */
void loaa_fbank_opts_default(loaa_fbank_opts *o);

/* Feature rows per frame: num_mel_bins, plus one when use_energy. */
int loaa_fbank_opts_dim(const loaa_fbank_opts *o);

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
int loaa_dataset_num_mel(const loaa_dataset *ds);     /* feature rows M (image: height) */
int loaa_dataset_target_length(const loaa_dataset *ds);  /* frames T (image: width) */
int loaa_dataset_multilabel(const loaa_dataset *ds);

/* 1 for "kind": "image" (entries are KEY.npy float32 [rows, cols], used as (M, T) as is). */
int loaa_dataset_is_image(const loaa_dataset *ds);
/* Normalisation: x' = (x - mean) / (2 std), as AST. */
double loaa_dataset_mean(const loaa_dataset *ds);
double loaa_dataset_std(const loaa_dataset *ds);
const loaa_fbank_opts *loaa_dataset_fbank(const loaa_dataset *ds);
/* The index of a class name, or -1. */
int loaa_dataset_class_index(const loaa_dataset *ds, const char *name);

/*
 * The shard paths (absolute or relative to the cwd) of one split for a trial:
 * with folds, fold f is test, (f+1) mod k is val, the rest train; fold < 0
 * with a k-fold dataset is LOAA_ERR_CONFIG ("key 'fold': required").
 * Folds count from 1; fold outside 1..k is LOAA_ERR_CONFIG. A split dataset
 * ignores fold. The array belongs to ds and lives until loaa_dataset_free
 * (the call is not thread-safe against itself on the same ds).
 */
loaa_status loaa_dataset_shards(const loaa_dataset *ds, loaa_split split, int fold, const char *const **paths,
                                int *count);

/*
 * The samples of one split for a trial, from the manifest's optional
 * "counts" (pack and synth write it): -1 when it does not record every
 * shard list the split takes, or fold is outside 1..k of a k-fold dataset.
 * Folds as for loaa_dataset_shards. Never fails otherwise.
 */
long loaa_dataset_split_samples(const loaa_dataset *ds, loaa_split split, int fold);

/* Parses dataset.json text (no file checks); name is used in messages. For tests and fuzzing. */
loaa_status loaa_dataset_parse(const char *text, const char *dir, int check_files, loaa_dataset **out);

#endif
