/*
 * dswrite.c - the dataset folder writer (see dswrite.h).
 */
#include "worker/dswrite.h"

#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/dataset.h"
#include "common/fs.h"

typedef struct group {
    loaa_shard_writer *cur;
    int cur_samples;
    int n_shards;
    long samples;
    json_t *list; /* shard names */
} group;

struct loaa_dsw {
    char *dir;
    int n, folds;
    int alias[3]; /* splits only: group i lists group alias[i]'s shards */
    loaa_dsw_opts o;
    group *g;
};

static const char *const split_names[3] = {"train", "val", "test"};
static const char *const ext_names[3] = {".tar", ".tar.gz", ".tar.zst"};

loaa_status loaa_write_file_atomic(const char *path, const char *text) { return loaa_fs_write_atomic(path, text, strlen(text)); }

loaa_status loaa_dsw_open(const char *outdir, int n_groups, int folds, const loaa_dsw_opts *opts, loaa_dsw **out)
{
    *out = NULL;
    if (n_groups < 1 || (!folds && n_groups != 3))
        return loaa_fail(LOAA_ERR_INTERNAL, "dataset writer: %d groups", n_groups);
    loaa_status st = loaa_fs_make_dirs(outdir);
    if (st)
        return st;
    loaa_dsw *w = calloc(1, sizeof *w);
    if (!w || !(w->dir = strdup(outdir)) || !(w->g = calloc(n_groups, sizeof(group)))) {
        if (w)
            free(w->dir);
        free(w);
        return loaa_fail(LOAA_ERR_NOMEM, "dataset writer: out of memory");
    }
    w->n = n_groups;
    w->folds = folds;
    if (opts)
        w->o = *opts;
    if (w->o.samples_per_shard <= 0)
        w->o.samples_per_shard = 1000;
    for (int i = 0; i < 3; i++)
        w->alias[i] = i;
    for (int i = 0; i < n_groups; i++)
        if (!(w->g[i].list = json_array())) {
            loaa_dsw_abort(w);
            return loaa_fail(LOAA_ERR_NOMEM, "dataset writer: out of memory");
        }
    *out = w;
    return LOAA_OK;
}

static void group_name(const loaa_dsw *w, int i, char *buf, size_t n)
{
    if (w->folds)
        snprintf(buf, n, "fold%d", i + 1);
    else
        snprintf(buf, n, "%s", split_names[i]);
}

static loaa_status close_shard(loaa_dsw *w, group *g)
{
    if (!g->cur)
        return LOAA_OK;
    loaa_status st = loaa_shard_writer_finish(g->cur);
    g->cur = NULL;
    return st;
}

loaa_status loaa_dsw_add(loaa_dsw *w, int gi, const char *key, const char *ext, const void *data, size_t size,
                         const char *cls, const char *json)
{
    if (gi < 0 || gi >= w->n)
        return loaa_fail(LOAA_ERR_INTERNAL, "dataset writer: group %d of %d", gi, w->n);
    group *g = &w->g[gi];
    loaa_status st;
    if (g->cur && (g->cur_samples >= w->o.samples_per_shard ||
                   (w->o.bytes_per_shard && loaa_shard_writer_bytes(g->cur) + size > w->o.bytes_per_shard)))
        if ((st = close_shard(w, g)))
            return st;
    if (!g->cur) {
        char gname[32], rel[64], path[4096];
        group_name(w, gi, gname, sizeof gname);
        snprintf(rel, sizeof rel, "%s-%06d%s", gname, g->n_shards, ext_names[w->o.compress]);
        snprintf(path, sizeof path, "%s/%s", w->dir, rel);
        if ((st = loaa_shard_writer_open(path, w->o.compress, &g->cur)))
            return st;
        g->n_shards++;
        g->cur_samples = 0;
        if (json_array_append_new(g->list, json_string(rel)))
            return loaa_fail(LOAA_ERR_NOMEM, "dataset writer: out of memory");
    }
    char name[512];
    snprintf(name, sizeof name, "%s.%s", key, ext);
    if ((st = loaa_shard_writer_add(g->cur, name, data, size)))
        return st;
    if (cls) {
        snprintf(name, sizeof name, "%s.cls", key);
        if ((st = loaa_shard_writer_add(g->cur, name, cls, strlen(cls))))
            return st;
    }
    if (json) {
        snprintf(name, sizeof name, "%s.json", key);
        if ((st = loaa_shard_writer_add(g->cur, name, json, strlen(json))))
            return st;
    }
    g->cur_samples++;
    g->samples++;
    return LOAA_OK;
}

void loaa_dsw_alias(loaa_dsw *w, int to, int from)
{
    if (!w->folds && to >= 0 && to < 3 && from >= 0 && from < 3)
        w->alias[to] = from;
}

static void free_writer(loaa_dsw *w)
{
    for (int i = 0; i < w->n; i++) {
        loaa_shard_writer_abort(w->g[i].cur);
        json_decref(w->g[i].list);
    }
    free(w->g);
    free(w->dir);
    free(w);
}

void loaa_dsw_abort(loaa_dsw *w)
{
    if (w)
        free_writer(w);
}

loaa_status loaa_dsw_check_groups(const long *counts, int n_groups, int folds, int test_is_val, const char *what)
{
    assert(counts && what && n_groups >= 1 && (folds > 0 || n_groups == 3));
    int empty = -1;
    for (int i = 0; i < n_groups && empty < 0; i++)
        if (counts[i] == 0 && !(folds <= 0 && i == 2 && test_is_val))
            empty = i;
    if (empty < 0)
        return LOAA_OK;
    char list[256] = "";
    size_t len = 0;
    for (int i = 0; i < n_groups && len < sizeof list - 40; i++) {
        int n = folds > 0 ? snprintf(list + len, sizeof list - len, "%sfold%d %ld", i ? ", " : "", i + 1, counts[i])
                          : snprintf(list + len, sizeof list - len, "%s%s %ld", i ? ", " : "", split_names[i], counts[i]);
        len += n > 0 ? (size_t)n : 0;
    }
    const char *more = len >= sizeof list - 40 ? ", ..." : "";
    if (folds > 0)
        return loaa_fail(LOAA_ERR_USAGE, "%s: fold %d would be empty (%s%s); every fold 1..%d needs samples", what, empty + 1, list, more,
                         n_groups);
    return loaa_fail(LOAA_ERR_USAGE, "%s: split '%s' would be empty (%s); train, val and test each need samples", what,
                     split_names[empty], list);
}

loaa_status loaa_dsw_finish(loaa_dsw *w, const json_t *manifest)
{
    loaa_status st = LOAA_OK;
    for (int i = 0; i < w->n && !st; i++)
        st = close_shard(w, &w->g[i]);
    long *counts_of = calloc((size_t)w->n, sizeof *counts_of);
    if (!st && !counts_of)
        st = loaa_fail(LOAA_ERR_NOMEM, "dataset writer: out of memory");
    for (int i = 0; i < w->n && !st; i++)
        counts_of[i] = w->g[i].samples;
    if (!st && !w->folds) /* empty folds: refused by pack, a warning from synth (see loaa_synth) */
        st = loaa_dsw_check_groups(counts_of, w->n, 0, w->alias[2] != 2, w->dir);
    free(counts_of);
    json_t *root = json_deep_copy(manifest), *counts = json_object();
    if (!st && (!root || !counts))
        st = loaa_fail(LOAA_ERR_NOMEM, "dataset writer: out of memory");
    if (!st) {
        if (w->folds) {
            json_t *folds = json_array();
            for (int i = 0; i < w->n; i++) {
                json_array_append(folds, w->g[i].list);
                char gname[32];
                group_name(w, i, gname, sizeof gname);
                json_object_set_new(counts, gname, json_integer(w->g[i].samples));
            }
            json_object_set_new(root, "folds", folds);
        } else {
            json_t *splits = json_object();
            for (int i = 0; i < 3; i++) {
                json_object_set(splits, split_names[i], w->g[w->alias[i]].list);
                json_object_set_new(counts, split_names[i], json_integer(w->g[w->alias[i]].samples));
            }
            json_object_set_new(root, "splits", splits);
        }
        json_object_set(root, "counts", counts);
        char *text = json_dumps(root, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
        char path[4096];
        snprintf(path, sizeof path, "%s/dataset.json", w->dir);
        if (!text)
            st = loaa_fail(LOAA_ERR_NOMEM, "dataset writer: out of memory");
        else {
            size_t len = strlen(text);
            char *t2 = realloc(text, len + 2);
            if (t2) {
                text = t2;
                text[len] = '\n';
                text[len + 1] = '\0';
            }
            st = loaa_write_file_atomic(path, text);
        }
        free(text);
    }
    json_decref(root);
    json_decref(counts);
    free_writer(w);
    return st;
}

loaa_status loaa_dsw_probe_dataset(const json_t *manifest, const char *outdir, loaa_dataset **out)
{
    json_t *probe = json_deep_copy(manifest), *splits = json_object();
    if (!probe || !splits) {
        json_decref(probe);
        json_decref(splits);
        return loaa_fail(LOAA_ERR_NOMEM, "%s: out of memory", outdir);
    }
    json_object_set_new(splits, "train", json_array());
    json_object_set_new(splits, "val", json_array());
    json_object_set_new(splits, "test", json_array());
    json_object_set_new(probe, "splits", splits);
    char *text = json_dumps(probe, 0);
    json_decref(probe);
    loaa_status st = text ? loaa_dataset_parse(text, outdir, 0, out) : loaa_fail(LOAA_ERR_NOMEM, "%s: out of memory", outdir);
    free(text);
    return st;
}
