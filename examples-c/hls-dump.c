/*
 * hls-dump: write every playlist and segment of one media file to a directory.
 *
 *   hls-dump [--threads N] <media-file> <out-dir>
 *
 * Opens the file with libhls, fetches master.m3u8, follows every media playlist it names
 * (EXT-X-STREAM-INF / EXT-X-I-FRAME-STREAM-INF / EXT-X-MEDIA URI="...") and every URI each media
 * playlist names (EXT-X-MAP URI="..." and segment lines), and writes each one to
 * <out-dir>/<name>. Also writes <out-dir>/info.json (hls_media_info_json). With --threads N the
 * segments are fetched by N threads sharing one HlsMedia handle.
 *
 * Exit status: 0 on success, 1 on any failure (the libhls status name and message are printed),
 * 2 on bad usage.
 */
#define _XOPEN_SOURCE 700

#include "hls.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#define MAX_THREADS 256

/* ---------------------------------------------------------------------------------------------
 * An ordered list of unique names (insertion order kept, duplicates dropped via a hash set).
 */
typedef struct {
    char **items;
    size_t len, cap;
    size_t *slots; /* open addressing: index + 1, 0 = empty */
    size_t nslots;
} NameList;

static uint64_t hash_str(const char *s) {
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

static int names_grow_slots(NameList *l) {
    size_t n = l->nslots ? l->nslots * 2 : 64;
    size_t *slots = calloc(n, sizeof *slots);
    if (!slots) return -1;
    for (size_t i = 0; i < l->len; i++) {
        size_t j = (size_t)(hash_str(l->items[i]) & (n - 1));
        while (slots[j]) j = (j + 1) & (n - 1);
        slots[j] = i + 1;
    }
    free(l->slots);
    l->slots = slots;
    l->nslots = n;
    return 0;
}

/* Returns 1 if added, 0 if already present, -1 on allocation failure. */
static int names_add(NameList *l, const char *s, size_t n) {
    char *copy = malloc(n + 1);
    if (!copy) return -1;
    memcpy(copy, s, n);
    copy[n] = '\0';
    if ((l->len + 1) * 2 > l->nslots && names_grow_slots(l) != 0) {
        free(copy);
        return -1;
    }
    size_t j = (size_t)(hash_str(copy) & (l->nslots - 1));
    while (l->slots[j]) {
        if (strcmp(l->items[l->slots[j] - 1], copy) == 0) {
            free(copy);
            return 0;
        }
        j = (j + 1) & (l->nslots - 1);
    }
    if (l->len == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 32;
        char **items = realloc(l->items, cap * sizeof *items);
        if (!items) {
            free(copy);
            return -1;
        }
        l->items = items;
        l->cap = cap;
    }
    l->items[l->len] = copy;
    l->slots[j] = ++l->len;
    return 1;
}

static void names_free(NameList *l) {
    for (size_t i = 0; i < l->len; i++) free(l->items[i]);
    free(l->items);
    free(l->slots);
    memset(l, 0, sizeof *l);
}

/* ---------------------------------------------------------------------------------------------
 * Playlist parsing.
 */

/* A name we are willing to request and to write under out-dir: relative, no "..", no query. */
static int name_is_safe(const char *s) {
    if (s[0] == '\0' || s[0] == '/') return 0;
    if (strstr(s, "..") || strchr(s, '?') || strchr(s, '#') || strchr(s, '\\') || strstr(s, "://") ||
        strstr(s, "//"))
        return 0;
    if (s[strlen(s) - 1] == '/') return 0;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if (*p < 0x20 || *p == 0x7f) return 0;
    return 1;
}

static int add_uri(NameList *out, const char *s, size_t n, const char *playlist) {
    if (n == 0 || memchr(s, '\0', n)) {
        fprintf(stderr, "hls-dump: %s: empty or invalid URI\n", playlist);
        return -1;
    }
    if (names_add(out, s, n) < 0) {
        fprintf(stderr, "hls-dump: out of memory\n");
        return -1;
    }
    return 0;
}

/* Finds URI="..." in an attribute list [p, end) and adds it. Quoted values may contain commas. */
static int add_uri_attr(const char *p, const char *end, NameList *out, const char *playlist) {
    while (p < end) {
        while (p < end && (*p == ' ' || *p == '\t')) p++;
        const char *key = p;
        while (p < end && *p != '=' && *p != ',') p++;
        size_t klen = (size_t)(p - key);
        while (klen && (key[klen - 1] == ' ' || key[klen - 1] == '\t')) klen--;
        if (p >= end || *p == ',') { /* attribute without value: skip */
            if (p < end) p++;
            continue;
        }
        p++; /* '=' */
        const char *val, *vend;
        int quoted = p < end && *p == '"';
        if (quoted) {
            val = ++p;
            while (p < end && *p != '"') p++;
            if (p >= end) {
                fprintf(stderr, "hls-dump: %s: unterminated quoted attribute\n", playlist);
                return -1;
            }
            vend = p++;
        } else {
            val = p;
            while (p < end && *p != ',') p++;
            vend = p;
        }
        while (p < end && *p != ',') p++; /* garbage after a quoted value */
        if (p < end) p++;
        if (klen == 3 && memcmp(key, "URI", 3) == 0) {
            if (!quoted) {
                fprintf(stderr, "hls-dump: %s: URI attribute is not a quoted string\n", playlist);
                return -1;
            }
            return add_uri(out, val, (size_t)(vend - val), playlist);
        }
    }
    return 0;
}

static int starts_with(const char *p, const char *end, const char *prefix) {
    size_t n = strlen(prefix);
    return (size_t)(end - p) >= n && memcmp(p, prefix, n) == 0;
}

/* master != 0: collect variant / rendition playlists; master == 0: collect EXT-X-MAP and
 * segment URIs. Names are appended to `out` (duplicates dropped). */
static int parse_playlist(const uint8_t *data, size_t len, int master, NameList *out,
                          const char *playlist) {
    const char *p = (const char *)data, *end = p + len;
    if (!starts_with(p, end, "#EXTM3U")) {
        fprintf(stderr, "hls-dump: %s: does not start with #EXTM3U\n", playlist);
        return -1;
    }
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *le = nl ? nl : end;
        const char *next = nl ? nl + 1 : end;
        while (p < le && (*p == ' ' || *p == '\t')) p++;
        while (le > p && (le[-1] == '\r' || le[-1] == ' ' || le[-1] == '\t')) le--;
        if (p == le) {
            /* blank line */
        } else if (*p == '#') {
            const char *tags[3];
            size_t ntags = 0;
            if (master) {
                tags[ntags++] = "#EXT-X-MEDIA:";
                tags[ntags++] = "#EXT-X-I-FRAME-STREAM-INF:";
            } else {
                tags[ntags++] = "#EXT-X-MAP:";
            }
            for (size_t i = 0; i < ntags; i++) {
                if (starts_with(p, le, tags[i])) {
                    if (add_uri_attr(p + strlen(tags[i]), le, out, playlist) != 0) return -1;
                    break;
                }
            }
        } else if (add_uri(out, p, (size_t)(le - p), playlist) != 0) {
            /* a URI line: a variant playlist (after EXT-X-STREAM-INF) or a media segment */
            return -1;
        }
        p = next;
    }
    return 0;
}

/* ---------------------------------------------------------------------------------------------
 * Output.
 */

static int mkdir_p(const char *path) {
    char *tmp = strdup(path);
    if (!tmp) return -1;
    for (char *p = tmp + 1;; p++) {
        if (*p == '/' || *p == '\0') {
            char saved = *p;
            *p = '\0';
            if (mkdir(tmp, 0755) != 0 && errno != EEXIST) {
                int e = errno;
                free(tmp);
                errno = e;
                return -1;
            }
            *p = saved;
            if (saved == '\0') break;
        }
    }
    free(tmp);
    struct stat st;
    if (stat(path, &st) != 0) return -1;
    if (!S_ISDIR(st.st_mode)) {
        errno = ENOTDIR;
        return -1;
    }
    return 0;
}

/* Writes out_dir/name (creating subdirectories for names containing '/'). */
static int write_file(const char *out_dir, const char *name, const uint8_t *data, size_t len) {
    size_t n = strlen(out_dir) + 1 + strlen(name) + 1;
    char *path = malloc(n);
    if (!path) {
        fprintf(stderr, "hls-dump: out of memory\n");
        return -1;
    }
    snprintf(path, n, "%s/%s", out_dir, name);
    char *slash = strrchr(path + strlen(out_dir) + 1, '/');
    if (slash) {
        *slash = '\0';
        int r = mkdir_p(path);
        int e = errno;
        *slash = '/';
        if (r != 0) {
            fprintf(stderr, "hls-dump: cannot create directory for %s: %s\n", path, strerror(e));
            free(path);
            return -1;
        }
    }
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        fprintf(stderr, "hls-dump: cannot create %s: %s\n", path, strerror(errno));
        free(path);
        return -1;
    }
    size_t off = 0;
    while (off < len) {
        ssize_t w = write(fd, data + off, len - off);
        if (w < 0) {
            if (errno == EINTR) continue;
            fprintf(stderr, "hls-dump: cannot write %s: %s\n", path, strerror(errno));
            close(fd);
            free(path);
            return -1;
        }
        off += (size_t)w;
    }
    if (close(fd) != 0) {
        fprintf(stderr, "hls-dump: cannot write %s: %s\n", path, strerror(errno));
        free(path);
        return -1;
    }
    free(path);
    return 0;
}

/* ---------------------------------------------------------------------------------------------
 * Fetching.
 */

static void report(const char *what, HlsStatus st, const HlsError *err) {
    const char *msg = err ? hls_error_message(err) : hls_last_error_message();
    fprintf(stderr, "hls-dump: %s: %s: %s\n", what, hls_status_str(st), msg && *msg ? msg : "(no message)");
}

/* Fetches `name` (as a playlist or a segment) into *buf; prints the error on failure. */
static int fetch(HlsMedia *media, const char *name, int playlist, HlsBuffer *buf) {
    HlsError *err = NULL;
    memset(buf, 0, sizeof *buf);
    HlsStatus st = playlist ? hls_playlist_ex(media, name, buf, &err)
                            : hls_segment_ex(media, name, buf, &err);
    if (st != HLS_OK) {
        report(name, st, err);
        hls_error_free(err);
        hls_free_buffer(buf);
        return -1;
    }
    hls_error_free(err); /* NULL on success; freed in case a library sets it anyway */
    if (buf->len > 0 && buf->data == NULL) {
        fprintf(stderr, "hls-dump: %s: library returned NULL data with length %zu\n", name, buf->len);
        hls_free_buffer(buf);
        return -1;
    }
    return 0;
}

typedef struct {
    HlsMedia *media;
    const NameList *names;
    const char *out_dir;
    atomic_size_t next;
    atomic_int failed;
    atomic_ullong bytes;
} SegmentJob;

static void *segment_worker(void *arg) {
    SegmentJob *job = arg;
    while (!atomic_load(&job->failed)) {
        size_t i = atomic_fetch_add(&job->next, 1);
        if (i >= job->names->len) break;
        const char *name = job->names->items[i];
        HlsBuffer buf;
        if (fetch(job->media, name, 0, &buf) != 0) {
            atomic_store(&job->failed, 1);
            break;
        }
        int r = write_file(job->out_dir, name, buf.data, buf.len);
        atomic_fetch_add(&job->bytes, (unsigned long long)buf.len);
        hls_free_buffer(&buf);
        if (r != 0) {
            atomic_store(&job->failed, 1);
            break;
        }
    }
    return NULL;
}

static int fetch_segments(SegmentJob *job, int nthreads) {
    if (nthreads <= 1) {
        segment_worker(job);
        return atomic_load(&job->failed) ? -1 : 0;
    }
    pthread_t tids[MAX_THREADS];
    int started = 0;
    for (int i = 0; i < nthreads; i++) {
        int e = pthread_create(&tids[i], NULL, segment_worker, job);
        if (e != 0) {
            fprintf(stderr, "hls-dump: pthread_create: %s\n", strerror(e));
            atomic_store(&job->failed, 1);
            break;
        }
        started++;
    }
    for (int i = 0; i < started; i++) pthread_join(tids[i], NULL);
    return atomic_load(&job->failed) ? -1 : 0;
}

static void usage(void) {
    fprintf(stderr, "usage: hls-dump [--threads N] [--shuffle SEED] [--transcode unplayable|browser-safe|never|add-aac]\n"
                    "                [--segment-ms MS] [--scan] [--clip FROM_MS:TO_MS[:forward]] <media-file> <out-dir>\n"
                    "  --clip       serve only [FROM_MS, TO_MS) (TO_MS 0: to the end); forward: from the\n"
                    "               first keyframe at or after FROM_MS (default: keyframe-aligned + edit list)\n"
                    "  --scan       index Matroska by reading every packet instead of its Cues\n"
                    "  --transcode  the audio transcode policy (default: the library's, add-aac)\n");
}

int main(int argc, char **argv) {
    int nthreads = 1;
    unsigned shuffle_seed = 0;
    long segment_ms = 0;
    int scan = 0;
    const char *clip = NULL;
    int policy = -1; /* -1: the library's default (HLS_TRANSCODE_ADD_AAC) */
    const char *media_path = NULL, *out_dir = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--shuffle") == 0 && i + 1 < argc) {
            shuffle_seed = (unsigned)strtoul(argv[++i], NULL, 10);
        } else if (strcmp(argv[i], "--clip") == 0 && i + 1 < argc) {
            clip = argv[++i];
        } else if (strcmp(argv[i], "--scan") == 0) {
            scan = 1;
        } else if (strcmp(argv[i], "--segment-ms") == 0 && i + 1 < argc) {
            segment_ms = strtol(argv[++i], NULL, 10);
        } else if (strcmp(argv[i], "--transcode") == 0 && i + 1 < argc) {
            const char *p = argv[++i];
            if (strcmp(p, "unplayable") == 0) policy = HLS_TRANSCODE_UNPLAYABLE;
            else if (strcmp(p, "browser-safe") == 0) policy = HLS_TRANSCODE_BROWSER_SAFE;
            else if (strcmp(p, "never") == 0) policy = HLS_TRANSCODE_NEVER;
            else if (strcmp(p, "add-aac") == 0) policy = HLS_TRANSCODE_ADD_AAC;
            else {
                fprintf(stderr, "hls-dump: unknown --transcode policy %s\n", p);
                return 2;
            }
        } else if (strcmp(argv[i], "--threads") == 0 && i + 1 < argc) {
            char *end;
            long n = strtol(argv[++i], &end, 10);
            if (*end || n < 1 || n > MAX_THREADS) {
                fprintf(stderr, "hls-dump: --threads must be 1..%d\n", MAX_THREADS);
                return 2;
            }
            nthreads = (int)n;
        } else if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
            usage();
            return 0;
        } else if (argv[i][0] == '-' && argv[i][1] != '\0' && strcmp(argv[i], "--") != 0) {
            fprintf(stderr, "hls-dump: unknown option %s\n", argv[i]);
            usage();
            return 2;
        } else {
            if (strcmp(argv[i], "--") == 0 && ++i >= argc) break;
            if (!media_path) media_path = argv[i];
            else if (!out_dir) out_dir = argv[i];
            else {
                usage();
                return 2;
            }
        }
    }
    if (!media_path || !out_dir) {
        usage();
        return 2;
    }

    int rc = 1;
    HlsMedia *media = NULL;
    NameList playlists = {0}, segments = {0};
    unsigned long long bytes = 0;
    HlsBuffer buf;

    HlsConfig *cfg = hls_config_new();
    if (!cfg || (policy >= 0 && hls_config_set_transcode_policy(cfg, policy) != HLS_OK) ||
        (segment_ms && hls_config_set_segment_duration_ms(cfg, (uint32_t)segment_ms) != HLS_OK) ||
        (scan && hls_config_set_use_container_index(cfg, 0) != HLS_OK)) {
        fprintf(stderr, "hls-dump: bad configuration: %s\n", hls_last_error_message());
        hls_config_free(cfg);
        return 2;
    }
    HlsContext *ctx = hls_context_new(cfg);
    hls_config_free(cfg);
    if (!ctx) {
        fprintf(stderr, "hls-dump: hls_context_new failed: %s\n", hls_last_error_message());
        return 1;
    }

    HlsError *err = NULL;
    HlsOpenOptions *opts = NULL;
    if (clip) {
        unsigned long long from_ms = 0, to_ms = 0;
        char how[16] = "";
        int n = sscanf(clip, "%llu:%llu:%15s", &from_ms, &to_ms, how);
        opts = hls_open_options_new();
        if (n < 2 || !opts ||
            hls_open_options_set_clip(opts, from_ms, to_ms,
                                      strcmp(how, "forward") == 0 ? HLS_CLIP_KEYFRAME_FORWARD
                                                                  : HLS_CLIP_KEYFRAME_ALIGNED) != HLS_OK) {
            fprintf(stderr, "hls-dump: bad --clip %s: %s\n", clip, hls_last_error_message());
            hls_open_options_free(opts);
            hls_context_free(ctx);
            return 2;
        }
    }
    HlsStatus st = hls_open_with(ctx, media_path, opts, &media, &err);
    hls_open_options_free(opts);
    if (st != HLS_OK) {
        report(media_path, st, err);
        hls_error_free(err);
        goto out;
    }
    hls_error_free(err);

    if (mkdir_p(out_dir) != 0) {
        fprintf(stderr, "hls-dump: cannot create %s: %s\n", out_dir, strerror(errno));
        goto out;
    }

    /* master.m3u8 -> list of media playlists */
    if (fetch(media, "master.m3u8", 1, &buf) != 0) goto out;
    int r = write_file(out_dir, "master.m3u8", buf.data, buf.len);
    if (r == 0) r = parse_playlist(buf.data, buf.len, 1, &playlists, "master.m3u8");
    bytes += buf.len;
    hls_free_buffer(&buf);
    if (r != 0) goto out;
    if (playlists.len == 0) {
        fprintf(stderr, "hls-dump: master.m3u8 names no media playlist\n");
        goto out;
    }

    /* every media playlist -> list of segments (init sections included) */
    for (size_t i = 0; i < playlists.len; i++) {
        const char *name = playlists.items[i];
        if (!name_is_safe(name) || strcmp(name, "master.m3u8") == 0) {
            fprintf(stderr, "hls-dump: master.m3u8 names an unsafe URI: '%s'\n", name);
            goto out;
        }
        if (fetch(media, name, 1, &buf) != 0) goto out;
        r = write_file(out_dir, name, buf.data, buf.len);
        if (r == 0) r = parse_playlist(buf.data, buf.len, 0, &segments, name);
        bytes += buf.len;
        hls_free_buffer(&buf);
        if (r != 0) goto out;
    }
    for (size_t i = 0; i < segments.len; i++) {
        const char *name = segments.items[i];
        if (!name_is_safe(name) || strcmp(name, "info.json") == 0) {
            fprintf(stderr, "hls-dump: a media playlist names an unsafe URI: '%s'\n", name);
            goto out;
        }
    }

    if (shuffle_seed) {
        /* Fetch segments in a random order: output must not depend on request order. */
        srand(shuffle_seed);
        for (size_t i = segments.len; i > 1; i--) {
            size_t j = (size_t)rand() % i;
            char *t = segments.items[i - 1];
            segments.items[i - 1] = segments.items[j];
            segments.items[j] = t;
        }
    }

    SegmentJob job = {.media = media, .names = &segments, .out_dir = out_dir};
    atomic_init(&job.next, 0);
    atomic_init(&job.failed, 0);
    atomic_init(&job.bytes, 0);
    if (fetch_segments(&job, nthreads) != 0) goto out;
    bytes += atomic_load(&job.bytes);

    memset(&buf, 0, sizeof buf);
    st = hls_media_info_json(media, &buf);
    if (st != HLS_OK) {
        report("info.json", st, NULL);
        hls_free_buffer(&buf);
        goto out;
    }
    r = write_file(out_dir, "info.json", buf.data, buf.len);
    hls_free_buffer(&buf);
    if (r != 0) goto out;

    printf("hls-dump: %s: %zu playlists, %zu segments, %llu bytes -> %s\n", media_path,
           playlists.len + 1, segments.len, bytes, out_dir);
    rc = 0;

out:
    names_free(&playlists);
    names_free(&segments);
    hls_close(media);
    hls_context_free(ctx);
    if (fflush(stdout) != 0) rc = 1;
    return rc;
}
