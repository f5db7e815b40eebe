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

#include "worker/audio.h"
#include "worker/fbank.h"
#include "worker/npy.h"

struct loaa_featurizer {
    const loaa_dataset *ds;
    loaa_fbank *fb; /* NULL for image datasets */
    int M, T, rate, image;
    float mean, inv;
};

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
    float *x = malloc(((size_t)rows * cols ? (size_t)rows * cols : 1) * sizeof(float));
    if (!x)
        return loaa_fail(LOAA_ERR_NOMEM, "%s: out of memory", name);
    memcpy(x, p, (size_t)rows * cols * sizeof(float));
    for (size_t i = 0; i < (size_t)rows * cols; i++)
        if (!(x[i] == x[i]) || x[i] > 3e38f || x[i] < -3e38f) {
            free(x);
            return loaa_fail(LOAA_ERR_NUMERIC, "%s: .npy value %zu is not finite", name, i);
        }
    *out = x;
    *frames = len;
    return LOAA_OK;
}

loaa_status loaa_featurizer_raw(loaa_featurizer *f, const void *data, size_t size, const char *ext, long start, long end,
                                const char *name, float **out, int *frames)
{
    *out = NULL;
    *frames = 0;
    if (!strcmp(ext, "npy"))
        return from_npy(f, data, size, name, out, frames);
    if (f->image)
        return loaa_fail(LOAA_ERR_FORMAT, "%s: image datasets need .npy entries, got .%s", name, ext);
    float *wave;
    size_t n;
    int rate;
    loaa_status st = loaa_audio_decode(data, size, name, &wave, &n, &rate);
    if (st)
        return st;
    if (start > 0 || end >= 0) {
        long s = start > 0 ? start : 0, e = end >= 0 ? end : (long)n;
        if (s >= e || e > (long)n) {
            free(wave);
            return loaa_fail(LOAA_ERR_CONFIG, "%s: cut [%ld, %ld) does not fit the %zu samples", name, start, end, n);
        }
        memmove(wave, wave + s, (size_t)(e - s) * sizeof(float));
        n = (size_t)(e - s);
    }
    st = loaa_featurizer_raw_wave(f, wave, n, rate, name, out, frames);
    free(wave);
    return st;
}

loaa_status loaa_featurizer_raw_wave(loaa_featurizer *f, const float *in, size_t n, int rate, const char *name, float **out,
                                     int *frames)
{
    *out = NULL;
    *frames = 0;
    if (f->image)
        return loaa_fail(LOAA_ERR_FORMAT, "%s: image datasets need .npy entries, not audio", name);
    float *wave;
    if (rate != f->rate) {
        size_t m;
        loaa_status st = loaa_audio_resample(in, n, rate, f->rate, &wave, &m);
        if (st)
            return loaa_fail_prefix(st, "%s: ", name);
        n = m;
    } else {
        wave = malloc((n ? n : 1) * sizeof(float));
        if (!wave)
            return loaa_fail(LOAA_ERR_NOMEM, "%s: out of memory", name);
        memcpy(wave, in, n * sizeof(float));
    }
    double s = 0;
    for (size_t i = 0; i < n; i++)
        s += wave[i];
    float mu = n ? (float)(s / n) : 0;
    for (size_t i = 0; i < n; i++)
        wave[i] -= mu;
    int T = loaa_fbank_num_frames(f->fb, n);
    int dim = loaa_fbank_dim(f->fb);
    float *fe = malloc(((size_t)T * dim ? (size_t)T * dim : 1) * sizeof(float));
    if (!fe) {
        free(wave);
        return loaa_fail(LOAA_ERR_NOMEM, "%s: out of memory", name);
    }
    loaa_fbank_compute(f->fb, fe, wave, n, NULL);
    free(wave);
    *out = fe;
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
    for (int t = 0; t < n; t++) {
        const float *src = raw + (size_t)t * M;
        for (int m = 0; m < M; m++)
            out_MT[(size_t)m * T + t] = (src[m] - f->mean) * f->inv;
    }
    for (int m = 0; m < M; m++)
        for (int t = n; t < T; t++)
            out_MT[(size_t)m * T + t] = pad;
}

loaa_status loaa_featurizer_run(loaa_featurizer *f, float *out_MT, const void *data, size_t size, const char *ext,
                                long start, long end, const char *name)
{
    float *raw;
    int frames;
    loaa_status st = loaa_featurizer_raw(f, data, size, ext, start, end, name, &raw, &frames);
    if (st)
        return st;
    loaa_featurizer_finish(f, out_MT, raw, frames);
    free(raw);
    return LOAA_OK;
}

loaa_status loaa_features_from_file(const char *path, const loaa_dataset *ds, int target_length, float *out_MT)
{
    FILE *fp = fopen(path, "rb");
    if (!fp)
        return loaa_fail(errno == ENOENT ? LOAA_ERR_NOTFOUND : LOAA_ERR_IO, "%s: %s", path, strerror(errno));
    unsigned char *buf = NULL;
    size_t len = 0, cap = 0;
    for (;;) {
        if (len == cap) {
            cap = cap ? cap * 2 : 1 << 16;
            if (cap > ((size_t)1 << 31)) {
                free(buf);
                fclose(fp);
                return loaa_fail(LOAA_ERR_LIMIT, "%s: larger than 2 GiB", path);
            }
            unsigned char *b = realloc(buf, cap);
            if (!b) {
                free(buf);
                fclose(fp);
                return loaa_fail(LOAA_ERR_NOMEM, "%s: out of memory", path);
            }
            buf = b;
        }
        size_t n = fread(buf + len, 1, cap - len, fp);
        len += n;
        if (n == 0)
            break;
    }
    int bad = ferror(fp);
    fclose(fp);
    if (bad) {
        free(buf);
        return loaa_fail(LOAA_ERR_IO, "%s: read error", path);
    }
    size_t pl = strlen(path);
    const char *ext = pl > 4 && !strcmp(path + pl - 4, ".npy") ? "npy" : "wav";
    loaa_featurizer *f;
    loaa_status st = loaa_featurizer_create(ds, target_length, &f);
    if (!st)
        st = loaa_featurizer_run(f, out_MT, buf, len, ext, 0, -1, path);
    loaa_featurizer_free(f);
    free(buf);
    return st;
}
