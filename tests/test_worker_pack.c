/*
 * test_worker_pack.c - `loaa pack` round trips: small generated inputs in
 * each release layout (ESC-50, Speech Commands V2, EPIC-SOUNDS, a CSV
 * manifest) are packed and streamed back through the loader; labels,
 * splits/folds, cuts, resampling, stored fbank and statistics are checked,
 * and bad packer inputs name the file (and line).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/config.h"
#include "common/dataset.h"
#include "tap.h"
#include "worker/audio.h"
#include "worker/loader.h"
#include "worker/pack.h"
#include "worker/shard.h"

static char tmp[512];

static void put(const char *rel, const char *text)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", tmp, rel);
    FILE *f = fopen(path, "w");
    if (f) {
        fputs(text, f);
        fclose(f);
    }
}

static void dir(const char *rel)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", tmp, rel);
    mkdir(path, 0755);
}

/* A WAV of n samples at rate whose first sample encodes `tag` (so cuts can be checked). */
static void wav(const char *rel, int rate, int n, double f)
{
    float *x = malloc(sizeof(float) * n);
    for (int i = 0; i < n; i++)
        x[i] = (float)(0.3 * sin(2 * M_PI * f * i / rate));
    void *d;
    size_t s;
    loaa_audio_encode_wav(x, (size_t)n, rate, 0, &d, &s);
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", tmp, rel);
    FILE *fp = fopen(path, "wb");
    fwrite(d, 1, s, fp);
    fclose(fp);
    free(d);
    free(x);
}

/* Streams one split; counts samples and checks every label is in [0, C). Returns -1 on error. */
static long stream(const char *out, loaa_split split, int fold, int *label_hist, int C)
{
    loaa_dataset *ds;
    if (loaa_dataset_open(out, &ds))
        return -1;
    loaa_config cfg;
    loaa_config_defaults(&cfg);
    cfg.batch_size = 4;
    cfg.fold = fold;
    loaa_loader *l;
    if (loaa_loader_open(&l, ds, &cfg, split, 0)) {
        loaa_dataset_free(ds);
        return -1;
    }
    int M = loaa_loader_n_mel(l), T = loaa_loader_target_length(l);
    float *x = malloc(sizeof(float) * 4 * M * T), *y = malloc(sizeof(float) * 4 * C);
    int lab[4], n;
    long total = 0;
    loaa_status st;
    while (!(st = loaa_loader_next(l, x, y, lab, &n)) && n > 0)
        for (int j = 0; j < n; j++) {
            total++;
            if (lab[j] >= 0 && lab[j] < C && label_hist)
                label_hist[lab[j]]++;
            for (int i = 0; i < M * T; i++)
                if (!isfinite(x[(size_t)j * M * T + i]))
                    total = -1000000;
        }
    if (st)
        TAP_DIAG("stream %s: %s", out, loaa_error_detail());
    loaa_loader_close(l);
    loaa_dataset_free(ds);
    free(x);
    free(y);
    return st ? -1 : total;
}

/* The sample rate and size of the first audio entry of the dataset at out (test split, fold 1 for k-fold). */
static int first_entry_rate(const char *out, size_t *bytes)
{
    loaa_dataset *ds = NULL;
    const char *const *paths;
    int count = 0, rate = -1;
    loaa_shard *sh = NULL;
    if (loaa_dataset_open(out, &ds) || loaa_dataset_shards(ds, LOAA_SPLIT_TEST, 1, &paths, &count) || count < 1 ||
        loaa_shard_open(paths[0], NULL, &sh)) {
        loaa_dataset_free(ds);
        return -1;
    }
    loaa_raw_sample r;
    memset(&r, 0, sizeof r);
    int got = 0;
    float *x = NULL;
    size_t n = 0;
    if (!loaa_shard_next(sh, &r, &got) && got && r.audio && !loaa_audio_decode(r.audio, r.audio_size, r.key, &x, &n, &rate))
        *bytes = r.audio_size;
    free(x);
    loaa_raw_sample_clear(&r);
    loaa_shard_close(sh);
    loaa_dataset_free(ds);
    return rate;
}

static void test_esc50(void)
{
    dir("esc");
    dir("esc/meta");
    dir("esc/audio");
    char csv[8192] = "filename,fold,target,category,esc10,src_file,take\n";
    for (int fold = 1; fold <= 5; fold++)
        for (int t = 0; t < 3; t++) {
            char name[64], line[256];
            snprintf(name, sizeof name, "%d-%d00-A-%d.wav", fold, t, t);
            snprintf(line, sizeof line, "%s,%d,%d,%s,False,%d00,A\n", name, fold, t, t == 0 ? "dog" : t == 1 ? "rain" : "crow", t);
            strncat(csv, line, sizeof csv - strlen(csv) - 1);
            char rel[128];
            snprintf(rel, sizeof rel, "esc/audio/%s", name);
            wav(rel, 44100, 44100 / 2, 300 + 200 * t);
        }
    put("esc/meta/esc50.csv", csv);
    char src[1024], out[1024];
    snprintf(src, sizeof src, "%s/esc", tmp);
    snprintf(out, sizeof out, "%s/esc-out", tmp);
    loaa_pack_opts o;
    loaa_pack_opts_default(&o);
    o.resample = 16000;
    o.stats = 1;
    o.shard.compress = LOAA_COMPRESS_GZ;
    o.shard.samples_per_shard = 2;
    loaa_status st = loaa_pack("esc50", src, out, &o);
    TAP_OK(st == LOAA_OK, "esc50: packed with --resample 16000 --stats --compress gz (%s)", st ? loaa_error_detail() : "");
    loaa_dataset *ds;
    st = loaa_dataset_open(out, &ds);
    TAP_OK(!st && loaa_dataset_num_folds(ds) == 5 && loaa_dataset_num_classes(ds) == 3 &&
               !strcmp(loaa_dataset_class_name(ds, 1), "rain") && loaa_dataset_target_length(ds) == 512 &&
               fabs(loaa_dataset_mean(ds) + 6.6268077) > 1e-3,
           "esc50: 5 folds, classes by target, target_length 512, measured stats (mean %.3f)", ds ? loaa_dataset_mean(ds) : 0);
    loaa_dataset_free(ds);
    int hist[3] = {0};
    TAP_OK(stream(out, LOAA_SPLIT_TRAIN, 2, hist, 3) == 9 && hist[0] == 3 && hist[2] == 3, "esc50 fold 2: 9 training clips, 3 per class");
    TAP_OK(stream(out, LOAA_SPLIT_TEST, 2, NULL, 3) == 3 && stream(out, LOAA_SPLIT_VAL, 5, NULL, 3) == 3, "esc50: test and val folds hold 3 each");
    /* by default the 44.1 kHz clips are stored at the dataset rate; --keep-rate stores the source files' bytes */
    size_t bytes = 0;
    loaa_pack_opts_default(&o);
    st = loaa_pack("esc50", src, out, &o);
    int rate = st ? -2 : first_entry_rate(out, &bytes);
    TAP_OK(rate == 16000, "esc50: stored at the dataset rate by default (entry at %d Hz)", rate);
    o.keep_rate = 1;
    st = loaa_pack("esc50", src, out, &o);
    rate = st ? -2 : first_entry_rate(out, &bytes);
    TAP_OK(rate == 44100 && bytes == 44 + 2 * 44100 / 2, "esc50: --keep-rate stores the source files (%d Hz, %zu bytes)", rate, bytes);
    int h2[3] = {0};
    TAP_OK(stream(out, LOAA_SPLIT_TRAIN, 2, h2, 3) == 9, "esc50: --keep-rate clips are resampled on load");
    /* a missing clip names the CSV line */
    put("esc/meta/esc50.csv", "filename,fold,target,category\n1-000-A-0.wav,1,0,dog\nmissing.wav,1,0,dog\n");
    st = loaa_pack("esc50", src, out, &o);
    TAP_OK(st == LOAA_ERR_NOTFOUND && strstr(loaa_error_detail(), "esc50.csv:3") && strstr(loaa_error_detail(), "missing.wav"),
           "esc50: a missing file names the CSV line: %s", loaa_error_detail());
}

static void test_spc2(void)
{
    static const char *const words[] = {"yes", "no", "up"};
    dir("spc");
    dir("spc/_background_noise_");
    wav("spc/_background_noise_/white_noise.wav", 16000, 16000, 100);
    char val[1024] = "", test[1024] = "";
    for (int w = 0; w < 3; w++) {
        char d[64];
        snprintf(d, sizeof d, "spc/%s", words[w]);
        dir(d);
        for (int i = 0; i < 4; i++) {
            char rel[128], line[128];
            snprintf(rel, sizeof rel, "spc/%s/abc%d_nohash_%d.wav", words[w], i, i);
            wav(rel, 16000, 16000, 200 + 300 * w);
            snprintf(line, sizeof line, "%s/abc%d_nohash_%d.wav\n", words[w], i, i);
            if (i == 1)
                strncat(val, line, sizeof val - strlen(val) - 1);
            if (i == 2)
                strncat(test, line, sizeof test - strlen(test) - 1);
        }
    }
    put("spc/validation_list.txt", val);
    put("spc/testing_list.txt", test);
    char src[1024], out[1024];
    snprintf(src, sizeof src, "%s/spc", tmp);
    snprintf(out, sizeof out, "%s/spc-out", tmp);
    loaa_pack_opts o;
    loaa_pack_opts_default(&o);
    o.shard.compress = LOAA_COMPRESS_ZST;
    loaa_status st = loaa_pack("spc2", src, out, &o);
    loaa_dataset *ds = NULL;
    if (!st)
        st = loaa_dataset_open(out, &ds);
    TAP_OK(!st && loaa_dataset_num_classes(ds) == 3 && !strcmp(loaa_dataset_class_name(ds, 0), "no") &&
               loaa_dataset_target_length(ds) == 128 && loaa_dataset_num_folds(ds) == 0,
           "spc2: 3 words (sorted), no background noise class, target_length 128 (%s)", st ? loaa_error_detail() : "");
    loaa_dataset_free(ds);
    TAP_OK(stream(out, LOAA_SPLIT_TRAIN, -1, NULL, 3) == 6 && stream(out, LOAA_SPLIT_VAL, -1, NULL, 3) == 3 &&
               stream(out, LOAA_SPLIT_TEST, -1, NULL, 3) == 3,
           "spc2: 6 train / 3 validation / 3 test from the lists");
    char list[1100];
    snprintf(list, sizeof list, "%s/testing_list.txt", src);
    remove(list);
    st = loaa_pack("spc2", src, out, &o);
    TAP_OK(st == LOAA_ERR_NOTFOUND && strstr(loaa_error_detail(), "testing_list.txt"), "spc2: a missing list names it: %s",
           loaa_error_detail());
}

static void test_epic(void)
{
    dir("epic");
    dir("epic/audio");
    wav("epic/audio/P01_01.wav", 24000, 24000 * 3, 500);
    wav("epic/audio/P02_03.wav", 24000, 24000 * 2, 900);
    const char *hdr = "annotation_id,participant_id,video_id,start_timestamp,stop_timestamp,start_sample,stop_sample,description,class,class_id\n";
    char train[2048], val[1024];
    snprintf(train, sizeof train,
             "%sP01_01_0,P01,P01_01,00:00:00.000,00:00:00.500,0,12000,\"rustle, paper\",rustle,1\n"
             "P01_01_1,P01,P01_01,00:00:01.000,00:00:02.000,24000,48000,water tap,water,0\n"
             "P02_03_0,P02,P02_03,00:00:00.100,00:00:01.100,2400,26400,cut,cut,2\n",
             hdr);
    snprintf(val, sizeof val, "%sP02_03_1,P02,P02_03,00:00:01.000,00:00:01.500,24000,36000,\"water, running\",water,0\n", hdr);
    put("epic/EPIC_Sounds_train.csv", train);
    put("epic/EPIC_Sounds_validation.csv", val);
    char src[1024], out[1024];
    snprintf(src, sizeof src, "%s/epic", tmp);
    snprintf(out, sizeof out, "%s/epic-out", tmp);
    loaa_pack_opts o;
    loaa_pack_opts_default(&o);
    o.features_fbank = 1;
    o.stats = 1;
    o.target_length = 64;
    loaa_status st = loaa_pack("epic-sounds", src, out, &o);
    TAP_OK(st == LOAA_OK, "epic-sounds: packed with --features fbank --stats (%s)", st ? loaa_error_detail() : "");
    int hist[3] = {0};
    TAP_OK(stream(out, LOAA_SPLIT_TRAIN, -1, hist, 3) == 3 && hist[0] == 1 && hist[1] == 1 && hist[2] == 1,
           "epic-sounds: 3 training segments with class_id labels, read from stored fbank");
    TAP_OK(stream(out, LOAA_SPLIT_VAL, -1, NULL, 3) == 1 && stream(out, LOAA_SPLIT_TEST, -1, NULL, 3) == 1,
           "epic-sounds: without a labelled test CSV, test = validation");
    /* a segment past the end of its recording names the CSV line */
    snprintf(val, sizeof val, "%sP02_03_9,P02,P02_03,a,b,24000,96000,x,water,0\n", hdr);
    put("epic/EPIC_Sounds_validation.csv", val);
    st = loaa_pack("epic-sounds", src, out, &o);
    TAP_OK(st == LOAA_ERR_CONFIG && strstr(loaa_error_detail(), "EPIC_Sounds_validation.csv:2"),
           "epic-sounds: a segment outside its recording names file and line: %s", loaa_error_detail());
}

static void test_csv(void)
{
    dir("c");
    dir("c/clips");
    char man[4096] = "path,label,split,start,end\n";
    static const char *const sp[] = {"train", "train", "val", "test"};
    for (int i = 0; i < 8; i++) {
        char rel[64], line[256];
        snprintf(rel, sizeof rel, "c/clips/%d.wav", i);
        wav(rel, 22050, 22050, 300 + i * 50);
        snprintf(line, sizeof line, "clips/%d.wav,%s,%s,%s,%s\n", i, i % 2 ? "cat" : "bird", sp[i % 4], i == 3 ? "100" : "",
                 i == 3 ? "11000" : "");
        strncat(man, line, sizeof man - strlen(man) - 1);
    }
    put("c/manifest.csv", man);
    char src[1024], out[1024];
    snprintf(src, sizeof src, "%s/c/manifest.csv", tmp);
    snprintf(out, sizeof out, "%s/csv-out", tmp);
    loaa_pack_opts o;
    loaa_pack_opts_default(&o);
    o.shard.bytes_per_shard = 50000;
    loaa_status st = loaa_pack("csv", src, out, &o);
    TAP_OK(st == LOAA_OK, "csv: packed with --bytes-per-shard (%s)", st ? loaa_error_detail() : "");
    int hist[2] = {0};
    TAP_OK(stream(out, LOAA_SPLIT_TRAIN, -1, hist, 2) == 4 && hist[0] == 2 && hist[1] == 2 && stream(out, LOAA_SPLIT_TEST, -1, NULL, 2) == 2,
           "csv: split column honoured, labels sorted (bird 0, cat 1), a cut clip streams");
    char path[1100];
    snprintf(path, sizeof path, "%s/train-000001.tar", out);
    struct stat sb;
    TAP_OK(stat(path, &sb) == 0, "csv: byte limit rolled over to a second training shard");
    put("c/manifest.csv", "path,label,fold\nclips/0.wav,a,1\nclips/1.wav,b\n");
    st = loaa_pack("csv", src, out, &o);
    TAP_OK(st == LOAA_ERR_PARSE && strstr(loaa_error_detail(), "manifest.csv:3"), "csv: a short row names file and line: %s",
           loaa_error_detail());
    put("c/manifest.csv", "path,label\nclips/0.wav,a\nclips/nope.wav,b\n");
    st = loaa_pack("csv", src, out, &o);
    TAP_OK(st == LOAA_ERR_NOTFOUND && strstr(loaa_error_detail(), "nope.wav"), "csv: a missing file is named: %s", loaa_error_detail());
    put("c/bad.wav", "RIFF1234WAVEfmt garbage");
    put("c/manifest.csv", "path,label\nclips/0.wav,a\nbad.wav,b\n");
    st = loaa_pack("csv", src, out, &o);
    TAP_OK(st == LOAA_ERR_FORMAT && strstr(loaa_error_detail(), "bad.wav") && strstr(loaa_error_detail(), "manifest.csv:3"),
           "csv: an unreadable file is named with its line: %s", loaa_error_detail());
    st = loaa_pack("nope", src, out, &o);
    TAP_OK(st == LOAA_ERR_USAGE, "unknown recipe refused");
    /* no temporary shard is left behind by a failed pack */
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "ls %s | grep -q tmp", out);
    TAP_OK(system(cmd) != 0, "no temporary shard files remain after failures");
}

int main(void)
{
    snprintf(tmp, sizeof tmp, "/tmp/loaa-test-pack-XXXXXX");
    if (!mkdtemp(tmp))
        return 1;
    test_esc50();
    test_spc2();
    test_epic();
    test_csv();
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp);
    if (system(cmd) != 0)
        TAP_DIAG("could not remove %s", tmp);
    return tap_done();
}
