/*
 * model.h - the AST-style ViT with its fine-tuning method, as one object.
 *
 * A model owns four allocations carved by size tables (llm.c style):
 * parameters, gradients, AdamW state, activations. Nothing is allocated
 * inside a step. Shapes: the spectrogram batch x is (B, M, T) row-major,
 * M mel bins as image height (frequency) and T frames as width (time);
 * targets y are (B, C) probabilities (one-hot, smoothed or mixed).
 *
 *     loaa_model *m;
 *     loaa_model_spec spec;                           // from a validated config: worker/spec.h
 *     loaa_model_shape shape = {.n_mel = 128, .n_frames = 512, .n_classes = 50, .max_batch = 32};
 *     st = loaa_model_create(&m, &spec, &shape);
 *     st = loaa_model_init(m, seed);                  // random init; up-projections zero
 *     st = loaa_model_train_step(m, x, y, B, lr, &loss);
 *     st = loaa_model_predict(m, x, B, logits);       // (B, C)
 *     loaa_model_free(m);
 *
 * Failure: every function returns a loaa_status with a detail naming the
 * setting, step or tensor; the model stays usable after a refused call.
 */
#ifndef LOAA_MODEL_H
#define LOAA_MODEL_H

#include <assert.h>
#include <mpi.h>
#include <stddef.h>
#include <stdint.h>

#include "common/choices.h"
#include "common/status.h"

typedef struct loaa_model loaa_model;

/*
 * What the model reads of a trial: its architecture, fine-tuning method,
 * loss and optimiser constants. Field names are the config keys they come
 * from (doc/architecture.md's key table); worker/spec.c translates a
 * validated loaa_config into this once, so the kernels never see the
 * config. Error details name the key ("key 'bottleneck': ...").
 */
typedef struct loaa_model_spec {
    int dim, depth, heads;     /* transformer width, blocks, attention heads (heads divides dim) */
    double mlp_ratio;          /* MLP hidden width = (int)(mlp_ratio * dim) */
    int fstride, tstride;      /* patch strides along frequency / time (16 = no overlap) */
    loaa_method method;        /* LOAA_METHOD_NOOP: an empty model for the harness tests */
    int bottleneck;            /* adapter / LoRA rank r */
    int kernel;                /* LoAA tap count (odd) */
    loaa_placement placement;  /* adapters beside MHSA, MLP or both */
    int blocks;                /* adapters on the last n blocks, 0 = all */
    double scale;              /* adapter output scale */
    double lora_alpha;         /* LoRA alpha, 0 = bottleneck (alpha / r = 1) */
    loaa_pool pool;            /* CLS token or mean of the patch tokens */
    loaa_loss loss;            /* softmax cross-entropy or sigmoid BCE */
    double label_smoothing;
    double weight_decay;       /* AdamW decoupled decay of the matrices */
    double clip;               /* gradient clipping by global L2 norm; <= 0 disables (the trial uses 1.0) */
    int threads;               /* BLAS threads, 0 = leave the process's setting */
    loaa_precision precision;  /* matmul precision: fp32, or bf16 operands with fp32 accumulation (layers.h) */
} loaa_model_spec;

typedef struct loaa_model_shape {
    int n_mel;      /* M: spectrogram height (frequency bins) */
    int n_frames;   /* T: spectrogram width (frames) = target_length */
    int n_classes;  /* C: head outputs */
    int max_batch;  /* largest B any call will pass; sizes the activations */
    int dist_token; /* 1: DeiT-style CLS + DIST tokens (set by backbone import) */
} loaa_model_shape;

/*
 * One named parameter tensor, in timm's naming (`blocks.3.attn.qkv.weight`,
 * adapters as `blocks.3.adapter_attn.down.weight`, ...). data points into
 * the model's parameter allocation; grad into the gradient allocation (NULL
 * when the tensor is frozen).
 */
typedef struct loaa_tensor_ref {
    const char *name;
    int ndim;
    int64_t shape[4];
    float *data;
    float *grad;
    int trainable;
} loaa_tensor_ref;

/*
 * Checks spec against shape (LOAA_ERR_CONFIG naming the key, LOAA_ERR_SHAPE
 * naming the dimension) and allocates the model, parameters zero until
 * loaa_model_init. LOAA_ERR_NOMEM with the size when memory is short.
 */
loaa_status loaa_model_create(loaa_model **out, const loaa_model_spec *spec, const loaa_model_shape *shape);

/* The spec the model was created with; valid for the model's lifetime. */
const loaa_model_spec *loaa_model_get_spec(const loaa_model *m);
void loaa_model_free(loaa_model *m);

/* Random initialisation of every parameter from the seed (timm-like: trunc-normal 0.02, zero biases). */
loaa_status loaa_model_init(loaa_model *m, uint64_t seed);

/* The parameter table, in a fixed order; valid for the model's lifetime. */
const loaa_tensor_ref *loaa_model_tensors(const loaa_model *m, size_t *count);

size_t loaa_model_trainable_params(const loaa_model *m);
size_t loaa_model_total_params(const loaa_model *m);

/*
 * One optimisation step on a batch: forward, loss (the spec's ce/bce with label
 * smoothing), backward for the trainable tensors only, gradient clipping (spec.clip),
 * AdamW at learning rate lr. *loss gets the batch's mean loss.
 * LOAA_ERR_NUMERIC (parameters untouched) when the loss is NaN or Inf.
 */
loaa_status loaa_model_train_step(loaa_model *m, const float *x, const float *y, int batch, double lr,
                                  float *loss);

/* Forward only: logits (B, C). */
loaa_status loaa_model_predict(loaa_model *m, const float *x, int batch, float *logits);

/* Optimiser step count and AdamW moments, exposed for checkpoints. */
typedef struct loaa_optim_state {
    int64_t step;
    float *m;      /* first moments, one per trainable parameter, in tensor order */
    float *v;      /* second moments */
    size_t count;  /* number of trainable parameters */
} loaa_optim_state;

loaa_optim_state loaa_model_optim_state(loaa_model *m);

/* ---- additions of the training engine (declared after the interface above, which stays as is) ---- */

/*
 * Forward and loss without any update: logits (B, C) (NULL to skip) and the
 * batch's mean loss against y (B, C). For validation. LOAA_ERR_NUMERIC when
 * the loss is not finite, LOAA_ERR_SHAPE when batch is outside 1..max_batch.
 */
loaa_status loaa_model_evaluate(loaa_model *m, const float *x, const float *y, int batch, float *logits, float *loss);

/*
 * Forward, loss and backward: fills the gradients of the trainable tensors
 * (loaa_model_tensors()[i].grad) without clipping or updating anything.
 * train_step is this, then clipping and AdamW. For gradient checks.
 */
loaa_status loaa_model_gradients(loaa_model *m, const float *x, const float *y, int batch, float *loss);

/* Sets the optimiser step count (a checkpoint's), which AdamW's bias correction continues from. */
void loaa_model_set_optim_step(loaa_model *m, int64_t step);

/* Tokens per sample N (special + patches); the patch grid F' x T' into fgrid/tgrid (either may be NULL). */
int loaa_model_tokens(const loaa_model *m, int *fgrid, int *tgrid);

/* Multiply-add flops issued through the GEMM interface since creation (2*M*N*K each). */
double loaa_model_gemm_flops(const loaa_model *m);

/* Bytes of the activation allocation (for max_batch). */
size_t loaa_model_activation_bytes(const loaa_model *m);

/* ---- one trial on a group of ranks (ranks_per_trial > 1; kernels/pgemm.h, doc/distributed.md) ---- */

/*
 * Collective over group: the model trains on the group's ranks from now on.
 * Each batch is dealt by loaa_model_batch_share; every rank runs the layers on its own samples, the row GEMMs
 * (qkv, proj, fc1, fc2, adapter and LoRA projections, head, and their
 * input-gradient products in backward) run as psgemm_ over a grid_p x
 * grid_q BLACS grid of the group (0 x 0 = 1 x g, where the row slabs are
 * already ScaLAPACK's layout and nothing is redistributed), and the
 * gradients are summed over the group once per step, so the replicated
 * parameters and AdamW state stay identical on every rank. Every rank must
 * pass the same x, y, batch and lr, and start from the same parameters
 * (same seed or backbone). The activations shrink to this rank's share,
 * ceil(max_batch / g) samples. Failures (a NaN on one rank, a refused GEMM)
 * come back identical on every rank. After this, train_step, gradients,
 * evaluate, predict and loaa_model_free are collective over the group.
 * A group of one changes nothing. LOAA_ERR_CONFIG for a grid that does
 * not fit the group; LOAA_ERR_USAGE when the model already has a group.
 */
loaa_status loaa_model_set_group(loaa_model *m, MPI_Comm group, int grid_p, int grid_q);

/*
 * precision bf16: the model keeps bf16 copies of its matmul weights, made
 * from the fp32 tensors at the first forward after create or init and
 * refreshed (the trainable ones) after each optimiser step. Whoever writes
 * into loaa_model_tensors()[i].data later (a checkpoint or backbone load
 * after a forward) calls this so that the next forward refreshes them all.
 * A no-op in fp32.
 */
void loaa_model_weights_changed(loaa_model *m);

/*
 * The one rule that splits a batch among a group's ranks: rank r of g
 * works on samples [*first, *first + *count), dealt evenly in whole samples,
 * the first batch % g ranks one more. The model applies it to each batch it
 * is given; the loader (worker/loader.c) applies it to the full batch size B
 * to choose which rows each rank decodes before a batch's size is known.
 * Preconditions (asserted): batch >= 0, 0 <= rank < ranks. Inline, so that
 * the loader's fuzz harness, which links no kernels, has it too.
 */
static inline void loaa_model_batch_share(int batch, int rank, int ranks, int *first, int *count)
{
    assert(batch >= 0 && ranks >= 1 && rank >= 0 && rank < ranks);
    int q = batch / ranks, rem = batch % ranks;
    *first = rank * q + (rank < rem ? rank : rem);
    *count = q + (rank < rem);
}

/* "blas" or "scalapack", with the grid in *p x *q (1 x 1 for blas); for the results store. */
const char *loaa_model_backend(const loaa_model *m, int *p, int *q);

#endif
