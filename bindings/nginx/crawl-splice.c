/* crawl-splice: the benchmarks' crawl client whose own CPU stays out of the way.
 *
 *   crawl-splice PORT PREFIX NAMES CONNECTIONS
 *
 * GETs http://127.0.0.1:PORT/PREFIX/<name> for every line of the file NAMES, over CONNECTIONS
 * keep-alive HTTP/1.1 connections (one thread each; each takes the next name as it is free, so a
 * slow server worker never holds a share of the names back), and prints one line per name, in
 * the file's order: "<status> <body bytes>" (as curl -w '%{http_code} %{size_download}').
 *
 * Why not curl: on a 2-core machine the client shares the cores with the server it measures, and
 * curl copies every body into user space (85 MB per crawl of the 10-minute file) and parses it.
 * Here a body never leaves the kernel: it is spliced from the socket into a pipe and from the pipe
 * into /dev/null (page references move; nothing is copied), so the server gets nearly both cores:
 * what "2 workers vs 1" needs to be measurable at all on such a machine.
 *
 * Exits non-zero on a connection or protocol failure (a response without Content-Length, a
 * chunked body, a short body). Statuses are reported, not judged: the caller checks them.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#define HEAD_MAX 16384
#define PIPE_BYTES (1 << 20)

static int port;
static const char *prefix;
static char **names;
static size_t count;
static atomic_size_t next_name;
static int *status;
static long long *sizes;

static void die(const char *what) {
    fprintf(stderr, "crawl-splice: %s: %s\n", what, errno ? strerror(errno) : "protocol error");
    exit(1);
}

static int dial(void) {
    int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((unsigned short)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof a) != 0) die("connect");
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return fd;
}

static void send_all(int fd, const char *p, size_t n) {
    while (n > 0) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) die("send");
        p += w;
        n -= (size_t)w;
    }
}

/* The value of header `name` (case-insensitive) in the header block `h`, or NULL. */
static const char *header(const char *h, const char *name) {
    size_t n = strlen(name);
    for (const char *l = strstr(h, "\r\n"); l && l[2] != '\r'; l = strstr(l + 2, "\r\n")) {
        if (strncasecmp(l + 2, name, n) == 0 && l[2 + n] == ':') {
            const char *v = l + 3 + n;
            while (*v == ' ') v++;
            return v;
        }
    }
    return NULL;
}

static void *worker(void *arg) {
    (void)arg;
    int pipefd[2], devnull = open("/dev/null", O_WRONLY), fd = -1;
    if (devnull < 0 || pipe(pipefd) != 0) die("pipe");
    fcntl(pipefd[1], F_SETPIPE_SZ, PIPE_BYTES);
    char req[8192], head[HEAD_MAX + 1];
    for (;;) {
        size_t i = atomic_fetch_add(&next_name, 1);
        if (i >= count) break;
        if (fd < 0) fd = dial();
        int n = snprintf(req, sizeof req, "GET %s/%s HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", prefix, names[i]);
        if (n <= 0 || (size_t)n >= sizeof req) die("name too long");
        send_all(fd, req, (size_t)n);
        /* The header block; whatever of the body came with it is counted, not spliced. */
        size_t got = 0;
        char *end = NULL;
        while (!end) {
            if (got == HEAD_MAX) die("header too large");
            ssize_t r = recv(fd, head + got, HEAD_MAX - got, 0);
            if (r < 0 && errno == EINTR) continue;
            if (r <= 0) die("recv header");
            got += (size_t)r;
            head[got] = 0;
            end = strstr(head, "\r\n\r\n");
        }
        end[2] = 0; /* the header block, its last line's CRLF kept for header() */
        const char *cl = header(head, "Content-Length");
        const char *te = header(head, "Transfer-Encoding");
        const char *conn = header(head, "Connection");
        if (!cl || te || strncmp(head, "HTTP/1.1 ", 9) != 0) die("response without Content-Length");
        long long want = atoll(cl), have = (long long)(got - (size_t)(end + 4 - head));
        status[i] = atoi(head + 9);
        while (have < want) {
            size_t chunk = (size_t)(want - have) < PIPE_BYTES ? (size_t)(want - have) : PIPE_BYTES;
            ssize_t s = splice(fd, NULL, pipefd[1], NULL, chunk, SPLICE_F_MOVE);
            if (s < 0 && errno == EINTR) continue;
            if (s <= 0) die("splice body");
            for (ssize_t left = s; left > 0;) {
                ssize_t d = splice(pipefd[0], NULL, devnull, NULL, (size_t)left, SPLICE_F_MOVE);
                if (d < 0 && errno == EINTR) continue;
                if (d <= 0) die("splice to /dev/null");
                left -= d;
            }
            have += s;
        }
        if (have != want) die("body longer than Content-Length");
        sizes[i] = want;
        if (conn && strncasecmp(conn, "close", 5) == 0) {
            close(fd);
            fd = -1;
        }
    }
    if (fd >= 0) close(fd);
    close(pipefd[0]);
    close(pipefd[1]);
    close(devnull);
    return NULL;
}

int main(int argc, char **argv) {
    if (argc != 5) {
        fprintf(stderr, "usage: crawl-splice PORT PREFIX NAMES CONNECTIONS\n");
        return 2;
    }
    port = atoi(argv[1]);
    prefix = argv[2];
    int conns = atoi(argv[4]);
    FILE *f = fopen(argv[3], "r");
    if (!f || port <= 0 || conns <= 0) die("arguments");
    size_t cap = 0;
    char line[4096];
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\r\n")] = 0;
        if (!line[0]) continue;
        if (count == cap) {
            cap = cap ? cap * 2 : 1024;
            names = realloc(names, cap * sizeof *names);
            if (!names) die("memory");
        }
        names[count++] = strdup(line);
    }
    fclose(f);
    status = calloc(count + 1, sizeof *status);
    sizes = calloc(count + 1, sizeof *sizes);
    pthread_t *t = calloc((size_t)conns, sizeof *t);
    if (!status || !sizes || !t) die("memory");
    for (int c = 0; c < conns; c++)
        if (pthread_create(&t[c], NULL, worker, NULL) != 0) die("thread");
    for (int c = 0; c < conns; c++) pthread_join(t[c], NULL);
    for (size_t i = 0; i < count; i++) printf("%d %lld\n", status[i], sizes[i]);
    return 0;
}
