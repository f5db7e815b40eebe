/*
 * model.c - the AST-style ViT with its fine-tuning method (see model.h).
 *
 * Layout: a tensor table (names, shapes, init, trainable) is built once;
 * its sizes carve the parameter allocation, the gradient allocation (the
 * trainable tensors only, in table order) and the two AdamW moment
 * allocations. A second size table carves the activations for max_batch.
 * Every adapter kind is one "tap convolution" (layers.h), so a plain
 * adapter, LoAA time/freq and convpass share forward and backward.
 */
#include "config.h"

#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/rng.h"
#include "kernels/gemm.h"
#include "kernels/layers.h"
#include "kernels/model.h"
#include "kernels/pgemm.h"

#define NAME_LEN 64

enum init_kind { INIT_ZERO, INIT_ONE, INIT_TRUNC, INIT_UNIFORM_FANIN };

/* Adapter parameters (one branch of one block); NULL when absent. */
typedef struct adapter_params {
    float *down_w; /* (k, r, D): tap-major so that one GEMM makes every tap's projection */
    float *down_b; /* (r) */
    float *up_w;   /* (D, r) */
    float *up_b;   /* (D) */
} adapter_params;

typedef struct block_params {
    float *ln1_w, *ln1_b;   /* (D) */
    float *qkv_w, *qkv_b;   /* (3D, D), (3D) */
    float *proj_w, *proj_b; /* (D, D), (D) */
    float *ln2_w, *ln2_b;   /* (D) */
    float *fc1_w, *fc1_b;   /* (Hm, D), (Hm) */
    float *fc2_w, *fc2_b;   /* (D, Hm), (D) */
    float *lq_a, *lq_b;     /* LoRA on W_q: (r, D), (D, r) */
    float *lv_a, *lv_b;     /* LoRA on W_v */
    adapter_params ad[2];        /* [0] beside MHSA, [1] beside the MLP */
} block_params;

/* The same struct holds parameter pointers and gradient pointers (NULL = frozen). */
typedef struct model_params {
    float *patch_w, *patch_b; /* (D, 256), (D) */
    float *cls, *dist;        /* (D) each; dist NULL without a DIST token */
    float *pos;               /* (N, D) */
    block_params *blocks;          /* depth */
    float *norm_w, *norm_b;   /* (D) */
    float *head_w, *head_b;   /* (C, D), (C) */
} model_params;

/* bf16 copies of the matmul weights of one block (precision bf16); NULL when absent or in fp32. */
typedef struct block16_t {
    loaa_bf16 *qkv_w, *proj_w, *fc1_w, *fc2_w;
    loaa_bf16 *lq_a, *lq_b, *lv_a, *lv_b;
    loaa_bf16 *down_w[2], *up_w[2];
} block16_t;

typedef struct params16_t {
    loaa_bf16 *patch_w, *head_w;
    block16_t *blocks; /* depth */
} params16_t;

/* One bf16 weight copy: refreshed from its fp32 tensor (all at the first forward, the trainable ones after each step). */
typedef struct w16_entry {
    const float *src;
    loaa_bf16 *dst;
    size_t numel;
    int trainable;
} w16_entry;

/*
 * Activations of one block, kept for backward. In bf16 the ones that only
 * feed matmuls are kept in bf16 (the *16 fields) and their fp32 forms are
 * not allocated.
 */
typedef struct block_acts {
    float *ln1, *ln1_mean, *ln1_rstd; /* (R,D), (R), (R) */
    float *qkv;                       /* (R,3D) */
    float *att;                       /* (B,H,N,N) softmax probabilities */
    float *atty;                      /* (R,D) merged heads before proj */
    float *mid;                       /* (R,D) residual after the MHSA branch */
    float *ln2, *ln2_mean, *ln2_rstd; /* (R,D), (R), (R) */
    float *fch, *fcg;                 /* (R,Hm) pre-GELU (GELU' after a training forward), post-GELU */
    float *az[2], *ahp[2], *ah[2];    /* adapter: taps (R,k*r), pre-GELU (GELU' in training) (R,r), post-GELU (R,r) */
    float *lq, *lv;                   /* LoRA: u A^T (R,r) */
    loaa_bf16 *ln1_16, *qkv16, *att16, *atty16, *ln2_16, *fcg16; /* bf16 forms of ln1, qkv, att, atty, ln2, fcg */
    loaa_bf16 *ah16[2], *lq16, *lv16;                           /* of ah, lq, lv */
    loaa_bf16 *fcd16;                                           /* (R,Hm) GELU' of fc1 (fch's role in bf16) */
} block_acts;

typedef struct model_acts {
    float *col;                      /* (B*P, 256) patches */
    float **res;                     /* depth+1 of (R,D): res[l] enters block l */
    block_acts *blk;                 /* depth */
    float *lnf, *lnf_mean, *lnf_rstd; /* (R,D), (R), (R) */
    float *pooled;                   /* (B,D) */
    float *logits, *dlogits;         /* (B,C) */
    /* backward scratch, one block's worth */
    float *dres, *dln, *dqkv, *datty; /* (R,D), (R,D), (R,3D), (R,D) */
    float *datt;                      /* (B,H,N,N) */
    float *dfc;                       /* (R,Hm) */
    float *daz, *dah, *dlr;           /* (R,k*r), (R,r), (R,r) */
    float *dpooled;                   /* (B,D) */
    /* bf16 only: operands and scratch */
    loaa_bf16 *col16, *pooled16, *dlogits16;             /* (B*P,256), (B,D), (B,C) */
    float *scores, *qkvf;                                /* (B,H,N,N) attention scores / dP, (R,3D) qkv before LoRA */
    float *fc1f;                                         /* (R,Hm) fc1's output before GELU */
    loaa_bf16 *dres16, *dfc16, *dqkv16, *datty16, *ds16; /* (R,D), (R,Hm), (R,3D), (R,D), (B,H,N,N) */
    loaa_bf16 *dz16, *dlr16;                             /* (R,k*r), (R,r) */
} model_acts;

typedef struct tensor_meta {
    float **slot;  /* where the parameter pointer goes */
    float **gslot; /* where the gradient pointer goes */
    size_t offset, goffset, numel;
    int init;
    int fan_in;
    int decay; /* AdamW weight decay applies (matrices, not biases/norms/tokens/pos) */
} tensor_meta;

struct loaa_model {
    loaa_model_spec spec; /* as created; clip, loss, weight decay read in the step */
    loaa_model_shape shape;
    int noop;
    int D, depth, H, Hm, C, r, k, S, Fp, Tp, P, N, Bmax;
    int ad_from;      /* first block with adapters/LoRA (depth = none) */
    int ad_branch[2]; /* adapters beside MHSA / MLP */
    int lowest;       /* backward stops above this block (0 = all blocks, patch embedding if full) */
    float scale, lora_scale;
    loaa_taps taps[2];
    model_params p, g;
    model_acts a;
    size_t ntensors, cap;
    loaa_tensor_ref *refs;
    tensor_meta *meta;
    char (*names)[NAME_LEN];
    size_t nparams, ntrain, nacts;
    float *param_mem, *grad_mem, *m_mem, *v_mem, *act_mem; /* v_mem: the second half of m_mem's allocation */
    int64_t step;
    int training; /* forward keeps GELU derivatives for a backward to come */
    int bf16;     /* precision bf16: matmuls on bf16 operands, fp32 accumulation (layers.h) */
    params16_t p16;
    w16_entry *w16;      /* the bf16 weight copies, w16_count of them, in one allocation w16_mem */
    size_t w16_count;
    loaa_bf16 *w16_mem;
    int w16_stale;       /* the fp32 weights changed (init, import): refresh every copy before the next forward */
    loaa_gemm_ctx gemm;
    loaa_pgrid *grid;   /* a group of ranks trains this model (loaa_model_set_group); NULL = this rank alone */
    int act_batch;      /* samples the activations hold: max_batch, or this rank's largest share on a group */
    int *group_counts;  /* 2 x group size: Allgatherv counts and offsets of the logits */
};

/* ---- the tensor table ---- */

static loaa_status add_tensor(loaa_model *m, const char *name, int ndim, const int64_t *shape, float **slot,
                              float **gslot, int trainable, int init, int fan_in, int decay)
{
    if (m->ntensors == m->cap) {
        size_t cap = m->cap ? m->cap * 2 : 64;
        loaa_tensor_ref *r = realloc(m->refs, cap * sizeof *r);
        if (r)
            m->refs = r;
        tensor_meta *t = realloc(m->meta, cap * sizeof *t);
        if (t)
            m->meta = t;
        char(*nm)[NAME_LEN] = realloc(m->names, cap * sizeof *nm);
        if (nm)
            m->names = nm;
        if (!r || !t || !nm)
            return loaa_fail(LOAA_ERR_NOMEM, "model tensor table");
        m->cap = cap;
    }
    size_t i = m->ntensors++;
    snprintf(m->names[i], NAME_LEN, "%s", name);
    loaa_tensor_ref *ref = &m->refs[i];
    memset(ref, 0, sizeof *ref);
    ref->ndim = ndim;
    size_t numel = 1;
    for (int d = 0; d < ndim; d++) {
        ref->shape[d] = shape[d];
        numel *= (size_t)shape[d];
    }
    ref->trainable = trainable;
    tensor_meta *t = &m->meta[i];
    t->slot = slot;
    t->gslot = gslot;
    t->numel = numel;
    t->offset = m->nparams;
    m->nparams += numel;
    t->goffset = trainable ? m->ntrain : (size_t)-1;
    if (trainable)
        m->ntrain += numel;
    t->init = init;
    t->fan_in = fan_in;
    t->decay = decay;
    return LOAA_OK;
}

#define SHAPE(...) ((const int64_t[]){__VA_ARGS__})

static loaa_status add_adapter(loaa_model *m, int l, int br, const char *which)
{
    char nm[NAME_LEN];
    adapter_params *p = &m->p.blocks[l].ad[br], *g = &m->g.blocks[l].ad[br];
    int D = m->D, r = m->r, k = m->taps[br].k;
    loaa_status st;
    snprintf(nm, sizeof nm, "blocks.%d.%s.down.weight", l, which);
    if (m->spec.method == LOAA_METHOD_ADAPTER)
        st = add_tensor(m, nm, 2, SHAPE(r, D), &p->down_w, &g->down_w, 1, INIT_UNIFORM_FANIN, D, 1);
    else if (m->spec.method == LOAA_METHOD_CONVPASS)
        st = add_tensor(m, nm, 4, SHAPE(3, 3, r, D), &p->down_w, &g->down_w, 1, INIT_UNIFORM_FANIN, 9 * D, 1);
    else
        st = add_tensor(m, nm, 3, SHAPE(k, r, D), &p->down_w, &g->down_w, 1, INIT_UNIFORM_FANIN, k * D, 1);
    if (st)
        return st;
    snprintf(nm, sizeof nm, "blocks.%d.%s.down.bias", l, which);
    if ((st = add_tensor(m, nm, 1, SHAPE(r), &p->down_b, &g->down_b, 1, INIT_ZERO, 0, 0)))
        return st;
    snprintf(nm, sizeof nm, "blocks.%d.%s.up.weight", l, which);
    if ((st = add_tensor(m, nm, 2, SHAPE(D, r), &p->up_w, &g->up_w, 1, INIT_ZERO, 0, 1)))
        return st;
    snprintf(nm, sizeof nm, "blocks.%d.%s.up.bias", l, which);
    return add_tensor(m, nm, 1, SHAPE(D), &p->up_b, &g->up_b, 1, INIT_ZERO, 0, 0);
}

static loaa_status build_table(loaa_model *m)
{
    int D = m->D, full = m->spec.method == LOAA_METHOD_FULL, Hm = m->Hm, r = m->r;
    model_params *p = &m->p, *g = &m->g;
    loaa_status st;
#define ADD(name, nd, shp, field, tr, init, fan, decay)                                               \
    do {                                                                                           \
        if ((st = add_tensor(m, name, nd, shp, &p->field, &g->field, tr, init, fan, decay)))       \
            return st;                                                                             \
    } while (0)
    ADD("cls_token", 3, SHAPE(1, 1, D), cls, full, INIT_TRUNC, 0, 0);
    if (m->S == 2)
        ADD("dist_token", 3, SHAPE(1, 1, D), dist, full, INIT_TRUNC, 0, 0);
    ADD("pos_embed", 3, SHAPE(1, m->N, D), pos, full, INIT_TRUNC, 0, 0);
    ADD("patch_embed.proj.weight", 4, SHAPE(D, 1, 16, 16), patch_w, full, INIT_UNIFORM_FANIN, 256, 1);
    ADD("patch_embed.proj.bias", 1, SHAPE(D), patch_b, full, INIT_ZERO, 0, 0);
    char nm[NAME_LEN];
    for (int l = 0; l < m->depth; l++) {
#define BADD(suffix, nd, shp, field, tr, init, fan, decay)                                                 \
    do {                                                                                                \
        snprintf(nm, sizeof nm, "blocks.%d.%s", l, suffix);                                             \
        if ((st = add_tensor(m, nm, nd, shp, &p->blocks[l].field, &g->blocks[l].field, tr, init, fan, decay))) \
            return st;                                                                                  \
    } while (0)
        BADD("norm1.weight", 1, SHAPE(D), ln1_w, full, INIT_ONE, 0, 0);
        BADD("norm1.bias", 1, SHAPE(D), ln1_b, full, INIT_ZERO, 0, 0);
        BADD("attn.qkv.weight", 2, SHAPE(3 * D, D), qkv_w, full, INIT_TRUNC, 0, 1);
        BADD("attn.qkv.bias", 1, SHAPE(3 * D), qkv_b, full, INIT_ZERO, 0, 0);
        if (m->spec.method == LOAA_METHOD_LORA && l >= m->ad_from) {
            BADD("attn.lora_q.a.weight", 2, SHAPE(r, D), lq_a, 1, INIT_UNIFORM_FANIN, D, 1);
            BADD("attn.lora_q.b.weight", 2, SHAPE(D, r), lq_b, 1, INIT_ZERO, 0, 1);
            BADD("attn.lora_v.a.weight", 2, SHAPE(r, D), lv_a, 1, INIT_UNIFORM_FANIN, D, 1);
            BADD("attn.lora_v.b.weight", 2, SHAPE(D, r), lv_b, 1, INIT_ZERO, 0, 1);
        }
        BADD("attn.proj.weight", 2, SHAPE(D, D), proj_w, full, INIT_TRUNC, 0, 1);
        BADD("attn.proj.bias", 1, SHAPE(D), proj_b, full, INIT_ZERO, 0, 0);
        BADD("norm2.weight", 1, SHAPE(D), ln2_w, full, INIT_ONE, 0, 0);
        BADD("norm2.bias", 1, SHAPE(D), ln2_b, full, INIT_ZERO, 0, 0);
        BADD("mlp.fc1.weight", 2, SHAPE(Hm, D), fc1_w, full, INIT_TRUNC, 0, 1);
        BADD("mlp.fc1.bias", 1, SHAPE(Hm), fc1_b, full, INIT_ZERO, 0, 0);
        BADD("mlp.fc2.weight", 2, SHAPE(D, Hm), fc2_w, full, INIT_TRUNC, 0, 1);
        BADD("mlp.fc2.bias", 1, SHAPE(D), fc2_b, full, INIT_ZERO, 0, 0);
#undef BADD
        int lora = m->spec.method == LOAA_METHOD_LORA;
        if (l >= m->ad_from && m->ad_branch[0] && !lora && (st = add_adapter(m, l, 0, "adapter_attn")))
            return st;
        if (l >= m->ad_from && m->ad_branch[1] && (st = add_adapter(m, l, 1, "adapter_mlp")))
            return st;
    }
    ADD("norm.weight", 1, SHAPE(D), norm_w, 1, INIT_ONE, 0, 0);
    ADD("norm.bias", 1, SHAPE(D), norm_b, 1, INIT_ZERO, 0, 0);
    ADD("head.weight", 2, SHAPE(m->C, D), head_w, 1, INIT_TRUNC, 0, 1);
    ADD("head.bias", 1, SHAPE(m->C), head_b, 1, INIT_ZERO, 0, 0);
#undef ADD
    return LOAA_OK;
}

/* ---- activations: a size table, then one allocation ---- */

typedef struct act_slot {
    float **ptr;
    size_t numel;
} act_slot;

/*
 * Issue 18 #16: every product below is computed in 128 bits (the factors are
 * `act_wide`) and refused past ACT_MAX_FLOATS, so that no shape wraps size_t
 * (batch 8 used to report less memory than batch 1); carve_acts then returns
 * SIZE_MAX and the caller refuses the shape naming its sizes.
 */
typedef unsigned __int128 act_wide;
#define ACT_MAX_FLOATS (SIZE_MAX / sizeof(float) / 4) /* the byte totals of create stay inside size_t */

/* Visits every activation buffer; with mem NULL it only counts (SIZE_MAX: the table does not fit). */
static size_t carve_acts(loaa_model *m, float *mem)
{
    size_t off = 0;
    int over = 0;
    act_wide B = (act_wide)m->act_batch, N = (act_wide)m->N, D = (act_wide)m->D, H = (act_wide)m->H, Hm = (act_wide)m->Hm,
             r = (act_wide)m->r;
    act_wide R = B * N;
    model_acts *a = &m->a;
#define CARVE(field, n)                                 \
    do {                                                \
        act_wide n_ = (act_wide)(n);                    \
        if (over || n_ + 16 > ACT_MAX_FLOATS - off) {   \
            over = 1;                                   \
            break;                                      \
        }                                               \
        if (mem)                                        \
            (field) = mem + off;                        \
        off += ((size_t)n_ + 15) & ~(size_t)15;         \
    } while (0)
    /* a bf16 buffer of n elements, carved in whole 64-byte lines of the float allocation */
#define CARVE16(field, n)                               \
    do {                                                \
        act_wide n_ = ((act_wide)(n) + 1) / 2;          \
        if (over || n_ + 16 > ACT_MAX_FLOATS - off) {   \
            over = 1;                                   \
            break;                                      \
        }                                               \
        if (mem)                                        \
            (field) = (loaa_bf16 *)(mem + off);         \
        off += ((size_t)n_ + 15) & ~(size_t)15;         \
    } while (0)
    /* an activation that only feeds matmuls: bf16 in bf16, fp32 otherwise */
#define CARVE_MM(field, field16, n) \
    do {                            \
        if (m->bf16)                \
            CARVE16(field16, n);    \
        else                        \
            CARVE(field, n);        \
    } while (0)
    int full = m->spec.method == LOAA_METHOD_FULL;
    CARVE_MM(a->col, a->col16, B * m->P * 256);
    for (int l = 0; l <= m->depth; l++)
        CARVE(a->res[l], R * D);
    for (int l = 0; l < m->depth; l++) {
        block_acts *b = &a->blk[l];
        CARVE_MM(b->ln1, b->ln1_16, R * D);
        CARVE(b->ln1_mean, R);
        CARVE(b->ln1_rstd, R);
        CARVE_MM(b->qkv, b->qkv16, R * 3 * D);
        CARVE_MM(b->att, b->att16, (size_t)B * H * N * N);
        CARVE_MM(b->atty, b->atty16, R * D);
        CARVE(b->mid, R * D);
        CARVE_MM(b->ln2, b->ln2_16, R * D);
        CARVE(b->ln2_mean, R);
        CARVE(b->ln2_rstd, R);
        CARVE_MM(b->fch, b->fcd16, R * Hm);
        CARVE_MM(b->fcg, b->fcg16, R * Hm);
        int has = l >= m->ad_from;
        for (int br = 0; br < 2; br++) {
            if (!has || !m->ad_branch[br] || m->spec.method == LOAA_METHOD_LORA)
                continue;
            if (m->taps[br].k > 1)
                CARVE(b->az[br], R * m->taps[br].k * r);
            CARVE(b->ahp[br], R * r);
            CARVE_MM(b->ah[br], b->ah16[br], R * r);
        }
        if (has && m->spec.method == LOAA_METHOD_LORA) {
            CARVE_MM(b->lq, b->lq16, R * r);
            CARVE_MM(b->lv, b->lv16, R * r);
        }
    }
    CARVE(a->lnf, R * D);
    CARVE(a->lnf_mean, R);
    CARVE(a->lnf_rstd, R);
    CARVE(a->pooled, (size_t)B * D);
    CARVE(a->logits, (size_t)m->Bmax * m->C); /* the whole batch's, also on a group (gathered) */
    CARVE(a->dlogits, (size_t)B * m->C);
    CARVE(a->dpooled, (size_t)B * D);
    CARVE(a->dres, R * D);
    if (m->lowest < m->depth || full) {
        CARVE(a->dln, R * D);
        if (!m->bf16) { /* bf16: dqkv16, datty16, scores and ds16 below */
            CARVE(a->dqkv, R * 3 * D);
            CARVE(a->datty, R * D);
            CARVE(a->datt, (size_t)B * H * N * N);
        }
        CARVE(a->dfc, R * Hm);
        int kmax = m->taps[0].k > m->taps[1].k ? m->taps[0].k : m->taps[1].k;
        if (r > 0) {
            CARVE(a->daz, R * kmax * r);
            CARVE(a->dah, R * r);
            CARVE(a->dlr, R * r);
        }
    }
    if (m->bf16) {
        int kmax = m->taps[0].k > m->taps[1].k ? m->taps[0].k : m->taps[1].k;
        CARVE16(a->pooled16, (size_t)B * D);
        CARVE16(a->dlogits16, (size_t)B * m->C);
        CARVE(a->scores, (size_t)B * H * N * N);
        CARVE(a->qkvf, m->spec.method == LOAA_METHOD_LORA ? R * 3 * D : 0);
        CARVE(a->fc1f, R * Hm);
        CARVE16(a->dres16, R * D);
        if (m->lowest < m->depth || full) {
            CARVE16(a->dfc16, R * Hm);
            CARVE16(a->dqkv16, R * 3 * D);
            CARVE16(a->datty16, R * D);
            CARVE16(a->ds16, (size_t)B * H * N * N);
            CARVE16(a->dz16, R * kmax * r);
            CARVE16(a->dlr16, R * r);
        }
    }
#undef CARVE_MM
#undef CARVE16
#undef CARVE
    return over ? SIZE_MAX : off;
}

/* The refusal of a shape whose activation table does not fit (carve_acts gave SIZE_MAX): LOAA_ERR_LIMIT with the sizes. */
static loaa_status act_overflow(const loaa_model *m)
{
    double B = m->act_batch, N = m->N, H = m->H;
    return loaa_fail(LOAA_ERR_LIMIT,
                     "model activations do not fit in memory: batch %d x %d tokens (%d patches) x dim %d, %d heads, MLP %d, "
                     "depth %d: attention alone is B*H*N*N = %.3g floats (at most %.3g); try a smaller batch_size, "
                     "target_length or larger strides", m->act_batch, m->N, m->P, m->D, m->H, m->Hm, m->depth, B * H * N * N,
                     (double)ACT_MAX_FLOATS);
}

/* ---- create / free / init ---- */

static void set_taps(loaa_taps *t, loaa_method method, int k, int along_time)
{
    memset(t, 0, sizeof *t);
    if (method == LOAA_METHOD_ADAPTER || method == LOAA_METHOD_LORA) {
        t->k = 1;
        return;
    }
    if (method == LOAA_METHOD_CONVPASS) {
        t->k = 9;
        t->centre = 4;
        for (int j = 0; j < 9; j++) {
            t->df[j] = j / 3 - 1;
            t->dt[j] = j % 3 - 1;
        }
        return;
    }
    t->k = k;
    t->centre = k / 2;
    for (int j = 0; j < k; j++) {
        if (along_time)
            t->dt[j] = j - k / 2;
        else
            t->df[j] = j - k / 2;
    }
}

static int is_adapter_method(loaa_method me)
{
    return me == LOAA_METHOD_ADAPTER || me == LOAA_METHOD_LOAA_TIME || me == LOAA_METHOD_LOAA_FREQ ||
           me == LOAA_METHOD_LOAA_TF || me == LOAA_METHOD_CONVPASS;
}

static loaa_status check_spec(const loaa_model_spec *c, const loaa_model_shape *s)
{
    if ((unsigned)c->method >= LOAA_METHOD_COUNT)
        return loaa_fail(LOAA_ERR_CONFIG, "key 'method': unknown method %d", (int)c->method);
    if (s->n_classes < 1)
        return loaa_fail(LOAA_ERR_SHAPE, "model shape: n_classes must be >= 1, got %d", s->n_classes);
    if (s->max_batch < 1)
        return loaa_fail(LOAA_ERR_SHAPE, "model shape: max_batch must be >= 1, got %d", s->max_batch);
    if (c->precision != LOAA_PRECISION_FP32 && c->precision != LOAA_PRECISION_BF16)
        return loaa_fail(LOAA_ERR_CONFIG, "key 'precision': unknown precision %d (fp32 or bf16)", (int)c->precision);
    if (c->method == LOAA_METHOD_NOOP)
        return LOAA_OK;
    if (c->fstride < 1 || c->tstride < 1)
        return loaa_fail(LOAA_ERR_CONFIG, "key '%s': must be >= 1, got %d", c->fstride < 1 ? "fstride" : "tstride",
                         c->fstride < 1 ? c->fstride : c->tstride);
    if (s->n_mel < LOAA_PATCH)
        return loaa_fail(LOAA_ERR_SHAPE, "n_mel %d is smaller than the 16x16 patch", s->n_mel);
    if (s->n_frames < LOAA_PATCH)
        return loaa_fail(LOAA_ERR_SHAPE, "n_frames (target_length) %d is smaller than the 16x16 patch", s->n_frames);
    if (c->dim < 1 || c->depth < 1 || c->heads < 1)
        return loaa_fail(LOAA_ERR_CONFIG, "key 'model': dim %d, depth %d, heads %d must all be >= 1 "
                         "(call loaa_config_validate first)", c->dim, c->depth, c->heads);
    if (c->dim % c->heads)
        return loaa_fail(LOAA_ERR_CONFIG, "key 'heads': %d heads do not divide dim %d", c->heads, c->dim);
    if ((int)(c->mlp_ratio * c->dim) < 1)
        return loaa_fail(LOAA_ERR_CONFIG, "key 'mlp_ratio': hidden width %g*%d is below 1", c->mlp_ratio, c->dim);
    if (c->blocks < 0 || c->blocks > c->depth)
        return loaa_fail(LOAA_ERR_CONFIG, "key 'blocks': %d is outside 0..depth %d", c->blocks, c->depth);
    if (is_adapter_method(c->method) || c->method == LOAA_METHOD_LORA) {
        if (c->bottleneck < 1)
            return loaa_fail(LOAA_ERR_CONFIG, "key 'bottleneck': must be >= 1, got %d", c->bottleneck);
    }
    if (c->method == LOAA_METHOD_LOAA_TIME || c->method == LOAA_METHOD_LOAA_FREQ || c->method == LOAA_METHOD_LOAA_TF) {
        if (c->kernel < 1 || c->kernel % 2 == 0 || c->kernel > LOAA_MAX_TAPS)
            return loaa_fail(LOAA_ERR_CONFIG, "key 'kernel': must be odd and in 1..%d, got %d", LOAA_MAX_TAPS - 1,
                             c->kernel);
    }
    if (c->method == LOAA_METHOD_LORA && c->placement == LOAA_PLACE_MLP)
        return loaa_fail(LOAA_ERR_CONFIG, "key 'placement': lora adapts W_q and W_v, so it needs mhsa or both");
    if (!isfinite(c->scale))
        return loaa_fail(LOAA_ERR_CONFIG, "key 'scale': must be finite");
    return LOAA_OK;
}

void loaa_model_free(loaa_model *m)
{
    if (!m)
        return;
    loaa_pgrid_free(m->grid); /* collective over the group, as documented */
    free(m->group_counts);
    free(m->param_mem);
    free(m->grad_mem);
    free(m->m_mem); /* and v_mem with it */
    free(m->act_mem);
    free(m->p.blocks);
    free(m->g.blocks);
    free(m->p16.blocks);
    free(m->w16);
    free(m->w16_mem);
    free(m->a.res);
    free(m->a.blk);
    free(m->refs);
    free(m->meta);
    free(m->names);
    free(m);
}

static float *alloc_floats(size_t n)
{
    /* 64-byte alignment keeps every GEMM operand on a cache line (the carve keeps 16-float steps). */
    void *p = NULL;
    if (posix_memalign(&p, 64, (n ? n : 1) * sizeof(float)))
        return NULL;
    return p;
}

static loaa_status w16_create(loaa_model *m);

loaa_status loaa_model_create(loaa_model **out, const loaa_model_spec *spec, const loaa_model_shape *shape)
{
    *out = NULL;
    loaa_status st = check_spec(spec, shape);
    if (st)
        return st;
    loaa_model *m = calloc(1, sizeof *m);
    if (!m)
        return loaa_fail(LOAA_ERR_NOMEM, "model");
    m->spec = *spec;
    m->shape = *shape;
    m->C = shape->n_classes;
    m->Bmax = shape->max_batch;
    m->act_batch = m->Bmax;
    loaa_gemm_ctx_init(&m->gemm);
    if (spec->method == LOAA_METHOD_NOOP) {
        m->noop = 1;
        *out = m;
        return LOAA_OK;
    }
    if (spec->threads > 0)
        loaa_kernels_set_threads(spec->threads);
    loaa_method me = spec->method;
    m->D = spec->dim;
    m->depth = spec->depth;
    m->H = spec->heads;
    m->Hm = (int)(spec->mlp_ratio * spec->dim);
    m->S = shape->dist_token ? 2 : 1;
    m->Fp = (shape->n_mel - LOAA_PATCH) / spec->fstride + 1;
    m->Tp = (shape->n_frames - LOAA_PATCH) / spec->tstride + 1;
    m->P = m->Fp * m->Tp;
    m->N = m->S + m->P;
    int peft = is_adapter_method(me) || me == LOAA_METHOD_LORA;
    m->r = peft ? spec->bottleneck : 0;
    m->scale = (float)spec->scale;
    m->lora_scale = (float)((spec->lora_alpha > 0 ? spec->lora_alpha : spec->bottleneck) / (double)spec->bottleneck);
    m->ad_from = peft ? (spec->blocks ? m->depth - spec->blocks : 0) : m->depth;
    m->ad_branch[0] = peft && spec->placement != LOAA_PLACE_MLP;
    m->ad_branch[1] = is_adapter_method(me) && spec->placement != LOAA_PLACE_MHSA;
    set_taps(&m->taps[0], me, spec->kernel, me != LOAA_METHOD_LOAA_FREQ);
    set_taps(&m->taps[1], me, spec->kernel, me == LOAA_METHOD_LOAA_TIME);
    m->lowest = me == LOAA_METHOD_FULL ? 0 : m->ad_from;
    m->bf16 = spec->precision == LOAA_PRECISION_BF16;

    m->p.blocks = calloc(m->depth, sizeof(block_params));
    m->g.blocks = calloc(m->depth, sizeof(block_params));
    m->a.res = calloc(m->depth + 1, sizeof(float *));
    m->a.blk = calloc(m->depth, sizeof(block_acts));
    if (!m->p.blocks || !m->g.blocks || !m->a.res || !m->a.blk) {
        loaa_model_free(m);
        return loaa_fail(LOAA_ERR_NOMEM, "model tables");
    }
    if ((st = build_table(m))) {
        loaa_model_free(m);
        return st;
    }
    m->nacts = carve_acts(m, NULL);
    if (m->nacts == SIZE_MAX) {
        st = act_overflow(m);
        loaa_model_free(m);
        return st;
    }
    m->param_mem = alloc_floats(m->nparams);
    m->grad_mem = alloc_floats(m->ntrain);
    m->m_mem = alloc_floats(2 * m->ntrain); /* AdamW state: both moments in one allocation */
    m->v_mem = m->m_mem ? m->m_mem + m->ntrain : NULL;
    m->act_mem = alloc_floats(m->nacts);
    if (!m->param_mem || !m->grad_mem || !m->m_mem || !m->v_mem || !m->act_mem) {
        size_t bytes = (m->nparams + 3 * m->ntrain + m->nacts) * sizeof(float);
        loaa_model_free(m);
        return loaa_fail(LOAA_ERR_NOMEM, "model memory (%zu MiB; try a smaller batch_size)", bytes >> 20);
    }
    memset(m->param_mem, 0, m->nparams * sizeof(float));
    memset(m->grad_mem, 0, m->ntrain * sizeof(float));
    memset(m->m_mem, 0, 2 * m->ntrain * sizeof(float));
    carve_acts(m, m->act_mem);
    for (size_t i = 0; i < m->ntensors; i++) {
        tensor_meta *t = &m->meta[i];
        *t->slot = m->param_mem + t->offset;
        *t->gslot = m->refs[i].trainable ? m->grad_mem + t->goffset : NULL;
        m->refs[i].name = m->names[i];
        m->refs[i].data = *t->slot;
        m->refs[i].grad = *t->gslot;
    }
    if (m->bf16 && (st = w16_create(m))) {
        loaa_model_free(m);
        return st;
    }
    *out = m;
    return LOAA_OK;
}

static double trunc_normal(loaa_rng *rng)
{
    for (;;) {
        double z = loaa_rng_normal(rng);
        if (z >= -2 && z <= 2)
            return z;
    }
}

loaa_status loaa_model_init(loaa_model *m, uint64_t seed)
{
    if (m->noop)
        return LOAA_OK;
    loaa_rng root;
    loaa_rng_seed(&root, seed);
    for (size_t i = 0; i < m->ntensors; i++) {
        tensor_meta *t = &m->meta[i];
        float *d = *t->slot;
        /* One stream per tensor name: adding a tensor never changes another's values, so a
         * frozen backbone is the same for every method given the seed. */
        loaa_rng rng = loaa_rng_split(&root, m->names[i], 0);
        for (size_t j = 0; j < t->numel; j++) {
            switch (t->init) {
            case INIT_ZERO: d[j] = 0; break;
            case INIT_ONE: d[j] = 1; break;
            case INIT_TRUNC: d[j] = (float)(0.02 * trunc_normal(&rng)); break;
            default: d[j] = (float)((2 * loaa_rng_uniform(&rng) - 1) / sqrt((double)t->fan_in)); break;
            }
        }
    }
    m->step = 0;
    memset(m->m_mem, 0, 2 * m->ntrain * sizeof(float));
    m->w16_stale = 1;
    return LOAA_OK;
}

const loaa_tensor_ref *loaa_model_tensors(const loaa_model *m, size_t *count)
{
    *count = m->ntensors;
    return m->refs;
}

size_t loaa_model_trainable_params(const loaa_model *m)
{
    return m->ntrain;
}

size_t loaa_model_total_params(const loaa_model *m)
{
    return m->nparams;
}

loaa_optim_state loaa_model_optim_state(loaa_model *m)
{
    loaa_optim_state s = {m->step, m->m_mem, m->v_mem, m->ntrain};
    return s;
}

void loaa_model_set_optim_step(loaa_model *m, int64_t step)
{
    m->step = step;
}

const loaa_model_spec *loaa_model_get_spec(const loaa_model *m)
{
    return &m->spec;
}

int loaa_model_tokens(const loaa_model *m, int *fgrid, int *tgrid)
{
    if (fgrid)
        *fgrid = m->Fp;
    if (tgrid)
        *tgrid = m->Tp;
    return m->N;
}

double loaa_model_gemm_flops(const loaa_model *m)
{
    return m->gemm.flops;
}

size_t loaa_model_activation_bytes(const loaa_model *m)
{
    return m->nacts * sizeof(float);
}

/* ---- forward ---- */

/* res_out (R,D) += s * (GELU(conv_taps(u)) W_up^T + b_up): one adapter branch. */
static void adapter_forward(loaa_model *m, int l, int br, float *res_out, const float *u, int B)
{
    const adapter_params *p = &m->p.blocks[l].ad[br];
    block_acts *a = &m->a.blk[l];
    const loaa_taps *taps = &m->taps[br];
    int R = B * m->N, D = m->D, r = m->r, k = taps->k;
    if (k == 1) {
        loaa_linear_forward(&m->gemm, a->ahp[br], u, p->down_w, p->down_b, R, D, r);
    } else {
        loaa_gemm(&m->gemm, 0, 1, R, k * r, D, 1.0f, u, D, p->down_w, D, 0.0f, a->az[br], k * r);
        loaa_tapconv_gather(a->ahp[br], a->az[br], p->down_b, taps, B, m->S, m->Fp, m->Tp, r);
    }
    if (m->training)
        loaa_gelu_forward_deriv(a->ah[br], a->ahp[br], a->ahp[br], (size_t)R * r);
    else
        loaa_gelu_forward(a->ah[br], a->ahp[br], (size_t)R * r);
    float s = m->scale;
    for (int i = 0; i < R; i++) {
        float *o = res_out + (size_t)i * D;
        for (int d = 0; d < D; d++)
            o[d] += s * p->up_b[d];
    }
    loaa_gemm(&m->gemm, 0, 1, R, D, r, s, a->ah[br], r, p->up_w, r, 1.0f, res_out, D);
}

static void block_forward(loaa_model *m, int l, int B)
{
    const block_params *p = &m->p.blocks[l];
    block_acts *a = &m->a.blk[l];
    int R = B * m->N, D = m->D, Hm = m->Hm, r = m->r;
    const float *x = m->a.res[l];
    float *y = m->a.res[l + 1];
    int has = l >= m->ad_from;

    loaa_layernorm_forward(a->ln1, a->ln1_mean, a->ln1_rstd, x, p->ln1_w, p->ln1_b, R, D);
    loaa_linear_forward(&m->gemm, a->qkv, a->ln1, p->qkv_w, p->qkv_b, R, D, 3 * D);
    if (has && p->lq_a) {
        /* LoRA folds into the q and v columns of the fused projection */
        loaa_gemm(&m->gemm, 0, 1, R, r, D, 1.0f, a->ln1, D, p->lq_a, D, 0.0f, a->lq, r);
        loaa_gemm(&m->gemm, 0, 1, R, D, r, m->lora_scale, a->lq, r, p->lq_b, r, 1.0f, a->qkv, 3 * D);
        loaa_gemm(&m->gemm, 0, 1, R, r, D, 1.0f, a->ln1, D, p->lv_a, D, 0.0f, a->lv, r);
        loaa_gemm(&m->gemm, 0, 1, R, D, r, m->lora_scale, a->lv, r, p->lv_b, r, 1.0f, a->qkv + 2 * D, 3 * D);
    }
    loaa_attention_forward(&m->gemm, a->atty, a->att, a->qkv, B, m->N, D, m->H);
    for (int i = 0; i < R; i++) {
        const float *xi = x + (size_t)i * D;
        float *mi = a->mid + (size_t)i * D;
        for (int d = 0; d < D; d++)
            mi[d] = xi[d] + p->proj_b[d];
    }
    loaa_gemm(&m->gemm, 0, 1, R, D, D, 1.0f, a->atty, D, p->proj_w, D, 1.0f, a->mid, D);
    if (has && m->ad_branch[0] && !p->lq_a)
        adapter_forward(m, l, 0, a->mid, a->ln1, B);

    loaa_layernorm_forward(a->ln2, a->ln2_mean, a->ln2_rstd, a->mid, p->ln2_w, p->ln2_b, R, D);
    loaa_linear_forward(&m->gemm, a->fch, a->ln2, p->fc1_w, p->fc1_b, R, D, Hm);
    if (m->training)
        loaa_gelu_forward_deriv(a->fcg, a->fch, a->fch, (size_t)R * Hm);
    else
        loaa_gelu_forward(a->fcg, a->fch, (size_t)R * Hm);
    for (int i = 0; i < R; i++) {
        const float *mi = a->mid + (size_t)i * D;
        float *yi = y + (size_t)i * D;
        for (int d = 0; d < D; d++)
            yi[d] = mi[d] + p->fc2_b[d];
    }
    loaa_gemm(&m->gemm, 0, 1, R, D, Hm, 1.0f, a->fcg, Hm, p->fc2_w, Hm, 1.0f, y, D);
    if (has && m->ad_branch[1])
        adapter_forward(m, l, 1, y, a->ln2, B);
}

/* logits (B,C) of x (B,M,T) */
static void block_forward16(loaa_model *m, int l, int B);
static void w16_refresh(loaa_model *m, int trainable_only);

/* x0 (R,D) = [cls, dist, patch_b] + pos, before the patch products add onto the patch rows */
static void embed_tokens(loaa_model *m, int B)
{
    int N = m->N, D = m->D, S = m->S;
    const model_params *p = &m->p;
    for (int b = 0; b < B; b++) {
        float *xb = m->a.res[0] + (size_t)b * N * D;
        for (int n = 0; n < N; n++) {
            const float *pos = p->pos + (size_t)n * D;
            const float *base = n == 0 ? p->cls : n < S ? p->dist : p->patch_b;
            for (int d = 0; d < D; d++)
                xb[(size_t)n * D + d] = base[d] + pos[d];
        }
    }
}

/* x0's patch rows += the patches (B*P,256) W_patch^T: per sample, local (a group's ranks hold different counts) */
static void embed_patches(loaa_model *m, const float *x, int B)
{
    int N = m->N, D = m->D, S = m->S, P = m->P;
    model_acts *a = &m->a;
    if (m->bf16) {
        loaa_patch_im2col_bf16(a->col16, x, B, m->shape.n_mel, m->shape.n_frames, m->spec.fstride, m->spec.tstride,
                               m->Fp, m->Tp);
        loaa_gemm_batch per_sample = {.count = {B, 1}, .stride_a = {(ptrdiff_t)P * 256, 0},
                                      .stride_c = {(ptrdiff_t)N * D, 0}};
        loaa_gemm_bf16(&m->gemm, 0, 1, P, D, 256, 1.0f, a->col16, 256, m->p16.patch_w, 256, 1.0f,
                       a->res[0] + (size_t)S * D, LOAA_F32, D, NULL, &per_sample);
        return;
    }
    loaa_patch_im2col(a->col, x, B, m->shape.n_mel, m->shape.n_frames, m->spec.fstride, m->spec.tstride, m->Fp, m->Tp);
    for (int b = 0; b < B; b++)
        loaa_gemm_local(&m->gemm, 0, 1, P, D, 256, 1.0f, a->col + (size_t)b * P * 256, 256, m->p.patch_w, 256, 1.0f,
                        a->res[0] + ((size_t)b * N + S) * D, D);
}

/* logits (B,C) of x (B,M,T) */
static void forward(loaa_model *m, const float *x, int B)
{
    int N = m->N, D = m->D, S = m->S, R = B * N;
    model_acts *a = &m->a;
    const model_params *p = &m->p;
    if (m->bf16 && m->w16_stale)
        w16_refresh(m, 0);
    embed_tokens(m, B);
    embed_patches(m, x, B);
    for (int l = 0; l < m->depth; l++)
        if (m->bf16)
            block_forward16(m, l, B);
        else
            block_forward(m, l, B);
    loaa_layernorm_forward(a->lnf, a->lnf_mean, a->lnf_rstd, a->res[m->depth], p->norm_w, p->norm_b, R, D);
    for (int b = 0; b < B; b++) {
        float *o = a->pooled + (size_t)b * D;
        const float *t = a->lnf + (size_t)b * N * D;
        int from = m->spec.pool == LOAA_POOL_MEAN ? S : 0, to = m->spec.pool == LOAA_POOL_MEAN ? N : S;
        float w = 1.0f / (to - from);
        memset(o, 0, D * sizeof(float));
        for (int n = from; n < to; n++)
            for (int d = 0; d < D; d++)
                o[d] += w * t[(size_t)n * D + d];
    }
    if (m->bf16) {
        loaa_to_bf16(a->pooled16, a->pooled, (size_t)B * D);
        loaa_linear_forward_bf16(&m->gemm, a->logits, LOAA_F32, a->pooled16, m->p16.head_w, p->head_b, B, D, m->C);
    } else {
        loaa_linear_forward(&m->gemm, a->logits, a->pooled, p->head_w, p->head_b, B, D, m->C);
    }
}

/* ---- backward ---- */

/* Adapter branch backward: dres (R,D) is the gradient of the residual it adds to; dln (R,D) += its input gradient. */
static void adapter_backward(loaa_model *m, int l, int br, const float *dres, const float *u, float *dln, int B)
{
    const adapter_params *p = &m->p.blocks[l].ad[br];
    const adapter_params *g = &m->g.blocks[l].ad[br];
    block_acts *a = &m->a.blk[l];
    const loaa_taps *taps = &m->taps[br];
    int R = B * m->N, D = m->D, r = m->r, k = taps->k;
    float s = m->scale;
    model_acts *A = &m->a;
    /* up: dW_up (D,r) += s dres^T h; db_up += s colsum(dres); dh (R,r) = s dres W_up */
    loaa_gemm(&m->gemm, 1, 0, D, r, R, s, dres, D, a->ah[br], r, 1.0f, g->up_w, r);
    for (int i = 0; i < R; i++)
        for (int d = 0; d < D; d++)
            g->up_b[d] += s * dres[(size_t)i * D + d];
    loaa_gemm(&m->gemm, 0, 0, R, r, D, s, dres, D, p->up_w, r, 0.0f, A->dah, r);
    loaa_mul(A->dah, A->dah, a->ahp[br], (size_t)R * r); /* ahp holds GELU' after a training forward */
    for (int i = 0; i < R; i++)
        for (int c = 0; c < r; c++)
            g->down_b[c] += A->dah[(size_t)i * r + c];
    const float *dz = A->dah;
    if (k > 1) {
        loaa_tapconv_scatter(A->daz, A->dah, taps, B, m->S, m->Fp, m->Tp, r);
        dz = A->daz;
    }
    loaa_gemm(&m->gemm, 1, 0, k * r, D, R, 1.0f, dz, k * r, u, D, 1.0f, g->down_w, D);
    loaa_gemm(&m->gemm, 0, 0, R, D, k * r, 1.0f, dz, k * r, p->down_w, D, 1.0f, dln, D);
}

/* dres (R,D): in, the gradient of block l's output; out, the gradient of its input. */
static void block_backward(loaa_model *m, int l, int B, int need_dinput)
{
    const block_params *p = &m->p.blocks[l];
    const block_params *g = &m->g.blocks[l];
    block_acts *a = &m->a.blk[l];
    model_acts *A = &m->a;
    int R = B * m->N, D = m->D, Hm = m->Hm, r = m->r;
    int has = l >= m->ad_from;
    float *dres = A->dres;

    /* MLP branch: y = mid + fc2(gelu(fc1(ln2))) + s A2(ln2) */
    loaa_gemm(&m->gemm, 0, 0, R, Hm, D, 1.0f, dres, D, p->fc2_w, Hm, 0.0f, A->dfc, Hm);
    loaa_linear_backward(&m->gemm, NULL, g->fc2_w, g->fc2_b, dres, a->fcg, p->fc2_w, R, Hm, D);
    loaa_mul(A->dfc, A->dfc, a->fch, (size_t)R * Hm); /* fch holds GELU' after a training forward */
    loaa_gemm(&m->gemm, 0, 0, R, D, Hm, 1.0f, A->dfc, Hm, p->fc1_w, D, 0.0f, A->dln, D);
    loaa_linear_backward(&m->gemm, NULL, g->fc1_w, g->fc1_b, A->dfc, a->ln2, p->fc1_w, R, D, Hm);
    if (has && m->ad_branch[1])
        adapter_backward(m, l, 1, dres, a->ln2, A->dln, B);
    /* The lowest block of a PEFT model with nothing trainable beside its MHSA needs no more. */
    if (!need_dinput && !(has && m->ad_branch[0]))
        return;
    loaa_layernorm_backward(dres, g->ln2_w, g->ln2_b, A->dln, a->mid, p->ln2_w, a->ln2_mean, a->ln2_rstd, R, D);

    /* MHSA branch: mid = x + proj(attn(qkv(ln1))) + s A1(ln1) */
    loaa_gemm(&m->gemm, 0, 0, R, D, D, 1.0f, dres, D, p->proj_w, D, 0.0f, A->datty, D);
    loaa_linear_backward(&m->gemm, NULL, g->proj_w, g->proj_b, dres, a->atty, p->proj_w, R, D, D);
    loaa_attention_backward(&m->gemm, A->dqkv, A->datt, A->datty, a->qkv, a->att, B, m->N, D, m->H);
    loaa_gemm(&m->gemm, 0, 0, R, D, 3 * D, 1.0f, A->dqkv, 3 * D, p->qkv_w, D, 0.0f, A->dln, D);
    loaa_linear_backward(&m->gemm, NULL, g->qkv_w, g->qkv_b, A->dqkv, a->ln1, p->qkv_w, R, D, 3 * D);
    if (has && p->lq_a) {
        float sc = m->lora_scale;
        for (int part = 0; part < 2; part++) {
            const float *dq = A->dqkv + (part ? 2 * D : 0);
            const float *t = part ? a->lv : a->lq;
            const float *wa = part ? p->lv_a : p->lq_a, *wb = part ? p->lv_b : p->lq_b;
            float *ga = part ? g->lv_a : g->lq_a, *gb = part ? g->lv_b : g->lq_b;
            /* q += sc (ln1 A^T) B^T: dB (D,r) += sc dq^T t; dt (R,r) = sc dq B; dA += dt^T ln1; dln1 += dt A */
            loaa_gemm(&m->gemm, 1, 0, D, r, R, sc, dq, 3 * D, t, r, 1.0f, gb, r);
            loaa_gemm(&m->gemm, 0, 0, R, r, D, sc, dq, 3 * D, wb, r, 0.0f, A->dlr, r);
            loaa_gemm(&m->gemm, 1, 0, r, D, R, 1.0f, A->dlr, r, a->ln1, D, 1.0f, ga, D);
            loaa_gemm(&m->gemm, 0, 0, R, D, r, 1.0f, A->dlr, r, wa, D, 1.0f, A->dln, D);
        }
    }
    if (has && m->ad_branch[0] && !p->lq_a)
        adapter_backward(m, l, 0, dres, a->ln1, A->dln, B);
    loaa_layernorm_backward(need_dinput ? dres : NULL, g->ln1_w, g->ln1_b, A->dln, m->a.res[l], p->ln1_w, a->ln1_mean,
                            a->ln1_rstd, R, D);
}

static void block_backward16(loaa_model *m, int l, int B, int need_dinput);

static void backward(loaa_model *m, int B)
{
    int N = m->N, D = m->D, S = m->S, P = m->P, R = B * N;
    model_acts *a = &m->a;
    const model_params *p = &m->p;
    const model_params *g = &m->g;
    /* head */
    if (m->bf16) {
        loaa_to_bf16(a->dlogits16, a->dlogits, (size_t)B * m->C);
        loaa_linear_backward_bf16(&m->gemm, NULL, g->head_w, g->head_b, a->dlogits16, a->dlogits, a->pooled16,
                                  m->p16.head_w, B, D, m->C);
        loaa_gemm_bf16(&m->gemm, 0, 0, B, D, m->C, 1.0f, a->dlogits16, m->C, m->p16.head_w, D, 0.0f, a->dpooled,
                       LOAA_F32, D, NULL, NULL);
    } else {
        loaa_linear_backward(&m->gemm, NULL, g->head_w, g->head_b, a->dlogits, a->pooled, p->head_w, B, D, m->C);
        loaa_gemm(&m->gemm, 0, 0, B, D, m->C, 1.0f, a->dlogits, m->C, p->head_w, D, 0.0f, a->dpooled, D);
    }
    /* pool: the gradient lands on the pooled rows only; the final LN row-wise backward of
     * zero rows is zero, so only those rows are visited */
    int from = m->spec.pool == LOAA_POOL_MEAN ? S : 0, to = m->spec.pool == LOAA_POOL_MEAN ? N : S;
    float w = 1.0f / (to - from);
    memset(a->dres, 0, (size_t)R * D * sizeof(float));
    float *dlnf = a->lnf; /* the normalised rows are not needed any more: reuse as dLN-out for the pooled rows */
    for (int b = 0; b < B; b++) {
        for (int n = from; n < to; n++) {
            size_t row = (size_t)b * N + n;
            float *dl = dlnf + row * D;
            for (int d = 0; d < D; d++)
                dl[d] = w * a->dpooled[(size_t)b * D + d];
            loaa_layernorm_backward(a->dres + row * D, g->norm_w, g->norm_b, dl, a->res[m->depth] + row * D, p->norm_w,
                                    a->lnf_mean + row, a->lnf_rstd + row, 1, D);
        }
    }
    for (int l = m->depth - 1; l >= m->lowest; l--)
        if (m->bf16)
            block_backward16(m, l, B, l > m->lowest || m->spec.method == LOAA_METHOD_FULL);
        else
            block_backward(m, l, B, l > m->lowest || m->spec.method == LOAA_METHOD_FULL);
    if (m->lowest > 0 || !g->patch_w)
        return;
    if (m->bf16)
        loaa_to_bf16(a->dres16, a->dres, (size_t)R * D);
    /* embeddings: x0 = [cls, dist, patches W^T + b] + pos */
    for (int b = 0; b < B; b++) {
        const float *db = a->dres + (size_t)b * N * D;
        for (size_t i = 0; i < (size_t)N * D; i++)
            g->pos[i] += db[i];
        for (int d = 0; d < D; d++) {
            g->cls[d] += db[d];
            if (S == 2)
                g->dist[d] += db[D + d];
        }
        for (int n = S; n < N; n++)
            for (int d = 0; d < D; d++)
                g->patch_b[d] += db[(size_t)n * D + d];
        if (m->bf16)
            loaa_gemm_bf16(&m->gemm, 1, 0, D, 256, P, 1.0f, a->dres16 + ((size_t)b * N + S) * D, D,
                           a->col16 + (size_t)b * P * 256, 256, 1.0f, g->patch_w, LOAA_F32, 256, NULL, NULL);
        else
            loaa_gemm(&m->gemm, 1, 0, D, 256, P, 1.0f, db + (size_t)S * D, D, a->col + (size_t)b * P * 256, 256, 1.0f,
                      g->patch_w, 256);
    }
}

/* ---- precision bf16: the blocks on bf16 operands (layers.h's bf16 forms), fp32 residuals and statistics ---- */

/* res_out (R,D) += s * (GELU(conv_taps(u)) W_up^T + b_up), u (R,D) bf16. */
static void adapter_forward16(loaa_model *m, int l, int br, float *res_out, const loaa_bf16 *u, int B)
{
    const adapter_params *p = &m->p.blocks[l].ad[br];
    const block16_t *w = &m->p16.blocks[l];
    block_acts *a = &m->a.blk[l];
    const loaa_taps *taps = &m->taps[br];
    int R = B * m->N, D = m->D, r = m->r, k = taps->k;
    if (k == 1) {
        loaa_linear_forward_bf16(&m->gemm, a->ahp[br], LOAA_F32, u, w->down_w[br], p->down_b, R, D, r);
    } else {
        loaa_gemm_bf16(&m->gemm, 0, 1, R, k * r, D, 1.0f, u, D, w->down_w[br], D, 0.0f, a->az[br], LOAA_F32, k * r,
                       NULL, NULL);
        loaa_tapconv_gather(a->ahp[br], a->az[br], p->down_b, taps, B, m->S, m->Fp, m->Tp, r);
    }
    /* ahp keeps GELU' for backward after a training forward */
    loaa_gelu_forward_bf16(a->ah16[br], m->training ? a->ahp[br] : NULL, NULL, a->ahp[br], (size_t)R * r);
    float s = m->scale;
    for (int i = 0; i < R; i++) {
        float *o = res_out + (size_t)i * D;
        for (int d = 0; d < D; d++)
            o[d] += s * p->up_b[d];
    }
    loaa_gemm_bf16(&m->gemm, 0, 1, R, D, r, s, a->ah16[br], r, w->up_w[br], r, 1.0f, res_out, LOAA_F32, D, NULL, NULL);
}

/* qkv16 (R,3D) = ln1 W_qkv^T + b (+ the LoRA terms on the q and v columns, added in fp32 before rounding) */
static void qkv_forward16(loaa_model *m, int l, int B)
{
    const block_params *p = &m->p.blocks[l];
    const block16_t *w = &m->p16.blocks[l];
    block_acts *a = &m->a.blk[l];
    int R = B * m->N, D = m->D, r = m->r;
    if (!(l >= m->ad_from && p->lq_a)) {
        loaa_linear_forward_bf16(&m->gemm, a->qkv16, LOAA_BF16, a->ln1_16, w->qkv_w, p->qkv_b, R, D, 3 * D);
        return;
    }
    float *qkv = m->a.qkvf;
    loaa_linear_forward_bf16(&m->gemm, qkv, LOAA_F32, a->ln1_16, w->qkv_w, p->qkv_b, R, D, 3 * D);
    for (int part = 0; part < 2; part++) {
        loaa_bf16 *t = part ? a->lv16 : a->lq16;
        loaa_gemm_bf16(&m->gemm, 0, 1, R, r, D, 1.0f, a->ln1_16, D, part ? w->lv_a : w->lq_a, D, 0.0f, t, LOAA_BF16,
                       r, NULL, NULL);
        loaa_gemm_bf16(&m->gemm, 0, 1, R, D, r, m->lora_scale, t, r, part ? w->lv_b : w->lq_b, r, 1.0f,
                       qkv + (part ? 2 * D : 0), LOAA_F32, 3 * D, NULL, NULL);
    }
    loaa_to_bf16(a->qkv16, qkv, (size_t)R * 3 * D);
}

static void block_forward16(loaa_model *m, int l, int B)
{
    const block_params *p = &m->p.blocks[l];
    const block16_t *w = &m->p16.blocks[l];
    block_acts *a = &m->a.blk[l];
    int R = B * m->N, D = m->D, Hm = m->Hm;
    const float *x = m->a.res[l];
    float *y = m->a.res[l + 1];
    int has = l >= m->ad_from;

    loaa_layernorm_forward_bf16(a->ln1_16, a->ln1_mean, a->ln1_rstd, x, p->ln1_w, p->ln1_b, R, D);
    qkv_forward16(m, l, B);
    loaa_attention_forward_bf16(&m->gemm, a->atty16, a->att16, m->a.scores, a->qkv16, B, m->N, D, m->H);
    memcpy(a->mid, x, (size_t)R * D * sizeof(float));
    loaa_gemm_bf16(&m->gemm, 0, 1, R, D, D, 1.0f, a->atty16, D, w->proj_w, D, 1.0f, a->mid, LOAA_F32, D, p->proj_b,
                   NULL);
    if (has && m->ad_branch[0] && !p->lq_a)
        adapter_forward16(m, l, 0, a->mid, a->ln1_16, B);

    loaa_layernorm_forward_bf16(a->ln2_16, a->ln2_mean, a->ln2_rstd, a->mid, p->ln2_w, p->ln2_b, R, D);
    loaa_linear_forward_bf16(&m->gemm, m->a.fc1f, LOAA_F32, a->ln2_16, w->fc1_w, p->fc1_b, R, D, Hm);
    /* fcd16 keeps GELU' for backward after a training forward */
    loaa_gelu_forward_bf16(a->fcg16, NULL, m->training ? a->fcd16 : NULL, m->a.fc1f, (size_t)R * Hm);
    memcpy(y, a->mid, (size_t)R * D * sizeof(float));
    loaa_gemm_bf16(&m->gemm, 0, 1, R, D, Hm, 1.0f, a->fcg16, Hm, w->fc2_w, Hm, 1.0f, y, LOAA_F32, D, p->fc2_b, NULL);
    if (has && m->ad_branch[1])
        adapter_forward16(m, l, 1, y, a->ln2_16, B);
}

/* Adapter branch backward; dres (R,D) and its bf16 copy A->dres16 are the residual's gradient; dln (R,D) +=. */
static void adapter_backward16(loaa_model *m, int l, int br, const float *dres, const loaa_bf16 *u, float *dln, int B)
{
    const block16_t *w = &m->p16.blocks[l];
    const adapter_params *g = &m->g.blocks[l].ad[br];
    block_acts *a = &m->a.blk[l];
    model_acts *A = &m->a;
    const loaa_taps *taps = &m->taps[br];
    int R = B * m->N, D = m->D, r = m->r, k = taps->k;
    float s = m->scale;
    /* up: dW_up (D,r) += s dres^T h; db_up += s colsum(dres); dh (R,r) = s dres W_up, times GELU' (in ahp) */
    loaa_gemm_bf16(&m->gemm, 1, 0, D, r, R, s, A->dres16, D, a->ah16[br], r, 1.0f, g->up_w, LOAA_F32, r, NULL, NULL);
    for (int i = 0; i < R; i++)
        for (int d = 0; d < D; d++)
            g->up_b[d] += s * dres[(size_t)i * D + d];
    loaa_gemm_bf16(&m->gemm, 0, 0, R, r, D, s, A->dres16, D, w->up_w[br], r, 0.0f, A->dah, LOAA_F32, r, NULL, NULL);
    loaa_mul(A->dah, A->dah, a->ahp[br], (size_t)R * r);
    for (int i = 0; i < R; i++)
        for (int c = 0; c < r; c++)
            g->down_b[c] += A->dah[(size_t)i * r + c];
    if (k > 1) {
        loaa_tapconv_scatter(A->daz, A->dah, taps, B, m->S, m->Fp, m->Tp, r);
        loaa_to_bf16(A->dz16, A->daz, (size_t)R * k * r);
    } else {
        loaa_to_bf16(A->dz16, A->dah, (size_t)R * r);
    }
    loaa_gemm_bf16(&m->gemm, 1, 0, k * r, D, R, 1.0f, A->dz16, k * r, u, D, 1.0f, g->down_w, LOAA_F32, D, NULL, NULL);
    loaa_gemm_bf16(&m->gemm, 0, 0, R, D, k * r, 1.0f, A->dz16, k * r, w->down_w[br], D, 1.0f, dln, LOAA_F32, D, NULL,
                   NULL);
}

/* LoRA's backward from dqkv16: dB += sc dq^T t; dt = sc dq B; dA += dt^T ln1; dln += dt A (q and v parts). */
static void lora_backward16(loaa_model *m, int l, int B)
{
    const block16_t *w = &m->p16.blocks[l];
    const block_params *g = &m->g.blocks[l];
    block_acts *a = &m->a.blk[l];
    model_acts *A = &m->a;
    int R = B * m->N, D = m->D, r = m->r;
    float sc = m->lora_scale;
    for (int part = 0; part < 2; part++) {
        const loaa_bf16 *dq = A->dqkv16 + (part ? 2 * D : 0), *t = part ? a->lv16 : a->lq16;
        loaa_gemm_bf16(&m->gemm, 1, 0, D, r, R, sc, dq, 3 * D, t, r, 1.0f, part ? g->lv_b : g->lq_b, LOAA_F32, r,
                       NULL, NULL);
        loaa_gemm_bf16(&m->gemm, 0, 0, R, r, D, sc, dq, 3 * D, part ? w->lv_b : w->lq_b, r, 0.0f, A->dlr16, LOAA_BF16,
                       r, NULL, NULL);
        loaa_gemm_bf16(&m->gemm, 1, 0, r, D, R, 1.0f, A->dlr16, r, a->ln1_16, D, 1.0f, part ? g->lv_a : g->lq_a,
                       LOAA_F32, D, NULL, NULL);
        loaa_gemm_bf16(&m->gemm, 0, 0, R, D, r, 1.0f, A->dlr16, r, part ? w->lv_a : w->lq_a, D, 1.0f, A->dln,
                       LOAA_F32, D, NULL, NULL);
    }
}

/* dres (R,D): in, the gradient of block l's output; out, the gradient of its input. */
static void block_backward16(loaa_model *m, int l, int B, int need_dinput)
{
    const block_params *p = &m->p.blocks[l];
    const block16_t *w = &m->p16.blocks[l];
    const block_params *g = &m->g.blocks[l];
    block_acts *a = &m->a.blk[l];
    model_acts *A = &m->a;
    int R = B * m->N, D = m->D, Hm = m->Hm;
    int has = l >= m->ad_from;
    float *dres = A->dres;

    /* MLP branch: y = mid + fc2(gelu(fc1(ln2))) + s A2(ln2) */
    loaa_to_bf16(A->dres16, dres, (size_t)R * D);
    loaa_gemm_bf16(&m->gemm, 0, 0, R, Hm, D, 1.0f, A->dres16, D, w->fc2_w, Hm, 0.0f, A->dfc, LOAA_F32, Hm, NULL, NULL);
    loaa_linear_backward_bf16(&m->gemm, NULL, g->fc2_w, g->fc2_b, A->dres16, dres, a->fcg16, w->fc2_w, R, Hm, D);
    loaa_mul_bf16(A->dfc16, A->dfc, A->dfc, a->fcd16, (size_t)R * Hm);
    loaa_gemm_bf16(&m->gemm, 0, 0, R, D, Hm, 1.0f, A->dfc16, Hm, w->fc1_w, D, 0.0f, A->dln, LOAA_F32, D, NULL, NULL);
    loaa_linear_backward_bf16(&m->gemm, NULL, g->fc1_w, g->fc1_b, A->dfc16, A->dfc, a->ln2_16, w->fc1_w, R, D, Hm);
    if (has && m->ad_branch[1])
        adapter_backward16(m, l, 1, dres, a->ln2_16, A->dln, B);
    if (!need_dinput && !(has && m->ad_branch[0]))
        return;
    loaa_layernorm_backward(dres, g->ln2_w, g->ln2_b, A->dln, a->mid, p->ln2_w, a->ln2_mean, a->ln2_rstd, R, D);

    /* MHSA branch: mid = x + proj(attn(qkv(ln1))) + s A1(ln1) */
    loaa_to_bf16(A->dres16, dres, (size_t)R * D);
    loaa_gemm_bf16(&m->gemm, 0, 0, R, D, D, 1.0f, A->dres16, D, w->proj_w, D, 0.0f, A->datty16, LOAA_BF16, D, NULL,
                   NULL);
    loaa_linear_backward_bf16(&m->gemm, NULL, g->proj_w, g->proj_b, A->dres16, dres, a->atty16, w->proj_w, R, D, D);
    loaa_attention_backward_bf16(&m->gemm, A->dqkv16, A->scores, A->ds16, A->datty16, a->qkv16, a->att16, B, m->N, D,
                                 m->H);
    loaa_gemm_bf16(&m->gemm, 0, 0, R, D, 3 * D, 1.0f, A->dqkv16, 3 * D, w->qkv_w, D, 0.0f, A->dln, LOAA_F32, D, NULL,
                   NULL);
    if (g->qkv_w) {
        loaa_gemm_bf16(&m->gemm, 1, 0, 3 * D, D, R, 1.0f, A->dqkv16, 3 * D, a->ln1_16, D, 1.0f, g->qkv_w, LOAA_F32, D,
                       NULL, NULL);
        loaa_colsum_bf16(g->qkv_b, A->dqkv16, R, 3 * D);
    }
    if (has && p->lq_a)
        lora_backward16(m, l, B);
    if (has && m->ad_branch[0] && !p->lq_a)
        adapter_backward16(m, l, 0, dres, a->ln1_16, A->dln, B);
    loaa_layernorm_backward(need_dinput ? dres : NULL, g->ln1_w, g->ln1_b, A->dln, m->a.res[l], p->ln1_w, a->ln1_mean,
                            a->ln1_rstd, R, D);
}

/* ---- the bf16 weight copies ---- */

/* One copy of src (numel), if src exists; with m->w16 NULL only counts (into *off, in bf16 elements). */
static void w16_add(loaa_model *m, const float *src, const float *grad, loaa_bf16 **dst, size_t numel, size_t *off)
{
    if (!src)
        return;
    if (m->w16) {
        w16_entry *e = &m->w16[m->w16_count];
        e->src = src;
        e->dst = *dst = m->w16_mem + *off;
        e->numel = numel;
        e->trainable = grad != NULL;
    }
    m->w16_count++;
    *off += (numel + 31) & ~(size_t)31; /* 64-byte steps */
}

/* Visits every matmul weight; returns the bf16 elements they need. */
static size_t w16_table(loaa_model *m)
{
    size_t off = 0;
    int D = m->D, Hm = m->Hm, r = m->r;
    m->w16_count = 0;
    w16_add(m, m->p.patch_w, m->g.patch_w, &m->p16.patch_w, (size_t)D * 256, &off);
    w16_add(m, m->p.head_w, m->g.head_w, &m->p16.head_w, (size_t)m->C * D, &off);
    for (int l = 0; l < m->depth; l++) {
        const block_params *p = &m->p.blocks[l], *g = &m->g.blocks[l];
        block16_t *w = &m->p16.blocks[l];
        w16_add(m, p->qkv_w, g->qkv_w, &w->qkv_w, (size_t)3 * D * D, &off);
        w16_add(m, p->proj_w, g->proj_w, &w->proj_w, (size_t)D * D, &off);
        w16_add(m, p->fc1_w, g->fc1_w, &w->fc1_w, (size_t)Hm * D, &off);
        w16_add(m, p->fc2_w, g->fc2_w, &w->fc2_w, (size_t)D * Hm, &off);
        w16_add(m, p->lq_a, g->lq_a, &w->lq_a, (size_t)r * D, &off);
        w16_add(m, p->lq_b, g->lq_b, &w->lq_b, (size_t)D * r, &off);
        w16_add(m, p->lv_a, g->lv_a, &w->lv_a, (size_t)r * D, &off);
        w16_add(m, p->lv_b, g->lv_b, &w->lv_b, (size_t)D * r, &off);
        for (int br = 0; br < 2; br++) {
            w16_add(m, p->ad[br].down_w, g->ad[br].down_w, &w->down_w[br], (size_t)m->taps[br].k * r * D, &off);
            w16_add(m, p->ad[br].up_w, g->ad[br].up_w, &w->up_w[br], (size_t)D * r, &off);
        }
    }
    return off;
}

/* The bf16 copies of a bf16 model's weights, made from the fp32 tensors at the first forward. */
static loaa_status w16_create(loaa_model *m)
{
    if (!(m->p16.blocks = calloc(m->depth, sizeof(block16_t))))
        return loaa_fail(LOAA_ERR_NOMEM, "bf16 weight table");
    size_t n = w16_table(m), count = m->w16_count;
    m->w16 = calloc(count ? count : 1, sizeof(w16_entry));
    if (!m->w16 || posix_memalign((void **)&m->w16_mem, 64, (n ? n : 1) * sizeof(loaa_bf16)))
        return loaa_fail(LOAA_ERR_NOMEM, "bf16 weight copies (%zu MiB)", (n * sizeof(loaa_bf16)) >> 20);
    w16_table(m);
    m->w16_stale = 1;
    return LOAA_OK;
}

static void w16_refresh(loaa_model *m, int trainable_only)
{
    for (size_t i = 0; i < m->w16_count; i++)
        if (!trainable_only || m->w16[i].trainable)
            loaa_to_bf16(m->w16[i].dst, m->w16[i].src, m->w16[i].numel);
    m->w16_stale = 0;
}

void loaa_model_weights_changed(loaa_model *m)
{
    m->w16_stale = 1;
}

/* ---- public steps ---- */

static loaa_status check_batch(const loaa_model *m, int batch)
{
    if (batch < 1 || batch > m->Bmax)
        return loaa_fail(LOAA_ERR_SHAPE, "batch %d is outside 1..max_batch %d", batch, m->Bmax);
    return LOAA_OK;
}

static double batch_loss(loaa_model *m, const float *y, int B, float *dlogits)
{
    if (m->spec.loss == LOAA_LOSS_BCE)
        return loaa_loss_bce(dlogits, m->a.logits, y, B, m->C, m->spec.label_smoothing);
    return loaa_loss_ce(dlogits, m->a.logits, y, B, m->C, m->spec.label_smoothing);
}

/* ---- one trial on a group of ranks (loaa_model_set_group; the collectives are kernels/pgemm.c's) ---- */

/* This rank's samples of a batch on the model's group. */
static void group_share(const loaa_model *m, int batch, int rank, int *first, int *count)
{
    loaa_model_batch_share(batch, rank, loaa_pgrid_size(m->grid), first, count);
}

/* A distributed GEMM refused during the step (agreed, so on every rank): report it and reset for the next step. */
static loaa_status group_gemm_status(loaa_model *m)
{
    loaa_status st = (loaa_status)m->gemm.error;
    m->gemm.error = 0;
    return st ? loaa_fail_prefix(st, "step %lld: distributed GEMM: ", (long long)m->step) : LOAA_OK;
}

/*
 * Forward of the whole batch: alone, or on the group, each rank its own
 * samples, after which every rank holds all logits (one Allgatherv of B x C).
 */
static loaa_status model_forward(loaa_model *m, const float *x, int batch)
{
    if (!m->grid) {
        forward(m, x, batch);
        return LOAA_OK;
    }
    int rank = loaa_pgrid_rank(m->grid), g = loaa_pgrid_size(m->grid), first, cnt;
    group_share(m, batch, rank, &first, &cnt);
    forward(m, x + (size_t)first * m->shape.n_mel * m->shape.n_frames, cnt);
    loaa_status st = group_gemm_status(m);
    if (st)
        return st;
    int *counts = m->group_counts, *displs = counts + g;
    for (int r = 0; r < g; r++) {
        int f, c;
        group_share(m, batch, r, &f, &c);
        counts[r] = c * m->C;
        displs[r] = f * m->C;
    }
    /* in place: this rank's rows move to their place in the batch first */
    memmove(m->a.logits + displs[rank], m->a.logits, (size_t)counts[rank] * sizeof(float));
    if (MPI_Allgatherv(MPI_IN_PLACE, 0, MPI_FLOAT, m->a.logits, counts, displs, MPI_FLOAT, loaa_pgrid_comm(m->grid)) !=
        MPI_SUCCESS)
        return loaa_fail(LOAA_ERR_MPI, "gathering the group's logits failed");
    return LOAA_OK;
}

/*
 * Gradients on the group: each rank its own samples, its loss and logit
 * gradient weighted by its share of the batch, so that the group's sum is
 * the batch mean; then one allreduce of all gradients for the step.
 */
static loaa_status group_gradients(loaa_model *m, const float *x, const float *y, int batch, float *loss)
{
    MPI_Comm comm = loaa_pgrid_comm(m->grid);
    int first, cnt;
    group_share(m, batch, loaa_pgrid_rank(m->grid), &first, &cnt);
    m->training = 1;
    forward(m, x + (size_t)first * m->shape.n_mel * m->shape.n_frames, cnt);
    m->training = 0;
    loaa_status st = group_gemm_status(m);
    if (st)
        return st;
    double part = 0, l = 0;
    if (cnt > 0) {
        float w = (float)cnt / (float)batch;
        part = batch_loss(m, y + (size_t)first * m->C, cnt, m->a.dlogits) * cnt / batch;
        for (size_t i = 0; i < (size_t)cnt * m->C; i++)
            m->a.dlogits[i] *= w;
    }
    /* The sum is the agreement: a NaN on any rank makes it NaN on every rank. */
    if (MPI_Allreduce(&part, &l, 1, MPI_DOUBLE, MPI_SUM, comm) != MPI_SUCCESS)
        return loaa_fail(LOAA_ERR_MPI, "step %lld: summing the group's loss failed", (long long)m->step);
    *loss = (float)l;
    if (!isfinite(l))
        return loaa_fail(LOAA_ERR_NUMERIC, "step %lld: loss is %s on the group; parameters left unchanged",
                         (long long)m->step, isnan(l) ? "NaN" : "infinite");
    memset(m->grad_mem, 0, m->ntrain * sizeof(float));
    backward(m, cnt);
    if ((st = group_gemm_status(m)))
        return st;
    if (m->ntrain > 0 &&
        MPI_Allreduce(MPI_IN_PLACE, m->grad_mem, (int)m->ntrain, MPI_FLOAT, MPI_SUM, comm) != MPI_SUCCESS)
        return loaa_fail(LOAA_ERR_MPI, "step %lld: summing the group's gradients failed", (long long)m->step);
    return LOAA_OK;
}

loaa_status loaa_model_set_group(loaa_model *m, MPI_Comm group, int grid_p, int grid_q)
{
    int size = 1;
    MPI_Comm_size(group, &size);
    loaa_status st = m->grid ? loaa_fail(LOAA_ERR_USAGE, "the model already trains on a group") : LOAA_OK;
    st = loaa_comm_agree(group, st);
    if (st || m->noop || (size == 1 && grid_p <= 1 && grid_q <= 1))
        return st;
    if (!grid_p && !grid_q) {
        grid_p = 1;
        grid_q = size;
    }
    /* A rank computes at most ceil(max_batch / g) samples: its activations shrink to that share. */
    int full_batch = m->act_batch;
    float *acts = NULL;
    m->act_batch = (m->Bmax + size - 1) / size;
    size_t nacts = carve_acts(m, NULL);
    if (nacts == SIZE_MAX)
        st = act_overflow(m);
    else if (m->ntrain > INT_MAX || (size_t)m->Bmax * m->C > INT_MAX)
        st = loaa_fail(LOAA_ERR_LIMIT, "model too large for one MPI_Allreduce of its gradients");
    else if (!(m->group_counts = malloc(2 * (size_t)size * sizeof(int))) || !(acts = alloc_floats(nacts)))
        st = loaa_fail(LOAA_ERR_NOMEM, "group of %d ranks", size);
    if ((st = loaa_comm_agree(group, st)) || (st = loaa_pgrid_create(&m->grid, group, grid_p, grid_q, 0))) {
        free(m->group_counts);
        m->group_counts = NULL;
        free(acts);
        m->act_batch = full_batch;
        return st;
    }
    free(m->act_mem);
    m->act_mem = acts;
    m->nacts = nacts;
    carve_acts(m, m->act_mem);
    loaa_gemm_ctx_init_grid(&m->gemm, m->grid);
    return LOAA_OK;
}

const char *loaa_model_backend(const loaa_model *m, int *p, int *q)
{
    *p = m->grid ? loaa_pgrid_p(m->grid) : 1;
    *q = m->grid ? loaa_pgrid_q(m->grid) : 1;
    return m->grid ? "scalapack" : "blas";
}

loaa_status loaa_model_predict(loaa_model *m, const float *x, int batch, float *logits)
{
    loaa_status st = check_batch(m, batch);
    if (st)
        return st;
    if (m->noop) {
        memset(logits, 0, (size_t)batch * m->C * sizeof(float));
        return LOAA_OK;
    }
    if ((st = model_forward(m, x, batch)))
        return st;
    memcpy(logits, m->a.logits, (size_t)batch * m->C * sizeof(float));
    return LOAA_OK;
}

loaa_status loaa_model_evaluate(loaa_model *m, const float *x, const float *y, int batch, float *logits, float *loss)
{
    loaa_status st = check_batch(m, batch);
    if (st)
        return st;
    if (m->noop) {
        if (logits)
            memset(logits, 0, (size_t)batch * m->C * sizeof(float));
        *loss = (float)log((double)m->C);
        return LOAA_OK;
    }
    if ((st = model_forward(m, x, batch)))
        return st;
    if (logits)
        memcpy(logits, m->a.logits, (size_t)batch * m->C * sizeof(float));
    *loss = (float)batch_loss(m, y, batch, NULL);
    if (!isfinite(*loss))
        return loaa_fail(LOAA_ERR_NUMERIC, "evaluation loss is %s", isnan(*loss) ? "NaN" : "infinite");
    return LOAA_OK;
}

loaa_status loaa_model_gradients(loaa_model *m, const float *x, const float *y, int batch, float *loss)
{
    loaa_status st = check_batch(m, batch);
    if (st)
        return st;
    if (m->noop) {
        *loss = (float)log((double)m->C);
        return LOAA_OK;
    }
    if (m->grid)
        return group_gradients(m, x, y, batch, loss);
    m->training = 1;
    forward(m, x, batch);
    m->training = 0;
    double l = batch_loss(m, y, batch, m->a.dlogits);
    *loss = (float)l;
    if (!isfinite(l))
        return loaa_fail(LOAA_ERR_NUMERIC, "step %lld: loss is %s; parameters left unchanged", (long long)m->step,
                         isnan(l) ? "NaN" : "infinite");
    memset(m->grad_mem, 0, m->ntrain * sizeof(float));
    backward(m, batch);
    return LOAA_OK;
}

loaa_status loaa_model_train_step(loaa_model *m, const float *x, const float *y, int batch, double lr, float *loss)
{
    if (!(lr >= 0) || !isfinite(lr))
        return loaa_fail(LOAA_ERR_CONFIG, "key 'lr': learning rate %g is not a finite number >= 0", lr);
    loaa_status st = loaa_model_gradients(m, x, y, batch, loss);
    if (st || m->noop)
        return st;
    double norm = sqrt(loaa_sumsq(m->grad_mem, m->ntrain));
    if (!isfinite(norm))
        return loaa_fail(LOAA_ERR_NUMERIC, "step %lld: gradient norm is not finite; parameters left unchanged",
                         (long long)m->step);
    float gscale = m->spec.clip > 0 && norm > m->spec.clip ? (float)(m->spec.clip / norm) : 1.0f;
    long long t = ++m->step;
    for (size_t i = 0; i < m->ntensors; i++) {
        if (!m->refs[i].trainable)
            continue;
        const tensor_meta *tm = &m->meta[i];
        loaa_adamw(*tm->slot, m->grad_mem + tm->goffset, m->m_mem + tm->goffset, m->v_mem + tm->goffset, tm->numel,
                   (float)lr, 0.9f, 0.999f, 1e-8f, tm->decay ? (float)m->spec.weight_decay : 0.0f, t, gscale);
    }
    if (m->bf16)
        w16_refresh(m, 1);
    return LOAA_OK;
}
