/*
 * audio.h - audio decoding from memory (libsndfile virtual I/O: WAV PCM
 * 16/24/32 and float, FLAC, Ogg/Vorbis), down-mixing to mono, cutting, and
 * resampling (soxr).
 *
 * Buffers returned through float **out are malloc'ed; the caller frees them.
 * On failure nothing is returned and the detail names `name` (a "shard: key"
 * or a file path) and what was wrong.
 */
#ifndef LOAA_AUDIO_H
#define LOAA_AUDIO_H

#include <stddef.h>

#include "common/status.h"

/* Longest clip decoded, in samples per channel (about 3 hours at 48 kHz): a bound for hostile headers. */
#define LOAA_AUDIO_MAX_FRAMES (1L << 29)

/*
 * Decodes an in-memory audio file to mono float in [-1, 1] at its own rate.
 * A file that libsndfile cannot read is LOAA_ERR_FORMAT; one with no
 * samples is LOAA_ERR_FORMAT ("empty audio").
 */
loaa_status loaa_audio_decode(const void *data, size_t size, const char *name, float **out, size_t *n, int *rate);

/*
 * As loaa_audio_decode into a caller-owned buffer *buf of *cap samples,
 * grown with realloc when needed (the caller frees it, also after failure).
 */
loaa_status loaa_audio_decode_into(const void *data, size_t size, const char *name, float **buf, size_t *cap, size_t *n,
                                   int *rate);

/*
 * Whether samples decoded from a libsndfile format (SF_INFO.format) can be
 * NaN, Inf or out of range, so decoders scan them: 0 only for integer PCM
 * (and u-law/A-law); 1 for float, double, Vorbis, Opus and anything unknown.
 */
int loaa_audio_format_may_be_nonfinite(int sf_format);

/* As loaa_audio_decode for a file on disk. LOAA_ERR_NOTFOUND / LOAA_ERR_IO name the path. */
loaa_status loaa_audio_read_file(const char *path, float **out, size_t *n, int *rate);

/*
 * Whether libsndfile recognises the file at path as audio, from its header
 * alone (a few KiB are read, whatever the file's size: /dev/zero is fine).
 * LOAA_ERR_FORMAT "not a readable audio file"; NOTFOUND / IO name the path.
 */
loaa_status loaa_audio_probe_file(const char *path);

/*
 * Samples [start, end) (per channel, at the file's own rate) of a file on
 * disk, down-mixed to mono, read by seeking, so hour-long recordings are
 * never decoded whole. end < 0 reads to the end. A range outside the file
 * is LOAA_ERR_CONFIG naming the path.
 */
loaa_status loaa_audio_read_segment(const char *path, long start, long end, float **out, size_t *n, int *rate);

/*
 * Resamples n samples from rate `from` to rate `to` with soxr (high quality,
 * linear phase); *n_out = round(n * to / from). from == to copies.
 */
loaa_status loaa_audio_resample(const float *in, size_t n, int from, int to, float **out, size_t *n_out);

/*
 * Writes mono float samples as a WAV file (PCM 16-bit, or float when
 * float32 is non-zero) to a malloc'ed buffer, for packers and tests.
 */
loaa_status loaa_audio_encode_wav(const float *x, size_t n, int rate, int float32, void **out, size_t *size);

#endif
