/*
 * audio.c - decoding with libsndfile straight from a memory buffer (virtual
 * I/O, so shard entries are never written to disk), and resampling with soxr.
 */
#include "worker/audio.h"

#include <errno.h>
#include <sndfile.h>
#include <soxr.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct membuf {
    unsigned char *data; /* read-only for readers */
    sf_count_t size, pos, cap;
    int writable;
} membuf;

static sf_count_t vio_len(void *u) { return ((membuf *)u)->size; }

static sf_count_t vio_seek(sf_count_t off, int whence, void *u)
{
    membuf *m = u;
    sf_count_t p = whence == SEEK_SET ? off : whence == SEEK_CUR ? m->pos + off : m->size + off;
    if (p < 0)
        p = 0;
    if (!m->writable && p > m->size)
        p = m->size;
    m->pos = p;
    return p;
}

static sf_count_t vio_read(void *ptr, sf_count_t count, void *u)
{
    membuf *m = u;
    if (count < 0 || m->pos >= m->size)
        return 0;
    if (count > m->size - m->pos)
        count = m->size - m->pos;
    memcpy(ptr, m->data + m->pos, count);
    m->pos += count;
    return count;
}

static sf_count_t vio_write(const void *ptr, sf_count_t count, void *u)
{
    membuf *m = u;
    if (!m->writable || count < 0)
        return 0;
    if (m->pos + count > m->cap) {
        sf_count_t cap = m->cap ? m->cap : 65536;
        while (cap < m->pos + count)
            cap *= 2;
        unsigned char *d = realloc(m->data, cap);
        if (!d)
            return 0;
        memset(d + m->cap, 0, cap - m->cap);
        m->data = d;
        m->cap = cap;
    }
    memcpy(m->data + m->pos, ptr, count);
    m->pos += count;
    if (m->pos > m->size)
        m->size = m->pos;
    return count;
}

static sf_count_t vio_tell(void *u) { return ((membuf *)u)->pos; }

int loaa_audio_format_may_be_nonfinite(int sf_format)
{
    switch (sf_format & SF_FORMAT_SUBMASK) {
    case SF_FORMAT_PCM_S8:
    case SF_FORMAT_PCM_U8:
    case SF_FORMAT_PCM_16:
    case SF_FORMAT_PCM_24:
    case SF_FORMAT_PCM_32:
    case SF_FORMAT_ULAW:
    case SF_FORMAT_ALAW:
        return 0; /* integer PCM is finite and bounded by construction */
    default:
        return 1; /* float, double and the float decoders (Vorbis, Opus, ...) */
    }
}

/* Reads all frames, down-mixed, into *buf (grown as needed; *cap in samples). */
static loaa_status decode_sndfile(SNDFILE *sf, const SF_INFO *info, const char *name, float **buf, size_t *cap, size_t *n,
                                  int *rate)
{
    /* below 1 kHz no recording is plausible, and resampling up from it would multiply the work */
    if (info->channels < 1 || info->channels > 64 || info->samplerate < 1000 || info->samplerate > 1000000)
        return loaa_fail(LOAA_ERR_FORMAT, "%s: bad audio header (%d channels, %d Hz)", name, info->channels,
                         info->samplerate);
    if (info->frames > LOAA_AUDIO_MAX_FRAMES)
        return loaa_fail(LOAA_ERR_LIMIT, "%s: %lld samples per channel, over the limit of %ld", name,
                         (long long)info->frames, LOAA_AUDIO_MAX_FRAMES);
    /* Some formats (Ogg, streamed WAV) report no length: read in chunks until EOF. */
    /* the header's length sizes the first allocation, up to 4 Mi samples: a hostile header
       cannot make a small entry reserve gigabytes; real data grows the buffer as it comes */
    size_t want = info->frames > 0 && info->frames < (1 << 22) ? (size_t)info->frames + 1 : 16384;
    int ch = info->channels;
    float *chunk = NULL;
    if (ch > 1 && !(chunk = malloc((size_t)4096 * ch * sizeof(float))))
        return loaa_fail(LOAA_ERR_NOMEM, "%s: out of memory", name);
    size_t len = 0;
    for (;;) {
        if (len + 4096 > *cap || want > *cap) {
            size_t nc = *cap ? *cap : 16384;
            while (nc < len + 4096 || nc < want)
                nc *= 2;
            float *m = realloc(*buf, nc * sizeof(float));
            if (!m) {
                free(chunk);
                return loaa_fail(LOAA_ERR_NOMEM, "%s: out of memory", name);
            }
            *buf = m;
            *cap = nc;
        }
        float *dst = *buf + len;
        sf_count_t got = sf_readf_float(sf, ch == 1 ? dst : chunk, ch == 1 ? (sf_count_t)(*cap - len) : 4096);
        if (got <= 0)
            break;
        if (len + (size_t)got > (size_t)LOAA_AUDIO_MAX_FRAMES) {
            free(chunk);
            return loaa_fail(LOAA_ERR_LIMIT, "%s: more than %ld samples per channel", name, LOAA_AUDIO_MAX_FRAMES);
        }
        if (ch > 1)
            for (sf_count_t i = 0; i < got; i++) {
                float v = 0;
                for (int c = 0; c < ch; c++)
                    v += chunk[i * ch + c];
                dst[i] = v / ch;
            }
        len += (size_t)got;
    }
    free(chunk);
    int err = sf_error(sf);
    if (err != SF_ERR_NO_ERROR)
        return loaa_fail(LOAA_ERR_FORMAT, "%s: %s", name, sf_error_number(err));
    if (len == 0)
        return loaa_fail(LOAA_ERR_FORMAT, "%s: empty audio (no samples)", name);
    const float *x = *buf;
    if (loaa_audio_format_may_be_nonfinite(info->format))
        for (size_t i = 0; i < len; i++)
            if (!(x[i] == x[i]) || x[i] > 1e6f || x[i] < -1e6f)
                return loaa_fail(LOAA_ERR_NUMERIC, "%s: sample %zu is not a finite number", name, i);
    *n = len;
    *rate = info->samplerate;
    return LOAA_OK;
}

loaa_status loaa_audio_decode_into(const void *data, size_t size, const char *name, float **buf, size_t *cap, size_t *n,
                                   int *rate)
{
    *n = 0;
    if (size == 0)
        return loaa_fail(LOAA_ERR_FORMAT, "%s: empty audio entry (0 bytes)", name);
    membuf m = {(unsigned char *)data, (sf_count_t)size, 0, (sf_count_t)size, 0};
    SF_VIRTUAL_IO vio = {vio_len, vio_seek, vio_read, vio_write, vio_tell};
    SF_INFO info;
    memset(&info, 0, sizeof info);
    SNDFILE *sf = sf_open_virtual(&vio, SFM_READ, &info, &m);
    if (!sf)
        return loaa_fail(LOAA_ERR_FORMAT, "%s: not a readable audio file (%s)", name, sf_strerror(NULL));
    loaa_status st = decode_sndfile(sf, &info, name, buf, cap, n, rate);
    sf_close(sf);
    return st;
}

loaa_status loaa_audio_decode(const void *data, size_t size, const char *name, float **out, size_t *n, int *rate)
{
    float *buf = NULL;
    size_t cap = 0;
    loaa_status st = loaa_audio_decode_into(data, size, name, &buf, &cap, n, rate);
    if (st) {
        free(buf);
        buf = NULL;
    }
    *out = buf;
    return st;
}

/* Opens path for libsndfile (header read and checked; *f and *sf both open on success, both NULL after a failure). */
static loaa_status open_audio_file(const char *path, FILE **f, SF_INFO *info, SNDFILE **sf)
{
    *sf = NULL;
    memset(info, 0, sizeof *info);
    *f = fopen(path, "rb");
    if (!*f)
        return loaa_fail(errno == ENOENT ? LOAA_ERR_NOTFOUND : LOAA_ERR_IO, "%s: %s", path, strerror(errno));
    *sf = sf_open_fd(fileno(*f), SFM_READ, info, 0);
    if (!*sf) {
        fclose(*f);
        *f = NULL;
        return loaa_fail(LOAA_ERR_FORMAT, "%s: not a readable audio file (%s)", path, sf_strerror(NULL));
    }
    return LOAA_OK;
}

loaa_status loaa_audio_read_file(const char *path, float **out, size_t *n, int *rate)
{
    *out = NULL;
    *n = 0;
    FILE *f;
    SF_INFO info;
    SNDFILE *sf;
    loaa_status st = open_audio_file(path, &f, &info, &sf);
    if (st)
        return st;
    size_t cap = 0;
    st = decode_sndfile(sf, &info, path, out, &cap, n, rate);
    sf_close(sf);
    fclose(f);
    if (st) {
        free(*out);
        *out = NULL;
    }
    return st;
}

loaa_status loaa_audio_probe_file(const char *path)
{
    FILE *f;
    SF_INFO info;
    SNDFILE *sf;
    loaa_status st = open_audio_file(path, &f, &info, &sf);
    if (!st) {
        sf_close(sf); /* only the header was wanted */
        fclose(f);
    }
    return st;
}

loaa_status loaa_audio_read_segment(const char *path, long start, long end, float **out, size_t *n, int *rate)
{
    *out = NULL;
    *n = 0;
    FILE *f;
    SF_INFO info;
    SNDFILE *sf;
    loaa_status st = open_audio_file(path, &f, &info, &sf);
    if (st)
        return st;
    if (start < 0)
        start = 0;
    if (end < 0)
        end = (long)info.frames;
    if (start < 0 || start >= end || end > info.frames || info.channels < 1 || info.channels > 64)
        st = loaa_fail(LOAA_ERR_CONFIG, "%s: segment [%ld, %ld) outside the %lld samples of the file", path, start, end,
                       (long long)info.frames);
    else if (end - start > LOAA_AUDIO_MAX_FRAMES)
        st = loaa_fail(LOAA_ERR_LIMIT, "%s: segment of %ld samples over the limit", path, end - start);
    else if (sf_seek(sf, start, SEEK_SET) != start)
        st = loaa_fail(LOAA_ERR_FORMAT, "%s: cannot seek to sample %ld", path, start);
    float *mono = NULL, *buf = NULL;
    size_t len = (size_t)(end - start), got = 0;
    if (!st) {
        mono = malloc(len * sizeof(float));
        buf = malloc((size_t)4096 * info.channels * sizeof(float));
        if (!mono || !buf)
            st = loaa_fail(LOAA_ERR_NOMEM, "%s: out of memory", path);
    }
    while (!st && got < len) {
        sf_count_t want = len - got < 4096 ? (sf_count_t)(len - got) : 4096;
        sf_count_t r = sf_readf_float(sf, buf, want);
        if (r <= 0) {
            st = loaa_fail(LOAA_ERR_FORMAT, "%s: file ends at sample %ld, before %ld", path, start + (long)got, end);
            break;
        }
        for (sf_count_t i = 0; i < r; i++) {
            float v = 0;
            for (int ch = 0; ch < info.channels; ch++)
                v += buf[i * info.channels + ch];
            mono[got + i] = v / info.channels;
        }
        got += (size_t)r;
    }
    free(buf);
    sf_close(sf);
    fclose(f);
    if (st) {
        free(mono);
        return st;
    }
    *out = mono;
    *n = len;
    *rate = info.samplerate;
    return LOAA_OK;
}

loaa_status loaa_audio_resample(const float *in, size_t n, int from, int to, float **out, size_t *n_out)
{
    *out = NULL;
    *n_out = 0;
    if (from <= 0 || to <= 0)
        return loaa_fail(LOAA_ERR_CONFIG, "resample: bad rates %d -> %d Hz", from, to);
    size_t m = from == to ? n : (size_t)((double)n * to / from + 0.5);
    if (m > (size_t)LOAA_AUDIO_MAX_FRAMES)
        return loaa_fail(LOAA_ERR_LIMIT, "resample %d -> %d Hz: %zu samples, over the limit of %ld", from, to, m,
                         LOAA_AUDIO_MAX_FRAMES);
    float *o = malloc((m ? m : 1) * sizeof(float));
    if (!o)
        return loaa_fail(LOAA_ERR_NOMEM, "resample: out of memory (%zu samples)", m);
    if (from == to) {
        memcpy(o, in, n * sizeof(float));
    } else if (m > 0) {
        soxr_quality_spec_t q = soxr_quality_spec(SOXR_HQ, 0);
        soxr_runtime_spec_t rt = soxr_runtime_spec(1);
        size_t idone = 0, odone = 0;
        soxr_error_t e = soxr_oneshot(from, to, 1, in, n, &idone, o, m, &odone, NULL, &q, &rt);
        if (e) {
            free(o);
            return loaa_fail(LOAA_ERR_INTERNAL, "resample %d -> %d Hz: %s", from, to, e);
        }
        for (size_t i = odone; i < m; i++)
            o[i] = 0;
    }
    *out = o;
    *n_out = m;
    return LOAA_OK;
}

loaa_status loaa_audio_encode_wav(const float *x, size_t n, int rate, int float32, void **out, size_t *size)
{
    *out = NULL;
    *size = 0;
    membuf m = {NULL, 0, 0, 0, 1};
    SF_VIRTUAL_IO vio = {vio_len, vio_seek, vio_read, vio_write, vio_tell};
    SF_INFO info;
    memset(&info, 0, sizeof info);
    info.samplerate = rate;
    info.channels = 1;
    info.format = SF_FORMAT_WAV | (float32 ? SF_FORMAT_FLOAT : SF_FORMAT_PCM_16);
    SNDFILE *sf = sf_open_virtual(&vio, SFM_WRITE, &info, &m);
    if (!sf)
        return loaa_fail(LOAA_ERR_INTERNAL, "wav encode: %s", sf_strerror(NULL));
    /* Clip instead of wrapping around when a packer's input exceeds full scale. */
    sf_command(sf, SFC_SET_CLIPPING, NULL, SF_TRUE);
    sf_count_t w = sf_writef_float(sf, x, (sf_count_t)n);
    sf_close(sf);
    if (w != (sf_count_t)n) {
        free(m.data);
        return loaa_fail(LOAA_ERR_NOMEM, "wav encode: wrote %lld of %zu samples", (long long)w, n);
    }
    *out = m.data;
    *size = (size_t)m.size;
    return LOAA_OK;
}
