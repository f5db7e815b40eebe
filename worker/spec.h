/*
 * spec.h - the worker boundary: a trial's config (common/config.h, the
 * sweep contract) translated once into the narrow specs the kernels read
 * (kernels/model.h's loaa_model_spec, kernels/schedule.h's
 * loaa_schedule_spec), and the config-side steps of backbone import and
 * adapter files that used to reach into the config from kernels/.
 *
 *     loaa_config cfg;                              // validated
 *     loaa_model_shape shape = {...};
 *     st = loaa_spec_prepare(&cfg, &shape);         // follow the backbone file, validate
 *     st = loaa_spec_create_model(&m, &cfg, &shape);
 *     loaa_schedule_spec sched = loaa_spec_schedule_from_config(&cfg);
 *     double lr = loaa_schedule_lr(&sched, epoch);
 *
 * Nothing here allocates beyond what the called kernels do; failures are
 * the kernels' and the config's, with their details.
 */
#ifndef LOAA_SPEC_H
#define LOAA_SPEC_H

#include "common/config.h"
#include "common/status.h"
#include "kernels/checkpoint.h"
#include "kernels/model.h"
#include "kernels/schedule.h"
#include "kernels/weights.h"

/* The model spec of a config: its architecture, method, loss and optimiser keys; clip 1.0 (timm's, PETL_AST's). */
loaa_model_spec loaa_spec_model_from_config(const loaa_config *c);

/* The schedule spec of a config: lr, epochs, warmup_epochs, schedule. */
loaa_schedule_spec loaa_spec_schedule_from_config(const loaa_config *c);

/* loaa_model_create with the config's model spec; its failures. */
loaa_status loaa_spec_create_model(loaa_model **out, const loaa_config *c, const loaa_model_shape *shape);

/*
 * Makes the trial's model match a backbone file: cfg dim/depth/mlp_ratio
 * and heads (the file's metadata, else the trial's when it divides dim and
 * the trial's dim already equals the file's, else dim/64), cfg->model
 * "custom" (loaa_config_validate then names a matching preset),
 * shape->dist_token (shape may be NULL). Validate cfg afterwards.
 * LOAA_ERR_CONFIG when heads do not divide dim.
 */
loaa_status loaa_spec_apply_backbone(const loaa_backbone_info *info, loaa_config *cfg, loaa_model_shape *shape);

/*
 * Both for a trial: with backbone_kind LOAA_BACKBONE_PATH, inspects
 * cfg->backbone and applies it to cfg and shape, then validates cfg; with
 * LOAA_BACKBONE_NONE only validates (shape->dist_token left as is). A
 * sweep-named backbone must have been resolved to a path (LOAA_ERR_CONFIG
 * otherwise). Errors name the file.
 */
loaa_status loaa_spec_prepare(loaa_config *cfg, loaa_model_shape *shape);

/*
 * The config an adapter file was trained with, parsed and validated into
 * *out; failures are prefixed "PATH: metadata 'loaa.config': ".
 */
loaa_status loaa_spec_adapter_config(const loaa_checkpoint_adapter *a, loaa_config *out);

#endif
