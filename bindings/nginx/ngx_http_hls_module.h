/*
 * ngx_http_hls_module: HLS (fMP4 + WebVTT) from media files with libhls.
 *
 * ngx_http_hls_conf.c     directives, configuration, one HlsContext per distinct effective
 *                         configuration per worker (created at worker start, freed at exit)
 * ngx_http_hls_module.c   the content handler: URI -> file + name, the libhls calls on a
 *                         thread pool, the HTTP response
 * ngx_http_hls_remote.c   remote mode (hls_remote): the media on an HTTP store, read with
 *                         range requests (libcurl) from the thread pool
 */

#ifndef _NGX_HTTP_HLS_MODULE_H_INCLUDED_
#define _NGX_HTTP_HLS_MODULE_H_INCLUDED_

#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include <ngx_thread_pool.h>

#include <hls.h>


/* The libhls settings of one location: what its HlsContext is made from. Locations with equal
 * settings share one context per worker. */
typedef struct {
    ngx_msec_t           segment_duration;   /* hls_segment_duration */
    off_t                cache_size;         /* hls_cache_size */
    off_t                max_index;          /* hls_max_index_bytes */
    off_t                source_cache;       /* hls_remote_cache_size */
    ngx_uint_t           transcode;          /* hls_transcode (HlsTranscodePolicy) */
    ngx_uint_t           idle_count;         /* hls_idle_media <count> */
    ngx_msec_t           idle_time;          /* hls_idle_media ... <time> */
    ngx_flag_t           container_index;    /* hls_container_index */
    ngx_uint_t           aac_bitrate;        /* hls_aac_bitrate */
    ngx_flag_t           aac_surround;       /* hls_aac_surround */
    ngx_uint_t           thumbnail_width;    /* hls_thumbnail_width (0: no thumbnails) */
    ngx_msec_t           thumbnail_interval; /* hls_thumbnail_interval */
    ngx_str_t            index_dir;          /* hls_index_dir: full path, NUL-terminated;
                                                empty: off */
} ngx_http_hls_settings_t;


/* Remote mode: hls_remote, hls_remote_validate, hls_remote_timeout. */
typedef struct {
    ngx_str_t            url;                /* hls_remote URL_PREFIX; len 0: local files */
    ngx_msec_t           validate;           /* hls_remote_validate: HEAD answers kept */
    ngx_msec_t           connect_timeout;    /* hls_remote_timeout <connect> ... */
    ngx_msec_t           timeout;            /* hls_remote_timeout ... <request> */
} ngx_http_hls_remote_conf_t;


/* An object on the store, as a HEAD describes it. */
typedef struct {
    uint64_t             size;
    time_t               mtime;              /* Last-Modified, -1 if none */
    char                *etag;               /* as sent ("" if none); malloc'ed */
    char                *last_modified;      /* as sent ("" if none); malloc'ed */
} ngx_http_hls_remote_object_t;


typedef struct {
    ngx_flag_t           enable;             /* "hls" in this very location */
    ngx_flag_t           stats;              /* "hls_stats" in this very location */
    ngx_http_hls_settings_t  settings;
    ngx_thread_pool_t   *thread_pool;        /* hls_thread_pool */
    ngx_str_t            transcode_pool_name; /* hls_transcode_thread_pool ("off": none) */
    ngx_thread_pool_t   *transcode_pool;     /* its pool; NULL: off, or thread_pool's */
    ngx_flag_t           cors;               /* hls_cors */
    ngx_flag_t           file_ranges;        /* hls_file_ranges: segments as file buffers */
    size_t               file_range_min;     /* hls_file_range_min: smaller average: bytes */
    ngx_flag_t           small_ranges_cache; /* hls_small_ranges_cache: kept as bytes */
    ngx_uint_t           context_index;      /* into ngx_http_hls_main_conf_t.settings */
    uint64_t             etag_seed;          /* ngx_http_hls_settings_hash(&settings) */
    /* encryption (issue #17) */
    ngx_uint_t           encryption;         /* hls_encryption (HlsEncryptionMethod) */
    ngx_str_t            encryption_key;     /* hls_encryption_key: 32 hex digits */
    ngx_str_t            encryption_key_uri; /* hls_encryption_key_uri */
    HlsOpenOptions      *open_options;       /* the static key, or NULL: in the clear */
    ngx_http_hls_remote_conf_t  remote;
} ngx_http_hls_loc_conf_t;


typedef struct {
    ngx_array_t          settings;           /* of ngx_http_hls_settings_t: distinct ones */
    HlsContext         **contexts;           /* per worker: one per settings entry */
} ngx_http_hls_main_conf_t;


extern ngx_module_t  ngx_http_hls_module;


ngx_int_t ngx_http_hls_handler(ngx_http_request_t *r);
ngx_int_t ngx_http_hls_stats_handler(ngx_http_request_t *r);

/* The worker's context for a location (NULL outside a worker or if it could not be made). */
HlsContext *ngx_http_hls_context(ngx_http_request_t *r, ngx_http_hls_loc_conf_t *hlcf);

/* What the ETag is made of besides the file and the name: libhls's version and the settings
 * that change the bytes (not the cache or idle settings). */
uint64_t ngx_http_hls_settings_hash(ngx_http_hls_settings_t *s);

/* Remote mode (ngx_http_hls_remote.c). init/exit: per worker. The rest runs on pool threads:
 * validate gives 0 or the HTTP status to answer (404, 502, 500) with a message; open hands a
 * new HlsSource over the validated object to hls_open_source; last_failure is the status the
 * last failed store request of this thread asks for (404, 412 = the object changed, 502),
 * 0 if none since clear_failure. */
ngx_int_t ngx_http_hls_remote_init(ngx_log_t *log);
void ngx_http_hls_remote_exit(void);
ngx_uint_t ngx_http_hls_remote_validate(const char *url, ngx_http_hls_remote_conf_t *rc,
    ngx_http_hls_remote_object_t *o, char *msg, size_t msg_cap);
void ngx_http_hls_remote_invalidate(const char *url);
void ngx_http_hls_remote_object_free(ngx_http_hls_remote_object_t *o);
HlsStatus ngx_http_hls_remote_open(HlsContext *ctx, const char *url,
    ngx_http_hls_remote_conf_t *rc, ngx_http_hls_remote_object_t *o, const HlsOpenOptions *opts,
    HlsMedia **media, HlsError **error);
void ngx_http_hls_remote_clear_failure(void);
ngx_uint_t ngx_http_hls_remote_last_failure(void);

/* 64-bit FNV-1a of data, continuing from h (0xcbf29ce484222325 to start). */
uint64_t ngx_http_hls_fnv(uint64_t h, const void *data, size_t len);


#endif /* _NGX_HTTP_HLS_MODULE_H_INCLUDED_ */
