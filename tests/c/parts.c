/*
 * parts: hls_get_parts against hls_get, from several threads, the way a server uses it.
 *
 *   parts <threads> <cache-bytes> <scratch-dir> <media-file>...
 *
 * Every thread crawls every name of every file (master playlist, media playlists, the names
 * they write), each in its own order, and checks that the parts, concatenated (bytes parts
 * copied, file parts sent with sendfile(2) from the descriptor libhls holds into a scratch
 * file and read back), are exactly hls_get's bytes; that the descriptor is -1 exactly when
 * every part is bytes; and that it is never closed by the caller. Then, on a copy of the first
 * file in <scratch-dir>: truncating it after indexing makes hls_get_parts fail with
 * HLS_ERR_FILE_CHANGED (cached or not), and parts taken before stay readable after hls_close
 * and hls_context_free, until hls_free_parts.
 *
 * Prints "parts: N names, M with file ranges, K mismatches" and exits 1 on any failure.
 */
#define _GNU_SOURCE

#include "hls.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_NAMES 8192

static HlsContext *ctx;
static const char *scratch;
static char **files;
static int nfiles;
static atomic_long names_checked, with_ranges, mismatches;

static void fail(const char *fmt, const char *a, const char *b) {
    if (atomic_load(&mismatches) >= 20) { /* the first ones tell */
        atomic_fetch_add(&mismatches, 1);
        return;
    }
    fprintf(stderr, "parts: FAIL: ");
    fprintf(stderr, fmt, a, b);
    fputc('\n', stderr);
    atomic_fetch_add(&mismatches, 1);
}

/* The concatenated parts: bytes copied, file ranges sent with sendfile into `out_fd` (a scratch
 * file) and read back. Returns a malloc'd buffer of p->len bytes, or NULL. */
static unsigned char *concat(const HlsParts *p, int out_fd) {
    unsigned char *buf = malloc(p->len ? p->len : 1);
    if (!buf) return NULL;
    uint64_t at = 0;
    for (size_t i = 0; i < p->count; i++) {
        const HlsPart *part = &p->parts[i];
        if (part->kind == HLS_PART_BYTES) {
            if (part->len) memcpy(buf + at, part->data, part->len);
        } else {
            if (p->fd < 0 || part->data != NULL || part->len == 0) goto bad;
            if (ftruncate(out_fd, 0) != 0 || lseek(out_fd, 0, SEEK_SET) != 0) goto bad;
            off_t off = (off_t)part->offset;
            uint64_t left = part->len;
            while (left) {
                ssize_t n = sendfile(out_fd, p->fd, &off, left);
                if (n <= 0) goto bad;
                left -= (uint64_t)n;
            }
            if (pread(out_fd, buf + at, part->len, 0) != (ssize_t)part->len) goto bad;
        }
        at += part->len;
    }
    if (at != p->len) goto bad;
    return buf;
bad:
    free(buf);
    return NULL;
}

/* Appends the names a playlist writes (URI lines and URI="..." attributes) to names[]. */
static void add_names(const char *text, size_t len, char **names, int *n) {
    char *copy = strndup(text, len);
    for (char *save = NULL, *line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        size_t l = strlen(line);
        if (l && line[l - 1] == '\r') line[--l] = 0;
        if (l && line[0] != '#') {
            if (*n < MAX_NAMES) names[(*n)++] = strdup(line);
            continue;
        }
        for (char *u = strstr(line, "URI=\""); u; u = strstr(u, "URI=\"")) {
            u += 5;
            char *end = strchr(u, '"');
            if (!end) break;
            if (*n < MAX_NAMES) names[(*n)++] = strndup(u, (size_t)(end - u));
            u = end;
        }
    }
    free(copy);
}

static void check_name(HlsMedia *m, const char *file, const char *name, int out_fd) {
    HlsBuffer b = {0};
    HlsParts p = {0};
    HlsError *err = NULL;
    if (hls_get(m, name, &b) != HLS_OK) {
        fail("%s %s: hls_get failed", file, name);
        return;
    }
    HlsStatus st = hls_get_parts_ex(m, name, &p, &err);
    if (st != HLS_OK) {
        fail("%s %s: hls_get_parts failed", file, name);
        hls_error_free(err);
        hls_free_buffer(&b);
        return;
    }
    int files_seen = 0;
    for (size_t i = 0; i < p.count; i++) files_seen += p.parts[i].kind == HLS_PART_FILE;
    if ((files_seen > 0) != (p.fd >= 0)) fail("%s %s: descriptor and file parts disagree", file, name);
    if (strcmp(p.content_type, b.content_type) != 0) fail("%s %s: content types differ", file, name);
    unsigned char *got = concat(&p, out_fd);
    if (!got || p.len != b.len || memcmp(got, b.data, b.len) != 0)
        fail("%s %s: the parts are not hls_get's bytes", file, name);
    if (files_seen) atomic_fetch_add(&with_ranges, 1);
    atomic_fetch_add(&names_checked, 1);
    free(got);
    hls_free_parts(&p);
    if (p.fd != -1 || p.parts != NULL) fail("%s %s: hls_free_parts did not zero the struct", file, name);
    hls_free_parts(&p); /* idempotent */
    hls_free_buffer(&b);
}

static void *crawl(void *arg) {
    long id = (long)arg;
    char path[4096];
    snprintf(path, sizeof path, "%s/sendfile-%ld.tmp", scratch, id);
    int out_fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
    if (out_fd < 0) {
        fail("%s%s: cannot create", path, "");
        return NULL;
    }
    unlink(path);
    char **names = calloc(MAX_NAMES, sizeof *names);
    for (int f = 0; f < nfiles; f++) {
        const char *file = files[(f + id) % nfiles];
        HlsMedia *m = NULL;
        if (hls_open(ctx, file, &m) != HLS_OK) {
            fail("%s%s: open failed", file, "");
            continue;
        }
        int n = 0;
        names[n++] = strdup("master.m3u8");
        for (int i = 0; i < n; i++) {
            size_t l = strlen(names[i]);
            if (l > 5 && strcmp(names[i] + l - 5, ".m3u8") == 0) {
                HlsBuffer pl = {0};
                if (hls_playlist(m, names[i], &pl) == HLS_OK) add_names((const char *)pl.data, pl.len, names, &n);
                hls_free_buffer(&pl);
            }
        }
        /* each thread walks the names in its own order (odd threads backwards) */
        for (int i = 0; i < n; i++) check_name(m, file, names[(id & 1) ? n - 1 - i : i], out_fd);
        for (int i = 0; i < n; i++) free(names[i]);
        hls_close(m);
    }
    free(names);
    close(out_fd);
    return NULL;
}

/* A copy of `src` in the scratch directory; returns its path (static buffer). */
static const char *copy_file(const char *src) {
    static char dst[4096];
    snprintf(dst, sizeof dst, "%s/parts-changed.mp4", scratch);
    int in = open(src, O_RDONLY), out = open(dst, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    struct stat st;
    if (in < 0 || out < 0 || fstat(in, &st) != 0) return NULL;
    off_t off = 0;
    while (off < st.st_size)
        if (sendfile(out, in, &off, (size_t)(st.st_size - off)) <= 0) return NULL;
    close(in);
    close(out);
    return dst;
}

static void changed_file(const char *src) {
    const char *path = copy_file(src);
    if (!path) {
        fail("%s%s: cannot copy", src, "");
        return;
    }
    HlsConfig *cfg = hls_config_new();
    hls_config_set_cache_bytes(cfg, 64u << 20);
    HlsContext *c = hls_context_new(cfg);
    hls_config_free(cfg);
    HlsMedia *m = NULL;
    HlsParts kept = {0}, p = {0};
    HlsBuffer b = {0};
    if (hls_open(c, path, &m) != HLS_OK || hls_get_parts(m, "t0_1.m4s", &kept) != HLS_OK ||
        hls_get(m, "t0_1.m4s", &b) != HLS_OK || kept.fd < 0) {
        fail("%s%s: open / parts before the change", path, "");
        goto out;
    }
    struct stat st;
    stat(path, &st);
    if (kept.file.size != (uint64_t)st.st_size || kept.file.ino != (uint64_t)st.st_ino ||
        kept.file.mtime_sec != (int64_t)st.st_mtim.tv_sec || kept.file.mtime_nsec != (int64_t)st.st_mtim.tv_nsec)
        fail("%s%s: the identity is not the file's", path, "");
    if (truncate(path, st.st_size / 2) != 0) fail("%s%s: truncate", path, "");
    if (hls_get_parts(m, "t0_1.m4s", &p) != HLS_ERR_FILE_CHANGED) fail("%s%s: cached parts of a truncated file", path, "");
    if (hls_get_parts(m, "t0_2.m4s", &p) != HLS_ERR_FILE_CHANGED) fail("%s%s: new parts of a truncated file", path, "");
    if (p.parts != NULL) fail("%s%s: a failing call wrote its out-parameter", path, "");
    hls_close(m);
    m = NULL;
    hls_context_free(c);
    c = NULL;
    /* the parts taken before the change: the descriptor is still open (libhls's reference),
     * and the header bytes still readable */
    if (fcntl(kept.fd, F_GETFD) == -1) fail("%s%s: the descriptor was closed before hls_free_parts", path, "");
    if (kept.parts[0].kind != HLS_PART_BYTES || memcmp(kept.parts[0].data, b.data, kept.parts[0].len) != 0)
        fail("%s%s: the header part changed after close", path, "");
out:
    hls_free_parts(&kept);
    hls_free_buffer(&b);
    if (m) hls_close(m);
    if (c) hls_context_free(c);
    unlink(path);
}

int main(int argc, char **argv) {
    if (argc < 5) {
        fprintf(stderr, "usage: %s <threads> <cache-bytes> <scratch-dir> <media-file>...\n", argv[0]);
        return 2;
    }
    int threads = atoi(argv[1]);
    HlsConfig *cfg = hls_config_new();
    hls_config_set_cache_bytes(cfg, strtoull(argv[2], NULL, 10));
    ctx = hls_context_new(cfg);
    hls_config_free(cfg);
    scratch = argv[3];
    files = argv + 4;
    nfiles = argc - 4;
    pthread_t tid[64];
    if (threads < 1 || threads > 64) threads = 4;
    for (long i = 0; i < threads; i++) pthread_create(&tid[i], NULL, crawl, (void *)i);
    for (int i = 0; i < threads; i++) pthread_join(tid[i], NULL);
    hls_context_free(ctx);
    changed_file(files[0]);
    long n = atomic_load(&names_checked), r = atomic_load(&with_ranges), bad = atomic_load(&mismatches);
    printf("parts: %ld names, %ld with file ranges, %ld mismatches\n", n, r, bad);
    return bad || r == 0 ? 1 : 0;
}
