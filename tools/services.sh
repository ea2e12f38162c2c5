#!/usr/bin/env bash
# Test services for `make test` (and so `.ci/run`): PostgreSQL and Redis on 127.0.0.1.
#
#   tools/services.sh start    install (Debian packages) what is missing, start what is not running
#   tools/services.sh stop     stop the servers this script started
#   tools/services.sh status   say what answers
#
# Contract: after `start`, postgresql://postgres@127.0.0.1:$PGPORT/test accepts connections with trust
# authentication and redis://127.0.0.1:$REDIS_PORT answers PING. Idempotent: a server that already
# answers is reused as it is, whoever started it; nothing is started twice.
#
# Without root and apt-get a missing server cannot be installed: the script warns and exits 0, so the
# tests that need it skip on a laptop (and fail under CI=true, where conftest treats a missing server
# as an error). Data lives under $SERVICES_DIR (default /var/tmp/course-catalogue-services-<uid>):
# a throwaway cluster for tests, never the machine's own PostgreSQL cluster.
set -euo pipefail

PGPORT="${PGPORT:-5432}"
REDIS_PORT="${REDIS_PORT:-6379}"
SERVICES_DIR="${SERVICES_DIR:-/var/tmp/course-catalogue-services-$(id -u)}"
PG_DATA="$SERVICES_DIR/pg"
REDIS_DIR="$SERVICES_DIR/redis"

log() { printf 'services: %s\n' "$*" >&2; }

can_install() { [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; }

APT_UPDATED=0
apt_install() {
    if [ "$APT_UPDATED" = 0 ]; then
        apt-get update -qq
        APT_UPDATED=1
    fi
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

# ---------------------------------------------------------------- PostgreSQL

pg_bindir() {
    # Debian keeps the server binaries out of PATH, one directory per major version: take the newest.
    local dir
    dir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
    if [ -n "$dir" ] && [ -x "$dir/initdb" ]; then
        echo "$dir"
    elif command -v initdb >/dev/null 2>&1; then
        dirname "$(command -v initdb)"
    fi
}

# Run a PostgreSQL server program as a user it accepts: initdb and postgres refuse to run as root.
as_pg_user() {
    if [ "$(id -u)" = 0 ]; then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

pg_answers() {
    # True when the test database accepts a trust-authenticated connection on 127.0.0.1.
    command -v psql >/dev/null 2>&1 || return 1
    PGCONNECT_TIMEOUT=3 psql -X -q -h 127.0.0.1 -p "$PGPORT" -U postgres -d test -w -c 'SELECT 1' >/dev/null 2>&1
}

pg_port_taken() {
    PGCONNECT_TIMEOUT=3 "$1/pg_isready" -q -h 127.0.0.1 -p "$PGPORT" >/dev/null 2>&1
}

start_postgres() {
    if pg_answers; then
        log "PostgreSQL answers on 127.0.0.1:$PGPORT (database test)"
        return 0
    fi
    local bindir installed=0
    bindir=$(pg_bindir)
    if [ -z "$bindir" ]; then
        if ! can_install; then
            log "warning: PostgreSQL is not installed and cannot be (needs root and apt-get);" \
                "PostgreSQL tests will be skipped (and fail under CI=true)"
            return 0
        fi
        log "installing PostgreSQL from Debian's packages"
        apt_install postgresql postgresql-client
        installed=1
        bindir=$(pg_bindir)
    fi
    if [ "$installed" = 1 ] && pg_port_taken "$bindir"; then
        # The package's own cluster started on our port with password authentication on TCP: stop it,
        # this machine had no PostgreSQL before we installed one for the tests.
        log "stopping the cluster the Debian package started on port $PGPORT"
        for cluster in /etc/postgresql/*/main; do
            [ -d "$cluster" ] || continue
            version=$(basename "$(dirname "$cluster")")
            pg_ctlcluster "$version" main stop >/dev/null 2>&1 || true
        done
    fi
    if pg_port_taken "$bindir"; then
        if ! pg_answers; then
            # Something else owns the port: try to create the database in case only that is missing.
            PGCONNECT_TIMEOUT=3 psql -X -q -h 127.0.0.1 -p "$PGPORT" -U postgres -d postgres -w \
                -c 'CREATE DATABASE test' >/dev/null 2>&1 || true
        fi
        if pg_answers; then
            log "PostgreSQL answers on 127.0.0.1:$PGPORT (database test created)"
            return 0
        fi
        log "error: a PostgreSQL server on 127.0.0.1:$PGPORT refuses user postgres or database test" \
            "without a password; stop it or set PGPORT (and TEST_POSTGRES_URL)"
        return 1
    fi
    mkdir -p "$SERVICES_DIR"
    chmod 755 "$SERVICES_DIR"
    if [ ! -s "$PG_DATA/PG_VERSION" ]; then
        rm -rf "$PG_DATA"
        mkdir -p "$PG_DATA"
        [ "$(id -u)" = 0 ] && chown postgres:postgres "$PG_DATA"
        chmod 700 "$PG_DATA"
        log "creating a test cluster in $PG_DATA"
        as_pg_user "$bindir/initdb" -D "$PG_DATA" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 \
            >"$SERVICES_DIR/initdb.log" 2>&1 || {
            cat "$SERVICES_DIR/initdb.log" >&2
            return 1
        }
    fi
    # Settings for a throwaway test server: loopback only, socket in its own directory, no durability.
    as_pg_user "$bindir/pg_ctl" -D "$PG_DATA" -l "$PG_DATA/server.log" -w -t 60 start \
        -o "-c listen_addresses=127.0.0.1 -p $PGPORT -k $PG_DATA -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200" \
        >/dev/null || {
        tail -n 20 "$PG_DATA/server.log" >&2
        return 1
    }
    as_pg_user "$bindir/psql" -X -q -h 127.0.0.1 -p "$PGPORT" -U postgres -d postgres \
        -tAc "SELECT 1 FROM pg_database WHERE datname = 'test'" | grep -q 1 ||
        as_pg_user "$bindir/createdb" -h 127.0.0.1 -p "$PGPORT" -U postgres test
    if pg_answers; then
        log "PostgreSQL started on 127.0.0.1:$PGPORT (database test, trust auth, data in $PG_DATA)"
    else
        log "error: PostgreSQL started but database test does not answer"
        return 1
    fi
}

stop_postgres() {
    local bindir
    bindir=$(pg_bindir)
    if [ -n "$bindir" ] && [ -s "$PG_DATA/postmaster.pid" ]; then
        as_pg_user "$bindir/pg_ctl" -D "$PG_DATA" -m fast -w stop >/dev/null && log "PostgreSQL stopped"
    fi
}

# --------------------------------------------------------------------- Redis

redis_answers() {
    if command -v redis-cli >/dev/null 2>&1; then
        [ "$(redis-cli -h 127.0.0.1 -p "$REDIS_PORT" ping 2>/dev/null)" = PONG ]
    else
        # No client: speak the protocol through bash's /dev/tcp.
        (
            exec 3<>"/dev/tcp/127.0.0.1/$REDIS_PORT" || exit 1
            printf 'PING\r\n' >&3
            IFS= read -r -t 3 reply <&3 && [ "${reply%$'\r'}" = "+PONG" ]
        ) 2>/dev/null
    fi
}

start_redis() {
    if redis_answers; then
        log "Redis answers on 127.0.0.1:$REDIS_PORT"
        return 0
    fi
    if ! command -v redis-server >/dev/null 2>&1; then
        if ! can_install; then
            log "warning: Redis is not installed and cannot be (needs root and apt-get);" \
                "Redis tests will be skipped (and fail under CI=true)"
            return 0
        fi
        log "installing Redis from Debian's packages"
        apt_install redis-server redis-tools
        # The package may have started its own server on the default port: reuse it if it answers.
        for _ in 1 2 3 4 5; do
            redis_answers && break
            sleep 0.2
        done
        if redis_answers; then
            log "Redis answers on 127.0.0.1:$REDIS_PORT (started by the package)"
            return 0
        fi
    fi
    mkdir -p "$REDIS_DIR"
    redis-server --bind 127.0.0.1 --port "$REDIS_PORT" --daemonize yes --dir "$REDIS_DIR" \
        --pidfile "$REDIS_DIR/redis.pid" --logfile "$REDIS_DIR/redis.log" --save '' --appendonly no
    for _ in $(seq 1 50); do
        if redis_answers; then
            log "Redis started on 127.0.0.1:$REDIS_PORT (log in $REDIS_DIR)"
            return 0
        fi
        sleep 0.1
    done
    log "error: Redis did not answer on 127.0.0.1:$REDIS_PORT"
    tail -n 20 "$REDIS_DIR/redis.log" >&2 || true
    return 1
}

stop_redis() {
    if [ -s "$REDIS_DIR/redis.pid" ]; then
        kill "$(cat "$REDIS_DIR/redis.pid")" 2>/dev/null && log "Redis stopped"
        rm -f "$REDIS_DIR/redis.pid"
    fi
}

case "${1:-start}" in
start)
    start_postgres
    start_redis
    ;;
stop)
    stop_postgres || true
    stop_redis || true
    ;;
status)
    if pg_answers; then log "PostgreSQL: answers on 127.0.0.1:$PGPORT"; else log "PostgreSQL: no answer"; fi
    if redis_answers; then log "Redis: answers on 127.0.0.1:$REDIS_PORT"; else log "Redis: no answer"; fi
    ;;
*)
    echo "usage: $0 start|stop|status" >&2
    exit 2
    ;;
esac
