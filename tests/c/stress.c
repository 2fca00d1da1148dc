/*
 * stress: concurrent requests against one HlsContext, checked byte-for-byte.
 *
 *   stress <threads> <requests-per-thread> <cache-bytes> <file>...
 *
 * 1. Reference: in a separate context with a large cache, crawl every file single-threaded
 *    (master.m3u8 -> media playlists -> EXT-X-MAP + segments) and keep name -> bytes.
 * 2. One context with the given cache budget and one shared HlsMedia per file. <threads> threads
 *    each do <requests-per-thread> requests of random names across the files (per-thread rand_r
 *    seed; ~10% of requests open and close their own handle instead of the shared one; the API
 *    used rotates between hls_get, hls_playlist/hls_segment and their _ex forms) and compare each
 *    response with the reference (bytes and content type).
 * 3. A monitor thread polls hls_context_stats_json every 2 ms and checks "cache_bytes" <= budget.
 *
 * Prints "stress: N requests, M mismatches, max cache_bytes X (budget B), errors E" and exits 1
 * on any mismatch, error or budget overflow (2 on bad usage). STRESS_SEED=n changes the seeds.
 */
#define _XOPEN_SOURCE 700

#include "hls.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_THREADS 1024
#define MAX_REPORTS 10 /* detailed lines per kind of failure */

/* ---------------------------------------------------------------------------------------------
 * Reference data: per file, an ordered unique list of names with their bytes.
 */
typedef struct {
    char *name;
    uint8_t *data;
    size_t len;
    char *content_type;
    int playlist;
} Item;

typedef struct {
    const char *path;
    Item *items;
    size_t len, cap;
    size_t *slots; /* hash set over items[].name: index + 1, 0 = empty */
    size_t nslots;
    HlsMedia *shared;
} RefFile;

static uint64_t hash_str(const char *s, size_t n) {
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++) h = (h ^ (unsigned char)s[i]) * 1099511628211ull;
    return h;
}

static int grow_slots(RefFile *f) {
    size_t n = f->nslots ? f->nslots * 2 : 64;
    size_t *slots = calloc(n, sizeof *slots);
    if (!slots) return -1;
    for (size_t i = 0; i < f->len; i++) {
        size_t j = (size_t)(hash_str(f->items[i].name, strlen(f->items[i].name)) & (n - 1));
        while (slots[j]) j = (j + 1) & (n - 1);
        slots[j] = i + 1;
    }
    free(f->slots);
    f->slots = slots;
    f->nslots = n;
    return 0;
}

/* Adds name (not yet fetched) unless present. 1 added, 0 present, -1 out of memory. */
static int add_name(RefFile *f, const char *s, size_t n, int playlist) {
    if ((f->len + 1) * 2 > f->nslots && grow_slots(f) != 0) return -1;
    size_t j = (size_t)(hash_str(s, n) & (f->nslots - 1));
    while (f->slots[j]) {
        const char *have = f->items[f->slots[j] - 1].name;
        if (strlen(have) == n && memcmp(have, s, n) == 0) return 0;
        j = (j + 1) & (f->nslots - 1);
    }
    if (f->len == f->cap) {
        size_t cap = f->cap ? f->cap * 2 : 64;
        Item *items = realloc(f->items, cap * sizeof *items);
        if (!items) return -1;
        f->items = items;
        f->cap = cap;
    }
    Item *it = &f->items[f->len];
    memset(it, 0, sizeof *it);
    it->name = malloc(n + 1);
    if (!it->name) return -1;
    memcpy(it->name, s, n);
    it->name[n] = '\0';
    it->playlist = playlist;
    f->slots[j] = ++f->len;
    return 1;
}

static void ref_free(RefFile *f) {
    for (size_t i = 0; i < f->len; i++) {
        free(f->items[i].name);
        free(f->items[i].data);
        free(f->items[i].content_type);
    }
    free(f->items);
    free(f->slots);
}

/* ---------------------------------------------------------------------------------------------
 * Playlist parsing (same rules as examples-c/hls-dump.c).
 */
static int starts_with(const char *p, const char *end, const char *prefix) {
    size_t n = strlen(prefix);
    return (size_t)(end - p) >= n && memcmp(p, prefix, n) == 0;
}

static int add_uri(RefFile *f, const char *s, size_t n, int playlist, const char *from) {
    if (n == 0 || memchr(s, '\0', n)) {
        fprintf(stderr, "stress: %s: %s: empty or invalid URI\n", f->path, from);
        return -1;
    }
    if (add_name(f, s, n, playlist) < 0) {
        fprintf(stderr, "stress: out of memory\n");
        return -1;
    }
    return 0;
}

static int add_uri_attr(RefFile *f, const char *p, const char *end, int playlist, const char *from) {
    while (p < end) {
        while (p < end && (*p == ' ' || *p == '\t')) p++;
        const char *key = p;
        while (p < end && *p != '=' && *p != ',') p++;
        size_t klen = (size_t)(p - key);
        if (p >= end || *p == ',') {
            if (p < end) p++;
            continue;
        }
        p++;
        const char *val = p, *vend;
        int quoted = *p == '"';
        if (quoted) {
            val = ++p;
            while (p < end && *p != '"') p++;
            if (p >= end) {
                fprintf(stderr, "stress: %s: %s: unterminated quoted attribute\n", f->path, from);
                return -1;
            }
            vend = p++;
        } else {
            while (p < end && *p != ',') p++;
            vend = p;
        }
        while (p < end && *p != ',') p++;
        if (p < end) p++;
        if (klen == 3 && memcmp(key, "URI", 3) == 0) return add_uri(f, val, (size_t)(vend - val), playlist, from);
    }
    return 0;
}

/* master: adds media playlists; otherwise adds EXT-X-MAP and segment URIs. */
static int parse_playlist(RefFile *f, const uint8_t *data, size_t len, int master, const char *from) {
    const char *p = (const char *)data, *end = p + len;
    if (!starts_with(p, end, "#EXTM3U")) {
        fprintf(stderr, "stress: %s: %s does not start with #EXTM3U\n", f->path, from);
        return -1;
    }
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *le = nl ? nl : end, *next = nl ? nl + 1 : end;
        while (p < le && (*p == ' ' || *p == '\t')) p++;
        while (le > p && (le[-1] == '\r' || le[-1] == ' ' || le[-1] == '\t')) le--;
        if (p < le && *p == '#') {
            if (master && starts_with(p, le, "#EXT-X-MEDIA:")) {
                if (add_uri_attr(f, p + 13, le, 1, from) != 0) return -1;
            } else if (master && starts_with(p, le, "#EXT-X-I-FRAME-STREAM-INF:")) {
                if (add_uri_attr(f, p + 26, le, 1, from) != 0) return -1;
            } else if (!master && starts_with(p, le, "#EXT-X-MAP:")) {
                if (add_uri_attr(f, p + 11, le, 0, from) != 0) return -1;
            }
        } else if (p < le) {
            if (add_uri(f, p, (size_t)(le - p), master, from) != 0) return -1;
        }
        p = next;
    }
    return 0;
}

static void report_error(const char *file, const char *name, HlsStatus st, const char *msg) {
    fprintf(stderr, "stress: %s: %s: %s: %s\n", file, name, hls_status_str(st),
            msg && *msg ? msg : "(no message)");
}

/* Builds the reference for one file: fetches every name in crawl order. */
static int build_reference(HlsContext *ctx, RefFile *f) {
    HlsMedia *m = NULL;
    HlsError *err = NULL;
    HlsStatus st = hls_open_ex(ctx, f->path, &m, &err);
    if (st != HLS_OK) {
        report_error(f->path, "(open)", st, err ? hls_error_message(err) : hls_last_error_message());
        hls_error_free(err);
        return -1;
    }
    hls_error_free(err);
    int rc = -1;
    if (add_name(f, "master.m3u8", 11, 1) < 0) goto out;
    /* items grow while we walk them: master adds playlists, playlists add segments */
    for (size_t i = 0; i < f->len; i++) {
        Item *it = &f->items[i];
        HlsBuffer buf = {0};
        err = NULL;
        st = it->playlist ? hls_playlist_ex(m, it->name, &buf, &err) : hls_segment_ex(m, it->name, &buf, &err);
        if (st != HLS_OK) {
            report_error(f->path, it->name, st, err ? hls_error_message(err) : hls_last_error_message());
            hls_error_free(err);
            hls_free_buffer(&buf);
            goto out;
        }
        hls_error_free(err);
        it->len = buf.len;
        it->data = malloc(buf.len ? buf.len : 1);
        it->content_type = strdup(buf.content_type ? buf.content_type : "");
        if (!it->data || !it->content_type) {
            hls_free_buffer(&buf);
            fprintf(stderr, "stress: out of memory\n");
            goto out;
        }
        if (buf.len) memcpy(it->data, buf.data, buf.len);
        hls_free_buffer(&buf);
        if (it->playlist) {
            /* it may move when parse_playlist grows f->items: copy what we need first */
            uint8_t *data = it->data;
            size_t len = it->len;
            char *name = it->name;
            if (parse_playlist(f, data, len, i == 0, name) != 0) goto out;
        }
    }
    if (f->len < 2) {
        fprintf(stderr, "stress: %s: master.m3u8 names nothing\n", f->path);
        goto out;
    }
    rc = 0;
out:
    hls_close(m);
    return rc;
}

/* ---------------------------------------------------------------------------------------------
 * The concurrent phase.
 */
static RefFile *g_files;
static int g_nfiles;
static HlsContext *g_ctx;
static uint64_t g_budget;
static atomic_int g_done;
static atomic_int g_reports_mismatch, g_reports_error;

typedef struct {
    pthread_t tid;
    unsigned seed;
    long requests_to_do;
    uint64_t requests, mismatches, errors, reopens;
} Worker;

static void *worker_main(void *arg) {
    Worker *w = arg;
    for (long r = 0; r < w->requests_to_do; r++) {
        RefFile *f = &g_files[(unsigned)rand_r(&w->seed) % (unsigned)g_nfiles];
        const Item *it = &f->items[(size_t)rand_r(&w->seed) % f->len];
        int reopen = rand_r(&w->seed) % 10 == 0;
        int api = rand_r(&w->seed) % 4;
        HlsMedia *m = f->shared;
        HlsStatus st;
        HlsError *err = NULL;
        const char *msg = NULL;
        w->requests++;
        if (reopen) {
            w->reopens++;
            m = NULL;
            st = hls_open_ex(g_ctx, f->path, &m, &err);
            if (st != HLS_OK) {
                if (atomic_fetch_add(&g_reports_error, 1) < MAX_REPORTS)
                    report_error(f->path, "(open)", st, err ? hls_error_message(err) : hls_last_error_message());
                hls_error_free(err);
                w->errors++;
                continue;
            }
            hls_error_free(err);
            err = NULL;
        }
        HlsBuffer buf = {0};
        if (api == 0) {
            st = hls_get(m, it->name, &buf);
        } else if (api == 3) {
            st = hls_get_ex(m, it->name, &buf, &err);
        } else if (api == 1) {
            st = it->playlist ? hls_playlist_ex(m, it->name, &buf, &err) : hls_segment_ex(m, it->name, &buf, &err);
        } else {
            st = it->playlist ? hls_playlist(m, it->name, &buf) : hls_segment(m, it->name, &buf);
        }
        if (st != HLS_OK) {
            msg = err ? hls_error_message(err) : hls_last_error_message();
            if (atomic_fetch_add(&g_reports_error, 1) < MAX_REPORTS) report_error(f->path, it->name, st, msg);
            w->errors++;
        } else if (buf.len != it->len || (buf.len && memcmp(buf.data, it->data, buf.len) != 0) ||
                   strcmp(buf.content_type ? buf.content_type : "", it->content_type) != 0) {
            if (atomic_fetch_add(&g_reports_mismatch, 1) < MAX_REPORTS) {
                size_t at = 0;
                while (at < buf.len && at < it->len && buf.data[at] == it->data[at]) at++;
                fprintf(stderr,
                        "stress: MISMATCH %s: %s: got %zu bytes (%s), reference %zu bytes (%s), first "
                        "difference at byte %zu\n",
                        f->path, it->name, buf.len, buf.content_type ? buf.content_type : "NULL", it->len,
                        it->content_type, at);
            }
            w->mismatches++;
        }
        hls_error_free(err);
        hls_free_buffer(&buf);
        if (reopen) hls_close(m);
    }
    return NULL;
}

typedef struct {
    uint64_t max_cache_bytes;
    uint64_t samples, overflows, failures;
} Monitor;

/* The unsigned number after "key": in a JSON object (0 when absent). */
static unsigned long long json_u64(const char *json, const char *key) {
    char pat[64];
    snprintf(pat, sizeof pat, "\"%s\":", key);
    const char *p = json ? strstr(json, pat) : NULL;
    return p ? strtoull(p + strlen(pat), NULL, 10) : 0;
}

/* Reads "cache_bytes" from the stats JSON; returns 0 or -1 (error already printed). */
static int sample_cache_bytes(uint64_t *out) {
    HlsBuffer buf = {0};
    HlsStatus st = hls_context_stats_json(g_ctx, &buf);
    if (st != HLS_OK) {
        report_error("(context)", "stats", st, hls_last_error_message());
        hls_free_buffer(&buf);
        return -1;
    }
    char *json = malloc(buf.len + 1);
    if (!json) {
        hls_free_buffer(&buf);
        return -1;
    }
    if (buf.len) memcpy(json, buf.data, buf.len);
    json[buf.len] = '\0';
    hls_free_buffer(&buf);
    int rc = -1;
    const char *p = strstr(json, "\"cache_bytes\"");
    if (p) {
        p += strlen("\"cache_bytes\"");
        while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r') p++;
        if (*p == ':') {
            p++;
            while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r') p++;
            char *end;
            errno = 0;
            unsigned long long v = strtoull(p, &end, 10);
            if (end != p && errno == 0 && *p != '-') {
                *out = v;
                rc = 0;
            }
        }
    }
    if (rc != 0) fprintf(stderr, "stress: no numeric \"cache_bytes\" in stats JSON: %s\n", json);
    free(json);
    return rc;
}

static void monitor_sample(Monitor *mon) {
    uint64_t v;
    if (sample_cache_bytes(&v) != 0) {
        mon->failures++;
        return;
    }
    mon->samples++;
    if (v > mon->max_cache_bytes) mon->max_cache_bytes = v;
    if (v > g_budget && mon->overflows++ < MAX_REPORTS)
        fprintf(stderr, "stress: cache_bytes %" PRIu64 " exceeds the budget %" PRIu64 "\n", v, g_budget);
}

static void *monitor_main(void *arg) {
    Monitor *mon = arg;
    struct timespec ts = {0, 2 * 1000 * 1000};
    while (!atomic_load(&g_done)) {
        monitor_sample(mon);
        if (mon->failures > MAX_REPORTS) break;
        nanosleep(&ts, NULL);
    }
    return NULL;
}

static int parse_u64(const char *s, uint64_t *out) {
    char *end;
    errno = 0;
    if (*s == '-' || *s == '\0') return -1;
    unsigned long long v = strtoull(s, &end, 10);
    if (*end || errno) return -1;
    *out = v;
    return 0;
}

int main(int argc, char **argv) {
    uint64_t nthreads, nreq;
    if (argc < 5 || parse_u64(argv[1], &nthreads) || parse_u64(argv[2], &nreq) ||
        parse_u64(argv[3], &g_budget) || nthreads < 1 || nthreads > MAX_THREADS || nreq > 100000000) {
        fprintf(stderr, "usage: stress <threads 1..%d> <requests-per-thread> <cache-bytes> <file>...\n",
                MAX_THREADS);
        return 2;
    }
    g_nfiles = argc - 4;
    g_files = calloc((size_t)g_nfiles, sizeof *g_files);
    Worker *workers = calloc((size_t)nthreads, sizeof *workers);
    if (!g_files || !workers) {
        fprintf(stderr, "stress: out of memory\n");
        return 1;
    }
    int rc = 1;
    HlsConfig *cfg = NULL;
    HlsContext *ref_ctx = NULL;
    Monitor mon = {0};
    uint64_t requests = 0, mismatches = 0, errors = 0, reopens = 0;
    size_t total_items = 0;
    unsigned long long total_bytes = 0;

    /* 1. reference, single-threaded, in its own context with a large cache */
    cfg = hls_config_new();
    if (!cfg) {
        fprintf(stderr, "stress: hls_config_new failed\n");
        goto out;
    }
    HlsStatus st = hls_config_set_cache_bytes(cfg, UINT64_C(1) << 32);
    if (st != HLS_OK) {
        report_error("(config)", "cache_bytes", st, hls_last_error_message());
        goto out;
    }
    ref_ctx = hls_context_new(cfg);
    if (!ref_ctx) {
        fprintf(stderr, "stress: hls_context_new failed: %s\n", hls_last_error_message());
        goto out;
    }
    for (int i = 0; i < g_nfiles; i++) {
        g_files[i].path = argv[4 + i];
        if (build_reference(ref_ctx, &g_files[i]) != 0) goto out;
        total_items += g_files[i].len;
        for (size_t k = 0; k < g_files[i].len; k++) total_bytes += g_files[i].items[k].len;
    }
    hls_context_free(ref_ctx);
    ref_ctx = NULL;
    printf("stress: reference: %d files, %zu names, %llu bytes\n", g_nfiles, total_items, total_bytes);
    fflush(stdout);

    /* 2. the context under test */
    st = hls_config_set_cache_bytes(cfg, g_budget);
    if (st != HLS_OK) {
        report_error("(config)", "cache_bytes", st, hls_last_error_message());
        goto out;
    }
    g_ctx = hls_context_new(cfg);
    if (!g_ctx) {
        fprintf(stderr, "stress: hls_context_new failed: %s\n", hls_last_error_message());
        goto out;
    }
    for (int i = 0; i < g_nfiles; i++) {
        HlsError *err = NULL;
        st = hls_open_ex(g_ctx, g_files[i].path, &g_files[i].shared, &err);
        if (st != HLS_OK) {
            report_error(g_files[i].path, "(open)", st, err ? hls_error_message(err) : hls_last_error_message());
            hls_error_free(err);
            goto out;
        }
        hls_error_free(err);
    }

    unsigned base_seed = 1;
    const char *seed_env = getenv("STRESS_SEED");
    if (seed_env) base_seed = (unsigned)strtoul(seed_env, NULL, 10);
    pthread_t mon_tid;
    int e = pthread_create(&mon_tid, NULL, monitor_main, &mon);
    if (e != 0) {
        fprintf(stderr, "stress: pthread_create: %s\n", strerror(e));
        goto out;
    }
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    uint64_t started = 0;
    for (; started < nthreads; started++) {
        Worker *w = &workers[started];
        w->seed = base_seed * 2654435761u + (unsigned)started * 40503u + 1u;
        w->requests_to_do = (long)nreq;
        e = pthread_create(&w->tid, NULL, worker_main, w);
        if (e != 0) {
            fprintf(stderr, "stress: pthread_create: %s\n", strerror(e));
            errors++;
            break;
        }
    }
    for (uint64_t i = 0; i < started; i++) {
        pthread_join(workers[i].tid, NULL);
        requests += workers[i].requests;
        mismatches += workers[i].mismatches;
        errors += workers[i].errors;
        reopens += workers[i].reopens;
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    atomic_store(&g_done, 1);
    pthread_join(mon_tid, NULL);
    monitor_sample(&mon); /* one last look after all requests */
    double secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;

    HlsBuffer stats = {0};
    if (hls_context_stats_json(g_ctx, &stats) == HLS_OK) {
        printf("stress: stats %.*s\n", (int)stats.len, (const char *)stats.data);
        /* Single flight: every miss either generated once or waited for that generation. */
        char *json = strndup((const char *)stats.data, stats.len);
        unsigned long long misses = json_u64(json, "cache_misses"), gens = json_u64(json, "generations"),
                           waits = json_u64(json, "shared_waits");
        if (misses != gens + waits) {
            fprintf(stderr, "stress: cache_misses %llu != generations %llu + shared_waits %llu\n", misses, gens, waits);
            errors++;
        }
        free(json);
    }
    hls_free_buffer(&stats);
    printf("stress: %.2f s, %.0f requests/s, %" PRIu64 " reopens, %" PRIu64 " stats samples\n", secs,
           secs > 0 ? (double)requests / secs : 0.0, reopens, mon.samples);
    if (mon.failures) errors += mon.failures;
    printf("stress: %" PRIu64 " requests, %" PRIu64 " mismatches, max cache_bytes %" PRIu64
           " (budget %" PRIu64 "), errors %" PRIu64 "\n",
           requests, mismatches, mon.max_cache_bytes, g_budget, errors);
    rc = (mismatches || errors || mon.overflows || mon.samples == 0) ? 1 : 0;

out:
    for (int i = 0; i < g_nfiles; i++) {
        hls_close(g_files[i].shared);
        ref_free(&g_files[i]);
    }
    hls_context_free(g_ctx);
    hls_context_free(ref_ctx);
    hls_config_free(cfg);
    free(g_files);
    free(workers);
    return rc;
}
