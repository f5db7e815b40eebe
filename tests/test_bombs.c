/*
 * test_bombs.c - resource bombs and hostile archive entries are refused with
 * a clear error (a status and a detail naming the input), in bounded time and
 * memory: YAML alias expansion and nesting, trial grids over the cap, JSON
 * nesting in every JSON reader, tar entries over the size cap, compression
 * bombs (gzip and zstd), tar names with '..' or absolute paths, links,
 * devices and FIFOs, safetensors headers over the cap, .npy shapes beyond
 * the data, and fbank sizes that would not fit memory.
 */
#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

#include "common/config.h"
#include "common/dataset.h"
#include "coordinator/sweep.h"
#include "kernels/safetensors.h"
#include "tap.h"
#include "worker/features.h"
#include "worker/npy.h"
#include "worker/shard.h"

static char tmpdir[256];

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* Peak resident set of this process in MiB. */
static long peak_mib(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_maxrss / 1024;
}

/* Appends formatted text at p (bounded by end); returns the new end of the text. */
static char *put(char *p, char *end, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(p, (size_t)(end - p), fmt, ap);
    va_end(ap);
    return n < 0 ? p : n < end - p ? p + n : end - 1;
}

static int refused(loaa_status st, loaa_status want, const char *needle)
{
    return st == want && strstr(loaa_error_detail(), needle) != NULL;
}

/* --- sweep files --- */

static loaa_status sweep(const char *text, loaa_sweep **out)
{
    loaa_sweep *sw = NULL;
    loaa_error_clear();
    loaa_status st = loaa_sweep_parse(&sw, text, strlen(text), "bomb.yaml", 0);
    if (out)
        *out = sw;
    else
        loaa_sweep_free(sw);
    return st;
}

static loaa_status no_trial(void *ctx, const loaa_sweep_trial *t)
{
    (void)t;
    ++*(int *)ctx;
    return LOAA_OK;
}

static void test_yaml(void)
{
    /* billion laughs: 10 levels of 10 aliases, 10^10 nodes if expanded */
    char *b = malloc(1 << 16);
    strcpy(b, "name: x\ndatasets: [d]\ndescription: [&l0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]");
    for (int i = 1; i < 10; i++) {
        char part[256];
        snprintf(part, sizeof part, ", &l%d [*l%d,*l%d,*l%d,*l%d,*l%d,*l%d,*l%d,*l%d,*l%d,*l%d]", i, i - 1, i - 1, i - 1,
                 i - 1, i - 1, i - 1, i - 1, i - 1, i - 1, i - 1);
        strcat(b, part);
    }
    strcat(b, "]\nparameters:\n  backbone: {value: *l9}\n");
    double t0 = now();
    loaa_status st = sweep(b, NULL);
    /* a guard against hanging (10^10 nodes would take hours), not a speed target: about 0.5 s,
       17 s under ASan with the slow unwinder that scripts/check --sanitizers needs for Open MPI */
    TAP_OK(refused(st, LOAA_ERR_LIMIT, "bomb.yaml") && now() - t0 < 60, "YAML billion laughs refused in %.2f s: %s",
           now() - t0, loaa_error_detail());
    free(b);

    /*
     * a 1000-byte scalar multiplied through five levels of ten aliases: few
     * nodes in the text, 10^5 copies (100 MB) if aliases were expanded by copy
     */
    char *s = malloc(1 << 16), *p = s, *e = s + (1 << 16);
    p = put(p, e, "name: x\ndatasets: [d]\ndescription: [&a \"");
    memset(p, 'A', 1000);
    p += 1000;
    p = put(p, e, "\"");
    for (int i = 1; i <= 5; i++) {
        p = put(p, e, ", &%c [", 'a' + i);
        for (int k = 0; k < 10; k++)
            p = put(p, e, "%s*%c", k ? ", " : "", 'a' + i - 1);
        p = put(p, e, "]");
    }
    put(p, e, "]\nparameters:\n  backbone: {value: *a}\n");
    long before = peak_mib();
    t0 = now();
    loaa_sweep *sw = NULL;
    st = sweep(s, &sw);
    long grown = peak_mib() - before;
    loaa_sweep_free(sw);
    TAP_OK((st == LOAA_OK || loaa_error_detail()[0]) && grown < 64 && now() - t0 < 5,
           "a 1000-byte scalar aliased 10^5 times: %s without copying 100 MB (%ld MiB grown, %.2f s)",
           st ? loaa_error_detail() : "accepted", grown, now() - t0);
    free(s);

    /* nesting depth: flow and block style */
    char deep[65536] = "name: x\ndatasets: [d]\nparameters:\n  lr: {value: ";
    p = deep + strlen(deep);
    memset(p, '[', 10000);
    p[10000] = '\0';
    TAP_OK(refused(sweep(deep, NULL), LOAA_ERR_LIMIT, "bomb.yaml"), "YAML flow nesting of 10000 refused: %s",
           loaa_error_detail());
    char block[65536] = "name: x\ndatasets: [d]\ndescription:\n";
    p = block + strlen(block);
    for (int i = 0; i < 200; i++) {
        memset(p, ' ', (size_t)i + 1);
        p += i + 1;
        p = put(p, block + sizeof block, "k%d:\n", i);
    }
    *p = '\0';
    TAP_OK(refused(sweep(block, NULL), LOAA_ERR_LIMIT, "bomb.yaml"), "YAML block nesting of 200 refused: %s",
           loaa_error_detail());

    /* a file over the size cap */
    size_t n = LOAA_SWEEP_MAX_BYTES + 16;
    char *huge = malloc(n + 1);
    memset(huge, '#', n);
    memcpy(huge, "name: x\n", 8);
    huge[8] = '#';
    huge[n] = '\0';
    TAP_OK(refused(sweep(huge, NULL), LOAA_ERR_LIMIT, "bomb.yaml"), "sweep file over %d bytes refused: %s",
           LOAA_SWEEP_MAX_BYTES, loaa_error_detail());
    free(huge);

    /*
     * a parameters: map of ~99k distinct keys (about 900 KB, under the 1 MiB cap; issue 18 #14): the duplicate check was
     * pairwise (34 s before "unknown key"); now sorted. A guard against hanging, not a speed target (about 0.1 s).
     */
    size_t wide_cap = LOAA_SWEEP_MAX_BYTES;
    char *wide = malloc(wide_cap), *w = wide, *we = wide + wide_cap;
    w = put(w, we, "name: x\ndatasets: [d]\nparameters:\n");
    for (int i = 0; i < 99000; i++)
        w = put(w, we, " k%05d:\n", i);
    t0 = now();
    st = sweep(wide, NULL);
    TAP_OK(refused(st, LOAA_ERR_CONFIG, "bomb.yaml:4:2: parameters: unknown key 'k00000'") && now() - t0 < 10,
           "a parameters: map of 99k keys (%zu bytes) refused in %.2f s: %s", strlen(wide), now() - t0, loaa_error_detail());
    /* the same keys with one repeated at the end: the duplicate is found (and named) in the same bounded time */
    put(w, we, " k00007: 1\n");
    t0 = now();
    st = sweep(wide, NULL);
    TAP_OK(refused(st, LOAA_ERR_CONFIG, "parameters: duplicate key 'k00007' (first at line 11)") && now() - t0 < 10,
           "a repeated key among 99k refused in %.2f s: %s", now() - t0, loaa_error_detail());
    free(wide);

    /* a conditional parameter with 50 000 cases over 50 000 seeds: cases are matched pairwise, so their number is capped */
    wide = malloc(wide_cap);
    w = wide;
    w = put(w, we = wide + wide_cap, "name: x\ndatasets: [d]\nseeds: [");
    for (int i = 0; i < 50000; i++)
        w = put(w, we, "%s%d", i ? "," : "", i);
    w = put(w, we, "]\nparameters:\n  epochs: {by: seed, cases: {");
    for (int i = 0; i < 50000; i++)
        w = put(w, we, "%s%d: 1", i ? ", " : "", i);
    put(w, we, "}}\n");
    t0 = now();
    st = sweep(wide, NULL);
    TAP_OK(refused(st, LOAA_ERR_LIMIT, "more than 1024 cases") && now() - t0 < 10, "50 000 cases of a conditional parameter refused in %.2f s: %s",
           now() - t0, loaa_error_detail());
    free(wide);

    /* a grid of 10^9 trials against the trial cap: counted, never expanded */
    const char *grid = "name: g\ndatasets: [d]\nseeds: [0,1,2,3,4,5,6,7,8,9]\nparameters:\n"
                       "  lr: {values: [1,2,3,4,5,6,7,8,9,10]}\n  bottleneck: {values: [1,2,3,4,5,6,7,8,9,10]}\n"
                       "  kernel: {values: [1,3,5,7,9,11,13,15,17,19]}\n  scale: {values: [1,2,3,4,5,6,7,8,9,10]}\n"
                       "  weight_decay: {values: [0,1,2,3,4,5,6,7,8,9]}\n  epochs: {values: [1,2,3,4,5,6,7,8,9,10]}\n"
                       "  batch_size: {values: [1,2,3,4,5,6,7,8,9,10]}\n  timem: {values: [0,1,2,3,4,5,6,7,8,9]}\n";
    st = sweep(grid, &sw);
    TAP_OK(st == LOAA_OK, "a 10^9-trial grid parses: %s", loaa_error_detail());
    if (!st) {
        int64_t count = -1;
        t0 = now();
        st = loaa_sweep_count(sw, LOAA_SWEEP_DEFAULT_MAX_TRIALS, &count);
        TAP_OK(refused(st, LOAA_ERR_LIMIT, "--max-trials") && now() - t0 < 1,
               "grid over the default cap (%d) refused naming --max-trials: %s", LOAA_SWEEP_DEFAULT_MAX_TRIALS,
               loaa_error_detail());
        int64_t u, d;
        int called = 0;
        st = loaa_sweep_expand(sw, 1000, 1, no_trial, &called, &u, &d);
        TAP_OK(refused(st, LOAA_ERR_LIMIT, "--max-trials") && called == 0,
               "expansion over --max-trials 1000 refused before any trial (%d seen): %s", called, loaa_error_detail());
        loaa_sweep_free(sw);
    }
}

/* --- JSON readers --- */

static char *nested_json(const char *prefix, int depth, const char *suffix)
{
    size_t pl = strlen(prefix), sl = strlen(suffix);
    char *t = malloc(pl + 2 * (size_t)depth + sl + 1);
    memcpy(t, prefix, pl);
    memset(t + pl, '[', depth);
    memset(t + pl + depth, ']', depth);
    memcpy(t + pl + 2 * depth, suffix, sl + 1);
    return t;
}

static void test_json(void)
{
    int depth = 200000;
    char *t = nested_json("{\"lr\": ", depth, "}");
    loaa_config c;
    loaa_error_clear();
    loaa_status st = loaa_config_parse(&c, t);
    TAP_OK(st != LOAA_OK && strstr(loaa_error_detail(), "depth"), "trial config JSON nested %d deep refused: %s", depth,
           loaa_error_detail());
    free(t);

    t = nested_json("{\"name\": \"x\", \"classes\": [\"a\"], \"source\": ", depth, ", \"splits\": {\"train\": [], \"val\": [], \"test\": []}}");
    loaa_dataset *ds = NULL;
    loaa_error_clear();
    st = loaa_dataset_parse(t, "/nonexistent", 0, &ds);
    TAP_OK(st != LOAA_OK && strstr(loaa_error_detail(), "dataset.json") && strstr(loaa_error_detail(), "depth"),
           "dataset.json nested %d deep refused: %s", depth, loaa_error_detail());
    loaa_dataset_free(st ? NULL : ds);
    free(t);

    /* a safetensors header whose metadata nests deeply */
    t = nested_json("{\"__metadata__\": {\"a\": ", depth, "}}");
    size_t hl = strlen(t);
    unsigned char *file = malloc(8 + hl);
    for (int i = 0; i < 8; i++)
        file[i] = (unsigned char)((uint64_t)hl >> (8 * i));
    memcpy(file + 8, t, hl);
    loaa_safetensors_file *f = NULL;
    loaa_error_clear();
    st = loaa_safetensors_open_memory(file, 8 + hl, "deep.safetensors", &f);
    TAP_OK(st != LOAA_OK && !f && strstr(loaa_error_detail(), "deep.safetensors"),
           "safetensors header nested %d deep refused: %s", depth, loaa_error_detail());
    free(file);
    free(t);
}

/* --- safetensors header cap --- */

static void test_safetensors_cap(void)
{
    unsigned char file[64] = {0};
    uint64_t hl = (uint64_t)LOAA_SAFETENSORS_MAX_HEADER + 1;
    for (int i = 0; i < 8; i++)
        file[i] = (unsigned char)(hl >> (8 * i));
    memcpy(file + 8, "{}", 2);
    loaa_safetensors_file *f = NULL;
    loaa_error_clear();
    loaa_status st = loaa_safetensors_open_memory(file, sizeof file, "capped.safetensors", &f);
    TAP_OK(refused(st, LOAA_ERR_LIMIT, "cap") && !f, "header length over the %u-byte cap refused: %s", LOAA_SAFETENSORS_MAX_HEADER,
           loaa_error_detail());

    /* the same on disk, with a file really that large (sparse): refused before the header is parsed */
    char path[512];
    snprintf(path, sizeof path, "%s/sparse.safetensors", tmpdir);
    int fd = open(path, O_CREAT | O_TRUNC | O_WRONLY, 0644);
    int ok = fd >= 0 && write(fd, file, 10) == 10 && ftruncate(fd, (off_t)hl + 64) == 0;
    if (fd >= 0)
        close(fd);
    long before = peak_mib();
    double t0 = now();
    loaa_error_clear();
    st = ok ? loaa_safetensors_open(path, &f) : LOAA_ERR_IO;
    TAP_OK(refused(st, LOAA_ERR_LIMIT, "sparse.safetensors") && peak_mib() - before < 16 && now() - t0 < 1,
           "a %llu-byte header in a real file refused without reading it: %s", (unsigned long long)hl, loaa_error_detail());
    unlink(path);
}

/* --- tar shards --- */

typedef struct {
    const char *name;
    int type;
    const char *link;   /* symlink target */
    const char *hard;   /* hardlink target */
    size_t size;
    int zero_fill;      /* data: zeros (compressible) */
} entry;

/* A tar (optionally gz/zst filtered) in memory with `good.wav`-like content around the tested entry. */
static unsigned char *make_tar(const entry *es, int n, int filter, size_t *out_size)
{
    size_t cap = 64 << 20;
    unsigned char *buf = malloc(cap);
    struct archive *a = archive_write_new();
    archive_write_set_format_pax_restricted(a);
    if (filter == 1)
        archive_write_add_filter_gzip(a);
    else if (filter == 2)
        archive_write_add_filter_zstd(a);
    archive_write_set_bytes_in_last_block(a, 1);
    size_t used = 0;
    archive_write_open_memory(a, buf, cap, &used);
    for (int i = 0; i < n; i++) {
        struct archive_entry *e = archive_entry_new();
        archive_entry_set_pathname(e, es[i].name);
        archive_entry_set_filetype(e, (unsigned)es[i].type);
        archive_entry_set_perm(e, 0644);
        if (es[i].type == AE_IFCHR)
            archive_entry_set_rdev(e, makedev(1, 3));
        if (es[i].link)
            archive_entry_set_symlink(e, es[i].link);
        if (es[i].hard)
            archive_entry_set_hardlink(e, es[i].hard);
        archive_entry_set_size(e, (la_int64_t)es[i].size);
        archive_write_header(a, e);
        if (es[i].size) {
            unsigned char *d = malloc(es[i].size);
            for (size_t k = 0; k < es[i].size; k++)
                d[k] = es[i].zero_fill ? 0 : (unsigned char)('0' + k % 3);
            archive_write_data(a, d, es[i].size);
            free(d);
        }
        archive_entry_free(e);
    }
    archive_write_close(a);
    archive_write_free(a);
    *out_size = used;
    return buf;
}

/* Streams the shard to the end; returns the first failure (and the samples before it in *n). */
static loaa_status stream(const unsigned char *buf, size_t size, const char *name, size_t max_entry, int *n)
{
    loaa_shard_limits lim = {max_entry, 0};
    loaa_shard *sh;
    loaa_error_clear();
    loaa_status st = loaa_shard_open_memory(buf, size, name, &lim, &sh);
    *n = 0;
    if (st)
        return st;
    loaa_raw_sample s;
    memset(&s, 0, sizeof s);
    int got;
    while (!(st = loaa_shard_next(sh, &s, &got)) && got)
        ++*n;
    loaa_raw_sample_clear(&s);
    loaa_shard_close(sh);
    return st;
}

static void test_tar(void)
{
    static const struct {
        entry e;
        const char *what, *needle;
    } hostile[] = {
        {{"/etc/evil.wav", AE_IFREG, NULL, NULL, 4, 0}, "absolute path", "absolute path or '..' refused"},
        {{"../evil.wav", AE_IFREG, NULL, NULL, 4, 0}, "leading ..", "absolute path or '..' refused"},
        {{"a/../../evil.wav", AE_IFREG, NULL, NULL, 4, 0}, ".. inside the path", "absolute path or '..' refused"},
        {{"a/..", AE_IFREG, NULL, NULL, 4, 0}, "trailing ..", "refused"},
        {{"sym.wav", AE_IFLNK, "/etc/passwd", NULL, 0, 0}, "symlink", "links, devices and FIFOs are refused"},
        {{"hard.wav", AE_IFREG, NULL, "/etc/passwd", 0, 0}, "hard link", "links, devices and FIFOs are refused"},
        {{"dev.wav", AE_IFCHR, NULL, NULL, 0, 0}, "character device", "links, devices and FIFOs are refused"},
        {{"blk.wav", AE_IFBLK, NULL, NULL, 0, 0}, "block device", "links, devices and FIFOs are refused"},
        {{"fifo.wav", AE_IFIFO, NULL, NULL, 0, 0}, "FIFO", "links, devices and FIFOs are refused"},
    };
    for (size_t i = 0; i < sizeof hostile / sizeof hostile[0]; i++) {
        entry es[3] = {{"good.cls", AE_IFREG, NULL, NULL, 1, 0}, hostile[i].e, {"after.cls", AE_IFREG, NULL, NULL, 1, 0}};
        size_t size;
        unsigned char *t = make_tar(es, 3, 0, &size);
        int n;
        loaa_status st = stream(t, size, "hostile.tar", 0, &n);
        TAP_OK(refused(st, LOAA_ERR_FORMAT, "hostile.tar") && strstr(loaa_error_detail(), hostile[i].needle) && n == 1,
               "tar entry with a %s refused after the good sample: %s", hostile[i].what, loaa_error_detail());
        free(t);
    }

    /* the entry size cap, on the declared size and on what a stream really yields */
    entry over[2] = {{"k.wav", AE_IFREG, NULL, NULL, 300 << 10, 0}, {"k.cls", AE_IFREG, NULL, NULL, 1, 0}};
    size_t size;
    unsigned char *t = make_tar(over, 2, 0, &size);
    int n;
    long before = peak_mib();
    loaa_status st = stream(t, size, "big.tar", 256 << 10, &n);
    TAP_OK(refused(st, LOAA_ERR_LIMIT, "over the cap") && strstr(loaa_error_detail(), "big.tar"),
           "entry of 300 KiB over a 256 KiB cap refused: %s", loaa_error_detail());
    free(t);

    /* compression bombs: 48 MiB of zeros in a few KiB, gzip and zstd */
    for (int filter = 1; filter <= 2; filter++) {
        entry bomb[2] = {{"z.wav", AE_IFREG, NULL, NULL, 48 << 20, 1}, {"z.cls", AE_IFREG, NULL, NULL, 1, 0}};
        t = make_tar(bomb, 2, filter, &size);
        const char *name = filter == 1 ? "bomb.tar.gz" : "bomb.tar.zst";
        st = stream(t, size, name, 0, &n);
        TAP_OK(refused(st, LOAA_ERR_LIMIT, "compression ratio") && strstr(loaa_error_detail(), name),
               "%s (%zu bytes -> 48 MiB) refused: %s", name, size, loaa_error_detail());
        free(t);
    }
    TAP_OK(peak_mib() - before < 400, "shard bombs stayed within bounded memory (%ld MiB grown)", peak_mib() - before);
}

/* --- .npy and fbank sizes --- */

static void test_sizes(void)
{
    /* a .npy header claiming 2^24 x 2^24 floats over 16 bytes of data */
    char npy[256];
    const char *hdr = "{'descr': '<f4', 'fortran_order': False, 'shape': (16777216, 16777216), }";
    memcpy(npy, "\x93NUMPY\x01\x00", 8);
    size_t hl = strlen(hdr);
    npy[8] = (char)hl;
    npy[9] = 0;
    memcpy(npy + 10, hdr, hl);
    memset(npy + 10 + hl, 0, 16);
    const unsigned char *d;
    int r, c;
    loaa_error_clear();
    loaa_status st = loaa_npy_parse(npy, 10 + hl + 16, "s.tar: key 'k'", &d, &r, &c);
    TAP_OK(st == LOAA_ERR_FORMAT && strstr(loaa_error_detail(), "s.tar: key 'k'"), ".npy shape beyond its data refused: %s",
           loaa_error_detail());

    /* a dataset whose (M, T) input alone is 4 GiB per sample */
    loaa_dataset *ds = NULL;
    loaa_featurizer *f = NULL;
    const char *huge = "{\"name\": \"huge\", \"classes\": [\"a\"], \"fbank\": {\"num_mel_bins\": 1024},"
                       " \"target_length\": 1000000, \"splits\": {\"train\": [], \"val\": [], \"test\": []}}";
    loaa_error_clear();
    st = loaa_dataset_parse(huge, "/nonexistent", 0, &ds);
    if (!st)
        st = loaa_featurizer_create(ds, 0, &f);
    TAP_OK(st == LOAA_ERR_LIMIT && strstr(loaa_error_detail(), "huge"),
           "1024 mel bins x 10^6 frames (4 GiB a sample) refused: %s", loaa_error_detail());
    loaa_featurizer_free(f);
    loaa_dataset_free(ds);

    /* a frame shift of one sample: a long clip would give frames x bins beyond memory */
    ds = NULL;
    f = NULL;
    const char *dense = "{\"name\": \"dense\", \"classes\": [\"a\"], \"sample_rate\": 16000,"
                        " \"fbank\": {\"num_mel_bins\": 1024, \"frame_shift_ms\": 0.0625, \"frame_length_ms\": 1, \"high_freq\": 0},"
                        " \"target_length\": 16, \"splits\": {\"train\": [], \"val\": [], \"test\": []}}";
    loaa_error_clear();
    st = loaa_dataset_parse(dense, "/nonexistent", 0, &ds);
    if (!st)
        st = loaa_featurizer_create(ds, 0, &f);
    if (!st) {
        /* 2^27 samples of silence, as a clip decodes: 2^27 frames x 1024 bins = 512 GiB of features */
        size_t n = (size_t)1 << 27;
        float *wave = calloc(n, sizeof(float));
        float *out = NULL;
        int frames = 0;
        long before = peak_mib();
        double t0 = now();
        loaa_error_clear();
        st = wave ? loaa_featurizer_raw_wave(f, wave, n, 16000, "dense.tar: key 'k'", &out, &frames) : LOAA_ERR_NOMEM;
        TAP_OK(st == LOAA_ERR_LIMIT && strstr(loaa_error_detail(), "dense.tar: key 'k'") &&
                   peak_mib() - before < 1200 && now() - t0 < 10,
               "features of 2^27 frames x 1024 bins refused: %s", loaa_error_detail());
        free(out);
        free(wave);
    } else {
        TAP_OK(st == LOAA_ERR_CONFIG || st == LOAA_ERR_LIMIT, "a one-sample frame shift refused up front: %s",
               loaa_error_detail());
    }
    loaa_featurizer_free(f);
    loaa_dataset_free(ds);
}

int main(void)
{
    snprintf(tmpdir, sizeof tmpdir, "/tmp/loaa-test-bombs-XXXXXX");
    if (!mkdtemp(tmpdir)) {
        perror("mkdtemp");
        return 1;
    }
    test_yaml();
    test_json();
    test_safetensors_cap();
    test_tar();
    test_sizes();
    rmdir(tmpdir);
    return tap_done();
}
