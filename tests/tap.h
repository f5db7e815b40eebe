/*
 * tap.h - a minimal TAP producer for loaa's unit tests (automake's
 * tap-driver reads it). Each check prints "ok N - what" or "not ok N - what"
 * with the location; tap_done() prints the plan and returns the exit code.
 *
 *     TAP_OK(x == 3, "x is three");
 *     TAP_NEAR(got, want, 1e-5, "loss matches");
 *     return tap_done();
 */
#ifndef LOAA_TAP_H
#define LOAA_TAP_H

#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>

static int tap_count, tap_failed;

static inline __attribute__((format(printf, 4, 5))) int
tap_check(int ok, const char *file, int line, const char *fmt, ...)
{
    va_list ap;
    tap_count++;
    printf("%sok %d - ", ok ? "" : "not ", tap_count);
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    printf("\n");
    if (!ok) {
        tap_failed++;
        printf("# failed at %s:%d\n", file, line);
    }
    fflush(stdout);
    return ok;
}

#define TAP_OK(cond, ...) tap_check(!!(cond), __FILE__, __LINE__, __VA_ARGS__)
#define TAP_NEAR(got, want, tol, ...)                                                          \
    do {                                                                                       \
        double tap_g_ = (got), tap_w_ = (want);                                                \
        if (!tap_check(fabs(tap_g_ - tap_w_) <= (tol), __FILE__, __LINE__, __VA_ARGS__))      \
            printf("#   got %.9g, want %.9g (tolerance %g)\n", tap_g_, tap_w_, (double)(tol)); \
    } while (0)
#define TAP_DIAG(...) (printf("# "), printf(__VA_ARGS__), printf("\n"))

/* ||a - b|| / ||b|| of two float arrays (n), in double: normwise relative error; ||a - b|| when b is zero */
static inline double tap_rel_norm_err(const float *a, const float *b, size_t n)
{
    double e = 0, s = 0;
    for (size_t i = 0; i < n; i++) {
        e += ((double)a[i] - b[i]) * ((double)a[i] - b[i]);
        s += (double)b[i] * b[i];
    }
    return s > 0 ? sqrt(e / s) : sqrt(e);
}

static inline int tap_done(void)
{
    printf("1..%d\n", tap_count);
    return tap_failed ? 1 : 0;
}

#endif
