/*
 * rng.h - a seeded, splittable random number generator (xoshiro256**).
 *
 * A trial's randomness depends only on its seed: every consumer derives
 * its own stream with loaa_rng_split(parent, "purpose", index), e.g.
 * ("init", 0) for weights or ("order", epoch) for the data order, so adding
 * a consumer never shifts another's numbers and a resumed trial can rebuild
 * the stream for epoch e without replaying epochs 0..e-1.
 *
 * The state is four words and is saved in checkpoints as is.
 */
#ifndef LOAA_RNG_H
#define LOAA_RNG_H

#include <stdint.h>

typedef struct loaa_rng {
    uint64_t s[4];
} loaa_rng;

/* Seeds from a 64-bit value (SplitMix64 expansion, as the xoshiro authors advise). */
void loaa_rng_seed(loaa_rng *rng, uint64_t seed);

/* A child stream named by (tag, index), independent of the parent's position. */
loaa_rng loaa_rng_split(const loaa_rng *parent, const char *tag, uint64_t index);

uint64_t loaa_rng_next(loaa_rng *rng);

/* Uniform in [0, 1). */
double loaa_rng_uniform(loaa_rng *rng);

/* Uniform integer in [0, n); n > 0. Unbiased (rejection). */
uint64_t loaa_rng_below(loaa_rng *rng, uint64_t n);

/* Standard normal (Box-Muller, no cached pair so the state says everything). */
double loaa_rng_normal(loaa_rng *rng);

/* Fisher-Yates shuffle of n indices. */
void loaa_rng_shuffle(loaa_rng *rng, uint32_t *idx, uint32_t n);

#endif
