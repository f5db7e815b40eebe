/*
 * pgemm.c - ScaLAPACK (PBLAS psgemm_) GEMM on a BLACS grid made from a group
 * communicator: grids, block-cyclic matrices, scatter/gather, redistribution,
 * and the replicated and row-slab products the model uses. See pgemm.h.
 */
#include "config.h"

#include "kernels/pgemm.h"

#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/*
 * BLACS, PBLAS and the ScaLAPACK tools have no Debian header; these are the
 * prototypes of libscalapack-openmpi (32-bit integers, Fortran pass by reference).
 */
extern void Cblacs_pinfo(int *mypnum, int *nprocs);
extern int Csys2blacs_handle(MPI_Comm comm);
extern void Cfree_blacs_system_handle(int handle);
extern void Cblacs_gridinit(int *context, const char *order, int nprow, int npcol);
extern void Cblacs_gridinfo(int context, int *nprow, int *npcol, int *myrow, int *mycol);
extern void Cblacs_gridexit(int context);
extern int numroc_(const int *n, const int *nb, const int *iproc, const int *isrcproc, const int *nprocs);
extern void descinit_(int *desc, const int *m, const int *n, const int *mb, const int *nb, const int *irsrc,
                      const int *icsrc, const int *ictxt, const int *lld, int *info);
extern void psgemm_(const char *transa, const char *transb, const int *m, const int *n, const int *k, const float *alpha,
                    const float *a, const int *ia, const int *ja, const int *desca, const float *b, const int *ib,
                    const int *jb, const int *descb, const float *beta, float *c, const int *ic, const int *jc,
                    const int *descc);
extern void psgemr2d_(const int *m, const int *n, const float *a, const int *ia, const int *ja, const int *desca,
                      float *b, const int *ib, const int *jb, const int *descb, const int *ictxt);

/*
 * PBLAS asks pilaenv_ for its logical block size: the width of the panels
 * psgemm_ broadcasts and multiplies. ScaLAPACK's own returns 32 and asks
 * installers to tune it; at 32 each local product is a rank-32 update and
 * runs well below BLAS speed (on one rank psgemm_ was 15-20% slower than
 * cblas_sgemm on the model's shapes). Defining it here overrides the
 * library's (the shared library calls it through its PLT). The value is
 * LOAA_PBLAS_DEFAULT_NB unless loaa_pgemm_set_panel changes it.
 */
static int pblas_panel = LOAA_PBLAS_DEFAULT_NB;

int pilaenv_(const int *ictxt, const char *prec);
int pilaenv_(const int *ictxt, const char *prec)
{
    (void)ictxt;
    (void)prec;
    return pblas_panel;
}

void loaa_pgemm_set_panel(int kb)
{
    pblas_panel = kb > 0 ? kb : LOAA_PBLAS_DEFAULT_NB;
}


struct loaa_pgrid {
    MPI_Comm comm;      /* duplicate of the group */
    int sys_handle;     /* Csys2blacs_handle(comm) */
    int ctxt;           /* the P x Q grid */
    int ctxt_row;       /* a 1 x g grid over the same ranks: the slab layout (== ctxt when P == 1) */
    int p, q, myrow, mycol, rank, size, nb;
    int *counts, *displs; /* size entries each, for Allgatherv */
    float *ws;          /* scratch reused across calls */
    size_t ws_cap;      /* floats */
};

/* Descriptor fields (0-based indices into desc[9]). */
enum { DESC_CTXT = 1, DESC_M = 2, DESC_N = 3, DESC_MB = 4, DESC_NB = 5, DESC_RSRC = 6, DESC_CSRC = 7, DESC_LLD = 8 };

static const int ONE = 1, ZERO = 0;

static int imax(int a, int b) { return a > b ? a : b; }
static int imin(int a, int b) { return a < b ? a : b; }

static int numroc(int n, int nb, int iproc, int nprocs) { return numroc_(&n, &nb, &iproc, &ZERO, &nprocs); }

/* Global index of local index l of a dimension dealt in blocks of nb over nprocs, held by iproc (source 0). */
static int l2g(int l, int nb, int iproc, int nprocs) { return (l / nb * nprocs + iproc) * nb + l % nb; }

/* ---- collective agreement ---- */

/*
 * The detail of the lowest failing rank goes to everyone. vals (n of them)
 * must be equal on all ranks; one allreduce of MAX over (flag, v, -v)
 * yields both the failing rank and each value's max and min.
 */
static loaa_status agree_values(MPI_Comm comm, loaa_status st, const int *vals, const char *const *names, int n)
{
    int rank, size;
    MPI_Comm_rank(comm, &rank);
    MPI_Comm_size(comm, &size);
    int buf[1 + 2 * 16];
    if (n > 16)
        n = 16;
    buf[0] = st != LOAA_OK ? size - rank : 0;
    for (int i = 0; i < n; i++) {
        buf[1 + 2 * i] = vals[i];
        buf[2 + 2 * i] = -vals[i];
    }
    if (MPI_Allreduce(MPI_IN_PLACE, buf, 1 + 2 * n, MPI_INT, MPI_MAX, comm) != MPI_SUCCESS)
        return loaa_fail(LOAA_ERR_MPI, "MPI_Allreduce of the group's status failed");
    if (buf[0] > 0) {
        int root = size - buf[0];
        struct {
            int st;
            char detail[900];
        } msg;
        memset(&msg, 0, sizeof msg);
        if (rank == root) {
            msg.st = (int)st;
            snprintf(msg.detail, sizeof msg.detail, "%s", loaa_error_detail());
        }
        if (MPI_Bcast(&msg, (int)sizeof msg, MPI_BYTE, root, comm) != MPI_SUCCESS)
            return loaa_fail(LOAA_ERR_MPI, "MPI_Bcast of the failing rank's detail failed");
        if (msg.st <= 0 || msg.st >= LOAA_STATUS_COUNT)
            msg.st = LOAA_ERR_INTERNAL;
        return loaa_fail((loaa_status)msg.st, "rank %d: %s", root, msg.detail);
    }
    for (int i = 0; i < n; i++)
        if (buf[1 + 2 * i] != -buf[2 + 2 * i])
            return loaa_fail(LOAA_ERR_SHAPE, "the group's ranks disagree on %s (from %d to %d)", names[i],
                             -buf[2 + 2 * i], buf[1 + 2 * i]);
    return LOAA_OK;
}

loaa_status loaa_comm_agree(MPI_Comm comm, loaa_status st) { return agree_values(comm, st, NULL, NULL, 0); }

/* ---- grids ---- */

void loaa_pgrid_choose(int g, int *p, int *q)
{
    int best = 1;
    for (int d = 1; (long)d * d <= g; d++)
        if (g % d == 0)
            best = d;
    *p = best;
    *q = g / best;
}

static loaa_status grid_context(int sys_handle, int p, int q, int expect_rank, int *ctxt)
{
    int c = sys_handle, np, nq, r, cc;
    Cblacs_gridinit(&c, "Row", p, q);
    Cblacs_gridinfo(c, &np, &nq, &r, &cc);
    /* The slab layout relies on group rank r sitting at (r / Q, r % Q); check it rather than trust it. */
    if (np != p || nq != q || r != expect_rank / q || cc != expect_rank % q) {
        if (np > 0)
            Cblacs_gridexit(c);
        *ctxt = -1;
        return loaa_fail(LOAA_ERR_MPI, "Cblacs_gridinit gave a %dx%d grid with this rank at (%d,%d), wanted %dx%d at (%d,%d)",
                         np, nq, r, cc, p, q, expect_rank / q, expect_rank % q);
    }
    *ctxt = c;
    return LOAA_OK;
}

loaa_status loaa_pgrid_create(loaa_pgrid **out, MPI_Comm group, int p, int q, int nb)
{
    *out = NULL;
    int size, rank;
    if (MPI_Comm_size(group, &size) != MPI_SUCCESS || MPI_Comm_rank(group, &rank) != MPI_SUCCESS)
        return loaa_fail(LOAA_ERR_MPI, "group communicator is not usable");
    if (p == 0 && q == 0)
        loaa_pgrid_choose(size, &p, &q);
    /* Every rank sees the same size and arguments, so this refusal needs no agreement (but check the arguments agree). */
    int vals[3] = {p, q, nb};
    static const char *const names[3] = {"grid rows", "grid columns", "block size"};
    loaa_status st = LOAA_OK;
    if (p < 1 || q < 1 || (long)p * q != size)
        st = loaa_fail(LOAA_ERR_CONFIG, "grid %dx%d does not fit a group of %d ranks (P*Q must equal it)", p, q, size);
    else if (nb < 0)
        st = loaa_fail(LOAA_ERR_CONFIG, "block size %d must be >= 0 (0 = default)", nb);
    st = agree_values(group, st, vals, names, 3);
    if (st)
        return st;

    loaa_pgrid *g = calloc(1, sizeof *g);
    int *cnt = malloc(2 * (size_t)size * sizeof(int));
    st = g && cnt ? LOAA_OK : loaa_fail(LOAA_ERR_NOMEM, "grid of %d ranks", size);
    st = agree_values(group, st, NULL, NULL, 0);
    if (st) {
        free(g);
        free(cnt);
        return st;
    }
    g->counts = cnt;
    g->displs = cnt + size;
    g->p = p;
    g->q = q;
    g->rank = rank;
    g->size = size;
    g->nb = nb ? nb : LOAA_PGEMM_DEFAULT_NB;
    g->ctxt = g->ctxt_row = -1;
    if (MPI_Comm_dup(group, &g->comm) != MPI_SUCCESS) {
        free(cnt);
        free(g);
        return loaa_fail(LOAA_ERR_MPI, "MPI_Comm_dup of the group failed");
    }
    /* BLACS must know MPI is up before it maps a communicator to a system handle. */
    int bp, bn;
    Cblacs_pinfo(&bp, &bn);
    g->sys_handle = Csys2blacs_handle(g->comm);
    st = grid_context(g->sys_handle, p, q, rank, &g->ctxt);
    if (st == LOAA_OK && p > 1)
        st = grid_context(g->sys_handle, 1, size, rank, &g->ctxt_row);
    else
        g->ctxt_row = g->ctxt;
    st = agree_values(g->comm, st, NULL, NULL, 0);
    if (st) {
        loaa_pgrid_free(g);
        return st;
    }
    g->myrow = rank / q;
    g->mycol = rank % q;
    *out = g;
    return LOAA_OK;
}

void loaa_pgrid_free(loaa_pgrid *g)
{
    if (!g)
        return;
    if (g->ctxt_row >= 0 && g->ctxt_row != g->ctxt)
        Cblacs_gridexit(g->ctxt_row);
    if (g->ctxt >= 0)
        Cblacs_gridexit(g->ctxt);
    Cfree_blacs_system_handle(g->sys_handle);
    MPI_Comm_free(&g->comm);
    free(g->counts);
    free(g->ws);
    free(g);
}

int loaa_pgrid_p(const loaa_pgrid *g) { return g->p; }
int loaa_pgrid_q(const loaa_pgrid *g) { return g->q; }
int loaa_pgrid_rank(const loaa_pgrid *g) { return g->rank; }
int loaa_pgrid_size(const loaa_pgrid *g) { return g->size; }
MPI_Comm loaa_pgrid_comm(const loaa_pgrid *g) { return g->comm; }

/* Local: makes the scratch at least n floats. Only grows, so a step's calls stop allocating after the first. */
static loaa_status reserve(loaa_pgrid *g, size_t n)
{
    if (n <= g->ws_cap)
        return LOAA_OK;
    float *w = malloc(n * sizeof(float));
    if (!w)
        return loaa_fail(LOAA_ERR_NOMEM, "GEMM scratch of %zu floats", n);
    free(g->ws);
    g->ws = w;
    g->ws_cap = n;
    return LOAA_OK;
}

/* ---- block-cyclic matrices ---- */

/*
 * Fills the descriptor of the row-major (m,n) matrix, i.e. the column-major
 * (n,m) one, on context ctxt of a p x q grid at (myrow, mycol). Local only;
 * the arguments are valid (callers check them), so descinit_ cannot fail.
 */
static void pmat_layout(loaa_pmat *a, loaa_pgrid *g, int ctxt, int p, int q, int myrow, int mycol, int m, int n,
                        int nb_rows, int nb_cols, int lld)
{
    memset(a, 0, sizeof *a);
    a->grid = g;
    a->m = m;
    a->n = n;
    a->nb_rows = nb_rows;
    a->nb_cols = nb_cols;
    a->lrows = numroc(n, nb_cols, myrow, p);
    a->lcols = numroc(m, nb_rows, mycol, q);
    a->lld = lld > 0 ? lld : imax(1, a->lrows);
    int info = 0;
    descinit_(a->desc, &n, &m, &nb_cols, &nb_rows, &ZERO, &ZERO, &ctxt, &a->lld, &info);
}

static size_t pmat_floats(const loaa_pmat *a) { return (size_t)a->lld * (size_t)a->lcols; }

loaa_status loaa_pmat_init(loaa_pmat *a, loaa_pgrid *g, int m, int n, int nb_rows, int nb_cols)
{
    memset(a, 0, sizeof *a);
    int vals[4] = {m, n, nb_rows, nb_cols};
    static const char *const names[4] = {"matrix rows", "matrix columns", "row block", "column block"};
    loaa_status st = LOAA_OK;
    if (m < 0 || n < 0 || nb_rows < 0 || nb_cols < 0)
        st = loaa_fail(LOAA_ERR_SHAPE, "distributed matrix %dx%d with blocks %dx%d", m, n, nb_rows, nb_cols);
    else {
        pmat_layout(a, g, g->ctxt, g->p, g->q, g->myrow, g->mycol, m, n, nb_rows ? nb_rows : g->nb,
                    nb_cols ? nb_cols : g->nb, 0);
        a->data = calloc(pmat_floats(a) ? pmat_floats(a) : 1, sizeof(float));
        if (!a->data)
            st = loaa_fail(LOAA_ERR_NOMEM, "distributed matrix %dx%d: %zu local floats", m, n, pmat_floats(a));
    }
    st = agree_values(g->comm, st, vals, names, 4);
    if (st)
        loaa_pmat_free(a);
    return st;
}

void loaa_pmat_free(loaa_pmat *a)
{
    if (!a->borrowed)
        free(a->data);
    a->data = NULL;
}

/* The grid coordinates a matrix's context uses: the main grid or the 1 x g slab grid. */
static void pmat_coords(const loaa_pmat *a, int *p, int *q, int *myrow, int *mycol)
{
    const loaa_pgrid *g = a->grid;
    if (a->desc[DESC_CTXT] == g->ctxt) {
        *p = g->p, *q = g->q, *myrow = g->myrow, *mycol = g->mycol;
    } else {
        *p = 1, *q = g->size, *myrow = 0, *mycol = g->rank;
    }
}

/*
 * Copies between the local blocks of a (held at grid position (pr, pc), local
 * storage loc with leading dimension lld) and the replicated row-major array
 * full (row stride ld). Column-major element (i,j) is full[j*ld + i]; every
 * local block column is a contiguous run of nb_cols floats on both sides.
 */
static void copy_blocks(const loaa_pmat *a, int p, int q, int pr, int pc, float *loc, int lld, float *full, int ld,
                        int to_local)
{
    int lrows = numroc(a->n, a->nb_cols, pr, p), lcols = numroc(a->m, a->nb_rows, pc, q);
    for (int lj = 0; lj < lcols; lj++) {
        size_t j = (size_t)l2g(lj, a->nb_rows, pc, q);
        for (int li = 0; li < lrows; li += a->nb_cols) {
            int i = l2g(li, a->nb_cols, pr, p);
            size_t len = (size_t)imin(a->nb_cols, lrows - li) * sizeof(float);
            float *l = loc + (size_t)lj * lld + li, *f = full + j * ld + i;
            if (to_local)
                memcpy(l, f, len);
            else
                memcpy(f, l, len);
        }
    }
}

void loaa_pmat_scatter(loaa_pmat *a, const float *src, int ld)
{
    int p, q, myrow, mycol;
    pmat_coords(a, &p, &q, &myrow, &mycol);
    copy_blocks(a, p, q, myrow, mycol, a->data, a->lld, (float *)src, ld, 1);
}

/* Allgathers every rank's packed local blocks into recv (m*n floats) and unpacks them into dst. */
static loaa_status gather_into(const loaa_pmat *a, float *recv, float *dst, int ld)
{
    loaa_pgrid *g = a->grid;
    int p, q, myrow, mycol;
    pmat_coords(a, &p, &q, &myrow, &mycol);
    size_t off = 0;
    for (int r = 0; r < g->size; r++) {
        int pr = p == g->p ? r / q : 0, pc = p == g->p ? r % q : r;
        size_t cnt = (size_t)numroc(a->n, a->nb_cols, pr, p) * (size_t)numroc(a->m, a->nb_rows, pc, q);
        g->counts[r] = (int)cnt;
        g->displs[r] = (int)off;
        off += cnt;
    }
    /* The local blocks are sent packed: pack them in place of our own slot when the leading dimension has a gap. */
    const float *send = a->data;
    if (a->lld != a->lrows && a->lrows > 0) {
        float *mine = recv + g->displs[g->rank];
        for (int lj = 0; lj < a->lcols; lj++)
            memcpy(mine + (size_t)lj * a->lrows, a->data + (size_t)lj * a->lld, (size_t)a->lrows * sizeof(float));
        send = MPI_IN_PLACE;
    }
    int rc = send == MPI_IN_PLACE
                 ? MPI_Allgatherv(MPI_IN_PLACE, 0, MPI_FLOAT, recv, g->counts, g->displs, MPI_FLOAT, g->comm)
                 : MPI_Allgatherv(send, g->counts[g->rank], MPI_FLOAT, recv, g->counts, g->displs, MPI_FLOAT, g->comm);
    if (rc != MPI_SUCCESS)
        return loaa_fail(LOAA_ERR_MPI, "MPI_Allgatherv of a %dx%d matrix failed", a->m, a->n);
    for (int r = 0; r < g->size; r++) {
        int pr = p == g->p ? r / q : 0, pc = p == g->p ? r % q : r;
        copy_blocks(a, p, q, pr, pc, recv + g->displs[r], imax(1, numroc(a->n, a->nb_cols, pr, p)), dst, ld, 0);
    }
    return LOAA_OK;
}

loaa_status loaa_pmat_gather(const loaa_pmat *a, float *dst, int ld)
{
    loaa_pgrid *g = a->grid;
    size_t total = (size_t)a->m * (size_t)a->n;
    loaa_status st = LOAA_OK;
    if (total > INT_MAX)
        st = loaa_fail(LOAA_ERR_LIMIT, "matrix %dx%d is too large for one MPI_Allgatherv", a->m, a->n);
    else if (ld < a->n)
        st = loaa_fail(LOAA_ERR_SHAPE, "gather: row stride %d < %d columns", ld, a->n);
    else
        st = reserve(g, total);
    int vals[2] = {a->m, a->n};
    static const char *const names[2] = {"matrix rows", "matrix columns"};
    st = agree_values(g->comm, st, vals, names, 2);
    if (st)
        return st;
    return gather_into(a, g->ws, dst, ld);
}

/* The row-major shape of op(X) for a pmat X. */
static void op_shape(const loaa_pmat *x, int trans, int *rows, int *cols)
{
    *rows = trans ? x->n : x->m;
    *cols = trans ? x->m : x->n;
}

/* psgemm_ on column-major views: C^T = op(B)^T op(A)^T, so B goes first and the transposes follow their operands. */
static void call_psgemm(int trans_a, int trans_b, int M, int N, int K, float alpha, const float *a, const int *desca,
                        const float *b, const int *descb, float beta, float *c, const int *descc)
{
    psgemm_(trans_b ? "T" : "N", trans_a ? "T" : "N", &N, &M, &K, &alpha, b, &ONE, &ONE, descb, a, &ONE, &ONE, desca,
            &beta, c, &ONE, &ONE, descc);
}

loaa_status loaa_pmat_gemm(int trans_a, int trans_b, float alpha, const loaa_pmat *A, const loaa_pmat *B, float beta,
                           loaa_pmat *C)
{
    loaa_pgrid *g = C->grid;
    int M, K, K2, N;
    op_shape(A, trans_a, &M, &K);
    op_shape(B, trans_b, &K2, &N);
    loaa_status st = LOAA_OK;
    if (A->grid != g || B->grid != g || A->desc[DESC_CTXT] != g->ctxt || B->desc[DESC_CTXT] != g->ctxt ||
        C->desc[DESC_CTXT] != g->ctxt)
        st = loaa_fail(LOAA_ERR_SHAPE, "psgemm operands must live on one grid");
    else if (K != K2 || C->m != M || C->n != N)
        st = loaa_fail(LOAA_ERR_SHAPE, "psgemm: op(A) %dx%d times op(B) %dx%d into C %dx%d", M, K, K2, N, C->m, C->n);
    int vals[5] = {M, N, K, trans_a, trans_b};
    static const char *const names[5] = {"M", "N", "K", "trans_a", "trans_b"};
    st = agree_values(g->comm, st, vals, names, 5);
    if (st || M == 0 || N == 0)
        return st;
    if (K == 0) {
        /* C = beta C needs no communication; PBLAS would also do it, but this keeps zero-sized descriptors out. */
        for (int j = 0; j < C->lcols; j++)
            for (int i = 0; i < C->lrows; i++)
                C->data[(size_t)j * C->lld + i] *= beta;
        return LOAA_OK;
    }
    call_psgemm(trans_a, trans_b, M, N, K, alpha, A->data, A->desc, B->data, B->desc, beta, C->data, C->desc);
    return LOAA_OK;
}

loaa_status loaa_pmat_redistribute(loaa_pmat *dst, const loaa_pmat *src, loaa_pgrid *gu)
{
    loaa_status st = LOAA_OK;
    if (dst->m != src->m || dst->n != src->n)
        st = loaa_fail(LOAA_ERR_SHAPE, "redistribute %dx%d into %dx%d", src->m, src->n, dst->m, dst->n);
    int vals[2] = {src->m, src->n};
    static const char *const names[2] = {"matrix rows", "matrix columns"};
    st = agree_values(gu->comm, st, vals, names, 2);
    if (st || src->m == 0 || src->n == 0)
        return st;
    /* psgemr2d_ works on the column-major (n,m) views; the union context must hold every rank of both grids. */
    psgemr2d_(&src->n, &src->m, src->data, &ONE, &ONE, src->desc, dst->data, &ONE, &ONE, dst->desc, &gu->ctxt_row);
    return LOAA_OK;
}

/* ---- the replicated product ---- */

loaa_status loaa_pgemm(loaa_pgrid *g, int trans_a, int trans_b, int M, int N, int K, float alpha, const float *A,
                       int lda, const float *B, int ldb, float beta, float *C, int ldc)
{
    trans_a = !!trans_a;
    trans_b = !!trans_b;
    loaa_status st = LOAA_OK;
    loaa_pmat a, b, c;
    /* A as stored is (M,K) or (K,M); B (K,N) or (N,K). */
    int am = trans_a ? K : M, an = trans_a ? M : K, bm = trans_b ? N : K, bn = trans_b ? K : N;
    if (M < 0 || N < 0 || K < 0)
        st = loaa_fail(LOAA_ERR_SHAPE, "pgemm: M=%d N=%d K=%d", M, N, K);
    else if (lda < imax(1, an) || ldb < imax(1, bn) || ldc < imax(1, N))
        st = loaa_fail(LOAA_ERR_SHAPE, "pgemm: leading dimensions lda=%d ldb=%d ldc=%d for M=%d N=%d K=%d", lda, ldb, ldc,
                       M, N, K);
    else if ((M && N && ((K && (!A || !B)) || !C)))
        st = loaa_fail(LOAA_ERR_SHAPE, "pgemm: a NULL operand");
    else if ((size_t)M * N > INT_MAX)
        st = loaa_fail(LOAA_ERR_LIMIT, "pgemm: C %dx%d is too large for one MPI_Allgatherv", M, N);
    size_t need = 0;
    if (st == LOAA_OK && M && N && K) {
        pmat_layout(&a, g, g->ctxt, g->p, g->q, g->myrow, g->mycol, am, an, g->nb, g->nb, 0);
        pmat_layout(&b, g, g->ctxt, g->p, g->q, g->myrow, g->mycol, bm, bn, g->nb, g->nb, 0);
        pmat_layout(&c, g, g->ctxt, g->p, g->q, g->myrow, g->mycol, M, N, g->nb, g->nb, 0);
        need = pmat_floats(&a) + pmat_floats(&b) + pmat_floats(&c) + (size_t)M * N;
        st = reserve(g, need);
    }
    int vals[6] = {M, N, K, trans_a, trans_b, beta != 0.0f};
    static const char *const names[6] = {"M", "N", "K", "trans_a", "trans_b", "whether beta is zero"};
    st = agree_values(g->comm, st, vals, names, 6);
    if (st || M == 0 || N == 0)
        return st;
    if (K == 0) {
        for (int i = 0; i < M; i++)
            for (int j = 0; j < N; j++)
                C[(size_t)i * ldc + j] = beta == 0.0f ? 0.0f : beta * C[(size_t)i * ldc + j];
        return LOAA_OK;
    }
    /* Carve the scratch: local A, B, C blocks, then the gather buffer. */
    a.data = g->ws;
    b.data = a.data + pmat_floats(&a);
    c.data = b.data + pmat_floats(&b);
    float *recv = c.data + pmat_floats(&c);
    a.borrowed = b.borrowed = c.borrowed = 1;
    loaa_pmat_scatter(&a, A, lda);
    loaa_pmat_scatter(&b, B, ldb);
    if (beta != 0.0f)
        loaa_pmat_scatter(&c, C, ldc);
    else
        memset(c.data, 0, pmat_floats(&c) * sizeof(float)); /* psgemm_ must not meet NaN garbage it could scale */
    call_psgemm(trans_a, trans_b, M, N, K, alpha, a.data, a.desc, b.data, b.desc, beta, c.data, c.desc);
    return gather_into(&c, recv, C, ldc);
}

/* ---- the row-slab product ---- */

loaa_status loaa_pgemm_rows(loaa_pgrid *g, int trans_b, int m_r, int N, int K, float alpha, const float *A, int lda,
                            const float *B, int ldb, float beta, float *C, int ldc)
{
    trans_b = !!trans_b;
    loaa_status st = LOAA_OK;
    if (m_r < 0 || N < 0 || K < 0)
        st = loaa_fail(LOAA_ERR_SHAPE, "pgemm_rows: rows=%d N=%d K=%d", m_r, N, K);
    else if (lda < imax(1, K) || ldb < imax(1, trans_b ? K : N) || ldc < imax(1, N))
        st = loaa_fail(LOAA_ERR_SHAPE, "pgemm_rows: leading dimensions lda=%d ldb=%d ldc=%d for N=%d K=%d", lda, ldb, ldc,
                       N, K);
    else if ((m_r && N && (!C || (K && !A))) || (N && K && !B))
        st = loaa_fail(LOAA_ERR_SHAPE, "pgemm_rows: a NULL operand");

    /* One allgather carries every rank's status, slab height and arguments: it is the agreement and the layout at once. */
    enum { F_ST, F_ROWS, F_N, F_K, F_TB, F_BETA, F_COUNT };
    int mine[F_COUNT] = {st != LOAA_OK, m_r, N, K, trans_b, beta != 0.0f};
    int stackbuf[F_COUNT * 64], *all = stackbuf, *heap = NULL;
    if (g->size > 64 && !(all = heap = malloc((size_t)F_COUNT * g->size * sizeof(int))))
        return loaa_fail(LOAA_ERR_NOMEM, "pgemm_rows: %d ranks", g->size); /* every rank of a big group alike */
    if (MPI_Allgather(mine, F_COUNT, MPI_INT, all, F_COUNT, MPI_INT, g->comm) != MPI_SUCCESS) {
        free(heap);
        return loaa_fail(LOAA_ERR_MPI, "pgemm_rows: MPI_Allgather of the slab heights failed");
    }
    int failed = -1, M = 0, args_ok = 1, gcd = 0, maxh = 0;
    for (int r = 0; r < g->size; r++) {
        const int *x = all + (size_t)r * F_COUNT;
        if (x[F_ST] && failed < 0)
            failed = r;
        for (int f = F_N; f < F_COUNT; f++)
            args_ok &= x[f] == all[f];
        M += x[F_ROWS];
        maxh = imax(maxh, x[F_ROWS]);
        for (int a = x[F_ROWS]; a > 0;) { /* gcd(gcd, a) */
            int t = gcd % a;
            gcd = a;
            a = t;
        }
    }
    /* The block size whose block-cyclic deal over the group gives every rank exactly its height. */
    int slab = 0;
    for (int c = 0; c < 2 && !slab && M > 0; c++) {
        int nb = c ? maxh : gcd, fits = 1;
        for (int r = 0; r < g->size && fits; r++)
            fits = numroc(M, nb, r, g->size) == all[(size_t)r * F_COUNT + F_ROWS];
        if (fits)
            slab = nb;
    }
    int first_rows = all[F_ROWS];
    free(heap);
    if (failed >= 0) /* the failing rank's detail reaches everyone through the usual agreement */
        return agree_values(g->comm, st, NULL, NULL, 0);
    if (!args_ok)
        return loaa_fail(LOAA_ERR_SHAPE, "pgemm_rows: the group's ranks disagree on N, K, trans_b or beta");
    if (M > 0 && !slab)
        return loaa_fail(LOAA_ERR_SHAPE,
                         "pgemm_rows: row heights (rank 0: %d of %d) fit no block-cyclic deal over %d ranks",
                         first_rows, M, g->size);
    if (M == 0 || N == 0)
        return LOAA_OK;
    if (K == 0) {
        for (int i = 0; i < m_r; i++)
            for (int j = 0; j < N; j++)
                C[(size_t)i * ldc + j] = beta == 0.0f ? 0.0f : beta * C[(size_t)i * ldc + j];
        return LOAA_OK;
    }
    static float dummy[1];
    int bm = trans_b ? N : K, bn = trans_b ? K : N;
    if (g->p == 1) {
        loaa_pmat a, b, c;
        pmat_layout(&a, g, g->ctxt, 1, g->q, 0, g->mycol, M, K, slab, imax(1, K), lda);
        pmat_layout(&c, g, g->ctxt, 1, g->q, 0, g->mycol, M, N, slab, imax(1, N), ldc);
        /*
         * B is every rank's own full copy: described as replicated over the
         * process columns (column source -1, which PBLAS 2 supports), so
         * psgemm_ reads it in place and broadcasts nothing.
         */
        pmat_layout(&b, g, g->ctxt, 1, g->q, 0, 0, bm, bn, imax(1, bm), imax(1, bn), ldb);
        b.desc[DESC_CSRC] = -1;
        call_psgemm(0, trans_b, M, N, K, alpha, m_r ? A : dummy, a.desc, B, b.desc, beta, m_r ? C : dummy, c.desc);
        return LOAA_OK;
    }
    /* P > 1: the slabs live on the 1 x g grid; move A (and C if read) to the P x Q grid, multiply, move C back. */
    loaa_pmat as, cs, a, b, c;
    pmat_layout(&as, g, g->ctxt_row, 1, g->size, 0, g->rank, M, K, slab, imax(1, K), lda);
    pmat_layout(&cs, g, g->ctxt_row, 1, g->size, 0, g->rank, M, N, slab, imax(1, N), ldc);
    as.data = m_r ? (float *)A : dummy;
    cs.data = m_r ? C : dummy;
    as.borrowed = cs.borrowed = 1;
    pmat_layout(&a, g, g->ctxt, g->p, g->q, g->myrow, g->mycol, M, K, g->nb, g->nb, 0);
    pmat_layout(&b, g, g->ctxt, g->p, g->q, g->myrow, g->mycol, bm, bn, g->nb, g->nb, 0);
    pmat_layout(&c, g, g->ctxt, g->p, g->q, g->myrow, g->mycol, M, N, g->nb, g->nb, 0);
    st = reserve(g, pmat_floats(&a) + pmat_floats(&b) + pmat_floats(&c));
    st = agree_values(g->comm, st, NULL, NULL, 0);
    if (st)
        return st;
    a.data = g->ws;
    b.data = a.data + pmat_floats(&a);
    c.data = b.data + pmat_floats(&b);
    a.borrowed = b.borrowed = c.borrowed = 1;
    loaa_pmat_scatter(&b, B, ldb);
    psgemr2d_(&K, &M, as.data, &ONE, &ONE, as.desc, a.data, &ONE, &ONE, a.desc, &g->ctxt_row);
    if (beta != 0.0f)
        psgemr2d_(&N, &M, cs.data, &ONE, &ONE, cs.desc, c.data, &ONE, &ONE, c.desc, &g->ctxt_row);
    else
        memset(c.data, 0, pmat_floats(&c) * sizeof(float));
    call_psgemm(0, trans_b, M, N, K, alpha, a.data, a.desc, b.data, b.desc, beta, c.data, c.desc);
    psgemr2d_(&N, &M, c.data, &ONE, &ONE, c.desc, cs.data, &ONE, &ONE, cs.desc, &g->ctxt_row);
    return LOAA_OK;
}

/* ---- the GEMM interface's backend ---- */

/* ctx->rows of a SCALAPACK context: loaa_pgemm_rows on ctx->impl, failures kept in ctx->error. */
static void scalapack_rows(loaa_gemm_ctx *ctx, int trans_b, int M, int N, int K, float alpha, const float *A, int lda,
                           const float *B, int ldb, float beta, float *C, int ldc)
{
    if (ctx->error)
        return;
    loaa_status st = loaa_pgemm_rows(ctx->impl, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
    if (st)
        ctx->error = (int)st;
    else
        ctx->flops += 2.0 * M * N * K;
}

void loaa_gemm_ctx_init_grid(loaa_gemm_ctx *ctx, loaa_pgrid *g)
{
    loaa_gemm_ctx_init(ctx);
    ctx->backend = LOAA_GEMM_SCALAPACK;
    ctx->rows = scalapack_rows;
    ctx->impl = g;
}
