/*
 * test_worker_data.c - the data pipeline end to end without Python: the
 * dataset.json reader, tar shard streaming (plain, gz, zst), the loader's
 * determinism, rank slices and augmentations, synthetic datasets, and every
 * kind of bad input giving an error that names the shard and key.
 */
#include <archive.h>
#include <archive_entry.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/config.h"
#include "common/dataset.h"
#include "plant.h"
#include "tap.h"
#include "worker/audio.h"
#include <sndfile.h>
#include "worker/dswrite.h"
#include "worker/features.h"
#include "worker/loader.h"
#include "worker/npy.h"
#include "worker/shard.h"
#include "worker/synth.h"

static char tmpdir[512];

static void write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    if (f) {
        fputs(text, f);
        fclose(f);
    }
}

static void tone_wav(void **data, size_t *size, int rate, double seconds, double f)
{
    int n = (int)(rate * seconds);
    float *x = malloc((size_t)(n ? n : 1) * sizeof(float));
    for (int i = 0; i < n; i++)
        x[i] = (float)(0.3 * sin(2 * M_PI * f * i / rate));
    loaa_audio_encode_wav(x, (size_t)n, rate, 0, data, size);
    free(x);
}

/* A dataset folder DIR with classes a,b,c, 16 kHz, 32 mel, T 40, and one split list per argument. */
static void write_manifest(const char *dir, const char *train, const char *val, const char *test)
{
    char path[1100], text[2048];
    snprintf(path, sizeof path, "%s/dataset.json", dir);
    snprintf(text, sizeof text,
             "{\"format\": \"loaa-dataset\", \"version\": 1, \"name\": \"t\", \"classes\": [\"a\", \"b\", \"c\"],\n"
             " \"sample_rate\": 16000, \"fbank\": {\"num_mel_bins\": 32}, \"target_length\": 40,\n"
             " \"mean\": -5, \"std\": 4,\n \"splits\": {\"train\": [%s], \"val\": [%s], \"test\": [%s]}}\n",
             train, val, test);
    write_text(path, text);
}

static loaa_status open_err(const char *json, char *detail, size_t n)
{
    char dir[1024];
    snprintf(dir, sizeof dir, "%s/m", tmpdir);
    mkdir(dir, 0755);
    char path[1100];
    snprintf(path, sizeof path, "%s/dataset.json", dir);
    write_text(path, json);
    loaa_dataset *ds;
    loaa_status st = loaa_dataset_open(dir, &ds);
    snprintf(detail, n, "%s", loaa_error_detail());
    loaa_dataset_free(ds);
    return st;
}

static void test_manifest(void)
{
    char d[1024];
    loaa_status st = open_err("{\"name\": \"x\",\n \"classes\": [\"a\"] \"splits\": 1}", d, sizeof d);
    TAP_OK(st == LOAA_ERR_PARSE && strstr(d, "dataset.json: line 2"), "JSON syntax error names file and line: %s", d);
    st = open_err("{\"name\": \"x\", \"classes\": [\"a\"], \"splits\": {\"train\": [\"nope.tar\"], \"val\": [], \"test\": []}}", d,
                  sizeof d);
    TAP_OK(st == LOAA_ERR_NOTFOUND && strstr(d, "nope.tar") && strstr(d, "splits.train"), "missing shard named: %s", d);
    st = open_err("{\"name\": \"x\", \"classes\": [\"a\"], \"fbank\": {\"num_mel\": 3}, \"splits\": {\"train\": [], \"val\": [], \"test\": []}}",
                  d, sizeof d);
    TAP_OK(st == LOAA_ERR_CONFIG && strstr(d, "fbank.num_mel"), "unknown fbank key refused: %s", d);
    st = open_err("{\"name\": \"x\", \"classes\": [\"a\"], \"splits\": {\"train\": [\"../x.tar\"], \"val\": [], \"test\": []}}", d,
                  sizeof d);
    TAP_OK(st == LOAA_ERR_CONFIG && strstr(d, "../x.tar"), "shard path leaving the folder refused: %s", d);
    st = open_err("{\"name\": \"x\", \"classes\": [\"a\", \"a\"], \"splits\": {\"train\": [], \"val\": [], \"test\": []}}", d, sizeof d);
    TAP_OK(st == LOAA_ERR_CONFIG && strstr(d, "twice"), "duplicate class refused: %s", d);

    /* folds: f is test, f+1 val, the rest train; folds count from 1 */
    char dir[1024];
    snprintf(dir, sizeof dir, "%s/m", tmpdir);
    for (int i = 1; i <= 4; i++) {
        char p[1100];
        snprintf(p, sizeof p, "%s/f%d.tar", dir, i);
        write_text(p, "");
    }
    char path[1100];
    snprintf(path, sizeof path, "%s/dataset.json", dir);
    write_text(path, "{\"name\": \"k\", \"classes\": [\"a\"], \"folds\": [[\"f1.tar\"], [\"f2.tar\"], [\"f3.tar\"], [\"f4.tar\"]]}");
    loaa_dataset *ds;
    st = loaa_dataset_open(dir, &ds);
    TAP_OK(st == LOAA_OK && loaa_dataset_num_folds(ds) == 4 && loaa_dataset_num_mel(ds) == 128, "k-fold manifest opens, AST defaults");
    if (st)
        return;
    const char *const *p;
    int n;
    st = loaa_dataset_shards(ds, LOAA_SPLIT_TEST, 4, &p, &n);
    TAP_OK(!st && n == 1 && strstr(p[0], "f4.tar"), "fold 4 is test");
    st = loaa_dataset_shards(ds, LOAA_SPLIT_VAL, 4, &p, &n);
    TAP_OK(!st && n == 1 && strstr(p[0], "f1.tar"), "fold 4: validation wraps to fold 1");
    st = loaa_dataset_shards(ds, LOAA_SPLIT_TRAIN, 4, &p, &n);
    TAP_OK(!st && n == 2 && strstr(p[0], "f2.tar") && strstr(p[1], "f3.tar"), "fold 4: train is folds 2 and 3");
    st = loaa_dataset_shards(ds, LOAA_SPLIT_TRAIN, -1, &p, &n);
    TAP_OK(st == LOAA_ERR_CONFIG && strstr(loaa_error_detail(), "fold"), "no fold for a k-fold dataset: %s", loaa_error_detail());
    st = loaa_dataset_shards(ds, LOAA_SPLIT_TRAIN, 5, &p, &n);
    TAP_OK(st == LOAA_ERR_CONFIG, "fold 5 of 4 refused");
    TAP_OK(loaa_dataset_split_samples(ds, LOAA_SPLIT_TRAIN, 4) == -1, "no counts in the manifest: -1");
    loaa_dataset_free(ds);

    /* the manifest's counts, split by the same fold rule */
    write_text(path, "{\"name\": \"k\", \"classes\": [\"a\"], \"folds\": [[\"f1.tar\"], [\"f2.tar\"], [\"f3.tar\"], [\"f4.tar\"]],"
                     " \"counts\": {\"fold1\": 10, \"fold2\": 20, \"fold3\": 30}}");
    st = loaa_dataset_open(dir, &ds);
    TAP_OK(!st && loaa_dataset_split_samples(ds, LOAA_SPLIT_TRAIN, 4) == 50 && loaa_dataset_split_samples(ds, LOAA_SPLIT_VAL, 4) == 10 &&
               loaa_dataset_split_samples(ds, LOAA_SPLIT_TEST, 3) == 30,
           "counts per split: fold 4's train is folds 2 and 3, its validation fold 1");
    TAP_OK(!st && loaa_dataset_split_samples(ds, LOAA_SPLIT_TRAIN, 1) == -1 && loaa_dataset_split_samples(ds, LOAA_SPLIT_TRAIN, 0) == -1 &&
               loaa_dataset_split_samples(ds, LOAA_SPLIT_TRAIN, 5) == -1,
           "a split with an uncounted fold, or a fold outside 1..k, has no count");
    loaa_dataset_free(ds);
    int lo, hi;
    loaa_loader_slice_rows(7, 7, 1, 3, &lo, &hi);
    TAP_OK(lo == 3 && hi == 5, "the loader's share of a batch is the model's rule (7 on 3 ranks: rank 1 decodes [3, 5))");
    loaa_loader_slice_rows(7, 4, 2, 3, &lo, &hi);
    TAP_OK(lo == 4 && hi == 4, "a short last batch cuts the shares of the full batch at n");
}

static void test_shards(void)
{
    static const char *const ext[] = {"tar", "tar.gz", "tar.zst"};
    void *wav;
    size_t wsize;
    tone_wav(&wav, &wsize, 16000, 0.1, 440);
    for (int c = 0; c < 3; c++) {
        char path[1024];
        snprintf(path, sizeof path, "%s/s.%s", tmpdir, ext[c]);
        loaa_shard_writer *w;
        loaa_status st = loaa_shard_writer_open(path, (loaa_compress)c, &w);
        for (int i = 0; i < 5 && !st; i++) {
            char name[64], cls[8];
            snprintf(name, sizeof name, "dir/k%d.wav", i);
            st = loaa_shard_writer_add(w, name, wav, wsize);
            snprintf(name, sizeof name, "dir/k%d.cls", i);
            snprintf(cls, sizeof cls, "%d", i % 3);
            if (!st)
                st = loaa_shard_writer_add(w, name, cls, strlen(cls));
            snprintf(name, sizeof name, "dir/k%d.txt", i);
            if (!st)
                st = loaa_shard_writer_add(w, name, "ignored", 7);
        }
        if (!st)
            st = loaa_shard_writer_finish(w);
        TAP_OK(st == LOAA_OK, "%s shard written (%s)", ext[c], loaa_error_detail());
        loaa_shard *sh;
        st = loaa_shard_open(path, NULL, &sh);
        int got = 0, n = 0, ok = 1;
        loaa_raw_sample s;
        memset(&s, 0, sizeof s);
        while (!st && !(st = loaa_shard_next(sh, &s, &got)) && got) {
            char key[16];
            snprintf(key, sizeof key, "dir/k%d", n);
            ok &= !strcmp(s.key, key) && s.audio_size == wsize && !memcmp(s.audio, wav, wsize) && s.cls && !strcmp(s.audio_ext, "wav");
            n++;
        }
        loaa_raw_sample_clear(&s);
        if (!st || st != LOAA_ERR_NOTFOUND)
            loaa_shard_close(sh);
        TAP_OK(st == LOAA_OK && n == 5 && ok, "%s shard streams 5 grouped samples, detected from content", ext[c]);
    }
    free(wav);

    /* the decompression-ratio guard: 8 MiB of zeros in a gzip shard is a bomb at a 200x cap */
    char bomb[1024];
    snprintf(bomb, sizeof bomb, "%s/bomb.tar.gz", tmpdir);
    loaa_shard_writer *w;
    size_t big = 8u << 20;
    void *zeros = calloc(1, big);
    loaa_status st = loaa_shard_writer_open(bomb, LOAA_COMPRESS_GZ, &w);
    if (!st)
        st = loaa_shard_writer_add(w, "z.npy", zeros, big);
    if (!st)
        st = loaa_shard_writer_finish(w);
    free(zeros);
    loaa_shard *sh;
    loaa_raw_sample s;
    memset(&s, 0, sizeof s);
    int got = 0;
    if (!st && !(st = loaa_shard_open(bomb, NULL, &sh))) {
        st = loaa_shard_next(sh, &s, &got);
        loaa_raw_sample_clear(&s);
        loaa_shard_close(sh);
    }
    TAP_OK(st == LOAA_ERR_LIMIT && strstr(loaa_error_detail(), "key 'z'") && strstr(loaa_error_detail(), "compression ratio"),
           "compression-ratio guard: %s", loaa_error_detail());
}

/* Bad-input shards: each built by hand with libarchive, then streamed through a loader. */
static void add_entry(struct archive *a, const char *name, const void *data, size_t size, int type, const char *link)
{
    struct archive_entry *e = archive_entry_new();
    archive_entry_set_pathname(e, name);
    archive_entry_set_filetype(e, type);
    archive_entry_set_perm(e, 0644);
    archive_entry_set_size(e, type == AE_IFREG ? (la_int64_t)size : 0);
    if (link)
        archive_entry_set_symlink(e, link);
    archive_write_header(a, e);
    if (type == AE_IFREG && size)
        archive_write_data(a, data, size);
    archive_entry_free(e);
}

static void bad_shard(const char *name, int kind)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/bad/%s", tmpdir, name);
    struct archive *a = archive_write_new();
    archive_write_set_format_pax_restricted(a);
    archive_write_open_filename(a, path);
    void *wav;
    size_t wsize;
    tone_wav(&wav, &wsize, 16000, 0.5, 300);
    add_entry(a, "good0.wav", wav, wsize, AE_IFREG, NULL);
    add_entry(a, "good0.cls", "1", 1, AE_IFREG, NULL);
    switch (kind) {
    case 0: /* no label */
        add_entry(a, "nolabel.wav", wav, wsize, AE_IFREG, NULL);
        break;
    case 1: /* label outside the class list */
        add_entry(a, "outside.wav", wav, wsize, AE_IFREG, NULL);
        add_entry(a, "outside.cls", "7", 1, AE_IFREG, NULL);
        break;
    case 2: /* WAV with a bad header */
        add_entry(a, "badhdr.wav", "RIFX\x10\x00\x00\x00WAVEjunkjunkjunk", 24, AE_IFREG, NULL);
        add_entry(a, "badhdr.cls", "0", 1, AE_IFREG, NULL);
        break;
    case 3: { /* empty audio: a valid header, no samples */
        void *e;
        size_t es;
        tone_wav(&e, &es, 16000, 0.0, 300);
        add_entry(a, "empty.wav", e, es, AE_IFREG, NULL);
        add_entry(a, "empty.cls", "0", 1, AE_IFREG, NULL);
        free(e);
        break;
    }
    case 4: /* an entry over the cap (the loader's cap is set to 64 KiB) */
    {
        void *big;
        size_t bs;
        tone_wav(&big, &bs, 16000, 3.0, 300);
        add_entry(a, "big.wav", big, bs, AE_IFREG, NULL);
        add_entry(a, "big.cls", "0", 1, AE_IFREG, NULL);
        free(big);
        break;
    }
    case 5:
        add_entry(a, "../escape.wav", wav, wsize, AE_IFREG, NULL);
        break;
    case 6:
        add_entry(a, "link.wav", NULL, 0, AE_IFLNK, "/etc/passwd");
        break;
    case 7: /* label by class name in JSON, and an unknown name */
        add_entry(a, "named.wav", wav, wsize, AE_IFREG, NULL);
        add_entry(a, "named.json", "{\"label\": \"zebra\"}", 18, AE_IFREG, NULL);
        break;
    }
    add_entry(a, "good1.wav", wav, wsize, AE_IFREG, NULL);
    add_entry(a, "good1.cls", "2", 1, AE_IFREG, NULL);
    archive_write_close(a);
    archive_write_free(a);
    free(wav);
}

static loaa_status drain(const char *dir, int skip, long *seen, long *bad, char *detail, size_t dn)
{
    loaa_dataset *ds;
    loaa_status st = loaa_dataset_open(dir, &ds);
    *seen = *bad = 0;
    if (st) {
        snprintf(detail, dn, "%s", loaa_error_detail());
        return st;
    }
    loaa_config cfg;
    loaa_config_defaults(&cfg);
    cfg.batch_size = 2;
    loaa_loader_opts o;
    loaa_loader_opts_default(&o);
    o.skip_bad = skip;
    o.max_entry_bytes = 64 << 10;
    loaa_loader *l;
    st = loaa_loader_open_opts(&l, ds, &cfg, LOAA_SPLIT_VAL, 0, &o);
    if (!st) {
        int M = loaa_loader_n_mel(l), T = loaa_loader_target_length(l);
        float *x = malloc(sizeof(float) * 2 * M * T), y[6];
        int labels[2], n;
        while (!(st = loaa_loader_next(l, x, y, labels, &n)) && n > 0)
            ;
        *seen = loaa_loader_samples_seen(l);
        *bad = loaa_loader_bad_skipped(l);
        free(x);
        loaa_loader_close(l);
    }
    snprintf(detail, dn, "%s", st ? loaa_error_detail() : "");
    loaa_dataset_free(ds);
    return st;
}

static void test_bad_inputs(void)
{
    static const struct {
        const char *name, *expect;
    } cases[] = {
        {"nolabel.tar", "key 'nolabel': no label"},
        {"outside.tar", "key 'outside': label 7 is outside"},
        {"badhdr.tar", "key 'badhdr': not a readable audio file"},
        {"empty.tar", "key 'empty': empty audio"},
        {"big.tar", "key 'big': entry 'big.wav' is"},
        {"escape.tar", "'../escape.wav': absolute path or '..' refused"},
        {"link.tar", "'link.wav': links, devices and FIFOs are refused"},
        {"named.tar", "key 'named': label 'zebra' is not one of the 3 classes"},
    };
    char dir[1024];
    snprintf(dir, sizeof dir, "%s/bad", tmpdir);
    mkdir(dir, 0755);
    for (int i = 0; i < (int)(sizeof cases / sizeof cases[0]); i++) {
        bad_shard(cases[i].name, i);
        char list[128], detail[2048];
        snprintf(list, sizeof list, "\"%s\"", cases[i].name);
        write_manifest(dir, "", list, "");
        long seen, bad;
        loaa_status st = drain(dir, 0, &seen, &bad, detail, sizeof detail);
        TAP_OK(st != LOAA_OK && strstr(detail, cases[i].name) && strstr(detail, cases[i].expect), "%s: stops with \"%s\"",
               cases[i].name, detail);
        st = drain(dir, 1, &seen, &bad, detail, sizeof detail);
        /* a bad sample is skipped alone; a refused entry ends its shard (the samples before it count) */
        long want = i >= 4 && i <= 6 ? 1 : 2;
        TAP_OK(st == LOAA_OK && bad == 1 && seen == want, "%s: skip_bad skips and counts (seen %ld, bad %ld)", cases[i].name, seen,
               bad);
    }
    /* truncated and corrupt shards */
    char good[1024], trunc[1024], corrupt[1024];
    snprintf(good, sizeof good, "%s/bad/nolabel.tar", tmpdir);
    snprintf(trunc, sizeof trunc, "%s/bad/trunc.tar", tmpdir);
    snprintf(corrupt, sizeof corrupt, "%s/bad/corrupt.tar.gz", tmpdir);
    FILE *in = fopen(good, "rb"), *out = fopen(trunc, "wb"), *cg = fopen(corrupt, "wb");
    char buf[20000];
    size_t n = fread(buf, 1, sizeof buf, in);
    fwrite(buf, 1, n > 12000 ? 12000 : n, out); /* cuts inside the second WAV */
    fwrite("\x1f\x8b\x08\x00garbage-garbage-garbage-garbage", 1, 35, cg);
    fclose(in);
    fclose(out);
    fclose(cg);
    char detail[2048];
    long seen, bad;
    write_manifest(dir, "", "\"trunc.tar\"", "");
    loaa_status st = drain(dir, 0, &seen, &bad, detail, sizeof detail);
    TAP_OK(st == LOAA_ERR_FORMAT && strstr(detail, "trunc.tar") && strstr(detail, "key '"), "truncated shard: \"%s\"", detail);
    write_manifest(dir, "", "\"corrupt.tar.gz\"", "");
    st = drain(dir, 0, &seen, &bad, detail, sizeof detail);
    TAP_OK(st == LOAA_ERR_FORMAT && strstr(detail, "corrupt.tar.gz"), "corrupt shard: \"%s\"", detail);
    st = drain(dir, 1, &seen, &bad, detail, sizeof detail);
    TAP_OK(st == LOAA_OK && bad == 1 && seen == 0, "corrupt shard skipped with skip_bad");
    write_manifest(dir, "", "\"gone.tar\"", "");
    st = drain(dir, 0, &seen, &bad, detail, sizeof detail);
    TAP_OK(st == LOAA_ERR_NOTFOUND && strstr(detail, "gone.tar"), "manifest naming a missing shard: \"%s\"", detail);
}

/* Reads one epoch; returns a checksum per batch in sums (up to max). */
static int epoch_sums(const loaa_dataset *ds, loaa_config *cfg, loaa_split split, int epoch, const loaa_loader_opts *o,
                      double *sums, int max, int *labels_out, long *seen)
{
    loaa_loader *l;
    if (loaa_loader_open_opts(&l, ds, cfg, split, epoch, o))
        return -1;
    int M = loaa_loader_n_mel(l), T = loaa_loader_target_length(l), C = loaa_loader_n_classes(l), B = cfg->batch_size;
    float *x = calloc((size_t)B * M * T, sizeof(float)), *y = malloc(sizeof(float) * B * C);
    int *lab = malloc(sizeof(int) * B), n, nb = 0, k = 0;
    loaa_status st;
    while (!(st = loaa_loader_next(l, x, y, lab, &n)) && n > 0) {
        int lo, hi;
        loaa_loader_slice_rows(B, n, o ? o->rank : 0, o ? o->ranks : 1, &lo, &hi);
        double s = 0;
        for (int j = lo; j < hi; j++)
            for (int i = 0; i < M * T; i++)
                s += x[(size_t)j * M * T + i] * (1 + (i % 7));
        if (nb < max)
            sums[nb] = s;
        for (int j = 0; j < n && labels_out; j++)
            labels_out[k++] = lab[j];
        nb++;
    }
    *seen = loaa_loader_samples_seen(l);
    loaa_loader_close(l);
    free(x);
    free(y);
    free(lab);
    return st ? -1 : nb;
}

static void test_loader(void)
{
    char dir[1024];
    snprintf(dir, sizeof dir, "%s/syn", tmpdir);
    loaa_synth_opts so;
    loaa_synth_opts_default(&so);
    so.clips = 60;
    so.seconds = 0.4;
    so.mel = 32;
    so.seed = 3;
    so.shard.samples_per_shard = 4;
    so.shard.compress = LOAA_COMPRESS_GZ;
    loaa_status st = loaa_synth(dir, &so);
    TAP_OK(st == LOAA_OK, "synthetic audio dataset (60 clips, gz shards) written (%s)", loaa_error_detail());
    loaa_dataset *ds;
    st = loaa_dataset_open(dir, &ds);
    TAP_OK(st == LOAA_OK && loaa_dataset_num_folds(ds) == 5 && loaa_dataset_num_classes(ds) == 12 && loaa_dataset_num_mel(ds) == 32,
           "synthetic dataset opens: 5 folds, 12 classes, 32 mel (%s)", loaa_error_detail());
    if (st)
        return;
    TAP_OK(loaa_dataset_std(ds) > 0.5 && loaa_dataset_mean(ds) < 0, "synthetic stats recorded (mean %.3f, std %.3f)",
           loaa_dataset_mean(ds), loaa_dataset_std(ds));
    loaa_config cfg;
    loaa_config_defaults(&cfg);
    cfg.fold = 1;
    cfg.batch_size = 5;
    cfg.seed = 11;
    loaa_loader_opts o;
    loaa_loader_opts_default(&o);
    o.shuffle_buffer = 8;
    double a[20], b[20], c[20];
    int la[60], lb[60];
    long seen;
    int na = epoch_sums(ds, &cfg, LOAA_SPLIT_TRAIN, 2, &o, a, 20, la, &seen);
    TAP_OK(na == 8 && seen == 36, "train split of fold 1: 36 samples in 8 batches of <= 5 (got %d, %ld)", na, seen);
    int nb = epoch_sums(ds, &cfg, LOAA_SPLIT_TRAIN, 2, &o, b, 20, lb, &seen);
    TAP_OK(na == nb && !memcmp(a, b, sizeof(double) * na) && !memcmp(la, lb, sizeof(int) * 36),
           "same seed and epoch: identical batches");
    epoch_sums(ds, &cfg, LOAA_SPLIT_TRAIN, 3, &o, c, 20, lb, &seen);
    TAP_OK(memcmp(la, lb, sizeof(int) * 36) != 0, "another epoch: another order");
    int sorted = 1;
    epoch_sums(ds, &cfg, LOAA_SPLIT_TEST, 5, &o, c, 20, lb, &seen);
    for (int i = 0; i < 12; i++)
        sorted &= lb[i] == i % 12;
    TAP_OK(seen == 12 && sorted, "test split (fold 1): 12 samples in manifest order, not shuffled");

    /* ranks: each decodes its block; the blocks together are the single-rank batch */
    cfg.mixup = 0.5;
    cfg.freqm = 8;
    cfg.timem = 10;
    cfg.noise = 0.1;
    cfg.timeroll = 5;
    double full[20];
    na = epoch_sums(ds, &cfg, LOAA_SPLIT_TRAIN, 1, &o, full, 20, la, &seen);
    double parts[3][20];
    int ok = 1;
    for (int r = 0; r < 3; r++) {
        loaa_loader_opts ro = o;
        ro.rank = r;
        ro.ranks = 3;
        int n = epoch_sums(ds, &cfg, LOAA_SPLIT_TRAIN, 1, &ro, parts[r], 20, lb, &seen);
        ok &= n == na && !memcmp(la, lb, sizeof(int) * 36);
    }
    double worst = 0;
    for (int i = 0; i < na; i++)
        worst = fmax(worst, fabs(parts[0][i] + parts[1][i] + parts[2][i] - full[i]) / (1 + fabs(full[i])));
    TAP_OK(ok && worst < 1e-9, "3 ranks: disjoint row blocks that add up to the 1-rank batches, with every augmentation on (%.2g)",
           worst);
    double again[20];
    epoch_sums(ds, &cfg, LOAA_SPLIT_TRAIN, 1, &o, again, 20, NULL, &seen);
    TAP_OK(!memcmp(again, full, sizeof(double) * na), "augmentations are deterministic");
    cfg.mixup = 0;
    cfg.freqm = cfg.timem = cfg.timeroll = 0;
    cfg.noise = 0;
    double plain[20];
    epoch_sums(ds, &cfg, LOAA_SPLIT_TRAIN, 1, &o, plain, 20, NULL, &seen);
    TAP_OK(memcmp(plain, full, sizeof(double) * na) != 0, "augmentations change the features");

    /* mixup gives soft labels that sum to 1 */
    cfg.mixup = 1.0;
    loaa_loader *l;
    st = loaa_loader_open_opts(&l, ds, &cfg, LOAA_SPLIT_TRAIN, 0, &o);
    float *x = malloc(sizeof(float) * 5 * 32 * 40), y[5 * 12];
    int lab[5], n, soft = 0, sum1 = 1;
    while (!st && !(st = loaa_loader_next(l, x, y, lab, &n)) && n > 0)
        for (int j = 0; j < n; j++) {
            double s = 0;
            int nz = 0;
            for (int k = 0; k < 12; k++) {
                s += y[j * 12 + k];
                nz += y[j * 12 + k] > 0;
            }
            soft += nz > 1;
            sum1 &= fabs(s - 1) < 1e-5;
        }
    loaa_loader_close(l);
    free(x);
    TAP_OK(!st && soft > 10 && sum1, "mixup: %d soft targets, each summing to 1", soft);

    /* the single-file front end gives the loader's features for the same clip */
    char wavpath[1100];
    snprintf(wavpath, sizeof wavpath, "%s/one.wav", tmpdir);
    float *clip = malloc(sizeof(float) * 6400);
    loaa_synth_audio_clip(clip, 6400, 16000, 4, 3, 0);
    void *wav;
    size_t ws;
    loaa_audio_encode_wav(clip, 6400, 16000, 0, &wav, &ws);
    FILE *f = fopen(wavpath, "wb");
    fwrite(wav, 1, ws, f);
    fclose(f);
    int M = loaa_dataset_num_mel(ds), T = loaa_dataset_target_length(ds);
    float *f1 = malloc(sizeof(float) * M * T), *f2 = malloc(sizeof(float) * M * T);
    st = loaa_features_from_file(wavpath, ds, 0, f1);
    loaa_featurizer *fz;
    loaa_featurizer_create(ds, 0, &fz);
    loaa_featurizer_run(fz, f2, wav, ws, "wav", 0, -1, "mem");
    loaa_featurizer_free(fz);
    TAP_OK(st == LOAA_OK && !memcmp(f1, f2, sizeof(float) * M * T), "loaa_features_from_file = the loader's features (%d x %d)", M, T);
    /* layout: row m is mel bin m over time; padding columns hold the normalised zero */
    float pad = (float)((0 - loaa_dataset_mean(ds)) / (2 * loaa_dataset_std(ds)));
    TAP_OK(T == 38 && fabsf(f1[T - 1] - pad) > 1e-6 && loaa_features_from_file("/nonexistent.wav", ds, 64, f1) == LOAA_ERR_NOTFOUND,
           "(M, T) layout, T = 38 frames of a 0.4 s clip; a missing file is NOTFOUND");
    float *f64 = realloc(f1, sizeof(float) * M * 64);
    st = loaa_features_from_file(wavpath, ds, 64, f64);
    TAP_OK(st == LOAA_OK, "target_length 64 from the file front end");
    free(f64);
    free(f2);
    free(wav);
    free(clip);
    loaa_dataset_free(ds);
    (void)pad;
}

static void test_images(void)
{
    char dir[1024];
    snprintf(dir, sizeof dir, "%s/img", tmpdir);
    loaa_synth_opts so;
    loaa_synth_opts_default(&so);
    so.images = 1;
    so.clips = 48;
    so.size = 32;
    so.folds = 0;
    so.split_frac[0] = 0.5, so.split_frac[1] = 0.25, so.split_frac[2] = 0.25; /* 0.8,0.1,0.1 leaves 48 clips no test split */
    so.shard.compress = LOAA_COMPRESS_ZST;
    loaa_status st = loaa_synth(dir, &so);
    loaa_dataset *ds = NULL;
    if (!st)
        st = loaa_dataset_open(dir, &ds);
    TAP_OK(st == LOAA_OK && loaa_dataset_is_image(ds) && loaa_dataset_num_mel(ds) == 32 && loaa_dataset_target_length(ds) == 32,
           "synthetic image dataset (zst, splits) opens as 32x32 (%s)", loaa_error_detail());
    if (st)
        return;
    loaa_config cfg;
    loaa_config_defaults(&cfg);
    cfg.batch_size = 8;
    double sums[10];
    long seen, total = 0;
    for (int s = 0; s < 3; s++) {
        epoch_sums(ds, &cfg, (loaa_split)s, 0, NULL, sums, 10, NULL, &seen);
        total += seen;
    }
    TAP_OK(total == 48, "train + val + test = all 48 images");
    /* normalised images: mean about 0, std about 0.5 over the training split */
    loaa_loader *l;
    loaa_loader_open(&l, ds, &cfg, LOAA_SPLIT_TRAIN, 0);
    float x[8 * 32 * 32], y[8 * 12];
    int lab[8], n;
    double s1 = 0, s2 = 0, cnt = 0;
    while (!loaa_loader_next(l, x, y, lab, &n) && n > 0)
        for (int i = 0; i < n * 32 * 32; i++) {
            s1 += x[i];
            s2 += x[i] * x[i];
            cnt++;
        }
    loaa_loader_close(l);
    double m = s1 / cnt, sd = sqrt(s2 / cnt - m * m);
    TAP_OK(fabs(m) < 0.2 && fabs(sd - 0.5) < 0.15, "images normalised as AST: mean %.3f, std %.3f (about 0 and 0.5)", m, sd);
    loaa_dataset_free(ds);
}

static void test_labels(void)
{
    const char *json = "{\"name\": \"m\", \"classes\": [\"a\", \"b\", \"c\"], \"multilabel\": true,"
                       " \"splits\": {\"train\": [], \"val\": [], \"test\": []}}";
    loaa_dataset *ml, *sl;
    loaa_dataset_parse(json, "/x", 0, &ml);
    loaa_dataset_parse("{\"name\": \"s\", \"classes\": [\"a\", \"b\", \"c\"], \"splits\": {\"train\": [], \"val\": [], \"test\": []}}",
                       "/x", 0, &sl);
    float y[3];
    int label;
    long s, e;
    loaa_status st = loaa_loader_parse_label(ml, "0, c\n", NULL, "k", y, &label, &s, &e);
    TAP_OK(!st && y[0] == 1 && y[1] == 0 && y[2] == 1 && label == -1, "multi-label .cls '0, c': multi-hot, label -1");
    st = loaa_loader_parse_label(ml, NULL, "{\"labels\": [1, \"c\"], \"start\": 5, \"end\": 90}", "k", y, &label, &s, &e);
    TAP_OK(!st && y[1] == 1 && y[2] == 1 && s == 5 && e == 90, "multi-label .json labels and start/end cut");
    st = loaa_loader_parse_label(sl, " b \n", NULL, "k", y, &label, &s, &e);
    TAP_OK(!st && label == 1 && y[1] == 1 && s == -1 && e == -1, "single label by class name, whitespace trimmed");
    st = loaa_loader_parse_label(sl, "0 2", NULL, "shard.tar: key 'k'", y, &label, &s, &e);
    TAP_OK(st == LOAA_ERR_FORMAT, "two labels for a single-label dataset refused: %s", loaa_error_detail());
    st = loaa_loader_parse_label(sl, NULL, "{\"label\": 1, \"start\": -4}", "shard.tar: key 'k'", y, &label, &s, &e);
    TAP_OK(st == LOAA_ERR_FORMAT && strstr(loaa_error_detail(), "key 'k'"), "negative cut refused naming the key: %s", loaa_error_detail());
    st = loaa_loader_parse_label(sl, NULL, "[1]", "shard.tar: key 'k'", y, &label, &s, &e);
    TAP_OK(st == LOAA_ERR_FORMAT, "a .json that is no object refused");
    loaa_dataset_free(ml);
    loaa_dataset_free(sl);
}

/* Issue 18 #17: the NaN/Inf scan covers every float decoder (Vorbis and Opus skipped it before). */
static void test_nonfinite_scan(void)
{
    TAP_OK(loaa_audio_format_may_be_nonfinite(SF_FORMAT_OGG | SF_FORMAT_VORBIS), "Ogg/Vorbis decodes are scanned for NaN/Inf");
    TAP_OK(loaa_audio_format_may_be_nonfinite(SF_FORMAT_OGG | SF_FORMAT_OPUS), "Ogg/Opus decodes are scanned for NaN/Inf");
    TAP_OK(loaa_audio_format_may_be_nonfinite(SF_FORMAT_WAV | SF_FORMAT_FLOAT), "float WAV decodes are scanned");
    TAP_OK(!loaa_audio_format_may_be_nonfinite(SF_FORMAT_WAV | SF_FORMAT_PCM_16), "16-bit PCM needs no scan");
}

/* A version-1 .npy image of header HDR (padded to 64 bytes as numpy does) over 16 bytes of data, into buf. */
static size_t npy_with_header(unsigned char *buf, size_t cap, const char *hdr)
{
    size_t hl = strlen(hdr) + 1, padded = (10 + hl + 63) / 64 * 64;
    if (padded + 16 > cap)
        return 0;
    memcpy(buf, "\x93NUMPY\x01\x00", 8);
    buf[8] = (unsigned char)((padded - 10) & 0xff);
    buf[9] = (unsigned char)((padded - 10) >> 8);
    memset(buf + 10, ' ', padded - 10);
    memcpy(buf + 10, hdr, hl - 1);
    buf[padded - 1] = '\n';
    memset(buf + padded, 0, 16);
    return padded + 16;
}

/* Issue 18 #15: the header dict is parsed as its Python literal, not searched for substrings. */
/* Issue 18 #6: dataset.json and shards are written through a fresh temporary, never a link planted at PATH.tmp.PID. */
static void test_planted_temporaries(void)
{
    char dir[600], path[700], link[800], victim[700];
    snprintf(dir, sizeof dir, "%s/plant", tmpdir);
    mkdir(dir, 0755);
    snprintf(victim, sizeof victim, "%s/victim", dir);
    snprintf(path, sizeof path, "%s/dataset.json", dir);
    snprintf(link, sizeof link, "%s.tmp.%ld", path, (long)getpid());
    plant_link(link, victim);
    loaa_status st = loaa_write_file_atomic(path, "{}\n");
    struct stat sb;
    TAP_OK(!st && stat(path, &sb) == 0 && sb.st_size == 3 && plant_intact(link, victim) && plant_leftovers(dir, "dataset.json.tmp") == 0,
           "dataset.json written beside a link planted at its old temporary name, which is not followed: %s", st ? loaa_error_detail() : "ok");
    snprintf(path, sizeof path, "%s/train-000000.tar", dir);
    snprintf(link, sizeof link, "%s.tmp.%ld", path, (long)getpid());
    plant_link(link, victim);
    loaa_shard_writer *w;
    st = loaa_shard_writer_open(path, LOAA_COMPRESS_NONE, &w);
    if (!st)
        st = loaa_shard_writer_add(w, "k.cls", "1", 1);
    if (!st)
        st = loaa_shard_writer_finish(w);
    TAP_OK(!st && stat(path, &sb) == 0 && sb.st_size >= 1024 && plant_intact(link, victim) &&
               plant_leftovers(dir, "train-000000.tar.tmp") == 0,
           "a shard written beside a link planted at its old temporary name, which is not followed: %s", st ? loaa_error_detail() : "ok");
    st = loaa_shard_writer_open(path, LOAA_COMPRESS_NONE, &w);
    if (!st) {
        loaa_shard_writer_add(w, "k.cls", "2", 1);
        loaa_shard_writer_abort(w);
    }
    TAP_OK(!st && plant_leftovers(dir, "train-000000.tar.tmp") == 0, "an aborted shard leaves no temporary");
}

static void test_npy_header(void)
{
    static const struct { const char *hdr; int rows, cols; } good[] = {
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (2, 2), }", 2, 2},
        {"{\"shape\": (1,4), \"descr\": \"<f4\", \"fortran_order\": False}", 1, 4},
        {"{ 'descr' : '<f4' , 'fortran_order' : False , 'shape' : ( 4 , 1 , ) , }", 4, 1},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (0, 3), }", 0, 3},
    };
    static const struct { const char *hdr, *why; } bad[] = {
        {"{'note': \"'descr': '<f4', 'fortran_order': False, 'shape': (2, 2)\", 'descr': '>f8', 'fortran_order': True, "
         "'shape': (1, 2), }", "unknown key"},
        {"{'descr': '<f4', 'descr': '>f8', 'fortran_order': False, 'shape': (2, 2), }", "repeated key"},
        {"{'descr': '<f4', 'fortran_order': Falsehood, 'shape': (2, 2), }", "',' or '}' expected"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (2, 2,, ), }", "non-negative integer expected"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (2, 2), } trailing", "bytes after the dict"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (2, 2)", "',' or '}' expected"},
        {"{'descr': '<f4', 'fortran_order': False, }", "no 'shape' key"},
        {"{'descr': '<f4\\x', 'fortran_order': False, 'shape': (2, 2), }", "escaped"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (-2, 2), }", "non-negative integer expected"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (2, 2, 1), }", "must be 2-D"},
        {"{'descr': '>f4', 'fortran_order': False, 'shape': (2, 2), }", "dtype must be '<f4'"},
        {"('descr', '<f4')", "'{' expected"},
    };
    unsigned char buf[512];
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        size_t n = npy_with_header(buf, sizeof buf, good[i].hdr);
        const unsigned char *d = NULL;
        int r = -1, c = -1;
        loaa_status st = loaa_npy_parse(buf, n, "s.tar: key 'k'", &d, &r, &c);
        TAP_OK(st == LOAA_OK && r == good[i].rows && c == good[i].cols, ".npy header %s accepted as (%d, %d): %s", good[i].hdr, r,
               c, st ? loaa_error_detail() : "ok");
    }
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        size_t n = npy_with_header(buf, sizeof buf, bad[i].hdr);
        const unsigned char *d = NULL;
        int r = -1, c = -1;
        loaa_error_clear();
        loaa_status st = loaa_npy_parse(buf, n, "s.tar: key 'k'", &d, &r, &c);
        TAP_OK(st == LOAA_ERR_FORMAT && strstr(loaa_error_detail(), "s.tar: key 'k'") && strstr(loaa_error_detail(), bad[i].why),
               ".npy header %s refused (%s): %s", bad[i].hdr, bad[i].why, st ? loaa_error_detail() : "accepted");
    }
}

int main(void)
{
    snprintf(tmpdir, sizeof tmpdir, "/tmp/loaa-test-worker-XXXXXX");
    if (!mkdtemp(tmpdir))
        return 1;
    test_manifest();
    test_labels();
    test_shards();
    test_bad_inputs();
    test_loader();
    test_images();
    test_nonfinite_scan();
    test_npy_header();
    test_planted_temporaries();
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    if (system(cmd) != 0)
        TAP_DIAG("could not remove %s", tmpdir);
    return tap_done();
}
