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
#include "common/dataset.h"
#include "common/status.h"
#include "common/timer.h"
#include "worker/audio.h"
#include "worker/features.h"
#include "worker/shard.h"
#include "worker/synth.h"

int loaa_bench_data(int argc, char **argv);

int loaa_bench_data(int argc, char **argv)
{
    double clips = 100, seconds = 5, rate = 44100, repeat = 3, target = 512;
    const char *keep = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        int ok = 1;
        if (!strcmp(a, "--clips"))
            ok = loaa_cli_double(a, v, 1, 100000, &clips), i++;
        else if (!strcmp(a, "--seconds"))
            ok = loaa_cli_double(a, v, 0.1, 60, &seconds), i++;
        else if (!strcmp(a, "--rate"))
            ok = loaa_cli_double(a, v, 8000, 192000, &rate), i++;
        else if (!strcmp(a, "--repeat"))
            ok = loaa_cli_double(a, v, 1, 100, &repeat), i++;
        else if (!strcmp(a, "--target-length"))
            ok = loaa_cli_double(a, v, 1, 100000, &target), i++;
        else if (!strcmp(a, "--keep") && v)
            keep = v, i++;
        else if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            printf("usage: loaa bench data [--clips N] [--seconds S] [--rate HZ] [--repeat R] [--target-length T] [--keep DIR]\n"
                   "Times read + decode + resample to 16 kHz + fbank (128 mel, AST) + pad/normalise on one thread\n"
                   "over N synthetic clips (default 100 x 5 s at 44100 Hz, best of 3 passes).\n");
            return 0;
        } else
            ok = (loaa_fail(LOAA_ERR_USAGE, "unknown option '%s' (loaa bench data --help)", a), 0);
        if (!ok)
            return loaa_cli_report("bench data", LOAA_ERR_USAGE);
    }
    char dir[1024];
    if (keep) {
        snprintf(dir, sizeof dir, "%s", keep);
        mkdir(dir, 0755);
    } else {
        snprintf(dir, sizeof dir, "/tmp/loaa-bench-data-XXXXXX");
        if (!mkdtemp(dir))
            return loaa_cli_report("bench data", loaa_fail(LOAA_ERR_IO, "mkdtemp: %s", strerror(errno)));
    }
    char clipdir[1100], shard[1100];
    snprintf(clipdir, sizeof clipdir, "%s/clips", dir);
    snprintf(shard, sizeof shard, "%s/bench.tar", dir);
    if (keep)
        mkdir(clipdir, 0755);
    int n = (int)(seconds * rate);
    float *x = malloc(sizeof(float) * n);
    loaa_shard_writer *w;
    loaa_status st = x ? loaa_shard_writer_open(shard, LOAA_COMPRESS_NONE, &w) : LOAA_ERR_NOMEM;
    for (int i = 0; i < (int)clips && !st; i++) {
        loaa_synth_audio_clip(x, n, (int)rate, i % 12, 7, i);
        void *data;
        size_t size;
        if ((st = loaa_audio_encode_wav(x, (size_t)n, (int)rate, 0, &data, &size)))
            break;
        char name[64];
        snprintf(name, sizeof name, "%06d.wav", i);
        st = loaa_shard_writer_add(w, name, data, size);
        if (!st && keep) {
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
    char json[512];
    snprintf(json, sizeof json,
             "{\"name\": \"bench\", \"classes\": [\"a\"], \"sample_rate\": 16000, \"target_length\": %d, \"mean\": -4.27,"
             " \"std\": 4.57, \"splits\": {\"train\": [], \"val\": [], \"test\": []}}",
             (int)target);
    loaa_dataset *ds = NULL;
    loaa_featurizer *feat = NULL;
    if (!st)
        st = loaa_dataset_parse(json, dir, 0, &ds);
    if (!st)
        st = loaa_featurizer_create(ds, 0, &feat);
    float *out = feat ? malloc(sizeof(float) * loaa_featurizer_rows(feat) * loaa_featurizer_frames(feat)) : NULL;
    double best = 0;
    long done = 0;
    for (int r = 0; r < (int)repeat && !st; r++) {
        double t0 = loaa_now();
        loaa_shard *sh;
        if ((st = loaa_shard_open(shard, NULL, &sh)))
            break;
        loaa_raw_sample s;
        memset(&s, 0, sizeof s);
        int got;
        done = 0;
        while (!(st = loaa_shard_next(sh, &s, &got)) && got) {
            if ((st = loaa_featurizer_run(feat, out, s.audio, s.audio_size, s.audio_ext, 0, -1, s.key)))
                break;
            done++;
        }
        loaa_raw_sample_clear(&s);
        loaa_shard_close(sh);
        double rate_now = done / (loaa_now() - t0);
        best = rate_now > best ? rate_now : best;
    }
    free(out);
    loaa_featurizer_free(feat);
    loaa_dataset_free(ds);
    if (!keep) {
        remove(shard);
        rmdir(dir);
    }
    if (st)
        return loaa_cli_report("bench data", st);
    printf("bench data: %ld clips of %.1f s at %.0f Hz -> 16000 Hz, fbank 128 mel, %d frames, 1 thread\n", done, seconds, rate,
           (int)target);
    printf("result: clips_per_s=%.2f audio_seconds_per_s=%.1f\n", best, best * seconds);
    return 0;
}
