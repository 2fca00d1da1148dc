/*
 * calls: the C API side of the bindings benchmark (benches/bindings/run.sh).
 *
 *   calls [--hit-iters N] [--runs R] FILE     prints BENCH lines (see benches/bindings/README.md)
 *   calls --names FILE                        prints every name of the presentation, crawl order
 *
 * Measures, exactly as the Go and Python benchmarks must:
 *   cache_hit     ns per hls_get_ex + hls_free_buffer of the first .m4s name in crawl order, after
 *                 one warm-up fetch, context cache 256 MiB; N calls per run (default 200000),
 *                 median of R runs (default 5).
 *   cold_segment  us per hls_get_ex + hls_free_buffer of every .m4s name in crawl order, once each,
 *                 on a freshly opened file with a context whose cache is 0 bytes; median of 3 runs.
 * Crawl order: master.m3u8, then every URI it names (URI="..." attributes and URI lines) in
 * order, each playlist's URIs appended as it is fetched; duplicates dropped.
 */
#define _POSIX_C_SOURCE 200809L

#include <hls.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct {
    char **v;
    size_t len, cap;
} Names;

static void die(const char *what, HlsStatus st, HlsError *err) {
    fprintf(stderr, "calls: %s: %s: %s\n", what, hls_status_str(st), err ? hls_error_message(err) : "");
    hls_error_free(err);
    exit(1);
}

static void names_add(Names *n, const char *s, size_t len) {
    if (len == 0) return;
    for (size_t i = 0; i < n->len; i++)
        if (strlen(n->v[i]) == len && memcmp(n->v[i], s, len) == 0) return;
    if (n->len == n->cap) {
        n->cap = n->cap ? n->cap * 2 : 256;
        n->v = realloc(n->v, n->cap * sizeof *n->v);
        if (!n->v) exit(1);
    }
    char *c = malloc(len + 1);
    if (!c) exit(1);
    memcpy(c, s, len);
    c[len] = '\0';
    n->v[n->len++] = c;
}

static int ends_with(const char *s, const char *suffix) {
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && strcmp(s + a - b, suffix) == 0;
}

/* Appends the URIs a playlist names (URI="..." attributes, URI lines). */
static void scan_playlist(Names *n, const uint8_t *data, size_t len) {
    const char *p = (const char *)data, *end = p + len;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *le = nl ? nl : end;
        const char *e = le;
        if (e > p && e[-1] == '\r') e--;
        if (e > p && *p == '#') {
            for (const char *q = p; q + 5 <= e; q++) {
                if (memcmp(q, "URI=\"", 5) == 0) {
                    const char *s = q + 5, *t = memchr(s, '"', (size_t)(e - s));
                    if (t) names_add(n, s, (size_t)(t - s));
                    break;
                }
            }
        } else if (e > p) {
            names_add(n, p, (size_t)(e - p));
        }
        p = nl ? nl + 1 : end;
    }
}

static Names crawl(HlsMedia *m) {
    Names n = {0};
    names_add(&n, "master.m3u8", strlen("master.m3u8"));
    for (size_t i = 0; i < n.len; i++) {
        if (!ends_with(n.v[i], ".m3u8")) continue;
        HlsBuffer b = {0};
        HlsError *err = NULL;
        HlsStatus st = hls_get_ex(m, n.v[i], &b, &err);
        if (st != HLS_OK) die(n.v[i], st, err);
        scan_playlist(&n, b.data, b.len);
        hls_free_buffer(&b);
    }
    return n;
}

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, int n) {
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static HlsContext *context(uint64_t cache_bytes) {
    HlsConfig *cfg = hls_config_new();
    if (!cfg || hls_config_set_cache_bytes(cfg, cache_bytes) != HLS_OK) die("config", HLS_ERR_INTERNAL, NULL);
    HlsContext *ctx = hls_context_new(cfg);
    hls_config_free(cfg);
    if (!ctx) die("hls_context_new", HLS_ERR_INTERNAL, NULL);
    return ctx;
}

static HlsMedia *open_media(HlsContext *ctx, const char *path) {
    HlsMedia *m = NULL;
    HlsError *err = NULL;
    HlsStatus st = hls_open_ex(ctx, path, &m, &err);
    if (st != HLS_OK) die(path, st, err);
    return m;
}

static void get(HlsMedia *m, const char *name) {
    HlsBuffer b = {0};
    HlsError *err = NULL;
    HlsStatus st = hls_get_ex(m, name, &b, &err);
    if (st != HLS_OK) die(name, st, err);
    hls_free_buffer(&b);
}

int main(int argc, char **argv) {
    long hit_iters = 200000;
    int runs = 5, names_only = 0;
    const char *path = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--names") == 0) {
            names_only = 1;
        } else if (strcmp(argv[i], "--hit-iters") == 0 && i + 1 < argc) {
            hit_iters = atol(argv[++i]);
        } else if (strcmp(argv[i], "--runs") == 0 && i + 1 < argc) {
            runs = atoi(argv[++i]);
        } else if (!path && argv[i][0] != '-') {
            path = argv[i];
        } else {
            path = NULL;
            break;
        }
    }
    if (!path || hit_iters < 1 || runs < 1 || runs > 100) {
        fprintf(stderr, "usage: calls [--hit-iters N] [--runs R] FILE | calls --names FILE\n");
        return 2;
    }

    HlsContext *ctx = context(256u << 20);
    HlsMedia *m = open_media(ctx, path);
    Names names = crawl(m);
    if (names_only) {
        for (size_t i = 0; i < names.len; i++) printf("%s\n", names.v[i]);
        return 0;
    }
    const char *seg = NULL;
    size_t nsegs = 0;
    for (size_t i = 0; i < names.len; i++) {
        if (!ends_with(names.v[i], ".m4s")) continue;
        if (!seg) seg = names.v[i];
        nsegs++;
    }
    if (!seg) {
        fprintf(stderr, "calls: %s has no .m4s segment\n", path);
        return 1;
    }

    double t[100];
    get(m, seg); /* warm-up: now a cache hit */
    for (int r = 0; r < runs; r++) {
        double t0 = now_s();
        for (long i = 0; i < hit_iters; i++) get(m, seg);
        t[r] = (now_s() - t0) * 1e9 / (double)hit_iters;
    }
    printf("BENCH\tc\tcache_hit\t%.1f\tns\n", median(t, runs));
    hls_close(m);
    hls_context_free(ctx);

    int cold_runs = 3;
    for (int r = 0; r < cold_runs; r++) {
        HlsContext *cold = context(0);
        HlsMedia *cm = open_media(cold, path);
        double t0 = now_s();
        for (size_t i = 0; i < names.len; i++)
            if (ends_with(names.v[i], ".m4s")) get(cm, names.v[i]);
        t[r] = (now_s() - t0) * 1e6 / (double)nsegs;
        hls_close(cm);
        hls_context_free(cold);
    }
    printf("BENCH\tc\tcold_segment\t%.1f\tus\n", median(t, cold_runs));
    fprintf(stderr, "calls: %s: %zu names, %zu segments; cache hit on %s\n", path, names.len, nsegs, seg);
    for (size_t i = 0; i < names.len; i++) free(names.v[i]);
    free(names.v);
    return 0;
}
