/*
 * weights.h - vision backbones in, backbones out: import of timm/DeiT and
 * Hugging Face ViT/DeiT safetensors checkpoints with AST's adaptation to
 * spectrograms, and export of a trained model as a backbone file.
 *
 *     loaa_backbone_info bi;
 *     st = loaa_weights_inspect(path, &bi);                // D, depth, heads, ... from the shapes
 *     // the trial's config follows the file: loaa_spec_apply_backbone (worker/spec.h)
 *     st = loaa_model_create(&m, &spec, &shape);
 *     st = loaa_model_init(m, seed);                       // adapters, head: random / zero
 *     st = loaa_weights_load_backbone(m, path);            // backbone tensors replaced
 *
 * Names: timm (`cls_token`, `dist_token`, `pos_embed`, `patch_embed.proj.*`,
 * `blocks.N.{norm1,attn.qkv,attn.proj,norm2,mlp.fc1,mlp.fc2}.*`, `norm.*`,
 * `head.*`) or transformers (`vit.embeddings.cls_token`,
 * `deit.embeddings.distillation_token`, `...encoder.layer.N.attention.
 * attention.{query,key,value}` fused into qkv, `layernorm_before/after`,
 * `intermediate.dense`, `output.dense`, `layernorm`). Any prefix before
 * these names (`module.`, AST's `v.`) is accepted.
 *
 * Adaptation (AST, src/models/ast_models.py): the patch kernels (D,C,16,16)
 * are summed over the C input channels to (D,1,16,16), bias kept; the
 * positional rows of the patches are viewed as the file's grid (square, or
 * the `loaa.grid` metadata "F,T" of loaa's own exports), then along time
 * (width) centre-cropped when the new T' <= old else bilinearly interpolated
 * (align_corners false), then the same along frequency (height); CLS/DIST
 * rows are kept. The head is never imported (the dataset sizes it).
 *
 * Failures name the file and the tensor; the model is unchanged on failure.
 */
#ifndef LOAA_WEIGHTS_H
#define LOAA_WEIGHTS_H

#include "common/status.h"
#include "kernels/model.h"

typedef enum loaa_naming { LOAA_NAMING_TIMM, LOAA_NAMING_HF } loaa_naming;

typedef struct loaa_backbone_info {
    int dim, depth, heads, mlp_hidden;
    double mlp_ratio;       /* mlp_hidden / dim, nudged so that (int)(ratio * dim) == mlp_hidden */
    int heads_from_file;    /* 1: heads came from the file's metadata, else dim/64 */
    int dist_token;         /* DeiT distilled: CLS + DIST */
    int in_chans;           /* 3 for ImageNet weights, 1 for loaa's own exports */
    int grid_f, grid_t;     /* the positional grid of the file */
    loaa_naming naming;
    char prefix[64];        /* text before the standard names ("", "module.", "vit.", ...) */
} loaa_backbone_info;

/*
 * Reads the header of a backbone file and infers the architecture from the
 * shapes. LOAA_ERR_NOTFOUND naming a required tensor that is missing,
 * LOAA_ERR_SHAPE for inconsistent shapes (naming the tensor),
 * LOAA_ERR_UNSUPPORTED for a patch size other than 16.
 */
loaa_status loaa_weights_inspect(const char *path, loaa_backbone_info *info);

/* As loaa_weights_inspect on a file already open. */
struct loaa_safetensors_file;
loaa_status loaa_weights_inspect_file(const struct loaa_safetensors_file *f, loaa_backbone_info *info);

/*
 * Copies every backbone tensor of the file into m after adaptation (all but
 * the head; adapters and LoRA untouched). The model must have the file's
 * dim, depth, MLP width and special tokens (LOAA_ERR_SHAPE naming the
 * tensor otherwise). Every tensor is validated, NaN included, before the
 * model is written.
 */
loaa_status loaa_weights_load_backbone(loaa_model *m, const char *path);

/* As loaa_weights_load_backbone from a file already open. */
loaa_status loaa_weights_load_backbone_file(loaa_model *m, const struct loaa_safetensors_file *f);

/*
 * Writes m's backbone tensors (head included, adapters and LoRA not) in timm
 * naming with metadata loaa.format = "backbone", loaa.heads (the model's),
 * loaa.grid, loaa.config (config_json as given, the canonical trial JSON;
 * NULL writes none) and format = "pt".
 * Re-importing into a model of the same shape gives the same weights.
 */
loaa_status loaa_weights_export_backbone(const char *path, const loaa_model *m, const char *config_json);

/* AST's channel sum: out (D,1,16,16) from in (D,C,16,16). */
void loaa_adapt_patch_embed(float *out, const float *in, int dim, int in_chans);

/*
 * AST's positional-embedding adaptation of the patch rows only:
 * out (fn*tn, D) from in (fo*to, D), rows frequency-major. Returns
 * LOAA_ERR_NOMEM or LOAA_ERR_SHAPE for non-positive sizes.
 */
loaa_status loaa_adapt_pos_embed(float *out, const float *in, int dim, int fo, int to, int fn, int tn);

#endif
