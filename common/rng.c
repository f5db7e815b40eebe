/* rng.c - xoshiro256** with SplitMix64 seeding; see rng.h. */
#include "common/rng.h"

#include <math.h>

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

void loaa_rng_seed(loaa_rng *rng, uint64_t seed)
{
    uint64_t x = seed;
    for (int i = 0; i < 4; i++)
        rng->s[i] = splitmix64(&x);
}

loaa_rng loaa_rng_split(const loaa_rng *parent, const char *tag, uint64_t index)
{
    /* FNV-1a over the tag, mixed with the parent state and the index. */
    uint64_t h = 0xcbf29ce484222325ULL;
    for (const char *p = tag; p && *p; p++)
        h = (h ^ (unsigned char)*p) * 0x100000001b3ULL;
    uint64_t x = h ^ parent->s[0] ^ rotl(parent->s[1], 17) ^ rotl(parent->s[2], 31) ^
                 rotl(parent->s[3], 47);
    x ^= splitmix64(&index);
    loaa_rng child;
    loaa_rng_seed(&child, x);
    return child;
}

uint64_t loaa_rng_next(loaa_rng *rng)
{
    uint64_t *s = rng->s;
    const uint64_t result = rotl(s[1] * 5, 7) * 9;
    const uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

double loaa_rng_uniform(loaa_rng *rng) { return (double)(loaa_rng_next(rng) >> 11) * 0x1.0p-53; }

uint64_t loaa_rng_below(loaa_rng *rng, uint64_t n)
{
    uint64_t limit = UINT64_MAX - UINT64_MAX % n;
    uint64_t r;
    do
        r = loaa_rng_next(rng);
    while (r >= limit);
    return r % n;
}

double loaa_rng_normal(loaa_rng *rng)
{
    double u1 = loaa_rng_uniform(rng), u2 = loaa_rng_uniform(rng);
    if (u1 < 1e-300)
        u1 = 1e-300;
    return sqrt(-2.0 * log(u1)) * cos(2.0 * M_PI * u2);
}

void loaa_rng_shuffle(loaa_rng *rng, uint32_t *idx, uint32_t n)
{
    for (uint32_t i = n; i > 1; i--) {
        uint32_t j = (uint32_t)loaa_rng_below(rng, i);
        uint32_t t = idx[i - 1];
        idx[i - 1] = idx[j];
        idx[j] = t;
    }
}
