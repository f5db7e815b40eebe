/*
 * sha256.h - SHA-256 (FIPS 180-4), for identities: a dataset is the hash of
 * its dataset.json, a backbone the hash of its file, a trial the hash of its
 * canonical config.
 */
#ifndef LOAA_SHA256_H
#define LOAA_SHA256_H

#include <stddef.h>
#include <stdint.h>

#include "common/status.h"

typedef struct loaa_sha256 {
    uint32_t h[8];
    uint64_t length;
    uint8_t block[64];
    size_t used;
} loaa_sha256;

void loaa_sha256_init(loaa_sha256 *ctx);
void loaa_sha256_update(loaa_sha256 *ctx, const void *data, size_t n);
void loaa_sha256_final(loaa_sha256 *ctx, uint8_t digest[32]);

/* Hex digest of a buffer into hex[65] (NUL-terminated lowercase). */
void loaa_sha256_hex(const void *data, size_t n, char hex[65]);

/*
 * Hex digest of a file's whole content into hex[65].
 * On failure returns LOAA_ERR_IO (or NOTFOUND) with the path in the detail.
 */
loaa_status loaa_sha256_file(const char *path, char hex[65]);

#endif
