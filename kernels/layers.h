/*
 * layers.h - the ViT's layers as forward/backward pairs (llm.c style).
 *
 * Every tensor is a row-major float array; its shape is in the comment.
 * Outputs come first, then inputs, then sizes. Backward functions
 * ACCUMULATE (+=) into parameter gradients and into gradients of inputs
 * that feed a residual stream, and say so; a NULL gradient pointer means
 * "not needed" (a frozen weight, an input nobody differentiates), and the
 * work for it is skipped. Nothing here allocates or fails: the model checks
 * shapes once when it is created.
 *
 * Notation: R rows (B*N tokens), D width, B batch, N tokens per sample
 * (S special tokens first, then the F'xT' patch grid frequency-major),
 * H heads, r adapter width.
 */
#ifndef LOAA_LAYERS_H
#define LOAA_LAYERS_H

#include <stddef.h>

#include "kernels/gemm.h"

#define LOAA_PATCH 16
#define LOAA_MAX_TAPS 32

/* ---- patch embedding: a 16x16 convolution with strides (fs, ts) as im2col + GEMM ---- */

/* col (B*F'*T', 256) = the 16x16 patches of x (B,M,T), patch (f,t) at rows f*fs.., columns t*ts.. */
void loaa_patch_im2col(float *col, const float *x, int B, int M, int T, int fs, int ts, int Fp, int Tp);

/* ---- linear: out (R,O) = inp (R,I) W^T + b, W (O,I), b (O) or NULL ---- */
void loaa_linear_forward(loaa_gemm_ctx *g, float *out, const float *inp, const float *w, const float *b, int R, int I,
                         int O);
/* dinp (R,I) += dout (R,O) W; dw (O,I) += dout^T inp; db (O) += column sums of dout */
void loaa_linear_backward(loaa_gemm_ctx *g, float *dinp, float *dw, float *db, const float *dout, const float *inp,
                          const float *w, int R, int I, int O);

/* ---- LayerNorm over the last dimension, eps 1e-6 (timm's ViT) ---- */

/* out (R,D), mean (R), rstd (R) from inp (R,D), w (D), b (D) */
void loaa_layernorm_forward(float *out, float *mean, float *rstd, const float *inp, const float *w, const float *b,
                            int R, int D);
/* dinp (R,D) +=; dw (D) +=; db (D) += ; from dout (R,D) */
void loaa_layernorm_backward(float *dinp, float *dw, float *db, const float *dout, const float *inp, const float *w,
                             const float *mean, const float *rstd, int R, int D);

/* ---- GELU, exact (erf) form ---- */

/* out (n) = gelu(inp (n)); out may alias inp only if the caller keeps no pre-activation */
void loaa_gelu_forward(float *out, const float *inp, size_t n);
/* dinp (n) = dout (n) * gelu'(inp (n)) (overwrites; dinp may alias dout) */
void loaa_gelu_backward(float *dinp, const float *dout, const float *inp, size_t n);
/*
 * Training form: out (n) = gelu(inp), deriv (n) = gelu'(inp), so that
 * backward is one multiply (loaa_mul) instead of a second erf. deriv may
 * alias inp (the pre-activation is not needed once its derivative is kept).
 */
void loaa_gelu_forward_deriv(float *out, float *deriv, const float *inp, size_t n);
/* out (n) = a (n) * b (n); out may alias either */
void loaa_mul(float *out, const float *a, const float *b, size_t n);

/* ---- multi-head self-attention core (after the fused qkv projection) ---- */

/*
 * out (B,N,D), att (B,H,N,N) softmax probabilities, from qkv (B,N,3D)
 * laid out [q | k | v], head h at columns h*D/H.. of each part.
 */
void loaa_attention_forward(loaa_gemm_ctx *g, float *out, float *att, const float *qkv, int B, int N, int D, int H);
/* dqkv (B,N,3D) overwritten; scratch (B,H,N,N); from dout (B,N,D) */
void loaa_attention_backward(loaa_gemm_ctx *g, float *dqkv, float *scratch, const float *dout, const float *qkv,
                             const float *att, int B, int N, int D, int H);

/* ---- tap convolution over the token grid: the down-projection of every adapter kind ---- */

/*
 * A convolution over the F'xT' grid written as k taps: tap j reads the token
 * at offset (df[j], dt[j]); outside the grid it reads zero (zero padding).
 * Special tokens read only the centre tap (offset (0,0)). A plain adapter is
 * one tap, LoAA-time k taps (0, j-k/2), LoAA-freq (j-k/2, 0), convpass 9.
 * With the down weight stored (k, r, D), Z = u W^T (R, k*r) is one GEMM and
 * the convolution is a gather-add of r-wide rows of Z.
 */
typedef struct loaa_taps {
    int k;
    int centre;
    int df[LOAA_MAX_TAPS], dt[LOAA_MAX_TAPS];
} loaa_taps;

/* h (B,N,r) = bias (r) + sum_j Z[neighbour_j(token), j] with z (B,N,k*r) */
void loaa_tapconv_gather(float *h, const float *z, const float *bias, const loaa_taps *taps, int B, int S, int Fp,
                         int Tp, int r);
/* dz (B,N,k*r) overwritten: the transpose of the gather applied to dh (B,N,r) */
void loaa_tapconv_scatter(float *dz, const float *dh, const loaa_taps *taps, int B, int S, int Fp, int Tp, int r);

/*
 * ---- bf16 (precision: bf16): the same layers with bf16 matmul inputs and fp32 accumulation ----
 * Matmul operands (activations that only feed matmuls, weight copies) are
 * bf16; LayerNorm statistics, softmax, GELU and every sum stay fp32. Shapes
 * and accumulation rules as the fp32 forms above.
 */

/* dst (n) = src rounded to bf16 (nearest even), on the pool */
void loaa_to_bf16(loaa_bf16 *dst, const float *src, size_t n);
/* col (B*F'*T', 256) as loaa_patch_im2col, in bf16 */
void loaa_patch_im2col_bf16(loaa_bf16 *col, const float *x, int B, int M, int T, int fs, int ts, int Fp, int Tp);
/* out (R,O) (fp32 or bf16 by out_type) = inp (R,I) W^T + b (b may be NULL) */
void loaa_linear_forward_bf16(loaa_gemm_ctx *g, void *out, loaa_dtype out_type, const loaa_bf16 *inp,
                              const loaa_bf16 *w, const float *b, int R, int I, int O);
/* dinp (R,I) += dout W; dw (O,I) += dout^T inp; db (O) += column sums of dout_f32 (the unrounded gradient) */
void loaa_linear_backward_bf16(loaa_gemm_ctx *g, float *dinp, float *dw, float *db, const loaa_bf16 *dout,
                               const float *dout_f32, const loaa_bf16 *inp, const loaa_bf16 *w, int R, int I, int O);
/* out (R,D) in bf16, mean and rstd (R) in fp32, as loaa_layernorm_forward */
void loaa_layernorm_forward_bf16(loaa_bf16 *out, float *mean, float *rstd, const float *inp, const float *w,
                                 const float *b, int R, int D);
/*
 * out (n) = bf16(gelu(inp)); gelu'(inp) into deriv (n, fp32; may alias inp) and/or deriv16 (n, bf16) where
 * non-NULL (both NULL: inference)
 */
void loaa_gelu_forward_bf16(loaa_bf16 *out, float *deriv, loaa_bf16 *deriv16, const float *inp, size_t n);
/* out16 (n) = bf16(a * b) with b (n) bf16; out (n) = a * b in fp32 too when non-NULL (out may alias a) */
void loaa_mul_bf16(loaa_bf16 *out16, float *out, const float *a, const loaa_bf16 *b, size_t n);
/* db (O) += column sums of d (R,O) */
void loaa_colsum_bf16(float *db, const loaa_bf16 *d, int R, int O);
/*
 * out (B,N,D) bf16 merged heads, att (B,H,N,N) bf16 softmax probabilities, scores (B,H,N,N) fp32 scratch,
 * from qkv (B,N,3D) bf16; one batched bf16 matmul each for Q K^T and P V.
 */
void loaa_attention_forward_bf16(loaa_gemm_ctx *g, loaa_bf16 *out, loaa_bf16 *att, float *scores,
                                 const loaa_bf16 *qkv, int B, int N, int D, int H);
/* dqkv (B,N,3D) bf16 overwritten; scratch (B,H,N,N) fp32 and ds (B,H,N,N) bf16 scratch; from dout (B,N,D) bf16 */
void loaa_attention_backward_bf16(loaa_gemm_ctx *g, loaa_bf16 *dqkv, float *scratch, loaa_bf16 *ds,
                                  const loaa_bf16 *dout, const loaa_bf16 *qkv, const loaa_bf16 *att, int B, int N,
                                  int D, int H);

/* ---- losses: mean over the batch ---- */

/*
 * Softmax cross-entropy against soft targets y (B,C), smoothed as
 * (1-eps) y + eps/C. Returns the mean loss; dlogits (B,C) (if non-NULL) gets
 * its gradient. Accumulates in double.
 */
double loaa_loss_ce(float *dlogits, const float *logits, const float *y, int B, int C, double smoothing);
/*
 * Binary cross-entropy with logits, mean over B*C elements (PyTorch's
 * default), targets smoothed as (1-eps) y + eps/2 (per binary label).
 */
double loaa_loss_bce(float *dlogits, const float *logits, const float *y, int B, int C, double smoothing);

/* ---- optimiser ---- */

/* The sum of squares of g (n), in double. */
double loaa_sumsq(const float *g, size_t n);

/*
 * AdamW (decoupled weight decay, bias correction; PyTorch's formula) on one
 * tensor: p (n), g (n) read as g*gscale (gradient clipping), m, v (n) moments,
 * t >= 1 the step number after this update.
 */
void loaa_adamw(float *p, const float *g, float *m, float *v, size_t n, float lr, float beta1, float beta2, float eps,
                float wd, long long t, float gscale);

#endif
