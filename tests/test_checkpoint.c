/*
 * test_checkpoint.c - checkpoint round trip (train k steps, save, load into a
 * fresh model, continue: bit-identical to never stopping), refusals naming
 * the tensor or key, and adapter files (trainable-only and full).
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/config.h"
#include "common/rng.h"
#include "common/sha256.h"
#include "common/status.h"
#include "kernels/checkpoint.h"
#include "kernels/model.h"
#include "kernels/safetensors.h"
#include "tests/tap.h"
#include "worker/spec.h"

#define B 4
#define M 32
#define T 48
#define C 3

static char dir[64];
static float xs[6][B * M * T], ys[6][B * C];

static const char *tmp_path(const char *name)
{
    static char buf[4][256];
    static int k;
    k = (k + 1) % 4;
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
    c.lr = 1e-3;
    loaa_config_validate(&c);
    return c;
}

/* A config's canonical text, as the trial runner gives it to the checkpoint module (valid for the next 3 calls). */
static const char *canon(const loaa_config *c)
{
    static char *ring[4];
    static int k;
    k = (k + 1) % 4;
    free(ring[k]);
    ring[k] = loaa_config_canonical(c);
    return ring[k];
}

/* The adapter's config, parsed and validated (worker/spec.c); the defaults when that fails. */
static const loaa_config *adapter_config(const loaa_checkpoint_adapter *ad)
{
    static loaa_config c;
    if (loaa_spec_adapter_config(ad, &c)) {
        TAP_DIAG("adapter config: %s", loaa_error_detail());
        loaa_config_defaults(&c);
    }
    return &c;
}

static const loaa_model_shape shape = {.n_mel = M, .n_frames = T, .n_classes = C, .max_batch = B};

static loaa_model *make(const loaa_config *c, uint64_t seed)
{
    loaa_model *m = NULL;
    if (loaa_spec_create_model(&m, c, &shape) || loaa_model_init(m, seed)) {
        TAP_DIAG("model: %s", loaa_error_detail());
        loaa_model_free(m);
        return NULL;
    }
    return m;
}

static loaa_status steps(loaa_model *m, int from, int to)
{
    for (int s = from; s < to; s++) {
        float loss;
        loaa_status st = loaa_model_train_step(m, xs[s], ys[s], B, 1e-3, &loss);
        if (st)
            return st;
    }
    return LOAA_OK;
}

static size_t numel(const loaa_tensor_ref *r)
{
    size_t n = 1;
    for (int d = 0; d < r->ndim; d++)
        n *= (size_t)r->shape[d];
    return n;
}

/* 1 when every parameter (and, with optim, the AdamW state) is bitwise equal. */
static int same_model(loaa_model *a, loaa_model *b, int optim, int trainable_only)
{
    size_t n, nb;
    const loaa_tensor_ref *ra = loaa_model_tensors(a, &n), *rb = loaa_model_tensors(b, &nb);
    if (n != nb)
        return 0;
    for (size_t i = 0; i < n; i++)
        if ((!trainable_only || ra[i].trainable) && memcmp(ra[i].data, rb[i].data, numel(&ra[i]) * sizeof(float)))
            return 0;
    if (!optim)
        return 1;
    loaa_optim_state oa = loaa_model_optim_state(a), ob = loaa_model_optim_state(b);
    return oa.step == ob.step && oa.count == ob.count && !memcmp(oa.m, ob.m, oa.count * sizeof(float)) &&
           !memcmp(oa.v, ob.v, oa.count * sizeof(float));
}

static void test_round_trip(void)
{
    loaa_config c = config(LOAA_METHOD_LOAA_TF);
    loaa_model *a = make(&c, 1), *b = make(&c, 99);
    if (!a || !b) {
        TAP_OK(0, "models created");
        goto out;
    }
    loaa_status st = steps(a, 0, 3);
    TAP_OK(st == LOAA_OK, "3 steps: %s", st ? loaa_error_detail() : "ok");
    loaa_checkpoint_state s = {.epoch = 2, .batch = 3};
    loaa_rng_seed(&s.rng, 12345);
    loaa_rng_next(&s.rng);
    snprintf(s.extra, sizeof s.extra, "{\"best_val_acc\":0.5}");
    const char *p = tmp_path("ckpt.safetensors");
    st = loaa_checkpoint_save(p, a, canon(&c), &s);
    TAP_OK(st == LOAA_OK, "checkpoint saved: %s", st ? loaa_error_detail() : "ok");
    loaa_checkpoint_state back;
    memset(&back, 0, sizeof back);
    st = loaa_checkpoint_load(p, b, canon(&c), &back);
    TAP_OK(st == LOAA_OK, "checkpoint loaded into a fresh model: %s", st ? loaa_error_detail() : "ok");
    TAP_OK(back.epoch == 2 && back.batch == 3 && !memcmp(&back.rng, &s.rng, sizeof s.rng) &&
               !strcmp(back.extra, s.extra),
           "epoch, batch, RNG state and extra restored");
    TAP_OK(same_model(a, b, 1, 0), "parameters, AdamW moments and step identical after load");
    st = steps(a, 3, 6);
    if (!st)
        st = steps(b, 3, 6);
    TAP_OK(st == LOAA_OK && same_model(a, b, 1, 0),
           "3 more steps after the resume: bit-identical to never stopping");

    /* The file is plain safetensors: the moments are there under their own names. */
    loaa_safetensors_file *f;
    if (loaa_safetensors_open(p, &f) == LOAA_OK) {
        TAP_OK(loaa_safetensors_find(f, "optim.m.norm.weight") && loaa_safetensors_find(f, "optim.v.head.bias") &&
                   !loaa_safetensors_find(f, "optim.m.blocks.0.attn.qkv.weight") && loaa_safetensors_meta(f, "loaa.config"),
               "AdamW moments stored for trainable tensors only, config in the metadata");
        loaa_safetensors_close(f);
    }

    /* Refusals: another trial's config, another method, a corrupt or NaN file; the model stays as it was. */
    loaa_config c2 = c;
    c2.lr = 5e-3;
    st = loaa_checkpoint_load(p, b, canon(&c2), &back);
    TAP_OK(st == LOAA_ERR_CONFIG && strstr(loaa_error_detail(), "key 'lr'"), "config mismatch names the key: %s",
           loaa_error_detail());
    loaa_config c3 = config(LOAA_METHOD_ADAPTER);
    loaa_model *other = make(&c3, 1);
    st = other ? loaa_checkpoint_load(p, other, NULL, &back) : LOAA_ERR_INTERNAL;
    TAP_OK(st != LOAA_OK && strstr(loaa_error_detail(), "tensor '"), "another method's model refused: %s",
           loaa_error_detail());
    loaa_model_free(other);
    loaa_config c4 = c;
    c4.bottleneck = 8;
    other = make(&c4, 1);
    st = other ? loaa_checkpoint_load(p, other, NULL, &back) : LOAA_ERR_INTERNAL;
    TAP_OK(st == LOAA_ERR_SHAPE && strstr(loaa_error_detail(), "adapter_attn.down.weight") &&
               strstr(loaa_error_detail(), "shape"),
           "another bottleneck refused naming the tensor and shapes: %s", loaa_error_detail());
    loaa_model_free(other);

    /* Truncated copy. */
    FILE *in = fopen(p, "rb");
    static uint8_t bytes[1 << 22];
    size_t len = fread(bytes, 1, sizeof bytes, in);
    fclose(in);
    const char *q = tmp_path("trunc.safetensors");
    FILE *out = fopen(q, "wb");
    fwrite(bytes, 1, len - 100, out);
    fclose(out);
    st = loaa_checkpoint_load(q, b, canon(&c), &back);
    TAP_OK(st == LOAA_ERR_FORMAT && strstr(loaa_error_detail(), "trunc.safetensors"), "truncated checkpoint: %s",
           loaa_error_detail());
    /* NaN in the last tensor's data: validated before anything is copied. */
    float qnan = NAN;
    memcpy(bytes + len - 4, &qnan, 4);
    out = fopen(q, "wb");
    fwrite(bytes, 1, len, out);
    fclose(out);
    steps(a, 0, 1);
    steps(b, 0, 1);
    st = loaa_checkpoint_load(q, b, canon(&c), &back);
    TAP_OK(st == LOAA_ERR_NUMERIC && strstr(loaa_error_detail(), "tensor '") && same_model(a, b, 1, 0),
           "NaN refused naming the tensor, the model unchanged: %s", loaa_error_detail());
out:
    loaa_model_free(a);
    loaa_model_free(b);
}

static void test_adapter_files(void)
{
    loaa_config c = config(LOAA_METHOD_LOAA_TF);
    loaa_model *a = make(&c, 1);
    if (!a || steps(a, 0, 2)) {
        TAP_OK(0, "trained model for the adapter test");
        loaa_model_free(a);
        return;
    }
    const char *names[C] = {"dog", "rain", "sea waves"};
    const char *backbone = tmp_path("bb.bin");
    FILE *fp = fopen(backbone, "wb");
    fputs("pretend backbone", fp);
    fclose(fp);
    loaa_checkpoint_adapter_info info = {.class_names = names, .n_classes = C,
                              .fbank_json = "{\"num_mel_bins\":32,\"mean\":-4.2,\"std\":4.5}",
                              .backbone_path = backbone, .n_mel = M, .n_frames = T};
    const char *p = tmp_path("adapter.safetensors");
    loaa_status st = loaa_checkpoint_adapter_export(p, a, canon(&c), &info);
    TAP_OK(st == LOAA_OK, "adapter exported: %s", st ? loaa_error_detail() : "ok");
    loaa_checkpoint_adapter *ad = NULL;
    st = loaa_checkpoint_adapter_open(p, &ad);
    TAP_OK(st == LOAA_OK, "adapter opened: %s", st ? loaa_error_detail() : "ok");
    if (st) {
        loaa_model_free(a);
        return;
    }
    loaa_model_shape sh = loaa_checkpoint_adapter_shape(ad);
    char want_sha[65] = "";
    loaa_sha256_file(backbone, want_sha);
    TAP_OK(loaa_checkpoint_adapter_num_classes(ad) == C && !strcmp(loaa_checkpoint_adapter_class_name(ad, 2), "sea waves") &&
               sh.n_mel == M && sh.n_frames == T && sh.n_classes == C && !loaa_checkpoint_adapter_is_full(ad) &&
               !strcmp(loaa_checkpoint_adapter_backbone_name(ad), "bb.bin") &&
               !strcmp(loaa_checkpoint_adapter_backbone_sha256(ad), want_sha) &&
               adapter_config(ad)->method == LOAA_METHOD_LOAA_TF,
           "classes, input shape, backbone name and hash, config read back");
    loaa_safetensors_file *f;
    if (loaa_safetensors_open(p, &f) == LOAA_OK) {
        TAP_OK(loaa_safetensors_find(f, "head.weight") && loaa_safetensors_find(f, "blocks.1.adapter_mlp.up.weight") &&
                   !loaa_safetensors_find(f, "blocks.0.attn.qkv.weight") && !strcmp(loaa_safetensors_meta(f, "loaa.method"), "loaa-tf"),
               "adapter file: trainable tensors only");
        loaa_safetensors_close(f);
    }
    loaa_model *b = make(adapter_config(ad), 1); /* same seed: the frozen part equals a's */
    sh.max_batch = B;
    st = b ? loaa_checkpoint_adapter_apply(ad, b) : LOAA_ERR_INTERNAL;
    TAP_OK(st == LOAA_OK && same_model(a, b, 0, 0), "applied to a model with the same frozen weights: identical");
    loaa_model_free(b);
    loaa_config c3 = config(LOAA_METHOD_LORA);
    b = make(&c3, 1);
    st = b ? loaa_checkpoint_adapter_apply(ad, b) : LOAA_ERR_INTERNAL;
    TAP_OK(st == LOAA_ERR_SHAPE && strstr(loaa_error_detail(), "not part of this model"),
           "applied to a LoRA model: refused naming the tensor: %s", loaa_error_detail());
    loaa_model_free(b);
    loaa_checkpoint_adapter_close(ad);

    /* From scratch: the file carries every tensor. */
    info.backbone_path = NULL;
    st = loaa_checkpoint_adapter_export(p, a, canon(&c), &info);
    if (!st)
        st = loaa_checkpoint_adapter_open(p, &ad);
    TAP_OK(st == LOAA_OK && loaa_checkpoint_adapter_is_full(ad) && !strcmp(loaa_checkpoint_adapter_backbone_name(ad), "none"),
           "from-scratch adapter file is full: %s", st ? loaa_error_detail() : "ok");
    if (!st) {
        b = make(adapter_config(ad), 77);
        st = b ? loaa_checkpoint_adapter_apply(ad, b) : LOAA_ERR_INTERNAL;
        float x[B * M * T], la[B * C], lb[B * C];
        memcpy(x, xs[5], sizeof x);
        TAP_OK(st == LOAA_OK && same_model(a, b, 0, 0) && !loaa_model_predict(a, x, B, la) &&
                   !loaa_model_predict(b, x, B, lb) && !memcmp(la, lb, sizeof la),
               "a differently seeded model with the full file predicts identically");
        loaa_model_free(b);
        loaa_checkpoint_adapter_close(ad);
    }
    info.n_classes = 2;
    TAP_OK(loaa_checkpoint_adapter_export(p, a, canon(&c), &info) == LOAA_ERR_SHAPE, "class names must match the head");
    loaa_model_free(a);
}

static int same_fbank(const loaa_fbank_opts *a, const loaa_fbank_opts *b)
{
    return a->num_mel_bins == b->num_mel_bins && a->frame_shift_ms == b->frame_shift_ms &&
           a->frame_length_ms == b->frame_length_ms && a->window == b->window && a->blackman_coeff == b->blackman_coeff &&
           a->preemphasis == b->preemphasis && a->low_freq == b->low_freq && a->high_freq == b->high_freq &&
           a->dither == b->dither && a->energy_floor == b->energy_floor && a->vtln_warp == b->vtln_warp &&
           a->htk_compat == b->htk_compat && a->use_energy == b->use_energy && a->raw_energy == b->raw_energy &&
           a->remove_dc_offset == b->remove_dc_offset && a->round_to_power_of_two == b->round_to_power_of_two &&
           a->snip_edges == b->snip_edges && a->subtract_mean == b->subtract_mean &&
           a->use_log_fbank == b->use_log_fbank && a->use_power == b->use_power && a->window == LOAA_WINDOW_HAMMING &&
           a->snip_edges == 0 && a->dither == 0.5;
}

/* The front end written into adapter files rebuilds the same feature settings. */
static void test_frontend_json(void)
{
    const char *text = "{\"format\":\"loaa-dataset\",\"version\":1,\"name\":\"x\",\"classes\":[\"a\",\"b\"],"
                       "\"sample_rate\":22050,\"fbank\":{\"num_mel_bins\":40,\"window\":\"hamming\",\"dither\":0.5,"
                       "\"snip_edges\":false,\"frame_shift_ms\":12.5},\"target_length\":300,\"mean\":-3.25,\"std\":2.5,"
                       "\"multilabel\":true,\"splits\":{\"train\":[\"a.tar\"],\"val\":[],\"test\":[]}}";
    loaa_dataset *ds = NULL, *back = NULL;
    loaa_status st = loaa_dataset_parse(text, ".", 0, &ds);
    char *fe = st ? NULL : loaa_checkpoint_frontend_json(ds, 0);
    TAP_OK(fe != NULL, "front-end JSON of a dataset: %s", fe ? fe : loaa_error_detail());
    if (fe) {
        char whole[4096];
        snprintf(whole, sizeof whole, "{\"format\":\"loaa-dataset\",\"version\":1,\"name\":\"y\",\"classes\":[\"a\",\"b\"],"
                 "\"splits\":{\"train\":[],\"val\":[],\"test\":[]},%s", fe + 1);
        st = loaa_dataset_parse(whole, ".", 0, &back);
        TAP_OK(st == LOAA_OK && loaa_dataset_sample_rate(back) == 22050 && loaa_dataset_num_mel(back) == 40 &&
                   loaa_dataset_target_length(back) == 300 && loaa_dataset_mean(back) == -3.25 &&
                   loaa_dataset_std(back) == 2.5 && loaa_dataset_multilabel(back) &&
                   same_fbank(loaa_dataset_fbank(back), loaa_dataset_fbank(ds)),
               "it parses back to the same sample rate, fbank settings, length and statistics: %s",
               st ? loaa_error_detail() : "ok");
    }
    free(fe);
    loaa_dataset_free(ds);
    loaa_dataset_free(back);
}

int main(void)
{
    snprintf(dir, sizeof dir, "/tmp/loaa-test-ckpt-XXXXXX");
    if (!mkdtemp(dir))
        return 1;
    loaa_rng r;
    loaa_rng_seed(&r, 3);
    for (int s = 0; s < 6; s++) {
        for (int i = 0; i < B * M * T; i++)
            xs[s][i] = (float)loaa_rng_normal(&r);
        for (int b = 0; b < B; b++)
            for (int k = 0; k < C; k++)
                ys[s][b * C + k] = k == (b + s) % C;
    }
    test_round_trip();
    test_adapter_files();
    test_frontend_json();
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        TAP_DIAG("could not remove %s", dir);
    return tap_done();
}
