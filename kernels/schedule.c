/*
 * schedule.c - learning-rate schedules (cosine with warm-up, AST step decay).
 */
#include "kernels/schedule.h"

#include <math.h>

double loaa_schedule_lr(const loaa_schedule_spec *spec, double epoch)
{
    double total = spec->epochs > 0 ? spec->epochs : 1;
    if (!(epoch > 0)) /* also NaN */
        epoch = 0;
    if (epoch > total)
        epoch = total;
    double warm = spec->warmup_epochs > 0 ? spec->warmup_epochs : 0;
    double factor = 1.0;
    if (warm > 0 && epoch < warm)
        factor = epoch / warm;
    if (spec->kind == LOAA_SCHED_STEP) {
        double k = floor(epoch) - 4;
        return spec->lr * factor * (k > 0 ? pow(0.85, k) : 1.0);
    }
    if (warm > 0 && epoch < warm)
        return spec->lr * factor;
    double span = total - warm;
    double p = span > 0 ? (epoch - warm) / span : 1.0;
    if (p > 1)
        p = 1;
    return spec->lr * 0.5 * (1.0 + cos(M_PI * p));
}
