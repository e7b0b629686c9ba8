#!/usr/bin/env bash
# Start/stop/status of a DynamoDB Local (in memory) for development and tests.
#
#   scripts/dynamodb-local.sh start|stop|status|restart
#
# Environment:
#   DYNAMODB_PORT   port to listen on (default 8000)
#
# Runs .tools/dynamodb-local/DynamoDBLocal.jar (install it with
# `scripts/tools.sh ddb`) with -inMemory -sharedDb: one database for every
# access key and region, so the dev server, the tests, the CLI and
# `sam local invoke` containers (whatever fake credentials they carry) all see
# the same tables. Data lives only as long as the process.
# Log: .tools/run/dynamodb-$PORT.log   pid: .tools/run/dynamodb-$PORT.pid
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DDB_DIR="$ROOT/.tools/dynamodb-local"
RUN_DIR="$ROOT/.tools/run"
PORT="${DYNAMODB_PORT:-8000}"
PID_FILE="$RUN_DIR/dynamodb-$PORT.pid"
LOG_FILE="$RUN_DIR/dynamodb-$PORT.log"
START_TIMEOUT="${DYNAMODB_START_TIMEOUT:-30}"

log() { printf 'dynamodb-local: %s\n' "$*" >&2; }
die() { printf 'dynamodb-local: error: %s\n' "$*" >&2; exit 1; }

[[ "$PORT" =~ ^[0-9]+$ ]] || die "DYNAMODB_PORT must be a number (got '$PORT')"

# True when something accepts TCP connections on 127.0.0.1:$PORT.
port_open() {
    (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null
}

# Prints the pid from the pid file if that process is alive and is our
# DynamoDB Local (guards against a stale file whose pid was reused).
our_pid() {
    [[ -f "$PID_FILE" ]] || return 1
    local pid
    pid="$(cat "$PID_FILE" 2>/dev/null || true)"
    [[ "$pid" =~ ^[0-9]+$ ]] || return 1
    kill -0 "$pid" 2>/dev/null || return 1
    if [[ -r "/proc/$pid/cmdline" ]]; then
        tr '\0' ' ' < "/proc/$pid/cmdline" | grep -q "DynamoDBLocal.jar" || return 1
    fi
    echo "$pid"
}

who_has_port() {
    if command -v ss >/dev/null 2>&1; then
        ss -ltnpH "sport = :$PORT" 2>/dev/null | sed 's/^/    /' >&2 || true
    elif command -v lsof >/dev/null 2>&1; then
        lsof -nP -iTCP:"$PORT" -sTCP:LISTEN 2>/dev/null | sed 's/^/    /' >&2 || true
    fi
}

cmd_start() {
    local pid
    if pid="$(our_pid)"; then
        log "already running on port $PORT (pid $pid)"
        return 0
    fi
    rm -f "$PID_FILE"

    if port_open; then
        log "port $PORT is already in use by another process:"
        who_has_port
        die "refusing to start DynamoDB Local on port $PORT; stop that process or pick another port with DYNAMODB_PORT=..."
    fi

    command -v java >/dev/null 2>&1 || die "java not found on PATH (DynamoDB Local needs Java 17+)"
    [[ -f "$DDB_DIR/DynamoDBLocal.jar" ]] \
        || die "$DDB_DIR/DynamoDBLocal.jar not found; run scripts/tools.sh ddb first"

    mkdir -p "$RUN_DIR"
    : > "$LOG_FILE"
    # Own session (setsid) so a Ctrl-C in the terminal reaches the scripts,
    # which then stop it in order; the inner shell records its pid and execs
    # java, so the pid file holds the java process itself.
    local setsid=()
    command -v setsid >/dev/null 2>&1 && setsid=(setsid)
    (
        cd "$DDB_DIR"
        # shellcheck disable=SC2016  # $$ and $@ are for the inner shell
        exec "${setsid[@]}" bash -c 'echo $$ > "$1"; shift; exec "$@"' _ "$PID_FILE" \
            java -Djava.library.path="$DDB_DIR/DynamoDBLocal_lib" \
                -jar "$DDB_DIR/DynamoDBLocal.jar" -inMemory -sharedDb -port "$PORT"
    ) >> "$LOG_FILE" 2>&1 < /dev/null &

    local waited=0 why="did not answer within ${START_TIMEOUT}s"
    while (( waited < START_TIMEOUT * 5 )); do
        if port_open && pid="$(our_pid)"; then
            log "started on port $PORT (pid $pid), endpoint http://127.0.0.1:$PORT"
            return 0
        fi
        if (( waited > 5 )) && [[ -f "$PID_FILE" ]] && ! our_pid >/dev/null; then
            why="exited"
            break
        fi
        sleep 0.2
        waited=$((waited + 1))
    done

    log "DynamoDB Local on port $PORT $why; last lines of $LOG_FILE:"
    tail -n 20 "$LOG_FILE" | sed 's/^/    /' >&2 || true
    if pid="$(our_pid)"; then kill "$pid" 2>/dev/null || true; fi
    rm -f "$PID_FILE"
    exit 1
}

cmd_stop() {
    local pid
    if ! pid="$(our_pid)"; then
        rm -f "$PID_FILE"
        log "not running on port $PORT"
        return 0
    fi
    kill "$pid" 2>/dev/null || true
    local _
    for _ in $(seq 1 50); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.2
    done
    if kill -0 "$pid" 2>/dev/null; then
        log "pid $pid did not exit after SIGTERM; sending SIGKILL"
        kill -9 "$pid" 2>/dev/null || true
    fi
    rm -f "$PID_FILE"
    log "stopped (port $PORT, pid $pid)"
}

cmd_status() {
    local pid
    if pid="$(our_pid)"; then
        if port_open; then
            echo "running on port $PORT (pid $pid), endpoint http://127.0.0.1:$PORT"
        else
            echo "starting on port $PORT (pid $pid), not answering yet"
        fi
        return 0
    fi
    if port_open; then
        echo "not running (port $PORT is in use by another process)"
    else
        echo "not running on port $PORT"
    fi
    return 3
}

case "${1:-}" in
    start) cmd_start ;;
    stop) cmd_stop ;;
    status) cmd_status ;;
    restart) cmd_stop; cmd_start ;;
    *) die "usage: $0 start|stop|status|restart (port from DYNAMODB_PORT, default 8000)" ;;
esac
