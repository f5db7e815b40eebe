/*
 * cmd_bench.c - `loaa bench SUB ...`: micro-benchmarks, one subcommand each.
 *
 * The subcommands sit in a small table like the top-level commands; a new
 * benchmark (bench data, bench gemm, ...) is one function and one row.
 *
 *   loaa bench step  - one training step (forward, loss, backward, clipping,
 *                      AdamW) of a model on random data: samples/s, GEMM
 *                      GFLOP/s achieved, the share of an sgemm peak measured
 *                      in the same run with the same threads, peak RSS.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/bench_group.h"
#include "cli/commands.h"
#include "common/config.h"
#include "common/rng.h"
#include "common/status.h"
#include "common/timer.h"
#include "kernels/gemm.h"
#include "kernels/model.h"
#include "worker/spec.h"

typedef struct bench_sub {
    const char *name;
    int (*fn)(int argc, char **argv);
    const char *help;
} bench_sub;

static int bench_step(int argc, char **argv);
int loaa_bench_data(int argc, char **argv); /* cli/cmd_bench_data.c */

static const bench_sub bench_subs[] = {
    {"step", bench_step, "time training steps of one model/method configuration"},
    {"data", loaa_bench_data, "clips/s of read + decode + resample + fbank on one thread"},
    {"gemm", loaa_bench_gemm, "the model's GEMM shapes: cblas_sgemm vs ScaLAPACK psgemm_ on 1x1/1x2/2x1 grids (mpirun)"},
    {NULL, NULL, NULL},
};

static void bench_usage(FILE *out)
{
    fprintf(out, "usage: loaa bench SUBCOMMAND [FLAGS]\n\nsubcommands:\n");
    for (const bench_sub *s = bench_subs; s->name; s++)
        fprintf(out, "  %-8s %s\n", s->name, s->help);
}

int cmd_bench(int argc, char **argv)
{
    if (argc < 2 || !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
        bench_usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    for (const bench_sub *s = bench_subs; s->name; s++)
        if (!strcmp(s->name, argv[1]))
            return s->fn(argc - 1, argv + 1);
    fprintf(stderr, "loaa bench: no benchmark '%s'\n", argv[1]);
    bench_usage(stderr);
    return 2;
}

static loaa_status parse_int(const char *flag, const char *text, int min, int *out)
{
    char *end;
    errno = 0;
    long v = strtol(text, &end, 10);
    if (errno || *end || end == text || v < min || v > 1 << 30)
        return loaa_fail(LOAA_ERR_USAGE, "%s: expected an integer >= %d, got '%s'", flag, min, text);
    *out = (int)v;
    return LOAA_OK;
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

static int bench_step(int argc, char **argv)
{
    static const char usage[] =
        "usage: loaa bench step [--model NAME] [--method NAME] [--bottleneck R] [--kernel K] [--batch B]\n"
        "                       [--mel M] [--frames T] [--fstride S] [--tstride S] [--threads N]\n"
        "                       [--steps N] [--warmup N] [--classes C] [--dist 0|1] [--peak-seconds S]\n"
        "                       [--ranks-per-trial G [--grid PxQ]]   (G > 1: under mpirun -np a multiple of G)\n"
        "Times training steps (forward, loss, backward, clipping, AdamW) on random data.\n"
        "Any other --KEY VALUE is a trial key (loaa help keys).\n";
    loaa_config cfg;
    loaa_config_defaults(&cfg);
    strcpy(cfg.dataset, "bench");
    cfg.threads = 2;
    int batch = 8, mel = 128, frames = 512, steps = 10, warmup = 2, classes = 50, dist = 0;
    double peak_seconds = 1.0;
    loaa_status st = LOAA_OK;
    for (int i = 1; i < argc && !st; i += 2) {
        const char *flag = argv[i];
        if (!strcmp(flag, "-h") || !strcmp(flag, "--help")) {
            fputs(usage, stdout);
            return 0;
        }
        if (strncmp(flag, "--", 2) || i + 1 >= argc) {
            fputs(usage, stderr);
            return 2;
        }
        const char *val = argv[i + 1], *key = flag + 2;
        if (!strcmp(key, "batch"))
            st = parse_int(flag, val, 1, &batch);
        else if (!strcmp(key, "mel"))
            st = parse_int(flag, val, 1, &mel);
        else if (!strcmp(key, "frames"))
            st = parse_int(flag, val, 1, &frames);
        else if (!strcmp(key, "steps"))
            st = parse_int(flag, val, 1, &steps);
        else if (!strcmp(key, "warmup"))
            st = parse_int(flag, val, 0, &warmup);
        else if (!strcmp(key, "classes"))
            st = parse_int(flag, val, 1, &classes);
        else if (!strcmp(key, "dist"))
            st = parse_int(flag, val, 0, &dist);
        else if (!strcmp(key, "ranks-per-trial")) /* the sweep's spelling is ranks_per_trial; both work */
            st = loaa_config_set_text(&cfg, "ranks_per_trial", val);
        else if (!strcmp(key, "peak-seconds")) {
            char *end;
            peak_seconds = strtod(val, &end);
            if (*end || end == val || peak_seconds < 0)
                st = loaa_fail(LOAA_ERR_USAGE, "--peak-seconds: expected a number >= 0, got '%s'", val);
        } else
            st = loaa_config_set_text(&cfg, key, val);
    }
    if (!st)
        st = loaa_config_validate(&cfg);
    if (st)
        return loaa_cli_report("bench step", st);
    loaa_kernels_set_threads(cfg.threads);

    loaa_model_shape shape = {.n_mel = mel, .n_frames = frames, .n_classes = classes, .max_batch = batch,
                              .dist_token = dist ? 1 : 0};
    loaa_model *m = NULL;
    float *x = malloc(sizeof(float) * batch * mel * frames), *y = calloc((size_t)batch * classes, sizeof(float));
    if (!x || !y) {
        free(x), free(y);
        return loaa_cli_report("bench step", loaa_fail(LOAA_ERR_NOMEM, "input batch"));
    }
    int world_rank = 0;
    if ((st = loaa_spec_create_model(&m, &cfg, &shape)) || (st = loaa_model_init(m, (uint64_t)cfg.seed)) ||
        (st = loaa_bench_join_group(m, &cfg, &world_rank))) {
        free(x), free(y);
        loaa_model_free(m);
        /* Agreed: rank 0 reports it, before MPI_Finalize lets the others exit; otherwise mpirun could abort the
         * job on their exit status and kill rank 0 before its message (seen under valgrind). */
        int rc = world_rank == 0 ? loaa_cli_report("bench step", st) : 1;
        loaa_bench_finish();
        return rc;
    }
    loaa_rng rng;
    loaa_rng_seed(&rng, 1);
    for (size_t i = 0; i < (size_t)batch * mel * frames; i++)
        x[i] = (float)loaa_rng_normal(&rng);
    for (int b = 0; b < batch; b++)
        y[(size_t)b * classes + b % classes] = 1;

    /* HPL style: rank 0 reports for everyone (should /dev/null fail, the others merely print as well) */
    if (world_rank != 0 && !freopen("/dev/null", "w", stdout))
        clearerr(stdout);
    int fgrid = 0, tgrid = 0;
    int tokens = cfg.method == LOAA_METHOD_NOOP ? 0 : loaa_model_tokens(m, &fgrid, &tgrid);
    size_t total = loaa_model_total_params(m), train = loaa_model_trainable_params(m);
    printf("bench step: %s (dim %d, depth %d, heads %d) %s r=%d k=%d, batch %d, %dx%d, stride %dx%d -> %dx%d+%d = %d "
           "tokens, %d threads\n",
           cfg.model, cfg.dim, cfg.depth, cfg.heads, loaa_method_name(cfg.method), cfg.bottleneck, cfg.kernel, batch,
           mel, frames, cfg.fstride, cfg.tstride, fgrid, tgrid, dist ? 2 : 1, tokens, loaa_kernels_threads());
    printf("parameters: %.3fM total, %.3fM trainable (%.2f %%)\n", total / 1e6, train / 1e6,
           total ? 100.0 * train / total : 0.0);

    float loss = 0;
    for (int s = 0; s < warmup && !st; s++)
        st = loaa_model_train_step(m, x, y, batch, 1e-4, &loss);
    loaa_bench_world_barrier();
    double f0 = loaa_model_gemm_flops(m), t0 = loaa_now();
    for (int s = 0; s < steps && !st; s++)
        st = loaa_model_train_step(m, x, y, batch, 1e-4, &loss);
    double secs = loaa_bench_world_reduce(loaa_now() - t0, 0), flops = loaa_model_gemm_flops(m) - f0;
    int groups = cfg.ranks_per_trial > 1 ? (int)loaa_bench_world_reduce(1, 1) / cfg.ranks_per_trial : 1;
    flops = loaa_bench_world_reduce(flops, 1) / groups; /* each rank counts its own rows */
    double rss = loaa_peak_rss() / 1048576.0; /* before the sgemm peak's own buffers */
    int bp = 1, bq = 1;
    const char *backend = loaa_model_backend(m, &bp, &bq);
    loaa_model_free(m);
    free(x), free(y);
    if (st) {
        int rc = world_rank == 0 ? loaa_cli_report("bench step", st) : 1; /* before MPI_Finalize, as above */
        loaa_bench_finish();
        return rc;
    }
    loaa_bench_finish();
    double peak = peak_seconds > 0 ? sgemm_peak(1024, peak_seconds) : 0;
    int bf16 = cfg.precision == LOAA_PRECISION_BF16;
    double peak16 = peak_seconds > 0 && bf16 ? bf16_peak(1024, peak_seconds) : 0;
    double sps = steps * batch / secs, gflops = flops / secs / 1e9;
    printf("steps: %d timed (+%d warm-up), %.4f s/step, %.2f samples/s, last loss %.4f\n", steps, warmup,
           secs / steps, sps, loss);
    printf("gemm: %.2f GFLOP/step, %.1f GFLOP/s achieved; sgemm peak %.1f GFLOP/s (1024^3, same threads): %.1f %%\n",
           flops / steps / 1e9, gflops, peak, peak > 0 ? 100 * gflops / peak : 0.0);
    printf("peak RSS: %.1f MiB\n", rss);
    printf("gemm backend: %s, grid %dx%d, %d rank(s) per trial\n", backend, bp, bq, cfg.ranks_per_trial);
    if (bf16)
        printf("bf16: oneDNN on %s; bf16 matmul peak %.1f GFLOP/s (1024^3, same threads): the step's GEMMs %.1f %%\n",
               loaa_gemm_isa(), peak16, peak16 > 0 ? 100 * gflops / peak16 : 0.0);
    printf("result: samples_per_s=%.3f gflops=%.2f peak_gflops=%.2f bf16_peak_gflops=%.2f rss_mib=%.1f\n", sps, gflops,
           peak, peak16, rss);
    return 0;
}
