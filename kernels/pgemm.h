/*
 * pgemm.h - distributed single-precision GEMM over a BLACS process grid
 * (ScaLAPACK's psgemm_), for a trial that trains on a group of ranks.
 *
 * A loaa_pgrid is a P x Q BLACS grid built from a group communicator (the
 * ranks of one trial), never from the world: Csys2blacs_handle(group) then
 * Cblacs_gridinit, so only the group's ranks take part and the coordinator
 * and other groups are never drawn into a collective (which would deadlock).
 *
 * Vocabulary is row-major like the rest of loaa (and gemm.h):
 *     C (M,N) = alpha * op(A) (M,K) * op(B) (K,N) + beta * C.
 * ScaLAPACK is column-major; a row-major (m,n) array is the column-major
 * (n,m) array in the same memory, so the product is computed as
 * C^T = op(B)^T op(A)^T with the operands swapped, and nothing is ever
 * transposed in memory.
 *
 * Three ways in, from the most general to the fastest:
 *   - loaa_pgemm: every operand replicated (the same full array on every
 *     rank); C comes back replicated. Each rank copies its own blocks out of
 *     the replicated inputs (no communication), psgemm_ runs, and one
 *     MPI_Allgatherv puts C back together.
 *   - loaa_pmat_*: block-cyclic matrices with array descriptors (descinit_),
 *     scattered from / gathered to replicated arrays, redistributed between
 *     layouts and grids with psgemr2d_, multiplied with loaa_pmat_gemm.
 *   - loaa_pgemm_rows: the layout the model trains in. A and C are split by
 *     rows ("slabs": rank r holds rows [r*s, r*s + s) of the stacked matrix,
 *     the last slabs shorter or empty) and B is replicated. On a 1 x g grid
 *     the slabs are exactly ScaLAPACK's column blocks of C^T and psgemm_
 *     reads and writes the caller's arrays in place; on P > 1 grids the
 *     slabs are redistributed to the grid and back with psgemr2d_.
 *
 * Collective contract: every function taking a grid is collective over the
 * grid's group and every rank must pass the same sizes, transposes and
 * whether beta is zero. The arguments are checked together in one
 * allreduce before any ScaLAPACK call, so a rank with bad arguments (or a
 * failed allocation) makes every rank return the same failure instead of
 * leaving the others blocked inside psgemm_ (and PBLAS's own argument
 * errors would abort the whole job).
 *
 * Failure: functions return a loaa_status that is identical on every rank
 * of the group, with the detail of the lowest failing rank prefixed
 * "rank R: " (see loaa_comm_agree), so one rank reports it for the group.
 * Outputs are unspecified after a failure; inputs are never modified.
 */
#ifndef LOAA_PGEMM_H
#define LOAA_PGEMM_H

#include <mpi.h>
#include <stddef.h>

#include "common/status.h"
#include "kernels/gemm.h"

/* The block size used when a caller passes 0: large enough that psgemm_ runs BLAS-3 panels, small enough to balance. */
#define LOAA_PGEMM_DEFAULT_NB 64

typedef struct loaa_pgrid loaa_pgrid;

/*
 * PBLAS's logical block size (pilaenv_: the K-panel width psgemm_ works in).
 * loaa overrides ScaLAPACK's default of 32, which turns every local product
 * into slow rank-32 updates. Process-wide; not collective, but every rank
 * of a group must use the same value. kb <= 0 restores the default.
 */
#define LOAA_PBLAS_DEFAULT_NB 256
void loaa_pgemm_set_panel(int kb);

/*
 * Collective over comm: all ranks pass their own status and get back the
 * same one: LOAA_OK when every rank passed LOAA_OK, otherwise the status of
 * the lowest failing rank, with its detail prefixed "rank R: " recorded on
 * every rank. One allreduce when all is well, plus one broadcast on failure.
 */
loaa_status loaa_comm_agree(MPI_Comm comm, loaa_status st);

/*
 * Chooses P x Q = g: the most nearly square factorisation with P <= Q
 * (HPL's advice: a flat grid broadcasts along the longer side). g >= 1.
 */
void loaa_pgrid_choose(int g, int *p, int *q);

/*
 * Collective over group: a P x Q grid of the group's ranks, row-major
 * (group rank r sits at row r / Q, column r % Q). p = q = 0 chooses with
 * loaa_pgrid_choose; otherwise p * q must equal the group's size. nb is the
 * default square block size for matrices on this grid (0 = 64). The group
 * communicator is duplicated, so the caller may free its own.
 * LOAA_ERR_CONFIG for a grid that does not fit the group (on every rank),
 * LOAA_ERR_NOMEM, LOAA_ERR_MPI. On failure *out is NULL.
 */
loaa_status loaa_pgrid_create(loaa_pgrid **out, MPI_Comm group, int p, int q, int nb);

/* Collective: releases the BLACS context, the system handle and the duplicated communicator. NULL is a no-op. */
void loaa_pgrid_free(loaa_pgrid *g);

/* Grid facts: rows P, columns Q, group rank and size. */
int loaa_pgrid_p(const loaa_pgrid *g);
int loaa_pgrid_q(const loaa_pgrid *g);
int loaa_pgrid_rank(const loaa_pgrid *g);
int loaa_pgrid_size(const loaa_pgrid *g);
/* The grid's own communicator (a duplicate of the group); valid for the grid's lifetime. */
MPI_Comm loaa_pgrid_comm(const loaa_pgrid *g);

/*
 * Replicated GEMM, row-major: C (M,N) = alpha op(A) op(B) + beta C on every
 * rank, each rank passing the same full A, B (and C when beta != 0).
 * Matches cblas_sgemm(CblasRowMajor, ...) to float rounding. Collective.
 * Scratch is kept in the grid and reused, so repeated calls do not allocate.
 */
loaa_status loaa_pgemm(loaa_pgrid *g, int trans_a, int trans_b, int M, int N, int K, float alpha, const float *A,
                       int lda, const float *B, int ldb, float beta, float *C, int ldc);

/*
 * Slab GEMM, row-major, for row-distributed activations:
 *     C_r (m_r,N) = alpha A_r (m_r,K) op(B) (K,N) + beta C_r
 * where A_r and C_r are this rank's m_r rows of the stacked matrices and B
 * is replicated. Which global rows a rank holds does not matter to a row
 * product, only that the heights form a block-cyclic pattern: ScaLAPACK's
 * numroc of the total over the group with some block size nb. Two are
 * tried: nb = the gcd of the heights (a batch dealt as evenly as possible,
 * e.g. 2,1,1,1 samples), and nb = the largest height (ceil(B/g) samples per
 * rank, the last ones short or empty). A rank with m_r = 0 still calls (A
 * and C may be NULL). Collective.
 * LOAA_ERR_SHAPE when ranks disagree on N, K, trans_b or the heights fit no pattern.
 */
loaa_status loaa_pgemm_rows(loaa_pgrid *g, int trans_b, int m_r, int N, int K, float alpha, const float *A, int lda,
                            const float *B, int ldb, float beta, float *C, int ldc);

/*
 * The GEMM interface's ScaLAPACK backend (gemm.h): ctx's row products run
 * as loaa_pgemm_rows on grid g (not owned; it must outlive ctx's use),
 * through ctx->rows, with a failure kept in ctx->error (agreed, so
 * identical on every rank); once set, later calls return at once on every
 * rank, so a failed step does no more collective work.
 */
void loaa_gemm_ctx_init_grid(loaa_gemm_ctx *ctx, loaa_pgrid *g);

/*
 * A block-cyclic distributed row-major (m,n) matrix on a grid. ScaLAPACK
 * sees the column-major (n,m) matrix: its rows are our columns, split into
 * blocks of nb_cols over the grid's P rows, and its columns are our rows,
 * split into blocks of nb_rows over the grid's Q columns. Local storage is
 * column-major (lrows x lcols, leading dimension lld), which read row-major
 * is this rank's rows (lcols of them), each lrows long.
 */
typedef struct loaa_pmat {
    loaa_pgrid *grid;    /* the grid it lives on (not owned) */
    int m, n;            /* row-major global shape */
    int nb_rows, nb_cols;
    int desc[9];         /* ScaLAPACK array descriptor of the column-major (n,m) matrix */
    int lrows, lcols;    /* local column-major shape: numroc of n over P, of m over Q */
    int lld;
    float *data;         /* lld * lcols floats, owned unless borrowed */
    int borrowed;
} loaa_pmat;

/*
 * Collective over the grid: a zeroed (m,n) matrix with blocks nb_rows x
 * nb_cols (0 = the grid's nb). LOAA_ERR_NOMEM (agreed) or LOAA_ERR_SHAPE.
 * On failure the matrix holds nothing and loaa_pmat_free is still safe.
 */
loaa_status loaa_pmat_init(loaa_pmat *a, loaa_pgrid *g, int m, int n, int nb_rows, int nb_cols);
void loaa_pmat_free(loaa_pmat *a);

/* Local: fills this rank's blocks from the replicated row-major (m,n) array src (row stride ld >= n). No communication. */
void loaa_pmat_scatter(loaa_pmat *a, const float *src, int ld);

/*
 * Collective over the matrix's grid: every rank gets the whole matrix as a
 * row-major (m,n) array dst (row stride ld >= n); one MPI_Allgatherv.
 */
loaa_status loaa_pmat_gather(const loaa_pmat *a, float *dst, int ld);

/*
 * Collective: C = alpha op(A) op(B) + beta C (row-major shapes) with psgemm_.
 * All three on one grid (any block sizes). LOAA_ERR_SHAPE when the shapes do
 * not chain; nothing is called then.
 */
loaa_status loaa_pmat_gemm(int trans_a, int trans_b, float alpha, const loaa_pmat *A, const loaa_pmat *B, float beta,
                           loaa_pmat *C);

/*
 * Collective over the group that holds both grids (gu must contain every
 * rank of both, e.g. the group's 1 x g grid): dst = src, moved between
 * layouts, block sizes and grids with psgemr2d_. Shapes must match.
 */
loaa_status loaa_pmat_redistribute(loaa_pmat *dst, const loaa_pmat *src, loaa_pgrid *gu);

#endif
