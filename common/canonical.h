/*
 * canonical.h - canonical JSON text: sorted object keys, compact, numbers
 * as the shortest text that strtod reads back exactly. The one spelling of
 * a JSON value that trial identities, checkpoint and adapter metadata and
 * the store compare byte for byte. Defined in common/config.c (beside the
 * trial config's canonical form, which is built from it); declared here so
 * that modules that need JSON text but not the trial config (kernels/) can
 * use it.
 */
#ifndef LOAA_CANONICAL_H
#define LOAA_CANONICAL_H

#include <jansson.h>

/* Canonical JSON text of any value. Caller frees; NULL on no memory. */
char *loaa_json_canonical(const json_t *value);

/* The shortest decimal text that strtod reads back as exactly x ("1", "0.001", "1e-07"). */
void loaa_format_double(double x, char buf[32]);

#endif
