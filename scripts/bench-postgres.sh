#!/usr/bin/env bash
# Usage: scripts/bench-postgres.sh start|stop|status|url|destroy
#
# A long-lived PostgreSQL 15 cluster for benchmarks, kept in var/bench-pg/ until `destroy`
# (unlike scripts/pg-throwaway.sh, which removes its cluster when the command ends).
#
#   start    initialise (first time) and start on 127.0.0.1:${BENCH_PG_PORT:-54329}; create the
#            database "helpline_bench"; print the DATABASE_URL on the last line
#   url      print the DATABASE_URL
#   status   is it running?
#   stop     stop it (the data stays)
#   destroy  stop it and delete var/bench-pg/
#
# Settings are tuned for a benchmark box, not for durability: fsync and synchronous_commit are
# off (a power cut may lose the last transactions; the data set can be seeded again).
#
#   eval "$(scripts/bench-postgres.sh start | tail -n1 | sed 's/^/export DATABASE_URL=/')"
set -euo pipefail

cd "$(dirname "$0")/.."
PG_BIN=${PG_BIN:-/usr/lib/postgresql/15/bin}
PORT=${BENCH_PG_PORT:-54329}
DIR=${BENCH_PG_DIR:-$PWD/var/bench-pg}
DB=helpline_bench
URL="postgres://postgres@127.0.0.1:$PORT/$DB"

if [ "$(id -u)" -eq 0 ]; then
    as_pg() { (cd "$DIR" && runuser -u postgres -- "$@"); }
else
    as_pg() { "$@"; }
fi

running() { [ -f "$DIR/data/postmaster.pid" ] && as_pg "$PG_BIN/pg_ctl" -D "$DIR/data" status >/dev/null 2>&1; }

case "${1:-}" in
start)
    mkdir -p "$DIR"
    [ "$(id -u)" -eq 0 ] && chown postgres: "$DIR"
    if [ ! -f "$DIR/data/PG_VERSION" ]; then
        as_pg "$PG_BIN/initdb" -D "$DIR/data" -A trust -U postgres --no-sync -E UTF8 >"$DIR/initdb.log"
        # Memory for a 2-core, 20+ GB box; fast bulk loads; statistics for the planner.
        cat >>"$DIR/data/postgresql.conf" <<EOF
listen_addresses = '127.0.0.1'
port = $PORT
unix_socket_directories = '$DIR'
fsync = off
synchronous_commit = off
full_page_writes = off
shared_buffers = 2GB
effective_cache_size = 8GB
work_mem = 32MB
maintenance_work_mem = 1GB
max_wal_size = 8GB
checkpoint_timeout = 30min
random_page_cost = 1.1
max_connections = 100
max_parallel_workers_per_gather = 0
EOF
    fi
    if ! running; then
        as_pg "$PG_BIN/pg_ctl" -D "$DIR/data" -l "$DIR/log" -w -t 60 start >/dev/null
    fi
    if ! as_pg "$PG_BIN/psql" -h 127.0.0.1 -p "$PORT" -U postgres -Atc \
            "SELECT 1 FROM pg_database WHERE datname = '$DB'" | grep -q 1; then
        as_pg "$PG_BIN/createdb" -h 127.0.0.1 -p "$PORT" -U postgres "$DB"
    fi
    echo "bench-postgres: running in $DIR" >&2
    echo "$URL"
    ;;
url) echo "$URL" ;;
status)
    if running; then echo "running ($URL)"; else echo "stopped"; exit 3; fi
    ;;
stop)
    if running; then as_pg "$PG_BIN/pg_ctl" -D "$DIR/data" -m fast -w stop >/dev/null; fi
    echo "bench-postgres: stopped (data kept in $DIR)" >&2
    ;;
destroy)
    if running; then as_pg "$PG_BIN/pg_ctl" -D "$DIR/data" -m fast -w stop >/dev/null; fi
    rm -rf "$DIR"
    echo "bench-postgres: removed $DIR" >&2
    ;;
*)
    echo "usage: $0 start|stop|status|url|destroy" >&2
    exit 2
    ;;
esac
