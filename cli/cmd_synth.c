/*
 * cmd_synth.c - `loaa synth`: writes a deterministic synthetic audio or
 * image dataset (worker/synth.h) in the loaa dataset layout.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/commands.h"
#include "cli/options.h"
#include "common/status.h"
#include "worker/synth.h"

static const char synth_usage[] =
    "usage: loaa synth [--kind audio|images] [--seed S] [--clips N] [--folds K | --splits [TR,VA,TE]] OUTDIR\n"
    "                  [--seconds S] [--mel M] [--target-length T] [--size PX]\n"
    "                  [--samples-per-shard N] [--compress none|gz|zst]\n"
    "Audio (default): 12 classes differing in time-frequency structure (chirps up/down/up-down,\n"
    "tone sequences up/down, AM, FM, low/high noise bands, slow/fast clicks, harmonic stacks),\n"
    "16 kHz WAV, 1 s clips, 128 mel bins, random pitch/timing/loudness/noise. Images: 12 classes\n"
    "(gratings at 4 orientations, disk, square, triangle, ring, checkerboard, 1/f noise, dots,\n"
    "edge) as KEY.npy float32 [rows, cols], 64 px. Defaults: --seed 0 --clips 600 --folds 5\n"
    "(clip i: class i mod C, fold (i / C) mod K); --splits alone means 0.8,0.1,0.1.\n"
    "dataset.json holds mean/std of the features over all clips.\n";

static const loaa_opt_choice kind_choices[] = {{"audio", 0}, {"images", 1}, {"image", 1}, {NULL, 0}};

/* --splits [TRAIN,VAL,TEST]: splits instead of folds, with these fractions when given. */
static loaa_status set_splits(void *dest, const char *value)
{
    loaa_synth_opts *o = dest;
    double f[3];
    o->folds = 0;
    if (!value)
        return LOAA_OK;
    if (sscanf(value, "%lf,%lf,%lf", &f[0], &f[1], &f[2]) != 3 || f[0] <= 0 || f[1] < 0 || f[2] < 0)
        return loaa_fail(LOAA_ERR_USAGE, "--splits takes TRAIN,VAL,TEST fractions, e.g. 0.8,0.1,0.1, got '%s'", value);
    memcpy(o->split_frac, f, sizeof f);
    return LOAA_OK;
}

int cmd_synth(int argc, char **argv)
{
    loaa_synth_opts o;
    loaa_synth_opts_default(&o);
    int64_t seed = (int64_t)o.seed;
    int rc;
    const loaa_option opts[] = {
        OPT_CHOICE("kind", &o.images, kind_choices, "audio|images", "audio clips (default) or images"),
        OPT_INT64("seed", &seed, 0, 9007199254740991.0, "S", "every random choice (default 0)"),
        OPT_INT("clips", &o.clips, 1, 10000000, "N", "number of clips (default 600)"),
        OPT_INT("folds", &o.folds, 3, 100, "K", "k folds (default 5)"),
        {.kind = LOAA_OPT_CALLBACK, .name = "splits", .dest = &o, .cb = set_splits, .arg = "TR,VA,TE",
         .flags = LOAA_OPT_NUMERIC_OPTARG, .help = "train/val/test splits instead of folds (default 0.8,0.1,0.1)"},
        OPT_DOUBLE("seconds", &o.seconds, 0.1, 60, "S", "audio clip length"),
        OPT_INT("mel", &o.mel, 8, 512, "M", "fbank mel bins"),
        OPT_INT("target-length", &o.target_length, 1, 100000, "T", "frames after pad/cut (default: one clip's)"),
        OPT_INT("size", &o.size, 16, 512, "PX", "image side in pixels"),
        OPT_INT("samples-per-shard", &o.shard.samples_per_shard, 1, 100000000, "N", "samples per tar shard"),
        OPT_CHOICE("compress", (int *)&o.shard.compress, loaa_cli_compress_choices, "none|gz|zst", "shard compression"),
        OPT_END(),
    };
    const loaa_cli_spec spec = {.command = "synth", .usage = synth_usage, .options = opts, .max_args = 1};
    int nargs = loaa_cli_parse(&spec, argc, argv, &rc);
    if (nargs < 0)
        return rc;
    if (nargs == 0)
        return loaa_cli_report("synth", loaa_fail(LOAA_ERR_USAGE, "OUTDIR missing (see loaa help synth)"));
    o.seed = (uint64_t)seed;
    const char *outdir = argv[1];
    loaa_status st = loaa_synth(outdir, &o);
    if (st)
        return loaa_cli_report("synth", st);
    printf("wrote %d synthetic %s clips (%d classes) to %s\n", o.clips, o.images ? "image" : "audio",
           loaa_synth_num_classes(o.images), outdir);
    return 0;
}
