/*
 * cmd_bench.c - `loaa bench SUB ...`: micro-benchmarks, one subcommand each.
 *
 * The subcommands sit in a command table like the top-level ones
 * (loaa_bench_commands, named by the bench entry in cli/loaa.c); a new
 * benchmark is one function and one row.
 *
 *   loaa bench step  - one training step (forward, loss, backward, clipping,
 *                      AdamW) of a model on random data: samples/s, GEMM
 *                      GFLOP/s achieved, the share of an sgemm peak measured
 *                      in the same run with the same threads, peak RSS.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/bench_group.h"
#include "cli/commands.h"
#include "cli/options.h"
#include "common/config.h"
#include "common/rng.h"
#include "common/status.h"
#include "common/timer.h"
#include "kernels/gemm.h"
#include "kernels/model.h"
#include "worker/spec.h"

static int bench_step(int argc, char **argv);
int loaa_bench_data(int argc, char **argv); /* cli/cmd_bench_data.c */

const loaa_command loaa_bench_commands[] = {
    {"step", bench_step, "time training steps of one model/method configuration", 0, NULL},
    {"data", loaa_bench_data, "clips/s of read + decode + resample + fbank on one thread", 0, NULL},
    {"gemm", loaa_bench_gemm, "the model's GEMM shapes: cblas_sgemm vs ScaLAPACK psgemm_ on 1x1/1x2/2x1 grids (mpirun)", 0, NULL},
    {NULL, NULL, NULL, 0, NULL},
};

static void bench_usage(FILE *out)
{
    fprintf(out, "usage: loaa bench SUBCOMMAND [FLAGS]   (loaa bench SUBCOMMAND --help)\n\nsubcommands:\n");
    loaa_cli_print_commands(out, loaa_bench_commands, 8);
}

int cmd_bench(int argc, char **argv)
{
    if (argc < 2 || !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
        bench_usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    for (const loaa_command *s = loaa_bench_commands; s->name; s++)
        if (!strcmp(s->name, argv[1]))
            return s->fn(argc - 1, argv + 1);
    fprintf(stderr, "loaa bench: no benchmark '%s'\n", argv[1]);
    bench_usage(stderr);
    return 2;
}

/* The best sgemm rate of n x n x n products over about `seconds`, in GFLOP/s, with the current threads. */
static double sgemm_peak(int n, double seconds)
{
    float *a = malloc(sizeof(float) * n * n), *b = malloc(sizeof(float) * n * n), *c = malloc(sizeof(float) * n * n);
    if (!a || !b || !c) {
        free(a), free(b), free(c);
        return 0;
    }
    for (size_t i = 0; i < (size_t)n * n; i++)
        a[i] = b[i] = c[i] = 1.0f / (1 + i % 13);
    loaa_gemm_ctx g;
    loaa_gemm_ctx_init(&g);
    double best = 0, start = loaa_now();
    loaa_gemm(&g, 0, 0, n, n, n, 1.0f, a, n, b, n, 0.0f, c, n); /* warm-up: thread pool, pages */
    do {
        double t0 = loaa_now();
        loaa_gemm(&g, 0, 0, n, n, n, 1.0f, a, n, b, n, 0.0f, c, n);
        double rate = 2.0 * n * n * n / (loaa_now() - t0) / 1e9;
        best = rate > best ? rate : best;
    } while (loaa_now() - start < seconds);
    free(a), free(b), free(c);
    return best;
}

/* The best bf16 x bf16 -> fp32 rate of oneDNN's matmul on n x n x n products over about `seconds`, in GFLOP/s. */
static double bf16_peak(int n, double seconds)
{
    loaa_bf16 *a = malloc(sizeof(loaa_bf16) * n * n), *b = malloc(sizeof(loaa_bf16) * n * n);
    float *c = malloc(sizeof(float) * n * n);
    if (!a || !b || !c) {
        free(a), free(b), free(c);
        return 0;
    }
    for (size_t i = 0; i < (size_t)n * n; i++)
        c[i] = 1.0f / (1 + i % 13);
    loaa_bf16_from_f32(a, c, (size_t)n * n);
    loaa_bf16_from_f32(b, c, (size_t)n * n);
    loaa_gemm_ctx g;
    loaa_gemm_ctx_init(&g);
    double best = 0, start = loaa_now();
    loaa_gemm_bf16(&g, 0, 0, n, n, n, 1.0f, a, n, b, n, 0.0f, c, LOAA_F32, n, NULL, NULL); /* warm-up: primitive */
    do {
        double t0 = loaa_now();
        loaa_gemm_bf16(&g, 0, 0, n, n, n, 1.0f, a, n, b, n, 0.0f, c, LOAA_F32, n, NULL, NULL);
        double rate = 2.0 * n * n * n / (loaa_now() - t0) / 1e9;
        best = rate > best ? rate : best;
    } while (loaa_now() - start < seconds);
    free(a), free(b), free(c);
    return best;
}

/* The settings of one `loaa bench step` run: the trial config and the benchmark's own. */
typedef struct step_opts {
    loaa_config cfg;
    int batch, mel, frames, steps, warmup, classes, dist;
    double peak_seconds;
} step_opts;

static const char step_usage[] =
    "usage: loaa bench step [--model NAME] [--method NAME] [--bottleneck R] [--kernel K] [--batch B]\n"
    "                       [--mel M] [--frames T] [--fstride S] [--tstride S] [--threads N]\n"
    "                       [--steps N] [--warmup N] [--classes C] [--dist 0|1] [--peak-seconds S]\n"
    "                       [--ranks-per-trial G [--grid PxQ]]   (G > 1: under mpirun -np a multiple of G)\n"
    "Times training steps (forward, loss, backward, clipping, AdamW) on random data.\n"
    "Any other --KEY VALUE is a trial key (loaa help keys).\n";

/* Reads the arguments into o; 0, or -1 with *rc the exit code (help printed or an error reported). */
static int parse_step(int argc, char **argv, step_opts *o, int *rc)
{
    *o = (step_opts){.batch = 8, .mel = 128, .frames = 512, .steps = 10, .warmup = 2, .classes = 50, .peak_seconds = 1.0};
    loaa_config_defaults(&o->cfg);
    strcpy(o->cfg.dataset, "bench");
    o->cfg.threads = 2;
    const loaa_option opts[] = {
        OPT_INT("batch", &o->batch, 1, 1 << 30, "B", "samples per step (default 8)"),
        OPT_INT("mel", &o->mel, 1, 1 << 30, "M", "mel bins of the random input (default 128)"),
        OPT_INT("frames", &o->frames, 1, 1 << 30, "T", "frames of the random input (default 512)"),
        OPT_INT("steps", &o->steps, 1, 1 << 30, "N", "timed steps (default 10)"),
        OPT_INT("warmup", &o->warmup, 0, 1 << 30, "N", "untimed steps first (default 2)"),
        OPT_INT("classes", &o->classes, 1, 1 << 30, "C", "classes of the head (default 50)"),
        OPT_INT("dist", &o->dist, 0, 1 << 30, "0|1", "1: a DeiT distillation token"),
        OPT_DOUBLE("peak-seconds", &o->peak_seconds, 0, LOAA_OPT_NO_MAX, "S", "time spent measuring the sgemm peak (0: skip)"),
        OPT_CONFIG_KEY("ranks-per-trial", &o->cfg, "ranks_per_trial", "G", "train on groups of G ranks (the key ranks_per_trial)"),
        OPT_CONFIG_KEYS(&o->cfg, "any trial key (loaa help keys), e.g. --model, --method, --threads (default 2), --grid"),
        OPT_END(),
    };
    const loaa_cli_spec spec = {.command = "bench step", .usage = step_usage, .options = opts};
    if (loaa_cli_parse(&spec, argc, argv, rc) < 0)
        return -1;
    loaa_status st = loaa_config_validate(&o->cfg);
    if (st) {
        *rc = loaa_cli_report("bench step", st);
        return -1;
    }
    return 0;
}

/* Random input x [batch, mel, frames] and one-hot labels y [batch, classes] (class b mod classes), from seed 1. */
static void random_batch(const step_opts *o, float *x, float *y)
{
    loaa_rng rng;
    loaa_rng_seed(&rng, 1);
    for (size_t i = 0; i < (size_t)o->batch * o->mel * o->frames; i++)
        x[i] = (float)loaa_rng_normal(&rng);
    for (int b = 0; b < o->batch; b++)
        y[(size_t)b * o->classes + b % o->classes] = 1;
}

/* The first two lines of the report: the model, its tokens, its parameters. */
static void print_setup(const step_opts *o, loaa_model *m)
{
    const loaa_config *cfg = &o->cfg;
    int fgrid = 0, tgrid = 0;
    int tokens = cfg->method == LOAA_METHOD_NOOP ? 0 : loaa_model_tokens(m, &fgrid, &tgrid);
    size_t total = loaa_model_total_params(m), train = loaa_model_trainable_params(m);
    printf("bench step: %s (dim %d, depth %d, heads %d) %s r=%d k=%d, batch %d, %dx%d, stride %dx%d -> %dx%d+%d = %d "
           "tokens, %d threads\n",
           cfg->model, cfg->dim, cfg->depth, cfg->heads, loaa_method_name(cfg->method), cfg->bottleneck, cfg->kernel, o->batch,
           o->mel, o->frames, cfg->fstride, cfg->tstride, fgrid, tgrid, o->dist ? 2 : 1, tokens, loaa_kernels_threads());
    printf("parameters: %.3fM total, %.3fM trainable (%.2f %%)\n", total / 1e6, train / 1e6,
           total ? 100.0 * train / total : 0.0);
}

/* What the timed steps measured, over the world when a group trains. */
typedef struct step_timing {
    double secs, flops, rss;
    float loss;
    int bp, bq;
    const char *backend;
} step_timing;

/* Warm-up, then the timed steps (HPL style: a barrier, the slowest rank's time, each group's rows summed). */
static loaa_status time_steps(const step_opts *o, loaa_model *m, const float *x, const float *y, step_timing *t)
{
    loaa_status st = LOAA_OK;
    t->loss = 0;
    for (int s = 0; s < o->warmup && !st; s++)
        st = loaa_model_train_step(m, x, y, o->batch, 1e-4, &t->loss);
    loaa_bench_world_barrier();
    double f0 = loaa_model_gemm_flops(m), t0 = loaa_now();
    for (int s = 0; s < o->steps && !st; s++)
        st = loaa_model_train_step(m, x, y, o->batch, 1e-4, &t->loss);
    t->secs = loaa_bench_world_reduce(loaa_now() - t0, 0);
    double flops = loaa_model_gemm_flops(m) - f0;
    int groups = o->cfg.ranks_per_trial > 1 ? (int)loaa_bench_world_reduce(1, 1) / o->cfg.ranks_per_trial : 1;
    t->flops = loaa_bench_world_reduce(flops, 1) / groups; /* each rank counts its own rows */
    t->rss = loaa_peak_rss() / 1048576.0;                  /* before the sgemm peak's own buffers */
    t->bp = t->bq = 1;
    t->backend = loaa_model_backend(m, &t->bp, &t->bq);
    return st;
}

/* The rest of the report, with the sgemm peak measured now (after the group has finished). */
static void print_timing(const step_opts *o, const step_timing *t)
{
    double peak = o->peak_seconds > 0 ? sgemm_peak(1024, o->peak_seconds) : 0;
    double sps = o->steps * o->batch / t->secs, gflops = t->flops / t->secs / 1e9;
    printf("steps: %d timed (+%d warm-up), %.4f s/step, %.2f samples/s, last loss %.4f\n", o->steps, o->warmup,
           t->secs / o->steps, sps, t->loss);
    printf("gemm: %.2f GFLOP/step, %.1f GFLOP/s achieved; sgemm peak %.1f GFLOP/s (1024^3, same threads): %.1f %%\n",
           t->flops / o->steps / 1e9, gflops, peak, peak > 0 ? 100 * gflops / peak : 0.0);
    printf("peak RSS: %.1f MiB\n", t->rss);
    printf("gemm backend: %s, grid %dx%d, %d rank(s) per trial\n", t->backend, t->bp, t->bq, o->cfg.ranks_per_trial);
    int bf16 = o->cfg.precision == LOAA_PRECISION_BF16;
    double peak16 = o->peak_seconds > 0 && bf16 ? bf16_peak(1024, o->peak_seconds) : 0;
    if (bf16)
        printf("bf16: oneDNN on %s; bf16 matmul peak %.1f GFLOP/s (1024^3, same threads): the step's GEMMs %.1f %%\n",
               loaa_gemm_isa(), peak16, peak16 > 0 ? 100 * gflops / peak16 : 0.0);
    printf("result: samples_per_s=%.3f gflops=%.2f peak_gflops=%.2f bf16_peak_gflops=%.2f rss_mib=%.1f\n", sps, gflops,
           peak, peak16, t->rss);
}

static int bench_step(int argc, char **argv)
{
    step_opts o;
    int rc;
    if (parse_step(argc, argv, &o, &rc))
        return rc;
    loaa_kernels_set_threads(o.cfg.threads);
    loaa_model_shape shape = {.n_mel = o.mel, .n_frames = o.frames, .n_classes = o.classes, .max_batch = o.batch,
                              .dist_token = o.dist ? 1 : 0};
    loaa_model *m = NULL;
    float *x = malloc(sizeof(float) * o.batch * o.mel * o.frames), *y = calloc((size_t)o.batch * o.classes, sizeof(float));
    if (!x || !y) {
        free(x), free(y);
        return loaa_cli_report("bench step", loaa_fail(LOAA_ERR_NOMEM, "input batch"));
    }
    int world_rank = 0;
    loaa_status st;
    step_timing t = {0};
    if (!(st = loaa_spec_create_model(&m, &o.cfg, &shape)) && !(st = loaa_model_init(m, (uint64_t)o.cfg.seed)) &&
        !(st = loaa_bench_join_group(m, &o.cfg, &world_rank))) {
        random_batch(&o, x, y);
        /* HPL style: rank 0 reports for everyone (should /dev/null fail, the others merely print as well) */
        if (world_rank != 0 && !freopen("/dev/null", "w", stdout))
            clearerr(stdout);
        print_setup(&o, m);
        st = time_steps(&o, m, x, y, &t);
    }
    loaa_model_free(m);
    free(x), free(y);
    /* Agreed: rank 0 reports a failure before MPI_Finalize lets the others exit; otherwise mpirun could abort the
     * job on their exit status and kill rank 0 before its message (seen under valgrind). */
    rc = st ? (world_rank == 0 ? loaa_cli_report("bench step", st) : 1) : 0;
    loaa_bench_finish();
    if (!st)
        print_timing(&o, &t);
    return rc;
}
