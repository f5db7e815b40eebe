/*
 * cmd_pack.c - `loaa pack RECIPE SOURCE OUTDIR`: a dataset on disk into a
 * loaa dataset folder (worker/pack.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/commands.h"
#include "cli/options.h"
#include "common/status.h"
#include "worker/pack.h"

static const char pack_usage[] =
    "usage: loaa pack RECIPE SOURCE OUTDIR [--samples-per-shard N | --bytes-per-shard B]\n"
    "                 [--compress none|gz|zst] [--resample RATE] [--keep-rate] [--features fbank] [--stats]\n"
    "                 [--target-length T] [--mel M] [--audio-dir DIR] [--name NAME]\n"
    "Recipes: esc50 (SOURCE/meta/esc50.csv + audio/, 5 folds), spc2 (Speech Commands V2: word\n"
    "folders, validation_list.txt, testing_list.txt; _background_noise_ excluded), epic-sounds\n"
    "(SOURCE/EPIC_Sounds_train.csv, EPIC_Sounds_validation.csv [, labelled EPIC_Sounds_test.csv]\n"
    "and VIDEO_ID.wav files in SOURCE, SOURCE/audio or --audio-dir, cut by start/stop_sample;\n"
    "without a labelled test CSV, test = validation), csv (SOURCE is a manifest with header\n"
    "path,label[,split][,fold][,start,end]; paths relative to it; neither split nor fold:\n"
    "80/10/10 by a hash of the path). Every file is decoded while packing; a bad one stops the\n"
    "pack naming it. Shards are written under a temporary name and renamed when complete.\n"
    "Audio is stored resampled (soxr, high quality) to the dataset rate, --resample RATE\n"
    "(default 16000), once, as AST's recipes prepare it; --keep-rate stores the source files'\n"
    "bytes as they are and workers resample every clip on load instead (slower: for 44.1 kHz\n"
    "input about half the per-clip time). --features fbank stores KEY.npy [frames, mel]; --stats measures mean/std on the\n"
    "training split (all folds for k-fold), else the published AST values are written.\n";

static const loaa_opt_choice fbank_choice[] = {{"fbank", 1}, {NULL, 0}};

int cmd_pack(int argc, char **argv)
{
    loaa_pack_opts o;
    loaa_pack_opts_default(&o);
    int64_t bytes_per_shard = -1;
    int rc;
    const loaa_option opts[] = {
        OPT_INT("samples-per-shard", &o.shard.samples_per_shard, 1, 100000000, "N", "samples per tar shard"),
        OPT_INT64("bytes-per-shard", &bytes_per_shard, 4096, 1099511627776.0, "B", "bytes per tar shard instead"),
        OPT_CHOICE("compress", (int *)&o.shard.compress, loaa_cli_compress_choices, "none|gz|zst", "shard compression"),
        OPT_INT("resample", &o.resample, 1000, 768000, "RATE", "the dataset's sample rate (default 16000)"),
        OPT_FLAG("keep-rate", &o.keep_rate, "store the source audio as it is; workers resample on load"),
        OPT_CHOICE("features", &o.features_fbank, fbank_choice, "fbank", "store KEY.npy fbank features [frames, mel]"),
        OPT_FLAG("stats", &o.stats, "measure mean/std on the training split"),
        OPT_INT("target-length", &o.target_length, 1, 1000000, "T", "frames after pad/cut"),
        OPT_INT("mel", &o.mel, 4, 1024, "M", "mel bins"),
        OPT_PATH("audio-dir", &o.audio_dir, "DIR", "epic-sounds: the folder of VIDEO_ID.wav files"),
        OPT_STRING("name", &o.name, "NAME", "the dataset's name"),
        OPT_END(),
    };
    const loaa_cli_spec spec = {.command = "pack", .usage = pack_usage, .options = opts, .max_args = 3};
    int nargs = loaa_cli_parse(&spec, argc, argv, &rc);
    if (nargs < 0)
        return rc;
    if (nargs != 3)
        return loaa_cli_report("pack", loaa_fail(LOAA_ERR_USAGE, "usage: loaa pack RECIPE SOURCE OUTDIR [options] (see loaa help pack)"));
    if (bytes_per_shard > 0)
        o.shard.bytes_per_shard = (size_t)bytes_per_shard;
    loaa_status st = loaa_pack(argv[1], argv[2], argv[3], &o);
    if (st)
        return loaa_cli_report("pack", st);
    printf("packed %s from %s into %s\n", argv[1], argv[2], argv[3]);
    return 0;
}
