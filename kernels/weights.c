/*
 * weights.c - import of timm / transformers ViT and DeiT checkpoints with
 * AST's adaptation, and export of loaa models as backbone files.
 */
#include "kernels/weights.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/safetensors.h"

#define NAME_MAX_LEN 320

/* ---- adaptation ---- */

void loaa_adapt_patch_embed(float *out, const float *in, int dim, int in_chans)
{
    for (int d = 0; d < dim; d++)
        for (int k = 0; k < 256; k++) {
            float s = 0;
            for (int c = 0; c < in_chans; c++)
                s += in[((size_t)d * in_chans + c) * 256 + k];
            out[(size_t)d * 256 + k] = s;
        }
}

/*
 * Resizes the middle axis of (outer, n_in, inner) to n_out: AST's centre
 * crop when shrinking (or equal), else torch's bilinear interpolation with
 * align_corners false, computed in float as torch does on the CPU.
 */
static void resize_axis(float *out, const float *in, size_t outer, int n_in, int n_out, size_t inner)
{
    if (n_out <= n_in) {
        int start = n_in / 2 - n_out / 2;
        for (size_t o = 0; o < outer; o++)
            memcpy(out + o * n_out * inner, in + (o * n_in + start) * inner, (size_t)n_out * inner * sizeof(float));
        return;
    }
    float scale = (float)n_in / (float)n_out;
    for (int j = 0; j < n_out; j++) {
        float src = scale * ((float)j + 0.5f) - 0.5f;
        if (src < 0)
            src = 0;
        int i0 = (int)src;
        int i1 = i0 + (i0 < n_in - 1 ? 1 : 0);
        float l1 = src - (float)i0, l0 = 1.0f - l1;
        for (size_t o = 0; o < outer; o++) {
            const float *a = in + (o * n_in + i0) * inner, *b = in + (o * n_in + i1) * inner;
            float *y = out + (o * n_out + j) * inner;
            for (size_t k = 0; k < inner; k++)
                y[k] = l0 * a[k] + l1 * b[k];
        }
    }
}

loaa_status loaa_adapt_pos_embed(float *out, const float *in, int dim, int fo, int to, int fn, int tn)
{
    if (dim < 1 || fo < 1 || to < 1 || fn < 1 || tn < 1)
        return loaa_fail(LOAA_ERR_SHAPE, "pos_embed: grid %dx%d -> %dx%d with dim %d", fo, to, fn, tn, dim);
    /* time first, then frequency, as AST does; the order matters when both axes interpolate */
    float *mid = malloc((size_t)fo * tn * dim * sizeof(float));
    if (!mid)
        return loaa_fail(LOAA_ERR_NOMEM, "pos_embed: %dx%dx%d", fo, tn, dim);
    resize_axis(mid, in, (size_t)fo, to, tn, (size_t)dim);
    resize_axis(out, mid, 1, fo, fn, (size_t)tn * dim);
    free(mid);
    return LOAA_OK;
}

/* ---- names ---- */

static const char *const block_parts[] = {"norm1", "attn.qkv", "attn.proj", "norm2", "mlp.fc1", "mlp.fc2"};
static const char *const hf_block_parts[] = {"layernorm_before", "attention.attention.", "attention.output.dense",
                                             "layernorm_after", "intermediate.dense", "output.dense"};

/* Splits "blocks.N.PART.weight|bias"; returns the part index or -1. */
static int parse_block(const char *name, int *layer, const char **wb)
{
    int l, used = 0;
    if (sscanf(name, "blocks.%d.%n", &l, &used) != 1 || used == 0 || l < 0)
        return -1;
    const char *rest = name + used;
    for (int p = 0; p < 6; p++) {
        size_t n = strlen(block_parts[p]);
        if (!strncmp(rest, block_parts[p], n) && (!strcmp(rest + n, ".weight") || !strcmp(rest + n, ".bias"))) {
            *layer = l;
            *wb = rest + n + 1;
            return p;
        }
    }
    return -1;
}

/* Backbone tensors: what a vision checkpoint holds (head optional). */
static int is_backbone(const char *name, int with_head)
{
    static const char *const top[] = {"cls_token", "dist_token", "pos_embed", "patch_embed.proj.weight",
                                      "patch_embed.proj.bias", "norm.weight", "norm.bias"};
    for (size_t i = 0; i < sizeof top / sizeof top[0]; i++)
        if (!strcmp(name, top[i]))
            return 1;
    if (with_head && (!strcmp(name, "head.weight") || !strcmp(name, "head.bias")))
        return 1;
    int l;
    const char *wb;
    return parse_block(name, &l, &wb) >= 0;
}

/*
 * The file's name(s) for a timm-named tensor: one, or three (query, key,
 * value) for a transformers qkv. Returns the count, 0 when unknown.
 */
static int source_names(const loaa_backbone_info *bi, const char *tn, char out[3][NAME_MAX_LEN])
{
    const char *p = bi->prefix;
    if (bi->naming == LOAA_NAMING_TIMM) {
        snprintf(out[0], NAME_MAX_LEN, "%s%s", p, tn);
        return 1;
    }
    static const char *const top[][2] = {{"cls_token", "embeddings.cls_token"},
                                         {"dist_token", "embeddings.distillation_token"},
                                         {"pos_embed", "embeddings.position_embeddings"},
                                         {"patch_embed.proj.weight", "embeddings.patch_embeddings.projection.weight"},
                                         {"patch_embed.proj.bias", "embeddings.patch_embeddings.projection.bias"},
                                         {"norm.weight", "layernorm.weight"},
                                         {"norm.bias", "layernorm.bias"}};
    for (size_t i = 0; i < sizeof top / sizeof top[0]; i++)
        if (!strcmp(tn, top[i][0])) {
            snprintf(out[0], NAME_MAX_LEN, "%s%s", p, top[i][1]);
            return 1;
        }
    int l;
    const char *wb;
    int part = parse_block(tn, &l, &wb);
    if (part < 0)
        return 0;
    if (part == 1) {
        static const char *const qkv[] = {"query", "key", "value"};
        for (int k = 0; k < 3; k++)
            snprintf(out[k], NAME_MAX_LEN, "%sencoder.layer.%d.attention.attention.%s.%s", p, l, qkv[k], wb);
        return 3;
    }
    snprintf(out[0], NAME_MAX_LEN, "%sencoder.layer.%d.%s.%s", p, l, hf_block_parts[part], wb);
    return 1;
}

static const loaa_safetensors_tensor *find_src(const loaa_safetensors_file *f, const loaa_backbone_info *bi, const char *tn)
{
    char names[3][NAME_MAX_LEN];
    return source_names(bi, tn, names) ? loaa_safetensors_find(f, names[0]) : NULL;
}

static loaa_status require_src(const loaa_safetensors_file *f, const loaa_backbone_info *bi, const char *tn,
                               const loaa_safetensors_tensor **out)
{
    char names[3][NAME_MAX_LEN];
    if (!source_names(bi, tn, names))
        return loaa_fail(LOAA_ERR_INTERNAL, "%s: no source name for '%s'", loaa_safetensors_path(f), tn);
    return loaa_safetensors_require(f, names[0], out);
}

/* ---- inspection ---- */

static int parse_int_meta(const loaa_safetensors_file *f, const char *key, long *out)
{
    const char *v = loaa_safetensors_meta(f, key);
    if (!v)
        return 0;
    char *end;
    errno = 0;
    long x = strtol(v, &end, 10);
    if (errno || end == v || *end)
        return 0;
    *out = x;
    return 1;
}

loaa_status loaa_weights_inspect_file(const loaa_safetensors_file *f, loaa_backbone_info *bi)
{
    const char *path = loaa_safetensors_path(f);
    memset(bi, 0, sizeof *bi);
    /* The naming and any prefix follow from where the CLS token lives. */
    const loaa_safetensors_tensor *cls = NULL;
    for (size_t i = 0; i < loaa_safetensors_count(f) && !cls; i++) {
        const char *nm = loaa_safetensors_tensor_at(f, i)->name;
        size_t n = strlen(nm);
        const char *hf = "embeddings.cls_token", *timm = "cls_token";
        if (n >= strlen(hf) && !strcmp(nm + n - strlen(hf), hf) && n - strlen(hf) < sizeof bi->prefix) {
            bi->naming = LOAA_NAMING_HF;
            memcpy(bi->prefix, nm, n - strlen(hf));
            cls = loaa_safetensors_tensor_at(f, i);
        } else if (n >= strlen(timm) && !strcmp(nm + n - strlen(timm), timm) && n - strlen(timm) < sizeof bi->prefix &&
                   (n == strlen(timm) || nm[n - strlen(timm) - 1] == '.')) {
            bi->naming = LOAA_NAMING_TIMM;
            memcpy(bi->prefix, nm, n - strlen(timm));
            cls = loaa_safetensors_tensor_at(f, i);
        }
    }
    if (!cls)
        return loaa_fail(LOAA_ERR_NOTFOUND, "%s: tensor 'cls_token' (or transformers' 'embeddings.cls_token') is missing;"
                         " not a ViT checkpoint", path);
    if (cls->ndim != 3 || cls->shape[0] != 1 || cls->shape[1] != 1 || cls->shape[2] < 1 || cls->shape[2] > 65536)
        return loaa_fail(LOAA_ERR_SHAPE, "%s: tensor '%s': expected shape (1,1,D)", path, cls->name);
    int D = (int)cls->shape[2];
    bi->dim = D;

    const loaa_safetensors_tensor *t;
    loaa_status st;
    if ((st = require_src(f, bi, "patch_embed.proj.weight", &t)))
        return st;
    if (t->ndim != 4 || t->shape[0] != D || t->shape[1] < 1 || t->shape[1] > 16)
        return loaa_fail(LOAA_ERR_SHAPE, "%s: tensor '%s': expected shape (%d,C,16,16)", path, t->name, D);
    if (t->shape[2] != 16 || t->shape[3] != 16)
        return loaa_fail(LOAA_ERR_UNSUPPORTED, "%s: tensor '%s': patch size %" PRId64 "x%" PRId64
                         ", loaa's ViT uses 16x16 patches", path, t->name, t->shape[2], t->shape[3]);
    bi->in_chans = (int)t->shape[1];

    char nm[64];
    for (int l = 0; l < 10000; l++) {
        snprintf(nm, sizeof nm, "blocks.%d.norm1.weight", l);
        if (!find_src(f, bi, nm))
            break;
        bi->depth = l + 1;
    }
    if (bi->depth == 0)
        return loaa_fail(LOAA_ERR_NOTFOUND, "%s: no transformer blocks (tensor '%sblocks.0.norm1.weight' or its"
                         " transformers name is missing)", path, bi->prefix);
    if ((st = require_src(f, bi, "blocks.0.mlp.fc1.weight", &t)))
        return st;
    if (t->ndim != 2 || t->shape[1] != D || t->shape[0] < 1 || t->shape[0] > 1 << 20)
        return loaa_fail(LOAA_ERR_SHAPE, "%s: tensor '%s': expected shape (hidden,%d)", path, t->name, D);
    bi->mlp_hidden = (int)t->shape[0];
    bi->mlp_ratio = (double)bi->mlp_hidden / D;
    /* The model sizes its MLP as (int)(ratio * dim): make sure that gives the file's width back. */
    while ((int)(bi->mlp_ratio * D) < bi->mlp_hidden)
        bi->mlp_ratio = nextafter(bi->mlp_ratio, INFINITY);

    bi->dist_token = find_src(f, bi, "dist_token") != NULL;
    int S = 1 + bi->dist_token;
    if ((st = require_src(f, bi, "pos_embed", &t)))
        return st;
    if (t->ndim != 3 || t->shape[0] != 1 || t->shape[2] != D || t->shape[1] <= S)
        return loaa_fail(LOAA_ERR_SHAPE, "%s: tensor '%s': expected shape (1,%d+patches,%d)", path, t->name, S, D);
    int64_t np = t->shape[1] - S;
    const char *grid = loaa_safetensors_meta(f, "loaa.grid");
    if (grid) {
        int gf, gt, used = 0;
        if (sscanf(grid, "%d,%d%n", &gf, &gt, &used) != 2 || grid[used] || gf < 1 || gt < 1 || (int64_t)gf * gt != np)
            return loaa_fail(LOAA_ERR_FORMAT, "%s: metadata 'loaa.grid' = '%.40s' does not fit the %" PRId64
                             " patch rows of '%s'", path, grid, np, t->name);
        bi->grid_f = gf;
        bi->grid_t = gt;
    } else {
        int64_t side = (int64_t)llround(sqrt((double)np));
        if (side * side != np)
            return loaa_fail(LOAA_ERR_SHAPE, "%s: tensor '%s': %" PRId64 " patch rows are no square grid (and no"
                             " 'loaa.grid' metadata says otherwise)", path, t->name, np);
        bi->grid_f = bi->grid_t = (int)side;
    }

    long heads = 0;
    const char *keys[] = {"loaa.heads", "heads", "num_heads", "num_attention_heads"};
    for (size_t i = 0; i < 4 && !heads; i++)
        if (parse_int_meta(f, keys[i], &heads))
            bi->heads_from_file = 1;
    if (bi->heads_from_file && (heads < 1 || D % heads))
        return loaa_fail(LOAA_ERR_FORMAT, "%s: metadata heads = %ld does not divide dim %d", path, heads, D);
    bi->heads = bi->heads_from_file ? (int)heads : (D >= 64 ? D / 64 : 1);
    if (D % bi->heads)
        return loaa_fail(LOAA_ERR_CONFIG, "%s: dim %d is not divisible by the default %d heads (dim/64); the file"
                         " needs 'loaa.heads' metadata or the trial a 'heads' key", path, D, bi->heads);
    return LOAA_OK;
}

loaa_status loaa_weights_inspect(const char *path, loaa_backbone_info *info)
{
    loaa_safetensors_file *f;
    loaa_status st = loaa_safetensors_open(path, &f);
    if (st)
        return st;
    st = loaa_weights_inspect_file(f, info);
    loaa_safetensors_close(f);
    return st;
}

/* ---- import ---- */

typedef struct plan_item {
    const loaa_tensor_ref *dst;
    const loaa_safetensors_tensor *src[3];
    int nsrc;
} plan_item;

static int same_shape(const loaa_safetensors_tensor *t, int ndim, const int64_t *shape)
{
    if (t->ndim != ndim)
        return 0;
    for (int d = 0; d < ndim; d++)
        if (t->shape[d] != shape[d])
            return 0;
    return 1;
}

static loaa_status shape_error(const loaa_safetensors_file *f, const loaa_safetensors_tensor *t, const char *model_name, const char *want)
{
    char got[128] = "";
    size_t n = 0;
    for (int d = 0; d < t->ndim && n < sizeof got - 24; d++)
        n += (size_t)snprintf(got + n, sizeof got - n, "%s%" PRId64, d ? "," : "", t->shape[d]);
    return loaa_fail(LOAA_ERR_SHAPE, "%s: tensor '%s': shape (%s), the model's '%s' needs %s", loaa_safetensors_path(f), t->name,
                     got, model_name, want);
}

/* Checks one source against the model tensor it feeds, by the rule of that tensor. */
static loaa_status check_source(const loaa_safetensors_file *f, const loaa_backbone_info *bi, const plan_item *it, int Fp,
                                int Tp, int S)
{
    const loaa_tensor_ref *r = it->dst;
    char want[128];
    for (int k = 0; k < it->nsrc; k++) {
        const loaa_safetensors_tensor *t = it->src[k];
        int ok;
        if (!strcmp(r->name, "patch_embed.proj.weight")) {
            ok = t->ndim == 4 && t->shape[0] == r->shape[0] && t->shape[2] == 16 && t->shape[3] == 16;
            snprintf(want, sizeof want, "(%" PRId64 ",C,16,16)", r->shape[0]);
        } else if (!strcmp(r->name, "pos_embed")) {
            ok = t->ndim == 3 && t->shape[0] == 1 && t->shape[1] == S + (int64_t)bi->grid_f * bi->grid_t &&
                 t->shape[2] == r->shape[2] && r->shape[1] == S + (int64_t)Fp * Tp;
            snprintf(want, sizeof want, "(1,%d+grid,%" PRId64 ") with %d special tokens", S, r->shape[2], S);
        } else if (it->nsrc == 3) {
            /* transformers' query/key/value: each a third of the fused qkv */
            int64_t part[2] = {r->shape[0] / 3, r->ndim > 1 ? r->shape[1] : 0};
            ok = r->shape[0] % 3 == 0 && same_shape(t, r->ndim, part);
            snprintf(want, sizeof want, "a third of (%" PRId64 "%s)", r->shape[0], r->ndim > 1 ? ",D" : "");
        } else {
            ok = same_shape(t, r->ndim, r->shape);
            size_t n = (size_t)snprintf(want, sizeof want, "(");
            for (int d = 0; d < r->ndim && n < sizeof want - 24; d++)
                n += (size_t)snprintf(want + n, sizeof want - n, "%s%" PRId64, d ? "," : "", r->shape[d]);
            snprintf(want + n, sizeof want - n, ")");
        }
        if (!ok)
            return shape_error(f, t, r->name, want);
        loaa_status st = loaa_safetensors_read_f32(f, t, NULL, t->numel);
        if (st)
            return st;
    }
    return LOAA_OK;
}

static loaa_status copy_source(const loaa_safetensors_file *f, const loaa_backbone_info *bi, const plan_item *it, int Fp,
                               int Tp, int S)
{
    const loaa_tensor_ref *r = it->dst;
    const loaa_safetensors_tensor *t = it->src[0];
    if (!strcmp(r->name, "patch_embed.proj.weight")) {
        float *tmp = malloc(t->numel * sizeof(float));
        if (!tmp)
            return loaa_fail(LOAA_ERR_NOMEM, "%s: tensor '%s'", loaa_safetensors_path(f), t->name);
        loaa_status st = loaa_safetensors_read_f32(f, t, tmp, t->numel);
        if (!st)
            loaa_adapt_patch_embed(r->data, tmp, (int)t->shape[0], (int)t->shape[1]);
        free(tmp);
        return st;
    }
    if (!strcmp(r->name, "pos_embed")) {
        int D = (int)t->shape[2];
        float *tmp = malloc(t->numel * sizeof(float));
        if (!tmp)
            return loaa_fail(LOAA_ERR_NOMEM, "%s: tensor '%s'", loaa_safetensors_path(f), t->name);
        loaa_status st = loaa_safetensors_read_f32(f, t, tmp, t->numel);
        if (!st) {
            memcpy(r->data, tmp, (size_t)S * D * sizeof(float));
            st = loaa_adapt_pos_embed(r->data + (size_t)S * D, tmp + (size_t)S * D, D, bi->grid_f, bi->grid_t, Fp, Tp);
        }
        free(tmp);
        return st;
    }
    size_t at = 0;
    for (int k = 0; k < it->nsrc; k++) {
        loaa_status st = loaa_safetensors_read_f32(f, it->src[k], r->data + at, it->src[k]->numel);
        if (st)
            return st;
        at += it->src[k]->numel;
    }
    return LOAA_OK;
}

loaa_status loaa_weights_load_backbone_file(loaa_model *m, const loaa_safetensors_file *f)
{
    loaa_backbone_info bi;
    loaa_status st = loaa_weights_inspect_file(f, &bi);
    if (st)
        return st;
    int Fp, Tp;
    int N = loaa_model_tokens(m, &Fp, &Tp);
    int S = N - Fp * Tp;
    if (S != 1 + bi.dist_token)
        return loaa_fail(LOAA_ERR_SHAPE, "%s: the file %s a distillation token, the model %s (create the model with"
                         " shape.dist_token from loaa_spec_apply_backbone)", loaa_safetensors_path(f),
                         bi.dist_token ? "has" : "has no", S == 2 ? "has one" : "has none");
    size_t n;
    const loaa_tensor_ref *refs = loaa_model_tensors(m, &n);
    plan_item *plan = calloc(n ? n : 1, sizeof *plan);
    if (!plan)
        return loaa_fail(LOAA_ERR_NOMEM, "%s: import plan", loaa_safetensors_path(f));
    size_t np = 0;
    for (size_t i = 0; i < n && !st; i++) {
        if (!is_backbone(refs[i].name, 0))
            continue;
        plan_item *it = &plan[np++];
        it->dst = &refs[i];
        char names[3][NAME_MAX_LEN];
        it->nsrc = source_names(&bi, refs[i].name, names);
        for (int k = 0; k < it->nsrc && !st; k++)
            if (!(it->src[k] = loaa_safetensors_find(f, names[k])))
                st = loaa_fail(LOAA_ERR_NOTFOUND, "%s: tensor '%s' (the model's '%s') is missing", loaa_safetensors_path(f),
                               names[k], refs[i].name);
        if (!st)
            st = check_source(f, &bi, it, Fp, Tp, S);
    }
    for (size_t i = 0; i < np && !st; i++)
        st = copy_source(f, &bi, &plan[i], Fp, Tp, S);
    free(plan);
    loaa_model_weights_changed(m); /* bf16 weight copies: remade from the fp32 tensors at the next forward */
    return st;
}

loaa_status loaa_weights_load_backbone(loaa_model *m, const char *path)
{
    loaa_safetensors_file *f;
    loaa_status st = loaa_safetensors_open(path, &f);
    if (st)
        return st;
    st = loaa_weights_load_backbone_file(m, f);
    loaa_safetensors_close(f);
    return st;
}

/* ---- export ---- */

loaa_status loaa_weights_export_backbone(const char *path, const loaa_model *m, const char *config_json)
{
    size_t n;
    const loaa_tensor_ref *refs = loaa_model_tensors(m, &n);
    int Fp, Tp;
    loaa_model_tokens(m, &Fp, &Tp);
    int heads = loaa_model_get_spec(m)->heads;
    loaa_safetensors_writer *w;
    loaa_status st = loaa_safetensors_writer_new(&w);
    if (st)
        return st;
    for (size_t i = 0; i < n && !st; i++)
        if (is_backbone(refs[i].name, 1))
            st = loaa_safetensors_writer_add(w, refs[i].name, refs[i].data, refs[i].ndim, refs[i].shape);
    char buf[64];
    if (!st && heads > 0) {
        snprintf(buf, sizeof buf, "%d", heads);
        st = loaa_safetensors_writer_meta(w, "loaa.heads", buf);
    }
    if (!st) {
        snprintf(buf, sizeof buf, "%d,%d", Fp, Tp);
        st = loaa_safetensors_writer_meta(w, "loaa.grid", buf);
    }
    if (!st)
        st = loaa_safetensors_writer_meta(w, "loaa.format", "backbone");
    if (!st)
        st = loaa_safetensors_writer_meta(w, "format", "pt");
    if (!st && config_json)
        st = loaa_safetensors_writer_meta(w, "loaa.config", config_json);
    if (!st)
        st = loaa_safetensors_writer_save(w, path);
    loaa_safetensors_writer_free(w);
    return st;
}
