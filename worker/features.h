/*
 * features.h - one sample to the model's input: decode, down-mix, cut,
 * resample to the dataset's rate, subtract the waveform mean, Kaldi fbank,
 * zero-pad or cut to target_length frames, normalise (x - mean) / (2 std)
 * as AST does, and lay out as (M, T): mel bins as rows (image height),
 * frames as columns (image width) -- the transpose of Kaldi's (T, M).
 *
 * KEY.npy entries skip decoding: for audio datasets a precomputed fbank
 * float32 [frames, M]; for image datasets the image itself [rows = M, cols].
 *
 * `loaa predict` and other single-file users call loaa_features_from_file;
 * the loader keeps one loaa_featurizer per reader thread.
 */
#ifndef LOAA_FEATURES_H
#define LOAA_FEATURES_H

#include <stddef.h>

#include "common/dataset.h"
#include "common/status.h"

typedef struct loaa_featurizer loaa_featurizer;

/*
 * Most float values in one sample's features, the (M, T) input or the raw
 * (frames, M) fbank of a clip (1 GiB): a bound for hostile dataset.json
 * settings and clips, refused with LOAA_ERR_LIMIT instead of an allocation
 * that the kernel would grant and then kill the process for.
 */
#define LOAA_FEATURES_MAX_VALUES ((size_t)1 << 28)

/*
 * Features for ds at target_length frames (0 = the dataset's). Holds FFTW
 * plans and scratch space; use from one thread at a time. Caller frees.
 */
loaa_status loaa_featurizer_create(const loaa_dataset *ds, int target_length, loaa_featurizer **out);
void loaa_featurizer_free(loaa_featurizer *f);
int loaa_featurizer_rows(const loaa_featurizer *f);    /* M */
int loaa_featurizer_frames(const loaa_featurizer *f);  /* T */

/*
 * The raw (unpadded, unnormalised) features of one entry: *out (frames, M)
 * row-major, malloc'ed, caller frees. ext is "wav"/"flac"/"ogg" or "npy";
 * start/end cut the decoded audio at sample offsets of the file's own rate
 * (end < 0: to the end). name appears in errors ("shard.tar: key 'k'").
 * For image datasets *out is the image itself (rows = M, cols = *frames).
 */
loaa_status loaa_featurizer_raw(loaa_featurizer *f, const void *data, size_t size, const char *ext, long start, long end,
                                const char *name, float **out, int *frames);

/*
 * As loaa_featurizer_raw from a decoded mono waveform at `rate` Hz (resampled
 * to the dataset's rate here; wave is not modified).
 */
loaa_status loaa_featurizer_raw_wave(loaa_featurizer *f, const float *wave, size_t n, int rate, const char *name, float **out,
                                     int *frames);

/* Pads/cuts raw (frames, M) to T frames, normalises, transposes: out_MT (M, T). For images raw is (M, frames). */
void loaa_featurizer_finish(const loaa_featurizer *f, float *out_MT, const float *raw, int frames);

/* loaa_featurizer_raw + loaa_featurizer_finish. */
loaa_status loaa_featurizer_run(loaa_featurizer *f, float *out_MT, const void *data, size_t size, const char *ext,
                                long start, long end, const char *name);

/*
 * The normalised (M, T) features of an audio file on disk (any format
 * libsndfile reads; a .npy file is taken as a precomputed entry), with ds's
 * settings and statistics; target_length 0 = the dataset's. out_MT must hold
 * loaa_dataset_num_mel(ds) * T floats. Errors name the path. The format is
 * checked on the file's first bytes before it is read whole (LOAA_ERR_FORMAT
 * "not a readable audio file" / "not a .npy file"), so /dev/zero or a huge
 * non-audio file is refused at once rather than after 2 GiB.
 */
loaa_status loaa_features_from_file(const char *path, const loaa_dataset *ds, int target_length, float *out_MT);

#endif
