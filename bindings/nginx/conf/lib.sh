# shellcheck shell=bash
# Shell helpers shared by scripts/run.sh and bindings/nginx/{test,remote-test,browser-test,
# scaleout-test,bench*}.sh
# (source it; bash, set -euo pipefail in the caller). Each nginx started here runs Debian's
# /usr/sbin/nginx in the foreground (`daemon off`, so $! is its master), with its own prefix
# (config, logs, temp, cache) under target/, and is stopped by ngx_cleanup (call it from a trap).

NGX_REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)"
NGX_CONF_DIR="$NGX_REPO/bindings/nginx/conf"
NGINX="${NGINX:-/usr/sbin/nginx}"
NGX_PIDS=()

ngx_log() { printf '%s: %s\n' "${NGX_WHO:-nginx}" "$*" >&2; }
ngx_die() { printf '%s: error: %s\n' "${NGX_WHO:-nginx}" "$*" >&2; exit 1; }

# Builds libhls (cargo build --release) and the module (bindings/nginx/build.sh, which installs
# nginx-core/nginx-dev when missing); sets NGX_MODULE to the absolute path of the .so.
ngx_build_module() {
    local out
    ngx_log "cargo build --release"
    (cd "$NGX_REPO" && cargo build --release --locked --quiet) || ngx_die "cargo build --release failed"
    [[ -x "$NGX_REPO/bindings/nginx/build.sh" ]] || ngx_die "bindings/nginx/build.sh is missing (the module is not in this tree yet)"
    ngx_log "bindings/nginx/build.sh"
    out="$("$NGX_REPO/bindings/nginx/build.sh" 2>"$NGX_REPO/target/nginx-build.log")" || {
        cat "$NGX_REPO/target/nginx-build.log" >&2
        ngx_die "bindings/nginx/build.sh failed"
    }
    NGX_MODULE="$(printf '%s\n' "$out" | tail -n 1)"
    [[ "$NGX_MODULE" == /* && -f "$NGX_MODULE" ]] || ngx_die "bindings/nginx/build.sh did not print the module path (last line: '$NGX_MODULE')"
    [[ -x "$NGINX" ]] || ngx_die "$NGINX missing after bindings/nginx/build.sh"
}

# examples-c/hls-dump (and hls-serve), linked against target/release.
ngx_build_examples() {
    make -s -C "$NGX_REPO/examples-c" LIBDIR="$NGX_REPO/target/release" INCLUDE="$NGX_REPO/include" >/dev/null \
        || ngx_die "make -C examples-c failed"
}

# ngx_stop_daemons DIR: stops every nginx master started (`daemon on`, with a pid file) with a
# prefix under DIR, and so its workers (the end-to-end tests' instances).
ngx_stop_daemons() {
    local pidfile pid
    for pidfile in "$1"/*/logs/nginx.pid; do
        [ -f "$pidfile" ] || continue
        pid="$(cat "$pidfile" 2>/dev/null || true)"
        if [ -n "$pid" ] && grep -qa "nginx: master process $NGINX -p $1/" \
            "/proc/$pid/cmdline" 2>/dev/null; then
            kill -TERM "$pid" 2>/dev/null || true
        fi
    done
}

# A free TCP port on 127.0.0.1 (the kernel's pick).
ngx_free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# ngx_render TEMPLATE OUT KEY=VALUE...: copies TEMPLATE to OUT replacing every @KEY@ by VALUE;
# fails if a placeholder is left.
ngx_render() {
    local tpl=$1 out=$2 text kv k v
    shift 2
    text="$(<"$tpl")"
    for kv in "$@"; do
        k=${kv%%=*}
        v=${kv#*=}
        case $k in
            PREFIX | MEDIA | WWW | HLSJS | MODULE | STATIC)
                # quoted in the templates; nginx would read $ as a variable
                [[ $v != *[\"\$\\]* ]] || ngx_die "nginx cannot be given the path '$v' (it contains \", \$ or \\)"
                ;;
        esac
        text=${text//@$k@/$v}
    done
    if grep -qE '@[A-Z_]+@' <<<"$text"; then
        ngx_die "$tpl: unreplaced placeholder(s): $(grep -oE '@[A-Z_]+@' <<<"$text" | sort -u | tr '\n' ' ')"
    fi
    printf '%s\n' "$text" >"$out"
}

# ngx_prefix DIR: a fresh prefix (conf/, logs/, tmp/) with common-http.conf rendered into conf/.
ngx_prefix() {
    local p=$1
    rm -rf "$p"
    mkdir -p "$p/conf" "$p/logs" "$p/tmp"
    ngx_render "$NGX_CONF_DIR/common-http.conf.in" "$p/conf/common-http.conf" PREFIX="$p"
}

# `user` line for a config: when run as root, nginx's workers would run as nobody; if nobody
# cannot read every DIR given (e.g. media under /root), the workers run as root instead.
ngx_user_line() {
    local d
    [[ $(id -u) -eq 0 ]] || { echo "# (not root: workers run as $(id -un))"; return; }
    for d in "$@"; do
        if ! setpriv --reuid=nobody --regid=nogroup --clear-groups test -r "$d" -a -x "$d" 2>/dev/null; then
            echo "user root;  # $d is not readable by nobody"
            return
        fi
    done
    echo "# (workers run as nobody)"
}

# ngx_test PREFIX: nginx -t on PREFIX/conf/nginx.conf.
ngx_test() {
    local p=$1
    "$NGINX" -t -q -p "$p/" -c "$p/conf/nginx.conf" -e "$p/logs/error.log" 2>&1 \
        || { cat "$p/logs/error.log" >&2 2>/dev/null || true; ngx_die "nginx -t failed for $p/conf/nginx.conf"; }
}

# ngx_start PREFIX PORT: starts nginx on PREFIX/conf/nginx.conf in the background, waits until
# 127.0.0.1:PORT answers; sets NGX_PID to its master's pid.
ngx_start() {
    local p=$1 port=$2 i
    ngx_test "$p"
    if curl -s -o /dev/null --max-time 2 "http://127.0.0.1:$port/" || (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
        ngx_die "127.0.0.1:$port is already in use (choose another port)"
    fi
    "$NGINX" -p "$p/" -c "$p/conf/nginx.conf" -e "$p/logs/error.log" -g 'daemon off;' &
    NGX_PID=$!
    NGX_PIDS+=("$NGX_PID")
    for ((i = 0; i < 100; i++)); do
        if curl -s -o /dev/null --max-time 2 "http://127.0.0.1:$port/" && ngx_alive "$NGX_PID"; then
            return 0
        fi
        ngx_alive "$NGX_PID" || { tail -n 20 "$p/logs/error.log" >&2 || true; ngx_die "nginx ($p) exited at start"; }
        sleep 0.1
    done
    tail -n 20 "$p/logs/error.log" >&2 || true
    ngx_die "nginx ($p) does not answer on 127.0.0.1:$port"
}

# Pids of an nginx master and its workers.
ngx_family() {
    local m=$1
    echo "$m"
    pgrep -P "$m" 2>/dev/null || true
}

# True while PID runs (a zombie -- exited, not yet reaped -- does not count).
ngx_alive() {
    local st
    st="$(cat "/proc/$1/stat" 2>/dev/null)" || return 1
    st=${st##*) }
    [[ ${st:0:1} != Z ]]
}

# ngx_stop PID: graceful stop (SIGQUIT: workers finish the requests under way), SIGKILL after 10 s.
ngx_stop() {
    local m=$1 i
    ngx_alive "$m" || { wait "$m" 2>/dev/null || true; return 0; }
    kill -QUIT "$m" 2>/dev/null || true
    for ((i = 0; i < 100; i++)); do
        ngx_alive "$m" || { wait "$m" 2>/dev/null || true; return 0; }
        sleep 0.1
    done
    ngx_kill "$m"
}

# ngx_kill PID: a crash -- SIGKILL to the master and every worker at once.
ngx_kill() {
    local m=$1 pids
    pids="$(ngx_family "$m")"
    # shellcheck disable=SC2086
    kill -KILL $pids 2>/dev/null || true
    wait "$m" 2>/dev/null || true
}

# Stops every nginx started by ngx_start that still runs (for `trap ngx_cleanup EXIT`).
ngx_cleanup() {
    local m
    for m in "${NGX_PIDS[@]}"; do
        ngx_stop "$m"
    done
}

# ngx_cpu_ticks PID: utime+stime (clock ticks) of an nginx master and its workers, every thread
# included (libhls runs on the workers' thread pools).
ngx_cpu_ticks() {
    local total=0 pid f a
    for pid in $(ngx_family "$1"); do
        f="$(cat "/proc/$pid/stat" 2>/dev/null)" || continue
        f=${f##*) }
        # after "pid (comm) ": field 3 is the state, utime/stime are fields 14/15 of the full line.
        read -r -a a <<<"$f"
        total=$((total + a[11] + a[12]))
    done
    echo "$total"
}

# hls.js for the player page: node_modules/hls.js/dist under target/web (npm, the version
# tests/browser pins); prints the dist directory.
ngx_hlsjs_dist() {
    local web="$NGX_REPO/target/web" ver
    if [[ ! -f "$web/node_modules/hls.js/dist/hls.min.js" ]]; then
        command -v npm >/dev/null 2>&1 || ngx_die "npm is missing (apt-get install npm) -- needed to install hls.js"
        ver="$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["dependencies"]["hls.js"])' "$NGX_REPO/tests/browser/package.json" 2>/dev/null || echo 1)"
        ngx_log "installing hls.js@$ver from npm into target/web"
        mkdir -p "$web"
        (cd "$web" && npm install --silent --no-audit --no-fund --no-save "hls.js@$ver" >/dev/null) \
            || ngx_die "npm install hls.js@$ver failed"
    fi
    echo "$web/node_modules/hls.js/dist"
}
