/*
 * loader.h - batches of normalised features for one split and one epoch.
 *
 *     loaa_loader *l;
 *     st = loaa_loader_open(&l, ds, cfg, LOAA_SPLIT_TRAIN, epoch);
 *     while (!(st = loaa_loader_next(l, x, y, labels, &n)) && n > 0)
 *         train_step(x, y, n);   // x (n, M, T), y (n, C), labels (n)
 *     loaa_loader_close(l);
 *
 * Order: the training split's shard order is shuffled and its samples pass
 * through a shuffle buffer, both seeded from (cfg->seed, epoch) alone, so a
 * resumed trial sees the same batches. Validation and test splits keep the
 * manifest's order and are never augmented. Training augmentations (all off
 * by default): mixup (probability cfg->mixup, lambda ~ Beta(10, 10), partner
 * from the same batch, soft labels), SpecAugment masks (cfg->freqm rows,
 * cfg->timem columns, filled with the normalised value of a zero fbank as
 * AST does), additive noise (x += u * cfg->noise * U(0,1), u ~ U(0,1) per
 * sample) and time roll (uniform shift in [-timeroll, timeroll] frames),
 * each seeded from (seed, epoch, sample index), so results do not depend on
 * thread timing.
 *
 * A reader thread streams, decodes and computes features ahead of the
 * trainer through a bounded queue.
 *
 * Ranks sharing one trial (opts.ranks = g > 1, opts.rank = r): every rank
 * draws the same sequence of batches as a single rank would; rank r decodes
 * and fills only its block of each batch, rows [lo, hi) from
 * loaa_loader_slice_rows (the other rows of x are left as they were), and the group completes x with an in-place
 * MPI_Allgatherv over those blocks. y and labels are complete on every rank.
 * In that mode a sample that fails to decode is an error even with
 * skip_bad (the other ranks could not know to skip it); a sample whose
 * label is bad is skipped by every rank alike.
 *
 * On failure, loaa_loader_next returns the status with a detail naming the
 * shard and key; the loader can then only be closed. The loader borrows ds
 * (which must outlive it) and copies cfg.
 */
#ifndef LOAA_LOADER_H
#define LOAA_LOADER_H

#include <stddef.h>

#include "common/config.h"
#include "common/dataset.h"
#include "common/status.h"

typedef struct loaa_loader loaa_loader;

typedef struct loaa_loader_opts {
    int rank, ranks;        /* this rank's share of each batch; 0 and 1 = everything */
    int skip_bad;           /* skip and count bad samples instead of stopping */
    int shuffle_buffer;     /* samples held for shuffling (training); 0 = 256 */
    int prefetch;           /* decoded samples queued ahead; 0 = 2 batches */
    size_t max_entry_bytes; /* cap on one shard entry; 0 = 256 MiB */
    int no_augment;         /* 1: no augmentation even for training (e.g. feature statistics) */
} loaa_loader_opts;

void loaa_loader_opts_default(loaa_loader_opts *o);

/*
 * Opens the split's shards for one epoch and starts the reader thread.
 * cfg gives seed, fold, batch_size, target_length (0 = the dataset's) and
 * the augmentation keys. Errors: the split's shard list (LOAA_ERR_CONFIG for
 * a missing fold), no memory, or the fbank settings.
 */
loaa_status loaa_loader_open(loaa_loader **out, const loaa_dataset *ds, const loaa_config *cfg, loaa_split split,
                             int epoch);
loaa_status loaa_loader_open_opts(loaa_loader **out, const loaa_dataset *ds, const loaa_config *cfg, loaa_split split,
                                  int epoch, const loaa_loader_opts *opts);

/*
 * Fills up to cfg->batch_size samples: x (B, M, T) float32 normalised
 * features, y (B, C) float32 target probabilities (one-hot; mixed by mixup;
 * multi-hot for multi-label datasets), labels (B) the class index (-1 for
 * multi-label samples; for a mixed sample, its own class). *count = the
 * samples written, 0 at the end of the epoch (and ever after).
 */
loaa_status loaa_loader_next(loaa_loader *l, float *x, float *y, int *labels, int *count);

/* Stops the reader thread and frees everything. NULL is fine. */
void loaa_loader_close(loaa_loader *l);

int loaa_loader_n_mel(const loaa_loader *l);          /* M */
int loaa_loader_target_length(const loaa_loader *l);  /* T */
int loaa_loader_n_classes(const loaa_loader *l);      /* C */
long loaa_loader_samples_seen(const loaa_loader *l);  /* samples returned so far */
long loaa_loader_bad_skipped(const loaa_loader *l);   /* bad samples skipped (skip_bad) */

/*
 * This rank's rows [*lo, *hi) of a batch of n samples (n from loaa_loader_next):
 * its share of the full batch size B by loaa_model_batch_share (kernels/
 * model.h, the group's one partition rule), cut at n, so that the reader can
 * decide what to decode before it knows n.
 */
void loaa_loader_slice_rows(int B, int n, int rank, int ranks, int *lo, int *hi);

/*
 * The label of one sample from its .cls / .json text (NULL when absent):
 * y (C) gets the target, *label the class or -1 for multi-label. Also reads
 * "start"/"end" (sample offsets) from the JSON, -1 when absent. Errors name
 * `name` ("shard: key 'k'"): no label, a label outside the class list,
 * malformed JSON.
 */
loaa_status loaa_loader_parse_label(const loaa_dataset *ds, const char *cls, const char *json, const char *name, float *y,
                                    int *label, long *start, long *end);

#endif
