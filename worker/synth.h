/*
 * synth.h - deterministic synthetic datasets for demos and tests, written in
 * the ordinary loaa dataset layout (tar shards + dataset.json).
 *
 * Audio (16 kHz WAV, 1 s by default): 12 classes that differ only in their
 * time-frequency structure -- rising / falling / up-down chirps, ascending /
 * descending tone sequences, AM / FM tones, low / high noise bands, slow /
 * fast click trains, harmonic stacks -- each with random pitch, timing,
 * duration, loudness and background-noise level, so a model must learn the
 * structure rather than memorise clips.
 *
 * Images (KEY.npy float32 [rows, cols], 64 px by default): 12 classes of
 * natural-image-like structure -- gratings at four orientations, disks,
 * squares, triangles, rings, checkerboards, 1/f noise scenes, dot textures,
 * edges -- over random 1/f backgrounds with random position, size, contrast,
 * frequency and noise.
 *
 * Clip i has class i mod C and its own random stream split off the seed, so
 * the same (seed, clips) always gives the same bytes. Folds like ESC-50:
 * clip i goes to fold (i / C) mod K, so every fold is class-balanced;
 * or splits train/val/test by fraction.
 */
#ifndef LOAA_SYNTH_H
#define LOAA_SYNTH_H

#include <stdint.h>

#include "common/status.h"
#include "worker/dswrite.h"

typedef struct loaa_synth_opts {
    int images;            /* 0: audio, 1: images */
    uint64_t seed;
    int clips;
    int folds;             /* > 0: k folds; 0: splits by split_frac */
    double split_frac[3];  /* train, val, test */
    double seconds;        /* audio clip length */
    int sample_rate;
    int mel;               /* fbank mel bins */
    int target_length;     /* 0: frames of one clip */
    int size;              /* image side in pixels */
    loaa_dsw_opts shard;
} loaa_synth_opts;

void loaa_synth_opts_default(loaa_synth_opts *o);

/* Number of classes and their names. */
int loaa_synth_num_classes(int images);
const char *loaa_synth_class_name(int images, int k);

/*
 * Writes the dataset to outdir, with mean/std of the features over all
 * clips in dataset.json. Errors name the file at fault.
 */
loaa_status loaa_synth(const char *outdir, const loaa_synth_opts *o);

/* One audio clip of class k from rng stream r: x (n) in [-1, 1]. For tests and benchmarks. */
void loaa_synth_audio_clip(float *x, int n, int rate, int k, uint64_t seed, long index);

/* One image of class k: img (size, size) row-major, values about [0, 1]. */
void loaa_synth_image(float *img, int size, int k, uint64_t seed, long index);

#endif
