/*
 * checkpoint.h - training checkpoints and adapter files, both safetensors.
 *
 * Checkpoint (resume a trial exactly): every parameter tensor of the model
 * under its table name, the AdamW moments as "optim.m.NAME" / "optim.v.NAME"
 * (trainable tensors only, same shapes), and metadata
 *   loaa.format = "checkpoint", loaa.version = "1",
 *   loaa.config = the trial's canonical JSON (opaque text to this module:
 *   the caller's, e.g. loaa_config_canonical), loaa.optim_step, loaa.epoch,
 *   loaa.batch, loaa.rng (four 16-digit hex words), loaa.extra (caller JSON).
 *
 * Adapter file (what a finished trial hands out): the trainable tensors
 * (the method's own, final LayerNorm, head) - or every tensor when the trial
 * trained from scratch (no backbone), so that the file alone predicts - and
 * metadata
 *   loaa.format = "adapter", loaa.version = "1", loaa.method, loaa.config
 *   (canonical JSON), loaa.classes (JSON list of names), loaa.fbank (JSON
 *   object of the front-end settings), loaa.input ({"n_mel","n_frames",
 *   "dist_token"}), loaa.backbone (file name or "none"),
 *   loaa.backbone_sha256 (hex or ""), loaa.full ("1" with every tensor).
 * Any safetensors reader opens both (plain F32 tensors, string metadata).
 *
 * Writes are atomic (temporary file + rename). Loads validate every name
 * and shape against the model before changing anything, so a refused file
 * leaves the model as it was; errors name the file and the tensor.
 */
#ifndef LOAA_CHECKPOINT_H
#define LOAA_CHECKPOINT_H

#include <stdint.h>

#include "common/dataset.h"
#include "common/rng.h"
#include "common/status.h"
#include "kernels/model.h"

#define LOAA_CKPT_EXTRA_MAX 4096

typedef struct loaa_checkpoint_state {
    int64_t epoch;                    /* epochs completed */
    int64_t batch;                    /* batches done within the current epoch */
    loaa_rng rng;                     /* the trial's generator, saved as is */
    char extra[LOAA_CKPT_EXTRA_MAX];  /* caller's JSON text (best metric so far, ...), "" for none */
} loaa_checkpoint_state;

/* Saves parameters, AdamW moments and step, the state and config_json (the trial's canonical JSON, not NULL). */
loaa_status loaa_checkpoint_save(const char *path, loaa_model *m, const char *config_json,
                                 const loaa_checkpoint_state *state);

/*
 * Loads a checkpoint into m (created with the same config and shape) and
 * fills *state. config_json non-NULL: it must equal the file's loaa.config
 * byte for byte (LOAA_ERR_CONFIG naming the first differing key). A missing tensor is
 * LOAA_ERR_NOTFOUND, a shape that differs or a tensor the model lacks
 * LOAA_ERR_SHAPE, a NaN LOAA_ERR_NUMERIC, each naming the tensor; the model
 * is unchanged on any failure.
 */
loaa_status loaa_checkpoint_load(const char *path, loaa_model *m, const char *config_json,
                                 loaa_checkpoint_state *state);

/*
 * What an adapter file records besides the tensors and the config. With
 * dataset set, class_names (when NULL) and fbank_json (when NULL) are taken
 * from it, so a trial runner needs only
 *     {.dataset = ds, .backbone_path = ..., .n_mel = M, .n_frames = T, .dist_token = ...}
 */
typedef struct loaa_checkpoint_adapter_info {
    const loaa_dataset *dataset;    /* optional source of names and front end */
    const char *const *class_names; /* n_classes names */
    int n_classes;
    const char *fbank_json;         /* the front end: loaa_checkpoint_frontend_json's object; NULL = from dataset, or {} */
    const char *backbone_path;      /* the backbone file, hashed now; NULL when trained from scratch */
    int n_mel, n_frames, dist_token;
} loaa_checkpoint_adapter_info;

/*
 * The members of a dataset.json that turn audio into model input: kind,
 * sample_rate, fbank (every setting spelled out), image_size (images),
 * target_length (the given one, 0 = the dataset's), mean, std, multilabel.
 * Together with format/version/name/classes/splits they form a dataset.json
 * that loaa_dataset_parse accepts, which is how `loaa predict` rebuilds the
 * trial's front end from an adapter file. Caller frees; NULL on no memory.
 */
char *loaa_checkpoint_frontend_json(const loaa_dataset *ds, int target_length);

/*
 * Writes the adapter file of a trained model, config_json (the trial's
 * canonical JSON, not NULL) as loaa.config and the model's method as
 * loaa.method. Checks the number of classes against the head.
 */
loaa_status loaa_checkpoint_adapter_export(const char *path, const loaa_model *m, const char *config_json,
                                const loaa_checkpoint_adapter_info *info);

/* An opened adapter file. */
typedef struct loaa_checkpoint_adapter loaa_checkpoint_adapter;

/*
 * Opens and validates an adapter file: format, metadata present, class
 * names, input shape, head. The config is kept as text (config_json below);
 * its parsing and validation belong to the caller (loaa_spec_adapter_config
 * in worker/spec.h). Caller closes.
 */
loaa_status loaa_checkpoint_adapter_open(const char *path, loaa_checkpoint_adapter **out);

/* As loaa_checkpoint_adapter_open on bytes in memory (fuzzing); they are not copied and must outlive the handle. */
loaa_status loaa_checkpoint_adapter_open_memory(const void *data, size_t size, const char *name, loaa_checkpoint_adapter **out);
void loaa_checkpoint_adapter_close(loaa_checkpoint_adapter *a);

const char *loaa_checkpoint_adapter_path(const loaa_checkpoint_adapter *a);
const char *loaa_checkpoint_adapter_config_json(const loaa_checkpoint_adapter *a); /* loaa.config as stored */
int loaa_checkpoint_adapter_num_classes(const loaa_checkpoint_adapter *a);
const char *loaa_checkpoint_adapter_class_name(const loaa_checkpoint_adapter *a, int i);
/* The model shape the adapter was trained for (max_batch left at 1). */
loaa_model_shape loaa_checkpoint_adapter_shape(const loaa_checkpoint_adapter *a);
const char *loaa_checkpoint_adapter_fbank_json(const loaa_checkpoint_adapter *a);
const char *loaa_checkpoint_adapter_backbone_sha256(const loaa_checkpoint_adapter *a); /* "" when trained from scratch */
const char *loaa_checkpoint_adapter_backbone_name(const loaa_checkpoint_adapter *a);   /* "none" when trained from scratch */
int loaa_checkpoint_adapter_is_full(const loaa_checkpoint_adapter *a);                 /* 1: holds every tensor */

/*
 * Copies the adapter's tensors into m by name, shapes checked first (the
 * model is unchanged on failure). With a backbone, load it before this.
 */
loaa_status loaa_checkpoint_adapter_apply(const loaa_checkpoint_adapter *a, loaa_model *m);

#endif
