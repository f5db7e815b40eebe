/*
 * test_worker_fbank.c - the fbank against torchaudio.compliance.kaldi.fbank
 * (fixtures made once by tests/fixtures/make_fbank_fixtures.py: every case
 * within 1e-3 absolute), and soxr resampling against sox's output.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/dataset.h"
#include "tap.h"
#include "worker/audio.h"
#include "worker/fbank.h"
#include "worker/features.h"

static float *read_f32(const char *dir, const char *name, size_t *n)
{
    char path[2048];
    snprintf(path, sizeof path, "%s/tests/fixtures/%s", dir, name);
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    float *x = malloc(len > 0 ? (size_t)len : 1);
    *n = fread(x, 1, (size_t)len, f) / sizeof(float);
    fclose(f);
    return x;
}

/* key=value settings -> a dataset.json "fbank" object, parsed by the real manifest reader. */
static loaa_status opts_from_settings(char *settings, int rate, loaa_fbank_opts *o)
{
    char json[4096];
    int n = snprintf(json, sizeof json, "{\"name\": \"fx\", \"classes\": [\"a\"], \"sample_rate\": %d, \"fbank\": {", rate);
    char *save = NULL;
    int first = 1;
    for (char *tok = strtok_r(settings, " \n", &save); tok; tok = strtok_r(NULL, " \n", &save)) {
        char *eq = strchr(tok, '=');
        if (!eq)
            continue;
        *eq = '\0';
        const char *v = eq + 1;
        int quote = !strcmp(tok, "window");
        n += snprintf(json + n, sizeof json - n, "%s\"%s\": %s%s%s", first ? "" : ", ", tok, quote ? "\"" : "", v,
                      quote ? "\"" : "");
        first = 0;
    }
    snprintf(json + n, sizeof json - n, "}, \"splits\": {\"train\": [], \"val\": [], \"test\": []}}");
    loaa_dataset *ds;
    loaa_status st = loaa_dataset_parse(json, "/nonexistent", 0, &ds);
    if (st)
        return st;
    *o = *loaa_dataset_fbank(ds);
    loaa_dataset_free(ds);
    return LOAA_OK;
}

static void test_fixtures(const char *top)
{
    char path[2048];
    snprintf(path, sizeof path, "%s/tests/fixtures/fbank_cases.txt", top);
    FILE *f = fopen(path, "r");
    TAP_OK(f != NULL, "fixture manifest %s", path);
    if (!f)
        return;
    char line[2048];
    while (fgets(line, sizeof line, f)) {
        if (line[0] == '#')
            continue;
        char name[64], wave[128];
        int rate, frames, dim, off = 0;
        if (sscanf(line, "%63s %127s %d %d %d %n", name, wave, &rate, &frames, &dim, &off) != 5)
            continue;
        loaa_fbank_opts o;
        int rel = strstr(line + off, "use_log_fbank=false") != NULL; /* raw energies: compare relative */
        loaa_status st = opts_from_settings(line + off, rate, &o);
        TAP_OK(st == LOAA_OK, "%s: settings parse (%s)", name, loaa_error_detail());
        size_t nw, nr;
        float *w = read_f32(top, wave, &nw);
        char ref_name[128];
        snprintf(ref_name, sizeof ref_name, "fbank_%s.f32", name);
        float *ref = read_f32(top, ref_name, &nr);
        loaa_fbank *fb = NULL;
        if (!st)
            st = loaa_fbank_create(&o, rate, &fb);
        TAP_OK(st == LOAA_OK && w && ref, "%s: fbank created, fixtures read", name);
        if (st || !w || !ref) {
            free(w);
            free(ref);
            continue;
        }
        TAP_OK(loaa_fbank_num_frames(fb, nw) == frames && loaa_fbank_dim(fb) == dim, "%s: shape (%d, %d) = torchaudio's (%d, %d)",
               name, loaa_fbank_num_frames(fb, nw), loaa_fbank_dim(fb), frames, dim);
        float *got = malloc((size_t)frames * dim * sizeof(float));
        loaa_fbank_compute(fb, got, w, nw, NULL);
        double worst = 0;
        size_t at = 0;
        for (size_t i = 0; i < (size_t)frames * dim && i < nr; i++) {
            double d = fabs((double)got[i] - ref[i]);
            if (rel)
                d /= fabs(ref[i]) > 1 ? fabs(ref[i]) : 1;
            if (d > worst) {
                worst = d;
                at = i;
            }
        }
        TAP_OK(worst <= 1e-3, "%s: max %s difference %.3g <= 1e-3 (at frame %zu, bin %zu)", name, rel ? "relative" : "absolute",
               worst, at / dim, at % dim);
        /* the plan is reused: a second run gives the same numbers */
        float *again = malloc((size_t)frames * dim * sizeof(float));
        loaa_fbank_compute(fb, again, w, nw, NULL);
        TAP_OK(!memcmp(got, again, (size_t)frames * dim * sizeof(float)), "%s: reusing the plan is exact", name);
        free(again);
        free(got);
        free(w);
        free(ref);
        loaa_fbank_free(fb);
    }
    fclose(f);
}

static void test_resample(const char *top)
{
    char path[2048];
    snprintf(path, sizeof path, "%s/tests/fixtures/resample_in.wav", top);
    float *x = NULL, *y = NULL;
    size_t n, m, nr;
    int rate;
    loaa_status st = loaa_audio_read_file(path, &x, &n, &rate);
    TAP_OK(st == LOAA_OK && rate == 44100, "resample input read (%s)", loaa_error_detail());
    float *ref = read_f32(top, "resample_sox16k.f32", &nr);
    if (st || !ref) {
        free(x);
        free(ref);
        return;
    }
    st = loaa_audio_resample(x, n, 44100, 16000, &y, &m);
    TAP_OK(st == LOAA_OK && (m == nr || m + 1 == nr || m == nr + 1), "44.1 -> 16 kHz: %zu samples, sox %zu", m, nr);
    double err = 0, sig = 0, worst = 0;
    size_t k = m < nr ? m : nr;
    for (size_t i = 0; i < k; i++) {
        double d = (double)y[i] - ref[i];
        err += d * d;
        sig += (double)ref[i] * ref[i];
        if (fabs(d) > worst)
            worst = fabs(d);
    }
    double snr = 10 * log10(sig / (err > 0 ? err : 1e-30));
    /* soxr HQ vs sox's default "high" rate effect: the same filter family, so close but not bit-equal */
    TAP_OK(snr > 60, "soxr output matches sox within 60 dB SNR (%.1f dB)", snr);
    TAP_OK(worst < 5e-3, "soxr output matches sox within 5e-3 absolute (%.2g)", worst);
    /*
     * The loader resamples on load with soxr's medium quality: the features of
     * the 44.1 kHz clip must match those of sox's 16 kHz version (the same fbank,
     * so what differs is the resampler), in every bin that holds signal.
     */
    loaa_dataset *ds = NULL;
    loaa_featurizer *fz = NULL;
    float *fa = NULL, *fb = NULL;
    int ta = 0, tb = 0;
    st = loaa_dataset_parse("{\"name\": \"r\", \"classes\": [\"a\"], \"splits\": {\"train\": [], \"val\": [], \"test\": []}}",
                            "/x", 0, &ds);
    if (!st)
        st = loaa_featurizer_create(ds, 0, &fz);
    if (!st)
        st = loaa_featurizer_raw_wave(fz, x, n, 44100, "resample_in.wav", &fa, &ta);
    if (!st)
        st = loaa_featurizer_raw_wave(fz, ref, nr, 16000, "resample_sox16k.f32", &fb, &tb);
    double peak = -1e30, worst_bin = 0, sum_diff = 0;
    long used = 0;
    int frames_ab = ta < tb ? ta : tb, dim = fz ? loaa_featurizer_rows(fz) : 0;
    for (long i = 0; !st && i < (long)frames_ab * dim; i++)
        peak = fb[i] > peak ? fb[i] : peak;
    for (long i = 0; !st && i < (long)frames_ab * dim; i++)
        if (fb[i] > peak - 9.2) { /* within 40 dB of the loudest bin */
            double d = fabs((double)fa[i] - fb[i]);
            worst_bin = d > worst_bin ? d : worst_bin;
            sum_diff += d;
            used++;
        }
    TAP_OK(!st && abs(ta - tb) <= 1 && used > 100 && worst_bin < 0.02 && sum_diff / used < 0.001,
           "resampled on load: log-mel within 0.02 of sox's (worst %.3g, mean %.3g over %ld bins within 40 dB of the peak; %s)",
           worst_bin, used ? sum_diff / used : 0, used, st ? loaa_error_detail() : "ok");
    free(fa);
    free(fb);
    loaa_featurizer_free(fz);
    loaa_dataset_free(ds);
    float *same;
    size_t ns;
    st = loaa_audio_resample(x, n, 44100, 44100, &same, &ns);
    TAP_OK(st == LOAA_OK && ns == n && !memcmp(same, x, n * sizeof(float)), "same rate copies exactly");
    free(same);
    free(x);
    free(y);
    free(ref);
}

/* dither is honoured, and deterministic per clip (seeded by the clip, not by call order) */
static void test_dither(void)
{
    const char *fmt = "{\"name\": \"d\", \"classes\": [\"a\"], \"fbank\": {\"num_mel_bins\": 40, \"dither\": %s},"
                      " \"target_length\": 30, \"splits\": {\"train\": [], \"val\": [], \"test\": []}}";
    char json[512];
    float a[40 * 30], b[40 * 30], c[40 * 30], other[40 * 30];
    float x[4000];
    for (int i = 0; i < 4000; i++)
        x[i] = (float)(0.2 * sin(i * 0.05)) * (i > 2000);
    void *wav, *wav2;
    size_t ws, ws2;
    loaa_audio_encode_wav(x, 4000, 16000, 1, &wav, &ws);
    x[3000] += 0.1f;
    loaa_audio_encode_wav(x, 4000, 16000, 1, &wav2, &ws2);
    loaa_dataset *d0, *d1;
    snprintf(json, sizeof json, fmt, "0");
    loaa_dataset_parse(json, "/x", 0, &d0);
    snprintf(json, sizeof json, fmt, "1.0");
    loaa_dataset_parse(json, "/x", 0, &d1);
    loaa_featurizer *f0, *f1;
    loaa_featurizer_create(d0, 0, &f0);
    loaa_featurizer_create(d1, 0, &f1);
    loaa_featurizer_run(f0, a, wav, ws, "wav", 0, -1, "a");
    loaa_featurizer_run(f1, b, wav, ws, "wav", 0, -1, "b");
    loaa_featurizer_run(f1, other, wav2, ws2, "wav", 0, -1, "other");
    loaa_featurizer_run(f1, c, wav, ws, "wav", 0, -1, "c");
    TAP_OK(memcmp(a, b, sizeof a) != 0, "dither 1.0 changes the features (the silent half is no longer at the floor)");
    TAP_OK(!memcmp(b, c, sizeof b), "dithered features are the same for the same clip, whatever came between");
    free(wav);
    free(wav2);
    loaa_featurizer_free(f0);
    loaa_featurizer_free(f1);
    loaa_dataset_free(d0);
    loaa_dataset_free(d1);
}

int main(void)
{
    const char *top = getenv("top_srcdir");
    if (!top)
        top = ".";
    test_fixtures(top);
    test_resample(top);
    test_dither();
    return tap_done();
}
