/*
 * ngx_http_hls_module: remote mode ("hls_remote URL_PREFIX;"). The media is an object on an
 * HTTP store (S3, GCS, MinIO, Ceph, an nginx over a disk, ...) read with range requests.
 *
 * Everything here runs on the location's thread pool, never on the event loop:
 *
 *   - validation: a HEAD of the object gives its size, ETag and Last-Modified; the media's
 *     identity for libhls is "URL ETag Last-Modified size", so a replaced object is a new
 *     presentation. Answers are kept per worker for hls_remote_validate (default 5s), so a
 *     crawl does not cost one HEAD per request;
 *   - reads: libhls's read_at callback (HlsSource) does one ranged GET per call with libcurl,
 *     one easy handle per thread, reused (its connections stay alive between requests). Every
 *     GET sends "If-Match: <ETag>" and checks the 206's ETag and Content-Range: an object
 *     replaced on the store since the validation fails the read (and the request is served
 *     again from the new object) instead of mixing old and new bytes.
 *
 * A read that fails records why (404, 412/changed, anything else = the store failed) in a
 * thread-local, which the request's task turns into its status.
 */

#include "ngx_http_hls_module.h"

#include <inttypes.h>
#include <pthread.h>
#include <time.h>
#include <curl/curl.h>


/* Validation cache: direct-mapped on the URL's hash, per worker. */
#define NGX_HTTP_HLS_REMOTE_SLOTS  512

typedef struct {
    uint64_t   hash;
    char      *url;                        /* malloc'ed; NULL: empty slot */
    ngx_http_hls_remote_object_t  object;  /* its strings malloc'ed */
    uint64_t   checked_ms;                 /* CLOCK_MONOTONIC */
} ngx_http_hls_remote_slot_t;

static pthread_mutex_t              ngx_http_hls_remote_lock = PTHREAD_MUTEX_INITIALIZER;
static ngx_http_hls_remote_slot_t   ngx_http_hls_remote_slots[NGX_HTTP_HLS_REMOTE_SLOTS];

static pthread_key_t                ngx_http_hls_remote_key;
static ngx_uint_t                   ngx_http_hls_remote_ready;

/* what the last failed store request of this thread was (0: none since the last clear) */
static __thread ngx_uint_t          ngx_http_hls_remote_failure;

/* the opaque of an HlsSource: malloc'ed, freed by libhls's release callback */
typedef struct {
    char       *url;
    char       *etag;                      /* the store's, as sent; "" if none */
    char       *last_modified;             /* as sent; "" if none */
    char       *identity;
    uint64_t    size;
    long        connect_ms;
    long        timeout_ms;
} ngx_http_hls_remote_source_t;

/* one GET or HEAD in progress */
typedef struct {
    uint8_t    *buf;                       /* NULL for HEAD */
    size_t      cap;
    size_t      got;
    unsigned    overflow:1;
    char        etag[256];
    char        last_modified[64];
    char        content_range[128];
} ngx_http_hls_remote_xfer_t;


static uint64_t
ngx_http_hls_remote_now_ms(void)
{
    struct timespec  ts;

    (void) clock_gettime(CLOCK_MONOTONIC, &ts);

    return (uint64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}


static void
ngx_http_hls_remote_handle_free(void *data)
{
    curl_easy_cleanup((CURL *) data);
}


/* Worker start (the thread pools exist but run nothing yet). */
ngx_int_t
ngx_http_hls_remote_init(ngx_log_t *log)
{
    if (ngx_http_hls_remote_ready) {
        return NGX_OK;
    }

    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        ngx_log_error(NGX_LOG_ALERT, log, 0, "hls: curl_global_init() failed");
        return NGX_ERROR;
    }

    if (pthread_key_create(&ngx_http_hls_remote_key, ngx_http_hls_remote_handle_free) != 0) {
        ngx_log_error(NGX_LOG_ALERT, log, 0, "hls: pthread_key_create() failed");
        return NGX_ERROR;
    }

    ngx_http_hls_remote_ready = 1;

    ngx_log_error(NGX_LOG_INFO, log, 0, "hls: remote mode with %s", curl_version());

    return NGX_OK;
}


/* Worker exit, after the thread pools have finished (their threads freed their handles). */
void
ngx_http_hls_remote_exit(void)
{
    ngx_uint_t  i;

    if (!ngx_http_hls_remote_ready) {
        return;
    }

    for (i = 0; i < NGX_HTTP_HLS_REMOTE_SLOTS; i++) {
        free(ngx_http_hls_remote_slots[i].url);
        free(ngx_http_hls_remote_slots[i].object.etag);
        free(ngx_http_hls_remote_slots[i].object.last_modified);
        ngx_memzero(&ngx_http_hls_remote_slots[i], sizeof(ngx_http_hls_remote_slot_t));
    }
}


/* This thread's easy handle (made on first use; its connections are kept between calls). */
static CURL *
ngx_http_hls_remote_handle(void)
{
    CURL  *curl;

    if (!ngx_http_hls_remote_ready) {
        return NULL;
    }

    curl = pthread_getspecific(ngx_http_hls_remote_key);

    if (curl == NULL) {
        curl = curl_easy_init();
        if (curl == NULL) {
            return NULL;
        }

        if (pthread_setspecific(ngx_http_hls_remote_key, curl) != 0) {
            curl_easy_cleanup(curl);
            return NULL;
        }

    } else {
        curl_easy_reset(curl);             /* keeps its live connections */
    }

    return curl;
}


static size_t
ngx_http_hls_remote_body(char *data, size_t size, size_t n, void *userdata)
{
    ngx_http_hls_remote_xfer_t *x = userdata;

    size_t  len, room;

    len = size * n;
    room = x->cap - x->got;

    if (len > room) {
        /* more than asked for (a store that ignored Range): keep what fits, stop */
        if (x->buf) {
            ngx_memcpy(x->buf + x->got, data, room);
        }
        x->got += room;
        x->overflow = 1;
        return 0;                          /* aborts the transfer (CURLE_WRITE_ERROR) */
    }

    if (x->buf) {
        ngx_memcpy(x->buf + x->got, data, len);
    }
    x->got += len;

    return len;
}


/* Copies the value of header "name" (lower case, with ':') from line into out. */
static void
ngx_http_hls_remote_header_value(const char *line, size_t len, const char *name, char *out,
    size_t cap)
{
    size_t  n, i;

    n = ngx_strlen(name);

    if (len < n || ngx_strncasecmp((u_char *) line, (u_char *) name, n) != 0) {
        return;
    }

    line += n;
    len -= n;

    while (len && (*line == ' ' || *line == '\t')) {
        line++;
        len--;
    }

    while (len && (line[len - 1] == '\r' || line[len - 1] == '\n' || line[len - 1] == ' ')) {
        len--;
    }

    for (i = 0; i < len && i + 1 < cap; i++) {
        out[i] = line[i];
    }

    out[i] = '\0';
}


static size_t
ngx_http_hls_remote_header(char *data, size_t size, size_t n, void *userdata)
{
    ngx_http_hls_remote_xfer_t *x = userdata;

    size_t  len = size * n;

    if (len >= 5 && ngx_strncmp(data, "HTTP/", 5) == 0) {
        /* a new response (after a redirect or a 100): forget the previous one's headers */
        x->etag[0] = '\0';
        x->last_modified[0] = '\0';
        x->content_range[0] = '\0';
        return len;
    }

    ngx_http_hls_remote_header_value(data, len, "etag:", x->etag, sizeof(x->etag));
    ngx_http_hls_remote_header_value(data, len, "last-modified:", x->last_modified,
                                     sizeof(x->last_modified));
    ngx_http_hls_remote_header_value(data, len, "content-range:", x->content_range,
                                     sizeof(x->content_range));

    return len;
}


static void
ngx_http_hls_remote_setopt(CURL *curl, const char *url, ngx_http_hls_remote_xfer_t *x,
    long connect_ms, long timeout_ms)
{
    (void) curl_easy_setopt(curl, CURLOPT_URL, url);
    (void) curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);          /* threads */
    (void) curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, connect_ms);
    (void) curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, timeout_ms);
    (void) curl_easy_setopt(curl, CURLOPT_TCP_KEEPALIVE, 1L);
    (void) curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 0L);
    (void) curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
    (void) curl_easy_setopt(curl, CURLOPT_USERAGENT, "ngx_http_hls_module (libhls)");
    (void) curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, ngx_http_hls_remote_body);
    (void) curl_easy_setopt(curl, CURLOPT_WRITEDATA, x);
    (void) curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, ngx_http_hls_remote_header);
    (void) curl_easy_setopt(curl, CURLOPT_HEADERDATA, x);
}


/* The store's answer to a request that did not give what was asked: the status to answer. */
static ngx_uint_t
ngx_http_hls_remote_classify(CURLcode cc, long code)
{
    if (cc != CURLE_OK) {
        return NGX_HTTP_BAD_GATEWAY;       /* refused, reset, timed out, ... */
    }

    switch (code) {
    case 404:
    case 410:
        return NGX_HTTP_NOT_FOUND;
    case 412:                              /* If-Match failed: replaced */
    case 416:                              /* shorter than it was: replaced */
        return NGX_HTTP_PRECONDITION_FAILED;
    default:
        return NGX_HTTP_BAD_GATEWAY;
    }
}


static char *
ngx_http_hls_remote_strdup(const char *s)
{
    size_t  len;
    char   *p;

    len = ngx_strlen(s);
    p = malloc(len + 1);
    if (p) {
        ngx_memcpy(p, s, len + 1);
    }

    return p;
}


/*
 * The object at url: size, ETag, Last-Modified, from the worker's cache if checked less than
 * validate_ms ago, else by a HEAD. Returns 0, or the HTTP status to answer (404, 502) with
 * the reason in msg. The strings of *o are malloc'ed (ngx_http_hls_remote_object_free).
 */
ngx_uint_t
ngx_http_hls_remote_validate(const char *url, ngx_http_hls_remote_conf_t *rc,
    ngx_http_hls_remote_object_t *o, char *msg, size_t msg_cap)
{
    long                         code;
    CURL                        *curl;
    CURLcode                     cc;
    uint64_t                     hash, now;
    curl_off_t                   length;
    ngx_uint_t                   status;
    ngx_http_hls_remote_xfer_t   x;
    ngx_http_hls_remote_slot_t  *slot;

    ngx_memzero(o, sizeof(*o));

    hash = ngx_http_hls_fnv(0xcbf29ce484222325ULL, url, ngx_strlen(url));
    slot = &ngx_http_hls_remote_slots[hash % NGX_HTTP_HLS_REMOTE_SLOTS];
    now = ngx_http_hls_remote_now_ms();

    (void) pthread_mutex_lock(&ngx_http_hls_remote_lock);

    if (rc->validate && slot->url && slot->hash == hash && ngx_strcmp(slot->url, url) == 0
        && now - slot->checked_ms < rc->validate)
    {
        o->size = slot->object.size;
        o->mtime = slot->object.mtime;
        o->etag = ngx_http_hls_remote_strdup(slot->object.etag);
        o->last_modified = ngx_http_hls_remote_strdup(slot->object.last_modified);
        (void) pthread_mutex_unlock(&ngx_http_hls_remote_lock);

        if (o->etag == NULL || o->last_modified == NULL) {
            ngx_http_hls_remote_object_free(o);
            ngx_cpystrn((u_char *) msg, (u_char *) "out of memory", msg_cap);
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        return 0;
    }

    (void) pthread_mutex_unlock(&ngx_http_hls_remote_lock);

    curl = ngx_http_hls_remote_handle();
    if (curl == NULL) {
        ngx_cpystrn((u_char *) msg, (u_char *) "no libcurl handle", msg_cap);
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_memzero(&x, sizeof(x));
    ngx_http_hls_remote_setopt(curl, url, &x, (long) rc->connect_timeout, (long) rc->timeout);
    (void) curl_easy_setopt(curl, CURLOPT_NOBODY, 1L);

    cc = curl_easy_perform(curl);
    code = 0;
    (void) curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &code);

    if (cc != CURLE_OK || code != 200) {
        status = ngx_http_hls_remote_classify(cc, code);
        if (status == NGX_HTTP_PRECONDITION_FAILED) {
            status = NGX_HTTP_BAD_GATEWAY;
        }

        if (cc != CURLE_OK) {
            ngx_snprintf((u_char *) msg, msg_cap, "HEAD %s: %s%Z", url, curl_easy_strerror(cc));
        } else {
            ngx_snprintf((u_char *) msg, msg_cap, "HEAD %s: HTTP %l%Z", url, code);
        }

        return status;
    }

    length = -1;
    (void) curl_easy_getinfo(curl, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &length);

    if (length < 0) {
        ngx_snprintf((u_char *) msg, msg_cap, "HEAD %s: no Content-Length%Z", url);
        return NGX_HTTP_BAD_GATEWAY;
    }

    o->size = (uint64_t) length;
    o->mtime = x.last_modified[0]
               ? ngx_parse_http_time((u_char *) x.last_modified, ngx_strlen(x.last_modified))
               : -1;
    if (o->mtime == NGX_ERROR) {
        o->mtime = -1;
    }
    o->etag = ngx_http_hls_remote_strdup(x.etag);
    o->last_modified = ngx_http_hls_remote_strdup(x.last_modified);

    if (o->etag == NULL || o->last_modified == NULL) {
        ngx_http_hls_remote_object_free(o);
        ngx_cpystrn((u_char *) msg, (u_char *) "out of memory", msg_cap);
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (rc->validate) {
        char  *u, *e, *l;

        u = ngx_http_hls_remote_strdup(url);
        e = ngx_http_hls_remote_strdup(o->etag);
        l = ngx_http_hls_remote_strdup(o->last_modified);

        if (u && e && l) {
            (void) pthread_mutex_lock(&ngx_http_hls_remote_lock);
            free(slot->url);
            free(slot->object.etag);
            free(slot->object.last_modified);
            slot->hash = hash;
            slot->url = u;
            slot->object = *o;
            slot->object.etag = e;
            slot->object.last_modified = l;
            slot->checked_ms = now;
            (void) pthread_mutex_unlock(&ngx_http_hls_remote_lock);

        } else {
            free(u);
            free(e);
            free(l);
        }
    }

    return 0;
}


/* Forgets the worker's validation of url (the object changed, or is gone). */
void
ngx_http_hls_remote_invalidate(const char *url)
{
    uint64_t                     hash;
    ngx_http_hls_remote_slot_t  *slot;

    hash = ngx_http_hls_fnv(0xcbf29ce484222325ULL, url, ngx_strlen(url));
    slot = &ngx_http_hls_remote_slots[hash % NGX_HTTP_HLS_REMOTE_SLOTS];

    (void) pthread_mutex_lock(&ngx_http_hls_remote_lock);

    if (slot->url && slot->hash == hash && ngx_strcmp(slot->url, url) == 0) {
        free(slot->url);
        free(slot->object.etag);
        free(slot->object.last_modified);
        ngx_memzero(slot, sizeof(*slot));
    }

    (void) pthread_mutex_unlock(&ngx_http_hls_remote_lock);
}


void
ngx_http_hls_remote_object_free(ngx_http_hls_remote_object_t *o)
{
    free(o->etag);
    free(o->last_modified);
    o->etag = NULL;
    o->last_modified = NULL;
}


void
ngx_http_hls_remote_clear_failure(void)
{
    ngx_http_hls_remote_failure = 0;
}


ngx_uint_t
ngx_http_hls_remote_last_failure(void)
{
    return ngx_http_hls_remote_failure;
}


static void
ngx_http_hls_remote_fail(ngx_uint_t status, char *err, size_t err_cap, const char *fmt,
    const char *url, const char *detail)
{
    u_char  *p;

    /* 412 (changed) wins over a later 502 of the same request */
    if (ngx_http_hls_remote_failure != NGX_HTTP_PRECONDITION_FAILED) {
        ngx_http_hls_remote_failure = status;
    }

    if (err && err_cap) {
        p = ngx_snprintf((u_char *) err, err_cap - 1, fmt, url, detail);
        *p = '\0';
    }
}


/* HlsSource.read_at: one ranged GET of [offset, offset + len) (clipped at the size). */
static int64_t
ngx_http_hls_remote_read_at(void *opaque, uint64_t offset, uint8_t *buf, size_t len,
    char *err, size_t err_cap)
{
    ngx_http_hls_remote_source_t *s = opaque;

    long                         code;
    char                         range[64], detail[512];
    CURL                        *curl;
    CURLcode                     cc;
    uint64_t                     first, last, total;
    ngx_uint_t                   status;
    struct curl_slist           *headers, *h;
    ngx_http_hls_remote_xfer_t   x;

    if (offset >= s->size || len == 0) {
        return 0;
    }

    if (len > s->size - offset) {
        len = (size_t) (s->size - offset);
    }

    curl = ngx_http_hls_remote_handle();
    if (curl == NULL) {
        ngx_http_hls_remote_fail(NGX_HTTP_INTERNAL_SERVER_ERROR, err, err_cap,
                                 "GET %s: %s", s->url, "no libcurl handle");
        return -1;
    }

    ngx_memzero(&x, sizeof(x));
    x.buf = buf;
    x.cap = len;

    ngx_http_hls_remote_setopt(curl, s->url, &x, s->connect_ms, s->timeout_ms);

    *ngx_snprintf((u_char *) range, sizeof(range) - 1, "%uL-%uL",
                  offset, offset + len - 1) = '\0';
    (void) curl_easy_setopt(curl, CURLOPT_RANGE, range);

    headers = NULL;

    /* the object validated, or 412: If-Match with a strong ETag (a weak one never matches,
     * RFC 9110 13.1.1); without one, If-Unmodified-Since with its Last-Modified. The answer's
     * ETag, Last-Modified and Content-Range are checked as well (a store ignoring both). */
    detail[0] = '\0';

    if (s->etag[0] && ngx_strncmp(s->etag, "W/", 2) != 0) {
        *ngx_snprintf((u_char *) detail, sizeof(detail) - 1, "If-Match: %s", s->etag) = '\0';

    } else if (s->last_modified[0]) {
        *ngx_snprintf((u_char *) detail, sizeof(detail) - 1, "If-Unmodified-Since: %s",
                      s->last_modified) = '\0';
    }

    if (detail[0]) {
        h = curl_slist_append(headers, detail);
        if (h == NULL) {
            ngx_http_hls_remote_fail(NGX_HTTP_INTERNAL_SERVER_ERROR, err, err_cap,
                                     "GET %s: %s", s->url, "out of memory");
            return -1;
        }
        headers = h;
        (void) curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
    }

    cc = curl_easy_perform(curl);
    code = 0;
    (void) curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &code);

    /* the handle may keep the list's pointer until the next reset: reset first */
    curl_easy_reset(curl);
    curl_slist_free_all(headers);

    if (cc == CURLE_WRITE_ERROR && x.overflow && code == 200 && offset == 0) {
        cc = CURLE_OK;                     /* the whole object from its start: len bytes */
    }

    if (cc != CURLE_OK || (code != 206 && code != 200)) {
        status = ngx_http_hls_remote_classify(cc, code);
        if (cc != CURLE_OK) {
            ngx_snprintf((u_char *) detail, sizeof(detail) - 1, "range %s: %s%Z", range,
                         curl_easy_strerror(cc));
        } else {
            ngx_snprintf((u_char *) detail, sizeof(detail) - 1, "range %s: HTTP %l%s%Z",
                         range, code,
                         status == NGX_HTTP_PRECONDITION_FAILED
                         ? " (the object changed on the store)" : "");
        }
        ngx_http_hls_remote_fail(status, err, err_cap, "GET %s %s", s->url, detail);
        return -1;
    }

    /* the same object as validated: its ETag and size */
    if (s->etag[0] && ngx_strcmp(x.etag, s->etag) != 0) {
        ngx_snprintf((u_char *) detail, sizeof(detail) - 1,
                     "ETag %s instead of %s (the object changed on the store)%Z",
                     x.etag[0] ? x.etag : "(none)", s->etag);
        ngx_http_hls_remote_fail(NGX_HTTP_PRECONDITION_FAILED, err, err_cap, "GET %s: %s",
                                 s->url, detail);
        return -1;
    }

    if (s->last_modified[0] && x.last_modified[0]
        && ngx_strcmp(x.last_modified, s->last_modified) != 0)
    {
        ngx_snprintf((u_char *) detail, sizeof(detail) - 1,
                     "Last-Modified %s instead of %s (the object changed on the store)%Z",
                     x.last_modified, s->last_modified);
        ngx_http_hls_remote_fail(NGX_HTTP_PRECONDITION_FAILED, err, err_cap, "GET %s: %s",
                                 s->url, detail);
        return -1;
    }

    if (code == 206) {
        if (sscanf(x.content_range, "bytes %" SCNu64 "-%" SCNu64 "/%" SCNu64,
                   &first, &last, &total) != 3
            || first != offset || last != offset + len - 1)
        {
            ngx_snprintf((u_char *) detail, sizeof(detail) - 1,
                         "range %s answered with Content-Range \"%s\"%Z", range,
                         x.content_range);
            ngx_http_hls_remote_fail(NGX_HTTP_BAD_GATEWAY, err, err_cap, "GET %s: %s",
                                     s->url, detail);
            return -1;
        }

        if (total != s->size) {
            ngx_snprintf((u_char *) detail, sizeof(detail) - 1,
                         "size %uL instead of %uL (the object changed on the store)%Z",
                         total, s->size);
            ngx_http_hls_remote_fail(NGX_HTTP_PRECONDITION_FAILED, err, err_cap,
                                     "GET %s: %s", s->url, detail);
            return -1;
        }

    } else if (offset != 0) {
        /* 200 to a range that does not start the object: the store ignores Range */
        ngx_http_hls_remote_fail(NGX_HTTP_BAD_GATEWAY, err, err_cap, "GET %s: %s", s->url,
                                 "the store answered a range with the whole object (200)");
        return -1;
    }

    if (x.got != len) {
        ngx_snprintf((u_char *) detail, sizeof(detail) - 1, "range %s: %uz of %uz bytes%Z",
                     range, x.got, len);
        ngx_http_hls_remote_fail(NGX_HTTP_BAD_GATEWAY, err, err_cap, "GET %s: %s", s->url,
                                 detail);
        return -1;
    }

    return (int64_t) len;
}


static void
ngx_http_hls_remote_release(void *opaque)
{
    ngx_http_hls_remote_source_t *s = opaque;

    if (s == NULL) {
        return;
    }

    free(s->url);
    free(s->etag);
    free(s->last_modified);
    free(s->identity);
    free(s);
}


/*
 * Opens the object validated in *o as libhls media. The identity: URL, ETag, Last-Modified and
 * size, so a replaced object is another presentation (and another cache key).
 */
HlsStatus
ngx_http_hls_remote_open(HlsContext *ctx, const char *url, ngx_http_hls_remote_conf_t *rc,
    ngx_http_hls_remote_object_t *o, const HlsOpenOptions *opts, HlsMedia **media,
    HlsError **error)
{
    size_t                         len;
    HlsSource                      src;
    ngx_http_hls_remote_source_t  *s;

    s = calloc(1, sizeof(ngx_http_hls_remote_source_t));
    if (s == NULL) {
        return HLS_ERR_INTERNAL;
    }

    s->url = ngx_http_hls_remote_strdup(url);
    s->etag = ngx_http_hls_remote_strdup(o->etag);
    s->last_modified = ngx_http_hls_remote_strdup(o->last_modified);
    len = ngx_strlen(url) + ngx_strlen(o->etag) + ngx_strlen(o->last_modified) + 64;
    s->identity = malloc(len);
    s->size = o->size;
    s->connect_ms = (long) rc->connect_timeout;
    s->timeout_ms = (long) rc->timeout;

    if (s->url == NULL || s->etag == NULL || s->last_modified == NULL || s->identity == NULL) {
        ngx_http_hls_remote_release(s);
        return HLS_ERR_INTERNAL;
    }

    *ngx_snprintf((u_char *) s->identity, len - 1, "%s %s %s %uL",
                  url, o->etag, o->last_modified, o->size) = '\0';

    src.read_at = ngx_http_hls_remote_read_at;
    src.release = ngx_http_hls_remote_release;
    src.opaque = s;
    src.size = s->size;
    src.identity = s->identity;

    /* libhls owns s from here: it calls release exactly once, also when the open fails */
    return hls_open_source(ctx, &src, opts, media, error);
}
