/*
 * schedule.h - the learning rate at a point of training, from a schedule
 * spec (the config's lr, epochs, warmup_epochs and schedule; worker/spec.h).
 *
 * epoch is fractional: epoch e, batch b of nb is e + b/nb. Both schedules
 * start with a linear warm-up from 0 to lr over warmup_epochs (none when
 * warmup_epochs is 0), then
 *  - cosine: lr * (1 + cos(pi * p)) / 2 with p the share of the epochs
 *    after the warm-up that have passed, reaching 0 at `epochs`;
 *  - step (AST's MultiStepLR with milestones 5, 6, 7, ... and gamma 0.85,
 *    stepped after every epoch): lr * 0.85^max(0, floor(epoch) - 4), so
 *    epochs 0..4 (counted from 0) train at lr and epoch 5 at 0.85 lr.
 * Never fails; epochs outside [0, epochs] are clamped.
 */
#ifndef LOAA_SCHEDULE_H
#define LOAA_SCHEDULE_H

#include "common/choices.h"

typedef struct loaa_schedule_spec {
    double lr;             /* peak learning rate */
    int epochs;            /* length of training; <= 0 counts as 1 */
    double warmup_epochs;  /* linear warm-up, 0 = none */
    loaa_schedule kind;    /* cosine or step */
} loaa_schedule_spec;

double loaa_schedule_lr(const loaa_schedule_spec *spec, double epoch);

#endif
