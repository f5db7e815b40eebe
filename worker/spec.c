/*
 * spec.c - trial config -> kernels' narrow specs, and the config side of
 * backbone files and adapter files (see spec.h).
 */
#include "worker/spec.h"

#include <stdio.h>

#include "common/log.h"
#include "kernels/gemm.h"

/* timm's and PETL_AST's usual gradient clipping for ViT fine-tuning: global L2 norm 1.0. */
#define TRIAL_CLIP_NORM 1.0

loaa_model_spec loaa_spec_model_from_config(const loaa_config *c)
{
    loaa_model_spec s = {
        .dim = c->dim, .depth = c->depth, .heads = c->heads, .mlp_ratio = c->mlp_ratio,
        .fstride = c->fstride, .tstride = c->tstride,
        .method = c->method, .bottleneck = c->bottleneck, .kernel = c->kernel, .placement = c->placement,
        .blocks = c->blocks, .scale = c->scale, .lora_alpha = c->lora_alpha,
        .pool = c->pool, .loss = c->loss, .label_smoothing = c->label_smoothing,
        .weight_decay = c->weight_decay, .clip = TRIAL_CLIP_NORM, .threads = c->threads,
        .precision = c->precision,
    };
    return s;
}

loaa_schedule_spec loaa_spec_schedule_from_config(const loaa_config *c)
{
    loaa_schedule_spec s = {.lr = c->lr, .epochs = c->epochs, .warmup_epochs = c->warmup_epochs, .kind = c->schedule};
    return s;
}

loaa_status loaa_spec_create_model(loaa_model **out, const loaa_config *c, const loaa_model_shape *shape)
{
    int slow = 0;
    *out = NULL;
    loaa_status st = loaa_config_check_precision(c, loaa_gemm_bf16_level(), loaa_gemm_isa(), &slow);
    if (st)
        return st;
    if (slow)
        loaa_warn("precision bf16 on '%s' (AVX-512 without BF16 instructions) runs slower than fp32", loaa_gemm_isa());
    loaa_model_spec spec = loaa_spec_model_from_config(c);
    return loaa_model_create(out, &spec, shape);
}

loaa_status loaa_spec_apply_backbone(const loaa_backbone_info *info, loaa_config *cfg, loaa_model_shape *shape)
{
    int heads = info->heads;
    if (!info->heads_from_file && cfg->heads > 0 && cfg->dim == info->dim && info->dim % cfg->heads == 0)
        heads = cfg->heads;
    if (heads < 1 || info->dim % heads)
        return loaa_fail(LOAA_ERR_CONFIG, "key 'heads': %d heads do not divide the backbone's dim %d", heads, info->dim);
    cfg->dim = info->dim;
    cfg->depth = info->depth;
    cfg->heads = heads;
    cfg->mlp_ratio = info->mlp_ratio;
    snprintf(cfg->model, sizeof cfg->model, "custom");
    if (shape)
        shape->dist_token = info->dist_token;
    return LOAA_OK;
}

loaa_status loaa_spec_prepare(loaa_config *cfg, loaa_model_shape *shape)
{
    if (cfg->backbone_kind == LOAA_BACKBONE_SWEEP)
        return loaa_fail(LOAA_ERR_CONFIG, "key 'backbone': the sweep '%s' must be resolved to a file first", cfg->backbone);
    if (cfg->backbone_kind == LOAA_BACKBONE_PATH) {
        loaa_backbone_info bi;
        loaa_status st = loaa_weights_inspect(cfg->backbone, &bi);
        if (!st)
            st = loaa_spec_apply_backbone(&bi, cfg, shape);
        if (st)
            return st;
    }
    return loaa_config_validate(cfg);
}

loaa_status loaa_spec_adapter_config(const loaa_checkpoint_adapter *a, loaa_config *out)
{
    loaa_status st = loaa_config_parse(out, loaa_checkpoint_adapter_config_json(a));
    if (!st)
        st = loaa_config_validate(out);
    return st ? loaa_fail_prefix(st, "%s: metadata 'loaa.config': ", loaa_checkpoint_adapter_path(a)) : LOAA_OK;
}
