/*
 * choices.h - the enumerated choices of a trial (fine-tuning method, adapter
 * placement, schedule, loss, pooling, precision), shared by the trial config
 * (common/config.h, which reads and writes them by name) and the kernels'
 * narrow specs (kernels/model.h, kernels/schedule.h), which must not see the
 * config itself. No jansson, no paths: only the enums and their names.
 */
#ifndef LOAA_CHOICES_H
#define LOAA_CHOICES_H

typedef enum loaa_method {
    LOAA_METHOD_LINEAR,
    LOAA_METHOD_FULL,
    LOAA_METHOD_ADAPTER,
    LOAA_METHOD_LORA,
    LOAA_METHOD_LOAA_TIME,
    LOAA_METHOD_LOAA_FREQ,
    LOAA_METHOD_LOAA_TF,
    LOAA_METHOD_CONVPASS,
    LOAA_METHOD_NOOP,
    LOAA_METHOD_COUNT
} loaa_method;

typedef enum loaa_placement { LOAA_PLACE_MHSA, LOAA_PLACE_MLP, LOAA_PLACE_BOTH } loaa_placement;
typedef enum loaa_schedule { LOAA_SCHED_COSINE, LOAA_SCHED_STEP } loaa_schedule;
typedef enum loaa_loss { LOAA_LOSS_CE, LOAA_LOSS_BCE } loaa_loss;
typedef enum loaa_pool { LOAA_POOL_CLS, LOAA_POOL_MEAN } loaa_pool;
/* Matmul precision: bf16 inputs with fp32 accumulation changes results, so it is identity. */
typedef enum loaa_precision { LOAA_PRECISION_FP32, LOAA_PRECISION_BF16 } loaa_precision;

/*
 * Names for enum values, as written in configs ("loaa_tf", "mhsa"); defined
 * in common/config.c beside the key table that parses them. Never fail:
 * an out-of-range value gives "?".
 */
const char *loaa_method_name(loaa_method m);
const char *loaa_placement_name(loaa_placement p);
const char *loaa_precision_name(loaa_precision p);

#endif
