/*
 * gemm_dnnl.c - bf16 products on oneDNN's matmul primitive (gemm.h), the
 * primitive cache, bf16 conversions, the ISA oneDNN runs on, and the GEMM
 * thread count (OpenBLAS and OpenMP together).
 *
 * One product (or a batch of them) is one matmul primitive whose memory
 * descriptors carry the whole geometry: dims (count0, count1, M, K) etc.,
 * strides from lda/ldb/ldc, the transposes (swapped strides) and the batch
 * strides, so strided operands (a head's columns inside fused qkv rows) are
 * read in place. alpha is the output scale, beta a sum post-op, the bias a
 * binary-add post-op after them (so it is not scaled by alpha).
 *
 * Creating a primitive costs milliseconds, so each one is kept in a fixed
 * table keyed by every argument that shapes it; calls pass only pointers.
 * All calls hold one mutex: oneDNN's library scratchpad and the cached
 * memory objects are shared, and each call already runs on every thread.
 */
#include "config.h"

#include <assert.h>
#include <cblas.h>
#include <dnnl.h>
#include <immintrin.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kernels/gemm.h"

/* libgomp's API (declared here: clang has no omp.h without libomp-dev; the library is gcc's libgomp either way) */
extern void omp_set_num_threads(int n);
extern int omp_get_max_threads(void);

#define CACHE_SLOTS 1024 /* a ViT training step uses a few dozen shapes; a full table evicts */

/* Everything that shapes a primitive; zero-filled before use so memcmp and the hash see no padding garbage. */
typedef struct gemm_key {
    int ab_type, c_type; /* dnnl_data_type_t */
    int trans_a, trans_b, M, N, K, lda, ldb, ldc, has_bias;
    uint32_t alpha_bits, beta_bits;
    int count[2];
    ptrdiff_t stride_a[2], stride_b[2], stride_c[2];
} gemm_key;

typedef struct gemm_entry {
    int used;
    gemm_key key;
    dnnl_primitive_t prim;
    dnnl_memory_t src, wei, dst, bias; /* handles set per call; bias NULL without one */
} gemm_entry;

static struct {
    pthread_mutex_t mu;
    pthread_once_t once;
    dnnl_engine_t engine;
    dnnl_stream_t stream;
    int ok;                 /* engine and stream exist */
    pid_t pid;              /* the process that started the engine */
    unsigned long created;  /* primitives created */
    gemm_entry slots[CACHE_SLOTS];
} eng = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_ONCE_INIT, NULL, NULL, 0, 0, 0, {{0}}};

static void start_engine(void)
{
    eng.pid = getpid();
    eng.ok = dnnl_engine_create(&eng.engine, dnnl_cpu, 0) == dnnl_success &&
             dnnl_stream_create(&eng.stream, eng.engine, dnnl_stream_default_flags) == dnnl_success;
}

int loaa_gemm_engine_started(void) { return eng.pid != 0 && eng.pid == getpid(); }

unsigned long loaa_gemm_primitives_created(void)
{
    pthread_mutex_lock(&eng.mu);
    unsigned long n = eng.created;
    pthread_mutex_unlock(&eng.mu);
    return n;
}

static _Noreturn void die(const char *what, dnnl_status_t st)
{
    fprintf(stderr, "loaa: oneDNN: %s failed (status %d)\n", what, (int)st);
    abort();
}

/* ---- memory descriptors ---- */

/* A 4-d (count0, count1, rows, cols) descriptor; a batch stride of 0 is a broadcast dim of size 1. */
static int init_md(dnnl_memory_desc_t *md, dnnl_data_type_t type, const int count[2], const ptrdiff_t bstride[2],
                   int rows, int cols, ptrdiff_t row_stride, ptrdiff_t col_stride)
{
    dnnl_dims_t dims = {count[0], count[1], rows, cols};
    dnnl_dims_t strides = {bstride[0], bstride[1], row_stride, col_stride};
    ptrdiff_t extent = (ptrdiff_t)rows * cols;
    for (int i = 1; i >= 0; i--) {
        if (bstride[i] == 0 || count[i] == 1) {
            dims[i] = 1;
            strides[i] = extent; /* any value is valid for a dim of 1; a dense one keeps oneDNN's layout checks happy */
        }
        extent *= dims[i];
    }
    return dnnl_memory_desc_init_by_strides(md, 4, dims, type, strides) == dnnl_success;
}

static int memory_for(dnnl_memory_t *mem, const dnnl_memory_desc_t *md)
{
    return dnnl_memory_create(mem, md, eng.engine, DNNL_MEMORY_NONE) == dnnl_success;
}

/* The attributes: output scale alpha, sum post-op beta, binary add of bias_md. 0 on failure (attr freed). */
static int make_attr(dnnl_primitive_attr_t *attr, const gemm_key *k, float alpha, float beta,
                     const dnnl_memory_desc_t *bias_md)
{
    dnnl_post_ops_t po = NULL;
    int ok = dnnl_primitive_attr_create(attr) == dnnl_success;
    if (ok && alpha != 1.0f)
        ok = dnnl_primitive_attr_set_output_scales(*attr, 1, 0, &alpha) == dnnl_success;
    if (ok && (beta != 0.0f || k->has_bias)) {
        ok = dnnl_post_ops_create(&po) == dnnl_success;
        if (ok && beta != 0.0f)
            ok = dnnl_post_ops_append_sum(po, beta) == dnnl_success;
        if (ok && k->has_bias)
            ok = dnnl_post_ops_append_binary(po, dnnl_binary_add, bias_md) == dnnl_success;
        if (ok)
            ok = dnnl_primitive_attr_set_post_ops(*attr, po) == dnnl_success;
        if (po)
            dnnl_post_ops_destroy(po);
    }
    if (!ok && *attr) {
        dnnl_primitive_attr_destroy(*attr);
        *attr = NULL;
    }
    return ok;
}

/* Creates e's primitive and memory objects for key k; 0 when oneDNN has no implementation (e left unused). */
static int create_entry(gemm_entry *e, const gemm_key *k, float alpha, float beta)
{
    dnnl_memory_desc_t a_md, b_md, c_md, bias_md;
    static const ptrdiff_t no_stride[2] = {0, 0};
    const int one[2] = {1, 1};
    int ok = init_md(&a_md, k->ab_type, k->count, k->stride_a, k->M, k->K, k->trans_a ? 1 : k->lda, k->trans_a ? k->lda : 1) &&
             init_md(&b_md, k->ab_type, k->count, k->stride_b, k->K, k->N, k->trans_b ? 1 : k->ldb, k->trans_b ? k->ldb : 1) &&
             init_md(&c_md, k->c_type, k->count, k->stride_c, k->M, k->N, k->ldc, 1) &&
             init_md(&bias_md, dnnl_f32, one, no_stride, 1, k->N, k->N, 1);
    dnnl_matmul_desc_t desc;
    dnnl_primitive_attr_t attr = NULL;
    dnnl_primitive_desc_t pd = NULL;
    ok = ok && dnnl_matmul_desc_init(&desc, &a_md, &b_md, NULL, &c_md) == dnnl_success;
    ok = ok && make_attr(&attr, k, alpha, beta, &bias_md);
    ok = ok && dnnl_primitive_desc_create(&pd, &desc, attr, eng.engine, NULL) == dnnl_success;
    if (attr)
        dnnl_primitive_attr_destroy(attr);
    memset(e, 0, sizeof *e);
    ok = ok && dnnl_primitive_create(&e->prim, pd) == dnnl_success;
    if (pd)
        dnnl_primitive_desc_destroy(pd);
    if (!ok)
        return 0;
    eng.created++;
    if (!memory_for(&e->src, &a_md) || !memory_for(&e->wei, &b_md) || !memory_for(&e->dst, &c_md) ||
        (k->has_bias && !memory_for(&e->bias, &bias_md)))
        die("dnnl_memory_create", dnnl_out_of_memory);
    e->key = *k;
    e->used = 1;
    return 1;
}

static void release_entry(gemm_entry *e)
{
    dnnl_primitive_destroy(e->prim);
    dnnl_memory_destroy(e->src);
    dnnl_memory_destroy(e->wei);
    dnnl_memory_destroy(e->dst);
    if (e->bias)
        dnnl_memory_destroy(e->bias);
    memset(e, 0, sizeof *e);
}

static size_t key_hash(const gemm_key *k)
{
    const unsigned char *p = (const unsigned char *)k;
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    for (size_t i = 0; i < sizeof *k; i++)
        h = (h ^ p[i]) * 1099511628211ull;
    return (size_t)(h % CACHE_SLOTS);
}

/*
 * The cached primitive for k, created on first use (call with eng.mu held).
 * NULL when oneDNN cannot do this product. A full probe window evicts its first slot.
 */
static gemm_entry *lookup(const gemm_key *k, float alpha, float beta)
{
    enum { PROBES = 16 };
    size_t h = key_hash(k);
    for (int i = 0; i < PROBES; i++) {
        gemm_entry *e = &eng.slots[(h + i) % CACHE_SLOTS];
        if (e->used && !memcmp(&e->key, k, sizeof *k))
            return e;
    }
    for (int i = 0; i < PROBES; i++) {
        gemm_entry *e = &eng.slots[(h + i) % CACHE_SLOTS];
        if (!e->used)
            return create_entry(e, k, alpha, beta) ? e : NULL;
    }
    gemm_entry *victim = &eng.slots[h];
    release_entry(victim);
    return create_entry(victim, k, alpha, beta) ? victim : NULL;
}

/* Runs e on the given operands (call with eng.mu held). */
static void execute(gemm_entry *e, const void *A, const void *B, void *C, const float *bias)
{
    dnnl_memory_set_data_handle(e->src, (void *)A);
    dnnl_memory_set_data_handle(e->wei, (void *)B);
    dnnl_memory_set_data_handle(e->dst, C);
    dnnl_exec_arg_t args[4] = {{DNNL_ARG_SRC, e->src}, {DNNL_ARG_WEIGHTS, e->wei}, {DNNL_ARG_DST, e->dst}};
    int nargs = 3;
    if (e->bias) {
        dnnl_memory_set_data_handle(e->bias, (void *)bias);
        args[nargs++] = (dnnl_exec_arg_t){DNNL_ARG_ATTR_MULTIPLE_POST_OP(e->key.beta_bits ? 1 : 0) | DNNL_ARG_SRC_1,
                                          e->bias};
    }
    /*
     * OpenMP's count follows OpenBLAS's, read now: loaa_gemm_set_threads sets it, and
     * loaa_parallel_for_blas1 sets it to 1 while pool threads run products. The count is per calling thread.
     */
    int threads = openblas_get_num_threads();
    if (omp_get_max_threads() != threads)
        omp_set_num_threads(threads);
    dnnl_status_t st = dnnl_primitive_execute(e->prim, eng.stream, nargs, args);
    if (st == dnnl_success)
        st = dnnl_stream_wait(eng.stream);
    if (st != dnnl_success)
        die("dnnl_primitive_execute", st);
}

static uint32_t float_bits(float x)
{
    uint32_t b;
    memcpy(&b, &x, sizeof b);
    return b;
}

/* The key of one call; batch NULL is count {1, 1}. */
static void make_key(gemm_key *k, int ab_type, int c_type, int trans_a, int trans_b, int M, int N, int K, float alpha,
                     int lda, int ldb, float beta, int ldc, int has_bias, const loaa_gemm_batch *batch)
{
    memset(k, 0, sizeof *k); /* field by field after: a compound literal's padding bytes are unspecified */
    k->ab_type = ab_type, k->c_type = c_type, k->trans_a = !!trans_a, k->trans_b = !!trans_b;
    k->M = M, k->N = N, k->K = K, k->lda = lda, k->ldb = ldb, k->ldc = ldc, k->has_bias = has_bias;
    k->alpha_bits = float_bits(alpha), k->beta_bits = beta == 0.0f ? 0 : float_bits(beta);
    k->count[0] = k->count[1] = 1;
    if (batch)
        for (int i = 0; i < 2; i++) {
            k->count[i] = batch->count[i];
            k->stride_a[i] = batch->count[i] > 1 ? batch->stride_a[i] : 0;
            k->stride_b[i] = batch->count[i] > 1 ? batch->stride_b[i] : 0;
            k->stride_c[i] = batch->count[i] > 1 ? batch->stride_c[i] : 0;
        }
}

/* ---- the fallback where oneDNN has no bf16 matmul: fp32 copies and cblas_sgemm ---- */

/* One product of the batch through fp32: op(A), op(B) widened as stored, sgemm into fp32, then beta/bias/C's type. */
static void product_via_f32(int trans_a, int trans_b, int M, int N, int K, float alpha, const loaa_bf16 *A, int lda,
                            const loaa_bf16 *B, int ldb, float beta, void *C, loaa_dtype c_type, int ldc,
                            const float *bias, float *scratch)
{
    int a_rows = trans_a ? K : M, a_cols = trans_a ? M : K, b_rows = trans_b ? N : K, b_cols = trans_b ? K : N;
    float *a = scratch, *b = a + (size_t)a_rows * a_cols, *c = b + (size_t)b_rows * b_cols; /* (a_rows,a_cols) etc. */
    for (int i = 0; i < a_rows; i++)
        loaa_bf16_to_f32(a + (size_t)i * a_cols, A + (size_t)i * lda, a_cols);
    for (int i = 0; i < b_rows; i++)
        loaa_bf16_to_f32(b + (size_t)i * b_cols, B + (size_t)i * ldb, b_cols);
    cblas_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans, trans_b ? CblasTrans : CblasNoTrans, M, N, K,
                alpha, a, a_cols, b, b_cols, 0.0f, c, N);
    for (int i = 0; i < M; i++)
        for (int j = 0; j < N; j++) {
            float v = c[(size_t)i * N + j] + (bias ? bias[j] : 0.0f);
            if (c_type == LOAA_F32) {
                float *out = (float *)C + (size_t)i * ldc + j;
                *out = beta != 0.0f ? v + beta * *out : v;
            } else {
                loaa_bf16 *out = (loaa_bf16 *)C + (size_t)i * ldc + j;
                *out = loaa_bf16_round(beta != 0.0f ? v + beta * loaa_bf16_value(*out) : v);
            }
        }
}

static void gemm_bf16_via_f32(int trans_a, int trans_b, int M, int N, int K, float alpha, const loaa_bf16 *A, int lda,
                              const loaa_bf16 *B, int ldb, float beta, void *C, loaa_dtype c_type, int ldc,
                              const float *bias, const int count[2], const ptrdiff_t sa[2], const ptrdiff_t sb[2],
                              const ptrdiff_t sc[2])
{
    size_t elem = c_type == LOAA_F32 ? sizeof(float) : sizeof(loaa_bf16);
    float *scratch = malloc(((size_t)M * K + (size_t)K * N + (size_t)M * N) * sizeof(float));
    if (!scratch)
        die("bf16 fallback (out of memory)", dnnl_out_of_memory);
    for (int i0 = 0; i0 < count[0]; i0++)
        for (int i1 = 0; i1 < count[1]; i1++) {
            ptrdiff_t oa = i0 * sa[0] + i1 * sa[1], ob = i0 * sb[0] + i1 * sb[1], oc = i0 * sc[0] + i1 * sc[1];
            product_via_f32(trans_a, trans_b, M, N, K, alpha, A + oa, lda, B + ob, ldb, beta,
                            (char *)C + oc * (ptrdiff_t)elem, c_type, ldc, bias, scratch);
        }
    free(scratch);
}

/* ---- the products ---- */

void loaa_gemm_bf16(loaa_gemm_ctx *ctx, int trans_a, int trans_b, int M, int N, int K, float alpha,
                    const loaa_bf16 *A, int lda, const loaa_bf16 *B, int ldb, float beta, void *C, loaa_dtype c_type,
                    int ldc, const float *bias, const loaa_gemm_batch *batch)
{
    assert(M >= 0 && N >= 0 && K >= 0 && ldc >= N);
    assert(lda >= (trans_a ? M : K) && ldb >= (trans_b ? K : N));
    assert(!batch || (batch->count[0] >= 0 && batch->count[1] >= 0));
    int products = batch ? batch->count[0] * batch->count[1] : 1;
    if (M == 0 || N == 0 || products == 0)
        return;
    ctx->flops += 2.0 * M * N * K * products;
    gemm_key k;
    make_key(&k, dnnl_bf16, c_type == LOAA_F32 ? dnnl_f32 : dnnl_bf16, trans_a, trans_b, M, N, K, alpha, lda, ldb,
             beta, ldc, bias != NULL, batch);
    pthread_once(&eng.once, start_engine);
    pthread_mutex_lock(&eng.mu);
    gemm_entry *e = K > 0 && eng.ok ? lookup(&k, alpha, beta) : NULL;
    if (e)
        execute(e, A, B, C, bias);
    pthread_mutex_unlock(&eng.mu);
    if (!e)
        gemm_bf16_via_f32(trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, c_type, ldc, bias, k.count,
                          k.stride_a, k.stride_b, k.stride_c);
}

void loaa_gemm_dnnl_f32(int trans_a, int trans_b, int M, int N, int K, float alpha, const float *A, int lda,
                        const float *B, int ldb, float beta, float *C, int ldc)
{
    if (M <= 0 || N <= 0 || K <= 0)
        return;
    gemm_key k;
    make_key(&k, dnnl_f32, dnnl_f32, trans_a, trans_b, M, N, K, alpha, lda, ldb, beta, ldc, 0, NULL);
    pthread_once(&eng.once, start_engine);
    pthread_mutex_lock(&eng.mu);
    gemm_entry *e = eng.ok ? lookup(&k, alpha, beta) : NULL;
    if (e)
        execute(e, A, B, C, NULL);
    pthread_mutex_unlock(&eng.mu);
    if (!e)
        cblas_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans, trans_b ? CblasTrans : CblasNoTrans, M, N, K,
                    alpha, A, lda, B, ldb, beta, C, ldc);
}

/* ---- bf16 conversions ---- */

loaa_bf16 loaa_bf16_round(float x)
{
    uint32_t b = float_bits(x);
    if ((b & 0x7fffffffu) > 0x7f800000u)
        return (loaa_bf16)((b >> 16) | 0x40); /* NaN: keep sign and payload's top, make it quiet */
    b += 0x7fffu + ((b >> 16) & 1u);       /* round to nearest, ties to even (carries into the exponent correctly) */
    return (loaa_bf16)(b >> 16);
}

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define HAVE_AVX512_PATH 1
/* 16 floats per step with the same integer rounding as loaa_bf16_round (vcvtneps2bf16 would flush subnormals). */
__attribute__((target("avx512f"))) static size_t from_f32_avx512(loaa_bf16 *dst, const float *src, size_t n)
{
    const __m512i lsb = _mm512_set1_epi32(1), bias = _mm512_set1_epi32(0x7fff), abs_mask = _mm512_set1_epi32(0x7fffffff);
    const __m512i inf = _mm512_set1_epi32(0x7f800000), quiet = _mm512_set1_epi32(0x400000);
    size_t i = 0;
    for (; i + 16 <= n; i += 16) {
        __m512i b = _mm512_loadu_si512((const void *)(src + i));
        __mmask16 nan = _mm512_cmpgt_epu32_mask(_mm512_and_si512(b, abs_mask), inf);
        __m512i rounded = _mm512_add_epi32(b, _mm512_add_epi32(bias, _mm512_and_si512(_mm512_srli_epi32(b, 16), lsb)));
        __m512i r = _mm512_mask_mov_epi32(rounded, nan, _mm512_or_si512(b, quiet));
        _mm256_storeu_si256((__m256i *)(dst + i), _mm512_cvtepi32_epi16(_mm512_srli_epi32(r, 16)));
    }
    return i;
}

__attribute__((target("avx512f"))) static size_t to_f32_avx512(float *dst, const loaa_bf16 *src, size_t n)
{
    size_t i = 0;
    for (; i + 16 <= n; i += 16) {
        __m512i h = _mm512_cvtepu16_epi32(_mm256_loadu_si256((const __m256i *)(src + i)));
        _mm512_storeu_si512((void *)(dst + i), _mm512_slli_epi32(h, 16));
    }
    return i;
}

static int have_avx512(void)
{
    static int cached = -1;
    if (cached < 0)
        cached = __builtin_cpu_supports("avx512f") ? 1 : 0;
    return cached;
}
#endif

void loaa_bf16_from_f32(loaa_bf16 *dst, const float *src, size_t n)
{
    size_t i = 0;
#ifdef HAVE_AVX512_PATH
    if (have_avx512())
        i = from_f32_avx512(dst, src, n);
#endif
    for (; i < n; i++)
        dst[i] = loaa_bf16_round(src[i]);
}

void loaa_bf16_to_f32(float *dst, const loaa_bf16 *src, size_t n)
{
    size_t i = 0;
#ifdef HAVE_AVX512_PATH
    if (have_avx512())
        i = to_f32_avx512(dst, src, n);
#endif
    for (; i < n; i++)
        dst[i] = loaa_bf16_value(src[i]);
}

/* ---- the ISA, threads, the environment ---- */

const char *loaa_gemm_isa(void)
{
    switch (dnnl_get_effective_cpu_isa()) {
    case dnnl_cpu_isa_sse41: return "sse41";
    case dnnl_cpu_isa_avx: return "avx";
    case dnnl_cpu_isa_avx2: return "avx2";
    case dnnl_cpu_isa_avx2_vnni: return "avx2_vnni";
    case dnnl_cpu_isa_avx512_mic: return "avx512_mic";
    case dnnl_cpu_isa_avx512_mic_4ops: return "avx512_mic_4ops";
    case dnnl_cpu_isa_avx512_core: return "avx512_core";
    case dnnl_cpu_isa_avx512_core_vnni: return "avx512_core_vnni";
    case dnnl_cpu_isa_avx512_core_bf16: return "avx512_core_bf16";
    case dnnl_cpu_isa_avx512_core_amx: return "avx512_core_amx";
    default: return "unknown";
    }
}

void loaa_gemm_engine_info(char *buf, size_t n)
{
    const dnnl_version_t *v = dnnl_version();
    const char *policy = getenv("OMP_WAIT_POLICY");
    snprintf(buf, n, "oneDNN %d.%d.%d on %s (bf16 level %d), OMP_WAIT_POLICY=%s", v->major, v->minor, v->patch,
             loaa_gemm_isa(), loaa_gemm_bf16_level(), policy ? policy : "(unset: libgomp spins)");
}

int loaa_gemm_bf16_level(void)
{
    unsigned isa = (unsigned)dnnl_get_effective_cpu_isa();
    if ((isa & dnnl_cpu_isa_avx512_core_amx) == dnnl_cpu_isa_avx512_core_amx)
        return 3;
    if ((isa & dnnl_cpu_isa_avx512_core_bf16) == dnnl_cpu_isa_avx512_core_bf16)
        return 2;
    if ((isa & dnnl_cpu_isa_avx512_core) == dnnl_cpu_isa_avx512_core)
        return 1;
    return 0;
}

void loaa_gemm_set_threads(int n)
{
    if (n <= 0)
        return;
    openblas_set_num_threads(n); /* oneDNN's OpenMP count follows it at each call (execute) */
    /* Not omp_set_num_threads here: it is per thread, and a process that may still fork (launcher.c) stays off libgomp. */
}

int loaa_gemm_threads(void) { return openblas_get_num_threads(); }

void loaa_kernels_set_threads(int n) { loaa_gemm_set_threads(n); }

int loaa_kernels_threads(void) { return loaa_gemm_threads(); }

void loaa_gemm_prepare_environment(char **argv)
{
    if (getenv("OMP_WAIT_POLICY") || getenv("LOAA_OMP_REEXEC"))
        return;
    char self[4096];
    ssize_t len = readlink("/proc/self/exe", self, sizeof self - 1);
    if (len <= 0)
        return;
    self[len] = '\0';
    if (setenv("OMP_WAIT_POLICY", "passive", 1) || setenv("LOAA_OMP_REEXEC", "1", 1))
        return;
    execv(self, argv);
    /* exec failed: carry on in this process (libgomp keeps its default policy, read at load) */
}
