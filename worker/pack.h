/*
 * pack.h - `loaa pack`: turns a dataset on disk into a loaa dataset folder.
 *
 * Recipes (SOURCE is):
 *   esc50        the ESC-50 release: SOURCE/meta/esc50.csv, SOURCE/audio/NAME.wav; 5 folds
 *   spc2         Speech Commands V2: a folder per word, validation_list.txt and
 *                testing_list.txt; the rest is training; _background_noise_ excluded
 *   epic-sounds  a folder with EPIC_Sounds_train.csv and EPIC_Sounds_validation.csv
 *                (optionally a labelled EPIC_Sounds_test.csv) and the per-video
 *                VIDEO_ID.wav files (in SOURCE, SOURCE/audio, or --audio-dir), cut
 *                by start_sample/stop_sample; without a labelled test CSV the test
 *                split is the validation split (the public test labels are hidden)
 *   csv          a manifest with a header: path,label[,split][,fold][,start,end];
 *                paths absolute or relative to the manifest; a fold column
 *                (1..K) makes a k-fold dataset, a split column (train/val/test)
 *                a split one, neither splits 80/10/10 by a hash of the path
 *
 * Items are shuffled once with a fixed seed before sharding (release layouts
 * list files by class), so shards mix classes and the same input always
 * packs to the same bytes.
 *
 * Every input file is decoded once while packing, so a missing or unreadable
 * file stops the pack with its name (and the CSV line that named it).
 */
#ifndef LOAA_PACK_H
#define LOAA_PACK_H

#include "common/status.h"
#include "worker/dswrite.h"

typedef struct loaa_pack_opts {
    loaa_dsw_opts shard;
    int resample;           /* the dataset rate (default 16000): audio is stored resampled to it, as AST's recipes prepare it */
    int keep_rate;          /* store the source audio bytes as they are; workers resample on load */
    int features_fbank;     /* store KEY.npy fbank [frames, mel] instead of audio */
    int stats;              /* mean/std from the training split (k-fold: all folds) */
    int target_length;      /* 0: the recipe's (esc50 512, spc2 128, others 1024) */
    int mel;                /* 0: 128 */
    const char *audio_dir;  /* epic-sounds: where VIDEO_ID.wav live */
    const char *name;       /* dataset name; NULL: the recipe's */
} loaa_pack_opts;

void loaa_pack_opts_default(loaa_pack_opts *o);

/* Writes OUTDIR/dataset.json and its shards. On failure complete shards may remain, never a partial one. */
loaa_status loaa_pack(const char *recipe, const char *source, const char *outdir, const loaa_pack_opts *o);

#endif
