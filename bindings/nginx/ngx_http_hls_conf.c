/*
 * ngx_http_hls_module: directives, configuration and the per-worker libhls contexts.
 */

#include "ngx_http_hls_module.h"


#define NGX_HTTP_HLS_DEFAULT_SEGMENT    6000
#define NGX_HTTP_HLS_DEFAULT_CACHE      (256 * 1024 * 1024)
#define NGX_HTTP_HLS_DEFAULT_MAX_INDEX  ((off_t) 1024 * 1024 * 1024)
#define NGX_HTTP_HLS_DEFAULT_REMOTE_CACHE  ((off_t) 64 * 1024 * 1024)
#define NGX_HTTP_HLS_DEFAULT_IDLE       64
#define NGX_HTTP_HLS_DEFAULT_IDLE_TIME  300000
#define NGX_HTTP_HLS_DEFAULT_AAC        128000
#define NGX_HTTP_HLS_DEFAULT_THUMB_W    320
#define NGX_HTTP_HLS_DEFAULT_THUMB_MS   10000
#define NGX_HTTP_HLS_DEFAULT_VALIDATE   5000
#define NGX_HTTP_HLS_DEFAULT_CONNECT    2000
#define NGX_HTTP_HLS_DEFAULT_REQUEST    10000


static char *ngx_http_hls(ngx_conf_t *cf, ngx_command_t *cmd, void *conf);
static char *ngx_http_hls_stats(ngx_conf_t *cf, ngx_command_t *cmd, void *conf);
static char *ngx_http_hls_transcode(ngx_conf_t *cf, ngx_command_t *cmd, void *conf);
static char *ngx_http_hls_idle_media(ngx_conf_t *cf, ngx_command_t *cmd, void *conf);
static char *ngx_http_hls_aac_bitrate(ngx_conf_t *cf, ngx_command_t *cmd, void *conf);
static char *ngx_http_hls_thread_pool(ngx_conf_t *cf, ngx_command_t *cmd, void *conf);
static char *ngx_http_hls_transcode_thread_pool(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static ngx_int_t ngx_http_hls_declare_pool(ngx_conf_t *cf, ngx_str_t *name);
static char *ngx_http_hls_index_dir(ngx_conf_t *cf, ngx_command_t *cmd, void *conf);
static ngx_int_t ngx_http_hls_encryption_options(ngx_conf_t *cf, ngx_http_hls_loc_conf_t *conf);
static char *ngx_http_hls_remote(ngx_conf_t *cf, ngx_command_t *cmd, void *conf);
static char *ngx_http_hls_remote_timeout(ngx_conf_t *cf, ngx_command_t *cmd, void *conf);
static char *ngx_http_hls_check_segment_duration(ngx_conf_t *cf, void *post, void *data);
static void *ngx_http_hls_create_main_conf(ngx_conf_t *cf);
static void *ngx_http_hls_create_loc_conf(ngx_conf_t *cf);
static char *ngx_http_hls_merge_loc_conf(ngx_conf_t *cf, void *parent, void *child);
static ngx_int_t ngx_http_hls_init_process(ngx_cycle_t *cycle);
static void ngx_http_hls_exit_process(ngx_cycle_t *cycle);
static HlsConfig *ngx_http_hls_make_config(ngx_http_hls_settings_t *s, const char **what,
    HlsStatus *status);


static ngx_conf_post_t  ngx_http_hls_segment_duration_post = {
    ngx_http_hls_check_segment_duration
};


/* hls_encryption values: their HlsEncryptionMethod */
static ngx_conf_enum_t  ngx_http_hls_encryption_methods[] = {
    { ngx_string("none"), HLS_ENCRYPTION_NONE },
    { ngx_string("aes-128"), HLS_ENCRYPTION_AES_128 },
    { ngx_string("sample-aes"), HLS_ENCRYPTION_SAMPLE_AES },
    { ngx_null_string, 0 }
};


static ngx_command_t  ngx_http_hls_commands[] = {

    { ngx_string("hls"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS,
      ngx_http_hls,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("hls_stats"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS,
      ngx_http_hls_stats,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("hls_segment_duration"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_hls_loc_conf_t, settings.segment_duration),
      &ngx_http_hls_segment_duration_post },

    { ngx_string("hls_cache_size"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_off_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_hls_loc_conf_t, settings.cache_size),
      NULL },

    { ngx_string("hls_max_index_bytes"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_off_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_hls_loc_conf_t, settings.max_index),
      NULL },

    { ngx_string("hls_remote_cache_size"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_off_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_hls_loc_conf_t, settings.source_cache),
      NULL },

    { ngx_string("hls_transcode"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_hls_transcode,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("hls_idle_media"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE2,
      ngx_http_hls_idle_media,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("hls_container_index"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_FLAG,
      ngx_conf_set_flag_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_hls_loc_conf_t, settings.container_index),
      NULL },

    { ngx_string("hls_aac_bitrate"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_hls_aac_bitrate,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("hls_aac_surround"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_FLAG,
      ngx_conf_set_flag_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_hls_loc_conf_t, settings.aac_surround),
      NULL },

    { ngx_string("hls_thumbnail_width"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_num_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_hls_loc_conf_t, settings.thumbnail_width),
      NULL },

    { ngx_string("hls_thumbnail_interval"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_hls_loc_conf_t, settings.thumbnail_interval),
      NULL },

    { ngx_string("hls_thread_pool"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_hls_thread_pool,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("hls_transcode_thread_pool"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_hls_transcode_thread_pool,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("hls_index_dir"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_hls_index_dir,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("hls_cors"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_FLAG,
      ngx_conf_set_flag_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_hls_loc_conf_t, cors),
      NULL },

    { ngx_string("hls_file_ranges"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_FLAG,
      ngx_conf_set_flag_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_hls_loc_conf_t, file_ranges),
      NULL },

    { ngx_string("hls_file_range_min"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_size_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_hls_loc_conf_t, file_range_min),
      NULL },

    { ngx_string("hls_small_ranges_cache"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_FLAG,
      ngx_conf_set_flag_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_hls_loc_conf_t, small_ranges_cache),
      NULL },

    { ngx_string("hls_encryption"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_enum_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_hls_loc_conf_t, encryption),
      &ngx_http_hls_encryption_methods },

    { ngx_string("hls_encryption_key"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_str_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_hls_loc_conf_t, encryption_key),
      NULL },

    { ngx_string("hls_encryption_key_uri"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_str_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_hls_loc_conf_t, encryption_key_uri),
      NULL },

    { ngx_string("hls_remote"),
      NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_hls_remote,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("hls_remote_validate"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_hls_loc_conf_t, remote.validate),
      NULL },

    { ngx_string("hls_remote_timeout"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE2,
      ngx_http_hls_remote_timeout,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

      ngx_null_command
};


static ngx_http_module_t  ngx_http_hls_module_ctx = {
    NULL,                                  /* preconfiguration */
    NULL,                                  /* postconfiguration */

    ngx_http_hls_create_main_conf,         /* create main configuration */
    NULL,                                  /* init main configuration */

    NULL,                                  /* create server configuration */
    NULL,                                  /* merge server configuration */

    ngx_http_hls_create_loc_conf,          /* create location configuration */
    ngx_http_hls_merge_loc_conf            /* merge location configuration */
};


ngx_module_t  ngx_http_hls_module = {
    NGX_MODULE_V1,
    &ngx_http_hls_module_ctx,              /* module context */
    ngx_http_hls_commands,                 /* module directives */
    NGX_HTTP_MODULE,                       /* module type */
    NULL,                                  /* init master */
    NULL,                                  /* init module */
    ngx_http_hls_init_process,             /* init process */
    NULL,                                  /* init thread */
    NULL,                                  /* exit thread */
    ngx_http_hls_exit_process,             /* exit process */
    NULL,                                  /* exit master */
    NGX_MODULE_V1_PADDING
};


static ngx_str_t  ngx_http_hls_transcode_names[] = {
    ngx_string("unplayable"),              /* HLS_TRANSCODE_UNPLAYABLE = 0 */
    ngx_string("browser_safe"),            /* HLS_TRANSCODE_BROWSER_SAFE = 1 */
    ngx_string("never"),                   /* HLS_TRANSCODE_NEVER = 2 */
    ngx_string("add_aac"),                 /* HLS_TRANSCODE_ADD_AAC = 3 */
};


static char *
ngx_http_hls(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_hls_loc_conf_t *hlcf = conf;

    ngx_http_core_loc_conf_t  *clcf;

    if (hlcf->enable != NGX_CONF_UNSET || hlcf->stats != NGX_CONF_UNSET) {
        return "is duplicate, or in a location with \"hls_stats\"";
    }

    hlcf->enable = 1;

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);
    clcf->handler = ngx_http_hls_handler;

    return NGX_CONF_OK;
}


/* hls_transcode_thread_pool NAME | off: checked at merge time (the pool is looked up or
 * declared there) */
static char *
ngx_http_hls_transcode_thread_pool(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_hls_loc_conf_t *hlcf = conf;

    ngx_str_t  *value;

    if (hlcf->transcode_pool_name.data) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (value[1].len == 0) {
        return "needs a thread pool name or \"off\"";
    }

    hlcf->transcode_pool_name = value[1];

    return NGX_CONF_OK;
}


/* The thread pool module, for declaring the default transcode pool the way a
 * "thread_pool NAME threads=N;" line would. */
extern ngx_module_t  ngx_thread_pool_module;

#define NGX_HTTP_HLS_TRANSCODE_POOL  "hls_transcode"

/* Declares the thread pool NAME (threads: the number of CPUs, at least 2), as the line
 * "thread_pool NAME threads=N max_queue=65536;" would, unless the configuration read so far
 * declared or named it already. */
static ngx_int_t
ngx_http_hls_declare_pool(ngx_conf_t *cf, ngx_str_t *name)
{
    char           *rv;
    u_char         *p;
    ngx_str_t      *v;
    ngx_array_t     args, *saved;
    ngx_uint_t      threads;
    ngx_command_t  *cmd;

    if (ngx_thread_pool_get(cf->cycle, name) != NULL) {
        return NGX_OK;                     /* declared above, or by another location */
    }

    for (cmd = ngx_thread_pool_module.commands; cmd->name.len; cmd++) {
        if (cmd->name.len == sizeof("thread_pool") - 1
            && ngx_strncmp(cmd->name.data, "thread_pool", cmd->name.len) == 0)
        {
            break;
        }
    }

    if (cmd->name.len == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "no \"thread_pool\" directive in nginx");
        return NGX_ERROR;
    }

    if (ngx_array_init(&args, cf->temp_pool, 4, sizeof(ngx_str_t)) != NGX_OK) {
        return NGX_ERROR;
    }

    v = ngx_array_push_n(&args, 4);
    p = ngx_pnalloc(cf->pool, sizeof("threads=") + NGX_INT_T_LEN);
    if (v == NULL || p == NULL) {
        return NGX_ERROR;
    }

    threads = ngx_ncpu > 2 ? (ngx_uint_t) ngx_ncpu : 2;

    ngx_str_set(&v[0], "thread_pool");
    v[1] = *name;                          /* static: the pool keeps the pointer */
    v[2].data = p;
    v[2].len = ngx_sprintf(p, "threads=%ui", threads) - p;
    ngx_str_set(&v[3], "max_queue=65536");

    saved = cf->args;
    cf->args = &args;
    rv = cmd->set(cf, cmd, NULL);
    cf->args = saved;

    return (rv == NGX_CONF_OK) ? NGX_OK : NGX_ERROR;
}


static char *
ngx_http_hls_stats(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_hls_loc_conf_t *hlcf = conf;

    ngx_http_core_loc_conf_t  *clcf;

    if (hlcf->stats != NGX_CONF_UNSET || hlcf->enable != NGX_CONF_UNSET) {
        return "is duplicate, or in a location with \"hls\"";
    }

    hlcf->stats = 1;

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);
    clcf->handler = ngx_http_hls_stats_handler;

    return NGX_CONF_OK;
}


/* hls_index_dir off | PATH: a relative PATH is relative to the prefix, as nginx's other paths */
static char *
ngx_http_hls_index_dir(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_hls_loc_conf_t *hlcf = conf;

    ngx_str_t  *value;

    if (hlcf->settings.index_dir.data != NULL) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (ngx_strcmp(value[1].data, "off") == 0) {
        ngx_str_set(&hlcf->settings.index_dir, "");
        return NGX_CONF_OK;
    }

    if (value[1].len == 0 || ngx_strlen(value[1].data) != value[1].len) {
        return "must be \"off\" or a directory";
    }

    hlcf->settings.index_dir = value[1];

    /* NUL-terminated either way: an absolute path is the parsed token itself, a relative one
     * becomes a copy made with ngx_cpystrn */
    if (ngx_conf_full_name(cf->cycle, &hlcf->settings.index_dir, 0) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


static char *
ngx_http_hls_check_segment_duration(ngx_conf_t *cf, void *post, void *data)
{
    ngx_msec_t *ms = data;

    if (*ms < 1000 || *ms > 60000) {
        return "must be between 1s and 60s (e.g. \"6s\" or \"2500ms\")";
    }

    return NGX_CONF_OK;
}


static char *
ngx_http_hls_transcode(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_hls_loc_conf_t *hlcf = conf;

    ngx_str_t   *value;
    ngx_uint_t   i;

    if (hlcf->settings.transcode != NGX_CONF_UNSET_UINT) {
        return "is duplicate";
    }

    value = cf->args->elts;

    for (i = 0; i < sizeof(ngx_http_hls_transcode_names) / sizeof(ngx_str_t); i++) {
        if (value[1].len == ngx_http_hls_transcode_names[i].len
            && ngx_strncmp(value[1].data, ngx_http_hls_transcode_names[i].data,
                           value[1].len) == 0)
        {
            hlcf->settings.transcode = i;
            return NGX_CONF_OK;
        }
    }

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "invalid value \"%V\" in \"%V\" directive, "
                       "it must be \"unplayable\", \"browser_safe\", \"never\" or \"add_aac\"",
                       &value[1], &cmd->name);

    return NGX_CONF_ERROR;
}


static char *
ngx_http_hls_idle_media(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_hls_loc_conf_t *hlcf = conf;

    ngx_int_t    n;
    ngx_str_t   *value;
    ngx_msec_t   ms;

    if (hlcf->settings.idle_count != NGX_CONF_UNSET_UINT) {
        return "is duplicate";
    }

    value = cf->args->elts;

    n = ngx_atoi(value[1].data, value[1].len);
    if (n == NGX_ERROR || n > 1000000) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid count \"%V\" in \"%V\" directive, "
                           "it must be a number of files from 0 to 1000000",
                           &value[1], &cmd->name);
        return NGX_CONF_ERROR;
    }

    ms = ngx_parse_time(&value[2], 0);
    if (ms == (ngx_msec_t) NGX_ERROR) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid time \"%V\" in \"%V\" directive",
                           &value[2], &cmd->name);
        return NGX_CONF_ERROR;
    }

    hlcf->settings.idle_count = (ngx_uint_t) n;
    hlcf->settings.idle_time = ms;

    return NGX_CONF_OK;
}


static char *
ngx_http_hls_aac_bitrate(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_hls_loc_conf_t *hlcf = conf;

    ngx_int_t   n, scale;
    ngx_str_t  *value, v;

    if (hlcf->settings.aac_bitrate != NGX_CONF_UNSET_UINT) {
        return "is duplicate";
    }

    value = cf->args->elts;
    v = value[1];
    scale = 1;

    if (v.len > 1 && (v.data[v.len - 1] == 'k' || v.data[v.len - 1] == 'K')) {
        v.len--;
        scale = 1000;
    }

    n = ngx_atoi(v.data, v.len);

    if (n == NGX_ERROR || n > 512000 || n * scale < 32000 || n * scale > 512000) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid value \"%V\" in \"%V\" directive, "
                           "it must be a bit rate from 32k to 512k (bits per second)",
                           &value[1], &cmd->name);
        return NGX_CONF_ERROR;
    }

    hlcf->settings.aac_bitrate = (ngx_uint_t) (n * scale);

    return NGX_CONF_OK;
}


static char *
ngx_http_hls_thread_pool(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_hls_loc_conf_t *hlcf = conf;

    ngx_str_t  *value;

    if (hlcf->thread_pool != NGX_CONF_UNSET_PTR) {
        return "is duplicate";
    }

    value = cf->args->elts;

    /* a pool not declared with "thread_pool" fails the configuration ("unknown thread pool"),
     * except "default", which nginx makes with 32 threads */
    hlcf->thread_pool = ngx_thread_pool_add(cf, &value[1]);
    if (hlcf->thread_pool == NULL) {
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


static char *
ngx_http_hls_remote(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_hls_loc_conf_t *hlcf = conf;

    u_char     *p;
    ngx_str_t  *value;
    ngx_uint_t  i;

    if (hlcf->remote.url.data) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (!((value[1].len > 7 && ngx_strncasecmp(value[1].data, (u_char *) "http://", 7) == 0)
          || (value[1].len > 8
              && ngx_strncasecmp(value[1].data, (u_char *) "https://", 8) == 0)))
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid URL prefix \"%V\" in \"%V\" directive, it must start "
                           "with \"http://\" or \"https://\" (e.g. \"http://store:9000/bucket/\")",
                           &value[1], &cmd->name);
        return NGX_CONF_ERROR;
    }

    for (i = 0, p = value[1].data; i < value[1].len; i++, p++) {
        if (*p <= 0x20 || *p == 0x7f || *p == '?' || *p == '#') {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid URL prefix \"%V\" in \"%V\" directive: no spaces, "
                               "control characters, query or fragment",
                               &value[1], &cmd->name);
            return NGX_CONF_ERROR;
        }
    }

    hlcf->remote.url = value[1];

    return NGX_CONF_OK;
}


static char *
ngx_http_hls_remote_timeout(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_hls_loc_conf_t *hlcf = conf;

    ngx_str_t   *value;
    ngx_msec_t   connect, request;

    if (hlcf->remote.connect_timeout != NGX_CONF_UNSET_MSEC) {
        return "is duplicate";
    }

    value = cf->args->elts;

    connect = ngx_parse_time(&value[1], 0);
    request = ngx_parse_time(&value[2], 0);

    if (connect == (ngx_msec_t) NGX_ERROR || request == (ngx_msec_t) NGX_ERROR
        || connect == 0 || request == 0 || connect > 3600000 || request > 3600000)
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid value \"%V %V\" in \"%V\" directive, it must be two "
                           "times from 1ms to 1h (connect, whole request; e.g. \"2s 10s\")",
                           &value[1], &value[2], &cmd->name);
        return NGX_CONF_ERROR;
    }

    hlcf->remote.connect_timeout = connect;
    hlcf->remote.timeout = request;

    return NGX_CONF_OK;
}


static void *
ngx_http_hls_create_main_conf(ngx_conf_t *cf)
{
    ngx_http_hls_main_conf_t  *mcf;

    mcf = ngx_pcalloc(cf->pool, sizeof(ngx_http_hls_main_conf_t));
    if (mcf == NULL) {
        return NULL;
    }

    if (ngx_array_init(&mcf->settings, cf->pool, 4, sizeof(ngx_http_hls_settings_t))
        != NGX_OK)
    {
        return NULL;
    }

    return mcf;
}


static void *
ngx_http_hls_create_loc_conf(ngx_conf_t *cf)
{
    ngx_http_hls_loc_conf_t  *conf;

    conf = ngx_pcalloc(cf->pool, sizeof(ngx_http_hls_loc_conf_t));
    if (conf == NULL) {
        return NULL;
    }

    conf->enable = NGX_CONF_UNSET;
    conf->stats = NGX_CONF_UNSET;
    conf->settings.segment_duration = NGX_CONF_UNSET_MSEC;
    conf->settings.cache_size = NGX_CONF_UNSET;
    conf->settings.max_index = NGX_CONF_UNSET;
    conf->settings.source_cache = NGX_CONF_UNSET;
    conf->settings.transcode = NGX_CONF_UNSET_UINT;
    conf->settings.idle_count = NGX_CONF_UNSET_UINT;
    conf->settings.idle_time = NGX_CONF_UNSET_MSEC;
    conf->settings.container_index = NGX_CONF_UNSET;
    conf->settings.aac_bitrate = NGX_CONF_UNSET_UINT;
    conf->settings.aac_surround = NGX_CONF_UNSET;
    conf->settings.thumbnail_width = NGX_CONF_UNSET_UINT;
    conf->settings.thumbnail_interval = NGX_CONF_UNSET_MSEC;
    conf->thread_pool = NGX_CONF_UNSET_PTR;
    /* transcode_pool_name: unset (data NULL); transcode_pool: NULL */
    conf->cors = NGX_CONF_UNSET;
    conf->file_ranges = NGX_CONF_UNSET;
    conf->file_range_min = NGX_CONF_UNSET_SIZE;
    conf->small_ranges_cache = NGX_CONF_UNSET;
    conf->encryption = NGX_CONF_UNSET_UINT;
    /* remote.url: zeroed (local files) */
    conf->remote.validate = NGX_CONF_UNSET_MSEC;
    conf->remote.connect_timeout = NGX_CONF_UNSET_MSEC;
    conf->remote.timeout = NGX_CONF_UNSET_MSEC;

    return conf;
}


static ngx_int_t
ngx_http_hls_settings_equal(ngx_http_hls_settings_t *a, ngx_http_hls_settings_t *b)
{
    return a->segment_duration == b->segment_duration
           && a->cache_size == b->cache_size
           && a->max_index == b->max_index
           && a->source_cache == b->source_cache
           && a->transcode == b->transcode
           && a->idle_count == b->idle_count
           && a->idle_time == b->idle_time
           && a->container_index == b->container_index
           && a->aac_bitrate == b->aac_bitrate
           && a->aac_surround == b->aac_surround
           && a->thumbnail_width == b->thumbnail_width
           && a->thumbnail_interval == b->thumbnail_interval
           && a->index_dir.len == b->index_dir.len
           && ngx_strncmp(a->index_dir.data, b->index_dir.data, a->index_dir.len) == 0;
}


static char *
ngx_http_hls_merge_loc_conf(ngx_conf_t *cf, void *parent, void *child)
{
    ngx_http_hls_loc_conf_t *prev = parent;
    ngx_http_hls_loc_conf_t *conf = child;

    HlsStatus                  status;
    HlsConfig                 *config;
    ngx_uint_t                 i;
    const char                *what;
    ngx_http_hls_settings_t   *s;
    ngx_http_hls_main_conf_t  *mcf;
    ngx_http_core_loc_conf_t  *clcf;

    /* "hls" itself is not inherited: it sets the location's content handler, which nested
     * locations do not inherit either */
    if (conf->enable == NGX_CONF_UNSET) {
        conf->enable = 0;
    }

    if (conf->stats == NGX_CONF_UNSET) {
        conf->stats = 0;
    }

    ngx_conf_merge_msec_value(conf->settings.segment_duration,
                              prev->settings.segment_duration,
                              NGX_HTTP_HLS_DEFAULT_SEGMENT);
    ngx_conf_merge_off_value(conf->settings.cache_size, prev->settings.cache_size,
                             NGX_HTTP_HLS_DEFAULT_CACHE);
    ngx_conf_merge_off_value(conf->settings.max_index, prev->settings.max_index,
                             NGX_HTTP_HLS_DEFAULT_MAX_INDEX);
    ngx_conf_merge_off_value(conf->settings.source_cache, prev->settings.source_cache,
                             NGX_HTTP_HLS_DEFAULT_REMOTE_CACHE);
    ngx_conf_merge_uint_value(conf->settings.transcode, prev->settings.transcode,
                              HLS_TRANSCODE_ADD_AAC);

    if (conf->settings.idle_count == NGX_CONF_UNSET_UINT) {
        conf->settings.idle_count = prev->settings.idle_count;
        conf->settings.idle_time = prev->settings.idle_time;
    }
    ngx_conf_merge_uint_value(conf->settings.idle_count, NGX_CONF_UNSET_UINT,
                              NGX_HTTP_HLS_DEFAULT_IDLE);
    ngx_conf_merge_msec_value(conf->settings.idle_time, NGX_CONF_UNSET_MSEC,
                              NGX_HTTP_HLS_DEFAULT_IDLE_TIME);

    ngx_conf_merge_value(conf->settings.container_index, prev->settings.container_index, 1);
    ngx_conf_merge_uint_value(conf->settings.aac_bitrate, prev->settings.aac_bitrate,
                              NGX_HTTP_HLS_DEFAULT_AAC);
    ngx_conf_merge_value(conf->settings.aac_surround, prev->settings.aac_surround, 0);
    ngx_conf_merge_uint_value(conf->settings.thumbnail_width, prev->settings.thumbnail_width,
                              NGX_HTTP_HLS_DEFAULT_THUMB_W);
    ngx_conf_merge_msec_value(conf->settings.thumbnail_interval,
                              prev->settings.thumbnail_interval,
                              NGX_HTTP_HLS_DEFAULT_THUMB_MS);
    ngx_conf_merge_str_value(conf->settings.index_dir, prev->settings.index_dir, "");
    ngx_conf_merge_value(conf->cors, prev->cors, 1);
    ngx_conf_merge_value(conf->file_ranges, prev->file_ranges, 1);
    ngx_conf_merge_size_value(conf->file_range_min, prev->file_range_min, 32 * 1024);
    ngx_conf_merge_value(conf->small_ranges_cache, prev->small_ranges_cache, 1);
    ngx_conf_merge_ptr_value(conf->thread_pool, prev->thread_pool, NULL);
    if (conf->transcode_pool_name.data == NULL) {
        conf->transcode_pool_name = prev->transcode_pool_name;
    }
    ngx_conf_merge_uint_value(conf->encryption, prev->encryption, HLS_ENCRYPTION_NONE);
    ngx_conf_merge_str_value(conf->encryption_key, prev->encryption_key, "");
    ngx_conf_merge_str_value(conf->encryption_key_uri, prev->encryption_key_uri, "");

    /* hls_remote is not inherited (it names the store of this location's URIs) */
    ngx_conf_merge_msec_value(conf->remote.validate, prev->remote.validate,
                              NGX_HTTP_HLS_DEFAULT_VALIDATE);
    if (conf->remote.connect_timeout == NGX_CONF_UNSET_MSEC) {
        conf->remote.connect_timeout = prev->remote.connect_timeout;
        conf->remote.timeout = prev->remote.timeout;
    }
    ngx_conf_merge_msec_value(conf->remote.connect_timeout, NGX_CONF_UNSET_MSEC,
                              NGX_HTTP_HLS_DEFAULT_CONNECT);
    ngx_conf_merge_msec_value(conf->remote.timeout, NGX_CONF_UNSET_MSEC,
                              NGX_HTTP_HLS_DEFAULT_REQUEST);

    if (conf->remote.url.data) {
        clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);

        if (!conf->enable) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "\"hls_remote\" needs \"hls\" in the same location");
            return NGX_CONF_ERROR;
        }

#if (NGX_PCRE)
        if (clcf->regex) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "\"hls_remote\" works in a prefix location only "
                               "(the URI after the location's prefix names the object)");
            return NGX_CONF_ERROR;
        }
#endif

        if (clcf->named) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "\"hls_remote\" works in a prefix location only");
            return NGX_CONF_ERROR;
        }
    }

    if (!conf->enable && !conf->stats) {
        return NGX_CONF_OK;
    }

    if (conf->thread_pool == NULL) {
        /* the "default" pool: made by nginx (32 threads) unless "thread_pool default" sizes it */
        conf->thread_pool = ngx_thread_pool_add(cf, NULL);
        if (conf->thread_pool == NULL) {
            return NGX_CONF_ERROR;
        }
    }

    if (!conf->enable) {
        return NGX_CONF_OK;
    }

    /* transcodes and thumbnails: their own pool (default: "hls_transcode", declared here
     * with one thread per CPU unless a "thread_pool hls_transcode ..." line came first) */
    if (conf->transcode_pool_name.data == NULL) {
        ngx_str_set(&conf->transcode_pool_name, NGX_HTTP_HLS_TRANSCODE_POOL);
    }

    if (conf->transcode_pool_name.len == sizeof(NGX_HTTP_HLS_TRANSCODE_POOL) - 1
        && ngx_strncmp(conf->transcode_pool_name.data, NGX_HTTP_HLS_TRANSCODE_POOL,
                       conf->transcode_pool_name.len) == 0)
    {
        /* the default name, written out or not: declared here unless declared above */
        ngx_str_set(&conf->transcode_pool_name, NGX_HTTP_HLS_TRANSCODE_POOL);
        if (ngx_http_hls_declare_pool(cf, &conf->transcode_pool_name) != NGX_OK) {
            return NGX_CONF_ERROR;
        }
    }

    if (conf->transcode_pool_name.len == 3
        && ngx_strncmp(conf->transcode_pool_name.data, "off", 3) == 0)
    {
        conf->transcode_pool = NULL;

    } else {
        /* a name without its "thread_pool" line fails nginx -t ("unknown thread pool") */
        conf->transcode_pool = ngx_thread_pool_add(cf, &conf->transcode_pool_name);
        if (conf->transcode_pool == NULL) {
            return NGX_CONF_ERROR;
        }

        if (conf->transcode_pool == conf->thread_pool) {
            conf->transcode_pool = NULL;   /* one pool: no second hop */
        }
    }

    /* libhls checks the settings the way the workers will apply them */
    config = ngx_http_hls_make_config(&conf->settings, &what, &status);
    if (config == NULL) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "libhls rejects the %s: %s (%s)",
                           what, hls_status_str(status), hls_last_error_message());
        return NGX_CONF_ERROR;
    }
    hls_config_free(config);

    conf->etag_seed = ngx_http_hls_settings_hash(&conf->settings);

    if (ngx_http_hls_encryption_options(cf, conf) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    mcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_hls_module);

    s = mcf->settings.elts;
    for (i = 0; i < mcf->settings.nelts; i++) {
        if (ngx_http_hls_settings_equal(&s[i], &conf->settings)) {
            conf->context_index = i;
            return NGX_CONF_OK;
        }
    }

    s = ngx_array_push(&mcf->settings);
    if (s == NULL) {
        return NGX_CONF_ERROR;
    }

    *s = conf->settings;
    conf->context_index = mcf->settings.nelts - 1;

    return NGX_CONF_OK;
}


static HlsConfig *
ngx_http_hls_make_config(ngx_http_hls_settings_t *s, const char **what, HlsStatus *status)
{
    HlsConfig  *config;

    *what = "configuration (out of memory)";
    *status = HLS_ERR_INTERNAL;

    config = hls_config_new();
    if (config == NULL) {
        return NULL;
    }

    *status = hls_config_set_segment_duration_ms(config, (uint32_t) s->segment_duration);
    if (*status != HLS_OK) {
        *what = "hls_segment_duration";
        goto failed;
    }

    *status = hls_config_set_cache_bytes(config, (uint64_t) s->cache_size);
    if (*status != HLS_OK) {
        *what = "hls_cache_size";
        goto failed;
    }

    *status = hls_config_set_max_index_bytes(config, (uint64_t) s->max_index);
    if (*status != HLS_OK) {
        *what = "hls_max_index_bytes (at least 4k)";
        goto failed;
    }

    *status = hls_config_set_source_cache_bytes(config, (uint64_t) s->source_cache);
    if (*status != HLS_OK) {
        *what = "hls_remote_cache_size";
        goto failed;
    }

    *status = hls_config_set_transcode_policy(config, (int) s->transcode);
    if (*status != HLS_OK) {
        *what = "hls_transcode";
        goto failed;
    }

    *status = hls_config_set_idle_media(config, (uint32_t) s->idle_count,
                                        (uint64_t) s->idle_time);
    if (*status != HLS_OK) {
        *what = "hls_idle_media";
        goto failed;
    }

    *status = hls_config_set_use_container_index(config, s->container_index ? 1 : 0);
    if (*status != HLS_OK) {
        *what = "hls_container_index";
        goto failed;
    }

    *status = hls_config_set_aac(config, (uint32_t) s->aac_bitrate, s->aac_surround ? 1 : 0);
    if (*status != HLS_OK) {
        *what = "hls_aac_bitrate / hls_aac_surround";
        goto failed;
    }

    *status = hls_config_set_thumbnails(config,
                                        s->thumbnail_width > UINT32_MAX
                                            ? UINT32_MAX : (uint32_t) s->thumbnail_width,
                                        s->thumbnail_interval > UINT32_MAX
                                            ? UINT32_MAX : (uint32_t) s->thumbnail_interval);
    if (*status != HLS_OK) {
        *what = "hls_thumbnail_width / hls_thumbnail_interval";
        goto failed;
    }

    /* index_dir.data is NUL-terminated: "" (off), or ngx_conf_full_name's copy */
    if (s->index_dir.len > 0) {
        *status = hls_config_set_index_dir(config, (const char *) s->index_dir.data);
        if (*status != HLS_OK) {
            *what = "hls_index_dir";
            goto failed;
        }
    }

    return config;

failed:

    hls_config_free(config);
    return NULL;
}


/* libhls's log (and FFmpeg's, through it) goes to the error log of the cycle. Called from any
 * thread: like nginx's own thread pool code, it only formats into a stack buffer and writes. */
static void
ngx_http_hls_log(int level, const char *message, void *userdata)
{
    ngx_log_t  *log = userdata;
    ngx_uint_t  nlevel;

    switch (level) {
    case 1:
        nlevel = NGX_LOG_ERR;
        break;
    case 2:
        nlevel = NGX_LOG_WARN;
        break;
    case 3:
        nlevel = NGX_LOG_INFO;
        break;
    default:
        nlevel = NGX_LOG_DEBUG;
        break;
    }

    ngx_log_error(nlevel, log, 0, "libhls: %s", message);
}


static ngx_int_t
ngx_http_hls_init_process(ngx_cycle_t *cycle)
{
    int                        max_level;
    HlsStatus                  status;
    HlsConfig                 *config;
    ngx_uint_t                 i;
    const char                *what;
    ngx_http_hls_settings_t   *s;
    ngx_http_hls_main_conf_t  *mcf;

    if (ngx_process != NGX_PROCESS_WORKER && ngx_process != NGX_PROCESS_SINGLE) {
        return NGX_OK;                     /* cache manager / loader: no requests */
    }

    if (ngx_get_conf(cycle->conf_ctx, ngx_http_module) == NULL) {
        return NGX_OK;
    }

    mcf = ngx_http_cycle_get_module_main_conf(cycle, ngx_http_hls_module);
    if (mcf == NULL || mcf->settings.nelts == 0) {
        return NGX_OK;
    }

    max_level = cycle->log->log_level >= NGX_LOG_DEBUG ? 5
                : cycle->log->log_level >= NGX_LOG_INFO ? 3 : 2;
    hls_set_log_callback(ngx_http_hls_log, cycle->log, max_level);

    mcf->contexts = ngx_pcalloc(cycle->pool, mcf->settings.nelts * sizeof(HlsContext *));
    if (mcf->contexts == NULL) {
        return NGX_ERROR;
    }

    s = mcf->settings.elts;
    for (i = 0; i < mcf->settings.nelts; i++) {
        config = ngx_http_hls_make_config(&s[i], &what, &status);
        if (config == NULL) {
            ngx_log_error(NGX_LOG_ALERT, cycle->log, 0, "hls: libhls rejects the %s: %s",
                          what, hls_status_str(status));
            continue;
        }

        mcf->contexts[i] = hls_context_new(config);
        hls_config_free(config);

        if (mcf->contexts[i] == NULL) {
            ngx_log_error(NGX_LOG_ALERT, cycle->log, 0, "hls: hls_context_new() failed");
        }
    }

    if (ngx_http_hls_remote_init(cycle->log) != NGX_OK) {
        return NGX_ERROR;
    }

    ngx_log_error(NGX_LOG_INFO, cycle->log, 0, "hls: libhls %s, %ui context(s)",
                  hls_version(), mcf->settings.nelts);

    return NGX_OK;
}


/* Runs after the thread pools' exit_process (core modules come first), which waits for every
 * queued and running task: no libhls call is in flight any more. */
static void
ngx_http_hls_exit_process(ngx_cycle_t *cycle)
{
    ngx_uint_t                 i;
    ngx_http_hls_main_conf_t  *mcf;

    if (ngx_get_conf(cycle->conf_ctx, ngx_http_module) == NULL) {
        return;
    }

    mcf = ngx_http_cycle_get_module_main_conf(cycle, ngx_http_hls_module);
    if (mcf == NULL || mcf->contexts == NULL) {
        return;
    }

    for (i = 0; i < mcf->settings.nelts; i++) {
        hls_context_free(mcf->contexts[i]);
        mcf->contexts[i] = NULL;
    }

    mcf->contexts = NULL;

    ngx_http_hls_remote_exit();

    hls_set_log_callback(NULL, NULL, 0);
}


HlsContext *
ngx_http_hls_context(ngx_http_request_t *r, ngx_http_hls_loc_conf_t *hlcf)
{
    ngx_http_hls_main_conf_t  *mcf;

    mcf = ngx_http_get_module_main_conf(r, ngx_http_hls_module);

    if (mcf->contexts == NULL || hlcf->context_index >= mcf->settings.nelts) {
        return NULL;
    }

    return mcf->contexts[hlcf->context_index];
}


#define NGX_HTTP_HLS_FNV_OFFSET  0xcbf29ce484222325ULL
#define NGX_HTTP_HLS_FNV_PRIME   0x100000001b3ULL

uint64_t
ngx_http_hls_fnv(uint64_t h, const void *data, size_t len)
{
    const u_char  *p = data;

    while (len--) {
        h = (h ^ *p++) * NGX_HTTP_HLS_FNV_PRIME;
    }

    return h;
}


uint64_t
ngx_http_hls_settings_hash(ngx_http_hls_settings_t *s)
{
    u_char     buf[256], *p;
    uint64_t   h;

    /* Text, not struct bytes: the same on every machine and build. Only what changes the
     * bytes served: not the cache, idle or container-index settings. */
    p = ngx_snprintf(buf, sizeof(buf), "ngx_http_hls/1 libhls/%s seg=%M tc=%ui aac=%ui/%i",
                     hls_version(), s->segment_duration, s->transcode, s->aac_bitrate,
                     s->aac_surround);

    /* thumbnails change only the thumbnail names' bytes; written only when not the defaults,
     * so the ETags of every other name stay what they were */
    if (s->thumbnail_width != NGX_HTTP_HLS_DEFAULT_THUMB_W
        || s->thumbnail_interval != NGX_HTTP_HLS_DEFAULT_THUMB_MS)
    {
        p = ngx_snprintf(p, buf + sizeof(buf) - p, " thumb=%ui/%M", s->thumbnail_width,
                         s->thumbnail_interval);
    }

    h = ngx_http_hls_fnv(NGX_HTTP_HLS_FNV_OFFSET, buf, p - buf);

    return h;
}


static void
ngx_http_hls_free_open_options(void *data)
{
    hls_open_options_free(data);
}


/* The location's static key (hls_encryption, hls_encryption_key, hls_encryption_key_uri) as
 * open options, checked by libhls now; NULL when the location serves in the clear. The key and
 * method take part in the ETag seed: encrypted bytes never share a validator with clear ones. */
static ngx_int_t
ngx_http_hls_encryption_options(ngx_conf_t *cf, ngx_http_hls_loc_conf_t *conf)
{
    u_char               key[16];
    u_char              *uri;
    ngx_int_t            hi, lo;
    ngx_uint_t           i;
    HlsStatus            status;
    HlsKeyInfo          *info;
    ngx_pool_cleanup_t  *cln;

    conf->open_options = NULL;

    if (conf->encryption == HLS_ENCRYPTION_NONE) {
        return NGX_OK;
    }

    if (conf->encryption_key.len != 32) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"hls_encryption\" needs \"hls_encryption_key\" "
                           "with 32 hex digits (a 16-byte key)");
        return NGX_ERROR;
    }

    for (i = 0; i < 16; i++) {
        hi = ngx_hextoi(&conf->encryption_key.data[2 * i], 1);
        lo = ngx_hextoi(&conf->encryption_key.data[2 * i + 1], 1);
        if (hi == NGX_ERROR || lo == NGX_ERROR) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "\"hls_encryption_key\" is not 32 hex digits");
            return NGX_ERROR;
        }
        key[i] = (u_char) (hi * 16 + lo);
    }

    if (conf->encryption_key_uri.len == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"hls_encryption\" needs \"hls_encryption_key_uri\" "
                           "(where players fetch the key)");
        return NGX_ERROR;
    }

    uri = ngx_pnalloc(cf->pool, conf->encryption_key_uri.len + 1);
    if (uri == NULL) {
        return NGX_ERROR;
    }
    ngx_memcpy(uri, conf->encryption_key_uri.data, conf->encryption_key_uri.len);
    uri[conf->encryption_key_uri.len] = '\0';

    info = hls_key_info_new();
    conf->open_options = hls_open_options_new();
    if (info == NULL || conf->open_options == NULL) {
        hls_key_info_free(info);
        hls_open_options_free(conf->open_options);
        conf->open_options = NULL;
        return NGX_ERROR;
    }

    status = hls_key_info_set_method(info, (int) conf->encryption);
    if (status == HLS_OK) {
        status = hls_key_info_set_key(info, key);
    }
    if (status == HLS_OK) {
        status = hls_key_info_set_uri(info, (const char *) uri);
    }
    if (status == HLS_OK) {
        status = hls_open_options_set_encryption(conf->open_options, info);
    }
    hls_key_info_free(info);
    ngx_explicit_memzero(key, sizeof(key));

    if (status != HLS_OK) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "libhls rejects the encryption settings: %s",
                           hls_status_str(status));
        hls_open_options_free(conf->open_options);
        conf->open_options = NULL;
        return NGX_ERROR;
    }

    cln = ngx_pool_cleanup_add(cf->pool, 0);
    if (cln == NULL) {
        return NGX_ERROR;
    }
    cln->handler = ngx_http_hls_free_open_options;
    cln->data = conf->open_options;

    conf->etag_seed = ngx_http_hls_fnv(conf->etag_seed, &conf->encryption, sizeof(conf->encryption));
    conf->etag_seed = ngx_http_hls_fnv(conf->etag_seed, conf->encryption_key.data, 32);
    conf->etag_seed = ngx_http_hls_fnv(conf->etag_seed, conf->encryption_key_uri.data,
                                       conf->encryption_key_uri.len);

    return NGX_OK;
}
