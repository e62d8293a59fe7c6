#!/usr/bin/env bash
# Usage: scripts/pg-throwaway.sh CMD [ARGS...]
#
# Starts a throwaway PostgreSQL 15 cluster on a free 127.0.0.1 port, runs CMD
# with DATABASE_URL=postgres://postgres@127.0.0.1:PORT/helpline exported, then
# always stops the cluster and deletes its directory.  Exits with CMD's exit
# code.  Missing PostgreSQL binaries are an error, never a skip.
set -euo pipefail

if [ $# -eq 0 ]; then
    echo "usage: $0 CMD [ARGS...]" >&2
    exit 2
fi

PG_BIN=${PG_BIN:-/usr/lib/postgresql/15/bin}
for b in initdb pg_ctl createdb postgres; do
    if [ ! -x "$PG_BIN/$b" ]; then
        echo "pg-throwaway: $PG_BIN/$b not found; install PostgreSQL 15 (apt-get install postgresql-15) or set PG_BIN" >&2
        exit 1
    fi
done

# PostgreSQL refuses to run as root: as root, run the server as `postgres`;
# otherwise run it as the current user.
if [ "$(id -u)" -eq 0 ]; then
    if ! id postgres >/dev/null 2>&1; then
        echo "pg-throwaway: running as root but there is no 'postgres' user to run the server" >&2
        exit 1
    fi
    # cd into the cluster dir so postgres does not warn about an unreadable cwd.
    as_pg() { (cd "$d" && runuser -u postgres -- "$@"); }
else
    as_pg() { "$@"; }
fi

d=$(mktemp -d "${TMPDIR:-/tmp}/helpline-pg.XXXXXX")
started=0

cleanup() {
    local rc=$?
    if [ "$started" = 1 ]; then
        as_pg "$PG_BIN/pg_ctl" -D "$d/data" -m fast -w stop >/dev/null 2>&1 ||
            echo "pg-throwaway: warning: pg_ctl stop failed" >&2
    fi
    rm -rf "$d"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

if [ "$(id -u)" -eq 0 ]; then
    chown postgres: "$d"
fi

if ! as_pg "$PG_BIN/initdb" -D "$d/data" -A trust -U postgres --no-sync -E UTF8 \
        >"$d/initdb.log" 2>&1; then
    echo "pg-throwaway: initdb failed:" >&2
    cat "$d/initdb.log" >&2
    exit 1
fi

# Pick a free port.  Any python3 will do here (3.11 is fine).  There is a small
# race between closing the socket and postgres binding it; retry a few times.
free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

for attempt in 1 2 3 4 5; do
    port=$(free_port)
    if as_pg "$PG_BIN/pg_ctl" -D "$d/data" -l "$d/log" -w -t 60 \
            -o "-c listen_addresses=127.0.0.1 -p $port -k $d -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200" \
            start >/dev/null; then
        started=1
        break
    fi
    # pg_ctl may have timed out with a server still starting; make sure it is down.
    as_pg "$PG_BIN/pg_ctl" -D "$d/data" -m immediate -w stop >/dev/null 2>&1 || true
    echo "pg-throwaway: PostgreSQL failed to start on port $port (attempt $attempt); log tail:" >&2
    tail -n 30 "$d/log" >&2 || true
done
if [ "$started" != 1 ]; then
    echo "pg-throwaway: giving up: PostgreSQL would not start" >&2
    exit 1
fi

as_pg "$PG_BIN/createdb" -h 127.0.0.1 -p "$port" -U postgres helpline

export DATABASE_URL="postgres://postgres@127.0.0.1:$port/helpline"
# For the fault tests (tests/health/test_faults_pg.py), which restart this cluster:
# `[runuser -u $PG_THROWAWAY_USER --] $PG_BIN/pg_ctl -D $PG_THROWAWAY_DIR/data restart`.
export PG_THROWAWAY_DIR="$d" PG_BIN
if [ "$(id -u)" -eq 0 ]; then export PG_THROWAWAY_USER=postgres; else export PG_THROWAWAY_USER=""; fi
echo "pg-throwaway: PostgreSQL 15 running, DATABASE_URL=$DATABASE_URL" >&2

# Run CMD as a child (not exec) so the trap can clean up; keep its exit code.
set +e
"$@"
rc=$?
set -e
exit "$rc"
