/*
 * fbank.h - Kaldi-compatible log-mel filter bank features, matching
 * torchaudio.compliance.kaldi.fbank (the front end AST trains on) for every
 * setting in loaa_fbank_opts except VTLN warping.
 *
 * A loaa_fbank holds the FFTW plan, window, mel weights and scratch buffers,
 * made once and reused for every clip; it is not shared between threads
 * (make one per thread). Creating and freeing are thread-safe: FFTW's
 * planner is not, so they take a process-wide lock.
 */
#ifndef LOAA_FBANK_H
#define LOAA_FBANK_H

#include <stddef.h>

#include "common/dataset.h"
#include "common/rng.h"
#include "common/status.h"

typedef struct loaa_fbank loaa_fbank;

/*
 * Prepares features for waveforms at sample_rate Hz. LOAA_ERR_CONFIG (with
 * the offending setting named) when the options do not fit the rate;
 * LOAA_ERR_UNSUPPORTED for vtln_warp != 1. Caller frees with loaa_fbank_free.
 */
loaa_status loaa_fbank_create(const loaa_fbank_opts *opts, int sample_rate, loaa_fbank **out);
void loaa_fbank_free(loaa_fbank *fb);

/* Values per frame: num_mel_bins (+1 with use_energy). */
int loaa_fbank_dim(const loaa_fbank *fb);

/* Frames for n samples (0 when n is shorter than one window, as Kaldi gives none). */
int loaa_fbank_num_frames(const loaa_fbank *fb, size_t n);

/*
 * out (T, dim) row-major, T = loaa_fbank_num_frames(fb, n): the features of
 * wave (n samples, any scale; torchaudio's convention is [-1, 1]). dither_rng
 * draws the dither noise when opts->dither != 0 (may be NULL otherwise).
 * Never fails for valid arguments.
 */
void loaa_fbank_compute(loaa_fbank *fb, float *out, const float *wave, size_t n, loaa_rng *dither_rng);

#endif
