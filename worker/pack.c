/*
 * pack.c - the `loaa pack` recipes (see pack.h): each recipe turns its
 * release layout into a list of items (file, class, fold or split, cut),
 * and one writer decodes, checks, optionally resamples or computes fbank,
 * and shards them.
 */
#include "worker/pack.h"

#include <assert.h>
#include <dirent.h>
#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/dataset.h"
#include "common/dynbuf.h"
#include "common/fs.h"
#include "common/log.h"
#include "common/parse.h"
#include "common/rng.h"
#include "worker/audio.h"
#include "worker/csv.h"
#include "worker/features.h"
#include "worker/npy.h"

/* A file stored as it is (--keep-rate) larger than this is refused: a worker could not load it either. */
#define PACK_FILE_MAX (((size_t)1 << 31) - 1)

typedef struct item {
    char *path;   /* the audio file */
    char *key;
    char *where;  /* "file.csv:12" or the path, for messages */
    int label;
    int group;    /* fold index (0-based) or split (0 train, 1 val, 2 test) */
    long start, end;
} item;

typedef struct plan {
    item *items;
    int n;
    size_t cap;
    char **classes;
    int n_classes;
    int folds;        /* > 0: k-fold */
    int test_is_val;  /* epic-sounds without labelled test */
    const char *name;
    int target_length;
    double mean, std; /* the published statistics, when the recipe knows them */
} plan;

void loaa_pack_opts_default(loaa_pack_opts *o)
{
    memset(o, 0, sizeof *o);
    o->shard.samples_per_shard = 1000;
    o->resample = 16000;
}

static void plan_free(plan *p)
{
    for (int i = 0; i < p->n; i++) {
        free(p->items[i].path);
        free(p->items[i].key);
        free(p->items[i].where);
    }
    free(p->items);
    for (int i = 0; i < p->n_classes; i++)
        free(p->classes[i]);
    free(p->classes);
}

static char *fmt(const char *f, const char *a, const char *b)
{
    size_t n = strlen(f) + strlen(a) + (b ? strlen(b) : 0) + 1;
    char *s = malloc(n);
    if (s)
        snprintf(s, n, f, a, b ? b : "");
    return s;
}

/* A WebDataset key from a relative path: no extension, no dots, only [A-Za-z0-9_/-]. */
static char *make_key(const char *rel)
{
    char *k = strdup(rel);
    if (!k)
        return NULL;
    char *slash = strrchr(k, '/');
    char *dot = strrchr(slash ? slash : k, '.');
    if (dot && dot != k)
        *dot = '\0';
    for (char *c = k; *c; c++)
        if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') || *c == '_' || *c == '-' ||
              *c == '/'))
            *c = '_';
    while (k[0] == '/')
        memmove(k, k + 1, strlen(k));
    return k;
}

static loaa_status add_item(plan *p, char *path, char *key, char *where, int label, int group, long start, long end)
{
    if (!path || !key || !where) {
        free(path);
        free(key);
        free(where);
        return loaa_fail(LOAA_ERR_NOMEM, "pack: out of memory");
    }
    if (loaa_dyn_reserve_array((void **)&p->items, &p->cap, (size_t)p->n + 1, sizeof *p->items)) {
        free(path);
        free(key);
        free(where);
        return loaa_fail(LOAA_ERR_NOMEM, "pack: out of memory");
    }
    p->items[p->n++] = (item){path, key, where, label, group, start, end};
    return LOAA_OK;
}

static loaa_status class_set(plan *p, int index, const char *name)
{
    if (index < 0 || index > 100000)
        return loaa_fail(LOAA_ERR_PARSE, "class index %d out of range", index);
    if (index >= p->n_classes) {
        char **nc = realloc(p->classes, (size_t)(index + 1) * sizeof(char *));
        if (!nc)
            return loaa_fail(LOAA_ERR_NOMEM, "pack: out of memory");
        p->classes = nc;
        for (int i = p->n_classes; i <= index; i++)
            p->classes[i] = NULL;
        p->n_classes = index + 1;
    }
    if (p->classes[index] && strcmp(p->classes[index], name))
        return loaa_fail(LOAA_ERR_PARSE, "class %d is named both '%s' and '%s'", index, p->classes[index], name);
    if (!p->classes[index] && !(p->classes[index] = strdup(name)))
        return loaa_fail(LOAA_ERR_NOMEM, "pack: out of memory");
    return LOAA_OK;
}

/* --- esc50 --- */

static loaa_status recipe_esc50(plan *p, const char *src)
{
    char *meta = fmt("%s/meta/esc50.csv", src, NULL);
    loaa_csv *c;
    loaa_status st = meta ? loaa_csv_open(meta, &c) : LOAA_ERR_NOMEM;
    free(meta);
    if (st)
        return st;
    char **f;
    int n, cf, cfold, ct, ccat;
    if ((st = loaa_csv_next(c, &f, &n)))
        goto out;
    cf = loaa_csv_column(f, n, "filename");
    cfold = loaa_csv_column(f, n, "fold");
    ct = loaa_csv_column(f, n, "target");
    ccat = loaa_csv_column(f, n, "category");
    if (cf < 0 || cfold < 0 || ct < 0 || ccat < 0) {
        st = loaa_fail(LOAA_ERR_PARSE, "%s:1: header needs filename, fold, target, category", loaa_csv_path(c));
        goto out;
    }
    p->folds = 5;
    p->name = "esc50";
    p->target_length = 512;
    p->mean = -6.6268077;
    p->std = 5.358466;
    while (!(st = loaa_csv_next(c, &f, &n)) && n > 0) {
        long fold, target;
        char where[1100];
        snprintf(where, sizeof where, "%s:%d", loaa_csv_path(c), loaa_csv_line(c));
        if (n <= cf || n <= cfold || n <= ct || n <= ccat || loaa_parse_long(f[cfold], 1, 5, &fold) ||
            loaa_parse_long(f[ct], 0, LONG_MAX, &target)) {
            st = loaa_fail(LOAA_ERR_PARSE, "%s: need filename, fold 1..5, target >= 0", where);
            break;
        }
        if ((st = class_set(p, (int)target, f[ccat]))) {
            st = loaa_fail_prefix(st, "%s: ", where);
            break;
        }
        if ((st = add_item(p, fmt("%s/audio/%s", src, f[cf]), make_key(f[cf]), strdup(where), (int)target, (int)fold - 1, -1,
                           -1)))
            break;
    }
out:
    loaa_csv_close(c);
    return st;
}

/* --- spc2 --- */

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

typedef struct strlist {
    char **s;
    int n;
    size_t cap;
} strlist;

static int strlist_add(strlist *l, const char *s)
{
    if (loaa_dyn_reserve_array((void **)&l->s, &l->cap, (size_t)l->n + 1, sizeof *l->s))
        return 0;
    return (l->s[l->n] = strdup(s)) ? (l->n++, 1) : 0;
}

static void strlist_free(strlist *l)
{
    for (int i = 0; i < l->n; i++)
        free(l->s[i]);
    free(l->s);
}

static loaa_status read_list(const char *path, strlist *l)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return loaa_fail(errno == ENOENT ? LOAA_ERR_NOTFOUND : LOAA_ERR_IO, "%s: %s", path, strerror(errno));
    char line[4096];
    while (fgets(line, sizeof line, f)) {
        size_t len = strlen(line);
        while (len && (line[len - 1] == '\n' || line[len - 1] == '\r' || line[len - 1] == ' '))
            line[--len] = '\0';
        if (len && !strlist_add(l, line)) {
            fclose(f);
            return loaa_fail(LOAA_ERR_NOMEM, "pack: out of memory");
        }
    }
    fclose(f);
    qsort(l->s, l->n, sizeof(char *), cmp_str);
    return LOAA_OK;
}

static int in_list(const strlist *l, const char *s)
{
    return bsearch(&s, l->s, l->n, sizeof(char *), cmp_str) != NULL;
}

static loaa_status list_dir(const char *dir, int want_dirs, strlist *out)
{
    DIR *d = opendir(dir);
    if (!d)
        return loaa_fail(errno == ENOENT ? LOAA_ERR_NOTFOUND : LOAA_ERR_IO, "%s: %s", dir, strerror(errno));
    struct dirent *e;
    loaa_status st = LOAA_OK;
    while ((e = readdir(d)) && !st) {
        if (e->d_name[0] == '.' || e->d_name[0] == '_')
            continue;
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        struct stat sb;
        if (stat(path, &sb) != 0)
            continue;
        size_t len = strlen(e->d_name);
        int wav = len > 4 && !strcasecmp(e->d_name + len - 4, ".wav");
        if ((want_dirs && S_ISDIR(sb.st_mode)) || (!want_dirs && S_ISREG(sb.st_mode) && wav))
            if (!strlist_add(out, e->d_name))
                st = loaa_fail(LOAA_ERR_NOMEM, "pack: out of memory");
    }
    closedir(d);
    qsort(out->s, out->n, sizeof(char *), cmp_str);
    return st;
}

static loaa_status recipe_spc2(plan *p, const char *src)
{
    strlist val = {0}, test = {0}, words = {0};
    char path[4096];
    snprintf(path, sizeof path, "%s/validation_list.txt", src);
    loaa_status st = read_list(path, &val);
    snprintf(path, sizeof path, "%s/testing_list.txt", src);
    if (!st)
        st = read_list(path, &test);
    if (!st)
        st = list_dir(src, 1, &words); /* skips _background_noise_ and hidden folders */
    if (!st && words.n == 0)
        st = loaa_fail(LOAA_ERR_NOTFOUND, "%s: no word folders", src);
    p->name = "speechcommands-v2";
    p->target_length = 128;
    p->mean = -6.845978;
    p->std = 5.5654526;
    for (int w = 0; w < words.n && !st; w++) {
        if ((st = class_set(p, w, words.s[w])))
            break;
        strlist files = {0};
        snprintf(path, sizeof path, "%s/%s", src, words.s[w]);
        st = list_dir(path, 0, &files);
        for (int i = 0; i < files.n && !st; i++) {
            char rel[4096];
            snprintf(rel, sizeof rel, "%s/%s", words.s[w], files.s[i]);
            int group = in_list(&test, rel) ? 2 : in_list(&val, rel) ? 1 : 0;
            st = add_item(p, fmt("%s/%s", src, rel), make_key(rel), fmt("%s/%s", src, rel), w, group, -1, -1);
        }
        strlist_free(&files);
    }
    strlist_free(&val);
    strlist_free(&test);
    strlist_free(&words);
    return st;
}

/* --- epic-sounds --- */

static int file_exists(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0 && S_ISREG(sb.st_mode);
}

static loaa_status epic_csv(plan *p, const char *csv, const char *audio, int group)
{
    loaa_csv *c;
    loaa_status st = loaa_csv_open(csv, &c);
    if (st)
        return st;
    char **f;
    int n;
    if ((st = loaa_csv_next(c, &f, &n))) {
        loaa_csv_close(c);
        return st;
    }
    int cid = loaa_csv_column(f, n, "annotation_id"), cpart = loaa_csv_column(f, n, "participant_id"),
        cvid = loaa_csv_column(f, n, "video_id"), cs = loaa_csv_column(f, n, "start_sample"),
        ce = loaa_csv_column(f, n, "stop_sample"), ccls = loaa_csv_column(f, n, "class"), ccid = loaa_csv_column(f, n, "class_id");
    if (cid < 0 || cvid < 0 || cs < 0 || ce < 0 || ccls < 0 || ccid < 0) {
        loaa_csv_close(c);
        return loaa_fail(LOAA_ERR_PARSE, "%s:1: header needs annotation_id, video_id, start_sample, stop_sample, class, class_id",
                         csv);
    }
    int maxc = cid;
    int cols[] = {cvid, cs, ce, ccls, ccid, cpart};
    for (int i = 0; i < 6; i++)
        maxc = cols[i] > maxc ? cols[i] : maxc;
    while (!(st = loaa_csv_next(c, &f, &n)) && n > 0) {
        char where[1100];
        snprintf(where, sizeof where, "%s:%d", csv, loaa_csv_line(c));
        long s, e, k;
        if (n <= maxc || loaa_parse_long(f[cs], 0, LONG_MAX, &s) || loaa_parse_long(f[ce], 0, LONG_MAX, &e) ||
            loaa_parse_long(f[ccid], 0, LONG_MAX, &k) || e <= s) {
            st = loaa_fail(LOAA_ERR_PARSE, "%s: need start_sample < stop_sample and class_id >= 0", where);
            break;
        }
        if ((st = class_set(p, (int)k, f[ccls]))) {
            st = loaa_fail_prefix(st, "%s: ", where);
            break;
        }
        char rel[1024];
        snprintf(rel, sizeof rel, "%s.wav", f[cvid]);
        char *path = fmt("%s/%s", audio, rel);
        if (path && !file_exists(path) && cpart >= 0) {
            free(path);
            snprintf(rel, sizeof rel, "%s/%s.wav", f[cpart], f[cvid]);
            path = fmt("%s/%s", audio, rel);
        }
        char *key = make_key(f[cid]);
        if ((st = add_item(p, path, key, strdup(where), (int)k, group, s, e)))
            break;
    }
    loaa_csv_close(c);
    return st;
}

static loaa_status recipe_epic(plan *p, const char *src, const loaa_pack_opts *o)
{
    char train[4096], val[4096], test[4096], audio[4096];
    snprintf(train, sizeof train, "%s/EPIC_Sounds_train.csv", src);
    snprintf(val, sizeof val, "%s/EPIC_Sounds_validation.csv", src);
    snprintf(test, sizeof test, "%s/EPIC_Sounds_test.csv", src);
    snprintf(audio, sizeof audio, "%s/audio", src);
    struct stat sb;
    if (o->audio_dir)
        snprintf(audio, sizeof audio, "%s", o->audio_dir);
    else if (stat(audio, &sb) != 0 || !S_ISDIR(sb.st_mode))
        snprintf(audio, sizeof audio, "%s", src);
    p->name = "epic-sounds";
    p->target_length = 1024;
    p->mean = -4.2677393; /* AudioSet's: EPIC-SOUNDS has no published AST statistics; use --stats */
    p->std = 4.5689974;
    loaa_status st = epic_csv(p, train, audio, 0);
    if (!st)
        st = epic_csv(p, val, audio, 1);
    if (!st && file_exists(test))
        st = epic_csv(p, test, audio, 2);
    else
        p->test_is_val = 1;
    return st;
}

/* --- csv --- */

static uint64_t fnv(const char *s)
{
    uint64_t h = 0xcbf29ce484222325ULL;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 0x100000001b3ULL;
    return h;
}

/* The columns of a csv manifest's header (-1: absent); need: the highest one used. */
typedef struct csv_cols {
    int path, label, split, fold, start, end;
    int need;
} csv_cols;

/* The folder a manifest's relative paths are relative to: the manifest's own ("." when it has none). */
static void manifest_dir(const char *manifest, char *base, size_t cap)
{
    snprintf(base, cap, "%s", manifest);
    char *slash = strrchr(base, '/');
    if (slash)
        *slash = '\0';
    else
        snprintf(base, cap, ".");
}

/* Reads the header row. Errors: LOAA_ERR_PARSE naming the manifest (empty, path or label missing, split and fold both). */
static loaa_status csv_header(loaa_csv *c, const char *manifest, csv_cols *k)
{
    char **f;
    int n;
    loaa_status st = loaa_csv_next(c, &f, &n);
    if (st || n == 0)
        return st ? st : loaa_fail(LOAA_ERR_PARSE, "%s: empty", manifest);
    *k = (csv_cols){loaa_csv_column(f, n, "path"),  loaa_csv_column(f, n, "label"), loaa_csv_column(f, n, "split"),
                    loaa_csv_column(f, n, "fold"),  loaa_csv_column(f, n, "start"), loaa_csv_column(f, n, "end"), 0};
    if (k->path < 0 || k->label < 0)
        return loaa_fail(LOAA_ERR_PARSE, "%s:1: header needs path,label[,split][,fold][,start,end]", manifest);
    if (k->split >= 0 && k->fold >= 0)
        return loaa_fail(LOAA_ERR_PARSE, "%s:1: give a split column or a fold column, not both", manifest);
    int cols[] = {k->path, k->label, k->split, k->fold, k->start, k->end};
    for (size_t i = 0; i < sizeof cols / sizeof cols[0]; i++)
        k->need = cols[i] > k->need ? cols[i] : k->need;
    return LOAA_OK;
}

/*
 * The group of one row: its split (0 train, 1 val, 2 test), its fold - 1
 * (*maxfold raised to it), or, with neither column, 80/10/10 by a hash of
 * the path. Errors: LOAA_ERR_PARSE naming where.
 */
static loaa_status csv_group(const csv_cols *k, char **f, const char *where, int *group, int *maxfold)
{
    if (k->split >= 0) {
        const char *sp = f[k->split];
        *group = !strcmp(sp, "train") ? 0 : !strcmp(sp, "val") || !strcmp(sp, "valid") || !strcmp(sp, "validation") ? 1
                 : !strcmp(sp, "test") ? 2 : -1;
        if (*group < 0)
            return loaa_fail(LOAA_ERR_PARSE, "%s: split '%s' is not train, val or test", where, sp);
    } else if (k->fold >= 0) {
        long v;
        if (loaa_parse_long(f[k->fold], 1, 100, &v))
            return loaa_fail(LOAA_ERR_PARSE, "%s: fold '%s' is not 1..100", where, f[k->fold]);
        *group = (int)v - 1;
        *maxfold = v > *maxfold ? (int)v : *maxfold;
    } else {
        uint64_t h = fnv(f[k->path]) % 10;
        *group = h < 8 ? 0 : h == 8 ? 1 : 2;
    }
    return LOAA_OK;
}

/* The row's cut [*s, *e) in samples (-1: none). Errors: LOAA_ERR_PARSE naming where. */
static loaa_status csv_cut(const csv_cols *k, char **f, const char *where, long *s, long *e)
{
    *s = *e = -1;
    if (k->start >= 0 && f[k->start][0] && loaa_parse_long(f[k->start], 0, LONG_MAX, s))
        return loaa_fail(LOAA_ERR_PARSE, "%s: start '%s' is not a sample offset", where, f[k->start]);
    if (k->end >= 0 && f[k->end][0] && (loaa_parse_long(f[k->end], LONG_MIN, LONG_MAX, e) || *e <= (*s > 0 ? *s : 0)))
        return loaa_fail(LOAA_ERR_PARSE, "%s: end '%s' is not a sample offset after start", where, f[k->end]);
    return LOAA_OK;
}

/* The index of name in labels, added at the end when new; -1 out of memory. */
static int label_index(strlist *labels, const char *name)
{
    for (int i = 0; i < labels->n; i++)
        if (!strcmp(labels->s[i], name))
            return i;
    return strlist_add(labels, name) ? labels->n - 1 : -1;
}

/* One data row as an item; its label is held as an index into labels until the class order is known. */
static loaa_status csv_row(plan *p, const csv_cols *k, char **f, int n, const char *where, const char *base, strlist *labels,
                           int *maxfold)
{
    if (n <= k->need)
        return loaa_fail(LOAA_ERR_PARSE, "%s: %d fields, the header has %d", where, n, k->need + 1);
    if (!f[k->path][0] || !f[k->label][0])
        return loaa_fail(LOAA_ERR_PARSE, "%s: empty path or label", where);
    int group = 0;
    long s, e;
    loaa_status st;
    if ((st = csv_group(k, f, where, &group, maxfold)) || (st = csv_cut(k, f, where, &s, &e)))
        return st;
    int label = label_index(labels, f[k->label]);
    if (label < 0)
        return loaa_fail(LOAA_ERR_NOMEM, "pack: out of memory");
    char *path = f[k->path][0] == '/' ? strdup(f[k->path]) : fmt("%s/%s", base, f[k->path]);
    char key[64];
    snprintf(key, sizeof key, "%08d", p->n);
    return add_item(p, path, strdup(key), strdup(where), label, group, s, e);
}

/* 1 when a sorts after b: numbers by value when every label is a number, else names alphabetically. */
static int label_after(const char *a, const char *b, int numeric)
{
    long x = 0, y = 0;
    if (!numeric)
        return strcmp(a, b) > 0;
    loaa_parse_long(a, LONG_MIN, LONG_MAX, &x);
    loaa_parse_long(b, LONG_MIN, LONG_MAX, &y);
    return x > y;
}

/* Names the classes in label order (numeric labels by value, names alphabetically) and renumbers the items to match. */
static loaa_status order_classes(plan *p, const strlist *labels)
{
    int numeric = 1;
    long v;
    for (int i = 0; i < labels->n; i++)
        numeric &= loaa_parse_long(labels->s[i], LONG_MIN, LONG_MAX, &v) == LOAA_OK;
    int *order = malloc(sizeof(int) * labels->n), *rank = malloc(sizeof(int) * labels->n);
    if (labels->n && (!order || !rank)) {
        free(order);
        free(rank);
        return loaa_fail(LOAA_ERR_NOMEM, "pack: out of memory");
    }
    for (int i = 0; i < labels->n; i++)
        order[i] = i;
    for (int i = 1; i < labels->n; i++) /* insertion sort: stable, and label lists are short */
        for (int j = i; j > 0 && label_after(labels->s[order[j - 1]], labels->s[order[j]], numeric); j--) {
            int t = order[j];
            order[j] = order[j - 1];
            order[j - 1] = t;
        }
    loaa_status st = LOAA_OK;
    for (int i = 0; i < labels->n && !st; i++) {
        rank[order[i]] = i;
        st = class_set(p, i, labels->s[order[i]]);
    }
    for (int i = 0; i < p->n && !st; i++)
        p->items[i].label = rank[p->items[i].label];
    free(order);
    free(rank);
    return st;
}

static loaa_status recipe_csv(plan *p, const char *manifest)
{
    loaa_csv *c;
    loaa_status st = loaa_csv_open(manifest, &c);
    if (st)
        return st;
    char base[4096];
    manifest_dir(manifest, base, sizeof base);
    csv_cols k = {-1, -1, -1, -1, -1, -1, 0}; /* set by csv_header */
    if ((st = csv_header(c, manifest, &k))) {
        loaa_csv_close(c);
        return st;
    }
    strlist labels = {0};
    int maxfold = 0;
    char **f;
    int n;
    while (!(st = loaa_csv_next(c, &f, &n)) && n > 0) {
        char where[1100];
        snprintf(where, sizeof where, "%s:%d", manifest, loaa_csv_line(c));
        if ((st = csv_row(p, &k, f, n, where, base, &labels, &maxfold)))
            break;
    }
    loaa_csv_close(c);
    if (!st && p->n == 0)
        st = loaa_fail(LOAA_ERR_PARSE, "%s: no rows", manifest);
    if (!st && k.fold >= 0 && maxfold < 3)
        st = loaa_fail(LOAA_ERR_PARSE, "%s: a k-fold manifest needs folds 1..K with K >= 3", manifest);
    if (!st)
        st = order_classes(p, &labels);
    strlist_free(&labels);
    p->folds = k.fold >= 0 ? maxfold : 0;
    p->name = "csv";
    p->target_length = 1024;
    p->mean = -4.2677393;
    p->std = 4.5689974;
    return st;
}

/* --- the writer --- */

static const char *audio_ext(const char *path)
{
    size_t n = strlen(path);
    if (n > 5 && !strcasecmp(path + n - 5, ".flac"))
        return "flac";
    if (n > 4 && !strcasecmp(path + n - 4, ".ogg"))
        return "ogg";
    return "wav";
}

/* Refuses a plan with an empty fold or split before dataset.json is written (issue 18 #4; loaa_dsw_check_groups). */
static loaa_status check_plan_groups(const plan *p, const char *recipe, const char *outdir)
{
    long counts[100] = {0};
    int groups = p->folds > 0 ? p->folds : 3;
    assert(groups <= 100);
    for (int i = 0; i < p->n; i++) {
        assert(p->items[i].group >= 0 && p->items[i].group < groups);
        counts[p->items[i].group]++;
    }
    char what[600];
    snprintf(what, sizeof what, "loaa pack %s into %.500s", recipe, outdir);
    return loaa_dsw_check_groups(counts, groups, p->folds, p->test_is_val, what);
}

/* Fills p from the recipe's layout under source and checks it: every class named, at least one sample. */
static loaa_status make_plan(plan *p, const char *recipe, const char *source, const loaa_pack_opts *o)
{
    loaa_status st;
    if (!strcmp(recipe, "esc50"))
        st = recipe_esc50(p, source);
    else if (!strcmp(recipe, "spc2"))
        st = recipe_spc2(p, source);
    else if (!strcmp(recipe, "epic-sounds"))
        st = recipe_epic(p, source, o);
    else if (!strcmp(recipe, "csv"))
        st = recipe_csv(p, source);
    else
        st = loaa_fail(LOAA_ERR_USAGE, "unknown recipe '%s' (esc50, spc2, epic-sounds, csv)", recipe);
    for (int i = 0; i < p->n_classes && !st; i++)
        if (!p->classes[i])
            st = loaa_fail(LOAA_ERR_PARSE, "%s: class index %d is never named (class ids must be 0..%d without gaps)", source, i,
                           p->n_classes - 1);
    if (!st && p->n == 0)
        st = loaa_fail(LOAA_ERR_NOTFOUND, "%s: no samples found", source);
    return st;
}

/*
 * Release layouts list files by class (SPC-2 by word folder): shards written in that
 * order would each hold one or two classes, more than a shuffle buffer can mix. So the
 * items are shuffled once, with a fixed seed: the same input always packs the same.
 */
static void shuffle_items(plan *p)
{
    loaa_rng order;
    loaa_rng_seed(&order, 0x10aa);
    for (int i = p->n - 1; i > 0; i--) {
        int k = (int)loaa_rng_below(&order, (uint64_t)i + 1);
        item t = p->items[i];
        p->items[i] = p->items[k];
        p->items[k] = t;
    }
}

/* dataset.json as far as it is known before the data is read (mean and std come last). NULL out of memory. */
static json_t *manifest_head(const plan *p, const char *recipe, const loaa_pack_opts *o, int rate)
{
    json_t *m = json_object(), *classes = json_array(), *fb = json_object();
    if (!m || !classes || !fb) {
        json_decref(m);
        json_decref(classes);
        json_decref(fb);
        return NULL;
    }
    for (int i = 0; i < p->n_classes; i++)
        json_array_append_new(classes, json_string(p->classes[i]));
    json_object_set_new(m, "format", json_string("loaa-dataset"));
    json_object_set_new(m, "version", json_integer(1));
    json_object_set_new(m, "name", json_string(o->name ? o->name : p->name));
    json_object_set_new(m, "classes", classes);
    json_object_set_new(m, "multilabel", json_false());
    json_object_set_new(m, "kind", json_string("audio"));
    json_object_set_new(m, "sample_rate", json_integer(rate));
    json_object_set_new(fb, "num_mel_bins", json_integer(o->mel > 0 ? o->mel : 128));
    json_object_set_new(m, "fbank", fb);
    json_object_set_new(m, "target_length", json_integer(o->target_length > 0 ? o->target_length : p->target_length));
    if (o->features_fbank)
        json_object_set_new(m, "features", json_string("fbank"));
    char src[512];
    snprintf(src, sizeof src, "loaa pack %s", recipe);
    json_object_set_new(m, "source", json_string(src));
    return m;
}

/* What the writer carries from item to item. */
typedef struct pack_run {
    const loaa_pack_opts *o;
    int rate;                /* the dataset's sample rate */
    int folds;               /* plan's folds (> 0: every fold is training data for --stats) */
    loaa_featurizer *feat;
    loaa_dsw *w;
    double sum, sum2, count; /* --stats over the training items' raw features */
} pack_run;

/* Adds raw (frames x rows) to the --stats sums. */
static void add_stats(pack_run *r, const float *raw, int frames)
{
    size_t cnt = (size_t)frames * loaa_featurizer_rows(r->feat);
    for (size_t j = 0; j < cnt; j++) {
        r->sum += raw[j];
        r->sum2 += (double)raw[j] * raw[j];
    }
    r->count += (double)cnt;
}

/*
 * The bytes stored for one decoded item (wave: n samples at src_rate; raw:
 * its features, for --features fbank): the features as .npy, the wave
 * resampled to the dataset rate, the cut re-encoded, or the file as it is.
 * *data (caller frees), *size, *ext.
 */
static loaa_status item_bytes(const pack_run *r, const item *it, const float *wave, size_t n, int src_rate, const float *raw,
                              int frames, void **data, size_t *size, const char **ext)
{
    *ext = "wav";
    if (r->o->features_fbank) {
        *ext = "npy";
        return loaa_npy_encode(raw, frames, loaa_featurizer_rows(r->feat), data, size);
    }
    if (!r->o->keep_rate && src_rate != r->rate) {
        float *rs;
        size_t m;
        loaa_status st = loaa_audio_resample(wave, n, src_rate, r->rate, &rs, &m);
        if (!st) {
            st = loaa_audio_encode_wav(rs, m, r->rate, 0, data, size);
            free(rs);
        }
        return st;
    }
    if (it->start >= 0 || it->end >= 0)
        return loaa_audio_encode_wav(wave, n, src_rate, 0, data, size);
    char *bytes;
    loaa_status st = loaa_fs_read_file(it->path, PACK_FILE_MAX, "2 GiB", &bytes, size);
    *data = bytes;
    *ext = audio_ext(it->path);
    return st;
}

/* Decodes one item, checks it, counts it for --stats and adds it to its group's shards. Errors name the item. */
static loaa_status pack_item(pack_run *r, const item *it)
{
    float *wave = NULL;
    size_t n = 0;
    int src_rate = 0;
    loaa_status st = loaa_audio_read_segment(it->path, it->start, it->end, &wave, &n, &src_rate);
    if (st)
        return loaa_fail_prefix(st, "%s: ", it->where);
    int train = r->folds > 0 || it->group == 0;
    float *raw = NULL;
    int frames = 0;
    if (r->o->features_fbank || (r->o->stats && train)) {
        if ((st = loaa_featurizer_raw_wave(r->feat, wave, n, src_rate, it->path, &raw, &frames))) {
            free(wave);
            return st;
        }
        if (r->o->stats && train)
            add_stats(r, raw, frames);
    }
    void *data = NULL;
    size_t size = 0;
    const char *ext;
    st = item_bytes(r, it, wave, n, src_rate, raw, frames, &data, &size, &ext);
    free(raw);
    free(wave);
    if (!st) {
        char cls[16];
        snprintf(cls, sizeof cls, "%d", it->label);
        st = loaa_dsw_add(r->w, it->group, it->key, ext, data, size, cls, NULL);
    }
    free(data);
    return st;
}

/* Puts mean and std into m: measured (--stats) or the recipe's published ones. Errors: LOAA_ERR_CONFIG for an empty training split. */
static loaa_status set_stats(const pack_run *r, const plan *p, json_t *m)
{
    double mean = p->mean, sd = p->std;
    if (r->o->stats) {
        if (r->count <= 0)
            return loaa_fail(LOAA_ERR_CONFIG, "--stats: the training split is empty");
        mean = r->sum / r->count;
        double var = r->sum2 / r->count - mean * mean;
        sd = var > 0 ? sqrt(var) : 1;
    }
    json_object_set_new(m, "mean", json_real(mean));
    json_object_set_new(m, "std", json_real(sd));
    return LOAA_OK;
}

/* Writes p's items as a dataset under outdir, m its dataset.json (mean and std still to come). */
static loaa_status write_plan(plan *p, const char *recipe, const char *outdir, const loaa_pack_opts *o, int rate, json_t *m)
{
    pack_run r = {.o = o, .rate = rate, .folds = p->folds};
    loaa_dataset *ds = NULL;
    loaa_status st = loaa_dsw_probe_dataset(m, outdir, &ds);
    if (!st)
        st = loaa_featurizer_create(ds, 0, &r.feat);
    int groups = p->folds > 0 ? p->folds : 3;
    if (!st)
        st = loaa_dsw_open(outdir, groups, p->folds > 0, &o->shard, &r.w);
    if (!st && p->test_is_val)
        loaa_dsw_alias(r.w, 2, 1);
    for (int i = 0; i < p->n && !st; i++) {
        st = pack_item(&r, &p->items[i]);
        if (!st && ((i + 1) % 1000 == 0 || i + 1 == p->n))
            loaa_info("pack %s: %d of %d files", recipe, i + 1, p->n);
    }
    if (!st) /* after the files: a missing or unreadable one is the error to report first */
        st = check_plan_groups(p, recipe, outdir);
    if (!st)
        st = set_stats(&r, p, m);
    if (!st) {
        st = loaa_dsw_finish(r.w, m);
        r.w = NULL;
    }
    loaa_dsw_abort(r.w);
    loaa_featurizer_free(r.feat);
    loaa_dataset_free(ds);
    return st;
}

loaa_status loaa_pack(const char *recipe, const char *source, const char *outdir, const loaa_pack_opts *o)
{
    assert(recipe && source && outdir && o);
    plan p;
    memset(&p, 0, sizeof p);
    loaa_status st = make_plan(&p, recipe, source, o);
    if (st) {
        plan_free(&p);
        return st;
    }
    shuffle_items(&p);
    /* resampled once here rather than every epoch in every worker (AST's recipes `sox -r 16000` too) */
    int rate = o->resample > 0 ? o->resample : 16000;
    json_t *m = manifest_head(&p, recipe, o, rate);
    st = m ? write_plan(&p, recipe, outdir, o, rate, m) : loaa_fail(LOAA_ERR_NOMEM, "pack: out of memory");
    json_decref(m);
    plan_free(&p);
    return st;
}
