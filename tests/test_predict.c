/*
 * test_predict.c - `loaa predict` end to end: adapter files written with the
 * library, a WAV and a .npy input, the binary run through popen; its logits
 * must equal the library's on the same features, and a wrong backbone must
 * be refused.
 */
#include <jansson.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/config.h"
#include "common/dataset.h"
#include "common/rng.h"
#include "common/status.h"
#include "kernels/checkpoint.h"
#include "kernels/model.h"
#include "kernels/weights.h"
#include "tests/tap.h"
#include "worker/audio.h"
#include "worker/features.h"
#include "worker/npy.h"
#include "worker/spec.h"

#define M 32
#define T 48
#define C 3

static char dir[64];
static const char *loaa_bin;
static const char *frontend = "{\"kind\":\"audio\",\"sample_rate\":16000,\"fbank\":{\"num_mel_bins\":32},"
                              "\"target_length\":48,\"mean\":-5,\"std\":4,\"multilabel\":false}";

static const char *path_of(const char *name)
{
    static char buf[6][256];
    static int k;
    k = (k + 1) % 6;
    snprintf(buf[k], sizeof buf[k], "%s/%s", dir, name);
    return buf[k];
}

static loaa_config config(loaa_method method)
{
    loaa_config c;
    loaa_config_defaults(&c);
    strcpy(c.dataset, "synthetic");
    strcpy(c.model, "vit-micro");
    c.fstride = c.tstride = 16;
    c.method = method;
    c.bottleneck = 4;
    c.seed = 3;
    loaa_config_validate(&c);
    return c;
}

/* Runs the binary; returns its exit status and its stdout (caller frees). */
static int run(const char *args, char **out)
{
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "'%s' predict %s 2>%s", loaa_bin, args, path_of("stderr.txt"));
    FILE *p = popen(cmd, "r");
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap);
    size_t k;
    while (p && (k = fread(buf + n, 1, cap - 1 - n, p)) > 0)
        n += k;
    buf[n] = '\0';
    int rc = p ? pclose(p) : -1;
    *out = buf;
    return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

static char *read_stderr(void)
{
    static char buf[4096];
    FILE *f = fopen(path_of("stderr.txt"), "r");
    size_t n = f ? fread(buf, 1, sizeof buf - 1, f) : 0;
    buf[n] = '\0';
    if (f)
        fclose(f);
    return buf;
}

/* The logits the library gives for a file with the adapter's front end. */
static int library_logits(loaa_model *m, const char *file, float *logits)
{
    const char *classes = "[\"a\",\"b\",\"c\"]";
    char text[1024];
    snprintf(text, sizeof text,
             "{\"format\":\"loaa-dataset\",\"version\":1,\"name\":\"t\",\"classes\":%s,"
             "\"splits\":{\"train\":[],\"val\":[],\"test\":[]},%s",
             classes, frontend + 1);
    loaa_dataset *ds;
    if (loaa_dataset_parse(text, ".", 0, &ds))
        return -1;
    float x[M * T];
    int bad = loaa_features_from_file(file, ds, T, x) || loaa_model_predict(m, x, 1, logits);
    loaa_dataset_free(ds);
    return bad ? -1 : 0;
}

static void compare_json(const char *out, loaa_model *m, const char *file, const char *what)
{
    json_error_t err;
    json_t *doc = json_loads(out, 0, &err);
    json_t *r0 = json_array_get(json_object_get(doc, "results"), 0);
    json_t *lg = json_object_get(r0, "logits"), *top = json_object_get(r0, "top");
    float want[C];
    int ok = doc && json_array_size(lg) == C && json_array_size(top) == 2 && library_logits(m, file, want) == 0;
    double md = 0;
    for (int k = 0; ok && k < C; k++)
        md = fmax(md, fabs(json_number_value(json_array_get(lg, k)) - want[k]));
    double p0 = json_number_value(json_object_get(json_array_get(top, 0), "probability"));
    double p1 = json_number_value(json_object_get(json_array_get(top, 1), "probability"));
    TAP_OK(ok && md <= 1e-6 && p0 >= p1 && p0 > 0 && p0 <= 1, "%s: --json logits equal the library's (max diff %.3g)",
           what, md);
    json_decref(doc);
}

int main(void)
{
    loaa_bin = getenv("LOAA");
    if (!loaa_bin || access(loaa_bin, X_OK) != 0) {
        printf("1..0 # SKIP the loaa binary is not built\n");
        return 0;
    }
    snprintf(dir, sizeof dir, "/tmp/loaa-test-predict-XXXXXX");
    if (!mkdtemp(dir))
        return 1;
    const char *names[C] = {"a", "b", "c"};

    /* Inputs: 0.6 s of a chirp at 16 kHz as WAV, and a precomputed fbank as .npy. */
    size_t ns = 9600;
    float *wave = malloc(ns * sizeof(float));
    for (size_t i = 0; i < ns; i++)
        wave[i] = 0.3f * sinf((float)(2 * M_PI * (200.0 + 2000.0 * i / ns) * i / 16000.0));
    void *wav;
    size_t wav_size;
    char wav_path[256];
    snprintf(wav_path, sizeof wav_path, "%s", path_of("clip.wav"));
    if (loaa_audio_encode_wav(wave, ns, 16000, 0, &wav, &wav_size) == LOAA_OK) {
        FILE *f = fopen(wav_path, "wb");
        fwrite(wav, 1, wav_size, f);
        fclose(f);
        free(wav);
    }
    free(wave);
    float fb[40 * M];
    loaa_rng r;
    loaa_rng_seed(&r, 9);
    for (int i = 0; i < 40 * M; i++)
        fb[i] = (float)(-5 + 2 * loaa_rng_normal(&r));
    void *npy;
    size_t npy_size;
    char npy_path[256];
    snprintf(npy_path, sizeof npy_path, "%s", path_of("clip.npy"));
    if (loaa_npy_encode(fb, 40, M, &npy, &npy_size) == LOAA_OK) {
        FILE *f = fopen(npy_path, "wb");
        fwrite(npy, 1, npy_size, f);
        fclose(f);
        free(npy);
    }

    /* A from-scratch trial: the adapter file holds every weight. */
    loaa_config cf = config(LOAA_METHOD_LOAA_TF);
    char *cf_json = loaa_config_canonical(&cf); /* as the trial runner writes it */
    loaa_model_shape shape = {.n_mel = M, .n_frames = T, .n_classes = C, .max_batch = 1};
    loaa_model *m = NULL;
    loaa_status st = loaa_spec_create_model(&m, &cf, &shape);
    if (!st)
        st = loaa_model_init(m, 11);
    size_t nt;
    const loaa_tensor_ref *refs = m ? loaa_model_tensors(m, &nt) : NULL;
    for (size_t i = 0; !st && i < nt; i++) /* non-zero up-projections, so the adapters matter */
        if (strstr(refs[i].name, "up.weight"))
            for (int64_t j = 0; j < refs[i].shape[0] * refs[i].shape[1]; j++)
                refs[i].data[j] = 0.01f * (float)((j % 7) - 3);
    loaa_checkpoint_adapter_info info = {.class_names = names, .n_classes = C, .fbank_json = frontend, .n_mel = M, .n_frames = T};
    char full_path[256];
    snprintf(full_path, sizeof full_path, "%s", path_of("full.safetensors"));
    if (!st)
        st = loaa_checkpoint_adapter_export(full_path, m, cf_json, &info);
    TAP_OK(st == LOAA_OK, "from-scratch adapter written: %s", st ? loaa_error_detail() : "ok");
    char args[1024], *out;
    snprintf(args, sizeof args, "--adapter '%s' --top 2 '%s' '%s'", full_path, wav_path, npy_path);
    int rc = run(args, &out);
    TAP_OK(rc == 0 && strstr(out, "clip.wav\n") && strstr(out, "clip.npy\n"), "text output for a WAV and a .npy: %s",
           rc ? read_stderr() : "ok");
    free(out);
    snprintf(args, sizeof args, "--adapter '%s' --top 2 --json '%s'", full_path, wav_path);
    rc = run(args, &out);
    TAP_OK(rc == 0, "--json runs: %s", rc ? read_stderr() : "ok");
    if (m)
        compare_json(out, m, wav_path, "from scratch, WAV");
    free(out);
    snprintf(args, sizeof args, "--adapter '%s' --top 2 --json '%s'", full_path, npy_path);
    rc = run(args, &out);
    if (m)
        compare_json(out, m, npy_path, "from scratch, .npy");
    free(out);

    /* A backbone trial: the adapter holds the trained tensors and the backbone's hash. */
    char bb_path[256], ad_path[256], other_path[256];
    snprintf(bb_path, sizeof bb_path, "%s", path_of("backbone.safetensors"));
    snprintf(ad_path, sizeof ad_path, "%s", path_of("adapter.safetensors"));
    snprintf(other_path, sizeof other_path, "%s", path_of("other.safetensors"));
    loaa_config cb = config(LOAA_METHOD_FULL);
    char *cb_json = loaa_config_canonical(&cb);
    loaa_model *bm = NULL, *am = NULL;
    st = loaa_spec_create_model(&bm, &cb, &shape);
    if (!st)
        st = loaa_model_init(bm, 5);
    if (!st)
        st = loaa_weights_export_backbone(bb_path, bm, cb_json);
    if (!st)
        st = loaa_model_init(bm, 6);
    if (!st)
        st = loaa_weights_export_backbone(other_path, bm, cb_json);
    if (!st)
        st = loaa_spec_create_model(&am, &cf, &shape);
    if (!st)
        st = loaa_model_init(am, 3);
    if (!st)
        st = loaa_weights_load_backbone(am, bb_path);
    info.backbone_path = bb_path;
    if (!st)
        st = loaa_checkpoint_adapter_export(ad_path, am, cf_json, &info);
    TAP_OK(st == LOAA_OK, "backbone and its adapter written: %s", st ? loaa_error_detail() : "ok");
    snprintf(args, sizeof args, "--backbone '%s' --adapter '%s' --top 2 --json '%s'", bb_path, ad_path, wav_path);
    rc = run(args, &out);
    TAP_OK(rc == 0, "adapter on its backbone runs: %s", rc ? read_stderr() : "ok");
    if (am && rc == 0)
        compare_json(out, am, wav_path, "adapter on its backbone");
    free(out);
    snprintf(args, sizeof args, "--backbone '%s' --adapter '%s' '%s'", other_path, ad_path, wav_path);
    rc = run(args, &out);
    TAP_OK(rc == 1 && strstr(read_stderr(), "does not match"), "another backbone refused: %s", read_stderr());
    free(out);
    snprintf(args, sizeof args, "--adapter '%s' '%s'", ad_path, wav_path);
    rc = run(args, &out);
    TAP_OK(rc == 2 && strstr(read_stderr(), "--backbone"), "no backbone for a backbone adapter: %s", read_stderr());
    free(out);
    snprintf(args, sizeof args, "--adapter '%s' '%s'", ad_path, path_of("absent.wav"));
    rc = run("--adapter", &out);
    TAP_OK(rc == 2, "usage error exits 2");
    free(out);
    snprintf(args, sizeof args, "--adapter '%s' '%s'", full_path, path_of("absent.wav"));
    rc = run(args, &out);
    TAP_OK(rc == 1 && strstr(read_stderr(), "absent.wav"), "missing input named: %s", read_stderr());
    free(out);
    /* Issue 18 #13: /dev/zero (endless) and a large non-audio file are refused from their first bytes, not after 2 GiB. */
    char zero_path[256], zero_npy[256];
    snprintf(zero_path, sizeof zero_path, "%s", path_of("zero.wav"));
    snprintf(zero_npy, sizeof zero_npy, "%s", path_of("zero.npy"));
    int linked = symlink("/dev/zero", zero_path) == 0 && symlink("/dev/zero", zero_npy) == 0;
    snprintf(args, sizeof args, "--adapter '%s' '%s'", full_path, zero_path);
    out = NULL;
    rc = linked ? run(args, &out) : -1;
    TAP_OK(rc == 1 && strstr(read_stderr(), "zero.wav: not a readable audio file"), "/dev/zero as audio refused unread: %s",
           read_stderr());
    free(out);
    snprintf(args, sizeof args, "--adapter '%s' '%s'", full_path, zero_npy);
    out = NULL;
    rc = linked ? run(args, &out) : -1;
    TAP_OK(rc == 1 && strstr(read_stderr(), "zero.npy: not a .npy file"), "/dev/zero as .npy refused unread: %s", read_stderr());
    free(out);
    /* Issue 18 #11: a file name that is not UTF-8 keeps its result in --json, escaped (it was dropped). */
    char odd_path[256];
    snprintf(odd_path, sizeof odd_path, "%s", path_of("odd\xff\\.wav"));
    snprintf(args, sizeof args, "--adapter '%s' --json '%s'", full_path, odd_path);
    out = NULL;
    rc = symlink(wav_path, odd_path) == 0 ? run(args, &out) : -1;
    TAP_OK(rc == 0 && out && strstr(out, "odd\\\\xff\\\\\\\\.wav\"") && strstr(out, "\"file_escaped\": true") && strstr(out, "\"logits\""),
           "--json keeps the result of a non-UTF-8 file name, escaped as odd\\xff\\\\.wav: %s", rc ? read_stderr() : out);
    free(out);
    loaa_model_free(m);
    loaa_model_free(bm);
    loaa_model_free(am);
    free(cf_json);
    free(cb_json);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        TAP_DIAG("could not remove %s", dir);
    return tap_done();
}
