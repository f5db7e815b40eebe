/*
 * synth.c - the synthetic audio and image datasets (see synth.h). The class
 * is in the structure, never in a single cue: loudness, pitch range, timing
 * and noise vary within each class and overlap between classes.
 */
#include "worker/synth.h"

#include <assert.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/dataset.h"
#include "common/log.h"
#include "common/rng.h"
#include "worker/audio.h"
#include "worker/features.h"
#include "worker/npy.h"

static const char *const audio_classes[] = {"chirp_up", "chirp_down", "chirp_updown", "tones_up", "tones_down",
                                            "am_tone", "fm_tone", "noise_low", "noise_high", "clicks_slow",
                                            "clicks_fast", "harmonic"};
static const char *const image_classes[] = {"grating_0", "grating_45", "grating_90", "grating_135", "disk", "square",
                                            "triangle", "ring", "checker", "pink_noise", "dots", "edge"};
#define N_AUDIO 12
#define N_IMAGE 12

void loaa_synth_opts_default(loaa_synth_opts *o)
{
    memset(o, 0, sizeof *o);
    o->seed = 0;
    o->clips = 600;
    o->folds = 5;
    o->split_frac[0] = 0.8;
    o->split_frac[1] = 0.1;
    o->split_frac[2] = 0.1;
    o->seconds = 1.0;
    o->sample_rate = 16000;
    o->mel = 128;
    o->size = 64;
    o->shard.samples_per_shard = 200;
}

int loaa_synth_num_classes(int images) { return images ? N_IMAGE : N_AUDIO; }
const char *loaa_synth_class_name(int images, int k)
{
    if (k < 0 || k >= loaa_synth_num_classes(images))
        return NULL;
    return images ? image_classes[k] : audio_classes[k];
}

static double U(loaa_rng *r, double a, double b) { return a + (b - a) * loaa_rng_uniform(r); }

/* --- audio --- */

/* A tone whose instantaneous frequency is f(t) (Hz), from t0 for len samples, added with gain g. */
typedef double (*freq_fn)(double frac, const double *p);

static void add_sweep(float *x, int n, int rate, int t0, int len, double g, freq_fn f, const double *p)
{
    double phase = 0;
    int ramp = rate / 200; /* 5 ms on/off ramps: tone steps without broadband clicks */
    for (int i = 0; i < len && t0 + i < n; i++) {
        double frac = (double)i / len;
        phase += 2 * M_PI * f(frac, p) / rate;
        double e = i < ramp ? (double)i / ramp : len - 1 - i < ramp ? (double)(len - 1 - i) / ramp : 1.0;
        x[t0 + i] += (float)(g * e * sin(phase));
    }
}

static double f_lin(double frac, const double *p) { return p[0] * pow(p[1] / p[0], frac); }
static double f_updown(double frac, const double *p) { return p[0] * pow(p[1] / p[0], frac < 0.5 ? 2 * frac : 2 - 2 * frac); }
static double f_fm(double frac, const double *p) { return p[0] * (1 + p[1] * sin(2 * M_PI * p[2] * frac * p[3])); }

static void add_band(float *x, int n, int rate, int t0, int len, double g, double f1, double f2, loaa_rng *r)
{
    const int K = 48;
    for (int k = 0; k < K; k++) {
        double f = U(r, f1, f2), ph = U(r, 0, 2 * M_PI), w = 2 * M_PI * f / rate;
        for (int i = 0; i < len && t0 + i < n; i++)
            x[t0 + i] += (float)(g / sqrt((double)K) * sin(w * i + ph));
    }
}

static void add_click(float *x, int n, int rate, int at, double g, double f)
{
    int len = rate / 200; /* 5 ms decaying burst */
    for (int i = 0; i < len && at + i < n; i++)
        x[at + i] += (float)(g * exp(-6.0 * i / len) * sin(2 * M_PI * f * i / rate));
}

void loaa_synth_audio_clip(float *x, int n, int rate, int k, uint64_t seed, long index)
{
    loaa_rng root, r;
    loaa_rng_seed(&root, seed);
    r = loaa_rng_split(&root, "audio", (uint64_t)index);
    memset(x, 0, (size_t)n * sizeof(float));
    double nyq = rate / 2.0;
    int t0 = (int)(U(&r, 0.0, 0.25) * n);
    int len = (int)(U(&r, 0.5, 0.75) * n);
    if (t0 + len > n)
        len = n - t0;
    double p[4];
    switch (k) {
    case 0: case 1: case 2: {
        double lo = U(&r, 250, 1200), hi = lo * U(&r, 2.0, 4.0);
        if (hi > 0.8 * nyq)
            hi = 0.8 * nyq;
        p[0] = k == 1 ? hi : lo;
        p[1] = k == 1 ? lo : hi;
        add_sweep(x, n, rate, t0, len, 1.0, k == 2 ? f_updown : f_lin, p);
        break;
    }
    case 3: case 4: {
        double f = U(&r, 300, 1200), ratio = U(&r, 1.3, 1.7);
        int seg = len / 3;
        for (int s = 0; s < 3; s++) {
            int step = k == 3 ? s : 2 - s;
            p[0] = p[1] = f * pow(ratio, step);
            add_sweep(x, n, rate, t0 + s * seg, seg - rate / 100, 1.0, f_lin, p);
        }
        break;
    }
    case 5: {
        double fc = U(&r, 400, 3000), am = U(&r, 4, 12), depth = U(&r, 0.7, 1.0), ph = U(&r, 0, 2 * M_PI);
        for (int i = 0; i < len && t0 + i < n; i++)
            x[t0 + i] = (float)((1 - depth * 0.5 * (1 + sin(2 * M_PI * am * i / rate + ph))) * sin(2 * M_PI * fc * i / rate));
        break;
    }
    case 6:
        p[0] = U(&r, 400, 3000);
        p[1] = U(&r, 0.04, 0.12);
        p[2] = U(&r, 4, 12);
        p[3] = (double)len / rate;
        add_sweep(x, n, rate, t0, len, 1.0, f_fm, p);
        break;
    case 7: {
        double f1 = U(&r, 150, 600);
        add_band(x, n, rate, t0, len, 1.0, f1, f1 * U(&r, 1.5, 2.0), &r);
        break;
    }
    case 8: {
        double f1 = U(&r, 0.3 * nyq, 0.6 * nyq);
        add_band(x, n, rate, t0, len, 1.0, f1, f1 * U(&r, 1.2, 1.5) < 0.95 * nyq ? f1 * U(&r, 1.2, 1.5) : 0.95 * nyq, &r);
        break;
    }
    case 9: case 10: {
        double hz = k == 9 ? U(&r, 3, 7) : U(&r, 16, 32), f = U(&r, 1500, 0.7 * nyq);
        for (double t = 0; t < len; t += rate / hz)
            add_click(x, n, rate, t0 + (int)t, 1.0, f);
        break;
    }
    case 11: {
        double f0 = U(&r, 110, 400);
        int H = 5 + (int)loaa_rng_below(&r, 6);
        for (int h = 1; h <= H && h * f0 < 0.9 * nyq; h++) {
            p[0] = p[1] = h * f0;
            add_sweep(x, n, rate, t0, len, 1.0 / h, f_lin, p);
        }
        break;
    }
    }
    /* 10 ms fades so onsets are not clicks (except for the click trains themselves) */
    int fade = rate / 100;
    for (int i = 0; i < fade && i < len; i++) {
        float g = (float)i / fade;
        if (t0 + i < n)
            x[t0 + i] *= g;
        if (t0 + len - 1 - i >= 0 && t0 + len - 1 - i < n && k != 9 && k != 10)
            x[t0 + len - 1 - i] *= g;
    }
    float peak = 0;
    for (int i = 0; i < n; i++)
        peak = fabsf(x[i]) > peak ? fabsf(x[i]) : peak;
    double gain = pow(10, -U(&r, 0, 20) / 20) * 0.7 / (peak > 0 ? peak : 1);
    double noise = gain * 0.7 * pow(10, -U(&r, 5, 30) / 20);
    for (int i = 0; i < n; i++)
        x[i] = (float)(x[i] * gain + noise * loaa_rng_normal(&r) * 0.5);
}

/* --- images --- */

static double smooth_step(double d, double w) { return d <= -w ? 1 : d >= w ? 0 : 0.5 - 0.5 * d / w; }

static void pink(float *img, int S, loaa_rng *r)
{
    const int K = 40;
    memset(img, 0, (size_t)S * S * sizeof(float));
    for (int k = 0; k < K; k++) {
        double f = exp(U(r, log(1.0), log(S / 4.0))), th = U(r, 0, M_PI), ph = U(r, 0, 2 * M_PI);
        double fx = f * cos(th) / S, fy = f * sin(th) / S, a = 1.0 / f;
        for (int y = 0; y < S; y++)
            for (int x = 0; x < S; x++)
                img[y * S + x] += (float)(a * cos(2 * M_PI * (fx * x + fy * y) + ph));
    }
    double s = 0, s2 = 0;
    for (int i = 0; i < S * S; i++) {
        s += img[i];
        s2 += (double)img[i] * img[i];
    }
    double m = s / (S * S), sd = sqrt(s2 / (S * S) - m * m);
    for (int i = 0; i < S * S; i++)
        img[i] = (float)((img[i] - m) / (sd > 0 ? sd : 1));
}

void loaa_synth_image(float *img, int S, int k, uint64_t seed, long index)
{
    loaa_rng root, r;
    loaa_rng_seed(&root, seed);
    r = loaa_rng_split(&root, "image", (uint64_t)index);
    float *bg = malloc((size_t)S * S * sizeof(float));
    float *fg = calloc((size_t)S * S, sizeof(float)); /* foreground mask or pattern in [0, 1] */
    if (!bg || !fg) {
        free(bg);
        free(fg);
        memset(img, 0, (size_t)S * S * sizeof(float));
        return;
    }
    pink(bg, S, &r);
    double cx = U(&r, 0.3, 0.7) * S, cy = U(&r, 0.3, 0.7) * S, th = U(&r, 0, M_PI);
    switch (k) {
    case 0: case 1: case 2: case 3: {
        double o = k * M_PI / 4 + U(&r, -M_PI / 12, M_PI / 12), f = U(&r, 3, 10) / S, ph = U(&r, 0, 2 * M_PI);
        for (int y = 0; y < S; y++)
            for (int x = 0; x < S; x++)
                fg[y * S + x] = (float)(0.5 + 0.5 * sin(2 * M_PI * f * (x * cos(o) + y * sin(o)) + ph));
        break;
    }
    case 4: case 7: {
        double rad = U(&r, 0.12, 0.3) * S, w = U(&r, 0.03, 0.08) * S;
        for (int y = 0; y < S; y++)
            for (int x = 0; x < S; x++) {
                double d = hypot(x - cx, y - cy) - rad;
                fg[y * S + x] = (float)(k == 4 ? smooth_step(d, 1.0) : smooth_step(fabs(d) - w / 2, 1.0));
            }
        break;
    }
    case 5: {
        double h = U(&r, 0.1, 0.25) * S;
        for (int y = 0; y < S; y++)
            for (int x = 0; x < S; x++) {
                double u = (x - cx) * cos(th) + (y - cy) * sin(th), v = -(x - cx) * sin(th) + (y - cy) * cos(th);
                double d = fmax(fabs(u), fabs(v)) - h;
                fg[y * S + x] = (float)smooth_step(d, 1.0);
            }
        break;
    }
    case 6: {
        double rad = U(&r, 0.15, 0.3) * S;
        for (int y = 0; y < S; y++)
            for (int x = 0; x < S; x++) {
                double d = -1e9;
                for (int e = 0; e < 3; e++) { /* distance to the three half-planes of a regular triangle */
                    double a = th + e * 2 * M_PI / 3;
                    double dd = (x - cx) * cos(a) + (y - cy) * sin(a) - rad / 2;
                    d = fmax(d, dd);
                }
                fg[y * S + x] = (float)smooth_step(d, 1.0);
            }
        break;
    }
    case 8: {
        double per = U(&r, 4, 12);
        for (int y = 0; y < S; y++)
            for (int x = 0; x < S; x++) {
                double u = x * cos(th) + y * sin(th), v = -x * sin(th) + y * cos(th);
                fg[y * S + x] = (float)(((int)floor(u / per) + (int)floor(v / per)) & 1);
            }
        break;
    }
    case 9:
        pink(fg, S, &r);
        for (int i = 0; i < S * S; i++)
            fg[i] = (float)(0.5 + 0.25 * fg[i]);
        break;
    case 10: {
        int n = 15 + (int)loaa_rng_below(&r, 26);
        for (int d = 0; d < n; d++) {
            double px = U(&r, 0, S), py = U(&r, 0, S), rad = U(&r, 1.0, 2.5);
            for (int y = 0; y < S; y++)
                for (int x = 0; x < S; x++) {
                    double v = smooth_step(hypot(x - px, y - py) - rad, 0.7);
                    if (v > fg[y * S + x])
                        fg[y * S + x] = (float)v;
                }
        }
        break;
    }
    case 11:
        for (int y = 0; y < S; y++)
            for (int x = 0; x < S; x++)
                fg[y * S + x] = (float)smooth_step((x - cx) * cos(th) + (y - cy) * sin(th), 1.5);
        break;
    }
    double base = U(&r, 0.3, 0.7), contrast = U(&r, 0.25, 0.5) * (loaa_rng_uniform(&r) < 0.5 ? -1 : 1);
    double bgamp = k == 9 ? 0.05 : U(&r, 0.03, 0.12), noise = U(&r, 0.01, 0.05);
    for (int i = 0; i < S * S; i++)
        img[i] = (float)(base + contrast * (fg[i] - 0.5) + bgamp * bg[i] + noise * loaa_rng_normal(&r));
    free(bg);
    free(fg);
}

/* --- the dataset --- */

static int group_of(const loaa_synth_opts *o, long i, int C)
{
    if (o->folds > 0)
        return (int)((i / C) % o->folds);
    /* splits: spread each class's clips over train/val/test by fraction, in a fixed pattern */
    double u = fmod((double)(i / C) * 0.6180339887498949, 1.0);
    double a = o->split_frac[0] / (o->split_frac[0] + o->split_frac[1] + o->split_frac[2]);
    double b = a + o->split_frac[1] / (o->split_frac[0] + o->split_frac[1] + o->split_frac[2]);
    return u < a ? 0 : u < b ? 1 : 2;
}

/* Refuses options outside what synth can make (LOAA_ERR_USAGE naming the option). */
static loaa_status check_opts(const loaa_synth_opts *o)
{
    if (o->clips < 1)
        return loaa_fail(LOAA_ERR_USAGE, "--clips must be >= 1");
    if (o->folds == 1 || o->folds == 2 || o->folds > 100)
        return loaa_fail(LOAA_ERR_USAGE, "--folds must be 3..100 (or use splits)");
    if (o->images && (o->size < 16 || o->size > 512))
        return loaa_fail(LOAA_ERR_USAGE, "--size must be 16..512 pixels");
    if (!o->images && (o->seconds < 0.1 || o->seconds > 60 || o->mel < 8 || o->mel > 512))
        return loaa_fail(LOAA_ERR_USAGE, "--seconds must be 0.1..60 and --mel 8..512");
    /* Every split gets clips (issue 18 #4): counted here, before a clip is made. An empty fold is only a
     * warning (the shipped tests and demo make 48 clips over 5 folds, fold 5 empty); dataset.json's counts
     * record it, and a trial whose splits it leaves empty is refused before its first epoch. */
    long counts[100] = {0};
    int C = loaa_synth_num_classes(o->images), groups = o->folds > 0 ? o->folds : 3;
    for (long i = 0; i < o->clips; i++)
        counts[group_of(o, i, C)]++;
    char what[160];
    if (o->folds > 0)
        snprintf(what, sizeof what, "loaa synth: --clips %d over --folds %d (%d classes)", o->clips, o->folds, C);
    else
        snprintf(what, sizeof what, "loaa synth: --clips %d with --splits %g,%g,%g (%d classes)", o->clips, o->split_frac[0],
                 o->split_frac[1], o->split_frac[2], C);
    loaa_status st = loaa_dsw_check_groups(counts, groups, o->folds > 0 ? o->folds : 0, 0, what);
    if (st && o->folds > 0) {
        loaa_warn("%s", loaa_error_detail());
        st = LOAA_OK;
    }
    return st;
}

/* dataset.json without mean and std (measured while writing). NULL out of memory. */
static json_t *synth_manifest(const loaa_synth_opts *o, int C)
{
    json_t *m = json_object(), *classes = json_array();
    if (!m || !classes) {
        json_decref(m);
        json_decref(classes);
        return NULL;
    }
    for (int k = 0; k < C; k++)
        json_array_append_new(classes, json_string(loaa_synth_class_name(o->images, k)));
    json_object_set_new(m, "format", json_string("loaa-dataset"));
    json_object_set_new(m, "version", json_integer(1));
    json_object_set_new(m, "name", json_string(o->images ? "synth-images" : "synth-audio"));
    json_object_set_new(m, "classes", classes);
    json_object_set_new(m, "multilabel", json_false());
    int T;
    if (o->images) {
        json_object_set_new(m, "kind", json_string("image"));
        json_t *sz = json_array();
        json_array_append_new(sz, json_integer(o->size));
        json_array_append_new(sz, json_integer(o->size));
        json_object_set_new(m, "image_size", sz);
        T = o->target_length > 0 ? o->target_length : o->size;
    } else {
        json_object_set_new(m, "kind", json_string("audio"));
        json_object_set_new(m, "sample_rate", json_integer(o->sample_rate));
        json_t *fb = json_object();
        json_object_set_new(fb, "num_mel_bins", json_integer(o->mel));
        json_object_set_new(m, "fbank", fb);
        int n = (int)(o->seconds * o->sample_rate);
        int win = o->sample_rate * 25 / 1000, shift = o->sample_rate / 100;
        T = o->target_length > 0 ? o->target_length : (n >= win ? 1 + (n - win) / shift : 1);
    }
    json_object_set_new(m, "target_length", json_integer(T));
    char src[128];
    snprintf(src, sizeof src, "loaa synth --kind %s --seed %llu --clips %d", o->images ? "images" : "audio",
             (unsigned long long)o->seed, o->clips);
    json_object_set_new(m, "source", json_string(src));
    return m;
}

/* What the writer carries from clip to clip. */
typedef struct synth_run {
    const loaa_synth_opts *o;
    int C, n;                /* classes; floats per clip (samples, or pixels) */
    float *x;                /* (n) one clip */
    loaa_featurizer *feat;
    loaa_dsw *w;
    double sum, sum2, count; /* over every clip's features (images: pixels) */
} synth_run;

static void add_moments(synth_run *r, const float *v, size_t cnt)
{
    for (size_t j = 0; j < cnt; j++) {
        r->sum += v[j];
        r->sum2 += (double)v[j] * v[j];
    }
    r->count += (double)cnt;
}

/* Makes clip i (class i mod C), counts its features and adds it to its group. */
static loaa_status synth_clip(synth_run *r, long i)
{
    const loaa_synth_opts *o = r->o;
    int k = (int)(i % r->C);
    void *data = NULL;
    size_t size = 0;
    loaa_status st;
    if (o->images) {
        loaa_synth_image(r->x, o->size, k, o->seed, i);
        st = loaa_npy_encode(r->x, o->size, o->size, &data, &size);
        add_moments(r, r->x, (size_t)r->n);
    } else {
        loaa_synth_audio_clip(r->x, r->n, o->sample_rate, k, o->seed, i);
        st = loaa_audio_encode_wav(r->x, (size_t)r->n, o->sample_rate, 0, &data, &size);
        float *raw;
        int frames;
        if (!st && !(st = loaa_featurizer_raw(r->feat, data, size, "wav", 0, -1, "synth", &raw, &frames))) {
            add_moments(r, raw, (size_t)frames * loaa_featurizer_rows(r->feat));
            free(raw);
        }
    }
    if (!st) {
        char key[64], cls[16];
        snprintf(key, sizeof key, "%06ld", i);
        snprintf(cls, sizeof cls, "%d", k);
        st = loaa_dsw_add(r->w, group_of(o, i, r->C), key, o->images ? "npy" : "wav", data, size, cls, NULL);
    }
    free(data);
    return st;
}

/* Writes every clip under outdir, then dataset.json (m plus the measured mean and std). */
static loaa_status synth_write(const char *outdir, const loaa_synth_opts *o, int C, json_t *m)
{
    synth_run r = {.o = o, .C = C, .n = o->images ? o->size * o->size : (int)(o->seconds * o->sample_rate)};
    /* A manifest without shards, to build the featurizer that measures mean/std. */
    loaa_dataset *ds = NULL;
    loaa_status st = loaa_dsw_probe_dataset(m, outdir, &ds);
    if (!st)
        st = loaa_featurizer_create(ds, 0, &r.feat);
    if (!st)
        st = loaa_dsw_open(outdir, o->folds > 0 ? o->folds : 3, o->folds > 0, &o->shard, &r.w);
    r.x = malloc((size_t)r.n * sizeof(float));
    if (!st && !r.x)
        st = loaa_fail(LOAA_ERR_NOMEM, "synth: out of memory");
    for (long i = 0; i < o->clips && !st; i++)
        st = synth_clip(&r, i);
    free(r.x);
    if (!st) {
        double mean = r.count > 0 ? r.sum / r.count : 0, var = r.count > 0 ? r.sum2 / r.count - mean * mean : 1;
        json_object_set_new(m, "mean", json_real(mean));
        json_object_set_new(m, "std", json_real(var > 0 ? sqrt(var) : 1));
        st = loaa_dsw_finish(r.w, m);
        r.w = NULL;
    }
    loaa_dsw_abort(r.w);
    loaa_featurizer_free(r.feat);
    loaa_dataset_free(ds);
    return st;
}

loaa_status loaa_synth(const char *outdir, const loaa_synth_opts *o)
{
    assert(outdir && o);
    loaa_status st = check_opts(o);
    if (st)
        return st;
    int C = loaa_synth_num_classes(o->images);
    json_t *m = synth_manifest(o, C);
    st = m ? synth_write(outdir, o, C, m) : loaa_fail(LOAA_ERR_NOMEM, "synth: out of memory");
    json_decref(m);
    return st;
}
