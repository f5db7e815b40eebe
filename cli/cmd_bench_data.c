/*
 * cmd_bench_data.c - `loaa bench data`: clips/s of the data front end on one
 * thread -- read from a tar shard, decode the WAV, resample to 16 kHz, Kaldi
 * fbank (AST settings), pad and normalise -- on synthetic ESC-50-like clips
 * (44.1 kHz, 5 s). --keep DIR leaves the clips as DIR/clips/NNNNNN.wav (and
 * the shard) so bench/bench_data_torch.py can time torchaudio on the same
 * clips; bench/bench_data.sh runs both and prints the ratio.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/commands.h"
#include "cli/options.h"
#include "common/config.h"
#include "common/dataset.h"
#include "common/fs.h"
#include "common/status.h"
#include "common/timer.h"
#include "worker/audio.h"
#include "worker/features.h"
#include "worker/shard.h"
#include "worker/synth.h"

int loaa_bench_data(int argc, char **argv);

typedef struct data_opts {
    int clips, rate, repeat, target;
    double seconds;
    const char *keep; /* NULL: a temporary folder, removed afterwards */
} data_opts;

static const char data_usage[] =
    "usage: loaa bench data [--clips N] [--seconds S] [--rate HZ] [--repeat R] [--target-length T] [--keep DIR]\n"
    "Times read + decode + resample to 16 kHz + fbank (128 mel, AST) + pad/normalise on one thread\n"
    "over N synthetic clips (default 100 x 5 s at 44100 Hz, best of 3 passes).\n";

/* Writes o->clips synthetic WAV clips into the tar shard (and, with --keep, as clipdir/NNNNNN.wav too). */
static loaa_status write_clips(const data_opts *o, const char *shard, const char *clipdir)
{
    int n = (int)(o->seconds * o->rate);
    float *x = malloc(sizeof(float) * n);
    loaa_shard_writer *w;
    loaa_status st = x ? loaa_shard_writer_open(shard, LOAA_COMPRESS_NONE, &w) : LOAA_ERR_NOMEM;
    for (int i = 0; i < o->clips && !st; i++) {
        loaa_synth_audio_clip(x, n, o->rate, i % 12, 7, i);
        void *data;
        size_t size;
        if ((st = loaa_audio_encode_wav(x, (size_t)n, o->rate, 0, &data, &size)))
            break;
        char name[64];
        snprintf(name, sizeof name, "%06d.wav", i);
        st = loaa_shard_writer_add(w, name, data, size);
        if (!st && o->keep) {
            char path[1200];
            snprintf(path, sizeof path, "%s/%s", clipdir, name);
            FILE *f = fopen(path, "wb");
            if (!f || fwrite(data, 1, size, f) != size)
                st = loaa_fail(LOAA_ERR_IO, "%s: cannot write", path);
            if (f)
                fclose(f);
        }
        snprintf(name, sizeof name, "%06d.cls", i);
        if (!st)
            st = loaa_shard_writer_add(w, name, "0", 1);
        free(data);
    }
    if (!st)
        st = loaa_shard_writer_finish(w);
    free(x);
    return st;
}

/* The best clips/s over o->repeat passes of the front end over the shard (*done: clips of the last pass). */
static loaa_status time_front_end(const data_opts *o, const char *dir, const char *shard, double *best, long *done)
{
    char json[512];
    snprintf(json, sizeof json,
             "{\"name\": \"bench\", \"classes\": [\"a\"], \"sample_rate\": 16000, \"target_length\": %d, \"mean\": -4.27,"
             " \"std\": 4.57, \"splits\": {\"train\": [], \"val\": [], \"test\": []}}",
             o->target);
    loaa_dataset *ds = NULL;
    loaa_featurizer *feat = NULL;
    loaa_status st = loaa_dataset_parse(json, dir, 0, &ds);
    if (!st)
        st = loaa_featurizer_create(ds, 0, &feat);
    float *out = feat ? malloc(sizeof(float) * loaa_featurizer_rows(feat) * loaa_featurizer_frames(feat)) : NULL;
    *best = 0;
    *done = 0;
    for (int r = 0; r < o->repeat && !st; r++) {
        double t0 = loaa_now();
        loaa_shard *sh;
        if ((st = loaa_shard_open(shard, NULL, &sh)))
            break;
        loaa_raw_sample s;
        memset(&s, 0, sizeof s);
        int got;
        *done = 0;
        while (!(st = loaa_shard_next(sh, &s, &got)) && got) {
            if ((st = loaa_featurizer_run(feat, out, s.audio, s.audio_size, s.audio_ext, 0, -1, s.key)))
                break;
            (*done)++;
        }
        loaa_raw_sample_clear(&s);
        loaa_shard_close(sh);
        double rate_now = *done / (loaa_now() - t0);
        *best = rate_now > *best ? rate_now : *best;
    }
    free(out);
    loaa_featurizer_free(feat);
    loaa_dataset_free(ds);
    return st;
}

int loaa_bench_data(int argc, char **argv)
{
    data_opts o = {.clips = 100, .rate = 44100, .repeat = 3, .target = 512, .seconds = 5};
    int rc;
    const loaa_option opts[] = {
        OPT_INT("clips", &o.clips, 1, 100000, "N", "synthetic clips (default 100)"),
        OPT_DOUBLE("seconds", &o.seconds, 0.1, 60, "S", "clip length (default 5)"),
        OPT_INT("rate", &o.rate, 8000, 192000, "HZ", "the clips' sample rate (default 44100)"),
        OPT_INT("repeat", &o.repeat, 1, 100, "R", "passes, best kept (default 3)"),
        OPT_INT("target-length", &o.target, 1, 100000, "T", "frames after pad/cut (default 512)"),
        OPT_PATH("keep", &o.keep, "DIR", "keep the clips as DIR/clips/NNNNNN.wav and the shard"),
        OPT_END(),
    };
    const loaa_cli_spec spec = {.command = "bench data", .usage = data_usage, .options = opts};
    if (loaa_cli_parse(&spec, argc, argv, &rc) < 0)
        return rc;
    char dir[LOAA_PATH_MAX];
    if (o.keep) {
        loaa_status made = strlen(o.keep) < sizeof dir - 16 ? loaa_fs_make_dirs(o.keep)
                                                           : loaa_fail(LOAA_ERR_LIMIT, "--keep %s: path too long", o.keep);
        if (made)
            return loaa_cli_report("bench data", made);
        snprintf(dir, sizeof dir, "%s", o.keep);
    } else {
        snprintf(dir, sizeof dir, "/tmp/loaa-bench-data-XXXXXX");
        if (!mkdtemp(dir))
            return loaa_cli_report("bench data", loaa_fail(LOAA_ERR_IO, "mkdtemp: %s", strerror(errno)));
    }
    char clipdir[LOAA_PATH_MAX + 16], shard[LOAA_PATH_MAX + 16];
    snprintf(clipdir, sizeof clipdir, "%s/clips", dir);
    snprintf(shard, sizeof shard, "%s/bench.tar", dir);
    loaa_status st = o.keep ? loaa_fs_make_dirs(clipdir) : LOAA_OK;
    if (st)
        return loaa_cli_report("bench data", st);
    double best = 0;
    long done = 0;
    st = write_clips(&o, shard, clipdir);
    if (!st)
        st = time_front_end(&o, dir, shard, &best, &done);
    if (!o.keep) {
        remove(shard);
        rmdir(dir);
    }
    if (st)
        return loaa_cli_report("bench data", st);
    printf("bench data: %ld clips of %.1f s at %d Hz -> 16000 Hz, fbank 128 mel, %d frames, 1 thread\n", done, o.seconds, o.rate,
           o.target);
    printf("result: clips_per_s=%.2f audio_seconds_per_s=%.1f\n", best, best * o.seconds);
    return 0;
}
