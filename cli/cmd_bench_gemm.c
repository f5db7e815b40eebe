/*
 * cmd_bench_gemm.c - `loaa bench gemm`: the model's own GEMM shapes with
 * local cblas_sgemm and with ScaLAPACK psgemm_ on small grids (kernels/pgemm.h).
 *
 * Run under mpirun (`mpirun -np 2 loaa bench gemm --model vit-small`); a
 * grid needs as many ranks as it has processes, and the larger grids are
 * skipped when there are too few. One BLAS thread per rank unless
 * --threads says otherwise, so a 1 x 2 grid against one rank compares two
 * cores with one. Timing is HPL's: barrier, time, maximum over ranks, the
 * best of --reps repetitions after one warm-up; rank 0 prints one row per
 * shape and backend:
 *   blas    cblas_sgemm on rank 0 alone (the reference)
 *   psgemm  loaa_pmat_gemm on operands already block-cyclic (compute only)
 *   pgemm   loaa_pgemm: replicated operands in, replicated C out (adds the allgather)
 *   rows    loaa_pgemm_rows: row slabs in and out, the layout training uses
 * speedup = t(blas) / t, efficiency = speedup / ranks in the grid.
 *
 * --precision bf16 compares the local engines instead (one process, no
 * grids), on the same shapes plus 1024^3 (the peak):
 *   blas       cblas_sgemm, fp32
 *   dnnl-f32   oneDNN's f32 matmul (loaa_gemm_dnnl_f32)
 *   dnnl-bf16  loaa_gemm_bf16: bf16 operands, fp32 accumulation and output
 */
#include "config.h"

#include <cblas.h>
#include <math.h>
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/bench_group.h"
#include "cli/commands.h"
#include "cli/options.h"
#include "common/config.h"
#include "common/status.h"
#include "common/timer.h"
#include "kernels/model.h"
#include "kernels/pgemm.h"

typedef struct gemm_shape {
    char name[16];
    int ta, tb, M, N, K;
    int units; /* row units (samples) of M for the slab layout; 0 = not a row product */
} gemm_shape;

typedef struct bench_opts {
    const char *model, *grids;
    int batch, tokens, classes, nb, reps, threads, panel;
    int bf16; /* --precision bf16: the local engines, not the grids */
} bench_opts;

enum { MODE_BLAS, MODE_PSGEMM, MODE_PGEMM, MODE_ROWS };
static const char *const mode_names[] = {"blas", "psgemm", "pgemm", "rows"};

/* One product's operands, replicated and (for psgemm) distributed. */
typedef struct bench_case {
    const gemm_shape *s;
    float *A, *B, *C;
    int lda, ldb;
    loaa_pgrid *grid;
    loaa_pmat pa, pb, pc;
    int row0, rows; /* this rank's slab of M */
} bench_case;

static const char gemm_usage[] =
    "usage: loaa bench gemm [--model NAME] [--batch B] [--tokens N] [--classes C] [--nb NB]\n"
    "                       [--panel KB] [--reps R] [--threads T] [--grids 1x1,1x2,2x1]\n"
    "                       [--precision fp32|bf16]\n"
    "Under mpirun: one row per shape and backend (blas, psgemm, pgemm, rows) and grid.\n"
    "--precision bf16: cblas_sgemm vs oneDNN f32 vs oneDNN bf16 in this process, plus 1024^3.\n";

static const loaa_opt_choice precisions[] = {{"fp32", 0}, {"bf16", 1}, {NULL, 0}};

/* Reads the arguments into o; 0, or -1 with *rc the exit code (help printed or a usage error reported). */
static int parse_opts(int argc, char **argv, bench_opts *o, int *rc)
{
    *o = (bench_opts){.model = "vit-small", .grids = "1x1,1x2,2x1", .batch = 8, .tokens = 257, .classes = 50,
                      .nb = LOAA_PGEMM_DEFAULT_NB, .reps = 3, .threads = 1, .panel = LOAA_PBLAS_DEFAULT_NB};
    const loaa_option opts[] = {
        OPT_STRING("model", &o->model, "NAME", "the model whose shapes are timed (default vit-small)"),
        OPT_INT("batch", &o->batch, 1, 1 << 24, "B", "samples (default 8)"),
        OPT_INT("tokens", &o->tokens, 1, 1 << 24, "N", "tokens per sample (default 257)"),
        OPT_INT("classes", &o->classes, 1, 1 << 24, "C", "classes of the head (default 50)"),
        OPT_INT("nb", &o->nb, 1, 1 << 24, "NB", "ScaLAPACK block size"),
        OPT_INT("panel", &o->panel, 1, 1 << 24, "KB", "PBLAS panel width (pilaenv)"),
        OPT_INT("reps", &o->reps, 1, 1 << 24, "R", "timed repetitions, best kept (default 3)"),
        OPT_INT("threads", &o->threads, 1, 1 << 24, "T", "BLAS threads per rank (default 1)"),
        OPT_STRING("grids", &o->grids, "PxQ,...", "process grids to time (default 1x1,1x2,2x1)"),
        OPT_CHOICE("precision", &o->bf16, precisions, "fp32|bf16", "bf16: the local engines instead of the grids"),
        OPT_END(),
    };
    const loaa_cli_spec spec = {.command = "bench gemm", .usage = gemm_usage, .options = opts};
    return loaa_cli_parse(&spec, argc, argv, rc) < 0 ? -1 : 0;
}

/* The forward products (x W^T, timm's layout) and the two backward products of each: dX = dY W and dW = dY^T X. */
static int model_shapes(const bench_opts *o, int D, int Hm, gemm_shape *s)
{
    int R = o->batch * o->tokens, n = 0;
    static const char *const names[] = {"qkv", "proj", "fc1", "fc2"};
    int outs[] = {3 * D, D, Hm, D}, ins[] = {D, D, D, Hm};
    for (int i = 0; i < 4; i++)
        s[n++] = (gemm_shape){"", 0, 1, R, outs[i], ins[i], o->batch};
    s[n++] = (gemm_shape){"head", 0, 1, o->batch, o->classes, D, o->batch};
    for (int i = 0; i < 4; i++)
        s[n++] = (gemm_shape){"", 0, 0, R, ins[i], outs[i], o->batch};
    for (int i = 0; i < 4; i++)
        s[n++] = (gemm_shape){"", 1, 0, outs[i], ins[i], R, 0};
    for (int i = 0; i < 4; i++) {
        snprintf(s[i].name, sizeof s[i].name, "%s", names[i]);
        snprintf(s[5 + i].name, sizeof s[5 + i].name, "%s.dx", names[i]);
        snprintf(s[9 + i].name, sizeof s[9 + i].name, "%s.dw", names[i]);
    }
    return n;
}

static void fill(float *x, size_t n, unsigned seed)
{
    unsigned s = seed * 2654435761u + 1u;
    for (size_t i = 0; i < n; i++) {
        s = s * 1664525u + 1013904223u;
        x[i] = (float)((s >> 9) & 0xffff) / 32768.0f - 1.0f;
    }
}

static loaa_status run_case(bench_case *c, int mode)
{
    const gemm_shape *s = c->s;
    switch (mode) {
    case MODE_BLAS:
        cblas_sgemm(CblasRowMajor, s->ta ? CblasTrans : CblasNoTrans, s->tb ? CblasTrans : CblasNoTrans, s->M, s->N,
                    s->K, 1.0f, c->A, c->lda, c->B, c->ldb, 0.0f, c->C, s->N);
        return LOAA_OK;
    case MODE_PSGEMM:
        return loaa_pmat_gemm(s->ta, s->tb, 1.0f, &c->pa, &c->pb, 0.0f, &c->pc);
    case MODE_PGEMM:
        return loaa_pgemm(c->grid, s->ta, s->tb, s->M, s->N, s->K, 1.0f, c->A, c->lda, c->B, c->ldb, 0.0f, c->C, s->N);
    default:
        return loaa_pgemm_rows(c->grid, s->tb, c->rows, s->N, s->K, 1.0f, c->A + (size_t)c->row0 * c->lda, c->lda, c->B,
                               c->ldb, 0.0f, c->C + (size_t)c->row0 * s->N, s->N);
    }
}

/* HPL timing: every world rank takes part in the barriers and the max; only active ranks run the product. */
static loaa_status time_case(bench_case *c, int mode, int active, int reps, double *best)
{
    loaa_status st = active ? run_case(c, mode) : LOAA_OK; /* warm-up: first-touch, PBLAS buffers, scratch growth */
    *best = INFINITY;
    for (int r = 0; r < reps && !st; r++) {
        MPI_Barrier(MPI_COMM_WORLD);
        double t0 = loaa_now();
        if (active)
            st = run_case(c, mode);
        double t = loaa_now() - t0, tmax = 0;
        MPI_Allreduce(&t, &tmax, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
        if (tmax < *best)
            *best = tmax;
    }
    return loaa_comm_agree(MPI_COMM_WORLD, st);
}

static void print_row(const gemm_shape *s, const char *backend, const char *grid, double t, double t_blas, int ranks)
{
    double gf = 2.0 * s->M * s->N * s->K / t * 1e-9, speedup = t_blas / t;
    printf("%-9s %c%c %6d %6d %6d  %-7s %-5s %9.2f %8.1f %8.2f %6.2f\n", s->name, s->ta ? 'T' : 'N', s->tb ? 'T' : 'N',
           s->M, s->N, s->K, backend, grid, t * 1e3, gf, speedup, speedup / ranks);
}

typedef struct grid_spec {
    int p, q;
    double total[4]; /* summed best times per mode over the shapes it ran */
    double blas_total[4];
} grid_spec;

static int parse_grids(const char *text, grid_spec *g, int max)
{
    int n = 0;
    const char *p = text;
    while (*p && n < max) {
        char *end;
        long a = strtol(p, &end, 10);
        if (end == p || *end != 'x')
            return -1;
        p = end + 1;
        long b = strtol(p, &end, 10);
        if (end == p || a < 1 || b < 1 || a * b > 4096)
            return -1;
        memset(&g[n], 0, sizeof g[n]);
        g[n].p = (int)a, g[n].q = (int)b;
        n++;
        p = end;
        if (*p == ',')
            p++;
        else if (*p)
            return -1;
    }
    return n;
}

/* One grid per spec that fits the world, over its first p*q ranks (pg[gi] NULL elsewhere and for the others). Agreed status. */
static loaa_status make_grids(const bench_opts *o, const grid_spec *grids, int ngrids, int rank, int size, loaa_pgrid **pg)
{
    loaa_status st = LOAA_OK;
    for (int gi = 0; gi < ngrids && !st; gi++) {
        int need = grids[gi].p * grids[gi].q;
        if (need > size)
            continue;
        MPI_Comm sub;
        MPI_Comm_split(MPI_COMM_WORLD, rank < need, rank, &sub);
        loaa_status gs = LOAA_OK;
        if (rank < need)
            gs = loaa_pgrid_create(&pg[gi], sub, grids[gi].p, grids[gi].q, o->nb);
        MPI_Comm_free(&sub);
        st = loaa_comm_agree(MPI_COMM_WORLD, gs);
    }
    return st;
}

/* On a rank of c->grid: the block-cyclic operands for psgemm (scattered, not timed) and this rank's row slab. */
static loaa_status distribute_case(bench_case *c, int ranks)
{
    const gemm_shape *s = c->s;
    loaa_status ps = loaa_pmat_init(&c->pa, c->grid, s->ta ? s->K : s->M, s->ta ? s->M : s->K, 0, 0);
    if (!ps)
        ps = loaa_pmat_init(&c->pb, c->grid, s->tb ? s->N : s->K, s->tb ? s->K : s->N, 0, 0);
    if (!ps)
        ps = loaa_pmat_init(&c->pc, c->grid, s->M, s->N, 0, 0);
    if (!ps) {
        loaa_pmat_scatter(&c->pa, c->A, c->lda);
        loaa_pmat_scatter(&c->pb, c->B, c->ldb);
    }
    /* Row slabs: whole samples, ceil(units / ranks) per rank in grid-rank order. */
    if (s->units) {
        int per = (s->units + ranks - 1) / ranks, rpu = s->M / s->units, me = loaa_pgrid_rank(c->grid);
        int first = me * per < s->units ? me * per : s->units;
        int cnt = s->units - first < per ? s->units - first : per;
        c->row0 = first * rpu, c->rows = cnt * rpu;
    }
    return ps;
}

/* Times the shape of c on grid gi in every distributed mode, adding to the grid's totals; rank 0 prints the rows. */
static loaa_status time_on_grid(const bench_opts *o, bench_case *c, grid_spec *g, loaa_pgrid *pg, double t_blas, int rank)
{
    int ranks = g->p * g->q, active = pg != NULL;
    char gname[16];
    snprintf(gname, sizeof gname, "%dx%d", g->p, g->q);
    c->grid = pg;
    loaa_status st = loaa_comm_agree(MPI_COMM_WORLD, active ? distribute_case(c, ranks) : LOAA_OK);
    for (int mode = MODE_PSGEMM; mode <= MODE_ROWS && !st; mode++) {
        if (mode == MODE_ROWS && !c->s->units)
            continue;
        double t;
        if ((st = time_case(c, mode, active, o->reps, &t)))
            break;
        g->total[mode] += t;
        g->blas_total[mode] += t_blas;
        if (rank == 0)
            print_row(c->s, mode_names[mode], gname, t, t_blas, ranks);
    }
    if (active) {
        loaa_pmat_free(&c->pa), loaa_pmat_free(&c->pb), loaa_pmat_free(&c->pc);
    }
    return st;
}

/* The closing lines: per grid and mode, the summed times against blas. */
static void print_summary(const grid_spec *grids, int ngrids, int size)
{
    printf("# all shapes (sum of times, the mix of one block's forward and backward):\n");
    for (int gi = 0; gi < ngrids; gi++) {
        int ranks = grids[gi].p * grids[gi].q;
        if (ranks > size)
            continue;
        for (int mode = MODE_PSGEMM; mode <= MODE_ROWS; mode++) {
            double t = grids[gi].total[mode], tb = grids[gi].blas_total[mode];
            printf("# %-7s %dx%d: %8.2f ms vs blas %8.2f ms: speedup %.2f, efficiency %.2f%s\n", mode_names[mode],
                   grids[gi].p, grids[gi].q, t * 1e3, tb * 1e3, tb / t, tb / t / ranks,
                   mode == MODE_ROWS ? " (row products only)" : "");
        }
    }
}

/* The model's dimensions D and MLP width (*hidden) from --model. */
static loaa_status model_dims(const bench_opts *o, loaa_config *cfg, int *hidden)
{
    loaa_config_defaults(cfg);
    loaa_status st = loaa_config_set_text(cfg, "model", o->model);
    if (!st)
        st = loaa_config_set_text(cfg, "dataset", "-"); /* a benchmark reads no data; validate wants the key */
    if (!st)
        st = loaa_config_validate(cfg);
    *hidden = st ? 0 : (int)(cfg->mlp_ratio * cfg->dim);
    return st;
}

/* ---- --precision bf16: the local engines ---- */

enum { ENGINE_BLAS, ENGINE_DNNL_F32, ENGINE_DNNL_BF16, ENGINES };
static const char *const engine_names[] = {"blas", "dnnl-f32", "dnnl-bf16"};

typedef struct engine_operands {
    float *A, *B, *C;
    loaa_bf16 *Ah, *Bh;
    loaa_gemm_ctx ctx;
} engine_operands;

static void run_engine(engine_operands *x, const gemm_shape *s, int engine)
{
    int lda = s->ta ? s->M : s->K, ldb = s->tb ? s->K : s->N;
    if (engine == ENGINE_BLAS)
        cblas_sgemm(CblasRowMajor, s->ta ? CblasTrans : CblasNoTrans, s->tb ? CblasTrans : CblasNoTrans, s->M, s->N,
                    s->K, 1.0f, x->A, lda, x->B, ldb, 0.0f, x->C, s->N);
    else if (engine == ENGINE_DNNL_F32)
        loaa_gemm_dnnl_f32(s->ta, s->tb, s->M, s->N, s->K, 1.0f, x->A, lda, x->B, ldb, 0.0f, x->C, s->N);
    else
        loaa_gemm_bf16(&x->ctx, s->ta, s->tb, s->M, s->N, s->K, 1.0f, x->Ah, lda, x->Bh, ldb, 0.0f, x->C, LOAA_F32, s->N,
                       NULL, NULL);
}

/* Best time of reps after one warm-up (which also creates the oneDNN primitive). */
static double time_engine(engine_operands *x, const gemm_shape *s, int engine, int reps)
{
    run_engine(x, s, engine);
    double best = INFINITY;
    for (int r = 0; r < reps; r++) {
        double t0 = loaa_now();
        run_engine(x, s, engine);
        double t = loaa_now() - t0;
        best = t < best ? t : best;
    }
    return best;
}

/* One row per shape and engine; then the sums over the model's shapes and the 1024^3 peaks. Rank 0 only. */
static loaa_status bench_engines(const bench_opts *o, const loaa_config *cfg, gemm_shape *shapes, int nshapes)
{
    shapes[nshapes++] = (gemm_shape){"1024^3", 0, 0, 1024, 1024, 1024, 0};
    size_t max = 0;
    for (int i = 0; i < nshapes; i++) {
        size_t a = (size_t)shapes[i].M * shapes[i].K, b = (size_t)shapes[i].K * shapes[i].N;
        size_t c = (size_t)shapes[i].M * shapes[i].N;
        max = a > max ? a : max, max = b > max ? b : max, max = c > max ? c : max;
    }
    engine_operands x = {.A = malloc(max * sizeof(float)), .B = malloc(max * sizeof(float)), .C = malloc(max * sizeof(float)),
                         .Ah = malloc(max * sizeof(loaa_bf16)), .Bh = malloc(max * sizeof(loaa_bf16))}; /* ctx: zero */
    loaa_status st = x.A && x.B && x.C && x.Ah && x.Bh ? LOAA_OK : loaa_fail(LOAA_ERR_NOMEM, "benchmark operands");
    char info[160];
    loaa_gemm_engine_info(info, sizeof info);
    if (!st) {
        loaa_gemm_ctx_init(&x.ctx);
        fill(x.A, max, 1);
        fill(x.B, max, 2);
        loaa_bf16_from_f32(x.Ah, x.A, max);
        loaa_bf16_from_f32(x.Bh, x.B, max);
        printf("# loaa bench gemm --precision bf16: %s (D %d), R = %d x %d rows; %d thread(s), best of %d; %s\n",
               cfg->model, cfg->dim, o->batch, o->tokens, o->threads, o->reps, info);
        printf("%-9s %-2s %6s %6s %6s  %-9s %9s %8s %8s\n", "shape", "op", "M", "N", "K", "engine", "ms", "GFLOP/s",
               "speedup");
    }
    double total[ENGINES] = {0}, peak[ENGINES] = {0};
    for (int i = 0; i < nshapes && !st; i++) {
        const gemm_shape *s = &shapes[i];
        double t[ENGINES], gflop = 2.0 * s->M * s->N * s->K * 1e-9;
        for (int e = 0; e < ENGINES; e++) {
            t[e] = time_engine(&x, s, e, o->reps);
            printf("%-9s %c%c %6d %6d %6d  %-9s %9.2f %8.1f %8.2f\n", s->name, s->ta ? 'T' : 'N', s->tb ? 'T' : 'N', s->M,
                   s->N, s->K, engine_names[e], t[e] * 1e3, gflop / t[e], t[0] / t[e]);
            if (i < nshapes - 1)
                total[e] += t[e];
            else
                peak[e] = gflop / t[e];
        }
    }
    if (!st) {
        printf("# the model's shapes (sum of times): blas %.2f ms, dnnl-f32 %.2f ms (%.2fx), dnnl-bf16 %.2f ms (%.2fx)\n",
               total[0] * 1e3, total[1] * 1e3, total[0] / total[1], total[2] * 1e3, total[0] / total[2]);
        printf("# peak 1024^3: sgemm %.1f GFLOP/s, oneDNN f32 %.1f GFLOP/s, oneDNN bf16 %.1f GFLOP/s\n", peak[0], peak[1],
               peak[2]);
        printf("result: blas_ms=%.3f dnnl_f32_ms=%.3f dnnl_bf16_ms=%.3f sgemm_peak=%.1f dnnl_f32_peak=%.1f "
               "bf16_peak=%.1f primitives=%lu\n", total[0] * 1e3, total[1] * 1e3, total[2] * 1e3, peak[0], peak[1],
               peak[2], loaa_gemm_primitives_created());
    }
    free(x.A), free(x.B), free(x.C), free(x.Ah), free(x.Bh);
    return st;
}

static loaa_status bench(const bench_opts *o, int rank, int size)
{
    loaa_config cfg;
    int Hm;
    loaa_status st = model_dims(o, &cfg, &Hm);
    if (st)
        return st;
    int D = cfg.dim;
    gemm_shape shapes[16];
    int nshapes = model_shapes(o, D, Hm, shapes);
    if (o->bf16)
        return rank == 0 ? bench_engines(o, &cfg, shapes, nshapes) : LOAA_OK;
    grid_spec grids[8];
    int ngrids = parse_grids(o->grids, grids, 8);
    if (ngrids < 0)
        return loaa_fail(LOAA_ERR_USAGE, "--grids '%s': expected a list like 1x1,1x2,2x1", o->grids);

    /* Operands big enough for every shape, identical on every rank (replicated inputs). */
    size_t maxA = 0, maxB = 0, maxC = 0;
    for (int i = 0; i < nshapes; i++) {
        const gemm_shape *s = &shapes[i];
        size_t a = (size_t)s->M * s->K, b = (size_t)s->K * s->N, c = (size_t)s->M * s->N;
        maxA = a > maxA ? a : maxA, maxB = b > maxB ? b : maxB, maxC = c > maxC ? c : maxC;
    }
    float *A = malloc(maxA * sizeof(float)), *B = malloc(maxB * sizeof(float)), *C = malloc(maxC * sizeof(float));
    st = A && B && C ? LOAA_OK : loaa_fail(LOAA_ERR_NOMEM, "benchmark operands");
    if ((st = loaa_comm_agree(MPI_COMM_WORLD, st))) {
        free(A), free(B), free(C);
        return st;
    }
    fill(A, maxA, 1);
    fill(B, maxB, 2);
    loaa_pgrid *pg[8] = {0};
    st = make_grids(o, grids, ngrids, rank, size, pg);

    if (rank == 0) {
        printf("# loaa bench gemm: %s (D %d, MLP %d), R = %d x %d = %d rows, %d classes; %d ranks, %d BLAS thread(s) "
               "per rank, nb %d, panel %d, best of %d\n",
               cfg.model, D, Hm, o->batch, o->tokens, o->batch * o->tokens, o->classes, size, o->threads, o->nb, o->panel, o->reps);
        printf("%-9s %-2s %6s %6s %6s  %-7s %-5s %9s %8s %8s %6s\n", "shape", "op", "M", "N", "K", "backend", "grid", "ms",
               "GFLOP/s", "speedup", "eff");
    }
    for (int i = 0; i < nshapes && !st; i++) {
        const gemm_shape *s = &shapes[i];
        bench_case c = {.s = s, .A = A, .B = B, .C = C, .lda = s->ta ? s->M : s->K, .ldb = s->tb ? s->K : s->N};
        double t_blas;
        if ((st = time_case(&c, MODE_BLAS, rank == 0, o->reps, &t_blas)))
            break;
        if (rank == 0)
            print_row(s, "blas", "1", t_blas, t_blas, 1);
        for (int gi = 0; gi < ngrids && !st; gi++)
            if (grids[gi].p * grids[gi].q <= size)
                st = time_on_grid(o, &c, &grids[gi], pg[gi], t_blas, rank);
    }
    if (!st && rank == 0)
        print_summary(grids, ngrids, size);
    for (int gi = 0; gi < ngrids; gi++)
        loaa_pgrid_free(pg[gi]);
    free(A), free(B), free(C);
    return st;
}

int loaa_bench_gemm(int argc, char **argv)
{
    bench_opts o;
    int rc;
    if (parse_opts(argc, argv, &o, &rc))
        return rc;
    int inited = 1, rank = 0, size = 1; /* --precision bf16 is local: no MPI at all */
    if (!o.bf16) {
        MPI_Initialized(&inited);
        if (!inited && MPI_Init(&argc, &argv) != MPI_SUCCESS) {
            fprintf(stderr, "loaa bench gemm: MPI_Init failed\n");
            return 1;
        }
        MPI_Comm_rank(MPI_COMM_WORLD, &rank);
        MPI_Comm_size(MPI_COMM_WORLD, &size);
    }
    loaa_gemm_set_threads(o.threads);
    loaa_pgemm_set_panel(o.panel);
    loaa_status st = bench(&o, rank, size);
    fflush(stdout);
    /* The status is agreed, so rank 0 alone reports it. */
    rc = st == LOAA_OK ? 0 : rank == 0 ? loaa_cli_report("bench gemm", st) : (st == LOAA_ERR_USAGE ? 2 : 1);
    if (!inited)
        MPI_Finalize();
    return rc;
}

/* ---- `loaa bench step --ranks-per-trial g`: the step benchmark on a group (cmd_bench.c calls these) ---- */

static int bench_mpi_started;

loaa_status loaa_bench_join_group(loaa_model *m, const loaa_config *cfg, int *world_rank)
{
    int inited = 0, size = 1;
    *world_rank = 0;
    if (cfg->ranks_per_trial <= 1)
        return LOAA_OK;
    MPI_Initialized(&inited);
    if (!inited) {
        if (MPI_Init(NULL, NULL) != MPI_SUCCESS)
            return loaa_fail(LOAA_ERR_MPI, "MPI_Init failed");
        bench_mpi_started = 1;
    }
    MPI_Comm_rank(MPI_COMM_WORLD, world_rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    if (size % cfg->ranks_per_trial)
        return loaa_fail(LOAA_ERR_CONFIG, "key 'ranks_per_trial': %d ranks do not split into groups of %d (run under "
                         "mpirun -np a multiple of it)", size, cfg->ranks_per_trial);
    /* Groups of consecutive ranks, as the sweep makes them; each group trains its own copy side by side. */
    MPI_Comm group;
    MPI_Comm_split(MPI_COMM_WORLD, *world_rank / cfg->ranks_per_trial, *world_rank, &group);
    loaa_status st = loaa_model_set_group(m, group, cfg->grid_p, cfg->grid_q);
    MPI_Comm_free(&group);
    return st;
}

int loaa_bench_in_world(void)
{
    int inited = 0, fin = 0;
    MPI_Initialized(&inited);
    MPI_Finalized(&fin);
    return inited && !fin;
}

void loaa_bench_world_barrier(void)
{
    if (loaa_bench_in_world())
        MPI_Barrier(MPI_COMM_WORLD);
}

double loaa_bench_world_reduce(double v, int sum)
{
    double r = v;
    if (loaa_bench_in_world())
        MPI_Allreduce(&v, &r, 1, MPI_DOUBLE, sum ? MPI_SUM : MPI_MAX, MPI_COMM_WORLD);
    return r;
}

void loaa_bench_finish(void)
{
    if (bench_mpi_started && loaa_bench_in_world())
        MPI_Finalize();
    bench_mpi_started = 0;
}
