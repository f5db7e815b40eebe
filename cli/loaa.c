/*
 * loaa.c - the `loaa` binary: global flags, then one subcommand from a
 * static {name, fn, help} table (git style).
 */
#include "config.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/commands.h"
#include "common/log.h"
#include "common/status.h"
#include "kernels/gemm.h"
#include "worker/launcher.h"

const loaa_command loaa_commands[] = {
    {"help", cmd_help, "show commands, or the full help of one (loaa help CMD; loaa help keys)",
     "usage: loaa help [COMMAND | keys]\n"},
    {"version", cmd_version, "print the version and the libraries in use",
     "usage: loaa version   (also: loaa --version)\n"},
    {"config", cmd_config, "validate a trial config; print its canonical JSON and identity hash",
     "usage: loaa config [CONFIG.json] [--KEY VALUE ...] [--no-hash]\n"
     "Reads a trial config (JSON file and/or --key value flags, flags last wins),\n"
     "validates it, and prints the canonical JSON of its identity keys and the\n"
     "identity hash (SHA-256, with dataset and backbone replaced by their file\n"
     "hashes; --no-hash skips reading those files).\n"},
    {"bench", cmd_bench, "benchmarks: bench step (training step), bench data (front end), bench gemm (BLAS vs ScaLAPACK)",
     "usage: loaa bench SUBCOMMAND [FLAGS]   (loaa bench step --help)\n"},
    {"synth", cmd_synth, "write a deterministic synthetic audio or image dataset (loaa dataset layout)",
     "usage: loaa synth [--kind audio|images] [--seed S] [--clips N] [--folds K | --splits [TR,VA,TE]] OUTDIR\n"
     "                  [--seconds S] [--mel M] [--target-length T] [--size PX]\n"
     "                  [--samples-per-shard N] [--compress none|gz|zst]\n"
     "Audio (default): 12 classes differing in time-frequency structure (chirps up/down/up-down,\n"
     "tone sequences up/down, AM, FM, low/high noise bands, slow/fast clicks, harmonic stacks),\n"
     "16 kHz WAV, 1 s clips, 128 mel bins, random pitch/timing/loudness/noise. Images: 12 classes\n"
     "(gratings at 4 orientations, disk, square, triangle, ring, checkerboard, 1/f noise, dots,\n"
     "edge) as KEY.npy float32 [rows, cols], 64 px. Defaults: --seed 0 --clips 600 --folds 5\n"
     "(clip i: class i mod C, fold (i / C) mod K); --splits alone means 0.8,0.1,0.1.\n"
     "dataset.json holds mean/std of the features over all clips.\n"},
    {"predict", cmd_predict, "classify audio files with a trained adapter file (top-k classes, --json)",
     "usage: loaa predict --adapter A.safetensors [--backbone B.safetensors|none] [--top K] [--json] FILE...\n"
     "Rebuilds the trial's model from the adapter file (its config, classes and front end) on the\n"
     "backbone it was trained on, and prints the top K (default 5) classes of each file with their\n"
     "probabilities (softmax; sigmoid for bce trials). FILE is audio (WAV, FLAC, ...) or a precomputed\n"
     "fbank .npy float32 [frames, mel]. The backbone's SHA-256 must match the one the adapter records;\n"
     "--backbone none (the default) is for adapters of trials trained from scratch, which hold every\n"
     "weight. --json prints one document with the top classes and the logits of every file.\n"},
    {"sweep", cmd_sweep, "run a sweep file's trials under mpirun, recording results in SQLite",
     "usage: mpirun -np N loaa sweep FILE.yaml --db results.db [--artifacts DIR] [--retry-failed]\n"
     "                  [--max-trials N] [--progress|--no-progress]\n"
     "       loaa sweep --dry-run FILE.yaml [--db results.db]\n"
     "Rank 0 coordinates (the only database writer); ranks 1..N-1 train in groups of\n"
     "ranks_per_trial. Rerunning the same command resumes: finished trials are kept,\n"
     "interrupted ones continue from their last checkpoint; --retry-failed reruns failed\n"
     "trials. --artifacts (default: 'artifacts' beside the database) holds checkpoints,\n"
     "adapter files and per-trial logs. --dry-run prints the expanded trials and their count.\n"},
    {"train", cmd_train, "train one trial config in this process (no MPI needed)",
     "usage: loaa train [CONFIG.json] [--KEY VALUE ...] [--out DIR] [--json]\n"
     "Runs one trial through the sweep's trial runner and prints a line per epoch and the\n"
     "final metrics (--json: the result as JSON). --out DIR keeps checkpoints and the\n"
     "adapter file there (and resumes from DIR/last.ckpt).\n"},
    {"report", cmd_report, "leaderboards and the cross-dataset table of a results database",
     "usage: loaa report --db results.db [--sweep S] [--dataset D] [--method M] [--where KEY=VALUE ...]\n"
     "                   [--metric NAME] [--leaderboard] [--cross] [--top N]\n"
     "                   [--format table|csv|json|markdown] [--html FILE]\n"
     "--where takes KEY OP VALUE on the trial config (OP: = != < <= > >=). Cells of the\n"
     "cross-dataset table are mean +- std over seeds and folds. --html writes one\n"
     "self-contained page with learning curves and comparison charts.\n"},
    {"export", cmd_export, "copy a finished trial's adapter (or backbone) file out, with a JSON card",
     "usage: loaa export --db results.db (--trial N | --best --dataset D [--sweep S]) [--metric M]\n"
     "                   [--backbone] [--out FILE]\n"},
    {"pack", cmd_pack, "turn a dataset on disk (esc50, spc2, epic-sounds, csv) into a loaa dataset folder",
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
     "training split (all folds for k-fold), else the published AST values are written.\n"},
    {NULL, NULL, NULL, NULL},
};

static void print_command_list(FILE *out)
{
    fprintf(out, "usage: loaa [-q|-v] COMMAND [ARGS]\n\ncommands:\n");
    for (const loaa_command *c = loaa_commands; c->name; c++)
        fprintf(out, "  %-10s %s\n", c->name, c->help);
    fprintf(out, "\n'loaa help COMMAND' shows one command in full; 'loaa help keys' the trial keys.\n");
}

static const loaa_command *find_command(const char *name)
{
    for (const loaa_command *c = loaa_commands; c->name; c++)
        if (strcmp(c->name, name) == 0)
            return c;
    return NULL;
}

int loaa_cli_report(const char *command, int status)
{
    loaa_status st = (loaa_status)status;
    if (st == LOAA_OK)
        return 0;
    const char *detail = loaa_error_detail();
    fprintf(stderr, "loaa %s: %s%s%s\n", command, loaa_strerror(st), detail[0] ? ": " : "", detail);
    return st == LOAA_ERR_USAGE ? 2 : 1;
}

int main(int argc, char **argv)
{
    loaa_gemm_prepare_environment(argv); /* OMP_WAIT_POLICY before libgomp loads: may re-exec once (gemm.h) */
    int i = 1;
    for (; i < argc && argv[i][0] == '-'; i++) {
        if (!strcmp(argv[i], "-q") || !strcmp(argv[i], "--quiet"))
            loaa_log_quiet();
        else if (!strcmp(argv[i], "-v") || !strcmp(argv[i], "--verbose"))
            loaa_log_verbose();
        else if (!strcmp(argv[i], "--version"))
            return cmd_version(1, argv);
        else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            print_command_list(stdout);
            return 0;
        } else {
            fprintf(stderr, "loaa: unknown option '%s'\n", argv[i]);
            print_command_list(stderr);
            return 2;
        }
    }
    if (i >= argc) {
        print_command_list(stderr);
        return 2;
    }
    /* A file-size limit (ulimit -f) then fails writes with EFBIG, reported like a full disk, instead of killing us. */
    signal(SIGXFSZ, SIG_IGN);
    const loaa_command *c = find_command(argv[i]);
    /* Crash isolation: worker ranks fork their trial launcher before MPI_Init (worker/launcher.h). */
    if (c && c->fn == cmd_sweep) {
        int dry_run = 0;
        for (int k = i + 1; k < argc; k++)
            dry_run |= !strcmp(argv[k], "--dry-run");
        if (!dry_run)
            loaa_launcher_prefork();
    }
    if (!c) {
        fprintf(stderr, "loaa: '%s' is not a loaa command.\n\n", argv[i]);
        print_command_list(stderr);
        return 2;
    }
    return c->fn(argc - i, argv + i);
}
