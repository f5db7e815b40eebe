/* test_safetensors.c - safetensors round trips, dtype conversion, and every kind of corrupt file. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/status.h"
#include "kernels/safetensors.h"
#include "tests/plant.h"
#include "tests/tap.h"

static char dir[256];

static const char *tmp_path(const char *name)
{
    static char buf[512];
    snprintf(buf, sizeof buf, "%s/%s", dir, name);
    return buf;
}

/* A file from a header text and raw data bytes; hlen_override != 0 lies about the header length. */
static void write_raw(const char *path, const char *header, const void *data, size_t dlen, uint64_t hlen_override)
{
    FILE *f = fopen(path, "wb");
    uint64_t n = hlen_override ? hlen_override : strlen(header);
    uint8_t b[8];
    for (int i = 0; i < 8; i++)
        b[i] = (uint8_t)(n >> (8 * i));
    fwrite(b, 1, 8, f);
    fwrite(header, 1, strlen(header), f);
    if (dlen)
        fwrite(data, 1, dlen, f);
    fclose(f);
}

/* Opens a raw file and expects failure with status want and a detail containing each of the words. */
static void expect_open_fails(const char *what, const char *header, const void *data, size_t dlen, uint64_t hlen,
                              loaa_status want, const char *word1, const char *word2)
{
    const char *p = tmp_path("bad.safetensors");
    write_raw(p, header, data, dlen, hlen);
    loaa_safetensors_file *f = NULL;
    loaa_error_clear();
    loaa_status st = loaa_safetensors_open(p, &f);
    const char *d = loaa_error_detail();
    int ok = st == want && !f && strstr(d, "bad.safetensors") && (!word1 || strstr(d, word1)) &&
             (!word2 || strstr(d, word2));
    TAP_OK(ok, "%s: refused (%s)", what, d);
    if (!ok)
        TAP_DIAG("status %s, want %s", loaa_strerror(st), loaa_strerror(want));
    loaa_safetensors_close(f);
}

static void test_round_trip(void)
{
    float a[6] = {1, -2.5f, 3e-8f, 1e30f, 0, -0.0f};
    float s = 42;
    float big[1000];
    for (int i = 0; i < 1000; i++)
        big[i] = (float)i * 0.001f - 0.3f;
    int64_t sa[2] = {2, 3}, sb[3] = {10, 10, 10}, se[2] = {0, 4};
    loaa_safetensors_writer *w;
    TAP_OK(loaa_safetensors_writer_new(&w) == LOAA_OK, "writer created");
    TAP_OK(loaa_safetensors_writer_add(w, "blocks.0.attn.qkv.weight", a, 2, sa) == LOAA_OK, "add 2-D");
    TAP_OK(loaa_safetensors_writer_add_copy(w, "scalar", &s, 0, NULL) == LOAA_OK, "add 0-D (copied)");
    s = 7; /* the copy must not see this */
    TAP_OK(loaa_safetensors_writer_add(w, "big", big, 3, sb) == LOAA_OK, "add 3-D");
    TAP_OK(loaa_safetensors_writer_add(w, "empty", NULL, 2, se) == LOAA_OK, "add zero-size");
    TAP_OK(loaa_safetensors_writer_add(w, "big", big, 3, sb) != LOAA_OK, "duplicate name refused");
    TAP_OK(loaa_safetensors_writer_add(w, "__metadata__", big, 3, sb) != LOAA_OK, "reserved name refused");
    TAP_OK(loaa_safetensors_writer_meta(w, "loaa.config", "{\"lr\":0.001}") == LOAA_OK, "metadata");
    TAP_OK(loaa_safetensors_writer_meta(w, "format", "pt") == LOAA_OK, "metadata 2");
    char p[512];
    snprintf(p, sizeof p, "%s", tmp_path("rt.safetensors"));
    TAP_OK(loaa_safetensors_writer_save(w, p) == LOAA_OK, "saved: %s", loaa_error_detail());
    loaa_safetensors_writer_free(w);
    char tmpname[64];
    snprintf(tmpname, sizeof tmpname, "rt.safetensors.tmp.%ld", (long)getpid());
    TAP_OK(access(tmp_path(tmpname), F_OK) != 0 && plant_leftovers(dir, "rt.safetensors.tmp") == 0, "no temporary left behind");

    /* issue 18 #6: a link planted at the old temporary name PATH.tmp.PID is not followed */
    char victim[512], link[600];
    snprintf(victim, sizeof victim, "%s", tmp_path("victim"));
    snprintf(link, sizeof link, "%s.tmp.%ld", tmp_path("planted.safetensors"), (long)getpid());
    plant_link(link, victim);
    loaa_safetensors_writer *pw = NULL;
    int64_t one[1] = {1};
    loaa_status pst = loaa_safetensors_writer_new(&pw);
    if (!pst)
        pst = loaa_safetensors_writer_add(pw, "x", a, 1, one);
    if (!pst)
        pst = loaa_safetensors_writer_save(pw, tmp_path("planted.safetensors"));
    loaa_safetensors_writer_free(pw);
    TAP_OK(!pst && access(tmp_path("planted.safetensors"), R_OK) == 0 && plant_intact(link, victim) &&
               plant_leftovers(dir, "planted.safetensors.tmp") == 0,
           "saved beside a link planted at its old temporary name, which is not followed: %s", pst ? loaa_error_detail() : "ok");
    unlink(link);
    unlink(victim);
    unlink(tmp_path("planted.safetensors"));

    loaa_safetensors_file *f;
    loaa_status st = loaa_safetensors_open(p, &f);
    TAP_OK(st == LOAA_OK, "reopened: %s", loaa_error_detail());
    if (st)
        return;
    TAP_OK(loaa_safetensors_count(f) == 4, "4 tensors");
    TAP_OK(!strcmp(loaa_safetensors_tensor_at(f, 0)->name, "big"), "tensors ordered by name");
    const loaa_safetensors_tensor *t = loaa_safetensors_find(f, "blocks.0.attn.qkv.weight");
    TAP_OK(t && t->ndim == 2 && t->shape[0] == 2 && t->shape[1] == 3 && t->numel == 6 && t->dtype == LOAA_SAFETENSORS_F32,
           "shape and dtype");
    float got[6];
    TAP_OK(t && loaa_safetensors_read_f32(f, t, got, 6) == LOAA_OK && !memcmp(got, a, sizeof a), "values bit-exact");
    TAP_OK(t && loaa_safetensors_read_f32(f, t, got, 5) == LOAA_ERR_SHAPE && strstr(loaa_error_detail(), "qkv"),
           "wrong count refused naming the tensor");
    t = loaa_safetensors_find(f, "scalar");
    float gs = 0;
    TAP_OK(t && t->ndim == 0 && t->numel == 1 && loaa_safetensors_read_f32(f, t, &gs, 1) == LOAA_OK && gs == 42,
           "0-D tensor (copy kept)");
    t = loaa_safetensors_find(f, "big");
    float *gb = malloc(sizeof big);
    TAP_OK(t && loaa_safetensors_read_f32(f, t, gb, 1000) == LOAA_OK && !memcmp(gb, big, sizeof big), "3-D values");
    free(gb);
    t = loaa_safetensors_find(f, "empty");
    TAP_OK(t && t->numel == 0 && loaa_safetensors_read_f32(f, t, NULL, 0) == LOAA_OK, "zero-size tensor");
    TAP_OK(!strcmp(loaa_safetensors_meta(f, "loaa.config"), "{\"lr\":0.001}") && !strcmp(loaa_safetensors_meta(f, "format"), "pt") &&
               loaa_safetensors_meta(f, "nope") == NULL && loaa_safetensors_meta_count(f) == 2,
           "metadata read back");
    const loaa_safetensors_tensor *r;
    TAP_OK(loaa_safetensors_require(f, "pos_embed", &r) == LOAA_ERR_NOTFOUND && strstr(loaa_error_detail(), "'pos_embed'") &&
               strstr(loaa_error_detail(), "rt.safetensors"),
           "missing tensor: %s", loaa_error_detail());
    loaa_safetensors_close(f);

    /* The data section starts 8-aligned (header padded), as other readers expect. */
    FILE *fp = fopen(p, "rb");
    uint8_t b[8];
    TAP_OK(fread(b, 1, 8, fp) == 8 && b[0] % 8 == 0, "header padded to 8 bytes");
    fclose(fp);
}

static void test_dtypes(void)
{
    /* F16: 1, -2, 0.5, smallest subnormal, 65504, -0; BF16: 1, -3.5 */
    uint16_t h[6] = {0x3c00, 0xc000, 0x3800, 0x0001, 0x7bff, 0x8000};
    uint16_t bf[2] = {0x3f80, 0xc060};
    uint8_t data[16];
    for (int i = 0; i < 6; i++) {
        data[2 * i] = (uint8_t)h[i];
        data[2 * i + 1] = (uint8_t)(h[i] >> 8);
    }
    for (int i = 0; i < 2; i++) {
        data[12 + 2 * i] = (uint8_t)bf[i];
        data[13 + 2 * i] = (uint8_t)(bf[i] >> 8);
    }
    const char *p = tmp_path("half.safetensors");
    write_raw(p,
              "{\"h\":{\"dtype\":\"F16\",\"shape\":[6],\"data_offsets\":[0,12]},"
              "\"b\":{\"dtype\":\"BF16\",\"shape\":[1,2],\"data_offsets\":[12,16]}}",
              data, 16, 0);
    loaa_safetensors_file *f;
    TAP_OK(loaa_safetensors_open(p, &f) == LOAA_OK, "F16/BF16 file opens: %s", loaa_error_detail());
    float g[6];
    TAP_OK(loaa_safetensors_read_f32(f, loaa_safetensors_find(f, "h"), g, 6) == LOAA_OK && g[0] == 1 && g[1] == -2 && g[2] == 0.5f &&
               g[3] == ldexpf(1, -24) && g[4] == 65504 && g[5] == 0 && signbit(g[5]),
           "F16 converted exactly");
    TAP_OK(loaa_safetensors_read_f32(f, loaa_safetensors_find(f, "b"), g, 2) == LOAA_OK && g[0] == 1 && g[1] == -3.5f,
           "BF16 converted exactly");
    loaa_safetensors_close(f);
    TAP_OK(isinf(loaa_f16_to_f32(0x7c00)) && isnan(loaa_f16_to_f32(0x7e00)), "F16 inf and nan");

    /* A dtype of the format that loaa does not convert: the file opens, reading names the tensor. */
    uint8_t z[8] = {0};
    write_raw(p, "{\"position_ids\":{\"dtype\":\"I64\",\"shape\":[1],\"data_offsets\":[0,8]}}", z, 8, 0);
    TAP_OK(loaa_safetensors_open(p, &f) == LOAA_OK, "I64 buffer: file opens");
    TAP_OK(loaa_safetensors_read_f32(f, loaa_safetensors_find(f, "position_ids"), g, 1) == LOAA_ERR_UNSUPPORTED &&
               strstr(loaa_error_detail(), "'position_ids'") && strstr(loaa_error_detail(), "I64"),
           "I64 read refused: %s", loaa_error_detail());
    loaa_safetensors_close(f);

    /* NaN and Inf in the data. */
    float nanv[3] = {1, NAN, 2};
    write_raw(p, "{\"w\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,12]}}", nanv, 12, 0);
    TAP_OK(loaa_safetensors_open(p, &f) == LOAA_OK, "NaN file opens (header fine)");
    TAP_OK(loaa_safetensors_read_f32(f, loaa_safetensors_find(f, "w"), g, 3) == LOAA_ERR_NUMERIC &&
               strstr(loaa_error_detail(), "'w'") && strstr(loaa_error_detail(), "element 1 is NaN"),
           "NaN refused naming tensor and element: %s", loaa_error_detail());
    loaa_safetensors_close(f);
    uint16_t hinf = 0x7c00;
    write_raw(p, "{\"w\":{\"dtype\":\"F16\",\"shape\":[],\"data_offsets\":[0,2]}}", &hinf, 2, 0);
    TAP_OK(loaa_safetensors_open(p, &f) == LOAA_OK &&
               loaa_safetensors_read_f32(f, loaa_safetensors_find(f, "w"), NULL, 1) == LOAA_ERR_NUMERIC &&
               strstr(loaa_error_detail(), "Inf"),
           "F16 Inf refused in check-only mode");
    loaa_safetensors_close(f);

    /* The writer refuses NaN and leaves an existing target untouched. */
    const char *t = tmp_path("keep.safetensors");
    write_raw(t, "{}", NULL, 0, 0);
    loaa_safetensors_writer *w;
    loaa_safetensors_writer_new(&w);
    int64_t sh = 3;
    loaa_safetensors_writer_add(w, "blocks.1.mlp.fc1.bias", nanv, 1, &sh);
    TAP_OK(loaa_safetensors_writer_save(w, t) == LOAA_ERR_NUMERIC && strstr(loaa_error_detail(), "'blocks.1.mlp.fc1.bias'"),
           "writer refuses NaN naming the tensor");
    loaa_safetensors_writer_free(w);
    TAP_OK(loaa_safetensors_open(t, &f) == LOAA_OK && loaa_safetensors_count(f) == 0, "target untouched by a refused save");
    loaa_safetensors_close(f);
    loaa_safetensors_writer_new(&w);
    TAP_OK(loaa_safetensors_writer_save(w, "/nonexistent-dir/x.safetensors") == LOAA_ERR_IO &&
               strstr(loaa_error_detail(), "nonexistent-dir"),
           "unwritable folder: IO error naming the path");
    loaa_safetensors_writer_free(w);
}

static void test_corrupt(void)
{
    float d[4] = {1, 2, 3, 4};
    loaa_safetensors_file *f = NULL;
    const char *p = tmp_path("bad.safetensors");
    write_raw(p, "", NULL, 0, 0);
    FILE *fp = fopen(p, "wb");
    fwrite("abc", 1, 3, fp);
    fclose(fp);
    TAP_OK(loaa_safetensors_open(p, &f) == LOAA_ERR_FORMAT && strstr(loaa_error_detail(), "too short"), "3-byte file");
    TAP_OK(loaa_safetensors_open(tmp_path("absent.safetensors"), &f) == LOAA_ERR_NOTFOUND &&
               strstr(loaa_error_detail(), "absent.safetensors"),
           "missing file");

    const char *ok1 = "{\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]}}";
    expect_open_fails("header length past the end", ok1, d, 16, 1000, LOAA_ERR_FORMAT, "past the end", NULL);
    expect_open_fails("header length over the cap", ok1, d, 16, (uint64_t)1 << 40, LOAA_ERR_LIMIT, "cap", NULL);
    expect_open_fails("header length 2^64-1", ok1, d, 16, UINT64_MAX, LOAA_ERR_LIMIT, "cap", NULL);
    expect_open_fails("not JSON", "{\"a\":[1,2", NULL, 0, 0, LOAA_ERR_FORMAT, "JSON", NULL);
    expect_open_fails("JSON array", "[1, 2, 3]", NULL, 0, 0, LOAA_ERR_FORMAT, "not a JSON object", NULL);
    expect_open_fails("duplicate tensor name",
                      "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                      "\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,16]}}",
                      d, 16, 0, LOAA_ERR_FORMAT, "duplicate", NULL);
    expect_open_fails("overlapping offsets",
                      "{\"a\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,12]},"
                      "\"b\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[4,16]}}",
                      d, 16, 0, LOAA_ERR_FORMAT, "'b'", "overlaps tensor 'a'");
    expect_open_fails("offsets out of range", "{\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[16,32]}}",
                      d, 16, 0, LOAA_ERR_FORMAT, "'a'", "outside");
    expect_open_fails("huge offsets", "{\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,9223372036854775807]}}",
                      d, 16, 0, LOAA_ERR_FORMAT, "'a'", "outside");
    expect_open_fails("end before begin", "{\"a\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[16,0]}}", d, 16,
                      0, LOAA_ERR_FORMAT, "'a'", "before begin");
    expect_open_fails("gap in the data",
                      "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
                      "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,16]}}",
                      d, 16, 0, LOAA_ERR_FORMAT, "'b'", "gap");
    expect_open_fails("trailing data", "{\"a\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,12]}}", d, 16, 0,
                      LOAA_ERR_FORMAT, "trailing", NULL);
    expect_open_fails("unknown dtype", "{\"enc.w\":{\"dtype\":\"Q7\",\"shape\":[4],\"data_offsets\":[0,16]}}", d, 16,
                      0, LOAA_ERR_FORMAT, "'enc.w'", "dtype");
    expect_open_fails("dtype not a string", "{\"a\":{\"dtype\":4,\"shape\":[4],\"data_offsets\":[0,16]}}", d, 16, 0,
                      LOAA_ERR_FORMAT, "'a'", "dtype");
    expect_open_fails("shape product vs size", "{\"head.weight\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[0,16]}}",
                      d, 16, 0, LOAA_ERR_FORMAT, "'head.weight'", "24 bytes");
    expect_open_fails("dtype size vs size", "{\"a\":{\"dtype\":\"F16\",\"shape\":[4],\"data_offsets\":[0,16]}}", d, 16,
                      0, LOAA_ERR_FORMAT, "'a'", "F16");
    expect_open_fails("negative dimension", "{\"a\":{\"dtype\":\"F32\",\"shape\":[-4],\"data_offsets\":[0,16]}}", d,
                      16, 0, LOAA_ERR_FORMAT, "'a'", "shape[0]");
    expect_open_fails("fractional dimension", "{\"a\":{\"dtype\":\"F32\",\"shape\":[4.0],\"data_offsets\":[0,16]}}", d,
                      16, 0, LOAA_ERR_FORMAT, "'a'", "shape[0]");
    expect_open_fails("shape overflow",
                      "{\"a\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296,4294967296],\"data_offsets\":[0,16]}}", d,
                      16, 0, LOAA_ERR_FORMAT, "'a'", "overflow");
    expect_open_fails("too many dimensions",
                      "{\"a\":{\"dtype\":\"F32\",\"shape\":[1,1,1,1,1,1,1,1,1,4],\"data_offsets\":[0,16]}}", d, 16, 0,
                      LOAA_ERR_FORMAT, "'a'", "dimensions");
    expect_open_fails("offsets not a pair", "{\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0]}}", d, 16, 0,
                      LOAA_ERR_FORMAT, "'a'", "data_offsets");
    expect_open_fails("entry not an object", "{\"a\":[1,2,3]}", NULL, 0, 0, LOAA_ERR_FORMAT, "'a'", NULL);
    expect_open_fails("extra key in entry",
                      "{\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16],\"x\":1}}", d, 16, 0,
                      LOAA_ERR_FORMAT, "'a'", "unexpected");
    expect_open_fails("metadata not strings", "{\"__metadata__\":{\"epoch\":3}}", NULL, 0, 0, LOAA_ERR_FORMAT,
                      "'epoch'", NULL);
    expect_open_fails("metadata not an object", "{\"__metadata__\":[]}", NULL, 0, 0, LOAA_ERR_FORMAT, "__metadata__",
                      NULL);
    expect_open_fails("data without tensors", "{}", d, 16, 0, LOAA_ERR_FORMAT, "no tensors", NULL);

    /* Nesting 100000 deep: jansson's depth cap refuses it, no stack overflow. */
    size_t depth = 100000;
    char *deep = malloc(2 * depth + 64);
    size_t at = (size_t)snprintf(deep, 64, "{\"a\":");
    for (size_t i = 0; i < depth; i++)
        deep[at++] = '[';
    for (size_t i = 0; i < depth; i++)
        deep[at++] = ']';
    deep[at++] = '}';
    deep[at] = '\0';
    expect_open_fails("deeply nested JSON", deep, NULL, 0, 0, LOAA_ERR_FORMAT, "JSON", NULL);
    free(deep);
}

/* Every truncation and a sweep of byte flips of a valid file: an error or a valid file, never a crash. */
static void test_mutations(void)
{
    float a[6] = {1, 2, 3, 4, 5, 6};
    int64_t s1[2] = {2, 2}, s2[1] = {2};
    loaa_safetensors_writer *w;
    loaa_safetensors_writer_new(&w);
    loaa_safetensors_writer_add(w, "x", a, 2, s1);
    loaa_safetensors_writer_add(w, "y", a + 4, 1, s2);
    loaa_safetensors_writer_meta(w, "k", "v");
    const char *p = tmp_path("mut.safetensors");
    loaa_safetensors_writer_save(w, p);
    loaa_safetensors_writer_free(w);
    FILE *fp = fopen(p, "rb");
    uint8_t buf[512];
    size_t n = fread(buf, 1, sizeof buf, fp);
    fclose(fp);
    int bad = 0, errors_named = 1;
    for (size_t len = 0; len < n; len++) {
        loaa_safetensors_file *f = NULL;
        loaa_error_clear();
        if (loaa_safetensors_open_memory(buf, len, "trunc", &f) == LOAA_OK)
            bad++;
        else if (!strstr(loaa_error_detail(), "trunc"))
            errors_named = 0;
        loaa_safetensors_close(f);
    }
    TAP_OK(bad == 0 && errors_named, "all %zu truncations refused with the name in the detail", n);
    int opened = 0, refused = 0;
    for (size_t i = 0; i < n; i++) {
        for (int bit = 0; bit < 8; bit++) {
            uint8_t *m = malloc(n);
            memcpy(m, buf, n);
            m[i] ^= (uint8_t)(1u << bit);
            loaa_safetensors_file *f = NULL;
            if (loaa_safetensors_open_memory(m, n, "flip", &f) == LOAA_OK) {
                opened++;
                for (size_t t = 0; t < loaa_safetensors_count(f); t++) {
                    const loaa_safetensors_tensor *ten = loaa_safetensors_tensor_at(f, t);
                    float *out = malloc(ten->numel * sizeof(float) + 1);
                    loaa_safetensors_read_f32(f, ten, out, ten->numel);
                    free(out);
                }
            } else {
                refused++;
            }
            loaa_safetensors_close(f);
            free(m);
        }
    }
    TAP_OK(opened + refused == (int)n * 8, "%d bit flips: %d refused, %d still valid, no crash", (int)n * 8, refused,
           opened);
}

int main(void)
{
    snprintf(dir, sizeof dir, "/tmp/loaa-test-st-XXXXXX");
    if (!mkdtemp(dir))
        return 1;
    test_round_trip();
    test_dtypes();
    test_corrupt();
    test_mutations();
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        TAP_DIAG("could not remove %s", dir);
    return tap_done();
}
