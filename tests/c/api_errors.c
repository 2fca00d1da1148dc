/*
 * api_errors: bad input through the C API, with exact statuses.
 *
 *   api_errors <media-dir> [<valid-media-file>]
 *
 * <media-dir> must hold empty.mp4, text.mp4, truncated.mp4, truncated.mkv, corrupt.mp4 and subs_only.mkv. The
 * valid file (used for name checks) defaults to the first other regular file in <media-dir>, in
 * name order, that opens with HLS_OK.
 *
 * Prints one line per check and "api_errors: N passed, M failed"; exits 1 if any check failed.
 */
#define _XOPEN_SOURCE 700

#include "hls.h"

#include <dirent.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static int passed, failed;

static void check(int ok, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void check(int ok, const char *fmt, ...) {
    char text[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    /* names under test contain invalid UTF-8: keep the output ASCII */
    printf("%s - ", ok ? "ok  " : "FAIL");
    for (const unsigned char *p = (const unsigned char *)text; *p; p++) {
        if (*p < 0x20 || *p >= 0x7f) printf("\\x%02x", *p);
        else putchar(*p);
    }
    putchar('\n');
    if (ok) passed++;
    else failed++;
    fflush(stdout);
}

/* The enumerator name of a status (hls_status_str adds a description; it is tested separately). */
static const char *status_name(HlsStatus st) {
    static const char *const names[] = {"HLS_OK", "HLS_ERR_NULL_ARGUMENT", "HLS_ERR_INVALID_UTF8",
                                        "HLS_ERR_INVALID_ARGUMENT", "HLS_ERR_NOT_FOUND", "HLS_ERR_IO",
                                        "HLS_ERR_INVALID_MEDIA", "HLS_ERR_NO_PLAYABLE_TRACKS",
                                        "HLS_ERR_FILE_CHANGED", "HLS_ERR_UNSUPPORTED", "HLS_ERR_PANIC",
                                        "HLS_ERR_INTERNAL", "HLS_ERR_KEY_UNAVAILABLE"};
    unsigned i = (unsigned)st;
    return i < sizeof names / sizeof names[0] ? names[i] : "(unknown status)";
}

static const char *msg_or(const char *m) { return m ? (*m ? m : "(empty message)") : "(NULL message)"; }

/* Checks that `got` is `want`; on failure prints both and the thread's last error message. */
static void expect(const char *what, HlsStatus got, HlsStatus want) {
    if (got == want) check(1, "%s -> %s", what, status_name(want));
    else
        check(0, "%s -> %s, expected %s (%s)", what, status_name(got), status_name(want),
              msg_or(hls_last_error_message()));
}

/* Like expect, for an _ex call: also checks the error object (status, non-empty message) and
 * frees it. `must_contain` (may be NULL) must occur in the message. */
static void expect_ex(const char *what, HlsStatus got, HlsError *err, HlsStatus want, const char *must_contain) {
    expect(what, got, want);
    if (want == HLS_OK) {
        hls_error_free(err); /* contract: only set on failure; freed in case */
        return;
    }
    if (!err) {
        check(0, "%s: err_out is NULL after a failure", what);
        return;
    }
    HlsStatus es = hls_error_status(err);
    const char *m = hls_error_message(err);
    check(es == want, "%s: hls_error_status == %s (got %s)", what, status_name(want), status_name(es));
    check(m && *m, "%s: hls_error_message non-empty: %s", what, msg_or(m));
    if (must_contain)
        check(m && strstr(m, must_contain), "%s: message mentions \"%s\": %s", what, must_contain, msg_or(m));
    hls_error_free(err);
}

static char *join(const char *dir, const char *name) {
    size_t n = strlen(dir) + strlen(name) + 2;
    char *s = malloc(n);
    if (!s) {
        perror("malloc");
        exit(1);
    }
    snprintf(s, n, "%s/%s", dir, name);
    return s;
}

static const char *const BAD_FILES[] = {"empty.mp4", "text.mp4", "truncated.mp4", "truncated.mkv", "corrupt.mp4", "subs_only.mkv"};

static int is_bad_file(const char *name) {
    for (size_t i = 0; i < sizeof BAD_FILES / sizeof BAD_FILES[0]; i++)
        if (strcmp(name, BAD_FILES[i]) == 0) return 1;
    return 0;
}

/* First regular file in dir (sorted) that is not a known-bad fixture and opens OK. */
static char *find_valid_file(HlsContext *ctx, const char *dir) {
    struct dirent **list;
    int n = scandir(dir, &list, NULL, alphasort);
    if (n < 0) return NULL;
    char *found = NULL;
    for (int i = 0; i < n; i++) {
        if (!found && list[i]->d_name[0] != '.' && !is_bad_file(list[i]->d_name)) {
            char *p = join(dir, list[i]->d_name);
            struct stat st;
            HlsMedia *m = NULL;
            if (stat(p, &st) == 0 && S_ISREG(st.st_mode) && hls_open(ctx, p, &m) == HLS_OK) found = p;
            else free(p);
            hls_close(m);
        }
        free(list[i]);
    }
    free(list);
    return found;
}

/* ------------------------------------------------------------------------------------------- */

static void test_status_strings(void) {
    int ok = 1, distinct = 1;
    for (int s = HLS_OK; s <= HLS_ERR_KEY_UNAVAILABLE; s++) {
        const char *a = hls_status_str((HlsStatus)s);
        if (!a || !*a) ok = 0;
        for (int t = HLS_OK; t < s && a; t++) {
            const char *b = hls_status_str((HlsStatus)t);
            if (b && strcmp(a, b) == 0) distinct = 0;
        }
    }
    check(ok, "hls_status_str: non-empty for every status");
    int named = 1;
    for (int s = HLS_OK; s <= HLS_ERR_KEY_UNAVAILABLE; s++) {
        const char *a = hls_status_str((HlsStatus)s), *n = status_name((HlsStatus)s);
        if (!a || strncmp(a, n, strlen(n)) != 0 || (a[strlen(n)] != '\0' && a[strlen(n)] != ':')) named = 0;
    }
    check(named, "hls_status_str: starts with the enumerator name (\"HLS_ERR_IO\" or \"HLS_ERR_IO: ...\")");
    check(distinct, "hls_status_str: distinct for every status");
}

/* Values C passes as integers are validated: a value that is no HlsStatus / HlsTranscodePolicy is
 * reported, never reinterpreted. */
static void test_out_of_range_values(void) {
    static const int bad_status[] = {HLS_ERR_KEY_UNAVAILABLE + 1, 99, -1, INT_MIN, INT_MAX};
    for (size_t i = 0; i < sizeof bad_status / sizeof bad_status[0]; i++) {
        const char *s = hls_status_str(bad_status[i]);
        check(s && strcmp(s, "unknown status") == 0, "hls_status_str(%d) is \"unknown status\": %s", bad_status[i],
              msg_or(s));
    }

    HlsConfig *cfg = hls_config_new();
    check(cfg != NULL, "hls_config_new");
    if (!cfg) return;
    static const int good_policy[] = {HLS_TRANSCODE_UNPLAYABLE, HLS_TRANSCODE_BROWSER_SAFE, HLS_TRANSCODE_NEVER,
                                      HLS_TRANSCODE_ADD_AAC};
    for (size_t i = 0; i < sizeof good_policy / sizeof good_policy[0]; i++) {
        char what[128];
        snprintf(what, sizeof what, "hls_config_set_transcode_policy(cfg, %d)", good_policy[i]);
        expect(what, hls_config_set_transcode_policy(cfg, good_policy[i]), HLS_OK);
    }
    static const int bad_policy[] = {HLS_TRANSCODE_ADD_AAC + 1, 99, -1, INT_MIN, INT_MAX};
    for (size_t i = 0; i < sizeof bad_policy / sizeof bad_policy[0]; i++) {
        char what[128];
        snprintf(what, sizeof what, "hls_config_set_transcode_policy(cfg, %d)", bad_policy[i]);
        expect(what, hls_config_set_transcode_policy(cfg, bad_policy[i]), HLS_ERR_INVALID_ARGUMENT);
    }
    const char *m = hls_last_error_message();
    check(m && strstr(m, "transcode policy"), "hls_last_error_message names the transcode policy: %s", msg_or(m));
    expect("hls_config_set_transcode_policy(NULL, HLS_TRANSCODE_NEVER)",
           hls_config_set_transcode_policy(NULL, HLS_TRANSCODE_NEVER), HLS_ERR_NULL_ARGUMENT);
    /* the rejected values left the last valid policy in place: the config still makes a context */
    HlsContext *ctx = hls_context_new(cfg);
    check(ctx != NULL, "hls_context_new(cfg) after rejected policies");
    hls_context_free(ctx);
    hls_config_free(cfg);
}

/* The HLS_VERSION_* macros of the header equal what the library reports at run time. */
static void test_version(void) {
    const char *v = hls_version();
    check(v && strcmp(v, HLS_VERSION_STRING) == 0, "hls_version() == HLS_VERSION_STRING: %s, %s", msg_or(v),
          HLS_VERSION_STRING);
    check(hls_version_number() == (uint32_t)HLS_VERSION_NUMBER, "hls_version_number() == HLS_VERSION_NUMBER: %u, %u",
          (unsigned)hls_version_number(), (unsigned)HLS_VERSION_NUMBER);
    check(HLS_VERSION_NUMBER == HLS_VERSION_MAJOR * 1000000 + HLS_VERSION_MINOR * 1000 + HLS_VERSION_PATCH,
          "HLS_VERSION_NUMBER == MAJOR * 1000000 + MINOR * 1000 + PATCH");
    char mmp[64];
    snprintf(mmp, sizeof mmp, "%d.%d.%d", HLS_VERSION_MAJOR, HLS_VERSION_MINOR, HLS_VERSION_PATCH);
    size_t n = strlen(mmp);
    check(v && strncmp(v, mmp, n) == 0 && (v[n] == '\0' || v[n] == '-' || v[n] == '+'),
          "hls_version() is HLS_VERSION_MAJOR.MINOR.PATCH (%s)", mmp);
}

static void test_config(void) {
    HlsConfig *cfg = hls_config_new();
    check(cfg != NULL, "hls_config_new");
    if (!cfg) return;
    expect("hls_config_set_segment_duration_ms(NULL, 6000)", hls_config_set_segment_duration_ms(NULL, 6000),
           HLS_ERR_NULL_ARGUMENT);
    expect("hls_config_set_segment_duration_ms(cfg, 0)", hls_config_set_segment_duration_ms(cfg, 0),
           HLS_ERR_INVALID_ARGUMENT);
    const char *m = hls_last_error_message();
    check(m && *m, "hls_last_error_message after the rejected duration: %s", msg_or(m));
    expect("hls_config_set_segment_duration_ms(cfg, 4000)", hls_config_set_segment_duration_ms(cfg, 4000), HLS_OK);
    expect("hls_config_set_cache_bytes(NULL, 1 MiB)", hls_config_set_cache_bytes(NULL, 1 << 20),
           HLS_ERR_NULL_ARGUMENT);
    expect("hls_config_set_cache_bytes(cfg, 64 MiB)", hls_config_set_cache_bytes(cfg, 64u << 20), HLS_OK);
    expect("hls_config_set_use_container_index(NULL, 0)", hls_config_set_use_container_index(NULL, 0),
           HLS_ERR_NULL_ARGUMENT);
    expect("hls_config_set_use_container_index(cfg, 0)", hls_config_set_use_container_index(cfg, 0), HLS_OK);
    expect("hls_config_set_use_container_index(cfg, 1)", hls_config_set_use_container_index(cfg, 1), HLS_OK);
    HlsContext *ctx = hls_context_new(cfg);
    check(ctx != NULL, "hls_context_new(cfg with 4 s segments, 64 MiB)");
    hls_context_free(ctx);
    hls_config_free(cfg);
    hls_config_free(NULL);
    check(1, "hls_config_free(NULL)");

    ctx = hls_context_new(NULL);
    check(ctx != NULL, "hls_context_new(NULL) uses defaults");
    hls_context_free(ctx);
    hls_context_free(NULL);
    check(1, "hls_context_free(NULL)");
    hls_close(NULL);
    check(1, "hls_close(NULL)");
    hls_error_free(NULL);
    check(1, "hls_error_free(NULL)");
    expect("hls_error_status(NULL)", hls_error_status(NULL), HLS_ERR_NULL_ARGUMENT);
    m = hls_error_message(NULL);
    check(m && *m == '\0', "hls_error_message(NULL) is \"\"");
    hls_free_buffer(NULL);
    check(1, "hls_free_buffer(NULL)");
    m = hls_last_error_message();
    check(m != NULL, "hls_last_error_message() is never NULL");
}

static void test_open_errors(HlsContext *ctx, const char *dir, const char *valid) {
    HlsMedia *m = NULL;
    HlsError *err = NULL;

    expect("hls_open(NULL ctx)", hls_open(NULL, valid, &m), HLS_ERR_NULL_ARGUMENT);
    expect("hls_open(NULL path)", hls_open(ctx, NULL, &m), HLS_ERR_NULL_ARGUMENT);
    expect("hls_open(NULL out)", hls_open(ctx, valid, NULL), HLS_ERR_NULL_ARGUMENT);
    check(m == NULL, "*out stays NULL after failed opens");
    err = NULL;
    HlsStatus st = hls_open_ex(NULL, valid, &m, &err);
    expect_ex("hls_open_ex(NULL ctx)", st, err, HLS_ERR_NULL_ARGUMENT, NULL);
    err = NULL;
    st = hls_open_ex(ctx, NULL, &m, &err);
    expect_ex("hls_open_ex(NULL path)", st, err, HLS_ERR_NULL_ARGUMENT, NULL);
    err = NULL;
    st = hls_open_ex(ctx, valid, NULL, &err);
    expect_ex("hls_open_ex(NULL out)", st, err, HLS_ERR_NULL_ARGUMENT, NULL);

    /* hls_open_with: NULL options are the defaults; the argument checks are hls_open_ex's */
    HlsOpenOptions *opts = hls_open_options_new();
    check(opts != NULL, "hls_open_options_new");
    err = NULL;
    st = hls_open_with(NULL, valid, opts, &m, &err);
    expect_ex("hls_open_with(NULL ctx)", st, err, HLS_ERR_NULL_ARGUMENT, NULL);
    err = NULL;
    st = hls_open_with(ctx, NULL, opts, &m, &err);
    expect_ex("hls_open_with(NULL path)", st, err, HLS_ERR_NULL_ARGUMENT, NULL);
    err = NULL;
    st = hls_open_with(ctx, valid, opts, NULL, &err);
    expect_ex("hls_open_with(NULL out)", st, err, HLS_ERR_NULL_ARGUMENT, NULL);
    HlsMedia *a = NULL, *b = NULL;
    expect("hls_open_with(defaults)", hls_open_with(ctx, valid, opts, &a, NULL), HLS_OK);
    hls_open_options_free(opts); /* the media keeps its own copy */
    expect("hls_open_with(NULL options)", hls_open_with(ctx, valid, NULL, &b, NULL), HLS_OK);
    HlsBuffer pa = {0}, pb = {0};
    expect("master via options", hls_playlist(a, "master.m3u8", &pa), HLS_OK);
    expect("master via NULL options", hls_playlist(b, "master.m3u8", &pb), HLS_OK);
    check(pa.len == pb.len && pa.len > 0 && memcmp(pa.data, pb.data, pa.len) == 0,
          "default options and NULL options give the same presentation");
    hls_free_buffer(&pa);
    hls_free_buffer(&pb);
    hls_close(a);
    hls_close(b);
    hls_open_options_free(NULL);
    check(1, "hls_open_options_free(NULL)");

    char *bad_utf8 = join(dir, "\xff\xfe-not-utf8.mp4");
    expect("hls_open(invalid UTF-8 path)", hls_open(ctx, bad_utf8, &m), HLS_ERR_INVALID_UTF8);
    err = NULL;
    st = hls_open_ex(ctx, bad_utf8, &m, &err);
    expect_ex("hls_open_ex(invalid UTF-8 path)", st, err, HLS_ERR_INVALID_UTF8, NULL);
    free(bad_utf8);

    /* missing file: IO, and the message names the path (error object and thread-local) */
    char *missing = join(dir, "does-not-exist.mp4");
    expect("hls_open(missing file)", hls_open(ctx, missing, &m), HLS_ERR_IO);
    const char *lm = hls_last_error_message();
    check(lm && strstr(lm, missing), "hls_last_error_message names the missing path: %s", msg_or(lm));
    err = NULL;
    st = hls_open_ex(ctx, missing, &m, &err);
    expect_ex("hls_open_ex(missing file)", st, err, HLS_ERR_IO, missing);
    st = hls_open_ex(ctx, missing, &m, NULL);
    expect("hls_open_ex(missing file, err_out NULL)", st, HLS_ERR_IO);
    free(missing);

    err = NULL;
    st = hls_open_ex(ctx, dir, &m, &err);
    expect_ex("hls_open_ex(directory)", st, err, HLS_ERR_IO, dir);

    static const struct {
        const char *file;
        HlsStatus want;
    } cases[] = {
        {"empty.mp4", HLS_ERR_INVALID_MEDIA},
        {"text.mp4", HLS_ERR_INVALID_MEDIA},
        {"truncated.mp4", HLS_ERR_INVALID_MEDIA},
        {"truncated.mkv", HLS_ERR_INVALID_MEDIA},
        {"subs_only.mkv", HLS_ERR_NO_PLAYABLE_TRACKS},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *p = join(dir, cases[i].file);
        char what[256];
        snprintf(what, sizeof what, "hls_open(%s)", cases[i].file);
        expect(what, hls_open(ctx, p, &m), cases[i].want);
        if (m) { /* a wrong OK */
            hls_close(m);
            m = NULL;
        }
        err = NULL;
        st = hls_open_ex(ctx, p, &m, &err);
        snprintf(what, sizeof what, "hls_open_ex(%s)", cases[i].file);
        expect_ex(what, st, err, cases[i].want, NULL);
        if (m) {
            hls_close(m);
            m = NULL;
        }
        /* a second attempt must fail the same way (failures are not cached as successes) */
        snprintf(what, sizeof what, "hls_open(%s) again", cases[i].file);
        expect(what, hls_open(ctx, p, &m), cases[i].want);
        if (m) {
            hls_close(m);
            m = NULL;
        }
        free(p);
    }
    check(m == NULL, "*out stays NULL after failed opens of bad files");
}

/* Extracts the URIs of a playlist (media playlists from a master; EXT-X-MAP + segments from a
 * media playlist) into names[] (malloc'd strings); returns the count. Minimal: used only to find
 * names to request. */
static size_t playlist_uris(const HlsBuffer *b, char **names, size_t max) {
    size_t n = 0;
    const char *p = (const char *)b->data, *end = p + b->len;
    while (p < end && n < max) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *le = nl ? nl : end;
        while (le > p && (le[-1] == '\r' || le[-1] == ' ')) le--;
        const char *u = NULL, *ue = NULL;
        if (p < le && *p != '#') {
            u = p;
            ue = le;
        } else if (p < le) {
            const char *a = p;
            while (a + 5 <= le && memcmp(a, "URI=\"", 5) != 0) a++;
            if (a + 5 <= le && (a[-1] == ':' || a[-1] == ',')) {
                u = a + 5;
                ue = memchr(u, '"', (size_t)(le - u));
            }
        }
        if (u && ue && ue > u) {
            int dup = 0;
            for (size_t i = 0; i < n; i++)
                if (strlen(names[i]) == (size_t)(ue - u) && memcmp(names[i], u, (size_t)(ue - u)) == 0) dup = 1;
            if (!dup) {
                names[n] = malloc((size_t)(ue - u) + 1);
                if (!names[n]) break;
                memcpy(names[n], u, (size_t)(ue - u));
                names[n][ue - u] = '\0';
                n++;
            }
        }
        p = nl ? nl + 1 : end;
    }
    return n;
}

static int clean_status(HlsStatus st) {
    return st == HLS_OK || st == HLS_ERR_INVALID_MEDIA || st == HLS_ERR_UNSUPPORTED || st == HLS_ERR_IO;
}

/* corrupt.mp4 may open (damage inside mdat); then everything must succeed or fail cleanly. */
static void test_corrupt(HlsContext *ctx, const char *dir) {
    char *p = join(dir, "corrupt.mp4");
    HlsMedia *m = NULL;
    HlsError *err = NULL;
    HlsStatus st = hls_open_ex(ctx, p, &m, &err);
    if (st != HLS_OK) {
        expect_ex("hls_open_ex(corrupt.mp4)", st, err, HLS_ERR_INVALID_MEDIA, NULL);
        free(p);
        return;
    }
    hls_error_free(err);
    check(1, "hls_open(corrupt.mp4) -> HLS_OK (damage inside the media data); crawling it");
    HlsBuffer master = {0};
    st = hls_playlist(m, "master.m3u8", &master);
    check(clean_status(st), "corrupt.mp4: master.m3u8 -> %s %s", status_name(st),
          st ? msg_or(hls_last_error_message()) : "");
    enum { MAXN = 4096 };
    char **pl = calloc(MAXN, sizeof *pl), **segs = calloc(MAXN, sizeof *segs);
    size_t npl = st == HLS_OK && pl ? playlist_uris(&master, pl, MAXN) : 0;
    hls_free_buffer(&master);
    size_t ok = 0, failed_clean = 0, unclean = 0;
    for (size_t i = 0; i < npl; i++) {
        HlsBuffer b = {0};
        st = hls_playlist(m, pl[i], &b);
        if (!clean_status(st)) {
            check(0, "corrupt.mp4: %s -> %s: %s", pl[i], status_name(st), msg_or(hls_last_error_message()));
            unclean++;
        }
        size_t ns = st == HLS_OK && segs ? playlist_uris(&b, segs, MAXN) : 0;
        hls_free_buffer(&b);
        for (size_t k = 0; k < ns; k++) {
            HlsBuffer s = {0};
            err = NULL;
            st = hls_segment_ex(m, segs[k], &s, &err);
            if (st == HLS_OK) {
                ok++;
            } else if (clean_status(st) && err && hls_error_status(err) == st && *hls_error_message(err)) {
                failed_clean++;
            } else {
                check(0, "corrupt.mp4: %s -> %s: %s", segs[k], status_name(st),
                      err ? msg_or(hls_error_message(err)) : "(no error object)");
                unclean++;
            }
            hls_error_free(err);
            hls_free_buffer(&s);
            free(segs[k]);
        }
        free(pl[i]);
    }
    free(pl);
    free(segs);
    check(unclean == 0, "corrupt.mp4: %zu playlists, %zu segments OK, %zu failed with a clean status", npl, ok,
          failed_clean);
    hls_close(m);
    free(p);
}

typedef HlsStatus (*GetFn)(HlsMedia *, const char *, HlsBuffer *);
typedef HlsStatus (*GetExFn)(HlsMedia *, const char *, HlsBuffer *, HlsError **);

static void expect_get(const char *fn_name, GetFn fn, HlsMedia *m, const char *name, HlsStatus want,
                       HlsStatus also_ok) {
    HlsBuffer b = {0};
    HlsStatus st = fn(m, name, &b);
    char what[256];
    snprintf(what, sizeof what, "%s(\"%s\")", fn_name, name);
    if (st == also_ok && also_ok != want) expect(what, st, also_ok);
    else expect(what, st, want);
    if (st != HLS_OK) check(b.data == NULL && b.len == 0, "%s: buffer left empty on failure", what);
    hls_free_buffer(&b);
}

static void expect_get_ex(const char *fn_name, GetExFn fn, HlsMedia *m, const char *name, HlsStatus want) {
    HlsBuffer b = {0};
    HlsError *err = NULL;
    HlsStatus st = fn(m, name, &b, &err);
    char what[256];
    snprintf(what, sizeof what, "%s(\"%s\")", fn_name, name);
    expect_ex(what, st, err, want, NULL);
    hls_free_buffer(&b);
}

static int has_prefix(const HlsBuffer *b, const char *s) {
    size_t n = strlen(s);
    return b->data && b->len >= n && memcmp(b->data, s, n) == 0;
}

static int contains(const HlsBuffer *b, const char *s) {
    size_t n = strlen(s);
    for (size_t i = 0; b->data && i + n <= b->len; i++)
        if (memcmp(b->data + i, s, n) == 0) return 1;
    return 0;
}

typedef struct {
    HlsMedia *m;
    int clean_at_start;
    HlsStatus st;
} ThreadCheck;

static void *other_thread(void *arg) {
    ThreadCheck *t = arg;
    const char *m = hls_last_error_message();
    t->clean_at_start = m && *m == '\0';
    HlsBuffer b = {0};
    t->st = hls_playlist(t->m, "other-thread.m3u8", &b);
    hls_free_buffer(&b);
    return NULL;
}

static void test_names(HlsContext *ctx, const char *valid) {
    HlsMedia *m = NULL;
    HlsError *err = NULL;
    HlsStatus st = hls_open_ex(ctx, valid, &m, &err);
    expect_ex("hls_open_ex(valid file)", st, err, HLS_OK, NULL);
    if (st != HLS_OK || !m) return;

    /* successes, to know the handle works */
    HlsBuffer b = {0};
    st = hls_playlist(m, "master.m3u8", &b);
    expect("hls_playlist(\"master.m3u8\")", st, HLS_OK);
    check(has_prefix(&b, "#EXTM3U"), "master.m3u8 starts with #EXTM3U");
    check(b.content_type && strcmp(b.content_type, "application/vnd.apple.mpegurl") == 0,
          "master.m3u8 content_type is application/vnd.apple.mpegurl (%s)", b.content_type ? b.content_type : "NULL");
    HlsBuffer g = {0};
    st = hls_get(m, "master.m3u8", &g);
    expect("hls_get(\"master.m3u8\")", st, HLS_OK);
    check(st == HLS_OK && g.len == b.len && memcmp(g.data, b.data, b.len) == 0,
          "hls_get and hls_playlist return the same master.m3u8");
    hls_free_buffer(&g);
    err = NULL;
    st = hls_get_ex(m, "master.m3u8", &g, &err);
    expect_ex("hls_get_ex(\"master.m3u8\")", st, err, HLS_OK, NULL);
    check(st == HLS_OK && g.len == b.len && memcmp(g.data, b.data, b.len) == 0,
          "hls_get_ex and hls_playlist return the same master.m3u8");
    hls_free_buffer(&g);
    char *pl[64] = {0};
    size_t npl = st == HLS_OK ? playlist_uris(&b, pl, 64) : 0;
    check(npl > 0, "master.m3u8 names %zu media playlists", npl);
    hls_free_buffer(&b);
    hls_free_buffer(&b);
    check(1, "hls_free_buffer twice on the same buffer");

    /* one init section / first segment per media playlist */
    for (size_t i = 0; i < npl; i++) {
        HlsBuffer mp = {0};
        st = hls_playlist(m, pl[i], &mp);
        char what[256];
        snprintf(what, sizeof what, "hls_playlist(\"%s\")", pl[i]);
        expect(what, st, HLS_OK);
        char *segs[2] = {0};
        size_t ns = st == HLS_OK ? playlist_uris(&mp, segs, 2) : 0;
        hls_free_buffer(&mp);
        for (size_t k = 0; k < ns; k++) {
            HlsBuffer s = {0};
            st = hls_segment(m, segs[k], &s);
            snprintf(what, sizeof what, "hls_segment(\"%s\")", segs[k]);
            expect(what, st, HLS_OK);
            const char *ct = s.content_type ? s.content_type : "NULL";
            check(st != HLS_OK || (s.len > 0 && (strcmp(ct, "video/mp4") == 0 || strcmp(ct, "audio/mp4") == 0 ||
                                                 strcmp(ct, "text/vtt") == 0)),
                  "%s: %zu bytes, content_type %s", what, s.len, ct);
            hls_free_buffer(&s);
            hls_free_buffer(&s);
            free(segs[k]);
        }
        free(pl[i]);
    }

    /* JSON */
    b = (HlsBuffer){0};
    st = hls_media_info_json(m, &b);
    expect("hls_media_info_json", st, HLS_OK);
    check(has_prefix(&b, "{") && contains(&b, "\"tracks\"") && contains(&b, "\"path\""),
          "info JSON is an object with \"path\" and \"tracks\"");
    check(b.content_type && strcmp(b.content_type, "application/json") == 0, "info JSON content_type is application/json");
    hls_free_buffer(&b);
    st = hls_context_stats_json(ctx, &b);
    expect("hls_context_stats_json", st, HLS_OK);
    check(has_prefix(&b, "{") && contains(&b, "\"cache_bytes\""), "stats JSON has \"cache_bytes\"");
    hls_free_buffer(&b);

    /* NULL arguments */
    expect_get("hls_playlist(NULL media)", hls_playlist, NULL, "master.m3u8", HLS_ERR_NULL_ARGUMENT, HLS_ERR_NULL_ARGUMENT);
    expect_get("hls_segment(NULL media)", hls_segment, NULL, "master.m3u8", HLS_ERR_NULL_ARGUMENT, HLS_ERR_NULL_ARGUMENT);
    expect_get("hls_get(NULL media)", hls_get, NULL, "master.m3u8", HLS_ERR_NULL_ARGUMENT, HLS_ERR_NULL_ARGUMENT);
    expect_get_ex("hls_playlist_ex(NULL media)", hls_playlist_ex, NULL, "master.m3u8", HLS_ERR_NULL_ARGUMENT);
    expect_get_ex("hls_segment_ex(NULL media)", hls_segment_ex, NULL, "t0_0.m4s", HLS_ERR_NULL_ARGUMENT);
    expect_get_ex("hls_get_ex(NULL media)", hls_get_ex, NULL, "master.m3u8", HLS_ERR_NULL_ARGUMENT);
    err = NULL;
    st = hls_get_ex(m, NULL, &b, &err);
    expect_ex("hls_get_ex(NULL name)", st, err, HLS_ERR_NULL_ARGUMENT, NULL);
    err = NULL;
    st = hls_get_ex(m, "master.m3u8", NULL, &err);
    expect_ex("hls_get_ex(NULL out)", st, err, HLS_ERR_NULL_ARGUMENT, NULL);
    expect("hls_playlist(NULL name)", hls_playlist(m, NULL, &b), HLS_ERR_NULL_ARGUMENT);
    expect("hls_segment(NULL name)", hls_segment(m, NULL, &b), HLS_ERR_NULL_ARGUMENT);
    expect("hls_get(NULL name)", hls_get(m, NULL, &b), HLS_ERR_NULL_ARGUMENT);
    err = NULL;
    st = hls_playlist_ex(m, NULL, &b, &err);
    expect_ex("hls_playlist_ex(NULL name)", st, err, HLS_ERR_NULL_ARGUMENT, NULL);
    err = NULL;
    st = hls_segment_ex(m, NULL, &b, &err);
    expect_ex("hls_segment_ex(NULL name)", st, err, HLS_ERR_NULL_ARGUMENT, NULL);
    expect("hls_playlist(NULL out)", hls_playlist(m, "master.m3u8", NULL), HLS_ERR_NULL_ARGUMENT);
    expect("hls_segment(NULL out)", hls_segment(m, "t0_0.m4s", NULL), HLS_ERR_NULL_ARGUMENT);
    expect("hls_get(NULL out)", hls_get(m, "master.m3u8", NULL), HLS_ERR_NULL_ARGUMENT);
    err = NULL;
    st = hls_playlist_ex(m, "master.m3u8", NULL, &err);
    expect_ex("hls_playlist_ex(NULL out)", st, err, HLS_ERR_NULL_ARGUMENT, NULL);
    err = NULL;
    st = hls_segment_ex(m, "t0_0.m4s", NULL, &err);
    expect_ex("hls_segment_ex(NULL out)", st, err, HLS_ERR_NULL_ARGUMENT, NULL);
    expect("hls_media_info_json(NULL media)", hls_media_info_json(NULL, &b), HLS_ERR_NULL_ARGUMENT);
    expect("hls_media_info_json(NULL out)", hls_media_info_json(m, NULL), HLS_ERR_NULL_ARGUMENT);
    expect("hls_context_stats_json(NULL ctx)", hls_context_stats_json(NULL, &b), HLS_ERR_NULL_ARGUMENT);
    expect("hls_context_stats_json(NULL out)", hls_context_stats_json(ctx, NULL), HLS_ERR_NULL_ARGUMENT);
    check(b.data == NULL && b.len == 0, "buffer untouched by the NULL-argument calls");
    hls_free_buffer(&b);

    /* invalid UTF-8 names */
    expect_get("hls_playlist", hls_playlist, m, "\xff\xfe.m3u8", HLS_ERR_INVALID_UTF8, HLS_ERR_INVALID_UTF8);
    expect_get("hls_segment", hls_segment, m, "t0_\xc3(.m4s", HLS_ERR_INVALID_UTF8, HLS_ERR_INVALID_UTF8);
    expect_get("hls_get", hls_get, m, "\xff\xfe.m3u8", HLS_ERR_INVALID_UTF8, HLS_ERR_INVALID_UTF8);
    expect_get_ex("hls_playlist_ex", hls_playlist_ex, m, "\xed\xa0\x80.m3u8", HLS_ERR_INVALID_UTF8);

    /* unknown names: NOT_FOUND */
    expect_get("hls_playlist", hls_playlist, m, "nope.m3u8", HLS_ERR_NOT_FOUND, HLS_ERR_NOT_FOUND);
    expect_get("hls_get", hls_get, m, "nope.m3u8", HLS_ERR_NOT_FOUND, HLS_ERR_NOT_FOUND);
    expect_get_ex("hls_playlist_ex", hls_playlist_ex, m, "nope.m3u8", HLS_ERR_NOT_FOUND);
    expect_get("hls_segment", hls_segment, m, "t99_0.m4s", HLS_ERR_NOT_FOUND, HLS_ERR_NOT_FOUND);
    expect_get("hls_get", hls_get, m, "t99_0.m4s", HLS_ERR_NOT_FOUND, HLS_ERR_NOT_FOUND);
    expect_get_ex("hls_segment_ex", hls_segment_ex, m, "t99_0.m4s", HLS_ERR_NOT_FOUND);
    expect_get_ex("hls_get_ex", hls_get_ex, m, "t99_0.m4s", HLS_ERR_NOT_FOUND);
    expect_get_ex("hls_get_ex", hls_get_ex, m, "nope.m3u8", HLS_ERR_NOT_FOUND);
    expect_get("hls_segment", hls_segment, m, "t0_999999.m4s", HLS_ERR_NOT_FOUND, HLS_ERR_NOT_FOUND);
    expect_get("hls_get", hls_get, m, "t99_init.mp4", HLS_ERR_NOT_FOUND, HLS_ERR_NOT_FOUND);
    expect_get("hls_get", hls_get, m, "master.m3u", HLS_ERR_NOT_FOUND, HLS_ERR_NOT_FOUND);
    /* "" is not documented either way: INVALID_ARGUMENT or NOT_FOUND */
    expect_get("hls_get", hls_get, m, "", HLS_ERR_INVALID_ARGUMENT, HLS_ERR_NOT_FOUND);

    /* malformed names: INVALID_ARGUMENT */
    static const char *const malformed[] = {"../x", "/master.m3u8", "master.m3u8?x=1", "../master.m3u8",
                                            "t0/../master.m3u8"};
    for (size_t i = 0; i < sizeof malformed / sizeof malformed[0]; i++) {
        expect_get("hls_playlist", hls_playlist, m, malformed[i], HLS_ERR_INVALID_ARGUMENT, HLS_ERR_INVALID_ARGUMENT);
        expect_get("hls_segment", hls_segment, m, malformed[i], HLS_ERR_INVALID_ARGUMENT, HLS_ERR_INVALID_ARGUMENT);
        expect_get("hls_get", hls_get, m, malformed[i], HLS_ERR_INVALID_ARGUMENT, HLS_ERR_INVALID_ARGUMENT);
        expect_get_ex("hls_segment_ex", hls_segment_ex, m, malformed[i], HLS_ERR_INVALID_ARGUMENT);
        expect_get_ex("hls_get_ex", hls_get_ex, m, malformed[i], HLS_ERR_INVALID_ARGUMENT);
    }

    /* the last-error message is per OS thread */
    b = (HlsBuffer){0};
    st = hls_playlist(m, "nope.m3u8", &b);
    char before[512];
    snprintf(before, sizeof before, "%s", msg_or(hls_last_error_message()));
    ThreadCheck tc = {m, 0, HLS_OK};
    pthread_t tid;
    if (pthread_create(&tid, NULL, other_thread, &tc) == 0) {
        pthread_join(tid, NULL);
        check(tc.clean_at_start, "hls_last_error_message is \"\" on a thread that had no failure");
        expect("hls_playlist(\"other-thread.m3u8\") on another thread", tc.st, HLS_ERR_NOT_FOUND);
        const char *after = hls_last_error_message();
        check(after && strcmp(before, after) == 0, "this thread's message is unchanged by the other thread's failure");
    } else {
        check(0, "pthread_create");
    }

    /* handles: a second handle, and reopen after close */
    HlsMedia *m2 = NULL;
    expect("hls_open(valid file) while already open", hls_open(ctx, valid, &m2), HLS_OK);
    hls_close(m);
    b = (HlsBuffer){0};
    expect("hls_playlist(\"master.m3u8\") on the second handle after closing the first",
           hls_playlist(m2, "master.m3u8", &b), HLS_OK);
    hls_free_buffer(&b);
    hls_close(m2);
    m = NULL;
    expect("hls_open(valid file) after closing every handle", hls_open(ctx, valid, &m), HLS_OK);
    hls_close(m);
}

int main(int argc, char **argv) {
    if (argc < 2 || argc > 3) {
        fprintf(stderr, "usage: api_errors <media-dir> [<valid-media-file>]\n");
        return 2;
    }
    const char *dir = argv[1];
    setvbuf(stdout, NULL, _IOLBF, 0);

    test_status_strings();
    test_out_of_range_values();
    test_version();
    test_config();

    HlsContext *ctx = hls_context_new(NULL);
    check(ctx != NULL, "hls_context_new(NULL)");
    if (!ctx) {
        printf("api_errors: %d passed, %d failed\n", passed, failed);
        return 1;
    }
    char *valid = argc == 3 ? strdup(argv[2]) : find_valid_file(ctx, dir);
    check(valid != NULL, "a valid media file: %s", valid ? valid : "(none found in the media dir)");
    const char *open_path = valid ? valid : "does-not-matter.mp4";

    test_open_errors(ctx, dir, open_path);
    test_corrupt(ctx, dir);
    if (valid) test_names(ctx, valid);

    hls_context_free(ctx);
    free(valid);
    printf("api_errors: %d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
