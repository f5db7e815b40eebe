/*
 * fbank.c - Kaldi log-mel filter banks with FFTW, step for step as
 * torchaudio.compliance.kaldi.fbank computes them (so AST-trained weights
 * see the features they were trained on): frame, dither, remove DC, energy,
 * pre-emphasis, window, zero-pad, |rfft|^2, triangular mel weights, log.
 */
#include "worker/fbank.h"

#include <fftw3.h>
#include <float.h>
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* FFTW's planner keeps global state: plan creation/destruction must be serialised. */
static pthread_mutex_t plan_lock = PTHREAD_MUTEX_INITIALIZER;

struct loaa_fbank {
    loaa_fbank_opts o;
    int rate, win, shift, padded, nbins, dim;
    float *window;    /* (win) */
    float *weights;   /* per mel bin, weights over [lo, hi) fft bins, packed */
    int *lo, *hi, *off;
    float *frame;     /* (padded) FFT input */
    fftwf_complex *spec; /* (padded/2 + 1) the half-size complex DFT, its first value repeated at the end */
    float *twc, *tws;    /* (padded/2 + 1) cos and sin of 2 pi k / padded */
    float *power;     /* (padded/2 + 1, LANES): the power spectra of a block of frames, interleaved */
    double energy[8];
    fftwf_plan plan;
};

static double mel_scale(double f) { return 1127.0 * log(1.0 + f / 700.0); }

void loaa_fbank_free(loaa_fbank *fb)
{
    if (!fb)
        return;
    pthread_mutex_lock(&plan_lock);
    if (fb->plan)
        fftwf_destroy_plan(fb->plan);
    fftwf_free(fb->frame);
    fftwf_free(fb->spec);
    pthread_mutex_unlock(&plan_lock);
    free(fb->window);
    free(fb->weights);
    free(fb->lo);
    free(fb->hi);
    free(fb->off);
    free(fb->power);
    free(fb->twc);
    free(fb->tws);
    free(fb);
}

static void make_window(loaa_fbank *fb)
{
    int n = fb->win;
    double a = 2 * M_PI / (n - 1);
    for (int i = 0; i < n; i++) {
        double w = 1.0;
        switch (fb->o.window) {
        case LOAA_WINDOW_HANNING: w = 0.5 - 0.5 * cos(a * i); break;
        case LOAA_WINDOW_HAMMING: w = 0.54 - 0.46 * cos(a * i); break;
        case LOAA_WINDOW_POVEY: w = pow(0.5 - 0.5 * cos(a * i), 0.85); break;
        case LOAA_WINDOW_RECTANGULAR: w = 1.0; break;
        case LOAA_WINDOW_BLACKMAN:
            w = fb->o.blackman_coeff - 0.5 * cos(a * i) + (0.5 - fb->o.blackman_coeff) * cos(2 * a * i);
            break;
        }
        fb->window[i] = (float)w;
    }
}

/* torchaudio's get_mel_banks with vtln_warp 1: triangles on the mel scale, stored sparsely. */
static loaa_status make_mel(loaa_fbank *fb)
{
    int nb = fb->o.num_mel_bins, nfft = fb->padded / 2;
    double nyq = 0.5 * fb->rate, low = fb->o.low_freq, high = fb->o.high_freq;
    if (high <= 0)
        high += nyq;
    if (!(low >= 0 && low < nyq && high > 0 && high <= nyq && low < high))
        return loaa_fail(LOAA_ERR_CONFIG, "fbank: low_freq %g and high_freq %g do not fit Nyquist %g", fb->o.low_freq,
                         fb->o.high_freq, nyq);
    double bin_width = (double)fb->rate / fb->padded;
    double mlow = mel_scale(low), mhigh = mel_scale(high), delta = (mhigh - mlow) / (nb + 1);
    fb->lo = calloc(nb, sizeof(int));
    fb->hi = calloc(nb, sizeof(int));
    fb->off = calloc(nb, sizeof(int));
    if (!fb->lo || !fb->hi || !fb->off)
        return loaa_fail(LOAA_ERR_NOMEM, "fbank: out of memory");
    /* two passes over the triangles, first their extent then their weights: no dense (bins x fft) matrix */
    size_t total = 0;
    for (int pass = 0; pass < 2; pass++) {
        for (int b = 0; b < nb; b++) {
            double left = mlow + b * delta, center = mlow + (b + 1.0) * delta, right = mlow + (b + 2.0) * delta;
            int lo = -1, hi = -1;
            long k0 = (long)(700.0 * (exp(left / 1127.0) - 1.0) / bin_width) - 1; /* just below the left edge */
            for (int k = k0 > 0 ? (int)k0 : 0; k < nfft; k++) {
                double mel = mel_scale(bin_width * k);
                if (mel <= left)
                    continue;
                if (mel >= right)
                    break;
                double up = (mel - left) / (center - left), down = (right - mel) / (right - center);
                double w = up < down ? up : down;
                if (w <= 0)
                    continue;
                if (lo < 0)
                    lo = k;
                hi = k + 1;
                if (pass == 1)
                    fb->weights[fb->off[b] + k - fb->lo[b]] = (float)w;
            }
            if (pass == 0) {
                if (lo < 0)
                    lo = hi = 0;
                fb->lo[b] = lo;
                fb->hi[b] = hi;
                fb->off[b] = (int)total;
                total += (size_t)(hi - lo);
            }
        }
        if (pass == 0) {
            fb->weights = calloc(total ? total : 1, sizeof(float));
            if (!fb->weights)
                return loaa_fail(LOAA_ERR_NOMEM, "fbank: out of memory");
        }
    }
    return LOAA_OK;
}

loaa_status loaa_fbank_create(const loaa_fbank_opts *opts, int sample_rate, loaa_fbank **out)
{
    *out = NULL;
    if (opts->vtln_warp != 1.0)
        return loaa_fail(LOAA_ERR_UNSUPPORTED, "fbank: vtln_warp %g (only 1 is supported)", opts->vtln_warp);
    if (opts->num_mel_bins <= 3)
        return loaa_fail(LOAA_ERR_CONFIG, "fbank: num_mel_bins must be > 3, got %d", opts->num_mel_bins);
    loaa_fbank *fb = calloc(1, sizeof *fb);
    if (!fb)
        return loaa_fail(LOAA_ERR_NOMEM, "fbank: out of memory");
    fb->o = *opts;
    fb->rate = sample_rate;
    fb->shift = (int)(sample_rate * opts->frame_shift_ms * 0.001);
    fb->win = (int)(sample_rate * opts->frame_length_ms * 0.001);
    if (fb->win < 2 || fb->shift < 1) {
        loaa_fbank_free(fb);
        return loaa_fail(LOAA_ERR_CONFIG, "fbank: frame of %d samples, shift %d at %d Hz (need >= 2 and >= 1)", fb->win, fb->shift,
                         sample_rate);
    }
    fb->padded = fb->win;
    if (opts->round_to_power_of_two) {
        fb->padded = 1;
        while (fb->padded < fb->win)
            fb->padded *= 2;
    }
    if (fb->padded % 2) {
        loaa_fbank_free(fb);
        return loaa_fail(LOAA_ERR_CONFIG, "fbank: padded window %d is odd (use round_to_power_of_two)", fb->padded);
    }
    fb->nbins = fb->padded / 2 + 1;
    fb->dim = loaa_fbank_opts_dim(opts);
    fb->window = malloc(fb->win * sizeof(float));
    fb->power = malloc((size_t)fb->nbins * 8 * sizeof(float));
    fb->twc = malloc(fb->nbins * sizeof(float));
    fb->tws = malloc(fb->nbins * sizeof(float));
    if (!fb->window || !fb->power || !fb->twc || !fb->tws) {
        loaa_fbank_free(fb);
        return loaa_fail(LOAA_ERR_NOMEM, "fbank: out of memory");
    }
    make_window(fb);
    for (int k = 0; k < fb->nbins; k++) {
        fb->twc[k] = (float)cos(2 * M_PI * k / fb->padded);
        fb->tws[k] = (float)sin(2 * M_PI * k / fb->padded);
    }
    loaa_status st = make_mel(fb);
    if (st) {
        loaa_fbank_free(fb);
        return st;
    }
    pthread_mutex_lock(&plan_lock);
    fb->frame = fftwf_alloc_real(fb->padded);
    fb->spec = fftwf_alloc_complex(fb->nbins);
    /*
     * The real DFT of the padded frame as a complex DFT of half the size over
     * (even, odd) sample pairs, split afterwards (power_spectrum): FFTW_ESTIMATE
     * picks a plan three times faster for that than for its own r2c, and
     * ESTIMATE keeps the plan, and so the features, the same in every process.
     */
    if (fb->frame && fb->spec)
        fb->plan = fftwf_plan_dft_1d(fb->padded / 2, (fftwf_complex *)fb->frame, fb->spec, FFTW_FORWARD, FFTW_ESTIMATE);
    pthread_mutex_unlock(&plan_lock);
    if (!fb->plan) {
        loaa_fbank_free(fb);
        return loaa_fail(LOAA_ERR_NOMEM, "fbank: FFTW could not make a %d-point plan", fb->padded);
    }
    *out = fb;
    return LOAA_OK;
}

int loaa_fbank_dim(const loaa_fbank *fb) { return fb->dim; }

int loaa_fbank_num_frames(const loaa_fbank *fb, size_t n)
{
    if (n < (size_t)fb->win)
        return 0;
    if (fb->o.snip_edges)
        return (int)(1 + (n - fb->win) / fb->shift);
    return (int)((n + fb->shift / 2) / fb->shift);
}

/* The sample at index p of Kaldi's reflected signal (snip_edges false). */
static float reflect_at(const float *w, long n, long p)
{
    while (p < 0 || p >= n) {
        if (p < 0)
            p = -p - 1;
        if (p >= n)
            p = 2 * n - 1 - p;
    }
    return w[p];
}

/*
 * Four floats: SSE2 on x86-64, NEON on arm64, plain code elsewhere. GCC and
 * clang lower these without -march, and GCC's -O2 would leave the loops below
 * scalar (its cheap vectoriser refuses runtime trip counts).
 */
typedef float v4f __attribute__((vector_size(16)));
typedef int32_t v4i __attribute__((vector_size(16)));

static inline v4f load4(const float *p)
{
    v4f v;
    memcpy(&v, p, sizeof v);
    return v;
}

static inline void store4(float *p, v4f v) { memcpy(p, &v, sizeof v); }

static inline v4f splat4(float x) { return (v4f){x, x, x, x}; }

/* Lane-wise a > b ? a : b, with NaN giving b (as the scalar comparison did). */
static inline v4f max4(v4f a, v4f b)
{
    v4i gt = a > b;
    return (v4f)(((v4i)a & gt) | ((v4i)b & ~gt));
}

/*
 * Natural log for x >= FLT_EPSILON, branch-free: x = 2^e * m with m in
 * [sqrt(1/2), sqrt(2)), log m = 2 atanh(s), s = (m-1)/(m+1), |s| < 0.1716,
 * series to s^7: error below 3e-8 (2 |s|^9 / 9), far inside the 1e-3 contract.
 */
static inline v4f fast_log4(v4f x)
{
    v4i u = (v4i)x;
    v4i e = ((u >> 23) & 0xff) - 127;
    u = (u & 0x007fffff) | 0x3f800000; /* m in [1, 2) */
    v4f m = (v4f)u;
    v4i big = m > splat4(1.41421356f); /* -1 in the lanes above sqrt 2 */
    m = (v4f)(((v4i)(m * 0.5f) & big) | ((v4i)m & ~big));
    e -= big;
    v4f s = (m - 1.0f) / (m + 1.0f), s2 = s * s;
    v4f p = 1.0f + s2 * (1.0f / 3 + s2 * (1.0f / 5 + s2 * (1.0f / 7)));
    return __builtin_convertvector(e, v4f) * 0.69314718f + 2.0f * s * p;
}

/* Sums in 8 independent lanes (two vectors), so the order is fixed and needs no reassociation. */
static float sum8(const float *x, int n)
{
    v4f a = splat4(0), b = splat4(0);
    int j = 0;
    for (; j + 8 <= n; j += 8) {
        a += load4(x + j);
        b += load4(x + j + 4);
    }
    float s = 0;
    for (; j < n; j++)
        s += x[j];
    v4f v = a + b;
    return s + ((v[0] + v[1]) + (v[2] + v[3]));
}

static double sumsq_centered(const float *x, int n, float m)
{
    v4f a = splat4(0), b = splat4(0);
    int j = 0;
    for (; j + 8 <= n; j += 8) {
        v4f d = load4(x + j) - m, e = load4(x + j + 4) - m;
        a += d * d;
        b += e * e;
    }
    double s = 0;
    for (; j < n; j++)
        s += (double)(x[j] - m) * (x[j] - m);
    v4f v = a + b;
    return s + ((v[0] + v[1]) + (v[2] + v[3]));
}

/* Frames per block: the mel projection runs over 8 frames at once, 8 independent sums per weight. */
#define LANES 8

/* Frame t's windowed, padded samples into fb->frame; its raw or windowed energy into *energy. */
static void prepare_frame(loaa_fbank *fb, const float *wave, size_t n, int t, loaa_rng *dither_rng, double *energy)
{
    const loaa_fbank_opts *o = &fb->o;
    int win = fb->win;
    long pad = fb->win / 2 - fb->shift / 2;
    float *x = fb->frame;
    const float *w = fb->window;
    float c = (float)o->preemphasis;
    /* the common case (AST's): frames read straight from the waveform, no copy before the fused pass */
    int direct = o->snip_edges && o->dither == 0;
    long start = (long)t * fb->shift;
    const float *src;
    if (direct) {
        src = wave + start;
    } else {
        if (o->snip_edges)
            memcpy(x, wave + start, win * sizeof(float));
        else
            for (int j = 0; j < win; j++)
                x[j] = reflect_at(wave, (long)n, start + j - pad);
        if (o->dither != 0 && dither_rng)
            for (int j = 0; j < win; j++)
                x[j] += (float)(loaa_rng_normal(dither_rng) * o->dither);
        src = x;
    }
    float m = o->remove_dc_offset ? sum8(src, win) / win : 0.0f;
    *energy = 0;
    if (o->use_energy && o->raw_energy)
        *energy = sumsq_centered(src, win, m);
    /* one fused pass: remove DC, pre-emphasise (x[-1] = x[0], as Kaldi), window */
    float first = (src[0] - m) - c * (src[0] - m);
    if (direct) {
        float cm = m - c * m;
        int j = 1;
        for (; j + 4 <= win; j += 4)
            store4(x + j, (load4(src + j) - c * load4(src + j - 1) - cm) * load4(w + j));
        for (; j < win; j++)
            x[j] = (src[j] - c * src[j - 1] - cm) * w[j];
    } else {
        for (int j = win - 1; j > 0; j--) /* in place: going down reads x[j - 1] before it changes */
            x[j] = ((src[j] - m) - c * (src[j - 1] - m)) * w[j];
    }
    x[0] = first * w[0];
    for (int j = win; j < fb->padded; j++)
        x[j] = 0;
    if (o->use_energy && !o->raw_energy)
        *energy = sumsq_centered(x, win, 0.0f);
}

/*
 * The power (or magnitude) spectrum X[k], k in [0, H], H = padded / 2, into
 * pw[k * LANES], from Z = DFT_H(x[2n] + i x[2n+1]) in fb->spec: with B = Z[H - k],
 * E = (Z[k] + conj B) / 2 and O = (Z[k] - conj B) / 2i are the spectra of the
 * even and odd samples, and X[k] = E + e^(-2 pi i k / 2H) O.
 */
static void power_spectrum(loaa_fbank *fb, float *pw, int use_power)
{
    int H = fb->padded / 2;
    fb->spec[H][0] = fb->spec[0][0];
    fb->spec[H][1] = fb->spec[0][1];
    const float *z = (const float *)fb->spec;
    int k = 0;
    for (; k + 4 <= H + 1; k += 4) {
        const float *a = z + 2 * k, *b = z + 2 * (H - k);
        v4f ar = {a[0], a[2], a[4], a[6]}, ai = {a[1], a[3], a[5], a[7]};
        v4f br = {b[0], b[-2], b[-4], b[-6]}, bi = {b[1], b[-1], b[-3], b[-5]};
        v4f c = load4(fb->twc + k), sn = load4(fb->tws + k);
        v4f er = 0.5f * (ar + br), ei = 0.5f * (ai - bi), orr = 0.5f * (ai + bi), oi = 0.5f * (br - ar);
        v4f xr = er + c * orr + sn * oi, xi = ei + c * oi - sn * orr;
        float v[4];
        store4(v, xr * xr + xi * xi);
        pw[k * LANES] = v[0];
        pw[(k + 1) * LANES] = v[1];
        pw[(k + 2) * LANES] = v[2];
        pw[(k + 3) * LANES] = v[3];
    }
    for (; k <= H; k++) {
        const float *a = z + 2 * k, *b = z + 2 * (H - k);
        float er = 0.5f * (a[0] + b[0]), ei = 0.5f * (a[1] - b[1]), orr = 0.5f * (a[1] + b[1]), oi = 0.5f * (b[0] - a[0]);
        float xr = er + fb->twc[k] * orr + fb->tws[k] * oi, xi = ei + fb->twc[k] * oi - fb->tws[k] * orr;
        pw[k * LANES] = xr * xr + xi * xi;
    }
    if (!use_power)
        for (k = 0; k <= H; k++)
            pw[k * LANES] = sqrtf(pw[k * LANES]);
}

void loaa_fbank_compute(loaa_fbank *fb, float *out, const float *wave, size_t n, loaa_rng *dither_rng)
{
    const loaa_fbank_opts *o = &fb->o;
    int frames = loaa_fbank_num_frames(fb, n), nb = o->num_mel_bins;
    const float eps = FLT_EPSILON;
    int mel_at = o->use_energy && !o->htk_compat ? 1 : 0;
    int energy_at = o->htk_compat ? nb : 0;
    for (int t0 = 0; t0 < frames; t0 += LANES) {
        int lanes = frames - t0 < LANES ? frames - t0 : LANES;
        for (int f = 0; f < lanes; f++) {
            prepare_frame(fb, wave, n, t0 + f, dither_rng, &fb->energy[f]);
            fftwf_execute(fb->plan);
            power_spectrum(fb, fb->power + f, o->use_power);
        }
        for (int f = lanes; f < LANES; f++)
            for (int k = 0; k < fb->nbins; k++)
                fb->power[k * LANES + f] = 0;
        /* mel projection and log over the block's frames at once: lanes are frames */
        float *row = out + (size_t)t0 * fb->dim + mel_at;
        for (int b = 0; b < nb; b++) {
            const float *wt = fb->weights + fb->off[b];
            const float *p = fb->power + (size_t)fb->lo[b] * LANES;
            v4f lo = splat4(0), hi = splat4(0);
            for (int k = 0, mm = fb->hi[b] - fb->lo[b]; k < mm; k++) {
                v4f w = splat4(wt[k]);
                lo += w * load4(p + k * LANES);
                hi += w * load4(p + k * LANES + 4);
            }
            if (o->use_log_fbank) {
                lo = fast_log4(max4(lo, splat4(eps)));
                hi = fast_log4(max4(hi, splat4(eps)));
            }
            float v[LANES];
            store4(v, lo);
            store4(v + 4, hi);
            for (int f = 0; f < lanes; f++)
                row[(size_t)f * fb->dim + b] = v[f];
        }
        if (o->use_energy)
            for (int f = 0; f < lanes; f++) {
                double e = fb->energy[f];
                double le = log(e > eps ? e : eps);
                if (o->energy_floor > 0 && le < log(o->energy_floor))
                    le = log(o->energy_floor);
                out[(size_t)(t0 + f) * fb->dim + energy_at] = (float)le;
            }
    }
    if (o->subtract_mean && frames > 0) {
        for (int d = 0; d < fb->dim; d++) {
            double s = 0;
            for (int t = 0; t < frames; t++)
                s += out[(size_t)t * fb->dim + d];
            float m = (float)(s / frames);
            for (int t = 0; t < frames; t++)
                out[(size_t)t * fb->dim + d] -= m;
        }
    }
}
