/*
 * features.c - the per-sample front end (see features.h), AST's recipe:
 * waveform mean removed, Kaldi fbank, zero-pad in the log domain, then
 * (x - mean) / (2 std).
 */
#include "worker/features.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <soxr.h>
#include <stdint.h>

#include "common/dynbuf.h"
#include "common/fs.h"
#include "worker/audio.h"
#include "worker/fbank.h"
#include "worker/npy.h"

/* A clip file (wav or npy) larger than this is refused before decoding. */
#define FEATURE_FILE_MAX (((size_t)1 << 31) - 1)

struct loaa_featurizer {
    const loaa_dataset *ds;
    loaa_fbank *fb; /* NULL for image datasets */
    int M, T, rate, image;
    float mean, inv;
    /* scratch reused from clip to clip: page faults and filter design cost more than the work */
    float *wave, *rs, *fe;
    size_t wave_cap, rs_cap, fe_cap;
    soxr_t sox;
    int sox_from; /* the input rate sox was made for */
};

/* Makes *buf (*cap floats) hold n floats. Returns 1, or 0 out of memory. */
static int grow(float **buf, size_t *cap, size_t n)
{
    return loaa_dyn_reserve_array((void **)buf, cap, n, sizeof **buf) == LOAA_OK;
}

loaa_status loaa_featurizer_create(const loaa_dataset *ds, int target_length, loaa_featurizer **out)
{
    *out = NULL;
    loaa_featurizer *f = calloc(1, sizeof *f);
    if (!f)
        return loaa_fail(LOAA_ERR_NOMEM, "features: out of memory");
    f->ds = ds;
    f->M = loaa_dataset_num_mel(ds);
    f->T = target_length > 0 ? target_length : loaa_dataset_target_length(ds);
    f->rate = loaa_dataset_sample_rate(ds);
    f->image = loaa_dataset_is_image(ds);
    if ((size_t)f->M * (size_t)f->T > LOAA_FEATURES_MAX_VALUES) {
        loaa_fail(LOAA_ERR_LIMIT, "dataset '%s': input of %d x %d values a sample is over the cap of %zu",
                  loaa_dataset_name(ds), f->M, f->T, LOAA_FEATURES_MAX_VALUES);
        free(f);
        return LOAA_ERR_LIMIT;
    }
    f->mean = (float)loaa_dataset_mean(ds);
    f->inv = (float)(1.0 / (2.0 * loaa_dataset_std(ds)));
    if (!f->image) {
        loaa_status st = loaa_fbank_create(loaa_dataset_fbank(ds), f->rate, &f->fb);
        if (st) {
            free(f);
            return loaa_fail_prefix(st, "dataset '%s': ", loaa_dataset_name(ds));
        }
    }
    *out = f;
    return LOAA_OK;
}

void loaa_featurizer_free(loaa_featurizer *f)
{
    if (!f)
        return;
    loaa_fbank_free(f->fb);
    if (f->sox)
        soxr_delete(f->sox);
    free(f->wave);
    free(f->rs);
    free(f->fe);
    free(f);
}

int loaa_featurizer_rows(const loaa_featurizer *f) { return f->M; }
int loaa_featurizer_frames(const loaa_featurizer *f) { return f->T; }

static loaa_status from_npy(loaa_featurizer *f, const void *data, size_t size, const char *name, float **out,
                            int *frames)
{
    const unsigned char *p;
    int rows, cols;
    loaa_status st = loaa_npy_parse(data, size, name, &p, &rows, &cols);
    if (st)
        return st;
    /* audio: [frames, M]; image: [M, cols] */
    int width = f->image ? rows : cols;
    int len = f->image ? cols : rows;
    if (width != f->M)
        return loaa_fail(LOAA_ERR_SHAPE, "%s: .npy shape (%d, %d) does not fit %d %s", name, rows, cols, f->M,
                         f->image ? "image rows" : "mel bins [frames, mel]");
    size_t count = (size_t)rows * (size_t)cols;
    float *x = malloc((count ? count : 1) * sizeof(float));
    if (!x)
        return loaa_fail(LOAA_ERR_NOMEM, "%s: out of memory", name);
    memcpy(x, p, count * sizeof(float));
    for (size_t i = 0; i < count; i++)
        if (!(x[i] == x[i]) || x[i] > 3e38f || x[i] < -3e38f) {
            free(x);
            return loaa_fail(LOAA_ERR_NUMERIC, "%s: .npy value %zu is not finite", name, i);
        }
    *out = x;
    *frames = len;
    return LOAA_OK;
}

/* x -= mean(x), the mean summed in double over blocks of 8 float lanes (vectorisable). */
static void remove_mean(float *x, size_t m)
{
    double s = 0;
    for (size_t i = 0; i < m;) {
        float acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
        size_t end = i + 4096 < m ? i + 4096 : m;
        for (; i + 8 <= end; i += 8)
            for (int k = 0; k < 8; k++)
                acc[k] += x[i + k];
        for (; i < end; i++)
            s += x[i];
        for (int k = 0; k < 8; k++)
            s += acc[k];
    }
    float mu = m ? (float)(s / m) : 0;
    for (size_t i = 0; i < m; i++)
        x[i] -= mu;
}

/* Resamples wave into f->rs when its rate differs, removes the mean where it matters, fbank into f->fe. */
static loaa_status wave_features(loaa_featurizer *f, const float *in, size_t n, int rate, const char *name, int *frames)
{
    size_t m = n;
    if (rate != f->rate) {
        m = (size_t)((double)n * f->rate / rate + 0.5);
        if (m > (size_t)LOAA_AUDIO_MAX_FRAMES)
            return loaa_fail(LOAA_ERR_LIMIT, "%s: %zu samples after resampling %d -> %d Hz, over the limit of %ld", name, m, rate,
                             f->rate, LOAA_AUDIO_MAX_FRAMES);
        if (!grow(&f->rs, &f->rs_cap, m + 1))
            return loaa_fail(LOAA_ERR_NOMEM, "%s: out of memory", name);
        if (f->sox && f->sox_from != rate) {
            soxr_delete(f->sox);
            f->sox = NULL;
        }
        soxr_error_t e = NULL;
        if (!f->sox) {
            /*
             * Designed once per input rate. Medium quality (16-bit precision, 91% passband),
             * a sharper filter than torchaudio's default resample that AST used, and about
             * a third cheaper than SOXR_HQ; loaa_audio_resample (packing) keeps HQ.
             */
            soxr_quality_spec_t q = soxr_quality_spec(SOXR_MQ, 0);
            soxr_runtime_spec_t rt = soxr_runtime_spec(1);
            f->sox = soxr_create(rate, f->rate, 1, &e, NULL, &q, &rt);
            f->sox_from = rate;
        } else {
            e = soxr_clear(f->sox);
        }
        size_t done = 0, got = 0;
        if (!e && f->sox)
            e = soxr_process(f->sox, in, n, NULL, f->rs, m, &got);
        done = got;
        while (!e && done < m) {
            got = 0;
            e = soxr_process(f->sox, NULL, 0, NULL, f->rs + done, m - done, &got);
            if (got == 0)
                break;
            done += got;
        }
        if (e || !f->sox) {
            if (f->sox)
                soxr_delete(f->sox);
            f->sox = NULL;
            return loaa_fail(LOAA_ERR_INTERNAL, "%s: resample %d -> %d Hz: %s", name, rate, f->rate, e ? e : "no resampler");
        }
        for (size_t i = done; i < m; i++)
            f->rs[i] = 0;
    }
    const loaa_fbank_opts *fo = loaa_dataset_fbank(f->ds);
    /*
     * AST removes the waveform's mean before the fbank. With Kaldi's per-frame DC
     * removal on and no dither that changes nothing (every frame loses its own
     * mean anyway), so the pass and the copy it needs are skipped; with dither
     * the mean-free wave also seeds the noise, so it is kept.
     */
    const float *wave = rate != f->rate ? f->rs : in;
    if (!fo->remove_dc_offset || fo->dither != 0) {
        if (rate == f->rate) {
            if (!grow(&f->rs, &f->rs_cap, n + 1))
                return loaa_fail(LOAA_ERR_NOMEM, "%s: out of memory", name);
            memcpy(f->rs, in, n * sizeof(float));
        }
        remove_mean(f->rs, m);
        wave = f->rs;
    }
    int T = loaa_fbank_num_frames(f->fb, m);
    int dim = loaa_fbank_dim(f->fb);
    if ((size_t)T * (size_t)dim > LOAA_FEATURES_MAX_VALUES)
        return loaa_fail(LOAA_ERR_LIMIT, "%s: %d frames x %d bins of features is over the cap of %zu values", name, T, dim,
                         LOAA_FEATURES_MAX_VALUES);
    if (!grow(&f->fe, &f->fe_cap, (size_t)T * dim + 1))
        return loaa_fail(LOAA_ERR_NOMEM, "%s: out of memory", name);
    if (fo->dither != 0) {
        /* Kaldi's dither is random; here it is seeded by the clip itself, so a clip gets the
           same features whichever thread or rank decodes it, in whatever order */
        uint64_t h = 0xcbf29ce484222325ULL ^ (uint64_t)m;
        for (size_t i = 0; i < m; i += 1 + m / 4096) {
            uint32_t u;
            memcpy(&u, &f->rs[i], 4);
            h = (h ^ u) * 0x100000001b3ULL;
        }
        loaa_rng r;
        loaa_rng_seed(&r, h);
        loaa_fbank_compute(f->fb, f->fe, wave, m, &r);
    } else {
        loaa_fbank_compute(f->fb, f->fe, wave, m, NULL);
    }
    *frames = T;
    return LOAA_OK;
}

/* Decodes and cuts into f->wave, then wave_features. */
static loaa_status audio_features(loaa_featurizer *f, const void *data, size_t size, const char *ext, long start, long end,
                                  const char *name, int *frames)
{
    if (f->image)
        return loaa_fail(LOAA_ERR_FORMAT, "%s: image datasets need .npy entries, got .%s", name, ext);
    size_t n;
    int rate;
    loaa_status st = loaa_audio_decode_into(data, size, name, &f->wave, &f->wave_cap, &n, &rate);
    if (st)
        return st;
    const float *w = f->wave;
    if (start > 0 || end >= 0) {
        long s = start > 0 ? start : 0, e = end >= 0 ? end : (long)n;
        if (s >= e || e > (long)n)
            return loaa_fail(LOAA_ERR_CONFIG, "%s: cut [%ld, %ld) does not fit the %zu samples", name, start, end, n);
        w += s;
        n = (size_t)(e - s);
    }
    return wave_features(f, w, n, rate, name, frames);
}

static float *copy_out(const float *x, size_t n)
{
    float *o = malloc((n ? n : 1) * sizeof(float));
    if (o)
        memcpy(o, x, n * sizeof(float));
    return o;
}

loaa_status loaa_featurizer_raw(loaa_featurizer *f, const void *data, size_t size, const char *ext, long start, long end,
                                const char *name, float **out, int *frames)
{
    *out = NULL;
    *frames = 0;
    if (!strcmp(ext, "npy"))
        return from_npy(f, data, size, name, out, frames);
    int T;
    loaa_status st = audio_features(f, data, size, ext, start, end, name, &T);
    if (st)
        return st;
    if (!(*out = copy_out(f->fe, (size_t)T * loaa_fbank_dim(f->fb))))
        return loaa_fail(LOAA_ERR_NOMEM, "%s: out of memory", name);
    *frames = T;
    return LOAA_OK;
}

loaa_status loaa_featurizer_raw_wave(loaa_featurizer *f, const float *wave, size_t n, int rate, const char *name, float **out,
                                     int *frames)
{
    *out = NULL;
    *frames = 0;
    if (f->image)
        return loaa_fail(LOAA_ERR_FORMAT, "%s: image datasets need .npy entries, not audio", name);
    int T;
    loaa_status st = wave_features(f, wave, n, rate, name, &T);
    if (st)
        return st;
    if (!(*out = copy_out(f->fe, (size_t)T * loaa_fbank_dim(f->fb))))
        return loaa_fail(LOAA_ERR_NOMEM, "%s: out of memory", name);
    *frames = T;
    return LOAA_OK;
}

void loaa_featurizer_finish(const loaa_featurizer *f, float *out_MT, const float *raw, int frames)
{
    int M = f->M, T = f->T, n = frames < T ? frames : T;
    float pad = (0.0f - f->mean) * f->inv; /* AST pads with zeros before normalising */
    if (f->image) {
        for (int m = 0; m < M; m++) {
            const float *src = raw + (size_t)m * frames;
            float *dst = out_MT + (size_t)m * T;
            for (int t = 0; t < n; t++)
                dst[t] = (src[t] - f->mean) * f->inv;
            for (int t = n; t < T; t++)
                dst[t] = pad;
        }
        return;
    }
    /* transpose in 16 x 16 tiles: cache lines are used whole on both sides */
    for (int t0 = 0; t0 < n; t0 += 16)
        for (int m0 = 0; m0 < M; m0 += 16) {
            int t1 = t0 + 16 < n ? t0 + 16 : n, m1 = m0 + 16 < M ? m0 + 16 : M;
            for (int m = m0; m < m1; m++) {
                float *dst = out_MT + (size_t)m * T;
                for (int t = t0; t < t1; t++)
                    dst[t] = (raw[(size_t)t * M + m] - f->mean) * f->inv;
            }
        }
    for (int m = 0; m < M; m++)
        for (int t = n; t < T; t++)
            out_MT[(size_t)m * T + t] = pad;
}

loaa_status loaa_featurizer_run(loaa_featurizer *f, float *out_MT, const void *data, size_t size, const char *ext,
                                long start, long end, const char *name)
{
    if (strcmp(ext, "npy")) {
        int T;
        loaa_status st = audio_features(f, data, size, ext, start, end, name, &T);
        if (!st)
            loaa_featurizer_finish(f, out_MT, f->fe, T);
        return st;
    }
    float *raw;
    int frames;
    loaa_status st = loaa_featurizer_raw(f, data, size, ext, start, end, name, &raw, &frames);
    if (st)
        return st;
    loaa_featurizer_finish(f, out_MT, raw, frames);
    free(raw);
    return LOAA_OK;
}

/* Refuses a file whose first bytes are not a .npy magic (npy) or an audio header libsndfile knows, before any full read. */
static loaa_status check_format_first(const char *path, int npy)
{
    if (!npy)
        return loaa_audio_probe_file(path);
    unsigned char magic[6];
    FILE *f = fopen(path, "rb");
    if (!f)
        return loaa_fail(errno == ENOENT ? LOAA_ERR_NOTFOUND : LOAA_ERR_IO, "%s: %s", path, strerror(errno));
    size_t got = fread(magic, 1, sizeof magic, f);
    fclose(f);
    if (got != sizeof magic || memcmp(magic, "\x93NUMPY", sizeof magic))
        return loaa_fail(LOAA_ERR_FORMAT, "%s: not a .npy file", path);
    return LOAA_OK;
}

loaa_status loaa_features_from_file(const char *path, const loaa_dataset *ds, int target_length, float *out_MT)
{
    size_t pl = strlen(path);
    const char *ext = pl > 4 && !strcmp(path + pl - 4, ".npy") ? "npy" : "wav";
    char *buf;
    size_t len;
    loaa_status st = check_format_first(path, ext[0] == 'n'); /* /dev/zero or a huge non-audio file: refused unread */
    if (!st)
        st = loaa_fs_read_file(path, FEATURE_FILE_MAX, "2 GiB", &buf, &len);
    if (st)
        return st;
    loaa_featurizer *f;
    st = loaa_featurizer_create(ds, target_length, &f);
    if (!st)
        st = loaa_featurizer_run(f, out_MT, buf, len, ext, 0, -1, path);
    loaa_featurizer_free(f);
    free(buf);
    return st;
}
