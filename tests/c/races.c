/*
 * races: the concurrent closes and frees the contract allows, and the transcode path, for the
 * sanitizer runs (ASan+UBSan, TSan, valgrind) of tests/c_api.rs.
 *
 *   races <threads> <rounds> <copied-file> <transcoded-file> <transcoded-name>
 *
 * Phase 1, <rounds> per thread: open both files on the shared context (concurrent opens of one
 * file index it once), fetch a segment of each (<transcoded-name> is made by FFmpeg: decode +
 * AAC encode) with hls_get and hls_get_parts, close the handles while the other threads still
 * serve their own handles of the same files, and free the buffers only after the close.
 * Phase 2: every thread holds a handle of each file; the main thread frees the context while
 * the threads keep serving from their handles (allowed: handles keep the engine alive), then
 * each thread closes its handles and frees its buffers. Every fetch of a name must give the
 * same bytes as the first one. Prints "races: N fetches, M mismatches"; exits 1 on a failure.
 */
#define _GNU_SOURCE

#include "hls.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static HlsContext *ctx;
static const char *copied, *transcoded, *tname;
static int rounds;
static atomic_long fetches, mismatches;
static atomic_int holding, ctx_freed;

/* The bytes of the first successful fetch of each of the two names, to compare with. */
static pthread_mutex_t ref_lock = PTHREAD_MUTEX_INITIALIZER;
static uint8_t *ref[2];
static size_t ref_len[2];

static void check(int which, const uint8_t *data, size_t len, const char *how) {
    pthread_mutex_lock(&ref_lock);
    if (!ref[which]) {
        ref[which] = malloc(len ? len : 1);
        memcpy(ref[which], data, len);
        ref_len[which] = len;
    } else if (ref_len[which] != len || memcmp(ref[which], data, len) != 0) {
        fprintf(stderr, "races: FAIL: %s of %s: other bytes than the first fetch\n", how,
                which ? tname : "t0_1.m4s");
        atomic_fetch_add(&mismatches, 1);
    }
    pthread_mutex_unlock(&ref_lock);
    atomic_fetch_add(&fetches, 1);
}

/* hls_get into *buf (kept by the caller, freed later) and check. */
static int get(HlsMedia *m, int which, HlsBuffer *buf) {
    const char *name = which ? tname : "t0_1.m4s";
    HlsError *err = NULL;
    HlsStatus st = hls_get_ex(m, name, buf, &err);
    if (st != HLS_OK) {
        fprintf(stderr, "races: FAIL: hls_get %s: %s\n", name, hls_error_message(err));
        hls_error_free(err);
        atomic_fetch_add(&mismatches, 1);
        return -1;
    }
    check(which, buf->data, buf->len, "hls_get");
    return 0;
}

/* hls_get_parts, assembled with pread from the descriptor libhls holds, and check. */
static int get_parts(HlsMedia *m, int which, HlsParts *parts) {
    const char *name = which ? tname : "t0_1.m4s";
    if (hls_get_parts(m, name, parts) != HLS_OK) {
        fprintf(stderr, "races: FAIL: hls_get_parts %s: %s\n", name, hls_last_error_message());
        atomic_fetch_add(&mismatches, 1);
        return -1;
    }
    uint8_t *out = malloc(parts->len ? parts->len : 1);
    size_t at = 0;
    for (size_t i = 0; i < parts->count; i++) {
        const HlsPart *p = &parts->parts[i];
        if (p->kind == HLS_PART_BYTES) {
            memcpy(out + at, p->data, p->len);
        } else if (pread(parts->fd, out + at, p->len, (off_t) p->offset) != (ssize_t) p->len) {
            fprintf(stderr, "races: FAIL: short pread of %s\n", name);
            atomic_fetch_add(&mismatches, 1);
        }
        at += p->len;
    }
    check(which, out, at, "hls_get_parts");
    free(out);
    return 0;
}

static HlsMedia *open_file(const char *path) {
    HlsMedia *m = NULL;
    HlsError *err = NULL;
    if (hls_open_ex(ctx, path, &m, &err) != HLS_OK) {
        fprintf(stderr, "races: FAIL: open %s: %s\n", path, hls_error_message(err));
        hls_error_free(err);
        atomic_fetch_add(&mismatches, 1);
        return NULL;
    }
    return m;
}

static void *worker(void *arg) {
    (void) arg;
    HlsBuffer bufs[4];
    HlsParts parts[2];
    for (int r = 0; r < rounds; r++) {
        memset(bufs, 0, sizeof bufs);
        memset(parts, 0, sizeof parts);
        HlsMedia *a = open_file(copied), *b = open_file(transcoded);
        if (a && b) {
            get(a, 0, &bufs[0]);
            get(b, 1, &bufs[1]);
            get_parts(a, 0, &parts[0]);
            get_parts(b, 1, &parts[1]);
        }
        /* Closed while other threads serve their handles of the same files; the buffers and
         * parts stay valid until freed. */
        hls_close(a);
        hls_close(b);
        for (int i = 0; i < 2; i++) {
            if (bufs[i].data && bufs[i].len > 0) {
                volatile uint8_t x = bufs[i].data[bufs[i].len - 1];
                (void) x;
            }
            hls_free_buffer(&bufs[i]);
            hls_free_parts(&parts[i]);
        }
    }
    /* Phase 2: hold handles across the context's free. */
    HlsMedia *a = open_file(copied), *b = open_file(transcoded);
    atomic_fetch_add(&holding, 1);
    while (!atomic_load(&ctx_freed)) {
        usleep(1000);
    }
    memset(bufs, 0, sizeof bufs);
    memset(parts, 0, sizeof parts);
    if (a && b) {
        get(a, 0, &bufs[0]);
        get(b, 1, &bufs[1]);
        get_parts(a, 0, &parts[0]);
        HlsBuffer info = {0};
        if (hls_media_info_json(b, &info) != HLS_OK || !strstr((const char *) info.data, "transcode-aac")) {
            fprintf(stderr, "races: FAIL: %s has no transcoded track\n", transcoded);
            atomic_fetch_add(&mismatches, 1);
        }
        hls_free_buffer(&info);
    }
    hls_close(a);
    hls_close(b);
    hls_free_buffer(&bufs[0]);
    hls_free_buffer(&bufs[1]);
    hls_free_parts(&parts[0]);
    return NULL;
}

int main(int argc, char **argv) {
    if (argc != 6) {
        fprintf(stderr, "usage: %s <threads> <rounds> <copied-file> <transcoded-file> <transcoded-name>\n", argv[0]);
        return 2;
    }
    int threads = atoi(argv[1]);
    rounds = atoi(argv[2]);
    copied = argv[3];
    transcoded = argv[4];
    tname = argv[5];
    if (threads < 1 || threads > 64 || rounds < 0) {
        return 2;
    }
    HlsConfig *cfg = hls_config_new();
    hls_config_set_cache_bytes(cfg, 0); /* no cache: every fetch transcodes */
    ctx = hls_context_new(cfg);
    hls_config_free(cfg);
    if (!ctx) {
        return 1;
    }
    pthread_t t[64];
    for (int i = 0; i < threads; i++) {
        pthread_create(&t[i], NULL, worker, NULL);
    }
    while (atomic_load(&holding) < threads) {
        usleep(1000);
    }
    /* Every thread holds open handles: free the context under them. */
    hls_context_free(ctx);
    ctx = NULL;
    atomic_store(&ctx_freed, 1);
    for (int i = 0; i < threads; i++) {
        pthread_join(t[i], NULL);
    }
    free(ref[0]);
    free(ref[1]);
    long n = atomic_load(&fetches), bad = atomic_load(&mismatches);
    printf("races: %ld fetches, %ld mismatches\n", n, bad);
    return bad == 0 && n > 0 ? 0 : 1;
}
