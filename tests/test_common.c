/* test_common.c - status codes, RNG, SHA-256, timers, logging. */
#include <stdint.h>
#include <string.h>

#include "common/log.h"
#include "common/rng.h"
#include "common/sha256.h"
#include "common/status.h"
#include "common/timer.h"
#include "tests/tap.h"

static void test_status(void)
{
    for (int s = 0; s < LOAA_STATUS_COUNT; s++)
        TAP_OK(loaa_strerror((loaa_status)s)[0] != '\0' && strcmp(loaa_strerror((loaa_status)s), "unknown status"),
               "strerror(%d) has words", s);
    TAP_OK(!strcmp(loaa_strerror((loaa_status)999), "unknown status"), "out-of-range status");
    loaa_status st = loaa_fail(LOAA_ERR_IO, "file %s", "x.tar");
    TAP_OK(st == LOAA_ERR_IO && !strcmp(loaa_error_detail(), "file x.tar"), "loaa_fail records the detail");
    loaa_fail_prefix(st, "%s: ", "shard");
    TAP_OK(!strcmp(loaa_error_detail(), "shard: file x.tar"), "loaa_fail_prefix prepends context");
    loaa_error_clear();
    TAP_OK(loaa_error_detail()[0] == '\0', "loaa_error_clear");
}

static void test_sha256(void)
{
    char hex[65];
    loaa_sha256_hex("", 0, hex);
    TAP_OK(!strcmp(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"), "sha256('')");
    loaa_sha256_hex("abc", 3, hex);
    TAP_OK(!strcmp(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"), "sha256('abc')");
    const char *two = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    loaa_sha256_hex(two, strlen(two), hex);
    TAP_OK(!strcmp(hex, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"), "sha256 two blocks");
    /* A million 'a's fed in odd-sized pieces exercises the block carry. */
    loaa_sha256 ctx;
    uint8_t d[32];
    char a[997];
    memset(a, 'a', sizeof a);
    loaa_sha256_init(&ctx);
    size_t left = 1000000;
    while (left) {
        size_t n = left < sizeof a ? left : sizeof a;
        loaa_sha256_update(&ctx, a, n);
        left -= n;
    }
    loaa_sha256_final(&ctx, d);
    TAP_OK(d[0] == 0xcd && d[1] == 0xc7 && d[31] == 0xd0, "sha256(10^6 x 'a')");
    TAP_OK(loaa_sha256_file("/nonexistent/file", hex) == LOAA_ERR_NOTFOUND &&
               strstr(loaa_error_detail(), "/nonexistent/file"),
           "missing file names the path");
}

static void test_rng(void)
{
    loaa_rng a, b;
    loaa_rng_seed(&a, 42);
    loaa_rng_seed(&b, 42);
    int same = 1;
    for (int i = 0; i < 100; i++)
        same &= loaa_rng_next(&a) == loaa_rng_next(&b);
    TAP_OK(same, "same seed, same stream");
    loaa_rng_seed(&b, 43);
    TAP_OK(loaa_rng_next(&a) != loaa_rng_next(&b), "different seeds differ");

    loaa_rng root;
    loaa_rng_seed(&root, 7);
    loaa_rng e3 = loaa_rng_split(&root, "order", 3);
    loaa_rng e3b = loaa_rng_split(&root, "order", 3);
    loaa_rng e4 = loaa_rng_split(&root, "order", 4);
    loaa_rng init = loaa_rng_split(&root, "init", 3);
    uint64_t x = loaa_rng_next(&e3);
    TAP_OK(x == loaa_rng_next(&e3b), "split is a pure function of (parent, tag, index)");
    TAP_OK(x != loaa_rng_next(&e4) && x != loaa_rng_next(&init), "split streams differ by tag and index");

    double sum = 0, sq = 0;
    int n = 20000, in_range = 1;
    for (int i = 0; i < n; i++) {
        double u = loaa_rng_uniform(&a);
        in_range &= u >= 0 && u < 1;
        double g = loaa_rng_normal(&a);
        sum += g;
        sq += g * g;
    }
    TAP_OK(in_range, "uniform in [0,1)");
    TAP_NEAR(sum / n, 0.0, 0.05, "normal mean ~ 0");
    TAP_NEAR(sq / n, 1.0, 0.05, "normal variance ~ 1");

    uint32_t idx[50], seen[50] = {0};
    for (uint32_t i = 0; i < 50; i++)
        idx[i] = i;
    loaa_rng_shuffle(&a, idx, 50);
    int perm = 1, moved = 0;
    for (uint32_t i = 0; i < 50; i++) {
        perm &= idx[i] < 50 && !seen[idx[i]]++;
        moved += idx[i] != i;
    }
    TAP_OK(perm && moved > 10, "shuffle is a permutation that moves things");
    int below_ok = 1;
    for (int i = 0; i < 1000; i++)
        below_ok &= loaa_rng_below(&a, 7) < 7;
    TAP_OK(below_ok, "below(7) < 7");
}

static void test_timer(void)
{
    double t0 = loaa_now();
    loaa_sleep(0.01);
    double dt = loaa_now() - t0;
    TAP_OK(dt >= 0.009 && dt < 1.0, "sleep 10 ms measured as %.4f s", dt);
    TAP_OK(loaa_wall_clock() > 1.6e9, "wall clock is a Unix time");
    TAP_OK(loaa_peak_rss() > 0, "peak RSS is known");
}

static void test_log(void)
{
    loaa_log_set_rank(3);
    TAP_OK(loaa_log_get_rank() == 3, "rank prefix set");
    loaa_log_quiet();
    TAP_OK(loaa_log_get_level() == LOAA_LOG_ERROR, "quiet keeps errors only");
    loaa_info("this line is suppressed");
    loaa_log_verbose();
    TAP_OK(loaa_log_get_level() == LOAA_LOG_DEBUG, "verbose shows debug");
    loaa_log_set_level(LOAA_LOG_INFO);
    loaa_log_set_rank(-1);
}

int main(void)
{
    test_status();
    test_sha256();
    test_rng();
    test_timer();
    test_log();
    return tap_done();
}
