/*
 * ngx_http_hls_module: the content handler.
 *
 *   GET <location>/<file>/<name>
 *
 * The last path segment is the libhls name (master.m3u8, tN.m3u8, tN_init.mp4, tN_K.m4s,
 * tN_K.vtt, tN.vtt, thumbnails.vtt, thumbs_K.jpg, thumb_MS.jpg, ..., or info.json); the rest of the URI is mapped to the file the way nginx
 * maps any URI (root / alias, ngx_http_map_uri_to_path) and checked with
 * one stat() (ngx_open_cached_file with disable_symlinks or open_file_cache; a regular file).
 * Every libhls call then
 * runs in one task on the location's thread pool; the task's completion event, back on the
 * event loop, sends the response. The payload is not copied: a media segment whose samples
 * are copied verbatim comes from hls_get_parts as its headers (memory buffers pointing into the
 * HlsParts) and ranges of the source file (file buffers on the descriptor libhls holds), so
 * that "sendfile on" sends the samples straight from the page cache; everything else is one
 * memory buffer pointing into libhls's bytes. A request pool cleanup frees the HlsParts /
 * HlsBuffer (and with it libhls's reference to the descriptor) once nginx is done with the
 * request. A segment whose ranges are small (samples interleaved one by one,
 * hls_file_range_min) is bytes: with hls_small_ranges_cache on (the default) libhls reads it
 * once (hls_get_parts_min, in the task) and keeps the bytes in its cache, so later requests are
 * hits served from memory on the event loop; with it off, the task reads the ranges on every
 * request, one pread per span of nearby ranges, and sends them from that buffer (freed with the
 * request). "hls_file_ranges off", info.json and requests for
 * several byte ranges (nginx's multipart ranges need the whole body in one buffer) take the
 * bytes (hls_get) instead.
 *
 * With "hls_remote URL_PREFIX", the file is the object URL_PREFIX<URI after the location's
 * prefix> on an HTTP store: no file-system call at all; the task validates the object (HEAD,
 * cached per worker) and opens it through an HlsSource whose reads are ranged GETs
 * (ngx_http_hls_remote.c); the response is bytes (hls_get).
 */

#include "ngx_http_hls_module.h"

#include <pthread.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>


/* How often a request waiting for its task re-arms its guard timer. The timer is not
 * cancelable, so a worker that is shutting down gracefully (quit, reload) waits for the task
 * and sends its response instead of exiting under it. */
#define NGX_HTTP_HLS_GUARD_MSEC  5000


typedef struct {
    /* set on the event loop before the task is posted; read only by the task */
    HlsContext          *context;
    const HlsOpenOptions *options;         /* the location's static key, or NULL */
    u_char              *path;             /* NUL-terminated */
    u_char              *name;             /* NUL-terminated */
    ngx_str_t            file_uri;         /* the URI without "/<name>" */
    unsigned             info:1;           /* name is "info.json" */
    unsigned             use_parts:1;      /* hls_get_parts instead of hls_get */
    unsigned             clip:1;           /* clip_from / clip_to in the arguments */
    uint64_t             clip_from;        /* ms */
    uint64_t             clip_to;          /* ms; 0: the end */
    u_char              *query;            /* NUL-terminated; appended to playlist URIs */
    size_t               file_range_min;   /* hls_file_range_min */
    uint64_t             bytes_below;      /* hls_get_parts_min's: 0 or file_range_min */
    HlsFileIdentity      stat_id;          /* the handler's own stat of path ... */
    unsigned             stat_fresh:1;     /* ... made for this request (no open_file_cache) */
    u_char              *copy;             /* small ranges read in the task (a spare) */
    size_t               copy_size;
    u_char             **copied;           /* [parts.count]: where each file part is in copy */
    unsigned             stats:1;          /* hls_stats: nstats contexts, no file */
    unsigned             remote:1;         /* hls_remote: path is the object's URL */
    unsigned             on_slow:1;        /* running on the transcode pool */
    ngx_thread_pool_t   *slow_pool;        /* hls_transcode_thread_pool, or NULL */
    ngx_thread_task_t   *task;
    ngx_http_hls_remote_conf_t  *remote_conf;
    ngx_uint_t           nstats;
    HlsContext         **contexts;         /* [nstats] */

    /* written by the task; read on the event loop after its completion event */
    HlsStatus            status;
    HlsBuffer            buf;              /* when !use_parts */
    HlsParts             parts;            /* when use_parts */
    HlsError            *error;
    const char          *message;          /* static; when error is NULL */
    ngx_err_t            err;              /* errno of a failed stat() */
    off_t                size;
    time_t               mtime;
    HlsBuffer           *stats_buf;        /* [nstats], zeroed where a call failed */
    ngx_uint_t           remote_status;    /* remote: the HTTP status to answer, 0: libhls's */
    unsigned             requeue:1;        /* slow work: post the task to slow_pool */
    unsigned             busy:1;           /* slow_pool's queue was full: 503 */
    u_char               remote_etag[128]; /* remote: the store's ETag of the object */
    char                 remote_message[512];

    /* event loop only */
    ngx_http_request_t  *request;
    ngx_event_t          guard;
    unsigned             done:1;
} ngx_http_hls_task_ctx_t;


static ngx_int_t ngx_http_hls_post(ngx_http_request_t *r, ngx_thread_task_t *task,
    ngx_thread_pool_t *pool);
static ngx_int_t ngx_http_hls_serve_hit(ngx_http_request_t *r, ngx_http_hls_task_ctx_t *t);
static ngx_int_t ngx_http_hls_stats_respond(ngx_http_request_t *r,
    ngx_http_hls_task_ctx_t *t);
static void ngx_http_hls_thread_handler(void *data, ngx_log_t *log);
static void ngx_http_hls_thread_event_handler(ngx_event_t *ev);
static void ngx_http_hls_guard_handler(ngx_event_t *ev);
static void ngx_http_hls_send(ngx_http_request_t *r);
static ngx_int_t ngx_http_hls_respond(ngx_http_request_t *r, ngx_http_hls_task_ctx_t *t);
static ngx_int_t ngx_http_hls_send_parts(ngx_http_request_t *r, ngx_http_hls_task_ctx_t *t);
static ngx_uint_t ngx_http_hls_small_parts(ngx_http_hls_task_ctx_t *t);
static ngx_int_t ngx_http_hls_read_parts(ngx_http_hls_task_ctx_t *t, ngx_log_t *log);
static HlsStatus ngx_http_hls_task_parts(ngx_http_hls_task_ctx_t *t, HlsMedia *media,
    HlsError **error, ngx_log_t *log);
static size_t ngx_http_hls_span(ngx_http_hls_task_ctx_t *t, size_t i, uint64_t *end);
static void ngx_http_hls_free_copy(ngx_http_hls_task_ctx_t *t);
static ngx_int_t ngx_http_hls_fail(ngx_http_request_t *r, ngx_http_hls_task_ctx_t *t);
static void ngx_http_hls_cleanup(void *data);
static ngx_int_t ngx_http_hls_add_header(ngx_http_request_t *r, const char *key,
    ngx_str_t *value, ngx_table_elt_t **out);
static ngx_int_t ngx_http_hls_options(ngx_http_request_t *r);
static ngx_int_t ngx_http_hls_clip_args(ngx_http_request_t *r, uint64_t *from,
    uint64_t *to);
static HlsStatus ngx_http_hls_request_options(ngx_http_hls_task_ctx_t *t,
    const HlsOpenOptions **opts, HlsOpenOptions **owned);
static ngx_int_t ngx_http_hls_remote_url(ngx_http_request_t *r,
    ngx_http_hls_loc_conf_t *hlcf, ngx_str_t *file_uri, ngx_str_t *url);
static void ngx_http_hls_remote_task(ngx_http_hls_task_ctx_t *t, ngx_log_t *log);
static ngx_int_t ngx_http_hls_info_body(ngx_http_request_t *r, ngx_http_hls_task_ctx_t *t,
    ngx_str_t *body);


static ngx_str_t  ngx_http_hls_info_name = ngx_string("info.json");


/* The transcode pool's threads run this much nicer than the worker: on a busy machine the
 * main pool's short tasks (playlists, copied segments) get the CPU first. */
#define NGX_HTTP_HLS_TRANSCODE_NICE  5


/* On a main pool thread: whether serving name costs a transcode or a thumbnail (libhls's
 * classification: one cache lookup, no I/O). */
static ngx_uint_t
ngx_http_hls_slow(HlsMedia *media, u_char *name)
{
    switch (hls_name_cost(media, (const char *) name)) {
    case HLS_COST_TRANSCODED:
    case HLS_COST_THUMBNAIL:
        return 1;
    default:
        return 0;
    }
}


/* On a transcode pool thread, before its first task: a lower CPU priority for this thread
 * (raising one's own nice value needs no privilege; it cannot be lowered again, so it is done
 * only on threads of a pool of their own). */
static void
ngx_http_hls_nice_thread(ngx_log_t *log)
{
    static __thread ngx_uint_t  done;
    int                         nice;
    pid_t                       tid;

    if (done) {
        return;
    }

    done = 1;
    tid = (pid_t) syscall(SYS_gettid);
    errno = 0;
    nice = getpriority(PRIO_PROCESS, (id_t) tid);
    if (nice == -1 && errno != 0) {
        return;
    }

    if (setpriority(PRIO_PROCESS, (id_t) tid, nice + NGX_HTTP_HLS_TRANSCODE_NICE) == -1) {
        ngx_log_error(NGX_LOG_INFO, log, ngx_errno,
                      "hls: setpriority() of a transcode thread failed");
    }
}


ngx_int_t
ngx_http_hls_handler(ngx_http_request_t *r)
{
    u_char                    *p, *last;
    size_t                     root;
    ngx_int_t                  rc;
    ngx_str_t                  path, name, file_uri, saved, value;
    ngx_int_t                  clip;
    uint64_t                   clip_from, clip_to;
    ngx_uint_t                 level;
    ngx_log_t                 *log;
    ngx_thread_task_t         *task;
    ngx_uint_t                 fresh;
    struct stat                st;
    ngx_open_file_info_t       of;
    ngx_http_hls_task_ctx_t   *t;
    ngx_http_hls_loc_conf_t   *hlcf;
    ngx_http_core_loc_conf_t  *clcf;

    hlcf = ngx_http_get_module_loc_conf(r, ngx_http_hls_module);
    clcf = ngx_http_get_module_loc_conf(r, ngx_http_core_module);
    log = r->connection->log;
    fresh = 0;

    if (hlcf->cors) {
        ngx_str_set(&value, "*");
        if (ngx_http_hls_add_header(r, "Access-Control-Allow-Origin", &value, NULL)
            != NGX_OK)
        {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        if (r->method == NGX_HTTP_OPTIONS) {
            return ngx_http_hls_options(r);
        }
    }

    if (!(r->method & (NGX_HTTP_GET|NGX_HTTP_HEAD))) {
        ngx_str_set(&value, "GET, HEAD");
        if (ngx_http_hls_add_header(r, "Allow", &value, NULL) != NGX_OK) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }
        return NGX_HTTP_NOT_ALLOWED;
    }

    if (r->uri.len == 0 || r->uri.data[r->uri.len - 1] == '/') {
        /* no name: a directory; leave it to index / autoindex */
        return NGX_DECLINED;
    }

    rc = ngx_http_discard_request_body(r);
    if (rc != NGX_OK) {
        return rc;
    }

    /* <file_uri>/<name> */
    last = r->uri.data + r->uri.len;
    for (p = last; p > r->uri.data && p[-1] != '/'; p--) { /* void */ }

    name.data = p;
    name.len = last - p;
    file_uri.data = r->uri.data;
    file_uri.len = (p > r->uri.data) ? (size_t) (p - 1 - r->uri.data) : 0;

    if (ngx_strlchr(name.data, last, '\0') != NULL) {
        ngx_log_error(NGX_LOG_INFO, log, 0, "hls: a NUL byte in the name");
        return NGX_HTTP_BAD_REQUEST;
    }

    clip = ngx_http_hls_clip_args(r, &clip_from, &clip_to);
    if (clip != NGX_OK && clip != NGX_DECLINED) {
        return clip;
    }

    if (file_uri.len == 0
        || (clcf->alias && clcf->alias != NGX_MAX_SIZE_T_VALUE
            && file_uri.len <= clcf->alias))
    {
        /* "/vod/master.m3u8": no file before the name */
        if (clcf->log_not_found) {
            ngx_log_error(NGX_LOG_ERR, log, 0, "hls: no media file in \"%V\"", &r->uri);
        }
        return NGX_HTTP_NOT_FOUND;
    }

    if (hlcf->remote.url.len) {
        rc = ngx_http_hls_remote_url(r, hlcf, &file_uri, &path);
        if (rc != NGX_OK) {
            return rc;
        }

        ngx_log_debug2(NGX_LOG_DEBUG_HTTP, log, 0, "hls object: \"%V\", name: \"%V\"",
                       &path, &name);

        goto post;
    }

    /* nginx has already resolved "." and ".." segments of the URI (encoded or not); what
     * remains is the "location /vod { alias /srv/media/; }" case, where "/vod../x" maps to
     * "/srv/media/../x": no ".." segment in the part appended to the root or alias */
    p = file_uri.data;
    if (clcf->alias && clcf->alias != NGX_MAX_SIZE_T_VALUE) {
        p += clcf->alias;
    }

    while (p < file_uri.data + file_uri.len) {
        for (last = p; last < file_uri.data + file_uri.len && *last != '/'; last++) {
            /* void */
        }

        if (last - p == 2 && p[0] == '.' && p[1] == '.') {
            ngx_log_error(NGX_LOG_ERR, log, 0, "hls: \"..\" in \"%V\" would leave the alias",
                          &r->uri);
            return NGX_HTTP_NOT_FOUND;
        }

        p = last + 1;
    }

    saved = r->uri;
    r->uri = file_uri;
    last = ngx_http_map_uri_to_path(r, &path, &root, 0);
    r->uri = saved;

    if (last == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    path.len = last - path.data;

    ngx_log_debug2(NGX_LOG_DEBUG_HTTP, log, 0, "hls file: \"%s\", name: \"%V\"",
                   path.data, &name);

    ngx_memzero(&of, sizeof(ngx_open_file_info_t));

    of.read_ahead = clcf->read_ahead;
    of.directio = NGX_MAX_OFF_T_VALUE;
    of.valid = clcf->open_file_cache_valid;
    of.min_uses = clcf->open_file_cache_min_uses;
    of.errors = clcf->open_file_cache_errors;
    of.events = clcf->open_file_cache_events;
    of.test_only = 1;                      /* stat (through disable_symlinks), no fd kept */

    if (ngx_http_set_disable_symlinks(r, clcf, &path, &of) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    /* Without open_file_cache and disable_symlinks, ngx_open_cached_file is one stat(); made
     * here, its answer is also the file's identity for hls_open_indexed_stat, which then makes
     * no stat of its own: one path lookup per hit instead of two */
    fresh = (clcf->open_file_cache == NULL);
#if (NGX_HAVE_OPENAT)
    fresh = fresh && of.disable_symlinks == NGX_DISABLE_SYMLINKS_OFF;
#endif

    if (fresh) {
        if (stat((const char *) path.data, &st) == -1) {
            of.err = ngx_errno;
            of.failed = ngx_file_info_n;
            rc = NGX_ERROR;

        } else {
            of.is_file = S_ISREG(st.st_mode) ? 1 : 0;
            rc = NGX_OK;
        }

    } else {
        rc = ngx_open_cached_file(clcf->open_file_cache, &path, &of, r->pool);
    }

    if (rc != NGX_OK) {
        switch (of.err) {

        case 0:
            return NGX_HTTP_INTERNAL_SERVER_ERROR;

        case NGX_ENOENT:
        case NGX_ENOTDIR:
        case NGX_ENAMETOOLONG:
#if (NGX_HAVE_OPENAT)
        case NGX_EMLINK:                   /* a symlink, with disable_symlinks */
        case NGX_ELOOP:
#endif
            level = NGX_LOG_ERR;
            rc = NGX_HTTP_NOT_FOUND;
            break;

        case NGX_EACCES:
            level = NGX_LOG_ERR;
            rc = NGX_HTTP_FORBIDDEN;
            break;

        default:
            level = NGX_LOG_CRIT;
            rc = NGX_HTTP_INTERNAL_SERVER_ERROR;
            break;
        }

        if (rc != NGX_HTTP_NOT_FOUND || clcf->log_not_found) {
            ngx_log_error(level, log, of.err, "hls: %s \"%s\" failed", of.failed, path.data);
        }

        return rc;
    }

    if (!of.is_file) {
        if (clcf->log_not_found) {
            ngx_log_error(NGX_LOG_ERR, log, 0, "hls: \"%s\" is not a regular file",
                          path.data);
        }
        return NGX_HTTP_NOT_FOUND;
    }

post:

    task = ngx_thread_task_alloc(r->pool, sizeof(ngx_http_hls_task_ctx_t));
    if (task == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    t = task->ctx;                         /* zeroed */
    t->request = r;
    t->path = path.data;
    t->file_uri = file_uri;

    if (fresh) {
        t->stat_fresh = 1;
        t->stat_id.dev = (uint64_t) st.st_dev;
        t->stat_id.ino = (uint64_t) st.st_ino;
        t->stat_id.size = (uint64_t) st.st_size;
        t->stat_id.mtime_sec = (int64_t) st.st_mtim.tv_sec;
        t->stat_id.mtime_nsec = (int64_t) st.st_mtim.tv_nsec;
    }

    t->options = hlcf->open_options;
    t->context = ngx_http_hls_context(r, hlcf);
    if (t->context == NULL) {
        ngx_log_error(NGX_LOG_ERR, log, 0, "hls: no libhls context in this worker");
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    t->name = ngx_pnalloc(r->pool, name.len + 1);
    if (t->name == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }
    ngx_cpystrn(t->name, name.data, name.len + 1);

    if (clip == NGX_OK) {
        /* a clip: its own presentation, and every URI its playlists write keeps the clip */
        t->clip = 1;
        t->clip_from = clip_from;
        t->clip_to = clip_to;
        t->query = ngx_pnalloc(r->pool, sizeof("clip_from=&clip_to=") + 2 * NGX_INT64_LEN);
        if (t->query == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }
        if (clip_to) {
            ngx_sprintf(t->query, "clip_from=%uL&clip_to=%uL%Z", clip_from, clip_to);
        } else {
            ngx_sprintf(t->query, "clip_from=%uL%Z", clip_from);
        }
    }

    t->info = (name.len == ngx_http_hls_info_name.len
               && ngx_strncmp(name.data, ngx_http_hls_info_name.data, name.len) == 0);

    /* file ranges, unless several byte ranges are asked for: nginx's range filter makes a
     * multipart response only from a body in one buffer */
    t->use_parts = hlcf->file_ranges && !t->info
                   && (r->headers_in.range == NULL
                       || ngx_strlchr(r->headers_in.range->value.data,
                                      r->headers_in.range->value.data
                                      + r->headers_in.range->value.len, ',')
                          == NULL);
    t->parts.fd = -1;
    t->file_range_min = hlcf->file_range_min;
    t->bytes_below = hlcf->small_ranges_cache ? hlcf->file_range_min : 0;
    t->slow_pool = hlcf->transcode_pool;
    t->task = task;

    if (hlcf->remote.url.len) {
        /* the store's bytes come through libhls (hls_get): no file to send from */
        t->remote = 1;
        t->remote_conf = &hlcf->remote;
        t->use_parts = 0;
    }

    if (t->use_parts && !t->remote && !t->clip) {
        rc = ngx_http_hls_serve_hit(r, t);
        if (rc != NGX_DECLINED) {
            return rc;
        }
    }

    return ngx_http_hls_post(r, task, hlcf->thread_pool);
}


/* On the event loop: a light name of a file that is indexed already is served at once,
 * without the thread pool: hls_open_indexed_stat (the handler's stat of the file is its
 * identity; a lookup; NULL when the open would index the file) or, with open_file_cache or
 * disable_symlinks, hls_open_indexed (its own stat), hls_name_is_light (one cache lookup: a hit, a playlist, an init segment, or a
 * segment or I-frame whose samples are found by position in the file, in the clear), then
 * hls_get_parts_min: a hit, or the name made from the index (microseconds: the segment's
 * headers and its ranges), and one fstat that checks the descriptor still reads the indexed
 * file. Its ranges then go out with sendfile as a static file's; ranges small enough to be
 * read (hls_small_ranges_cache on: by libhls, which keeps the bytes; off: here) are read here
 * from the page cache, as nginx reads a static file on the event loop without aio. The ETag's
 * size and mtime are the indexed file's (HlsParts.file), which that check has just matched.
 * NGX_DECLINED for anything else (not indexed, a transcode, WebVTT, a thumbnail, FFmpeg's
 * demuxer, encryption, any failure): the task does it, and reports the failure if there is
 * one. */
static ngx_int_t
ngx_http_hls_serve_hit(ngx_http_request_t *r, ngx_http_hls_task_ctx_t *t)
{
    HlsMedia            *media;
    HlsStatus            status;
    ngx_pool_cleanup_t  *cln;

    media = NULL;

    if ((t->stat_fresh
         ? hls_open_indexed_stat(t->context, (const char *) t->path, t->options, &t->stat_id,
                                 &media, NULL)
         : hls_open_indexed(t->context, (const char *) t->path, t->options, &media, NULL))
        != HLS_OK || media == NULL)
    {
        return NGX_DECLINED;
    }

    if (!hls_name_is_light(media, (const char *) t->name)) {
        hls_close(media);
        return NGX_DECLINED;
    }

    status = hls_get_parts_min(media, (const char *) t->name, t->bytes_below, &t->parts, NULL);
    hls_close(media);

    if (status != HLS_OK) {
        return NGX_DECLINED;               /* t->parts untouched */
    }

    if (ngx_http_hls_small_parts(t) && ngx_http_hls_read_parts(t, r->connection->log) != NGX_OK)
    {
        /* the file is shorter than its ranges: the task opens it anew and says why */
        hls_free_parts(&t->parts);         /* back to empty, fd -1 */
        return NGX_DECLINED;
    }

    /* the HlsParts lives until the request's pool goes */
    cln = ngx_pool_cleanup_add(r->pool, 0);
    if (cln == NULL) {
        hls_free_parts(&t->parts);
        ngx_http_hls_free_copy(t);
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }
    cln->handler = ngx_http_hls_cleanup;
    cln->data = t;

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "hls: \"%s\" served on the event loop", t->name);

    t->status = HLS_OK;
    t->size = (off_t) t->parts.file.size;
    t->mtime = (time_t) t->parts.file.mtime_sec;
    t->done = 1;

    return ngx_http_hls_respond(r, t);
}


/* Posts the request's task; the response is sent by ngx_http_hls_send once it is over. */
static ngx_int_t
ngx_http_hls_post(ngx_http_request_t *r, ngx_thread_task_t *task, ngx_thread_pool_t *pool)
{
    ngx_str_t                 value;
    ngx_log_t                *log;
    ngx_pool_cleanup_t       *cln;
    ngx_http_hls_task_ctx_t  *t;

    t = task->ctx;
    log = r->connection->log;

    /* frees the HlsBuffer (and HlsError) when the request's pool goes, whatever happened to
     * the request meanwhile; the pool cannot go while the task runs (r->main->blocked) */
    cln = ngx_pool_cleanup_add(r->pool, 0);
    if (cln == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }
    cln->handler = ngx_http_hls_cleanup;
    cln->data = t;

    task->handler = ngx_http_hls_thread_handler;
    task->event.data = t;
    task->event.log = log;
    task->event.handler = ngx_http_hls_thread_event_handler;

    if (ngx_thread_task_post(pool, task) != NGX_OK) {
        /* the pool's queue is full (thread_pool ... max_queue=N): come back later */
        ngx_str_set(&value, "1");
        if (ngx_http_hls_add_header(r, "Retry-After", &value, NULL) != NGX_OK) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }
        return NGX_HTTP_SERVICE_UNAVAILABLE;
    }

    t->guard.handler = ngx_http_hls_guard_handler;
    t->guard.data = t;
    t->guard.log = log;
    ngx_add_timer(&t->guard, NGX_HTTP_HLS_GUARD_MSEC);

    ngx_http_set_ctx(r, t, ngx_http_hls_module);

    r->main->blocked++;
    r->aio = 1;
    r->main->count++;
    r->write_event_handler = ngx_http_hls_send;

    return NGX_DONE;
}


/* In the task: t->parts of t->name (hls_get_parts_min), and the ranges read into memory when
 * they are small (ngx_http_hls_small_parts). */
static HlsStatus
ngx_http_hls_task_parts(ngx_http_hls_task_ctx_t *t, HlsMedia *media, HlsError **error,
    ngx_log_t *log)
{
    HlsStatus  status;

    status = hls_get_parts_min(media, (const char *) t->name, t->bytes_below, &t->parts, error);

    if (status == HLS_OK && ngx_http_hls_small_parts(t)
        && ngx_http_hls_read_parts(t, log) != NGX_OK)
    {
        hls_free_parts(&t->parts);
        status = HLS_ERR_FILE_CHANGED;
        t->message = "the file is shorter than its ranges";
    }

    return status;
}


/* Whether the file ranges of t->parts are on average smaller than hls_file_range_min. */
static ngx_uint_t
ngx_http_hls_small_parts(ngx_http_hls_task_ctx_t *t)
{
    size_t    i, n;
    uint64_t  bytes;

    n = 0;
    bytes = 0;

    for (i = 0; i < t->parts.count; i++) {
        if (t->parts.parts[i].kind == HLS_PART_FILE) {
            n++;
            bytes += t->parts.parts[i].len;
        }
    }

    return n && bytes < (uint64_t) n * t->file_range_min;
}


/* Largest gap between two ranges that one read spans (bytes read and dropped). */
#define NGX_HTTP_HLS_READ_GAP  (64 * 1024)

/* Buffers for ranges read in the task are kept for reuse (a fresh megabyte costs more in page
 * faults than reading the ranges): at most this many, of at most this size, per worker. */
#define NGX_HTTP_HLS_SPARES      8
#define NGX_HTTP_HLS_SPARE_MAX   (4 * 1024 * 1024)
#define NGX_HTTP_HLS_SPARE_UNIT  (256 * 1024)

typedef struct {
    u_char  *data;
    size_t   size;
} ngx_http_hls_spare_t;

/* taken on pool threads, given back on the event loop */
static pthread_mutex_t       ngx_http_hls_spare_lock = PTHREAD_MUTEX_INITIALIZER;
static ngx_http_hls_spare_t  ngx_http_hls_spares[NGX_HTTP_HLS_SPARES];
static ngx_uint_t            ngx_http_hls_nspares;


/* A buffer of at least size bytes (*got: its size): a spare, or a new one. */
static u_char *
ngx_http_hls_spare_take(size_t size, size_t *got, ngx_log_t *log)
{
    u_char      *p;
    ngx_uint_t   i;

    (void) pthread_mutex_lock(&ngx_http_hls_spare_lock);

    for (i = 0; i < ngx_http_hls_nspares; i++) {
        if (ngx_http_hls_spares[i].size >= size) {
            p = ngx_http_hls_spares[i].data;
            *got = ngx_http_hls_spares[i].size;
            ngx_http_hls_spares[i] = ngx_http_hls_spares[--ngx_http_hls_nspares];
            (void) pthread_mutex_unlock(&ngx_http_hls_spare_lock);
            return p;
        }
    }

    (void) pthread_mutex_unlock(&ngx_http_hls_spare_lock);

    *got = ngx_align(size, NGX_HTTP_HLS_SPARE_UNIT);

    return ngx_alloc(*got, log);
}


static void
ngx_http_hls_spare_give(u_char *p, size_t size)
{
    if (p == NULL) {
        return;
    }

    if (size <= NGX_HTTP_HLS_SPARE_MAX) {
        (void) pthread_mutex_lock(&ngx_http_hls_spare_lock);

        if (ngx_http_hls_nspares < NGX_HTTP_HLS_SPARES) {
            ngx_http_hls_spares[ngx_http_hls_nspares].data = p;
            ngx_http_hls_spares[ngx_http_hls_nspares].size = size;
            ngx_http_hls_nspares++;
            p = NULL;
        }

        (void) pthread_mutex_unlock(&ngx_http_hls_spare_lock);
    }

    ngx_free(p);
}


/* On the pool thread: reads the file ranges of t->parts into one buffer, each run of ranges
 * close together in the file with one pread of its span (samples interleaved one by one: one
 * read per segment instead of one sendfile per sample); the parts then go out as memory
 * buffers pointing into it. Nothing is cached: the buffer goes with the request. */
static ngx_int_t
ngx_http_hls_read_parts(ngx_http_hls_task_ctx_t *t, ngx_log_t *log)
{
    off_t          at;
    size_t         i, j, total;
    ssize_t        n;
    uint64_t       start, end;
    const HlsPart *p;

    total = 0;

    for (i = 0; i < t->parts.count; i = j) {
        p = &t->parts.parts[i];
        j = i + 1;

        if (p->kind != HLS_PART_FILE) {
            continue;
        }

        start = p->offset;
        j = ngx_http_hls_span(t, i, &end);

        total += end - start;
    }

    t->copy = ngx_http_hls_spare_take(total ? total : 1, &t->copy_size, log);
    t->copied = ngx_alloc(t->parts.count * sizeof(u_char *), log);
    if (t->copy == NULL || t->copied == NULL) {
        ngx_http_hls_free_copy(t);
        return NGX_ERROR;
    }

    at = 0;

    for (i = 0; i < t->parts.count; i = j) {
        p = &t->parts.parts[i];
        j = i + 1;
        t->copied[i] = NULL;

        if (p->kind != HLS_PART_FILE) {
            continue;
        }

        start = p->offset;
        j = ngx_http_hls_span(t, i, &end);

        for (n = 0; (uint64_t) n < end - start; /* void */) {
            ssize_t r = pread(t->parts.fd, t->copy + at + n, end - start - n,
                              (off_t) (start + n));
            if (r == -1 && ngx_errno == NGX_EINTR) {
                continue;
            }
            if (r <= 0) {
                /* truncated since libhls checked it */
                ngx_http_hls_free_copy(t);
                return NGX_ERROR;
            }
            n += r;
        }

        for (/* void */; i < j; i++) {
            t->copied[i] = t->copy + at + (t->parts.parts[i].offset - start);
        }

        at += end - start;
    }

    return NGX_OK;
}


/* The file parts from i read with one pread: forward in the file, gaps of at most
 * NGX_HTTP_HLS_READ_GAP adding up to no more than the parts kept (a track's samples between
 * another's larger ones are read one by one). Returns the index after the last; *end: the end
 * of the span. */
static size_t
ngx_http_hls_span(ngx_http_hls_task_ctx_t *t, size_t i, uint64_t *end)
{
    size_t          j;
    uint64_t        kept, dropped, gap;
    const HlsPart  *q;

    *end = t->parts.parts[i].offset + t->parts.parts[i].len;
    kept = t->parts.parts[i].len;
    dropped = 0;

    for (j = i + 1; j < t->parts.count; j++) {
        q = &t->parts.parts[j];

        if (q->kind != HLS_PART_FILE || q->offset < *end) {
            break;
        }

        gap = q->offset - *end;

        if (gap > NGX_HTTP_HLS_READ_GAP || dropped + gap > kept + q->len) {
            break;
        }

        dropped += gap;
        kept += q->len;
        *end = q->offset + q->len;
    }

    return j;
}


static void
ngx_http_hls_free_copy(ngx_http_hls_task_ctx_t *t)
{
    ngx_http_hls_spare_give(t->copy, t->copy_size);
    ngx_free(t->copied);
    t->copy = NULL;
    t->copied = NULL;
}


/* On a pool thread: every libhls call of the request. */
static void
ngx_http_hls_thread_handler(void *data, ngx_log_t *log)
{
    ngx_http_hls_task_ctx_t *t = data;

    HlsError              *error;
    HlsMedia              *media;
    HlsOpenOptions        *owned;
    const HlsOpenOptions  *opts;
    HlsStatus              status;
    ngx_uint_t             attempt, i;
    struct stat            before, after;

    if (t->stats) {
        for (i = 0; i < t->nstats; i++) {
            if (t->contexts[i]) {
                (void) hls_context_stats_json(t->contexts[i], &t->stats_buf[i]);
            }
        }
        t->status = HLS_OK;
        return;
    }

    if (t->remote) {
        ngx_http_hls_remote_task(t, log);
        return;
    }

    if (t->on_slow) {
        ngx_http_hls_nice_thread(log);
    }

    for (attempt = 0; /* void */; attempt++) {

        error = NULL;
        media = NULL;

        if (t->use_parts && !t->info) {
            /* no stat of our own: the handler's open checked the path, hls_open_with stats
             * it, and the HlsParts names the file version its bytes and ranges were checked
             * against (HlsParts.file: the ETag's size and mtime) */
            status = ngx_http_hls_request_options(t, &opts, &owned);
            if (status == HLS_OK) {
                status = hls_open_with(t->context, (const char *) t->path, opts, &media, &error);
                hls_open_options_free(owned);
            }

            if (status == HLS_OK && t->slow_pool && !t->on_slow
                && ngx_http_hls_slow(media, t->name))
            {
                hls_close(media);
                t->requeue = 1;
                return;
            }

            if (status == HLS_OK) {
                status = ngx_http_hls_task_parts(t, media, &error, log);

                hls_close(media);
            }

            if (status == HLS_ERR_FILE_CHANGED && attempt == 0) {
                hls_error_free(error);
                t->message = NULL;
                continue;                  /* open it anew, once */
            }

            t->status = status;
            t->error = error;
            if (status == HLS_OK) {
                t->size = (off_t) t->parts.file.size;
                t->mtime = (time_t) t->parts.file.mtime_sec;
            }
            return;
        }

        if (stat((const char *) t->path, &before) == -1) {
            t->err = ngx_errno;
            t->status = HLS_ERR_IO;
            t->message = "stat() failed";
            return;
        }

        if (!S_ISREG(before.st_mode)) {
            t->status = HLS_ERR_IO;
            t->message = "not a regular file";
            return;
        }

        status = ngx_http_hls_request_options(t, &opts, &owned);
        if (status == HLS_OK) {
            status = hls_open_with(t->context, (const char *) t->path, opts, &media, &error);
            hls_open_options_free(owned);
        }

        if (status == HLS_OK && t->slow_pool && !t->on_slow && !t->info
            && ngx_http_hls_slow(media, t->name))
        {
            /* a transcode or a thumbnail: on the transcode pool, not in front of playlists */
            hls_close(media);
            t->requeue = 1;
            return;
        }

        if (status == HLS_OK) {
            if (t->info) {
                status = hls_media_info_json(media, &t->buf);
                if (status != HLS_OK) {
                    t->message = "hls_media_info_json() failed";
                }

            } else if (t->use_parts) {
                status = ngx_http_hls_task_parts(t, media, &error, log);

            } else {
                status = hls_get_ex(media, (const char *) t->name, &t->buf, &error);
            }

            hls_close(media);
        }

        if (status == HLS_OK
            && (stat((const char *) t->path, &after) == -1
                || after.st_size != before.st_size
                || after.st_mtim.tv_sec != before.st_mtim.tv_sec
                || after.st_mtim.tv_nsec != before.st_mtim.tv_nsec))
        {
            /* the bytes may not be those of the file the ETag would name */
            hls_free_buffer(&t->buf);
            hls_free_parts(&t->parts);
            ngx_http_hls_free_copy(t);
            status = HLS_ERR_FILE_CHANGED;
            t->message = "the file changed while it was being served";
        }

        if (status == HLS_ERR_FILE_CHANGED && attempt == 0) {
            hls_error_free(error);
            t->message = NULL;
            continue;                      /* open it anew, once */
        }

        t->status = status;
        t->error = error;
        t->size = before.st_size;
        t->mtime = before.st_mtime;
        return;
    }
}


/* Back on the event loop: the task is over. */
static void
ngx_http_hls_thread_event_handler(ngx_event_t *ev)
{
    ngx_http_hls_task_ctx_t *t = ev->data;

    ngx_connection_t    *c;
    ngx_http_request_t  *r;

    r = t->request;
    c = r->connection;

    ngx_http_set_log_request(c->log, r);

    if (t->requeue) {
        /* slow work found by the main pool's task: the same task again, on the transcode
         * pool; the request stays blocked and its guard timer runs on */
        t->requeue = 0;
        t->on_slow = 1;

        if (ngx_thread_task_post(t->slow_pool, t->task) == NGX_OK) {
            return;
        }

        t->status = HLS_ERR_IO;
        t->message = "the transcode thread pool's queue is full";
        t->busy = 1;
    }

    if (t->guard.timer_set) {
        ngx_del_timer(&t->guard);
    }

    t->done = 1;

    r->main->blocked--;
    r->aio = 0;

    /* ngx_http_hls_send, or nginx's finalizer if the request was terminated meanwhile */
    r->write_event_handler(r);

    ngx_http_run_posted_requests(c);
}


static void
ngx_http_hls_guard_handler(ngx_event_t *ev)
{
    ngx_http_hls_task_ctx_t *t = ev->data;

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, ev->log, 0, "hls: still serving \"%s\"", t->name);

    ngx_add_timer(ev, NGX_HTTP_HLS_GUARD_MSEC);
}


static void
ngx_http_hls_send(ngx_http_request_t *r)
{
    ngx_http_hls_task_ctx_t  *t;

    t = ngx_http_get_module_ctx(r, ngx_http_hls_module);

    if (t == NULL || !t->done) {
        return;                            /* a write event while the task runs */
    }

    r->write_event_handler = ngx_http_request_empty_handler;

    ngx_http_finalize_request(r, t->stats ? ngx_http_hls_stats_respond(r, t)
                                          : ngx_http_hls_respond(r, t));
}


static ngx_int_t
ngx_http_hls_respond(ngx_http_request_t *r, ngx_http_hls_task_ctx_t *t)
{
    u_char                    *p;
    size_t                     len;
    uint64_t                   hash;
    ngx_int_t                  rc;
    ngx_buf_t                 *b;
    ngx_str_t                  value, body;
    ngx_chain_t                out;
    ngx_table_elt_t           *h, **ccp;
    ngx_http_hls_loc_conf_t   *hlcf;
    const char                *content_type;
    ngx_http_core_loc_conf_t  *clcf;

    if (t->status != HLS_OK) {
        return ngx_http_hls_fail(r, t);
    }

    hlcf = ngx_http_get_module_loc_conf(r, ngx_http_hls_module);

    body.data = (u_char *) t->buf.data;
    body.len = t->buf.len;
    content_type = t->buf.content_type;

    if (t->info && ngx_http_hls_info_body(r, t, &body) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (t->use_parts) {
        content_type = t->parts.content_type;
    }

    r->headers_out.status = NGX_HTTP_OK;
    r->headers_out.content_length_n = t->use_parts ? (off_t) t->parts.len : (off_t) body.len;
    r->headers_out.last_modified_time = t->mtime;   /* remote: -1 without Last-Modified */

    len = ngx_strlen(content_type);
    r->headers_out.content_type.len = len;
    r->headers_out.content_type.data = (u_char *) content_type;
    r->headers_out.content_type_len = len;
    r->headers_out.content_type_lowcase = NULL;

    /* the same bytes get the same ETag on every worker and machine: libhls's version, the
     * settings that shape the output, the file's size and mtime, and the name */
    p = ngx_pnalloc(r->pool, NGX_OFF_T_LEN + NGX_TIME_T_LEN + 2);
    if (p == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }
    len = ngx_sprintf(p, "%O:%T:", t->size, t->mtime) - p;
    hash = ngx_http_hls_fnv(hlcf->etag_seed, p, len);
    if (t->remote) {
        /* and the store's ETag of the object (a replaced object in the same second) */
        hash = ngx_http_hls_fnv(hash, t->remote_etag, ngx_strlen(t->remote_etag));
    }
    hash = ngx_http_hls_fnv(hash, t->name, ngx_strlen(t->name));

    value.data = ngx_pnalloc(r->pool, 2 + 2 + 16);
    if (value.data == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    /* info.json is weak: it reports how long this worker took to index the file */
    value.len = ngx_sprintf(value.data, t->info ? "W/\"%016xL\"" : "\"%016xL\"", hash)
                - value.data;

    clcf = ngx_http_get_module_loc_conf(r, ngx_http_core_module);

    if (clcf->etag
        && ngx_http_hls_add_header(r, "ETag", &value, &r->headers_out.etag) != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    len = ngx_strlen(t->name);
    if (t->info || (len > 5 && ngx_strcmp(t->name + len - 5, ".m3u8") == 0)) {
        ngx_str_set(&value, "public, max-age=60");
    } else {
        ngx_str_set(&value, "public, max-age=31536000, immutable");
    }

    if (ngx_http_hls_add_header(r, "Cache-Control", &value, &h) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    /* registered as nginx's own Cache-Control, so that "expires" replaces it */
    if (ngx_array_init(&r->headers_out.cache_control, r->pool, 1, sizeof(ngx_table_elt_t *))
        != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ccp = ngx_array_push(&r->headers_out.cache_control);
    if (ccp == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }
    *ccp = h;

    r->allow_ranges = 1;

    rc = ngx_http_send_header(r);

    if (rc == NGX_ERROR || rc > NGX_OK || r->header_only) {
        return rc;
    }

    if (t->use_parts) {
        return ngx_http_hls_send_parts(r, t);
    }

    b = ngx_calloc_buf(r->pool);
    if (b == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (body.len) {
        /* zero copy: the bytes stay libhls's until ngx_http_hls_cleanup */
        b->start = b->pos = body.data;
        b->end = b->last = body.data + body.len;
        b->memory = 1;
    }

    b->last_buf = (r == r->main) ? 1 : 0;
    b->last_in_chain = 1;

    out.buf = b;
    out.next = NULL;

    return ngx_http_output_filter(r, &out);
}


/* The body from an HlsParts: memory buffers for its bytes, file buffers for its ranges of the
 * source file (sendfile, or nginx's own reads with sendfile off). Nothing is copied; the
 * HlsParts, its bytes and its descriptor stay alive until the request pool's cleanup. */
static ngx_int_t
ngx_http_hls_send_parts(ngx_http_request_t *r, ngx_http_hls_task_ctx_t *t)
{
    size_t        i;
    ngx_buf_t    *b;
    ngx_file_t   *file;
    ngx_chain_t  *out, **ll, *cl;
    const HlsPart *part;

    file = NULL;
    out = NULL;
    ll = &out;
    b = NULL;

    for (i = 0; i < t->parts.count; i++) {
        part = &t->parts.parts[i];

        b = ngx_calloc_buf(r->pool);
        if (b == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        if (part->kind == HLS_PART_FILE && t->copied) {
            /* read in the task (hls_file_range_min) */
            b->start = b->pos = t->copied[i];
            b->end = b->last = t->copied[i] + part->len;
            b->memory = 1;

        } else if (part->kind == HLS_PART_FILE) {
            if (file == NULL) {
                file = ngx_pcalloc(r->pool, sizeof(ngx_file_t));
                if (file == NULL) {
                    return NGX_HTTP_INTERNAL_SERVER_ERROR;
                }

                file->fd = t->parts.fd;    /* libhls's: never closed by nginx */
                file->name.data = t->path;
                file->name.len = ngx_strlen(t->path);
                file->log = r->connection->log;
                file->directio = 0;
            }

            b->in_file = 1;
            b->file = file;
            b->file_pos = (off_t) part->offset;
            b->file_last = (off_t) (part->offset + part->len);

        } else if (part->len) {
            b->start = b->pos = (u_char *) part->data;
            b->end = b->last = (u_char *) part->data + part->len;
            b->memory = 1;
        }

        cl = ngx_alloc_chain_link(r->pool);
        if (cl == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        cl->buf = b;
        *ll = cl;
        ll = &cl->next;
    }

    *ll = NULL;

    if (b == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;   /* libhls returns at least one part */
    }

    b->last_buf = (r == r->main) ? 1 : 0;
    b->last_in_chain = 1;

    return ngx_http_output_filter(r, out);
}


/* A libhls failure: the detail to the error log, the status to the client. */
static ngx_int_t
ngx_http_hls_fail(ngx_http_request_t *r, ngx_http_hls_task_ctx_t *t)
{
    ngx_int_t                  rc;
    ngx_str_t                  value;
    ngx_uint_t                 level;
    const char                *message;
    ngx_http_core_loc_conf_t  *clcf;

    clcf = ngx_http_get_module_loc_conf(r, ngx_http_core_module);

    if (t->busy) {
        /* the transcode pool's queue is full (thread_pool ... max_queue=N) */
        ngx_log_error(NGX_LOG_WARN, r->connection->log, 0, "hls: \"%s\" \"%s\": %s",
                      t->path, t->name, t->message);
        ngx_str_set(&value, "1");
        if (ngx_http_hls_add_header(r, "Retry-After", &value, NULL) != NGX_OK) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }
        return NGX_HTTP_SERVICE_UNAVAILABLE;
    }

    if (t->remote_status) {
        /* remote mode: what the store said (404), or that it failed (502), or an object that
         * changed twice while it was being served (503) */
        rc = t->remote_status;
        level = NGX_LOG_ERR;

        if (rc == NGX_HTTP_NOT_FOUND && !clcf->log_not_found) {
            level = 0;
        }

        if (rc == NGX_HTTP_SERVICE_UNAVAILABLE) {
            level = NGX_LOG_WARN;
            ngx_str_set(&value, "1");
            if (ngx_http_hls_add_header(r, "Retry-After", &value, NULL) != NGX_OK) {
                return NGX_HTTP_INTERNAL_SERVER_ERROR;
            }
        }

        if (level) {
            message = t->remote_message[0] ? t->remote_message
                      : t->error ? hls_error_message(t->error) : "";
            ngx_log_error(level, r->connection->log, 0, "hls: remote \"%s\" \"%s\": %s%s%s",
                          t->path, t->name, hls_status_str(t->status),
                          message[0] ? ": " : "", message);
        }

        return rc;
    }

    switch (t->status) {

    case HLS_ERR_NOT_FOUND:
    case HLS_ERR_IO:
        rc = NGX_HTTP_NOT_FOUND;
        level = clcf->log_not_found ? NGX_LOG_ERR : 0;
        break;

    case HLS_ERR_INVALID_ARGUMENT:
    case HLS_ERR_INVALID_UTF8:
        rc = NGX_HTTP_BAD_REQUEST;
        level = NGX_LOG_INFO;
        break;

    case HLS_ERR_INVALID_MEDIA:
    case HLS_ERR_NO_PLAYABLE_TRACKS:
    case HLS_ERR_UNSUPPORTED:
        rc = NGX_HTTP_UNSUPPORTED_MEDIA_TYPE;
        level = NGX_LOG_ERR;
        break;

    case HLS_ERR_FILE_CHANGED:
        rc = NGX_HTTP_SERVICE_UNAVAILABLE;
        level = NGX_LOG_WARN;
        ngx_str_set(&value, "1");
        if (ngx_http_hls_add_header(r, "Retry-After", &value, NULL) != NGX_OK) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }
        break;

    case HLS_ERR_PANIC:
        rc = NGX_HTTP_INTERNAL_SERVER_ERROR;
        level = NGX_LOG_ALERT;
        break;

    default:
        rc = NGX_HTTP_INTERNAL_SERVER_ERROR;
        level = NGX_LOG_ERR;
        break;
    }

    if (level) {
        message = t->error ? hls_error_message(t->error) : t->message ? t->message : "";
        ngx_log_error(level, r->connection->log, t->err,
                      "hls: \"%s\" \"%s\": %s: %s",
                      t->path, t->name, hls_status_str(t->status), message);
    }

    return rc;
}


static void
ngx_http_hls_cleanup(void *data)
{
    ngx_http_hls_task_ctx_t *t = data;

    ngx_uint_t  i;

    hls_free_buffer(&t->buf);
    hls_free_parts(&t->parts);
    ngx_http_hls_free_copy(t);
    hls_error_free(t->error);
    t->error = NULL;

    for (i = 0; t->stats_buf && i < t->nstats; i++) {
        hls_free_buffer(&t->stats_buf[i]);
    }
}


static ngx_int_t
ngx_http_hls_add_header(ngx_http_request_t *r, const char *key, ngx_str_t *value,
    ngx_table_elt_t **out)
{
    ngx_table_elt_t  *h;

    h = ngx_list_push(&r->headers_out.headers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    h->hash = 1;
    h->key.data = (u_char *) key;
    h->key.len = ngx_strlen(key);
    h->value = *value;
    h->lowcase_key = NULL;

    if (out) {
        *out = h;
    }

    return NGX_OK;
}


/* A CORS preflight (hls_cors on). */
static ngx_int_t
ngx_http_hls_options(ngx_http_request_t *r)
{
    ngx_int_t  rc;
    ngx_str_t  value;

    rc = ngx_http_discard_request_body(r);
    if (rc != NGX_OK) {
        return rc;
    }

    ngx_str_set(&value, "GET, HEAD, OPTIONS");
    if (ngx_http_hls_add_header(r, "Access-Control-Allow-Methods", &value, NULL) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_str_set(&value, "Range, If-None-Match, If-Modified-Since");
    if (ngx_http_hls_add_header(r, "Access-Control-Allow-Headers", &value, NULL) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_str_set(&value, "86400");
    if (ngx_http_hls_add_header(r, "Access-Control-Max-Age", &value, NULL) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    r->headers_out.status = NGX_HTTP_NO_CONTENT;
    r->headers_out.content_length_n = 0;
    r->header_only = 1;

    return ngx_http_send_header(r);
}


/* Remote mode: the URL of the object for file_uri, the location's hls_remote prefix followed by
 * the URI after the location's prefix, percent-encoded (the URI is decoded). */
static ngx_int_t
ngx_http_hls_remote_url(ngx_http_request_t *r, ngx_http_hls_loc_conf_t *hlcf,
    ngx_str_t *file_uri, ngx_str_t *url)
{
    u_char                    *p, *last, *end;
    size_t                     escape;
    ngx_str_t                  rest;
    ngx_http_core_loc_conf_t  *clcf;

    clcf = ngx_http_get_module_loc_conf(r, ngx_http_core_module);

    if (file_uri->len <= clcf->name.len) {
        if (clcf->log_not_found) {
            ngx_log_error(NGX_LOG_ERR, r->connection->log, 0, "hls: no media file in \"%V\"",
                          &r->uri);
        }
        return NGX_HTTP_NOT_FOUND;
    }

    rest.data = file_uri->data + clcf->name.len;
    rest.len = file_uri->len - clcf->name.len;
    end = rest.data + rest.len;

    /* no ".." segment in what is appended to the prefix ("location /vod" and "/vod../x") */
    for (p = rest.data; p < end; p = last + 1) {
        for (last = p; last < end && *last != '/'; last++) { /* void */ }

        if (last - p == 2 && p[0] == '.' && p[1] == '.') {
            ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                          "hls: \"..\" in \"%V\" would leave the hls_remote prefix", &r->uri);
            return NGX_HTTP_NOT_FOUND;
        }
    }

    escape = 2 * ngx_escape_uri(NULL, rest.data, rest.len, NGX_ESCAPE_URI);

    url->len = hlcf->remote.url.len + rest.len + escape;
    url->data = ngx_pnalloc(r->pool, url->len + 1);
    if (url->data == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    p = ngx_cpymem(url->data, hlcf->remote.url.data, hlcf->remote.url.len);

    if (escape) {
        p = (u_char *) ngx_escape_uri(p, rest.data, rest.len, NGX_ESCAPE_URI);
    } else {
        p = ngx_cpymem(p, rest.data, rest.len);
    }

    *p = '\0';

    return NGX_OK;
}


/* On a pool thread, remote mode: validate the object (HEAD, or the worker's recent answer),
 * open it through an HlsSource, serve the name. An object that changed on the store (a read's
 * If-Match failed, or its ETag or size differ) is validated and opened anew, once: the new
 * object is a new presentation, and no response mixes the bytes of two. */
static void
ngx_http_hls_remote_task(ngx_http_hls_task_ctx_t *t, ngx_log_t *log)
{
    HlsError                      *error;
    HlsMedia                      *media;
    HlsOpenOptions                *owned;
    const HlsOpenOptions          *opts;
    HlsStatus                      status;
    ngx_uint_t                     attempt, failure, rs;
    const char                    *url;
    ngx_http_hls_remote_object_t   o;

    url = (const char *) t->path;

    for (attempt = 0; /* void */; attempt++) {

        error = NULL;
        media = NULL;
        t->remote_message[0] = '\0';

        rs = ngx_http_hls_remote_validate(url, t->remote_conf, &o, t->remote_message,
                                          sizeof(t->remote_message));
        if (rs) {
            t->status = (rs == NGX_HTTP_NOT_FOUND) ? HLS_ERR_NOT_FOUND : HLS_ERR_IO;
            t->remote_status = rs;
            return;
        }

        ngx_http_hls_remote_clear_failure();

        status = ngx_http_hls_request_options(t, &opts, &owned);
        if (status == HLS_OK) {
            status = ngx_http_hls_remote_open(t->context, url, t->remote_conf, &o, opts, &media,
                                              &error);
            hls_open_options_free(owned);
        }

        if (status == HLS_OK) {
            if (t->info) {
                status = hls_media_info_json(media, &t->buf);
                if (status != HLS_OK) {
                    ngx_cpystrn((u_char *) t->remote_message,
                                (u_char *) "hls_media_info_json() failed",
                                sizeof(t->remote_message));
                }

            } else {
                status = hls_get_ex(media, (const char *) t->name, &t->buf, &error);
            }

            hls_close(media);
        }

        failure = (status == HLS_OK) ? 0 : ngx_http_hls_remote_last_failure();
        rs = 0;

        if (failure == NGX_HTTP_PRECONDITION_FAILED
            || (status == HLS_ERR_FILE_CHANGED && failure == 0))
        {
            ngx_http_hls_remote_invalidate(url);

            if (attempt == 0) {
                ngx_log_error(NGX_LOG_INFO, log, 0,
                              "hls: remote \"%s\" \"%s\": %s; validating it again", url,
                              t->name, error ? hls_error_message(error) : "changed");
                hls_error_free(error);
                ngx_http_hls_remote_object_free(&o);
                continue;                  /* the new object, once */
            }

            rs = NGX_HTTP_SERVICE_UNAVAILABLE;

        } else if (failure) {
            if (failure == NGX_HTTP_NOT_FOUND) {
                ngx_http_hls_remote_invalidate(url);
            }
            rs = failure;

        } else if (status == HLS_ERR_IO) {
            /* the store failed a read made on another thread (an open shared with another
             * request): that request saw why; here it is a store failure */
            rs = NGX_HTTP_BAD_GATEWAY;
        }

        t->status = status;
        t->error = error;
        t->remote_status = rs;
        t->size = (off_t) o.size;
        t->mtime = o.mtime;
        ngx_cpystrn(t->remote_etag, (u_char *) o.etag, sizeof(t->remote_etag));
        ngx_http_hls_remote_object_free(&o);
        return;
    }
}


/* info.json names the file by its path on the server, and a remote object by its identity
 * (the store's URL, ETag, ...); clients get its URI instead ("/vod/movie.mkv"): the top-level
 * "path" string value and the "identity" of the top-level "source" object are replaced. */
static ngx_int_t
ngx_http_hls_info_body(ngx_http_request_t *r, ngx_http_hls_task_ctx_t *t, ngx_str_t *body)
{
    u_char        *d, *s, *q, *from;
    u_char        *p, *end;
    u_char        *vstart[2], *vend[2];
    size_t         len, klen;
    ngx_uint_t     i, n, k, in_source;
    ngx_int_t      depth;
    static u_char  hex[] = "0123456789abcdef";

    p = body->data;
    end = p + body->len;
    depth = 0;
    n = 0;
    in_source = 0;                         /* inside the top-level "source" object */

    while (p < end && n < 2) {

        if (*p == '"') {
            s = p++;
            while (p < end && *p != '"') {
                p += (*p == '\\') ? 2 : 1;
            }
            if (p >= end) {
                break;
            }
            p++;
            klen = p - s;

            for (q = p; q < end && (*q == ' ' || *q == ':'); q++) { /* void */ }

            if (q == p || q >= end) {
                continue;                  /* a value, not a key */
            }

            if (depth == 1 && klen == 8 && ngx_strncmp(s, "\"source\"", 8) == 0
                && *q == '{')
            {
                in_source = 1;
                continue;
            }

            if (*q == '"'
                && ((depth == 1 && klen == 6 && ngx_strncmp(s, "\"path\"", 6) == 0)
                    || (depth == 2 && in_source && klen == 10
                        && ngx_strncmp(s, "\"identity\"", 10) == 0)))
            {
                vstart[n] = q++;
                while (q < end && *q != '"') {
                    q += (*q == '\\') ? 2 : 1;
                }
                if (q >= end) {
                    break;
                }
                vend[n] = q + 1;
                n++;
                p = q + 1;
            }
            continue;
        }

        if (*p == '{' || *p == '[') {
            depth++;
        } else if (*p == '}' || *p == ']') {
            depth--;
            if (depth == 1) {
                in_source = 0;
            }
        }

        p++;
    }

    if (n == 0) {
        return NGX_OK;                     /* no "path": sent as it is */
    }

    len = body->len + n * (2 + 6 * t->file_uri.len);

    d = ngx_pnalloc(r->pool, len);
    if (d == NULL) {
        return NGX_ERROR;
    }

    q = d;
    from = body->data;

    for (k = 0; k < n; k++) {
        q = ngx_cpymem(q, from, vstart[k] - from);
        *q++ = '"';

        for (i = 0; i < t->file_uri.len; i++) {
            u_char c = t->file_uri.data[i];

            if (c == '"' || c == '\\') {
                *q++ = '\\';
                *q++ = c;

            } else if (c < 0x20 || c == 0x7f) {
                q = ngx_cpymem(q, "\\u00", 4);
                *q++ = hex[c >> 4];
                *q++ = hex[c & 0xf];

            } else {
                *q++ = c;
            }
        }

        *q++ = '"';
        from = vend[k];
    }

    q = ngx_cpymem(q, from, end - from);

    body->data = d;
    body->len = q - d;

    return NGX_OK;
}


/* hls_stats: this worker's libhls contexts, their settings and counters, as JSON. */
ngx_int_t
ngx_http_hls_stats_handler(ngx_http_request_t *r)
{
    ngx_int_t                  rc;
    ngx_thread_task_t         *task;
    ngx_http_hls_task_ctx_t   *t;
    ngx_http_hls_loc_conf_t   *hlcf;
    ngx_http_hls_main_conf_t  *mcf;

    if (!(r->method & (NGX_HTTP_GET|NGX_HTTP_HEAD))) {
        return NGX_HTTP_NOT_ALLOWED;
    }

    rc = ngx_http_discard_request_body(r);
    if (rc != NGX_OK) {
        return rc;
    }

    hlcf = ngx_http_get_module_loc_conf(r, ngx_http_hls_module);
    mcf = ngx_http_get_module_main_conf(r, ngx_http_hls_module);

    task = ngx_thread_task_alloc(r->pool, sizeof(ngx_http_hls_task_ctx_t));
    if (task == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    t = task->ctx;
    t->request = r;
    t->stats = 1;
    t->name = (u_char *) "stats";

    if (mcf->contexts) {
        t->nstats = mcf->settings.nelts;
        t->contexts = mcf->contexts;
        t->stats_buf = ngx_pcalloc(r->pool, t->nstats * sizeof(HlsBuffer));
        if (t->stats_buf == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }
    }

    return ngx_http_hls_post(r, task, hlcf->thread_pool);
}


static ngx_int_t
ngx_http_hls_stats_respond(ngx_http_request_t *r, ngx_http_hls_task_ctx_t *t)
{
    u_char                    *p;
    size_t                     len;
    ngx_int_t                  rc;
    ngx_buf_t                 *b;
    ngx_str_t                  value;
    ngx_uint_t                 i;
    ngx_chain_t                out;
    ngx_http_hls_settings_t   *s;
    ngx_http_hls_main_conf_t  *mcf;

    static const char  *transcode[] = { "unplayable", "browser_safe", "never", "add_aac" };

    mcf = ngx_http_get_module_main_conf(r, ngx_http_hls_module);
    s = mcf->settings.elts;

    len = sizeof("{\"pid\":,\"libhls\":\"\",\"contexts\":[]}\n") + NGX_INT_T_LEN
          + ngx_strlen(hls_version());
    for (i = 0; i < t->nstats; i++) {
        len += 512 + t->stats_buf[i].len;
    }

    b = ngx_create_temp_buf(r->pool, len);
    if (b == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    p = ngx_sprintf(b->last, "{\"pid\":%P,\"libhls\":\"%s\",\"contexts\":[", ngx_pid,
                    hls_version());

    for (i = 0; i < t->nstats; i++) {
        p = ngx_sprintf(p, "%s{\"segment_duration_ms\":%M,\"cache_size\":%O,"
                        "\"transcode\":\"%s\",\"idle_media\":%ui,\"idle_ms\":%M,"
                        "\"container_index\":%s,\"aac_bitrate\":%ui,\"aac_surround\":%s,"
                        "\"thumbnail_width\":%ui,\"thumbnail_interval_ms\":%M,"
                        "\"stats\":",
                        i ? "," : "", s[i].segment_duration, s[i].cache_size,
                        s[i].transcode < 4 ? transcode[s[i].transcode] : "?",
                        s[i].idle_count, s[i].idle_time,
                        s[i].container_index ? "true" : "false", s[i].aac_bitrate,
                        s[i].aac_surround ? "true" : "false", s[i].thumbnail_width,
                        s[i].thumbnail_interval);

        if (t->stats_buf[i].len) {
            p = ngx_cpymem(p, t->stats_buf[i].data, t->stats_buf[i].len);
        } else {
            p = ngx_cpymem(p, "null", 4);
        }

        *p++ = '}';
    }

    p = ngx_cpymem(p, "]}\n", 3);
    b->last = p;
    b->last_buf = (r == r->main) ? 1 : 0;
    b->last_in_chain = 1;

    r->headers_out.status = NGX_HTTP_OK;
    r->headers_out.content_length_n = b->last - b->pos;
    ngx_str_set(&r->headers_out.content_type, "application/json");
    r->headers_out.content_type_len = r->headers_out.content_type.len;
    r->headers_out.content_type_lowcase = NULL;

    ngx_str_set(&value, "no-store");
    if (ngx_http_hls_add_header(r, "Cache-Control", &value, NULL) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    rc = ngx_http_send_header(r);

    if (rc == NGX_ERROR || rc > NGX_OK || r->header_only) {
        return rc;
    }

    out.buf = b;
    out.next = NULL;

    return ngx_http_output_filter(r, &out);
}


/* The clip the arguments ask for: NGX_OK with clip_from (ms; 0 when only clip_to is given)
 * and clip_to (ms; 0: the end), NGX_DECLINED when neither argument is there, or
 * NGX_HTTP_BAD_REQUEST for a value that is not a decimal number of milliseconds or a range
 * that is empty. */
static ngx_int_t
ngx_http_hls_clip_args(ngx_http_request_t *r, uint64_t *from, uint64_t *to)
{
    u_char      *p;
    ngx_str_t    value;
    ngx_uint_t   i, found;
    uint64_t    *out[2];
    static char *names[2] = { "clip_from", "clip_to" };

    *from = 0;
    *to = 0;
    out[0] = from;
    out[1] = to;
    found = 0;

    if (r->args.len == 0) {
        return NGX_DECLINED;
    }

    for (i = 0; i < 2; i++) {
        if (ngx_http_arg(r, (u_char *) names[i], ngx_strlen(names[i]), &value) != NGX_OK) {
            continue;
        }

        found = 1;

        if (value.len == 0 || value.len > 15) {
            goto bad;
        }

        *out[i] = 0;
        for (p = value.data; p < value.data + value.len; p++) {
            if (*p < '0' || *p > '9') {
                goto bad;
            }
            *out[i] = *out[i] * 10 + (*p - '0');
        }
    }

    if (!found) {
        return NGX_DECLINED;
    }

    if (*to && *from >= *to) {
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "hls: clip_from must be before clip_to in \"%V\"", &r->args);
        return NGX_HTTP_BAD_REQUEST;
    }

    return NGX_OK;

bad:

    ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                  "hls: clip_from and clip_to are milliseconds in \"%V\"", &r->args);
    return NGX_HTTP_BAD_REQUEST;
}


/* Opens the task's file as its clip (in the thread pool). */
/*
 * The options of this request's presentation: the location's (its key), plus the request's
 * clip and the query that keeps every URI of its playlists in that clip. Sets *owned to the
 * options to free after the open (NULL when the location's are used as they are).
 */
static HlsStatus
ngx_http_hls_request_options(ngx_http_hls_task_ctx_t *t, const HlsOpenOptions **opts,
    HlsOpenOptions **owned)
{
    HlsStatus        status;
    HlsOpenOptions  *o;

    *owned = NULL;
    *opts = t->options;

    if (!t->clip) {
        return HLS_OK;
    }

    o = hls_open_options_clone(t->options);
    if (o == NULL) {
        t->message = "hls_open_options_clone() failed";
        return HLS_ERR_INTERNAL;
    }

    status = hls_open_options_set_clip(o, t->clip_from, t->clip_to, HLS_CLIP_KEYFRAME_ALIGNED);
    if (status == HLS_OK) {
        status = hls_open_options_set_uri_query(o, (const char *) t->query);
    }

    if (status != HLS_OK) {
        t->message = "bad clip";
        hls_open_options_free(o);
        return status;
    }

    *opts = o;
    *owned = o;
    return HLS_OK;
}
