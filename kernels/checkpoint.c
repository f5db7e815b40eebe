/*
 * checkpoint.c - training checkpoints and adapter files over safetensors.
 * See checkpoint.h for the format and the contract.
 */
#include "kernels/checkpoint.h"

#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/canonical.h"
#include "common/sha256.h"
#include "kernels/safetensors.h"

#define FORMAT_VERSION "1"

/* The file's tensor must exist, be convertible, finite and have exactly the model's shape. */
static loaa_status check_tensor(const loaa_safetensors_file *f, const char *name, const loaa_tensor_ref *ref,
                                const loaa_safetensors_tensor **out)
{
    loaa_status st = loaa_safetensors_require(f, name, out);
    if (st)
        return st;
    const loaa_safetensors_tensor *t = *out;
    int same = t->ndim == ref->ndim;
    for (int d = 0; same && d < ref->ndim; d++)
        same = t->shape[d] == ref->shape[d];
    if (!same) {
        char a[96] = "", b[96] = "";
        size_t na = 0, nb = 0;
        for (int d = 0; d < t->ndim && na < sizeof a - 24; d++)
            na += (size_t)snprintf(a + na, sizeof a - na, "%s%" PRId64, d ? "," : "", t->shape[d]);
        for (int d = 0; d < ref->ndim && nb < sizeof b - 24; d++)
            nb += (size_t)snprintf(b + nb, sizeof b - nb, "%s%" PRId64, d ? "," : "", ref->shape[d]);
        return loaa_fail(LOAA_ERR_SHAPE, "%s: tensor '%s': shape (%s) in the file, the model has (%s)",
                         loaa_safetensors_path(f), name, a, b);
    }
    return loaa_safetensors_read_f32(f, t, NULL, t->numel);
}

static int json_meta(loaa_safetensors_writer *w, const char *key, json_t *value)
{
    char *text = value ? loaa_json_canonical(value) : NULL;
    json_decref(value);
    if (!text)
        return -1;
    loaa_status st = loaa_safetensors_writer_meta(w, key, text);
    free(text);
    return st ? -1 : 0;
}

static loaa_status parse_i64(const loaa_safetensors_file *f, const char *key, int64_t *out)
{
    const char *v = loaa_safetensors_meta(f, key);
    if (!v)
        return loaa_fail(LOAA_ERR_FORMAT, "%s: metadata '%s' is missing", loaa_safetensors_path(f), key);
    char *end;
    errno = 0;
    long long x = strtoll(v, &end, 10);
    if (errno || end == v || *end)
        return loaa_fail(LOAA_ERR_FORMAT, "%s: metadata '%s' = '%.40s' is not an integer", loaa_safetensors_path(f), key, v);
    *out = x;
    return LOAA_OK;
}

static loaa_status check_format(const loaa_safetensors_file *f, const char *want)
{
    const char *fmt = loaa_safetensors_meta(f, "loaa.format"), *ver = loaa_safetensors_meta(f, "loaa.version");
    if (!fmt || strcmp(fmt, want))
        return loaa_fail(LOAA_ERR_FORMAT, "%s: not a loaa %s file (loaa.format is '%s')", loaa_safetensors_path(f), want,
                         fmt ? fmt : "missing");
    if (!ver || strcmp(ver, FORMAT_VERSION))
        return loaa_fail(LOAA_ERR_UNSUPPORTED, "%s: %s format version '%s', this loaa reads " FORMAT_VERSION,
                         loaa_safetensors_path(f), want, ver ? ver : "missing");
    return LOAA_OK;
}

/* Names the first key whose value differs between the file's config and the trial's. */
static loaa_status config_mismatch(const char *path, const char *file_text, const char *trial_text)
{
    json_t *a = json_loads(file_text, 0, NULL), *b = json_loads(trial_text, 0, NULL);
    loaa_status st = loaa_fail(LOAA_ERR_CONFIG, "%s: the checkpoint was written by a different trial config", path);
    if (json_is_object(a) && json_is_object(b)) {
        const char *key;
        json_t *v;
        json_t *both[2] = {a, b};
        for (int side = 0; side < 2; side++) {
            json_object_foreach(both[side], key, v) {
                json_t *other = json_object_get(both[1 - side], key);
                if (other && json_equal(v, other))
                    continue;
                char *fa = json_object_get(a, key) ? loaa_json_canonical(json_object_get(a, key)) : NULL;
                char *fb = json_object_get(b, key) ? loaa_json_canonical(json_object_get(b, key)) : NULL;
                st = loaa_fail(LOAA_ERR_CONFIG, "%s: key '%s': the checkpoint has %.200s, the trial %.200s", path, key,
                               fa ? fa : "nothing", fb ? fb : "nothing");
                free(fa);
                free(fb);
                goto out;
            }
        }
    }
out:
    json_decref(a);
    json_decref(b);
    return st;
}

loaa_status loaa_checkpoint_save(const char *path, loaa_model *m, const char *config_json,
                                 const loaa_checkpoint_state *state)
{
    assert(config_json);
    size_t n;
    const loaa_tensor_ref *refs = loaa_model_tensors(m, &n);
    loaa_optim_state opt = loaa_model_optim_state(m);
    loaa_safetensors_writer *w;
    loaa_status st = loaa_safetensors_writer_new(&w);
    if (st)
        return st;
    char name[512], buf[128];
    size_t off = 0;
    for (size_t i = 0; i < n && !st; i++)
        st = loaa_safetensors_writer_add(w, refs[i].name, refs[i].data, refs[i].ndim, refs[i].shape);
    for (size_t i = 0; i < n && !st; i++) {
        if (!refs[i].trainable)
            continue;
        size_t numel = 1;
        for (int d = 0; d < refs[i].ndim; d++)
            numel *= (size_t)refs[i].shape[d];
        if (off + numel > opt.count) {
            st = loaa_fail(LOAA_ERR_INTERNAL, "%s: optimiser state holds %zu values, the trainable tensors more", path,
                           opt.count);
            break;
        }
        snprintf(name, sizeof name, "optim.m.%s", refs[i].name);
        if (!(st = loaa_safetensors_writer_add(w, name, opt.m + off, refs[i].ndim, refs[i].shape))) {
            snprintf(name, sizeof name, "optim.v.%s", refs[i].name);
            st = loaa_safetensors_writer_add(w, name, opt.v + off, refs[i].ndim, refs[i].shape);
        }
        off += numel;
    }
    if (!st && off != opt.count)
        st = loaa_fail(LOAA_ERR_INTERNAL, "%s: optimiser state holds %zu values, the trainable tensors %zu", path,
                       opt.count, off);
    if (!st)
        st = loaa_safetensors_writer_meta(w, "loaa.format", "checkpoint");
    if (!st)
        st = loaa_safetensors_writer_meta(w, "loaa.version", FORMAT_VERSION);
    if (!st)
        st = loaa_safetensors_writer_meta(w, "loaa.config", config_json);
    if (!st) {
        snprintf(buf, sizeof buf, "%" PRId64, opt.step);
        st = loaa_safetensors_writer_meta(w, "loaa.optim_step", buf);
    }
    if (!st) {
        snprintf(buf, sizeof buf, "%" PRId64, state->epoch);
        st = loaa_safetensors_writer_meta(w, "loaa.epoch", buf);
    }
    if (!st) {
        snprintf(buf, sizeof buf, "%" PRId64, state->batch);
        st = loaa_safetensors_writer_meta(w, "loaa.batch", buf);
    }
    if (!st) {
        snprintf(buf, sizeof buf, "%016" PRIx64 " %016" PRIx64 " %016" PRIx64 " %016" PRIx64, state->rng.s[0],
                 state->rng.s[1], state->rng.s[2], state->rng.s[3]);
        st = loaa_safetensors_writer_meta(w, "loaa.rng", buf);
    }
    if (!st)
        st = loaa_safetensors_writer_meta(w, "loaa.extra", state->extra);
    if (!st)
        st = loaa_safetensors_writer_save(w, path);
    loaa_safetensors_writer_free(w);
    return st;
}

static loaa_status read_state(const loaa_safetensors_file *f, loaa_checkpoint_state *s, int64_t *step)
{
    loaa_status st;
    if ((st = parse_i64(f, "loaa.optim_step", step)) || (st = parse_i64(f, "loaa.epoch", &s->epoch)) ||
        (st = parse_i64(f, "loaa.batch", &s->batch)))
        return st;
    const char *r = loaa_safetensors_meta(f, "loaa.rng");
    unsigned long long w[4];
    int used = 0;
    if (!r || sscanf(r, "%16llx %16llx %16llx %16llx%n", &w[0], &w[1], &w[2], &w[3], &used) != 4 || r[used])
        return loaa_fail(LOAA_ERR_FORMAT, "%s: metadata 'loaa.rng' is missing or not four hex words", loaa_safetensors_path(f));
    for (int i = 0; i < 4; i++)
        s->rng.s[i] = w[i];
    const char *extra = loaa_safetensors_meta(f, "loaa.extra");
    if (extra && strlen(extra) >= sizeof s->extra)
        return loaa_fail(LOAA_ERR_LIMIT, "%s: metadata 'loaa.extra' is longer than %d bytes", loaa_safetensors_path(f),
                         LOAA_CKPT_EXTRA_MAX - 1);
    snprintf(s->extra, sizeof s->extra, "%s", extra ? extra : "");
    return LOAA_OK;
}

static loaa_status checkpoint_load_file(const loaa_safetensors_file *f, loaa_model *m, const char *config_json,
                                        loaa_checkpoint_state *state)
{
    const char *path = loaa_safetensors_path(f);
    loaa_status st = check_format(f, "checkpoint");
    if (st)
        return st;
    const char *fc = loaa_safetensors_meta(f, "loaa.config");
    if (!fc)
        return loaa_fail(LOAA_ERR_FORMAT, "%s: metadata 'loaa.config' is missing", path);
    if (config_json && strcmp(config_json, fc) != 0)
        return config_mismatch(path, fc, config_json);
    loaa_checkpoint_state s;
    int64_t step;
    if ((st = read_state(f, &s, &step)))
        return st;

    size_t n;
    const loaa_tensor_ref *refs = loaa_model_tensors(m, &n);
    loaa_optim_state opt = loaa_model_optim_state(m);
    const loaa_safetensors_tensor **src = calloc(3 * (n ? n : 1), sizeof *src);
    if (!src)
        return loaa_fail(LOAA_ERR_NOMEM, "%s: tensor index", path);
    /* Pass 1: everything validated; the model is not touched yet. */
    char name[512];
    size_t expected = 0, off = 0;
    for (size_t i = 0; i < n && !st; i++) {
        st = check_tensor(f, refs[i].name, &refs[i], &src[3 * i]);
        expected++;
        if (st || !refs[i].trainable)
            continue;
        snprintf(name, sizeof name, "optim.m.%s", refs[i].name);
        if (!(st = check_tensor(f, name, &refs[i], &src[3 * i + 1]))) {
            snprintf(name, sizeof name, "optim.v.%s", refs[i].name);
            st = check_tensor(f, name, &refs[i], &src[3 * i + 2]);
        }
        expected += 2;
        off += src[3 * i]->numel;
    }
    if (!st && off != opt.count)
        st = loaa_fail(LOAA_ERR_INTERNAL, "%s: the model's optimiser holds %zu values, its trainable tensors %zu", path,
                       opt.count, off);
    if (!st && loaa_safetensors_count(f) != expected) {
        /* Name one tensor of the file that the model does not have. */
        for (size_t j = 0; j < loaa_safetensors_count(f) && !st; j++) {
            const char *tn = loaa_safetensors_tensor_at(f, j)->name;
            int known = 0;
            for (size_t i = 0; i < 3 * n && !known; i++)
                known = src[i] && strcmp(src[i]->name, tn) == 0;
            if (!known)
                st = loaa_fail(LOAA_ERR_SHAPE, "%s: tensor '%s' is not part of this model", path, tn);
        }
        if (!st)
            st = loaa_fail(LOAA_ERR_FORMAT, "%s: %zu tensors, the model expects %zu", path, loaa_safetensors_count(f),
                           expected);
    }
    /* Pass 2: copy. Only allocation failure could stop us here, and reads need none. */
    off = 0;
    for (size_t i = 0; i < n && !st; i++) {
        const loaa_safetensors_tensor *t = src[3 * i];
        st = loaa_safetensors_read_f32(f, t, refs[i].data, t->numel);
        if (!st && refs[i].trainable) {
            st = loaa_safetensors_read_f32(f, src[3 * i + 1], opt.m + off, t->numel);
            if (!st)
                st = loaa_safetensors_read_f32(f, src[3 * i + 2], opt.v + off, t->numel);
            off += t->numel;
        }
    }
    free(src);
    if (st)
        return st;
    loaa_model_set_optim_step(m, step);
    loaa_model_weights_changed(m); /* bf16 weight copies: remade from the fp32 tensors at the next forward */
    *state = s;
    return LOAA_OK;
}

loaa_status loaa_checkpoint_load(const char *path, loaa_model *m, const char *config_json,
                                 loaa_checkpoint_state *state)
{
    loaa_safetensors_file *f;
    loaa_status st = loaa_safetensors_open(path, &f);
    if (st)
        return st;
    st = checkpoint_load_file(f, m, config_json, state);
    loaa_safetensors_close(f);
    return st;
}

/* ---- adapter files ---- */

static loaa_status adapter_export(const char *path, const loaa_model *m, const char *config_json,
                                  const loaa_checkpoint_adapter_info *info);

static const char *base_name(const char *path)
{
    const char *s = strrchr(path, '/');
    return s ? s + 1 : path;
}

char *loaa_checkpoint_frontend_json(const loaa_dataset *ds, int target_length)
{
    static const char *const windows[] = {"hamming", "hanning", "povey", "rectangular", "blackman"};
    int T = target_length > 0 ? target_length : loaa_dataset_target_length(ds);
    json_t *o;
    if (loaa_dataset_is_image(ds)) {
        o = json_pack("{s:s, s:[i,i]}", "kind", "image", "image_size", loaa_dataset_num_mel(ds),
                      loaa_dataset_target_length(ds));
    } else {
        const loaa_fbank_opts *f = loaa_dataset_fbank(ds);
        json_t *fb = json_pack("{s:i, s:f, s:f, s:s, s:f, s:f, s:f, s:f, s:f, s:f, s:f, s:f, s:f}", "num_mel_bins",
                               f->num_mel_bins, "frame_shift_ms", f->frame_shift_ms, "frame_length_ms", f->frame_length_ms,
                               "window", (unsigned)f->window < 5 ? windows[f->window] : "hanning", "blackman_coeff",
                               f->blackman_coeff, "preemphasis", f->preemphasis, "low_freq", f->low_freq, "high_freq",
                               f->high_freq, "dither", f->dither, "energy_floor", f->energy_floor, "vtln_warp",
                               f->vtln_warp, "vtln_low", f->vtln_low, "vtln_high", f->vtln_high);
        json_t *flags = json_pack("{s:b, s:b, s:b, s:b, s:b, s:b, s:b, s:b, s:b}", "htk_compat", f->htk_compat,
                                  "use_energy", f->use_energy, "raw_energy", f->raw_energy, "remove_dc_offset",
                                  f->remove_dc_offset, "round_to_power_of_two", f->round_to_power_of_two, "snip_edges",
                                  f->snip_edges, "subtract_mean", f->subtract_mean, "use_log_fbank", f->use_log_fbank,
                                  "use_power", f->use_power);
        if (fb && flags)
            json_object_update(fb, flags);
        json_decref(flags);
        o = fb ? json_pack("{s:s, s:i, s:o}", "kind", "audio", "sample_rate", loaa_dataset_sample_rate(ds), "fbank", fb)
               : NULL;
    }
    if (!o)
        return NULL;
    json_object_set_new(o, "target_length", json_integer(T));
    json_object_set_new(o, "mean", json_real(loaa_dataset_mean(ds)));
    json_object_set_new(o, "std", json_real(loaa_dataset_std(ds)));
    json_object_set_new(o, "multilabel", json_boolean(loaa_dataset_multilabel(ds)));
    char *text = loaa_json_canonical(o);
    json_decref(o);
    return text;
}

loaa_status loaa_checkpoint_adapter_export(const char *path, const loaa_model *m, const char *config_json,
                                const loaa_checkpoint_adapter_info *info_in)
{
    assert(config_json);
    loaa_checkpoint_adapter_info info_copy = *info_in, *info = &info_copy;
    const char **ds_names = NULL;
    char *ds_frontend = NULL;
    if (info->dataset && !info->class_names) {
        info->n_classes = loaa_dataset_num_classes(info->dataset);
        ds_names = calloc(info->n_classes > 0 ? (size_t)info->n_classes : 1, sizeof *ds_names);
        if (!ds_names)
            return loaa_fail(LOAA_ERR_NOMEM, "%s: class names", path);
        for (int i = 0; i < info->n_classes; i++)
            ds_names[i] = loaa_dataset_class_name(info->dataset, i);
        info->class_names = ds_names;
    }
    if (info->dataset && !info->fbank_json) {
        if (!(ds_frontend = loaa_checkpoint_frontend_json(info->dataset, info->n_frames))) {
            free(ds_names);
            return loaa_fail(LOAA_ERR_NOMEM, "%s: front-end settings", path);
        }
        info->fbank_json = ds_frontend;
    }
    loaa_status st = adapter_export(path, m, config_json, info);
    free(ds_names);
    free(ds_frontend);
    return st;
}

static loaa_status adapter_export(const char *path, const loaa_model *m, const char *config_json,
                                  const loaa_checkpoint_adapter_info *info)
{
    size_t n;
    const loaa_tensor_ref *refs = loaa_model_tensors(m, &n);
    int full = info->backbone_path == NULL;
    for (size_t i = 0; i < n; i++)
        if (!strcmp(refs[i].name, "head.bias") && refs[i].shape[0] != info->n_classes)
            return loaa_fail(LOAA_ERR_SHAPE, "%s: %d class names for a head of %" PRId64 " outputs", path,
                             info->n_classes, refs[i].shape[0]);
    char sha[65] = "";
    loaa_status st;
    if (!full && (st = loaa_sha256_file(info->backbone_path, sha)))
        return st;
    loaa_safetensors_writer *w;
    if ((st = loaa_safetensors_writer_new(&w)))
        return st;
    for (size_t i = 0; i < n && !st; i++)
        if (full || refs[i].trainable)
            st = loaa_safetensors_writer_add(w, refs[i].name, refs[i].data, refs[i].ndim, refs[i].shape);
    json_t *classes = json_array();
    for (int i = 0; classes && i < info->n_classes; i++)
        if (json_array_append_new(classes, json_string(info->class_names[i] ? info->class_names[i] : "")))
            break;
    json_t *fbank = info->fbank_json ? json_loads(info->fbank_json, 0, NULL) : json_object();
    if (!st && !json_is_object(fbank))
        st = loaa_fail(LOAA_ERR_INTERNAL, "%s: the fbank settings are not a JSON object", path);
    int bad = st || !classes;
    bad = bad || loaa_safetensors_writer_meta(w, "loaa.format", "adapter") || loaa_safetensors_writer_meta(w, "loaa.version", FORMAT_VERSION);
    bad = bad || loaa_safetensors_writer_meta(w, "loaa.method", loaa_method_name(loaa_model_get_spec(m)->method));
    bad = bad || loaa_safetensors_writer_meta(w, "loaa.config", config_json);
    bad = bad || json_meta(w, "loaa.classes", json_incref(classes));
    bad = bad || json_meta(w, "loaa.fbank", json_incref(fbank));
    bad = bad || json_meta(w, "loaa.input", json_pack("{s:i, s:i, s:i}", "n_mel", info->n_mel, "n_frames",
                                                      info->n_frames, "dist_token", info->dist_token ? 1 : 0));
    bad = bad || loaa_safetensors_writer_meta(w, "loaa.backbone", full ? "none" : base_name(info->backbone_path));
    bad = bad || loaa_safetensors_writer_meta(w, "loaa.backbone_sha256", sha);
    bad = bad || loaa_safetensors_writer_meta(w, "loaa.full", full ? "1" : "0");
    if (!st && bad)
        st = loaa_fail(LOAA_ERR_NOMEM, "%s: adapter metadata", path);
    if (!st)
        st = loaa_safetensors_writer_save(w, path);
    json_decref(classes);
    json_decref(fbank);
    loaa_safetensors_writer_free(w);
    return st;
}

struct loaa_checkpoint_adapter {
    loaa_safetensors_file *f;
    char **classes;
    int n_classes;
    loaa_model_shape shape;
    int full;
};

void loaa_checkpoint_adapter_close(loaa_checkpoint_adapter *a)
{
    if (!a)
        return;
    for (int i = 0; i < a->n_classes; i++)
        free(a->classes[i]);
    free(a->classes);
    loaa_safetensors_close(a->f);
    free(a);
}

static loaa_status adapter_parse(loaa_checkpoint_adapter *a)
{
    const loaa_safetensors_file *f = a->f;
    const char *path = loaa_safetensors_path(f);
    loaa_status st = check_format(f, "adapter");
    if (st)
        return st;
    const char *keys[] = {"loaa.config", "loaa.classes", "loaa.input", "loaa.fbank", "loaa.backbone",
                          "loaa.backbone_sha256", "loaa.full"};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
        if (!loaa_safetensors_meta(f, keys[i]))
            return loaa_fail(LOAA_ERR_FORMAT, "%s: metadata '%s' is missing", path, keys[i]);
    json_t *cl = json_loads(loaa_safetensors_meta(f, "loaa.classes"), 0, NULL);
    if (!json_is_array(cl) || json_array_size(cl) < 1 || json_array_size(cl) > 1000000) {
        json_decref(cl);
        return loaa_fail(LOAA_ERR_FORMAT, "%s: metadata 'loaa.classes' is not a non-empty list", path);
    }
    a->classes = calloc(json_array_size(cl), sizeof *a->classes);
    if (!a->classes) {
        json_decref(cl);
        return loaa_fail(LOAA_ERR_NOMEM, "%s: class names", path);
    }
    for (size_t i = 0; i < json_array_size(cl); i++) {
        json_t *s = json_array_get(cl, i);
        a->classes[i] = strdup(json_is_string(s) ? json_string_value(s) : "");
        if (!a->classes[i]) {
            json_decref(cl);
            return loaa_fail(LOAA_ERR_NOMEM, "%s: class names", path);
        }
        a->n_classes++;
    }
    json_decref(cl);
    json_t *in = json_loads(loaa_safetensors_meta(f, "loaa.input"), 0, NULL);
    json_int_t nm = 0, nf = 0, dt = 0;
    int bad = json_unpack(in, "{s:I, s:I, s:I}", "n_mel", &nm, "n_frames", &nf, "dist_token", &dt) != 0;
    json_decref(in);
    if (bad || nm < 16 || nf < 16 || nm > 100000 || nf > 1000000 || (dt != 0 && dt != 1))
        return loaa_fail(LOAA_ERR_FORMAT, "%s: metadata 'loaa.input' needs n_mel, n_frames >= 16 and dist_token 0/1",
                         path);
    json_t *fb = json_loads(loaa_safetensors_meta(f, "loaa.fbank"), 0, NULL);
    bad = !json_is_object(fb);
    json_decref(fb);
    if (bad)
        return loaa_fail(LOAA_ERR_FORMAT, "%s: metadata 'loaa.fbank' is not a JSON object", path);
    a->shape = (loaa_model_shape){.n_mel = (int)nm, .n_frames = (int)nf, .n_classes = a->n_classes, .max_batch = 1,
                                  .dist_token = (int)dt};
    a->full = strcmp(loaa_safetensors_meta(f, "loaa.full"), "1") == 0;
    const char *sha = loaa_safetensors_meta(f, "loaa.backbone_sha256");
    if (!a->full && strlen(sha) != 64)
        return loaa_fail(LOAA_ERR_FORMAT, "%s: metadata 'loaa.backbone_sha256' is not a SHA-256", path);
    const loaa_safetensors_tensor *hb = loaa_safetensors_find(f, "head.bias");
    if (!hb || hb->ndim != 1 || hb->shape[0] != a->n_classes)
        return loaa_fail(LOAA_ERR_SHAPE, "%s: tensor 'head.bias' is missing or does not have %d outputs", path,
                         a->n_classes);
    return LOAA_OK;
}

static loaa_status adapter_open(const char *path, const void *data, size_t size, loaa_checkpoint_adapter **out)
{
    *out = NULL;
    loaa_checkpoint_adapter *a = calloc(1, sizeof *a);
    if (!a)
        return loaa_fail(LOAA_ERR_NOMEM, "%s", path);
    loaa_status st = data ? loaa_safetensors_open_memory(data, size, path, &a->f) : loaa_safetensors_open(path, &a->f);
    if (!st)
        st = adapter_parse(a);
    if (st) {
        loaa_checkpoint_adapter_close(a);
        return st;
    }
    *out = a;
    return LOAA_OK;
}

loaa_status loaa_checkpoint_adapter_open(const char *path, loaa_checkpoint_adapter **out)
{
    return adapter_open(path, NULL, 0, out);
}

loaa_status loaa_checkpoint_adapter_open_memory(const void *data, size_t size, const char *name, loaa_checkpoint_adapter **out)
{
    /* A zero-length buffer is still "in memory": point at a dummy byte so the NULL test above holds. */
    static const char empty;
    return adapter_open(name ? name : "(memory)", size ? data : &empty, size, out);
}

const char *loaa_checkpoint_adapter_path(const loaa_checkpoint_adapter *a) { return loaa_safetensors_path(a->f); }
const char *loaa_checkpoint_adapter_config_json(const loaa_checkpoint_adapter *a) { return loaa_safetensors_meta(a->f, "loaa.config"); }
int loaa_checkpoint_adapter_num_classes(const loaa_checkpoint_adapter *a) { return a->n_classes; }
const char *loaa_checkpoint_adapter_class_name(const loaa_checkpoint_adapter *a, int i)
{
    return i >= 0 && i < a->n_classes ? a->classes[i] : NULL;
}
loaa_model_shape loaa_checkpoint_adapter_shape(const loaa_checkpoint_adapter *a) { return a->shape; }
const char *loaa_checkpoint_adapter_fbank_json(const loaa_checkpoint_adapter *a) { return loaa_safetensors_meta(a->f, "loaa.fbank"); }
const char *loaa_checkpoint_adapter_backbone_sha256(const loaa_checkpoint_adapter *a) { return loaa_safetensors_meta(a->f, "loaa.backbone_sha256"); }
const char *loaa_checkpoint_adapter_backbone_name(const loaa_checkpoint_adapter *a) { return loaa_safetensors_meta(a->f, "loaa.backbone"); }
int loaa_checkpoint_adapter_is_full(const loaa_checkpoint_adapter *a) { return a->full; }

loaa_status loaa_checkpoint_adapter_apply(const loaa_checkpoint_adapter *a, loaa_model *m)
{
    const loaa_safetensors_file *f = a->f;
    size_t n;
    const loaa_tensor_ref *refs = loaa_model_tensors(m, &n);
    size_t nt = loaa_safetensors_count(f);
    const loaa_tensor_ref **dst = calloc(nt ? nt : 1, sizeof *dst);
    if (!dst)
        return loaa_fail(LOAA_ERR_NOMEM, "%s: tensor index", loaa_safetensors_path(f));
    loaa_status st = LOAA_OK;
    for (size_t j = 0; j < nt && !st; j++) {
        const loaa_safetensors_tensor *t = loaa_safetensors_tensor_at(f, j), *chk;
        for (size_t i = 0; i < n && !dst[j]; i++)
            if (!strcmp(refs[i].name, t->name))
                dst[j] = &refs[i];
        if (!dst[j])
            st = loaa_fail(LOAA_ERR_SHAPE, "%s: tensor '%s' is not part of this model (method %s)", loaa_safetensors_path(f),
                           t->name, loaa_method_name(loaa_model_get_spec(m)->method));
        else
            st = check_tensor(f, t->name, dst[j], &chk);
    }
    /* A full file must cover the whole model: from-scratch weights exist nowhere else. */
    for (size_t i = 0; i < n && !st; i++)
        if ((a->full || refs[i].trainable) && !loaa_safetensors_find(f, refs[i].name))
            st = loaa_fail(LOAA_ERR_NOTFOUND, "%s: tensor '%s' is missing", loaa_safetensors_path(f), refs[i].name);
    for (size_t j = 0; j < nt && !st; j++)
        st = loaa_safetensors_read_f32(f, loaa_safetensors_tensor_at(f, j), dst[j]->data, loaa_safetensors_tensor_at(f, j)->numel);
    free(dst);
    loaa_model_weights_changed(m);
    return st;
}
