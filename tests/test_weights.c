/*
 * test_weights.c - backbone import: shape inference, AST adaptation against
 * torch fixtures (tests/fixtures/make_weights_fixtures.py), timm and
 * transformers naming giving the same model, export -> import exact, and
 * corrupt or mismatched files refused naming the tensor.
 */
#include <jansson.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/config.h"
#include "common/rng.h"
#include "common/status.h"
#include "kernels/model.h"
#include "kernels/safetensors.h"
#include "kernels/weights.h"
#include "tests/tap.h"
#include "worker/spec.h"

static char fixtures[600], dir[64];
static char timm_path[700], hf_path[700], expect_path[700];

static const char *tmp_path(const char *name)
{
    static char buf[4][256];
    static int k;
    k = (k + 1) % 4;
    snprintf(buf[k], sizeof buf[k], "%s/%s", dir, name);
    return buf[k];
}

static loaa_config base_config(void)
{
    loaa_config c;
    loaa_config_defaults(&c);
    strcpy(c.dataset, "synthetic");
    c.fstride = c.tstride = 10;
    c.method = LOAA_METHOD_LINEAR;
    return c;
}

/* Creates a model for a backbone file and a target grid (Fn x Tn at stride 10). */
static loaa_status model_for(const char *path, int fn, int tn, loaa_method method, loaa_model **m)
{
    loaa_backbone_info bi;
    loaa_config c = base_config();
    c.method = method;
    loaa_model_shape shape = {.n_mel = 16 + (fn - 1) * 10, .n_frames = 16 + (tn - 1) * 10, .n_classes = 5,
                              .max_batch = 2};
    loaa_status st = loaa_weights_inspect(path, &bi);
    if (!st)
        st = loaa_spec_apply_backbone(&bi, &c, &shape);
    if (!st)
        st = loaa_config_validate(&c);
    if (!st)
        st = loaa_spec_create_model(m, &c, &shape);
    if (!st)
        st = loaa_model_init(*m, 7);
    return st;
}

static const loaa_tensor_ref *tensor(const loaa_model *m, const char *name)
{
    size_t n;
    const loaa_tensor_ref *r = loaa_model_tensors(m, &n);
    for (size_t i = 0; i < n; i++)
        if (!strcmp(r[i].name, name))
            return &r[i];
    return NULL;
}

static size_t numel(const loaa_tensor_ref *r)
{
    size_t n = 1;
    for (int d = 0; d < r->ndim; d++)
        n *= (size_t)r->shape[d];
    return n;
}

static double max_diff_file(const loaa_safetensors_file *f, const char *name, const float *got, size_t n)
{
    const loaa_safetensors_tensor *t = loaa_safetensors_find(f, name);
    if (!t || t->numel != n)
        return INFINITY;
    float *want = malloc(n * sizeof(float));
    double md = 0;
    if (loaa_safetensors_read_f32(f, t, want, n))
        md = INFINITY;
    for (size_t i = 0; i < n && isfinite(md); i++)
        md = fmax(md, fabs((double)want[i] - got[i]));
    free(want);
    return md;
}

static void test_inspect(void)
{
    loaa_backbone_info bi;
    loaa_status st = loaa_weights_inspect(timm_path, &bi);
    TAP_OK(st == LOAA_OK, "inspect timm fixture: %s", st ? loaa_error_detail() : "ok");
    TAP_OK(bi.dim == 8 && bi.depth == 2 && bi.mlp_hidden == 16 && bi.mlp_ratio == 2 && bi.heads == 1 &&
               !bi.heads_from_file && bi.dist_token == 1 && bi.in_chans == 3 && bi.grid_f == 14 && bi.grid_t == 14 &&
               bi.naming == LOAA_NAMING_TIMM && bi.prefix[0] == '\0',
           "timm: dim 8, depth 2, mlp 16, 1 head, DIST, RGB, 14x14 grid");
    st = loaa_weights_inspect(hf_path, &bi);
    TAP_OK(st == LOAA_OK && bi.dim == 8 && bi.depth == 2 && bi.mlp_hidden == 16 && bi.dist_token == 1 &&
               bi.naming == LOAA_NAMING_HF && !strcmp(bi.prefix, "deit."),
           "transformers naming with prefix 'deit.' recognised: %s", st ? loaa_error_detail() : "ok");
    loaa_config c = base_config();
    loaa_model_shape shape = {0};
    loaa_config t = base_config();
    loaa_model_shape tshape = {0};
    loaa_config_set_text(&t, "backbone", hf_path);
    TAP_OK(t.backbone_kind == LOAA_BACKBONE_PATH && loaa_spec_prepare(&t, &tshape) == LOAA_OK && t.dim == 8 &&
               t.depth == 2 && tshape.dist_token == 1,
           "prepare: a trial naming the backbone file gets its architecture: %s", loaa_error_detail());
    loaa_config_set_text(&t, "backbone", "/nonexistent/vit.safetensors");
    TAP_OK(loaa_spec_prepare(&t, &tshape) == LOAA_ERR_NOTFOUND && strstr(loaa_error_detail(), "/nonexistent/vit"),
           "prepare: a missing backbone file is named");
    c.heads = 3; /* a trial setting for another dim must not survive */
    TAP_OK(loaa_spec_apply_backbone(&bi, &c, &shape) == LOAA_OK && loaa_config_validate(&c) == LOAA_OK && c.dim == 8 &&
               c.depth == 2 && c.heads == 1 && (int)(c.mlp_ratio * c.dim) == 16 && shape.dist_token == 1 &&
               !strcmp(c.model, "custom"),
           "configure: the trial's model follows the file");
}

static void test_adaptation(void)
{
    static const int cases[][2] = {{12, 5}, {12, 50}, {17, 20}, {16, 3}};
    static const char *what[] = {"crop both", "interpolate time, crop frequency", "interpolate both",
                                 "crop time, interpolate frequency"};
    loaa_safetensors_file *ex;
    if (loaa_safetensors_open(expect_path, &ex)) {
        TAP_OK(0, "expected fixture opens: %s", loaa_error_detail());
        return;
    }
    for (int k = 0; k < 4; k++) {
        int fn = cases[k][0], tn = cases[k][1];
        loaa_model *m = NULL;
        loaa_status st = model_for(timm_path, fn, tn, LOAA_METHOD_LINEAR, &m);
        if (!st)
            st = loaa_weights_load_backbone(m, timm_path);
        TAP_OK(st == LOAA_OK, "grid %dx%d: imported: %s", fn, tn, st ? loaa_error_detail() : "ok");
        if (st) {
            loaa_model_free(m);
            continue;
        }
        int gf, gt;
        loaa_model_tokens(m, &gf, &gt);
        char name[64];
        snprintf(name, sizeof name, "pos_embed.%dx%d", fn, tn);
        const loaa_tensor_ref *pe = tensor(m, "pos_embed");
        double d = max_diff_file(ex, name, pe->data, numel(pe));
        TAP_OK(gf == fn && gt == tn && d <= 1e-5, "pos_embed %dx%d (%s) matches torch: max diff %.3g", fn, tn, what[k], d);
        if (k == 0) {
            const loaa_tensor_ref *pw = tensor(m, "patch_embed.proj.weight");
            d = max_diff_file(ex, "patch_embed.proj.weight", pw->data, numel(pw));
            TAP_OK(d <= 1e-5, "patch_embed summed over RGB matches torch: max diff %.3g", d);
            loaa_safetensors_file *tf;
            loaa_safetensors_open(timm_path, &tf);
            const loaa_tensor_ref *q = tensor(m, "blocks.1.attn.qkv.weight");
            TAP_OK(max_diff_file(tf, "blocks.1.attn.qkv.weight", q->data, numel(q)) == 0 &&
                       max_diff_file(tf, "norm.bias", tensor(m, "norm.bias")->data, 8) == 0 &&
                       max_diff_file(tf, "dist_token", tensor(m, "dist_token")->data, 8) == 0,
                   "block, final norm and DIST token copied exactly");
            TAP_OK(max_diff_file(tf, "head.bias", tensor(m, "head.bias")->data, 5) == INFINITY,
                   "head not imported (5 classes, not the file's 10)");
            loaa_safetensors_close(tf);

            /* The same weights in transformers naming give the same model, bit for bit. */
            loaa_model *h = NULL;
            st = model_for(hf_path, fn, tn, LOAA_METHOD_LINEAR, &h);
            if (!st)
                st = loaa_weights_load_backbone(h, hf_path);
            int same = !st;
            size_t n;
            const loaa_tensor_ref *ra = loaa_model_tensors(m, &n), *rb = loaa_model_tensors(h ? h : m, &n);
            for (size_t i = 0; i < n && same; i++)
                same = !memcmp(ra[i].data, rb[i].data, numel(&ra[i]) * sizeof(float));
            TAP_OK(same, "transformers file (q/k/v fused) imports to the same tensors: %s",
                   st ? loaa_error_detail() : "ok");
            loaa_model_free(h);
        }
        loaa_model_free(m);
    }
    loaa_safetensors_close(ex);
    float in[2 * 3 * 1] = {1, 2, 3, 4, 5, 6}, out[2 * 2 * 1];
    TAP_OK(loaa_adapt_pos_embed(out, in, 1, 2, 3, 2, 2) == LOAA_OK && out[0] == 1 && out[1] == 2 && out[2] == 4 &&
               out[3] == 5,
           "crop start is old/2 - new/2 (AST's int() arithmetic)");
}

/* float -> IEEE half, round to nearest even (normal range only: the fixture's values are small). */
static uint16_t to_f16(float x)
{
    uint32_t b;
    memcpy(&b, &x, 4);
    uint32_t sign = (b >> 16) & 0x8000u;
    int e = (int)((b >> 23) & 0xff) - 127 + 15;
    uint32_t man = b & 0x7fffffu;
    if (e <= 0)
        return (uint16_t)sign; /* flush tiny values to zero */
    uint32_t h = ((uint32_t)e << 10) | (man >> 13);
    uint32_t rest = man & 0x1fffu;
    if (rest > 0x1000u || (rest == 0x1000u && (h & 1)))
        h++;
    return (uint16_t)(sign | h);
}

/* The timm fixture re-encoded as F16 or BF16, written by hand (loaa's writer only writes F32). */
static int write_half_copy(const char *dst, int bf16)
{
    loaa_safetensors_file *f;
    if (loaa_safetensors_open(timm_path, &f))
        return -1;
    json_t *hdr = json_object();
    size_t total = 0;
    for (size_t i = 0; i < loaa_safetensors_count(f); i++)
        total += loaa_safetensors_tensor_at(f, i)->numel * 2;
    uint8_t *data = malloc(total ? total : 1);
    size_t at = 0;
    for (size_t i = 0; i < loaa_safetensors_count(f); i++) {
        const loaa_safetensors_tensor *t = loaa_safetensors_tensor_at(f, i);
        float *v = malloc(t->numel * sizeof(float) + 4);
        loaa_safetensors_read_f32(f, t, v, t->numel);
        json_t *shape = json_array();
        for (int d = 0; d < t->ndim; d++)
            json_array_append_new(shape, json_integer(t->shape[d]));
        json_object_set_new(hdr, t->name, json_pack("{s:s, s:o, s:[I,I]}", "dtype", bf16 ? "BF16" : "F16", "shape",
                                                    shape, "data_offsets", (json_int_t)at,
                                                    (json_int_t)(at + 2 * t->numel)));
        for (size_t k = 0; k < t->numel; k++) {
            uint32_t b;
            memcpy(&b, &v[k], 4);
            uint16_t h = bf16 ? (uint16_t)((b + 0x7fffu + ((b >> 16) & 1)) >> 16) : to_f16(v[k]);
            data[at++] = (uint8_t)h;
            data[at++] = (uint8_t)(h >> 8);
        }
        free(v);
    }
    loaa_safetensors_close(f);
    char *text = json_dumps(hdr, JSON_COMPACT);
    json_decref(hdr);
    FILE *fp = fopen(dst, "wb");
    uint64_t n = strlen(text);
    uint8_t lb[8];
    for (int i = 0; i < 8; i++)
        lb[i] = (uint8_t)(n >> (8 * i));
    int bad = !fp || fwrite(lb, 1, 8, fp) != 8 || fwrite(text, 1, n, fp) != n || fwrite(data, 1, total, fp) != total;
    if (fp)
        fclose(fp);
    free(text);
    free(data);
    return bad ? -1 : 0;
}

/* Half-precision files import to the F32 import within the precision of the format. */
static void test_half_precision(void)
{
    loaa_model *ref = NULL;
    if (model_for(timm_path, 12, 5, LOAA_METHOD_LINEAR, &ref) || loaa_weights_load_backbone(ref, timm_path)) {
        TAP_OK(0, "reference import: %s", loaa_error_detail());
        loaa_model_free(ref);
        return;
    }
    for (int bf = 0; bf < 2; bf++) {
        const char *p = tmp_path(bf ? "bf16.safetensors" : "f16.safetensors");
        loaa_model *m = NULL;
        loaa_status st = write_half_copy(p, bf) ? LOAA_ERR_IO : LOAA_OK;
        if (!st)
            st = model_for(p, 12, 5, LOAA_METHOD_LINEAR, &m);
        if (!st)
            st = loaa_weights_load_backbone(m, p);
        double worst = 0;
        size_t n;
        const loaa_tensor_ref *ra = loaa_model_tensors(ref, &n), *rb = m ? loaa_model_tensors(m, &n) : ra;
        for (size_t i = 0; !st && i < n; i++) {
            if (!strncmp(ra[i].name, "head.", 5))
                continue;
            for (size_t k = 0; k < numel(&ra[i]); k++) {
                double scale = fmax(fabs(ra[i].data[k]), 1.0);
                worst = fmax(worst, fabs((double)ra[i].data[k] - rb[i].data[k]) / scale);
            }
        }
        /* F16 keeps 11 significant bits, BF16 8; the channel sum adds three rounded values of up to ~2 */
        TAP_OK(!st && worst <= (bf ? 2.5e-2 : 3e-3), "%s file imports like the F32 one (worst relative error %.3g): %s",
               bf ? "BF16" : "F16", worst, st ? loaa_error_detail() : "ok");
        loaa_model_free(m);
    }
    loaa_model_free(ref);
}

static void fill_random(float *x, size_t n, uint64_t seed)
{
    loaa_rng r;
    loaa_rng_seed(&r, seed);
    for (size_t i = 0; i < n; i++)
        x[i] = (float)loaa_rng_normal(&r);
}

static void test_export_round_trip(void)
{
    loaa_config c = base_config();
    strcpy(c.model, "vit-micro");
    c.fstride = 16, c.tstride = 16;
    c.method = LOAA_METHOD_FULL;
    loaa_config_validate(&c);
    loaa_model_shape shape = {.n_mel = 48, .n_frames = 80, .n_classes = 4, .max_batch = 2};
    loaa_model *a = NULL, *b = NULL;
    loaa_status st = loaa_spec_create_model(&a, &c, &shape);
    if (!st)
        st = loaa_model_init(a, 1);
    const char *p = tmp_path("backbone.safetensors");
    char *c_json = loaa_config_canonical(&c);
    if (!st)
        st = loaa_weights_export_backbone(p, a, c_json);
    free(c_json);
    TAP_OK(st == LOAA_OK, "vit-micro exported as a backbone: %s", st ? loaa_error_detail() : "ok");
    if (st) {
        loaa_model_free(a);
        return;
    }
    loaa_backbone_info bi;
    st = loaa_weights_inspect(p, &bi);
    TAP_OK(st == LOAA_OK && bi.dim == 64 && bi.depth == 2 && bi.heads == 2 && bi.heads_from_file && bi.grid_f == 3 &&
               bi.grid_t == 5 && bi.in_chans == 1 && bi.dist_token == 0,
           "export inspected: 64/2/2, non-square 3x5 grid from metadata, 1 channel");
    loaa_config c2 = base_config();
    c2.fstride = 16, c2.tstride = 16;
    c2.method = LOAA_METHOD_FULL;
    loaa_model_shape s2 = shape;
    st = loaa_spec_apply_backbone(&bi, &c2, &s2);
    if (!st)
        st = loaa_config_validate(&c2);
    TAP_OK(!st && !strcmp(c2.model, "vit-micro"), "configure + validate name the preset again");
    if (!st)
        st = loaa_spec_create_model(&b, &c2, &s2);
    if (!st)
        st = loaa_model_init(b, 2);
    if (!st)
        st = loaa_weights_load_backbone(b, p);
    TAP_OK(st == LOAA_OK, "re-imported: %s", st ? loaa_error_detail() : "ok");
    if (!st) {
        size_t n;
        const loaa_tensor_ref *ra = loaa_model_tensors(a, &n), *rb = loaa_model_tensors(b, &n);
        int same = 1;
        for (size_t i = 0; i < n; i++) {
            if (!strncmp(ra[i].name, "head.", 5)) {
                memcpy(rb[i].data, ra[i].data, numel(&ra[i]) * sizeof(float));
                continue;
            }
            same &= !memcmp(ra[i].data, rb[i].data, numel(&ra[i]) * sizeof(float));
        }
        TAP_OK(same, "every backbone tensor bit-exact after export -> import");
        float x[2 * 48 * 80], la[8], lb[8];
        fill_random(x, sizeof x / sizeof x[0], 5);
        st = loaa_model_predict(a, x, 2, la);
        if (!st)
            st = loaa_model_predict(b, x, 2, lb);
        TAP_OK(!st && !memcmp(la, lb, sizeof la), "the re-imported model (head copied) predicts the same logits");
    }
    loaa_model_free(a);
    loaa_model_free(b);
}

/* Copies the timm fixture with one change: drop a tensor, NaN one, or give one a wrong shape. */
static void rewrite(const char *dst, const char *drop, const char *nan_in, const char *bad_shape,
                    const char *rename_from, const char *rename_to)
{
    loaa_safetensors_file *f;
    if (loaa_safetensors_open(timm_path, &f))
        return;
    loaa_safetensors_writer *w;
    loaa_safetensors_writer_new(&w);
    for (size_t i = 0; i < loaa_safetensors_count(f); i++) {
        const loaa_safetensors_tensor *t = loaa_safetensors_tensor_at(f, i);
        if (drop && !strcmp(t->name, drop))
            continue;
        float *buf = malloc(t->numel * sizeof(float) + 4);
        loaa_safetensors_read_f32(f, t, buf, t->numel);
        int64_t shape[8];
        memcpy(shape, t->shape, sizeof shape);
        int nd = t->ndim;
        size_t n = t->numel;
        if (bad_shape && !strcmp(t->name, bad_shape))
            shape[nd - 1] -= 1, n = n / (size_t)t->shape[nd - 1] * (size_t)shape[nd - 1];
        const char *name = rename_from && !strcmp(t->name, rename_from) ? rename_to : t->name;
        if (nan_in && !strcmp(t->name, nan_in)) {
            /* NaN bypasses the writer's check: write it as a huge value, then patch the bytes below. */
            buf[n / 2] = 1.0e30f;
        }
        loaa_safetensors_writer_add_copy(w, name, buf, nd, shape);
        free(buf);
        (void)n;
    }
    loaa_safetensors_writer_save(w, dst);
    loaa_safetensors_writer_free(w);
    loaa_safetensors_close(f);
    if (nan_in) {
        /* Replace the marker's bytes with a quiet NaN. */
        FILE *fp = fopen(dst, "r+b");
        uint8_t *all = malloc(1 << 20);
        size_t len = fread(all, 1, 1 << 20, fp);
        float mark = 1.0e30f, q = NAN;
        for (size_t i = 0; i + 4 <= len; i++)
            if (!memcmp(all + i, &mark, 4)) {
                fseek(fp, (long)i, SEEK_SET);
                fwrite(&q, 4, 1, fp);
                break;
            }
        free(all);
        fclose(fp);
    }
}

static void expect_import_fails(const char *what, const char *path, loaa_status want, const char *word)
{
    loaa_model *m = NULL;
    loaa_status st = model_for(timm_path, 12, 5, LOAA_METHOD_LINEAR, &m);
    if (st) {
        TAP_OK(0, "%s: model for the test: %s", what, loaa_error_detail());
        return;
    }
    size_t n;
    const loaa_tensor_ref *r = loaa_model_tensors(m, &n);
    size_t total = 0;
    for (size_t i = 0; i < n; i++)
        total += numel(&r[i]);
    float *before = malloc(total * sizeof(float));
    for (size_t i = 0, at = 0; i < n; at += numel(&r[i]), i++)
        memcpy(before + at, r[i].data, numel(&r[i]) * sizeof(float));
    st = loaa_weights_load_backbone(m, path);
    int unchanged = 1;
    for (size_t i = 0, at = 0; i < n; at += numel(&r[i]), i++)
        unchanged &= !memcmp(before + at, r[i].data, numel(&r[i]) * sizeof(float));
    TAP_OK(st == want && strstr(loaa_error_detail(), word) && unchanged, "%s: %s (model unchanged: %d)", what,
           loaa_error_detail(), unchanged);
    free(before);
    loaa_model_free(m);
}

static void test_bad_files(void)
{
    const char *p = tmp_path("broken.safetensors");
    rewrite(p, "blocks.1.mlp.fc2.bias", NULL, NULL, NULL, NULL);
    expect_import_fails("missing tensor", p, LOAA_ERR_NOTFOUND, "'blocks.1.mlp.fc2.bias'");
    rewrite(p, NULL, "blocks.0.attn.proj.weight", NULL, NULL, NULL);
    expect_import_fails("NaN in a tensor", p, LOAA_ERR_NUMERIC, "'blocks.0.attn.proj.weight'");
    rewrite(p, NULL, NULL, "blocks.1.norm2.weight", NULL, NULL);
    expect_import_fails("wrong shape", p, LOAA_ERR_SHAPE, "'blocks.1.norm2.weight'");
    rewrite(p, "dist_token", NULL, NULL, NULL, NULL);
    expect_import_fails("DIST token dropped, its pos_embed row kept", p, LOAA_ERR_SHAPE, "'pos_embed'");
    {
        loaa_backbone_info bi0;
        loaa_config c = base_config();
        loaa_model_shape sh = {.n_mel = 126, .n_frames = 56, .n_classes = 5, .max_batch = 1};
        loaa_model *m = NULL;
        loaa_status st = loaa_weights_inspect(timm_path, &bi0);
        if (!st)
            st = loaa_spec_apply_backbone(&bi0, &c, &sh);
        sh.dist_token = 0; /* a model made without following the file */
        if (!st)
            st = loaa_config_validate(&c);
        if (!st)
            st = loaa_spec_create_model(&m, &c, &sh);
        if (!st)
            st = loaa_weights_load_backbone(m, timm_path);
        TAP_OK(st == LOAA_ERR_SHAPE && strstr(loaa_error_detail(), "distillation"),
               "DeiT file into a model without DIST token: %s", loaa_error_detail());
        loaa_model_free(m);
    }
    rewrite(p, "cls_token", NULL, NULL, NULL, NULL);
    loaa_backbone_info bi;
    TAP_OK(loaa_weights_inspect(p, &bi) == LOAA_ERR_NOTFOUND && strstr(loaa_error_detail(), "cls_token"),
           "no CLS token: not a ViT (%s)", loaa_error_detail());
    rewrite(p, NULL, NULL, "pos_embed", NULL, NULL);
    TAP_OK(loaa_weights_inspect(p, &bi) == LOAA_ERR_SHAPE && strstr(loaa_error_detail(), "'pos_embed'"),
           "pos_embed of the wrong width: %s", loaa_error_detail());
    rewrite(p, NULL, NULL, "patch_embed.proj.weight", NULL, NULL);
    TAP_OK(loaa_weights_inspect(p, &bi) == LOAA_ERR_UNSUPPORTED && strstr(loaa_error_detail(), "16x15"),
           "15-pixel patches refused: %s", loaa_error_detail());
    rewrite(p, "blocks.0.norm1.weight", NULL, NULL, NULL, NULL);
    TAP_OK(loaa_weights_inspect(p, &bi) == LOAA_ERR_NOTFOUND && strstr(loaa_error_detail(), "blocks.0"),
           "no block 0: %s", loaa_error_detail());
    rewrite(p, NULL, NULL, NULL, "cls_token", "module.cls_token");
    TAP_OK(loaa_weights_inspect(p, &bi) == LOAA_ERR_NOTFOUND &&
               strstr(loaa_error_detail(), "'module.patch_embed.proj.weight'"),
           "a prefix is taken from the CLS token's name: %s", loaa_error_detail());
    TAP_OK(loaa_weights_load_backbone(NULL, tmp_path("absent.safetensors")) == LOAA_ERR_NOTFOUND &&
               strstr(loaa_error_detail(), "absent.safetensors"),
           "missing file named");
}

int main(void)
{
    const char *top = getenv("top_srcdir");
    snprintf(fixtures, sizeof fixtures, "%s/tests/fixtures", top ? top : ".");
    snprintf(timm_path, sizeof timm_path, "%s/vit_tiny_timm.safetensors", fixtures);
    snprintf(hf_path, sizeof hf_path, "%s/vit_tiny_hf.safetensors", fixtures);
    snprintf(expect_path, sizeof expect_path, "%s/vit_tiny_expected.safetensors", fixtures);
    snprintf(dir, sizeof dir, "/tmp/loaa-test-weights-XXXXXX");
    if (!mkdtemp(dir))
        return 1;
    test_inspect();
    test_adaptation();
    test_half_precision();
    test_export_round_trip();
    test_bad_files();
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        TAP_DIAG("could not remove %s", dir);
    return tap_done();
}
