/* test_common.c - status codes, RNG, SHA-256, timers, logging, dynamic buffers, mkdir -p, file reads, atomic writes, integer parsing. */
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/dynbuf.h"
#include "common/fs.h"
#include "common/jsontext.h"
#include "common/parse.h"

#include "common/log.h"
#include "common/rng.h"
#include "common/sha256.h"
#include "common/status.h"
#include "common/timer.h"
#include "tests/plant.h"
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

static void test_dynbuf(void)
{
    loaa_dyn b;
    loaa_dyn_init(&b, 16);
    TAP_OK(loaa_dyn_len(&b) == 0 && !strcmp(loaa_dyn_ptr(&b), ""), "an empty buffer reads as \"\"");
    TAP_OK(!loaa_dyn_add(&b, "abc", 3) && !loaa_dyn_addf(&b, "-%d-", 42) && !loaa_dyn_adds(&b, "xy"), "add, addf, adds");
    TAP_OK(!strcmp(loaa_dyn_ptr(&b), "abc-42-xy") && loaa_dyn_len(&b) == 9, "the pieces in order, NUL-terminated");
    loaa_dyn_drop(&b, 4);
    TAP_OK(!strcmp(loaa_dyn_ptr(&b), "42-xy"), "drop removes the front");
    TAP_OK(loaa_dyn_add(&b, "0123456789AB", 12) == LOAA_ERR_LIMIT, "passing the cap fails with LOAA_ERR_LIMIT");
    TAP_OK(loaa_dyn_len(&b) == 0 && loaa_dyn_status(&b) == LOAA_ERR_LIMIT && !loaa_dyn_take(&b, NULL), "a failed buffer is empty");
    TAP_OK(loaa_dyn_adds(&b, "x") == LOAA_ERR_LIMIT && loaa_dyn_addf(&b, "%s", "y") == LOAA_ERR_LIMIT, "and stays failed");
    loaa_dyn_free(&b);
    TAP_OK(!loaa_dyn_add(&b, "0123456789ABCDEF", 16) && loaa_dyn_len(&b) == 16, "after free: reusable; exactly the cap fits");
    loaa_dyn_free(&b);
    loaa_dyn_init(&b, 1 << 20);
    char big[600];
    memset(big, 'z', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    TAP_OK(!loaa_dyn_addf(&b, "<%s>", big) && loaa_dyn_len(&b) == 601 && loaa_dyn_ptr(&b)[600] == '>', "addf longer than its scratch");
    char *room = loaa_dyn_space(&b, 100);
    memcpy(room, "tail", 4);
    loaa_dyn_advance(&b, 4);
    size_t len;
    char *t = loaa_dyn_take(&b, &len);
    TAP_OK(t && len == 605 && !strcmp(t + 601, "tail") && loaa_dyn_len(&b) == 0, "space/advance, then take hands the bytes over");
    free(t);
    loaa_dyn_fail(&b, LOAA_ERR_NOMEM);
    TAP_OK(loaa_dyn_status(&b) == LOAA_ERR_NOMEM && loaa_dyn_adds(&b, "a") == LOAA_ERR_NOMEM, "loaa_dyn_fail marks it failed");
    loaa_dyn_free(&b);
    int *arr = NULL;
    size_t cap = 0;
    TAP_OK(!loaa_dyn_reserve_array((void **)&arr, &cap, 1000, sizeof *arr) && cap >= 1000, "reserve_array grows");
    arr[999] = 7;
    TAP_OK(!loaa_dyn_reserve_array((void **)&arr, &cap, 10, sizeof *arr) && arr[999] == 7, "and never shrinks");
    size_t before = cap;
    TAP_OK(loaa_dyn_reserve_array((void **)&arr, &cap, SIZE_MAX / 2, 16) == LOAA_ERR_NOMEM && cap == before, "an overflowing size is refused");
    free(arr);
}

static void test_fs(void)
{
    char dir[] = "/tmp/loaa-test-fs-XXXXXX";
    TAP_OK(mkdtemp(dir) != NULL, "temporary folder");
    char path[256], deep[256];
    snprintf(deep, sizeof deep, "%s/a/b/c", dir);
    struct stat sb;
    TAP_OK(!loaa_fs_make_dirs(deep) && stat(deep, &sb) == 0 && S_ISDIR(sb.st_mode), "make_dirs makes the parents");
    TAP_OK(!loaa_fs_make_dirs(deep), "and accepts what exists");
    snprintf(path, sizeof path, "%s/file", dir);
    FILE *f = fopen(path, "w");
    fputs("hello", f);
    fclose(f);
    snprintf(deep, sizeof deep, "%s/file/sub", dir);
    loaa_status st = loaa_fs_make_dirs(deep);
    TAP_OK(st == LOAA_ERR_IO && strstr(loaa_error_detail(), "cannot create") && strstr(loaa_error_detail(), "/file/sub"),
           "under a regular file: LOAA_ERR_IO naming the path: %s", loaa_error_detail());
    char *longp = malloc(PATH_MAX + 10);
    memset(longp, 'd', PATH_MAX + 9);
    longp[0] = '/';
    longp[PATH_MAX + 9] = '\0';
    st = loaa_fs_make_dirs(longp);
    TAP_OK(st == LOAA_ERR_LIMIT && strstr(loaa_error_detail(), "/ddd"), "a path over PATH_MAX: LOAA_ERR_LIMIT, not truncated: %s",
           loaa_error_detail());
    free(longp);
    char *text;
    size_t len;
    TAP_OK(!loaa_fs_read_file(path, 5, "5 bytes", &text, &len) && len == 5 && !strcmp(text, "hello"), "read_file: exactly the cap");
    free(text);
    st = loaa_fs_read_file(path, 4, "4 bytes", &text, &len);
    TAP_OK(st == LOAA_ERR_LIMIT && !text && strstr(loaa_error_detail(), "larger than 4 bytes"), "one byte over: %s", loaa_error_detail());
    snprintf(deep, sizeof deep, "%s/none", dir);
    TAP_OK(loaa_fs_read_file(deep, 100, "x", &text, &len) == LOAA_ERR_NOTFOUND && strstr(loaa_error_detail(), "/none"),
           "a missing file: LOAA_ERR_NOTFOUND naming it");
    snprintf(deep, sizeof deep, "%s/empty", dir);
    fclose(fopen(deep, "w"));
    TAP_OK(!loaa_fs_read_file(deep, 100, "x", &text, &len) && text && len == 0 && !text[0], "an empty file reads as \"\"");
    free(text);
    unlink(deep);
    unlink(path);
    snprintf(deep, sizeof deep, "rm -r %s", dir);
    TAP_OK(system(deep) == 0, "cleaned up");
}

/* Issue 18 #6: atomic writes make a fresh temporary (never a planted link), fsync, rename; nothing is left behind. */
static void test_fs_atomic(void)
{
    char dir[] = "/tmp/loaa-test-atomic-XXXXXX";
    TAP_OK(mkdtemp(dir) != NULL, "temporary folder");
    char path[256], link_pid[300], link_plain[300], victim[300];
    snprintf(path, sizeof path, "%s/out.json", dir);
    snprintf(link_pid, sizeof link_pid, "%s.tmp.%ld", path, (long)getpid());
    snprintf(link_plain, sizeof link_plain, "%s.tmp", path);
    snprintf(victim, sizeof victim, "%s/victim", dir);
    plant_link(link_pid, victim);
    symlink(victim, link_plain);
    char *text = NULL;
    size_t len;
    loaa_error_clear();
    loaa_status st = loaa_fs_write_atomic(path, "new\n", 4);
    TAP_OK(!st && !loaa_fs_read_file(path, 100, "x", &text, &len) && !strcmp(text, "new\n"), "write_atomic writes the file: %s",
           loaa_error_detail());
    free(text);
    TAP_OK(plant_intact(link_pid, victim) && plant_intact(link_plain, victim), "links planted at PATH.tmp.PID and PATH.tmp not followed");
    TAP_OK(plant_leftovers(dir, "out.json.tmp") == 0, "no temporary left behind");

    loaa_fs_atomic a;
    TAP_OK(!loaa_fs_atomic_open(&a, path) && loaa_fs_atomic_stream(&a) && fprintf(a.stream, "streamed\n") > 0 &&
               !loaa_fs_atomic_commit(&a) && !loaa_fs_read_file(path, 100, "x", &text, &len) && !strcmp(text, "streamed\n"),
           "a stream over the temporary commits: %s", loaa_error_detail());
    free(text);
    TAP_OK(!loaa_fs_atomic_open(&a, path) && write(a.fd, "half", 4) == 4, "a second writer starts");
    loaa_fs_atomic_abort(&a);
    TAP_OK(!loaa_fs_read_file(path, 100, "x", &text, &len) && !strcmp(text, "streamed\n") && plant_leftovers(dir, "out.json.tmp") == 0,
           "abort leaves the final file as it was and removes the temporary");
    free(text);
    char *longp = malloc(PATH_MAX + 1);
    memset(longp, 'd', PATH_MAX - 20);
    longp[0] = '/';
    longp[PATH_MAX - 20] = '\0';
    st = loaa_fs_atomic_open(&a, longp);
    TAP_OK(st == LOAA_ERR_LIMIT && strstr(loaa_error_detail(), "/ddd"), "a path whose temporary would not fit: LOAA_ERR_LIMIT: %s",
           loaa_error_detail());
    free(longp);
    snprintf(path, sizeof path, "%s/no/such/folder/f", dir);
    st = loaa_fs_write_atomic(path, "x", 1);
    TAP_OK(st == LOAA_ERR_IO && strstr(loaa_error_detail(), "cannot create") && strstr(loaa_error_detail(), "/no/such/folder/f.tmp."),
           "a missing folder: LOAA_ERR_IO naming the temporary: %s", loaa_error_detail());
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -r %s", dir);
    TAP_OK(system(cmd) == 0, "cleaned up");
}

static void test_parse(void)
{
    long v = 99;
    TAP_OK(!loaa_parse_long("42", 0, 100, &v) && v == 42, "parse_long 42");
    TAP_OK(!loaa_parse_long("-7", -10, 10, &v) && v == -7, "a sign");
    v = 99;
    TAP_OK(loaa_parse_long("", 0, 100, &v) == LOAA_ERR_PARSE && loaa_parse_long("4x", 0, 100, &v) == LOAA_ERR_PARSE &&
               loaa_parse_long(" ", 0, 100, &v) == LOAA_ERR_PARSE && loaa_parse_long("99999999999999999999", LONG_MIN, LONG_MAX, &v) == LOAA_ERR_PARSE,
           "empty, trailing text, blank, overflow: LOAA_ERR_PARSE");
    TAP_OK(loaa_parse_long("101", 0, 100, &v) == LOAA_ERR_CONFIG && v == 99, "out of range: LOAA_ERR_CONFIG, *out unchanged");
    int64_t i = 0;
    double x = 0;
    json_t *j = json_integer(5), *r = json_real(6.0), *fr = json_real(6.5), *s = json_string("7");
    TAP_OK(loaa_parse_json_int(j, &i, &x) && i == 5 && x == 5.0, "json integer");
    TAP_OK(loaa_parse_json_int(r, &i, NULL) && i == 6, "json real without a fraction");
    TAP_OK(!loaa_parse_json_int(fr, &i, NULL) && !loaa_parse_json_int(s, &i, NULL) && !loaa_parse_json_int(NULL, &i, NULL) && i == 6,
           "a fraction, a string, nothing: refused");
    json_decref(j);
    json_decref(r);
    json_decref(fr);
    json_decref(s);
}

/* Issue 18 #11: bytes that are not UTF-8 become an escaped JSON string instead of no value. */
static void test_json_bytes(void)
{
    static const struct { const char *in, *out; int escaped; } cases[] = {
        {"plain/\\name.wav", "plain/\\name.wav", 0}, /* valid UTF-8, backslash kept as is */
        {"caf\xc3\xa9", "caf\xc3\xa9", 0},
        {"a\xff" "b\\c", "a\\xffb\\\\c", 1},
        {"\xc0\xaf\xed\xa0\x80", "\\xc0\\xaf\\xed\\xa0\\x80", 1}, /* overlong '/', a surrogate */
        {"x\xe2\x82", "x\\xe2\\x82", 1},                             /* truncated sequence */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int escaped = -1;
        json_t *v = loaa_json_bytes(cases[i].in, &escaped);
        TAP_OK(v && !strcmp(json_string_value(v), cases[i].out) && escaped == cases[i].escaped, "JSON string for bytes %zu: %s",
               i, v ? json_string_value(v) : "(null)");
        json_decref(v);
    }
}

int main(void)
{
    test_status();
    test_json_bytes();
    test_sha256();
    test_rng();
    test_timer();
    test_log();
    test_dynbuf();
    test_fs();
    test_fs_atomic();
    test_parse();
    return tap_done();
}
