/*
 * dataset.c - reads and validates DATASET/dataset.json (see dataset.h).
 *
 * Everything is checked when the manifest is opened, so that a worker never
 * finds out halfway through a trial that a shard is missing or a setting is
 * out of range; every message names the file and the key.
 */
#include "common/dataset.h"

#include <assert.h>
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/fs.h"
#include "common/parse.h"

/* dataset.json is a small index; a larger file is a mistake. */
#define DATASET_JSON_MAX ((size_t)64 << 20)

typedef struct shard_list {
    char **paths; /* full paths: dir/shard */
    int count;
    long samples; /* the manifest's "counts" for this list; -1 = not recorded */
} shard_list;

struct loaa_dataset {
    char *dir;
    char *file;  /* dir/dataset.json, for messages */
    char *name;
    char **classes;
    int n_classes;
    int multilabel;
    int image;
    int sample_rate;
    int num_mel, target_length;
    double mean, std;
    loaa_fbank_opts fbank;
    shard_list *folds; /* k-fold datasets */
    int n_folds;
    shard_list splits[3];
    const char **view[3]; /* loaa_dataset_shards' result per split */
};

static const char *const split_names[3] = {"train", "val", "test"};
static const char *const window_names[] = {"hamming", "hanning", "povey", "rectangular", "blackman"};

void loaa_fbank_opts_default(loaa_fbank_opts *o)
{
    memset(o, 0, sizeof *o);
    o->num_mel_bins = 128;
    o->frame_shift_ms = 10;
    o->frame_length_ms = 25;
    o->window = LOAA_WINDOW_HANNING;
    o->blackman_coeff = 0.42;
    o->preemphasis = 0.97;
    o->low_freq = 20;
    o->high_freq = 0;
    o->dither = 0;
    o->energy_floor = 1.0;
    o->vtln_warp = 1.0;
    o->vtln_low = 100;
    o->vtln_high = -500;
    o->htk_compat = 1;
    o->use_energy = 0;
    o->raw_energy = 1;
    o->remove_dc_offset = 1;
    o->round_to_power_of_two = 1;
    o->snip_edges = 1;
    o->subtract_mean = 0;
    o->use_log_fbank = 1;
    o->use_power = 1;
}

int loaa_fbank_opts_dim(const loaa_fbank_opts *o) { return o->num_mel_bins + (o->use_energy ? 1 : 0); }

static void free_list(shard_list *l)
{
    for (int i = 0; i < l->count; i++)
        free(l->paths[i]);
    free(l->paths);
    l->paths = NULL;
    l->count = 0;
}

void loaa_dataset_free(loaa_dataset *ds)
{
    if (!ds)
        return;
    free(ds->dir);
    free(ds->file);
    free(ds->name);
    for (int i = 0; i < ds->n_classes; i++)
        free(ds->classes[i]);
    free(ds->classes);
    for (int i = 0; i < ds->n_folds; i++)
        free_list(&ds->folds[i]);
    free(ds->folds);
    for (int i = 0; i < 3; i++) {
        free_list(&ds->splits[i]);
        free(ds->view[i]);
    }
    free(ds);
}

static char *join_path(const char *dir, const char *rel)
{
    size_t a = strlen(dir), b = strlen(rel);
    char *p = malloc(a + b + 2);
    if (!p)
        return NULL;
    memcpy(p, dir, a);
    p[a] = '/';
    memcpy(p + a + 1, rel, b + 1);
    return p;
}

/* A shard path must stay inside the dataset folder: relative, no "..". */
static int safe_relative(const char *p)
{
    if (!p[0] || p[0] == '/')
        return 0;
    const char *s = p;
    while (*s) {
        const char *e = strchr(s, '/');
        size_t n = e ? (size_t)(e - s) : strlen(s);
        if (n == 2 && s[0] == '.' && s[1] == '.')
            return 0;
        if (!e)
            break;
        s = e + 1;
    }
    return 1;
}

static loaa_status read_list(loaa_dataset *ds, const json_t *arr, const char *what, int check_files, shard_list *out)
{
    if (!json_is_array(arr))
        return loaa_fail(LOAA_ERR_CONFIG, "%s: key '%s': must be a list of shard paths", ds->file, what);
    size_t n = json_array_size(arr);
    out->paths = calloc(n ? n : 1, sizeof(char *));
    if (!out->paths)
        return LOAA_ERR_NOMEM;
    for (size_t i = 0; i < n; i++) {
        const json_t *v = json_array_get(arr, i);
        if (!json_is_string(v))
            return loaa_fail(LOAA_ERR_CONFIG, "%s: key '%s'[%zu]: must be a string", ds->file, what, i);
        const char *rel = json_string_value(v);
        if (!safe_relative(rel))
            return loaa_fail(LOAA_ERR_CONFIG, "%s: key '%s'[%zu]: shard path '%s' must be relative and inside the dataset folder",
                             ds->file, what, i, rel);
        char *full = join_path(ds->dir, rel);
        if (!full)
            return LOAA_ERR_NOMEM;
        out->paths[out->count++] = full;
        struct stat sb;
        if (check_files) {
            int rc = stat(full, &sb);
            const char *why = rc != 0 ? strerror(errno) : "not a regular file";
            if (rc != 0 || !S_ISREG(sb.st_mode))
                return loaa_fail(LOAA_ERR_NOTFOUND, "%s: key '%s': shard '%s' not found (%s)", ds->file, what, rel, why);
        }
    }
    return LOAA_OK;
}

static loaa_status get_number(loaa_dataset *ds, const json_t *obj, const char *key, const char *ctx, double *out,
                              double lo, double hi)
{
    const json_t *v = json_object_get(obj, key);
    if (!v)
        return LOAA_OK;
    if (!json_is_number(v))
        return loaa_fail(LOAA_ERR_CONFIG, "%s: key '%s%s': must be a number", ds->file, ctx, key);
    double x = json_number_value(v);
    if (!(x >= lo && x <= hi))
        return loaa_fail(LOAA_ERR_CONFIG, "%s: key '%s%s': %g is outside [%g, %g]", ds->file, ctx, key, x, lo, hi);
    *out = x;
    return LOAA_OK;
}

static loaa_status get_int(loaa_dataset *ds, const json_t *obj, const char *key, const char *ctx, int *out, int lo,
                           int hi)
{
    const json_t *v = json_object_get(obj, key);
    if (!v)
        return LOAA_OK;
    int64_t i;
    double x;
    if (!loaa_parse_json_int(v, &i, &x))
        return loaa_fail(LOAA_ERR_CONFIG, "%s: key '%s%s': must be an integer", ds->file, ctx, key);
    if (!(x >= lo && x <= hi))
        return loaa_fail(LOAA_ERR_CONFIG, "%s: key '%s%s': %g is outside [%d, %d]", ds->file, ctx, key, x, lo, hi);
    *out = (int)i;
    return LOAA_OK;
}

static loaa_status get_bool(loaa_dataset *ds, const json_t *obj, const char *key, const char *ctx, int *out)
{
    const json_t *v = json_object_get(obj, key);
    if (!v)
        return LOAA_OK;
    if (!json_is_boolean(v))
        return loaa_fail(LOAA_ERR_CONFIG, "%s: key '%s%s': must be true or false", ds->file, ctx, key);
    *out = json_is_true(v);
    return LOAA_OK;
}

static loaa_status check_members(loaa_dataset *ds, const json_t *obj, const char *ctx, const char *const *known)
{
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)obj, key, v) {
        int ok = 0;
        for (const char *const *k = known; *k; k++)
            if (!strcmp(*k, key))
                ok = 1;
        if (!ok)
            return loaa_fail(LOAA_ERR_CONFIG, "%s: unknown key '%s%s'", ds->file, ctx, key);
    }
    return LOAA_OK;
}

static loaa_status read_fbank(loaa_dataset *ds, const json_t *fb)
{
    static const char *const known[] = {"num_mel_bins", "frame_shift_ms", "frame_length_ms", "window", "window_type",
                                        "blackman_coeff", "preemphasis", "low_freq", "high_freq", "dither",
                                        "energy_floor", "vtln_warp", "vtln_low", "vtln_high", "htk_compat",
                                        "use_energy", "raw_energy", "remove_dc_offset", "round_to_power_of_two",
                                        "snip_edges", "subtract_mean", "use_log_fbank", "use_power", NULL};
    loaa_fbank_opts *o = &ds->fbank;
    loaa_status st;
    const char *c = "fbank.";
    if (!json_is_object(fb))
        return loaa_fail(LOAA_ERR_CONFIG, "%s: key 'fbank': must be an object", ds->file);
    if ((st = check_members(ds, fb, c, known)))
        return st;
    if ((st = get_int(ds, fb, "num_mel_bins", c, &o->num_mel_bins, 4, 1024)) ||
        (st = get_number(ds, fb, "frame_shift_ms", c, &o->frame_shift_ms, 0.01, 10000)) ||
        (st = get_number(ds, fb, "frame_length_ms", c, &o->frame_length_ms, 0.01, 10000)) ||
        (st = get_number(ds, fb, "blackman_coeff", c, &o->blackman_coeff, -10, 10)) ||
        (st = get_number(ds, fb, "preemphasis", c, &o->preemphasis, 0, 1)) ||
        (st = get_number(ds, fb, "low_freq", c, &o->low_freq, 0, 1e6)) ||
        (st = get_number(ds, fb, "high_freq", c, &o->high_freq, -1e6, 1e6)) ||
        (st = get_number(ds, fb, "dither", c, &o->dither, 0, 1e6)) ||
        (st = get_number(ds, fb, "energy_floor", c, &o->energy_floor, 0, 1e30)) ||
        (st = get_number(ds, fb, "vtln_warp", c, &o->vtln_warp, 1, 1)) ||
        (st = get_number(ds, fb, "vtln_low", c, &o->vtln_low, -1e6, 1e6)) ||
        (st = get_number(ds, fb, "vtln_high", c, &o->vtln_high, -1e6, 1e6)) ||
        (st = get_bool(ds, fb, "htk_compat", c, &o->htk_compat)) ||
        (st = get_bool(ds, fb, "use_energy", c, &o->use_energy)) ||
        (st = get_bool(ds, fb, "raw_energy", c, &o->raw_energy)) ||
        (st = get_bool(ds, fb, "remove_dc_offset", c, &o->remove_dc_offset)) ||
        (st = get_bool(ds, fb, "round_to_power_of_two", c, &o->round_to_power_of_two)) ||
        (st = get_bool(ds, fb, "snip_edges", c, &o->snip_edges)) ||
        (st = get_bool(ds, fb, "subtract_mean", c, &o->subtract_mean)) ||
        (st = get_bool(ds, fb, "use_log_fbank", c, &o->use_log_fbank)) ||
        (st = get_bool(ds, fb, "use_power", c, &o->use_power)))
        return st;
    const json_t *w = json_object_get(fb, "window");
    if (!w)
        w = json_object_get(fb, "window_type");
    if (w) {
        int found = -1;
        for (int i = 0; i < 5 && json_is_string(w); i++)
            if (!strcmp(json_string_value(w), window_names[i]))
                found = i;
        if (found < 0)
            return loaa_fail(LOAA_ERR_CONFIG, "%s: key 'fbank.window': must be one of hamming, hanning, povey, rectangular, blackman",
                             ds->file);
        o->window = (loaa_window)found;
    }
    double nyq = ds->sample_rate / 2.0;
    double hf = o->high_freq <= 0 ? o->high_freq + nyq : o->high_freq;
    if (!(o->low_freq < nyq && hf > 0 && hf <= nyq && o->low_freq < hf))
        return loaa_fail(LOAA_ERR_CONFIG, "%s: key 'fbank.low_freq'/'fbank.high_freq': %g..%g Hz does not fit below Nyquist %g Hz",
                         ds->file, o->low_freq, hf, nyq);
    int win = (int)(ds->sample_rate * o->frame_length_ms * 0.001);
    int shift = (int)(ds->sample_rate * o->frame_shift_ms * 0.001);
    if (win > (1 << 20) || shift > (1 << 20))
        return loaa_fail(LOAA_ERR_CONFIG, "%s: key 'fbank.frame_length_ms': a window of %d samples is over the limit of 2^20", ds->file,
                         win);
    if (win < 2 || shift < 1 || (!o->round_to_power_of_two && win % 2))
        return loaa_fail(LOAA_ERR_CONFIG, "%s: key 'fbank.frame_length_ms': window of %d samples, shift %d (need >= 2, >= 1, "
                         "even unless round_to_power_of_two)", ds->file, win, shift);
    return LOAA_OK;
}

/* The optional "counts" object (pack and synth write it): samples per split ("train", ...) or fold ("fold1", ...). */
static void read_counts(loaa_dataset *ds, const json_t *counts)
{
    for (int i = 0; i < 3; i++) {
        const json_t *v = json_object_get(counts, split_names[i]);
        ds->splits[i].samples = json_is_integer(v) ? (long)json_integer_value(v) : -1;
    }
    for (int f = 0; f < ds->n_folds; f++) {
        char name[32];
        snprintf(name, sizeof name, "fold%d", f + 1);
        const json_t *v = json_object_get(counts, name);
        ds->folds[f].samples = json_is_integer(v) ? (long)json_integer_value(v) : -1;
    }
}

/* format, version and name. */
static loaa_status parse_identity(loaa_dataset *ds, const json_t *root)
{
    const json_t *v = json_object_get(root, "format");
    if (v && (!json_is_string(v) || strcmp(json_string_value(v), "loaa-dataset")))
        return loaa_fail(LOAA_ERR_CONFIG, "%s: key 'format': must be \"loaa-dataset\"", ds->file);
    v = json_object_get(root, "version");
    if (v && (!json_is_integer(v) || json_integer_value(v) != 1))
        return loaa_fail(LOAA_ERR_UNSUPPORTED, "%s: key 'version': only version 1 is known", ds->file);
    v = json_object_get(root, "name");
    if (!json_is_string(v) || !json_string_length(v))
        return loaa_fail(LOAA_ERR_CONFIG, "%s: key 'name': required, a non-empty string", ds->file);
    if (!(ds->name = strdup(json_string_value(v))))
        return LOAA_ERR_NOMEM;
    return LOAA_OK;
}

/* classes: a non-empty list of distinct names. */
static loaa_status parse_classes(loaa_dataset *ds, const json_t *root)
{
    const json_t *v = json_object_get(root, "classes");
    if (!json_is_array(v) || json_array_size(v) < 1 || json_array_size(v) > 100000)
        return loaa_fail(LOAA_ERR_CONFIG, "%s: key 'classes': required, a non-empty list of names", ds->file);
    ds->classes = calloc(json_array_size(v), sizeof(char *));
    if (!ds->classes)
        return LOAA_ERR_NOMEM;
    for (size_t i = 0; i < json_array_size(v); i++) {
        const json_t *c = json_array_get(v, i);
        if (!json_is_string(c))
            return loaa_fail(LOAA_ERR_CONFIG, "%s: key 'classes'[%zu]: must be a string", ds->file, i);
        for (int j = 0; j < ds->n_classes; j++)
            if (!strcmp(ds->classes[j], json_string_value(c)))
                return loaa_fail(LOAA_ERR_CONFIG, "%s: key 'classes': '%s' appears twice", ds->file, ds->classes[j]);
        if (!(ds->classes[ds->n_classes] = strdup(json_string_value(c))))
            return LOAA_ERR_NOMEM;
        ds->n_classes++;
    }
    return LOAA_OK;
}

/* kind, and the input shape it implies: image_size for images; sample_rate and fbank for audio; then target_length. */
static loaa_status parse_shape(loaa_dataset *ds, const json_t *root)
{
    loaa_status st;
    const json_t *v = json_object_get(root, "kind");
    if (v) {
        if (!json_is_string(v) || (strcmp(json_string_value(v), "audio") && strcmp(json_string_value(v), "image")))
            return loaa_fail(LOAA_ERR_CONFIG, "%s: key 'kind': must be \"audio\" or \"image\"", ds->file);
        ds->image = !strcmp(json_string_value(v), "image");
    }
    loaa_fbank_opts_default(&ds->fbank);
    ds->sample_rate = 16000;
    if (ds->image) {
        v = json_object_get(root, "image_size");
        if (!json_is_array(v) || json_array_size(v) != 2 || !json_is_integer(json_array_get(v, 0)) ||
            !json_is_integer(json_array_get(v, 1)))
            return loaa_fail(LOAA_ERR_CONFIG, "%s: key 'image_size': required for kind \"image\", [rows, cols]", ds->file);
        long long r = json_integer_value(json_array_get(v, 0)), c = json_integer_value(json_array_get(v, 1));
        if (r < 1 || r > 4096 || c < 1 || c > 4096)
            return loaa_fail(LOAA_ERR_CONFIG, "%s: key 'image_size': [%lld, %lld] outside 1..4096", ds->file, r, c);
        ds->num_mel = (int)r;
        ds->target_length = (int)c;
        ds->fbank.num_mel_bins = (int)r;
    } else {
        if ((st = get_int(ds, root, "sample_rate", "", &ds->sample_rate, 1000, 768000)))
            return st;
        if (json_object_get(root, "fbank") && (st = read_fbank(ds, json_object_get(root, "fbank"))))
            return st;
        ds->num_mel = loaa_fbank_opts_dim(&ds->fbank);
        ds->target_length = 1024;
    }
    if ((st = get_int(ds, root, "target_length", "", &ds->target_length, 1, 1000000)))
        return st;
    return LOAA_OK;
}

/* mean and std of the features (identity normalisation when absent). */
static loaa_status parse_stats(loaa_dataset *ds, const json_t *root)
{
    loaa_status st;
    ds->mean = 0;
    ds->std = 0.5; /* (x - 0) / (2 * 0.5): identity when no statistics are given */
    if ((st = get_number(ds, root, "mean", "", &ds->mean, -1e30, 1e30)) ||
        (st = get_number(ds, root, "std", "", &ds->std, 1e-30, 1e30)))
        return st;
    return LOAA_OK;
}

/* Exactly one of folds (at least 3 shard lists) and splits ({train, val, test}). */
static loaa_status parse_groups(loaa_dataset *ds, const json_t *root, int check_files)
{
    loaa_status st;
    const json_t *folds = json_object_get(root, "folds"), *splits = json_object_get(root, "splits");
    if ((folds != NULL) == (splits != NULL))
        return loaa_fail(LOAA_ERR_CONFIG, "%s: exactly one of the keys 'folds' and 'splits' is required", ds->file);
    if (folds) {
        if (!json_is_array(folds) || json_array_size(folds) < 3 || json_array_size(folds) > 1000)
            return loaa_fail(LOAA_ERR_CONFIG, "%s: key 'folds': must be a list of at least 3 shard lists", ds->file);
        ds->folds = calloc(json_array_size(folds), sizeof(shard_list));
        if (!ds->folds)
            return LOAA_ERR_NOMEM;
        for (size_t i = 0; i < json_array_size(folds); i++) {
            char what[48];
            snprintf(what, sizeof what, "folds[%zu]", i);
            ds->n_folds++;
            if ((st = read_list(ds, json_array_get(folds, i), what, check_files, &ds->folds[i])))
                return st;
        }
    } else {
        if (!json_is_object(splits))
            return loaa_fail(LOAA_ERR_CONFIG, "%s: key 'splits': must be an object {train, val, test}", ds->file);
        static const char *const sk[] = {"train", "val", "test", NULL};
        if ((st = check_members(ds, splits, "splits.", sk)))
            return st;
        for (int i = 0; i < 3; i++) {
            char what[32];
            snprintf(what, sizeof what, "splits.%s", split_names[i]);
            const json_t *l = json_object_get(splits, split_names[i]);
            if (!l)
                return loaa_fail(LOAA_ERR_CONFIG, "%s: key '%s': required", ds->file, what);
            if ((st = read_list(ds, l, what, check_files, &ds->splits[i])))
                return st;
        }
    }
    read_counts(ds, json_object_get(root, "counts"));
    return LOAA_OK;
}

static loaa_status parse_root(loaa_dataset *ds, const json_t *root, int check_files)
{
    static const char *const known[] = {"format", "version", "name", "classes", "multilabel", "kind", "sample_rate",
                                        "fbank", "image_size", "target_length", "mean", "std", "folds", "splits",
                                        "counts", "features", "source", "created_by", NULL};
    assert(ds && root);
    loaa_status st;
    if (!json_is_object(root))
        return loaa_fail(LOAA_ERR_CONFIG, "%s: must be a JSON object", ds->file);
    if ((st = check_members(ds, root, "", known)) || (st = parse_identity(ds, root)) || (st = parse_classes(ds, root)) ||
        (st = get_bool(ds, root, "multilabel", "", &ds->multilabel)) || (st = parse_shape(ds, root)) ||
        (st = parse_stats(ds, root)))
        return st;
    return parse_groups(ds, root, check_files);
}

loaa_status loaa_dataset_parse(const char *text, const char *dir, int check_files, loaa_dataset **out)
{
    *out = NULL;
    loaa_dataset *ds = calloc(1, sizeof *ds);
    if (!ds)
        return LOAA_ERR_NOMEM;
    ds->dir = strdup(dir);
    ds->file = join_path(dir, "dataset.json");
    if (!ds->dir || !ds->file) {
        loaa_dataset_free(ds);
        return LOAA_ERR_NOMEM;
    }
    json_error_t err;
    json_t *root = json_loads(text, JSON_REJECT_DUPLICATES, &err);
    if (!root) {
        loaa_status st = loaa_fail(LOAA_ERR_PARSE, "%s: line %d, column %d: %s", ds->file, err.line, err.column, err.text);
        loaa_dataset_free(ds);
        return st;
    }
    loaa_status st = parse_root(ds, root, check_files);
    json_decref(root);
    if (st) {
        if (st == LOAA_ERR_NOMEM)
            loaa_fail(st, "%s: out of memory", ds->file);
        loaa_dataset_free(ds);
        return st;
    }
    *out = ds;
    return LOAA_OK;
}

loaa_status loaa_dataset_open(const char *dir, loaa_dataset **out)
{
    *out = NULL;
    char *file = join_path(dir, "dataset.json");
    if (!file)
        return LOAA_ERR_NOMEM;
    char *text;
    size_t len;
    loaa_status st = loaa_fs_read_file(file, DATASET_JSON_MAX, "64 MiB", &text, &len);
    free(file);
    if (st)
        return st;
    st = loaa_dataset_parse(text, dir, 1, out);
    free(text);
    return st;
}

const char *loaa_dataset_name(const loaa_dataset *ds) { return ds->name; }
int loaa_dataset_num_classes(const loaa_dataset *ds) { return ds->n_classes; }
const char *loaa_dataset_class_name(const loaa_dataset *ds, int index)
{
    return index >= 0 && index < ds->n_classes ? ds->classes[index] : NULL;
}
int loaa_dataset_num_folds(const loaa_dataset *ds) { return ds->n_folds; }
int loaa_dataset_sample_rate(const loaa_dataset *ds) { return ds->sample_rate; }
int loaa_dataset_num_mel(const loaa_dataset *ds) { return ds->num_mel; }
int loaa_dataset_target_length(const loaa_dataset *ds) { return ds->target_length; }
int loaa_dataset_multilabel(const loaa_dataset *ds) { return ds->multilabel; }
int loaa_dataset_is_image(const loaa_dataset *ds) { return ds->image; }
double loaa_dataset_mean(const loaa_dataset *ds) { return ds->mean; }
double loaa_dataset_std(const loaa_dataset *ds) { return ds->std; }
const loaa_fbank_opts *loaa_dataset_fbank(const loaa_dataset *ds) { return &ds->fbank; }

int loaa_dataset_class_index(const loaa_dataset *ds, const char *name)
{
    for (int i = 0; i < ds->n_classes; i++)
        if (!strcmp(ds->classes[i], name))
            return i;
    return -1;
}

/* The one fold rule: the split fold index f (0-based) serves when the trial's fold is `fold` (1-based, 1..k). */
static loaa_split fold_role(int fold, int f, int k)
{
    return f == fold - 1 ? LOAA_SPLIT_TEST : f == fold % k ? LOAA_SPLIT_VAL : LOAA_SPLIT_TRAIN;
}

long loaa_dataset_split_samples(const loaa_dataset *ds, loaa_split split, int fold)
{
    if ((int)split < 0 || (int)split > 2)
        return -1;
    if (ds->n_folds == 0)
        return ds->splits[split].samples;
    if (fold < 1 || fold > ds->n_folds)
        return -1;
    long n = 0;
    for (int f = 0; f < ds->n_folds && n >= 0; f++)
        if (fold_role(fold, f, ds->n_folds) == split)
            n = ds->folds[f].samples < 0 ? -1 : n + ds->folds[f].samples;
    return n;
}

loaa_status loaa_dataset_shards(const loaa_dataset *cds, loaa_split split, int fold, const char *const **paths,
                                int *count)
{
    loaa_dataset *ds = (loaa_dataset *)cds; /* only the view cache changes */
    *paths = NULL;
    *count = 0;
    if ((int)split < 0 || (int)split > 2)
        return loaa_fail(LOAA_ERR_INTERNAL, "bad split %d", (int)split);
    int n = 0;
    if (ds->n_folds == 0) {
        n = ds->splits[split].count;
    } else {
        if (fold < 0)
            return loaa_fail(LOAA_ERR_CONFIG, "key 'fold': required, dataset '%s' has %d folds", ds->name, ds->n_folds);
        if (fold < 1 || fold > ds->n_folds)
            return loaa_fail(LOAA_ERR_CONFIG, "key 'fold': %d is outside 1..%d (dataset '%s')", fold, ds->n_folds, ds->name);
        for (int i = 0; i < ds->n_folds; i++)
            n += ds->folds[i].count;
    }
    free(ds->view[split]);
    ds->view[split] = calloc(n ? n : 1, sizeof(char *));
    if (!ds->view[split])
        return loaa_fail(LOAA_ERR_NOMEM, "out of memory");
    int k = 0;
    if (ds->n_folds == 0) {
        for (int i = 0; i < n; i++)
            ds->view[split][k++] = ds->splits[split].paths[i];
    } else {
        for (int f = 0; f < ds->n_folds; f++) {
            if (fold_role(fold, f, ds->n_folds) != split)
                continue;
            for (int i = 0; i < ds->folds[f].count; i++)
                ds->view[split][k++] = ds->folds[f].paths[i];
        }
    }
    *paths = ds->view[split];
    *count = k;
    return LOAA_OK;
}
