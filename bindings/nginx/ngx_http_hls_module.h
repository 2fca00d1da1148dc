/*
 * ngx_http_hls_module: HLS (fMP4 + WebVTT) from media files with libhls.
 *
 * ngx_http_hls_conf.c     directives, configuration, one HlsContext per distinct effective
 *                         configuration per worker (created at worker start, freed at exit)
 * ngx_http_hls_module.c   the content handler: URI -> file + name, the libhls calls on a
 *                         thread pool, the HTTP response
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
    ngx_uint_t           transcode;          /* hls_transcode (HlsTranscodePolicy) */
    ngx_uint_t           idle_count;         /* hls_idle_media <count> */
    ngx_msec_t           idle_time;          /* hls_idle_media ... <time> */
    ngx_flag_t           container_index;    /* hls_container_index */
    ngx_uint_t           aac_bitrate;        /* hls_aac_bitrate */
    ngx_flag_t           aac_surround;       /* hls_aac_surround */
} ngx_http_hls_settings_t;


typedef struct {
    ngx_flag_t           enable;             /* "hls" in this very location */
    ngx_flag_t           stats;              /* "hls_stats" in this very location */
    ngx_http_hls_settings_t  settings;
    ngx_thread_pool_t   *thread_pool;        /* hls_thread_pool */
    ngx_flag_t           cors;               /* hls_cors */
    ngx_flag_t           file_ranges;        /* hls_file_ranges: segments as file buffers */
    size_t               file_range_min;     /* hls_file_range_min: smaller average: bytes */
    ngx_uint_t           context_index;      /* into ngx_http_hls_main_conf_t.settings */
    uint64_t             etag_seed;          /* ngx_http_hls_settings_hash(&settings) */
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

/* 64-bit FNV-1a of data, continuing from h (0xcbf29ce484222325 to start). */
uint64_t ngx_http_hls_fnv(uint64_t h, const void *data, size_t len);


#endif /* _NGX_HTTP_HLS_MODULE_H_INCLUDED_ */
