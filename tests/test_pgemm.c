/*
 * test_pgemm.c - run under mpirun with 1, 2 or 4 ranks: ScaLAPACK products
 * (kernels/pgemm.h) on every grid P x Q = ranks agree with cblas_sgemm for
 * all transposes, odd sizes, padded strides and beta; block-cyclic scatter,
 * gather and redistribution round-trip; row slabs (the model's layout) with
 * empty ranks; and a failure on one rank comes back as the same status and
 * detail on every rank, without a hang. Rank 0 prints TAP.
 */
#include <cblas.h>
#include <math.h>
#include <mpi.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/status.h"
#include "kernels/pgemm.h"
#include "tests/tap.h"

static int rank, size;

static int imin_(int a, int b) { return a < b ? a : b; }

/* Every rank's verdict, ANDed; rank 0 prints it. */
static int all_ok(int ok)
{
    int r = 0;
    MPI_Allreduce(&ok, &r, 1, MPI_INT, MPI_LAND, MPI_COMM_WORLD);
    return r;
}

#define CHECK(ok, ...)                        \
    do {                                      \
        int ok_ = all_ok(ok);                 \
        if (rank == 0)                        \
            TAP_OK(ok_, __VA_ARGS__);         \
    } while (0)

static void fill(float *x, size_t n, uint32_t seed)
{
    uint32_t s = seed * 2654435761u + 12345u;
    for (size_t i = 0; i < n; i++) {
        s = s * 1664525u + 1013904223u;
        x[i] = (float)((s >> 8) & 0xffff) / 32768.0f - 1.0f;
    }
}

/* max |got - want| over an (m,n) region with row strides; padding beyond n must still be the sentinel. */
static double max_err(const float *got, const float *want, int m, int n, int ld, int *pad_ok)
{
    double e = 0;
    for (int i = 0; i < m; i++) {
        for (int j = 0; j < n; j++)
            e = fmax(e, fabs((double)got[(size_t)i * ld + j] - want[(size_t)i * ld + j]));
        for (int j = n; j < ld; j++)
            if (got[(size_t)i * ld + j] != -7.0f)
                *pad_ok = 0;
    }
    return e;
}

/* The replicated product on one grid: every transpose pair, beta 0 and not, several odd sizes. */
static void test_replicated(loaa_pgrid *g, const char *label)
{
    static const int sizes[][3] = {{1, 1, 1}, {5, 3, 7}, {37, 23, 19}, {64, 65, 33}, {2, 130, 3}, {9, 4, 0}};
    int ok = 1, pad_ok = 1;
    double worst = 0;
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
        int M = sizes[s][0], N = sizes[s][1], K = sizes[s][2];
        for (int ta = 0; ta < 2; ta++)
            for (int tb = 0; tb < 2; tb++)
                for (int bi = 0; bi < 2; bi++) {
                    float beta = bi ? 0.5f : 0.0f, alpha = 0.75f;
                    int lda = (ta ? M : K) + 3, ldb = (tb ? K : N) + 1, ldc = N + 2;
                    int arows = ta ? K : M, brows = tb ? N : K;
                    float *A = malloc(sizeof(float) * ((size_t)arows * lda + 1));
                    float *B = malloc(sizeof(float) * ((size_t)brows * ldb + 1));
                    float *C = malloc(sizeof(float) * (size_t)M * ldc), *R = malloc(sizeof(float) * (size_t)M * ldc);
                    fill(A, (size_t)arows * lda, 1 + s);
                    fill(B, (size_t)brows * ldb, 2 + s);
                    fill(C, (size_t)M * ldc, 3 + s);
                    for (int i = 0; i < M; i++)
                        for (int j = N; j < ldc; j++)
                            C[(size_t)i * ldc + j] = -7.0f;
                    memcpy(R, C, sizeof(float) * (size_t)M * ldc);
                    if (K > 0)
                        cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, M, N,
                                    K, alpha, A, lda, B, ldb, beta, R, ldc);
                    else
                        for (int i = 0; i < M; i++)
                            for (int j = 0; j < N; j++)
                                R[(size_t)i * ldc + j] *= beta;
                    loaa_status st = loaa_pgemm(g, ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
                    double e = st ? 1e30 : max_err(C, R, M, N, ldc, &pad_ok);
                    double tol = 2e-6 * (K + 1);
                    if (e > tol) {
                        ok = 0;
                        if (rank == 0)
                            TAP_DIAG("%s: M=%d N=%d K=%d ta=%d tb=%d beta=%g: status %d, max error %g", label, M, N, K, ta,
                                     tb, beta, st, e);
                    }
                    worst = fmax(worst, e / tol);
                    free(A), free(B), free(C), free(R);
                }
    }
    CHECK(ok, "%s: psgemm equals cblas_sgemm (4 transposes x beta 0/0.5 x 6 odd sizes, worst %.2g of tolerance)",
          label, worst);
    CHECK(pad_ok, "%s: padding beyond N in each row of C untouched", label);
}

/* Scatter, gather and psgemr2d between block sizes and grids give back the same matrix. */
static void test_pmat(loaa_pgrid *g, loaa_pgrid *flat, const char *label)
{
    int m = 29, n = 17, ld = 19;
    float *x = malloc(sizeof(float) * m * ld), *y = malloc(sizeof(float) * m * ld);
    fill(x, (size_t)m * ld, 7);
    for (int i = 0; i < m * ld; i++)
        y[i] = -7.0f;
    for (int i = 0; i < m; i++)
        for (int j = n; j < ld; j++)
            x[i * ld + j] = -7.0f;
    loaa_pmat a, b;
    loaa_status st = loaa_pmat_init(&a, g, m, n, 4, 3);
    loaa_status st2 = loaa_pmat_init(&b, flat, m, n, 5, 7);
    int ok = !st && !st2;
    if (ok) {
        loaa_pmat_scatter(&a, x, ld);
        st = loaa_pmat_redistribute(&b, &a, flat);
        if (!st)
            st = loaa_pmat_gather(&b, y, ld);
        int pad_ok = 1;
        ok = !st && max_err(y, x, m, n, ld, &pad_ok) == 0 && pad_ok;
    }
    CHECK(ok, "%s: scatter, psgemr2d to a %dx%d grid with other blocks, gather: the same matrix", label,
          loaa_pgrid_p(flat), loaa_pgrid_q(flat));

    /* pmat_gemm on pre-distributed operands, blocks of different shapes. */
    int M = 23, N = 11, K = 13;
    loaa_pmat pa, pb, pc;
    float *A = malloc(sizeof(float) * M * K), *B = malloc(sizeof(float) * N * K), *C = malloc(sizeof(float) * M * N),
          *R = malloc(sizeof(float) * M * N);
    fill(A, (size_t)M * K, 8);
    fill(B, (size_t)N * K, 9);
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasTrans, M, N, K, 1.0f, A, M, B, K, 0.0f, R, N);
    ok = !loaa_pmat_init(&pa, g, K, M, 2, 5) && !loaa_pmat_init(&pb, g, N, K, 3, 3) && !loaa_pmat_init(&pc, g, M, N, 0, 0);
    if (ok) {
        loaa_pmat_scatter(&pa, A, M);
        loaa_pmat_scatter(&pb, B, K);
        ok = !loaa_pmat_gemm(1, 1, 1.0f, &pa, &pb, 0.0f, &pc) && !loaa_pmat_gather(&pc, C, N);
        int pad_ok = 1;
        ok = ok && max_err(C, R, M, N, N, &pad_ok) < 1e-4;
    }
    CHECK(ok, "%s: loaa_pmat_gemm (A^T B^T, mixed block sizes) equals cblas_sgemm", label);
    st = loaa_pmat_gemm(0, 0, 1.0f, &pa, &pb, 0.0f, &pc);
    CHECK(st == LOAA_ERR_SHAPE, "%s: loaa_pmat_gemm refuses shapes that do not chain", label);
    loaa_pmat_free(&pa), loaa_pmat_free(&pb), loaa_pmat_free(&pc), loaa_pmat_free(&a), loaa_pmat_free(&b);
    free(A), free(B), free(C), free(R), free(x), free(y);
}

/*
 * Row slabs: samples of `tokens` rows dealt ceil(batch/size) per rank (ranks
 * past the end hold none), or as evenly as possible (the first batch % size
 * ranks one more), as the model deals a batch.
 */
static void test_rows(loaa_pgrid *g, const char *label, int batch, int even)
{
    int tokens = 3, K = 21, N = 10, per = (batch + size - 1) / size;
    int first = imin_(rank * per, batch), mine = imin_(per, batch - first);
    if (even) {
        int q = batch / size, rem = batch % size;
        first = rank * q + imin_(rank, rem);
        mine = q + (rank < rem);
    }
    int M = batch * tokens, ok = 1;
    (void)M;
    for (int tb = 0; tb < 2; tb++)
        for (int bi = 0; bi < 2; bi++) {
            float beta = bi ? 1.0f : 0.0f;
            int lda = K + 1, ldb = (tb ? K : N) + 2, ldc = N + 1, brows = tb ? N : K;
            float *A = malloc(sizeof(float) * M * lda), *B = malloc(sizeof(float) * brows * ldb),
                  *C = malloc(sizeof(float) * M * ldc), *R = malloc(sizeof(float) * M * ldc);
            fill(A, (size_t)M * lda, 11);
            fill(B, (size_t)brows * ldb, 12);
            fill(C, (size_t)M * ldc, 13);
            for (int i = 0; i < M; i++)
                C[(size_t)i * ldc + N] = -7.0f;
            memcpy(R, C, sizeof(float) * M * ldc);
            cblas_sgemm(CblasRowMajor, CblasNoTrans, tb ? CblasTrans : CblasNoTrans, M, N, K, 1.0f, A, lda, B, ldb, beta,
                        R, ldc);
            size_t off = (size_t)first * tokens;
            loaa_status st = loaa_pgemm_rows(g, tb, mine * tokens, N, K, 1.0f, mine ? A + off * lda : NULL, lda, B, ldb,
                                             beta, mine ? C + off * ldc : NULL, ldc);
            int pad_ok = 1;
            double e = st ? 1e30 : max_err(C + off * ldc, R + off * ldc, mine * tokens, N, ldc, &pad_ok);
            if (e > 1e-4 || !pad_ok) {
                ok = 0;
                TAP_DIAG("rank %d %s: rows tb=%d beta=%g: status %d (%s), error %g", rank, label, tb, beta, st,
                         loaa_error_detail(), e);
            }
            free(A), free(B), free(C), free(R);
        }
    CHECK(ok, "%s: row slabs of %d samples dealt %s equal cblas_sgemm (B and B^T, beta 0/1)", label, batch,
          even ? "evenly" : "in blocks of ceil(B/g)");
}

/* Every rank's detail must be the same text, so the group reports one failure, once. */
static int same_detail_everywhere(void)
{
    char mine[256] = {0}, root[256] = {0};
    snprintf(mine, sizeof mine, "%s", loaa_error_detail());
    memcpy(root, mine, sizeof root);
    MPI_Bcast(root, sizeof root, MPI_CHAR, 0, MPI_COMM_WORLD);
    return strcmp(root, mine) == 0;
}

static void test_failures(loaa_pgrid *g)
{
    int last = size - 1;
    /* A rank's own failure (the trainer's NaN loss) reaches every rank with its detail. */
    loaa_status st = rank == last ? loaa_fail(LOAA_ERR_NUMERIC, "loss is NaN at step 3") : LOAA_OK;
    st = loaa_comm_agree(loaa_pgrid_comm(g), st);
    char want[64];
    snprintf(want, sizeof want, "rank %d: loss is NaN at step 3", last);
    CHECK(st == LOAA_ERR_NUMERIC && strcmp(loaa_error_detail(), want) == 0,
          "a NaN on rank %d is agreed by the group: every rank returns it with the detail '%s'", last, want);
    CHECK(same_detail_everywhere(), "the agreed detail is one text on every rank");
    st = loaa_comm_agree(loaa_pgrid_comm(g), LOAA_OK);
    CHECK(st == LOAA_OK, "agreement of all-good statuses is LOAA_OK");

    /* Arguments that one rank gets wrong: refused everywhere before psgemm_, nobody blocks. */
    float A[12] = {0}, B[12] = {0}, C[12] = {0};
    int M = 3;
    if (rank == last)
        M = size > 1 ? 2 : -1;
    st = loaa_pgemm(g, 0, 0, M, 2, 2, 1.0f, A, 2, B, 2, 0.0f, C, 2);
    CHECK(st == LOAA_ERR_SHAPE && same_detail_everywhere(),
          "pgemm with a bad M on rank %d: LOAA_ERR_SHAPE on every rank, one detail (%s)", last,
          rank == 0 ? loaa_error_detail() : "");
    st = loaa_pgemm(g, 0, 0, 3, 2, 2, 1.0f, rank == last ? NULL : A, 2, B, 2, 0.0f, C, 2);
    CHECK(st == LOAA_ERR_SHAPE && same_detail_everywhere(), "pgemm with a NULL operand on rank %d: refused everywhere",
          last);
    /* A slab pattern psgemm_ cannot describe (a short slab before a longer one). */
    int rows = size > 1 ? (rank == 0 ? 1 : 2) : -1;
    st = loaa_pgemm_rows(g, 0, rows, 2, 2, 1.0f, A, 2, B, 2, 0.0f, C, 2);
    CHECK(st == LOAA_ERR_SHAPE && same_detail_everywhere(), "pgemm_rows with a broken slab pattern: refused everywhere (%s)",
          rank == 0 ? loaa_error_detail() : "");
    /* After refusals the grid still works. */
    float a1[4] = {1, 2, 3, 4}, b1[4] = {1, 0, 0, 1}, c1[4] = {0};
    st = loaa_pgemm(g, 0, 0, 2, 2, 2, 1.0f, a1, 2, b1, 2, 0.0f, c1, 2);
    CHECK(st == LOAA_OK && c1[0] == 1 && c1[1] == 2 && c1[2] == 3 && c1[3] == 4, "the grid works after refused calls");

    loaa_pgrid *bad = NULL;
    st = loaa_pgrid_create(&bad, MPI_COMM_WORLD, size + 1, 1, 0);
    CHECK(st == LOAA_ERR_CONFIG && bad == NULL, "a %dx1 grid for %d ranks is refused on every rank", size + 1, size);
}

int main(int argc, char **argv)
{
    MPI_Init(&argc, &argv);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    openblas_set_num_threads(1);

    int p, q;
    loaa_pgrid_choose(size, &p, &q);
    CHECK(p * q == size && p <= q, "automatic grid for %d ranks: %dx%d", size, p, q);

    /* The flat 1 x size grid is the slab layout and the target of redistribution. */
    loaa_pgrid *flat = NULL;
    loaa_status st = loaa_pgrid_create(&flat, MPI_COMM_WORLD, 1, size, 0);
    CHECK(st == LOAA_OK, "1x%d grid from the world communicator", size);
    for (int pp = 1; pp <= size; pp++) {
        if (size % pp)
            continue;
        int qq = size / pp;
        for (int nb = 0; nb <= 4; nb += 4) {
            loaa_pgrid *g = NULL;
            char label[64];
            snprintf(label, sizeof label, "grid %dx%d nb %d", pp, qq, nb ? nb : LOAA_PGEMM_DEFAULT_NB);
            st = loaa_pgrid_create(&g, MPI_COMM_WORLD, pp, qq, nb);
            CHECK(st == LOAA_OK && loaa_pgrid_p(g) == pp && loaa_pgrid_q(g) == qq, "%s: created", label);
            if (st)
                continue;
            test_replicated(g, label);
            if (nb) {
                test_pmat(g, flat, label);
                test_rows(g, label, 5, 0);
                test_rows(g, label, 1, 0);
                test_rows(g, label, 5, 1);
                test_rows(g, label, 8, 1);
            }
            loaa_pgrid_free(g);
        }
    }

    /* A grid from a sub-communicator: the ranks of one worker group only (here: split in halves). */
    MPI_Comm half;
    MPI_Comm_split(MPI_COMM_WORLD, rank < (size + 1) / 2, rank, &half);
    loaa_pgrid *hg = NULL;
    st = loaa_pgrid_create(&hg, half, 0, 0, 3);
    CHECK(st == LOAA_OK, "grids on two disjoint groups at once (Csys2blacs_handle of each group's communicator)");
    if (!st) {
        char label[64];
        snprintf(label, sizeof label, "group grid %dx%d", loaa_pgrid_p(hg), loaa_pgrid_q(hg));
        test_replicated(hg, label);
        loaa_pgrid_free(hg);
    }
    MPI_Comm_free(&half);

    test_failures(flat);
    loaa_pgrid_free(flat);
    MPI_Finalize();
    return rank == 0 ? tap_done() : 0;
}
