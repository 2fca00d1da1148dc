/*
 * hls-serve: a small multi-threaded HTTP/1.1 server for the HLS presentations of a media tree.
 *
 *   hls-serve [--port P] [--bind ADDR] [--threads N] [--idle-timeout S] [--hlsjs PATH]
 *             [--print-url FILE]... [--quiet] <media-root>
 *
 * GET/HEAD /<file path relative to root>/<name>, e.g. /movies/a.mp4/master.m3u8, opens
 * <root>/movies/a.mp4 (hls_open per request; libhls caches opened media) and answers
 * hls_get_parts_ex(media, "master.m3u8"): segments go out as their headers and ranges of the
 * source file (sendfile), everything else as bytes, and so do segments whose ranges average
 * under 32 KB (hls_get: a sendfile per sample costs more than one copy). The URL path is percent-decoded and split
 * after the component that names a regular file; anything that could leave the root ("..", ".", empty segments,
 * backslashes, NUL, symlinks pointing outside) is refused. "/" and "/index.html?src=URL" serve a
 * tiny player page; "/hls.js" serves the file given with --hlsjs.
 *
 * One HlsContext for the process; N worker threads (default 8) take accepted sockets from a
 * bounded queue and serve them with keep-alive (idle timeout --idle-timeout, default 5 s).
 * Requests are bounded to 8 KiB; slow clients are cut off by SO_RCVTIMEO/SO_SNDTIMEO and a
 * header deadline. SIGINT/SIGTERM: stop accepting, finish in-flight requests, exit 0.
 */
#define _GNU_SOURCE /* sendfile(2) */

#include "hls.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#define MAX_REQUEST 8192          /* request line + headers */
#define QUEUE_CAP 1024            /* accepted sockets waiting for a worker */
#define MAX_THREADS 256
#define HEADER_TIMEOUT_MS 10000   /* whole request head must arrive within this */
#define SEND_TIMEOUT_S 30
#define STOP_GRACE_MS 1000        /* on shutdown, for requests already under way */
#define TICK_MS 100
#define MIN_FILE_PART 32768       /* smaller average ranges: send the segment as bytes */

/* ---------------------------------------------------------------------------------------------
 * Global state
 */
static struct {
    HlsContext *ctx;
    char *root;            /* realpath of the media root */
    size_t root_len;       /* strlen(root), but 0 for "/": a path is under it iff it starts with
                              root[0..root_len) followed by '/' */
    char *index_html;      /* player page */
    size_t index_len;
    char *hlsjs;           /* contents of --hlsjs, or NULL */
    size_t hlsjs_len;
    int idle_timeout_ms;
    int quiet;
    const char *remote; /* --remote URL prefix (media read from an HTTP store), or NULL */
} g;

static atomic_int g_stopping;
static int g_sig_pipe[2] = {-1, -1};

static pthread_mutex_t q_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t q_cv = PTHREAD_COND_INITIALIZER;
static int q_fds[QUEUE_CAP];
static size_t q_head, q_len;
static int q_shutdown;
static atomic_size_t q_waiting; /* q_len, readable without the lock */

static int64_t now_us(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static int64_t now_ms(void) { return now_us() / 1000; }

/* ---------------------------------------------------------------------------------------------
 * Player page
 */
static const char PAGE_HEAD[] =
    "<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>hls-serve</title>\n"
    "<style>body{font-family:sans-serif;margin:1em}video{max-width:100%;background:#000}"
    "input{width:40em}</style>\n";
static const char PAGE_SCRIPT_TAG[] = "<script src=\"/hls.js\"></script>\n";
static const char PAGE_BODY[] =
    "</head><body>\n"
    "<form><input name=\"src\" placeholder=\"/path/to/file.mp4/master.m3u8\"> "
    "<button>Play</button></form>\n<p id=\"msg\"></p>\n"
    "<video id=\"v\" controls width=\"960\"></video>\n"
    "<script>\n"
    "var src = new URLSearchParams(location.search).get('src');\n"
    "var v = document.getElementById('v'), msg = document.getElementById('msg');\n"
    "if (src) {\n"
    "  document.querySelector('input[name=src]').value = src;\n"
    "  if (window.Hls && Hls.isSupported()) {\n"
    "    var hls = new Hls(); hls.loadSource(src); hls.attachMedia(v);\n"
    "    hls.on(Hls.Events.ERROR, function (e, d) {\n"
    "      msg.textContent = 'hls.js: ' + d.type + ' ' + d.details + (d.fatal ? ' (fatal)' : '');\n"
    "    });\n"
    "  } else if (v.canPlayType('application/vnd.apple.mpegurl')) {\n"
    "    v.src = src;\n"
    "  } else {\n"
    "    msg.textContent = 'This browser has no native HLS; start hls-serve with --hlsjs hls.min.js';\n"
    "  }\n"
    "}\n"
    "</script>\n</body></html>\n";

static int build_index_page(int with_hlsjs) {
    size_t n = strlen(PAGE_HEAD) + strlen(PAGE_SCRIPT_TAG) + strlen(PAGE_BODY) + 1;
    g.index_html = malloc(n);
    if (!g.index_html) return -1;
    snprintf(g.index_html, n, "%s%s%s", PAGE_HEAD, with_hlsjs ? PAGE_SCRIPT_TAG : "", PAGE_BODY);
    g.index_len = strlen(g.index_html);
    return 0;
}

static int read_whole_file(const char *path, char **data, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return -1;
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap);
    while (buf) {
        size_t r = fread(buf + n, 1, cap - n, f);
        n += r;
        if (r == 0) break;
        if (n == cap) {
            char *nb = realloc(buf, cap * 2);
            if (!nb) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = nb;
            cap *= 2;
        }
    }
    int bad = ferror(f) || !buf;
    fclose(f);
    if (bad) {
        free(buf);
        errno = EIO;
        return -1;
    }
    *data = buf;
    *len = n;
    return 0;
}

/* ---------------------------------------------------------------------------------------------
 * Responses
 */
static const char *reason(int status) {
    switch (status) {
    case 200: return "OK";
    case 400: return "Bad Request";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 414: return "URI Too Long";
    case 415: return "Unsupported Media Type";
    case 422: return "Unprocessable Content";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 503: return "Service Unavailable";
    case 505: return "HTTP Version Not Supported";
    default: return "Unknown";
    }
}

/* Sends every byte of the iovecs (MSG_MORE: more follows); returns 0, or -1 (peer gone /
 * SO_SNDTIMEO expired). */
static int send_iov_flags(int fd, struct iovec *iov, int iovcnt, int flags) {
    while (iovcnt > 0) {
        struct msghdr msg = {.msg_iov = iov, .msg_iovlen = (size_t)iovcnt};
        ssize_t w = sendmsg(fd, &msg, MSG_NOSIGNAL | flags);
        if (w < 0) {
            if (errno == EINTR) continue;
            return -1;
        }
        size_t left = (size_t)w;
        while (iovcnt > 0 && left >= iov->iov_len) {
            left -= iov->iov_len;
            iov++;
            iovcnt--;
        }
        if (iovcnt > 0) {
            iov->iov_base = (char *)iov->iov_base + left;
            iov->iov_len -= left;
        }
    }
    return 0;
}

static int send_iov(int fd, struct iovec *iov, int iovcnt) { return send_iov_flags(fd, iov, iovcnt, 0); }

/* Sends `len` bytes of `file` from `offset`: sendfile(2), or pread + send where the file
 * system refuses sendfile. Returns 0, or -1 (peer gone / SO_SNDTIMEO expired / read error). */
static int send_file_range(int fd, int file, uint64_t offset, uint64_t len, int more) {
    off_t off = (off_t)offset;
    while (len > 0) {
        ssize_t w = sendfile(fd, file, &off, len > (1u << 30) ? (1u << 30) : (size_t)len);
        if (w > 0) {
            len -= (uint64_t)w;
            continue;
        }
        if (w < 0 && errno == EINTR) continue;
        if (w == 0 || (errno != EINVAL && errno != ENOSYS)) return -1; /* truncated file, peer gone */
        char buf[65536];
        size_t n = len < sizeof buf ? (size_t)len : sizeof buf;
        ssize_t r = pread(file, buf, n, off);
        if (r <= 0) return -1;
        struct iovec iov = {buf, (size_t)r};
        if (send_iov_flags(fd, &iov, 1, more || len > (uint64_t)r ? MSG_MORE : 0) != 0) return -1;
        off += r;
        len -= (uint64_t)r;
    }
    return 0;
}

typedef struct {
    int status;
    const char *content_type;
    const char *cache_control;
    const void *body;
    size_t body_len;
    const char *extra_headers; /* "Name: value\r\n..." or NULL */
    const HlsParts *parts;     /* the body as parts instead of body/body_len, or NULL */
} Response;

/* Returns -1 if the peer is gone, else 1 if the response said keep-alive, 0 if it said close
 * (keep-alive is dropped once shutdown started). */
static int send_response(int fd, const Response *r, int head_only, int keep_alive) {
    keep_alive = keep_alive && !atomic_load(&g_stopping);
    char date[64];
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(date, sizeof date, "%a, %d %b %Y %H:%M:%S GMT", &tm);
    char hdr[1024];
    int n = snprintf(hdr, sizeof hdr,
                     "HTTP/1.1 %d %s\r\n"
                     "Date: %s\r\n"
                     "Server: hls-serve\r\n"
                     "Content-Type: %s\r\n"
                     "Content-Length: %zu\r\n"
                     "Access-Control-Allow-Origin: *\r\n"
                     "Cache-Control: %s\r\n"
                     "%s"
                     "Connection: %s\r\n"
                     "\r\n",
                     r->status, reason(r->status), date, r->content_type,
                     r->parts ? (size_t)r->parts->len : r->body_len,
                     r->cache_control, r->extra_headers ? r->extra_headers : "",
                     keep_alive ? "keep-alive" : "close");
    if (n < 0 || (size_t)n >= sizeof hdr) return -1;
    if (r->parts && !head_only) {
        /* the head, then each part: bytes with sendmsg, file ranges with sendfile */
        struct iovec head = {hdr, (size_t)n};
        if (send_iov_flags(fd, &head, 1, MSG_MORE) != 0) return -1;
        for (size_t i = 0; i < r->parts->count; i++) {
            const HlsPart *part = &r->parts->parts[i];
            int more = i + 1 < r->parts->count;
            if (part->kind == HLS_PART_FILE) {
                if (send_file_range(fd, r->parts->fd, part->offset, part->len, more) != 0) return -1;
            } else if (part->len) {
                struct iovec iov = {(void *)part->data, (size_t)part->len};
                if (send_iov_flags(fd, &iov, 1, more ? MSG_MORE : 0) != 0) return -1;
            }
        }
        return keep_alive;
    }
    struct iovec iov[2] = {{hdr, (size_t)n}, {(void *)r->body, head_only ? 0 : r->body_len}};
    if (send_iov(fd, iov, head_only || r->body_len == 0 ? 1 : 2) != 0) return -1;
    return keep_alive;
}

/* A text/plain response (errors); returns like send_response. */
static int send_text(int fd, int status, const char *text, int head_only, int keep_alive,
                     const char *extra_headers) {
    Response r = {status, "text/plain; charset=utf-8", "no-store", text, strlen(text), extra_headers, NULL};
    return send_response(fd, &r, head_only, keep_alive);
}

/* What was answered, for the access log. */
typedef struct {
    int status;
    size_t bytes;
} Outcome;

static int reply_text(int fd, Outcome *out, int status, const char *text, int head_only, int keep_alive,
                      const char *extra_headers) {
    out->status = status;
    out->bytes = strlen(text);
    return send_text(fd, status, text, head_only, keep_alive, extra_headers);
}

/* ---------------------------------------------------------------------------------------------
 * Connections
 */
typedef struct {
    int fd;
    char peer[INET6_ADDRSTRLEN + 8];
    size_t len;                  /* bytes in buf */
    char buf[MAX_REQUEST + 1];   /* received, not yet consumed */
    char head[MAX_REQUEST + 1];  /* current request head, NUL-terminated */
} Conn;

enum { RD_OK, RD_CLOSE, RD_TIMEOUT, RD_TOO_LARGE };

/* Index just past the blank line ending the head in buf[0..len), or 0 if not there yet. */
static size_t find_head_end(const char *buf, size_t len, size_t from) {
    for (size_t i = from; i < len; i++) {
        if (buf[i] != '\n') continue;
        size_t j = i + 1;
        if (j < len && buf[j] == '\r') j++;
        if (j < len && buf[j] == '\n') return j + 1;
    }
    return 0;
}

/* Reads one request head into c->head (pipelined bytes stay in c->buf). */
static int read_request(Conn *c, int first, size_t *head_len) {
    int64_t start = now_ms();
    int64_t deadline = start + (first ? HEADER_TIMEOUT_MS : g.idle_timeout_ms);
    int got_byte = c->len > 0;
    if (got_byte) deadline = start + HEADER_TIMEOUT_MS;
    size_t scanned = 0;
    int stop_seen = 0;
    for (;;) {
        /* Leading empty lines before a request line are ignored (RFC 9112 2.2). */
        size_t skip = 0;
        while (skip < c->len && (c->buf[skip] == '\r' || c->buf[skip] == '\n')) skip++;
        if (skip) {
            memmove(c->buf, c->buf + skip, c->len - skip);
            c->len -= skip;
            scanned = 0;
        }
        size_t end = find_head_end(c->buf, c->len, scanned);
        if (end) {
            memcpy(c->head, c->buf, end);
            c->head[end] = '\0';
            memmove(c->buf, c->buf + end, c->len - end);
            c->len -= end;
            *head_len = end;
            return RD_OK;
        }
        scanned = c->len > 3 ? c->len - 3 : 0;
        if (c->len >= MAX_REQUEST) return RD_TOO_LARGE;
        int64_t now = now_ms();
        if (atomic_load(&g_stopping) && !stop_seen) {
            /* Shutting down: a request already under way gets a short grace period. */
            stop_seen = 1;
            if (deadline > now + STOP_GRACE_MS) deadline = now + STOP_GRACE_MS;
        }
        if (c->len == 0) {
            if (atomic_load(&g_stopping)) {
                /* Shutting down: only a request that is already waiting is still served. */
                struct pollfd p = {c->fd, POLLIN, 0};
                if (poll(&p, 1, 0) <= 0) return RD_CLOSE;
            }
            /* Free this worker for queued connections if the keep-alive client is idle. */
            if (!first && now - start >= TICK_MS && atomic_load(&q_waiting) > 0) return RD_CLOSE;
        }
        if (now >= deadline) return c->len == 0 ? RD_CLOSE : RD_TIMEOUT;
        int wait = (int)(deadline - now < TICK_MS ? deadline - now : TICK_MS);
        struct pollfd p = {c->fd, POLLIN, 0};
        int pr = poll(&p, 1, wait);
        if (pr < 0 && errno != EINTR) return RD_CLOSE;
        if (pr <= 0) continue;
        ssize_t r = recv(c->fd, c->buf + c->len, MAX_REQUEST - c->len, 0);
        if (r == 0) return RD_CLOSE;
        if (r < 0) {
            if (errno == EINTR) continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK) return c->len ? RD_TIMEOUT : RD_CLOSE;
            return RD_CLOSE;
        }
        c->len += (size_t)r;
        if (!got_byte) {
            got_byte = 1;
            if (!stop_seen) deadline = now_ms() + HEADER_TIMEOUT_MS;
        }
    }
}

typedef struct {
    const char *method;
    char *target;
    int minor;       /* HTTP/1.<minor> */
    int keep_alive;
} Request;

static int token_in_list(const char *list, const char *token) {
    size_t tl = strlen(token);
    const char *p = list;
    while (*p) {
        while (*p == ' ' || *p == '\t' || *p == ',') p++;
        const char *s = p;
        while (*p && *p != ',') p++;
        const char *e = p;
        while (e > s && (e[-1] == ' ' || e[-1] == '\t')) e--;
        if ((size_t)(e - s) == tl && strncasecmp(s, token, tl) == 0) return 1;
    }
    return 0;
}

/* Parses c->head in place. Returns 0 or an HTTP error status. */
static int parse_request(char *head, Request *rq) {
    memset(rq, 0, sizeof *rq);
    char *line = head;
    char *nl = strchr(line, '\n');
    if (!nl) return 400;
    *nl = '\0';
    if (nl > line && nl[-1] == '\r') nl[-1] = '\0';
    char *rest = nl + 1;

    /* request-line = method SP request-target SP HTTP-version (exactly one space each) */
    char *method = line;
    char *target = strchr(method, ' ');
    if (!target) return 400;
    *target++ = '\0';
    char *version = strchr(target, ' ');
    if (!version) return 400;
    *version++ = '\0';
    if (!*method || !*target || strchr(version, ' ')) return 400;
    for (const char *p = method; *p; p++)
        if (*p < 'A' || *p > 'Z') return 400;
    for (const unsigned char *p = (const unsigned char *)target; *p; p++)
        if (*p <= 0x20 || *p == 0x7f) return 400;
    if (strncmp(version, "HTTP/1.", 7) != 0 || (version[7] != '0' && version[7] != '1') || version[8])
        return strncmp(version, "HTTP/", 5) == 0 ? 505 : 400;
    rq->method = method;
    rq->target = target;
    rq->minor = version[7] - '0';
    int close_req = 0, keep_req = 0, has_body = 0;

    while (*rest) {
        nl = strchr(rest, '\n');
        if (!nl) break;
        *nl = '\0';
        if (nl > rest && nl[-1] == '\r') nl[-1] = '\0';
        char *h = rest;
        rest = nl + 1;
        if (*h == '\0') break; /* blank line: end of head */
        if (*h == ' ' || *h == '\t') return 400; /* obsolete line folding */
        char *colon = strchr(h, ':');
        if (!colon || colon == h) return 400;
        *colon = '\0';
        char *v = colon + 1;
        while (*v == ' ' || *v == '\t') v++;
        if (strcasecmp(h, "Connection") == 0) {
            if (token_in_list(v, "close")) close_req = 1;
            if (token_in_list(v, "keep-alive")) keep_req = 1;
        } else if (strcasecmp(h, "Content-Length") == 0) {
            if (strcmp(v, "0") != 0) has_body = 1;
        } else if (strcasecmp(h, "Transfer-Encoding") == 0) {
            has_body = 1;
        }
    }
    rq->keep_alive = rq->minor == 1 ? !close_req : keep_req;
    /* We never read request bodies: answer, then close, so the body is never taken as a request. */
    if (has_body) rq->keep_alive = 0;
    return 0;
}

static int hexval(int ch) {
    if (ch >= '0' && ch <= '9') return ch - '0';
    if (ch >= 'a' && ch <= 'f') return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F') return ch - 'A' + 10;
    return -1;
}

/* Percent-decodes src[0..n) into dst (size >= n + 1). Returns 0, or 400 on a bad escape / NUL /
 * control character / backslash. */
static int percent_decode(const char *src, size_t n, char *dst) {
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        int ch = (unsigned char)src[i];
        if (ch == '%') {
            int hi = i + 1 < n ? hexval((unsigned char)src[i + 1]) : -1;
            int lo = i + 2 < n ? hexval((unsigned char)src[i + 2]) : -1;
            if (hi < 0 || lo < 0) return 400;
            ch = hi * 16 + lo;
            i += 2;
        }
        if (ch < 0x20 || ch == 0x7f || ch == '\\') return 400;
        dst[o++] = (char)ch;
    }
    dst[o] = '\0';
    return 0;
}

static const char *status_name_or_empty(HlsStatus st) {
    const char *s = hls_status_str(st);
    return s ? s : "?";
}

static int http_status_for(HlsStatus st) {
    switch (st) {
    case HLS_ERR_NOT_FOUND:
    case HLS_ERR_IO:
        return 404;
    case HLS_ERR_INVALID_MEDIA:
    case HLS_ERR_NO_PLAYABLE_TRACKS:
        return 422;
    case HLS_ERR_UNSUPPORTED:
        return 415;
    case HLS_ERR_INVALID_ARGUMENT:
    case HLS_ERR_INVALID_UTF8:
        return 400;
    default:
        return 500;
    }
}

/* Sends the error response for a libhls failure: "<STATUS>: <message>\n". */
static int send_hls_error(int fd, HlsStatus st, const char *msg, int head_only, int keep_alive,
                          Outcome *out) {
    char body[2048];
    snprintf(body, sizeof body, "%s: %s\n", status_name_or_empty(st), msg && *msg ? msg : "(no message)");
    out->status = http_status_for(st);
    out->bytes = strlen(body);
    if (out->status == 500) fprintf(stderr, "hls-serve: %s", body);
    return send_text(fd, out->status, body, head_only, keep_alive, NULL);
}

/* Answers `name` of an opened media: as parts (headers and ranges of the source file, sent with
 * sendfile) or as bytes. */
static int serve_from_media(int fd, HlsMedia *media, const char *name, int head_only, int keep_alive,
                            Outcome *out) {
    int rc;
    HlsError *err = NULL;
    HlsStatus st;
    /* The response as parts: a segment whose samples are copied verbatim is its headers and
     * ranges of the source file, sent with sendfile(2) from the descriptor libhls holds (never
     * closed here); everything else is one bytes part. */
    HlsParts parts = {0};
    err = NULL;
    st = hls_get_parts_ex(media, name, &parts, &err);
    if (st != HLS_OK) {
        rc = send_hls_error(fd, st, err ? hls_error_message(err) : hls_last_error_message(), head_only,
                            keep_alive, out);
        hls_error_free(err);
        return rc;
    }
    hls_error_free(err);
    /* Each range costs a sendfile call: samples interleaved one by one (ranges of a few KB)
     * are cheaper copied once, so such a segment is taken as bytes (hls_get caches them). */
    uint64_t file_bytes = 0, file_parts = 0;
    for (size_t i = 0; i < parts.count; i++)
        if (parts.parts[i].kind == HLS_PART_FILE) {
            file_parts++;
            file_bytes += parts.parts[i].len;
        }
    HlsBuffer buf = {0};
    if (file_parts && file_bytes < file_parts * MIN_FILE_PART) {
        hls_free_parts(&parts);
        err = NULL;
        st = hls_get_ex(media, name, &buf, &err);
        if (st != HLS_OK) {
            rc = send_hls_error(fd, st, err ? hls_error_message(err) : hls_last_error_message(), head_only,
                                keep_alive, out);
            hls_error_free(err);
            return rc;
        }
    }
    const char *ctype = buf.data ? buf.content_type : parts.content_type;
    size_t nlen = strlen(name);
    int playlist = strcmp(ctype, "application/vnd.apple.mpegurl") == 0 ||
                   (nlen >= 5 && strcmp(name + nlen - 5, ".m3u8") == 0);
    Response r = {200, ctype, playlist ? "max-age=60" : "max-age=86400", buf.data, buf.len, NULL,
                  buf.data ? NULL : &parts};
    out->status = 200;
    out->bytes = buf.data ? buf.len : (size_t)parts.len;
    rc = send_response(fd, &r, head_only, keep_alive);
    hls_free_parts(&parts);
    hls_free_buffer(&buf);

    return rc;
}

#ifdef HLS_SERVE_CURL
/* ---------------------------------------------------------------------------------------------
 * --remote URL_PREFIX: media read from an HTTP store (S3, MinIO, nginx, ...) through libcurl.
 *
 * GET /<file>/<name> reads URL_PREFIX<file>: one HEAD gives its size, ETag and Last-Modified
 * (the media identity: URL + ETag + Last-Modified, so a replaced object is a new presentation),
 * then libhls reads it through hls_open_source with range requests. Every worker thread keeps
 * one curl easy handle, reused for every request (its connections stay alive). Each range
 * request carries If-Match (the ETag seen at open): an object replaced meanwhile fails with 412
 * instead of mixing versions. Nothing is retried: a failed read fails that request (502).
 */
#include <curl/curl.h>

static pthread_key_t g_curl_key;

static void curl_handle_free(void *h) { curl_easy_cleanup((CURL *)h); }

/* This thread's easy handle (made on first use, freed when the thread exits). */
static CURL *thread_curl(void) {
    CURL *h = pthread_getspecific(g_curl_key);
    if (!h) {
        h = curl_easy_init();
        if (h && pthread_setspecific(g_curl_key, h) != 0) {
            curl_easy_cleanup(h);
            h = NULL;
        }
    }
    if (h) curl_easy_reset(h); /* options only: the connection cache stays */
    return h;
}

/* One object of the store, as hls_open_source's opaque. */
typedef struct {
    char *url;
    char *etag; /* "" when the store sends none */
    char *last_modified;
    uint64_t size;
} RemoteObject;

typedef struct {
    uint8_t *buf;
    size_t cap, len;
    int overflow;
} Sink;

static size_t sink_write(char *data, size_t size, size_t n, void *arg) {
    Sink *s = arg;
    size_t bytes = size * n;
    if (bytes > s->cap - s->len) {
        s->overflow = 1;
        return 0; /* more than asked: abort the transfer */
    }
    memcpy(s->buf + s->len, data, bytes);
    s->len += bytes;
    return bytes;
}

typedef struct {
    char etag[256];
    char last_modified[128];
} HeadInfo;

static void copy_header_value(char *dst, size_t cap, const char *v, size_t n) {
    while (n && (*v == ' ' || *v == '\t')) v++, n--;
    while (n && (v[n - 1] == '\r' || v[n - 1] == '\n' || v[n - 1] == ' ')) n--;
    if (n >= cap) n = cap - 1;
    memcpy(dst, v, n);
    dst[n] = '\0';
}

static size_t head_header(char *line, size_t size, size_t n, void *arg) {
    HeadInfo *h = arg;
    size_t len = size * n;
    if (len > 5 && strncasecmp(line, "ETag:", 5) == 0)
        copy_header_value(h->etag, sizeof h->etag, line + 5, len - 5);
    else if (len > 14 && strncasecmp(line, "Last-Modified:", 14) == 0)
        copy_header_value(h->last_modified, sizeof h->last_modified, line + 14, len - 14);
    return len;
}


/* HlsReadAtFn: one range request. */
static int64_t remote_read_at(void *opaque, uint64_t offset, uint8_t *buf, size_t len, char *err,
                              size_t err_cap) {
    RemoteObject *o = opaque;
    if (offset >= o->size || len == 0) return 0;
    uint64_t last = offset + len - 1;
    if (last >= o->size) last = o->size - 1;
    size_t want = (size_t)(last - offset + 1);
    CURL *h = thread_curl();
    if (!h) {
        snprintf(err, err_cap, "%s: curl_easy_init failed", o->url);
        return -1;
    }
    char range[64], cond[320];
    snprintf(range, sizeof range, "%llu-%llu", (unsigned long long)offset, (unsigned long long)last);
    struct curl_slist *hdrs = NULL;
    if (o->etag[0]) {
        snprintf(cond, sizeof cond, "If-Match: %s", o->etag);
        hdrs = curl_slist_append(hdrs, cond);
    } else if (o->last_modified[0]) {
        snprintf(cond, sizeof cond, "If-Unmodified-Since: %s", o->last_modified);
        hdrs = curl_slist_append(hdrs, cond);
    }
    Sink sink = {buf, want, 0, 0};
    curl_easy_setopt(h, CURLOPT_URL, o->url);
    curl_easy_setopt(h, CURLOPT_RANGE, range);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, sink_write);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &sink);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, 10L);
    curl_easy_setopt(h, CURLOPT_TIMEOUT, 60L);
    CURLcode cc = curl_easy_perform(h);
    long code = 0;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
    curl_slist_free_all(hdrs);
    if (code == 412) {
        snprintf(err, err_cap, "%s: the object changed on the store (HTTP %ld); open it again", o->url, code);
        return -1;
    }
    if (sink.overflow || (cc == CURLE_OK && code != 206)) {
        snprintf(err, err_cap, "%s: range request answered HTTP %ld, not 206", o->url, code);
        return -1;
    }
    if (cc != CURLE_OK) {
        snprintf(err, err_cap, "%s: %s", o->url, curl_easy_strerror(cc));
        return -1;
    }
    if (sink.len != want) {
        snprintf(err, err_cap, "%s: short range response (%zu of %zu bytes)", o->url, sink.len, want);
        return -1;
    }
    return (int64_t)sink.len;
}

static void remote_release(void *opaque) {
    RemoteObject *o = opaque;
    free(o->url);
    free(o->etag);
    free(o->last_modified);
    free(o);
}

/* What a HEAD said of one URL, kept for --remote-ttl seconds (default 5): requests for the names
 * of one file within that time cost the store no HEAD (libhls shares the media opened with the
 * same identity). A replacement within the TTL is caught by If-Match on every range request. */
#define HEAD_CACHE 256
static struct {
    char *url;
    HeadInfo hi;
    curl_off_t size;
    int64_t at_ms;
} g_heads[HEAD_CACHE];
static pthread_mutex_t g_heads_mu = PTHREAD_MUTEX_INITIALIZER;
static int g_head_ttl_ms = 5000;

static size_t url_slot(const char *url) {
    size_t h = 5381;
    for (const unsigned char *p = (const unsigned char *)url; *p; p++) h = h * 33 + *p;
    return h % HEAD_CACHE;
}

static int head_cached(const char *url, HeadInfo *hi, curl_off_t *size) {
    int hit = 0;
    size_t i = url_slot(url);
    pthread_mutex_lock(&g_heads_mu);
    if (g_heads[i].url && strcmp(g_heads[i].url, url) == 0 && now_ms() - g_heads[i].at_ms < g_head_ttl_ms) {
        *hi = g_heads[i].hi;
        *size = g_heads[i].size;
        hit = 1;
    }
    pthread_mutex_unlock(&g_heads_mu);
    return hit;
}

static void head_store(const char *url, const HeadInfo *hi, curl_off_t size) {
    size_t i = url_slot(url);
    char *copy = strdup(url);
    if (!copy) return;
    pthread_mutex_lock(&g_heads_mu);
    free(g_heads[i].url);
    g_heads[i].url = copy;
    g_heads[i].hi = *hi;
    g_heads[i].size = size;
    g_heads[i].at_ms = now_ms();
    pthread_mutex_unlock(&g_heads_mu);
}

/* Opens g.remote + file (file: the still percent-encoded URL path after '/'). Returns an HTTP
 * status (200 = *media opened) and writes a message into msg. */
static int open_remote(const char *file, size_t file_len, HlsMedia **media, char *msg, size_t msg_cap) {
    size_t plen = strlen(g.remote);
    char *url = malloc(plen + file_len + 1);
    if (!url) return 500;
    memcpy(url, g.remote, plen);
    memcpy(url + plen, file, file_len);
    url[plen + file_len] = '\0';
    HeadInfo hi = {"", ""};
    curl_off_t size = -1;
    if (!head_cached(url, &hi, &size)) {
    CURL *h = thread_curl();
    if (!h) {
        free(url);
        return 500;
    }
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, head_header);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, &hi);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, 10L);
    curl_easy_setopt(h, CURLOPT_TIMEOUT, 30L);
    CURLcode cc = curl_easy_perform(h);
    long code = 0;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
    curl_easy_getinfo(h, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &size);
    if (cc != CURLE_OK || code != 200 || size < 0) {
        snprintf(msg, msg_cap, "store: %s: %s (HTTP %ld)\n", url, cc != CURLE_OK ? curl_easy_strerror(cc) : "HEAD failed", code);
        free(url);
        return code == 404 ? 404 : 502;
    }
    head_store(url, &hi, size);
    }
    RemoteObject *o = calloc(1, sizeof *o);
    size_t idlen = strlen(url) + strlen(hi.etag) + strlen(hi.last_modified) + 64;
    char *identity = malloc(idlen);
    if (!o || !identity || !(o->etag = strdup(hi.etag)) || !(o->last_modified = strdup(hi.last_modified))) {
        if (o) {
            free(o->etag);
            free(o);
        }
        free(identity);
        free(url);
        return 500;
    }
    o->url = url;
    o->size = (uint64_t)size;
    snprintf(identity, idlen, "%s etag=%s modified=%s size=%llu", url, hi.etag, hi.last_modified,
             (unsigned long long)o->size);
    HlsSource src = {remote_read_at, remote_release, o, o->size, identity};
    HlsError *err = NULL;
    /* libhls owns o from here: remote_release frees it exactly once. */
    HlsStatus st = hls_open_source(g.ctx, &src, NULL, media, &err);
    free(identity);
    if (st != HLS_OK) {
        snprintf(msg, msg_cap, "%s\n", err ? hls_error_message(err) : hls_status_str(st));
        hls_error_free(err);
        return st == HLS_ERR_IO ? 502 : http_status_for(st);
    }
    return 200;
}

/* Serves /<file>/<name> from the store: <name> is the last component. */
static int serve_remote(int fd, const char *path, int head_only, int keep_alive, Outcome *out) {
    const char *slash = strrchr(path, '/');
    if (!slash || slash == path || !slash[1] || strstr(path, "/../") || strstr(path, "/./") ||
        strstr(path, "//") || strchr(path, '\\')) {
        return reply_text(fd, out, 404, "not found (URLs look like /<file on the store>/master.m3u8)\n", head_only,
                          keep_alive, NULL);
    }
    const char *name = slash + 1;
    if (strchr(name, '%')) return reply_text(fd, out, 404, "not found\n", head_only, keep_alive, NULL);
    HlsMedia *media = NULL;
    char msg[1024];
    int code = open_remote(path + 1, (size_t)(slash - path - 1), &media, msg, sizeof msg);
    if (code != 200) return reply_text(fd, out, code, msg, head_only, keep_alive, NULL);
    int rc = serve_from_media(fd, media, name, head_only, keep_alive, out);
    hls_close(media);
    return rc;
}
#endif /* HLS_SERVE_CURL */

/* Serves /<rel path>/<name> from the media tree. `path` is the raw (still encoded) URL path. */
static int serve_media(int fd, const char *path, int head_only, int keep_alive, Outcome *out) {
#ifdef HLS_SERVE_CURL
    if (g.remote) return serve_remote(fd, path, head_only, keep_alive, out);
#endif
    size_t plen = strlen(path);
    char *dec = malloc(plen + 1);
    char *fs = malloc(g.root_len + plen + 2);
    char *real = NULL;
    HlsMedia *media = NULL;
    int rc;
    if (!dec || !fs) {
        rc = reply_text(fd, out, 500, "out of memory\n", head_only, keep_alive, NULL);
        goto done;
    }
    int bad = percent_decode(path, plen, dec);
    if (bad) {
        rc = reply_text(fd, out, bad, "malformed URL path\n", head_only, keep_alive, NULL);
        goto done;
    }
    /* Every component must be a plain name: no empty segments, "." or "..". */
    for (const char *q = dec; *q; q++) {
        if (*q != '/') continue;
        if (q[1] == '/' || q[1] == '\0' || (q[1] == '.' && (q[2] == '/' || q[2] == '\0')) ||
            (q[1] == '.' && q[2] == '.' && (q[3] == '/' || q[3] == '\0'))) {
            rc = reply_text(fd, out, 404, "not found\n", head_only, keep_alive, NULL);
            goto done;
        }
    }
    /* Walk the components: directories until the first regular file; the rest is the name. */
    memcpy(fs, g.root, g.root_len);
    fs[g.root_len] = '\0';
    size_t fslen = g.root_len;
    const char *p = dec + 1; /* dec starts with '/' */
    const char *name = NULL;
    for (;;) {
        const char *slash = strchr(p, '/');
        size_t clen = slash ? (size_t)(slash - p) : strlen(p);
        if (fslen + 1 + clen >= PATH_MAX) break;
        fs[fslen++] = '/';
        memcpy(fs + fslen, p, clen);
        fslen += clen;
        fs[fslen] = '\0';
        struct stat st;
        if (stat(fs, &st) != 0) break;
        if (S_ISREG(st.st_mode)) {
            if (slash && slash[1]) name = slash + 1;
            break;
        }
        if (!S_ISDIR(st.st_mode) || !slash) break;
        p = slash + 1;
    }
    if (!name) {
        rc = reply_text(fd, out, 404, "not found (URLs look like /<file under the root>/master.m3u8)\n",
                       head_only, keep_alive, NULL);
        goto done;
    }
    real = realpath(fs, NULL);
    if (!real || strncmp(real, g.root, g.root_len) != 0 || real[g.root_len] != '/') {
        rc = reply_text(fd, out, 404, "not found\n", head_only, keep_alive, NULL);
        goto done;
    }

    HlsError *err = NULL;
    HlsStatus st = hls_open_ex(g.ctx, real, &media, &err);
    if (st != HLS_OK) {
        rc = send_hls_error(fd, st, err ? hls_error_message(err) : hls_last_error_message(), head_only,
                            keep_alive, out);
        hls_error_free(err);
        goto done;
    }
    hls_error_free(err);

    rc = serve_from_media(fd, media, name, head_only, keep_alive, out);

done:
    hls_close(media);
    free(real);
    free(fs);
    free(dec);
    return rc;
}

/* Handles one parsed request; returns 1 to keep the connection, 0 to close it. */
static int handle_request(Conn *c, size_t head_len, int64_t t0_us) {
    Request rq;
    Outcome out = {0, 0};
    int bad = memchr(c->head, '\0', head_len) ? 400 : parse_request(c->head, &rq);
    if (bad) {
        char text[64];
        snprintf(text, sizeof text, "%s\n", reason(bad));
        send_text(c->fd, bad, text, 0, 0, NULL);
        if (!g.quiet) fprintf(stderr, "%s \"(malformed request)\" %d\n", c->peer, bad);
        return 0;
    }
    int keep = rq.keep_alive && !atomic_load(&g_stopping);
    int head_only = strcmp(rq.method, "HEAD") == 0;
    int rc;

    /* absolute-form "http://host/path" -> "/path" */
    char *target = rq.target;
    if (strncasecmp(target, "http://", 7) == 0 || strncasecmp(target, "https://", 8) == 0) {
        char *s = strchr(target, ':') + 3;
        s = strchr(s, '/');
        target = s ? s : "/";
    }
    char *query = strpbrk(target, "?#");
    size_t path_len = query ? (size_t)(query - target) : strlen(target);
    char path[MAX_REQUEST + 1];
    memcpy(path, target, path_len);
    path[path_len] = '\0';

    if (strcmp(rq.method, "OPTIONS") == 0) {
        Response r = {200, "text/plain", "max-age=86400", "", 0,
                      "Allow: GET, HEAD, OPTIONS\r\nAccess-Control-Allow-Methods: GET, HEAD, OPTIONS\r\n"
                      "Access-Control-Allow-Headers: Range\r\n", NULL};
        out.status = 200;
        rc = send_response(c->fd, &r, 1, keep);
    } else if (!head_only && strcmp(rq.method, "GET") != 0) {
        rc = reply_text(c->fd, &out, 405, "method not allowed\n", 0, keep, "Allow: GET, HEAD, OPTIONS\r\n");
    } else if (path[0] != '/') {
        keep = 0;
        rc = reply_text(c->fd, &out, 400, "bad request target\n", head_only, keep, NULL);
    } else if (strcmp(path, "/") == 0 || strcmp(path, "/index.html") == 0) {
        Response r = {200, "text/html; charset=utf-8", "no-cache", g.index_html, g.index_len, NULL, NULL};
        out.status = 200;
        out.bytes = g.index_len;
        rc = send_response(c->fd, &r, head_only, keep);
    } else if (strcmp(path, "/hls.js") == 0 && g.hlsjs) {
        Response r = {200, "application/javascript", "max-age=3600", g.hlsjs, g.hlsjs_len, NULL, NULL};
        out.status = 200;
        out.bytes = g.hlsjs_len;
        rc = send_response(c->fd, &r, head_only, keep);
    } else {
        rc = serve_media(c->fd, path, head_only, keep, &out);
    }

    if (!g.quiet) {
        char shown[256];
        size_t i = 0;
        for (const char *q = rq.target; *q && i < sizeof shown - 4; q++)
            shown[i++] = (*q < 0x20 || *q == 0x7f || *q == '"') ? '?' : *q;
        if (rq.target[i]) {
            memcpy(shown + i, "...", 3);
            i += 3;
        }
        shown[i] = '\0';
        fprintf(stderr, "%s \"%s %s\" %d %zu %.2fms\n", c->peer, rq.method, shown, out.status, out.bytes,
                (double)(now_us() - t0_us) / 1000.0);
    }
    return rc == 1;
}

static void serve_connection(Conn *c) {
    for (int first = 1;; first = 0) {
        size_t head_len;
        int r = read_request(c, first, &head_len);
        if (r == RD_CLOSE) return;
        if (r == RD_TOO_LARGE) {
            send_text(c->fd, 431, "request head larger than 8 KiB\n", 0, 0, NULL);
            return;
        }
        if (r == RD_TIMEOUT) {
            send_text(c->fd, 408, "request timeout\n", 0, 0, NULL);
            return;
        }
        if (!handle_request(c, head_len, now_us())) return;
    }
}

static void *worker_main(void *arg) {
    (void)arg;
    Conn *c = malloc(sizeof *c);
    if (!c) {
        fprintf(stderr, "hls-serve: out of memory\n");
        return NULL;
    }
    for (;;) {
        pthread_mutex_lock(&q_mu);
        while (q_len == 0 && !q_shutdown) pthread_cond_wait(&q_cv, &q_mu);
        if (q_len == 0) {
            pthread_mutex_unlock(&q_mu);
            break;
        }
        int fd = q_fds[q_head];
        q_head = (q_head + 1) % QUEUE_CAP;
        q_len--;
        atomic_store(&q_waiting, q_len);
        pthread_mutex_unlock(&q_mu);

        c->fd = fd;
        c->len = 0;
        struct sockaddr_storage ss;
        socklen_t sl = sizeof ss;
        strcpy(c->peer, "-");
        if (getpeername(fd, (struct sockaddr *)&ss, &sl) == 0)
            getnameinfo((struct sockaddr *)&ss, sl, c->peer, sizeof c->peer, NULL, 0, NI_NUMERICHOST);
        serve_connection(c);
        close(fd);
    }
    free(c);
    return NULL;
}

/* ---------------------------------------------------------------------------------------------
 * Start-up
 */
static void on_signal(int sig) {
    (void)sig;
    int saved = errno;
    ssize_t w = write(g_sig_pipe[1], "x", 1);
    (void)w;
    errno = saved;
}

static int set_cloexec_nonblock(int fd, int nonblock) {
    int fl = fcntl(fd, F_GETFD);
    if (fl < 0 || fcntl(fd, F_SETFD, fl | FD_CLOEXEC) < 0) return -1;
    if (nonblock) {
        fl = fcntl(fd, F_GETFL);
        if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0) return -1;
    }
    return 0;
}

static int listen_on(const char *bind_addr, const char *port, char *host_out, size_t host_len) {
    struct addrinfo hints = {0}, *res = NULL;
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    int e = getaddrinfo(bind_addr, port, &hints, &res);
    if (e != 0) {
        fprintf(stderr, "hls-serve: %s: %s\n", bind_addr, gai_strerror(e));
        return -1;
    }
    int fd = -1, err = 0;
    for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
        fd = socket(ai->ai_family, ai->ai_socktype, ai->ai_protocol);
        if (fd < 0) {
            err = errno;
            continue;
        }
        int one = 1;
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        if (bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 && listen(fd, 128) == 0 &&
            set_cloexec_nonblock(fd, 1) == 0)
            break;
        err = errno;
        close(fd);
        fd = -1;
    }
    freeaddrinfo(res);
    if (fd < 0) {
        fprintf(stderr, "hls-serve: cannot listen on %s port %s: %s\n", bind_addr, port, strerror(err));
        return -1;
    }
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    char h[INET6_ADDRSTRLEN], p[16];
    if (getsockname(fd, (struct sockaddr *)&ss, &sl) != 0 ||
        getnameinfo((struct sockaddr *)&ss, sl, h, sizeof h, p, sizeof p, NI_NUMERICHOST | NI_NUMERICSERV) != 0) {
        fprintf(stderr, "hls-serve: getsockname: %s\n", strerror(errno));
        close(fd);
        return -1;
    }
    if (strcmp(h, "0.0.0.0") == 0) snprintf(host_out, host_len, "127.0.0.1:%s", p);
    else if (strcmp(h, "::") == 0) snprintf(host_out, host_len, "[::1]:%s", p);
    else if (strchr(h, ':')) snprintf(host_out, host_len, "[%s]:%s", h, p);
    else snprintf(host_out, host_len, "%s:%s", h, p);
    return fd;
}

/* For --print-url: the percent-encoded path of a regular file under the root (FILE may be
 * relative to the root or to the working directory), or NULL after printing why not. */
static char *url_path_of(const char *file) {
    char *real = realpath(file, NULL);
    int under = real && strncmp(real, g.root, g.root_len) == 0 && real[g.root_len] == '/';
    if (!under) {
        free(real);
        size_t n = g.root_len + strlen(file) + 2;
        char *joined = malloc(n);
        if (!joined) return NULL;
        snprintf(joined, n, "%.*s/%s", (int)g.root_len, g.root, file);
        real = realpath(joined, NULL);
        free(joined);
        under = real && strncmp(real, g.root, g.root_len) == 0 && real[g.root_len] == '/';
    }
    struct stat st;
    if (!under || stat(real, &st) != 0 || !S_ISREG(st.st_mode)) {
        fprintf(stderr, "hls-serve: --print-url %s: not a regular file under %s\n", file,
                g.root_len ? g.root : "/");
        free(real);
        return NULL;
    }
    const char *rel = real + g.root_len + 1;
    char *enc = malloc(strlen(rel) * 3 + 1), *o = enc;
    if (enc) {
        for (const unsigned char *q = (const unsigned char *)rel; *q; q++) {
            if ((*q >= 'A' && *q <= 'Z') || (*q >= 'a' && *q <= 'z') || (*q >= '0' && *q <= '9') ||
                strchr("-._~/", *q))
                *o++ = (char)*q;
            else
                o += sprintf(o, "%%%02X", *q);
        }
        *o = '\0';
    }
    free(real);
    return enc;
}

static void usage(void) {
    fprintf(stderr,
            "usage: hls-serve [--port P] [--bind ADDR] [--threads N] [--idle-timeout S]\n"
            "                 [--hlsjs PATH] [--print-url FILE]... [--quiet] <media-root>\n"
            "       hls-serve [options] [--remote-ttl S] --remote http://store/bucket/   (media read from an HTTP store)\n");
}

int main(int argc, char **argv) {
    const char *port = "8080", *bind_addr = "127.0.0.1", *hlsjs_path = NULL, *root_arg = NULL;
    const char **print_files = calloc((size_t)argc, sizeof *print_files);
    char **url_paths = calloc((size_t)argc, sizeof *url_paths);
    int nprint = 0, nthreads = 8;
    g.idle_timeout_ms = 5000;
    if (!print_files || !url_paths) return 1;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        char *end = NULL;
        if (strcmp(a, "--port") == 0 && v) {
            long n = strtol(v, &end, 10);
            if (*end || n < 0 || n > 65535) goto bad_usage;
            port = v;
            i++;
        } else if (strcmp(a, "--bind") == 0 && v) {
            bind_addr = v;
            i++;
        } else if (strcmp(a, "--threads") == 0 && v) {
            long n = strtol(v, &end, 10);
            if (*end || n < 1 || n > MAX_THREADS) goto bad_usage;
            nthreads = (int)n;
            i++;
        } else if (strcmp(a, "--idle-timeout") == 0 && v) {
            long n = strtol(v, &end, 10);
            if (*end || n < 1 || n > 3600) goto bad_usage;
            g.idle_timeout_ms = (int)n * 1000;
            i++;
        } else if (strcmp(a, "--hlsjs") == 0 && v) {
            hlsjs_path = v;
            i++;
        } else if (strcmp(a, "--print-url") == 0 && v) {
            print_files[nprint++] = v;
            i++;
        } else if (strcmp(a, "--remote") == 0 && v) {
#ifdef HLS_SERVE_CURL
            g.remote = v;
            i++;
        } else if (strcmp(a, "--remote-ttl") == 0 && v) {
            long n = strtol(v, &end, 10);
            if (*end || n < 0 || n > 3600) goto bad_usage;
            g_head_ttl_ms = (int)n * 1000;
            i++;
#else
            fprintf(stderr, "hls-serve: built without libcurl: --remote is not available\n");
            goto bad_usage;
#endif
        } else if (strcmp(a, "--quiet") == 0) {
            g.quiet = 1;
        } else if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            usage();
            free(url_paths);
            free(print_files);
            return 0;
        } else if (a[0] == '-' || root_arg) {
            goto bad_usage;
        } else {
            root_arg = a;
        }
    }
#ifdef HLS_SERVE_CURL
    if (g.remote) {
        if (curl_global_init(CURL_GLOBAL_DEFAULT) != 0 || pthread_key_create(&g_curl_key, curl_handle_free) != 0) {
            fprintf(stderr, "hls-serve: libcurl initialisation failed\n");
            return 1;
        }
        if (!root_arg) root_arg = "/"; /* the local tree is not used */
    }
#endif
    if (!root_arg) goto bad_usage;

    int rc = 1, lfd = -1, nstarted = 0;
    pthread_t tids[MAX_THREADS];
    g.root = realpath(root_arg, NULL);
    struct stat st;
    if (!g.root || stat(g.root, &st) != 0 || !S_ISDIR(st.st_mode)) {
        fprintf(stderr, "hls-serve: %s: not a directory\n", root_arg);
        goto out;
    }
    g.root_len = strlen(g.root);
    if (g.root_len == 1) g.root_len = 0; /* root "/" */
    if (hlsjs_path && read_whole_file(hlsjs_path, &g.hlsjs, &g.hlsjs_len) != 0) {
        fprintf(stderr, "hls-serve: --hlsjs %s: %s\n", hlsjs_path, strerror(errno));
        goto out;
    }
    if (build_index_page(g.hlsjs != NULL) != 0) goto out;
    for (int i = 0; i < nprint; i++) {
        url_paths[i] = url_path_of(print_files[i]);
        if (!url_paths[i]) goto out;
    }

    g.ctx = hls_context_new(NULL);
    if (!g.ctx) {
        fprintf(stderr, "hls-serve: hls_context_new failed: %s\n", hls_last_error_message());
        goto out;
    }

    char host[INET6_ADDRSTRLEN + 32];
    lfd = listen_on(bind_addr, port, host, sizeof host);
    if (lfd < 0) goto out;

    if (pipe(g_sig_pipe) != 0 || set_cloexec_nonblock(g_sig_pipe[0], 1) != 0 ||
        set_cloexec_nonblock(g_sig_pipe[1], 1) != 0) {
        fprintf(stderr, "hls-serve: pipe: %s\n", strerror(errno));
        goto out;
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sa.sa_handler = SIG_IGN;
    sigaction(SIGPIPE, &sa, NULL);

    /* Workers block SIGINT/SIGTERM so the handler runs on this (the accepting) thread. */
    sigset_t block, old;
    sigemptyset(&block);
    sigaddset(&block, SIGINT);
    sigaddset(&block, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &block, &old);
    for (; nstarted < nthreads; nstarted++) {
        int e = pthread_create(&tids[nstarted], NULL, worker_main, NULL);
        if (e != 0) {
            fprintf(stderr, "hls-serve: pthread_create: %s\n", strerror(e));
            break;
        }
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (nstarted == 0) goto out;

    setvbuf(stdout, NULL, _IOLBF, 0);
    printf("Serving %s at http://%s/\n", g.root_len ? g.root : "/", host);
    for (int i = 0; i < nprint; i++) {
        printf("  http://%s/%s/master.m3u8\n", host, url_paths[i]);
        printf("  player: http://%s/?src=/%s/master.m3u8\n", host, url_paths[i]);
    }
    fflush(stdout);

    for (;;) {
        struct pollfd pf[2] = {{lfd, POLLIN, 0}, {g_sig_pipe[0], POLLIN, 0}};
        int pr = poll(pf, 2, -1);
        if (pr < 0) {
            if (errno == EINTR) continue;
            fprintf(stderr, "hls-serve: poll: %s\n", strerror(errno));
            break;
        }
        if (pf[1].revents) {
            fprintf(stderr, "hls-serve: signal received, shutting down\n");
            rc = 0;
            break;
        }
        if (!(pf[0].revents & POLLIN)) continue;
        int cfd = accept(lfd, NULL, NULL);
        if (cfd < 0) {
            if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
                fprintf(stderr, "hls-serve: accept: %s\n", strerror(errno));
                poll(NULL, 0, 50);
            }
            continue;
        }
        set_cloexec_nonblock(cfd, 0);
        struct timeval rcv = {HEADER_TIMEOUT_MS / 1000, 0}, snd = {SEND_TIMEOUT_S, 0};
        setsockopt(cfd, SOL_SOCKET, SO_RCVTIMEO, &rcv, sizeof rcv);
        setsockopt(cfd, SOL_SOCKET, SO_SNDTIMEO, &snd, sizeof snd);
        int one = 1;
        setsockopt(cfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        pthread_mutex_lock(&q_mu);
        if (q_len == QUEUE_CAP) {
            pthread_mutex_unlock(&q_mu);
            static const char busy[] = "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n"
                                       "Retry-After: 1\r\nConnection: close\r\n\r\n";
            ssize_t w = send(cfd, busy, sizeof busy - 1, MSG_NOSIGNAL | MSG_DONTWAIT);
            (void)w;
            close(cfd);
            continue;
        }
        q_fds[(q_head + q_len) % QUEUE_CAP] = cfd;
        q_len++;
        atomic_store(&q_waiting, q_len);
        pthread_cond_signal(&q_cv);
        pthread_mutex_unlock(&q_mu);
    }

    atomic_store(&g_stopping, 1);
    close(lfd);
    lfd = -1;
    pthread_mutex_lock(&q_mu);
    q_shutdown = 1;
    pthread_cond_broadcast(&q_cv);
    pthread_mutex_unlock(&q_mu);
    for (int i = 0; i < nstarted; i++) pthread_join(tids[i], NULL);
    nstarted = 0;

out:
    if (lfd >= 0) close(lfd);
    if (nstarted > 0) { /* start-up failed after some workers started */
        atomic_store(&g_stopping, 1);
        pthread_mutex_lock(&q_mu);
        q_shutdown = 1;
        pthread_cond_broadcast(&q_cv);
        pthread_mutex_unlock(&q_mu);
        for (int i = 0; i < nstarted; i++) pthread_join(tids[i], NULL);
    }
    for (int i = 0; i < 2; i++)
        if (g_sig_pipe[i] >= 0) close(g_sig_pipe[i]);
    hls_context_free(g.ctx);
    free(g.root);
    free(g.hlsjs);
    free(g.index_html);
    for (int i = 0; i < nprint; i++) free(url_paths[i]);
    free(url_paths);
    free(print_files);
    return rc;

bad_usage:
    usage();
    free(url_paths);
    free(print_files);
    return 2;
}
