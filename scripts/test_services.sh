# Sourced by scripts/test.sh (so it runs under its set -euo pipefail, with the venv active): gives the job tests a
# PostgreSQL server (trust auth, user postgres, database test) and a Redis server, and exports their URLs as
# ADDROP_TEST_POSTGRES_URL and ADDROP_TEST_REDIS_URL, which tests/jobs_stack.py reads.
#
# A server that answers at the URL already set (by default PostgreSQL on 127.0.0.1:5432 and Redis on
# 127.0.0.1:6379) is used as it is. For one that does not, Debian's package is installed when its binaries are
# missing, and a throwaway server is started on a free port with its data in a temporary directory; an EXIT trap
# stops it and deletes the directory, also when the tests fail or the run is interrupted.

TEST_PG_DIR=""     # the throwaway PostgreSQL server's directory (data, socket, log), once there is one
TEST_PG_BIN=""
TEST_REDIS_DIR=""  # the throwaway Redis server's directory (pid file, log), once there is one
TEST_APT_UPDATED=0

as_root() {
  if [ "$(id -u)" -ne 0 ]; then sudo "$@"; else "$@"; fi
}

# initdb and postgres refuse to run as root: there they run as the postgres user, from its own directory.
as_postgres() {
  if [ "$(id -u)" -ne 0 ]; then "$@"; else (cd "$TEST_PG_DIR" && runuser -u postgres -- "$@"); fi
}

install_package() {
  if [ "$TEST_APT_UPDATED" -eq 0 ]; then
    as_root apt-get update -qq
    TEST_APT_UPDATED=1
  fi
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq "$1" > /dev/null
}

free_port() {
  python -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

postgres_answers() {  # URL
  python -c 'import sys, psycopg; psycopg.connect(sys.argv[1], connect_timeout=3).close()' "$1" > /dev/null 2>&1
}

redis_answers() {  # URL
  python -c 'import sys, redis; redis.Redis.from_url(sys.argv[1], socket_connect_timeout=3).ping()' "$1" \
    > /dev/null 2>&1
}

stop_test_services() {
  if [ -n "$TEST_PG_DIR" ]; then
    if [ -f "$TEST_PG_DIR/data/postmaster.pid" ]; then
      as_postgres "$TEST_PG_BIN/pg_ctl" stop -D "$TEST_PG_DIR/data" -m fast -w -s || true
    fi
    rm -rf "$TEST_PG_DIR"
  fi
  if [ -n "$TEST_REDIS_DIR" ]; then
    if [ -f "$TEST_REDIS_DIR/redis.pid" ]; then
      local pid
      pid=$(cat "$TEST_REDIS_DIR/redis.pid")
      kill "$pid" 2> /dev/null || true
      for _ in $(seq 100); do kill -0 "$pid" 2> /dev/null || break; sleep 0.1; done
    fi
    rm -rf "$TEST_REDIS_DIR"
  fi
}

start_postgres() {  # PORT
  TEST_PG_BIN=$(ls -d /usr/lib/postgresql/*/bin 2> /dev/null | sort -V | tail -n 1)
  if [ ! -x "$TEST_PG_BIN/initdb" ]; then
    install_package postgresql
    TEST_PG_BIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
  fi
  TEST_PG_DIR=$(mktemp -d -t addrop-test-postgres.XXXXXX)
  if [ "$(id -u)" -eq 0 ]; then
    id -u postgres > /dev/null 2>&1 || useradd --system --user-group --no-create-home postgres
    chown postgres: "$TEST_PG_DIR"
  fi
  as_postgres "$TEST_PG_BIN/initdb" -D "$TEST_PG_DIR/data" -U postgres --auth=trust > "$TEST_PG_DIR/initdb.log"
  as_postgres "$TEST_PG_BIN/pg_ctl" start -D "$TEST_PG_DIR/data" -l "$TEST_PG_DIR/server.log" -w -s \
    -o "-p $1 -c listen_addresses=127.0.0.1 -c unix_socket_directories=$TEST_PG_DIR -c fsync=off"
  "$TEST_PG_BIN/createdb" -h 127.0.0.1 -p "$1" -U postgres test
}

start_redis() {  # PORT
  local server
  server=$(command -v redis-server || true)
  if [ -z "$server" ]; then
    install_package redis-server
    server=/usr/bin/redis-server
  fi
  TEST_REDIS_DIR=$(mktemp -d -t addrop-test-redis.XXXXXX)
  "$server" --port "$1" --bind 127.0.0.1 --save '' --appendonly no --daemonize yes --dir "$TEST_REDIS_DIR" \
    --pidfile "$TEST_REDIS_DIR/redis.pid" --logfile "$TEST_REDIS_DIR/redis.log"
  for _ in $(seq 100); do redis_answers "redis://127.0.0.1:$1/0" && return; sleep 0.1; done
  echo "the throwaway Redis server did not answer on port $1:" >&2
  cat "$TEST_REDIS_DIR/redis.log" >&2
  return 1
}

start_test_services() {
  local found="" started="" url port
  trap stop_test_services EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
  trap 'exit 129' HUP
  url=${ADDROP_TEST_POSTGRES_URL:-postgresql://postgres@127.0.0.1:5432/test}
  if postgres_answers "$url"; then
    found+="${found:+,} PostgreSQL at $url"
  else
    port=$(free_port)
    start_postgres "$port"
    url="postgresql://postgres@127.0.0.1:$port/test"
    started+="${started:+,} PostgreSQL on port $port"
  fi
  export ADDROP_TEST_POSTGRES_URL=$url
  url=${ADDROP_TEST_REDIS_URL:-redis://127.0.0.1:6379/0}
  if redis_answers "$url"; then
    found+="${found:+,} Redis at $url"
  else
    port=$(free_port)
    start_redis "$port"
    url="redis://127.0.0.1:$port/0"
    started+="${started:+,} Redis on port $port"
  fi
  export ADDROP_TEST_REDIS_URL=$url
  echo "Test services: found running:${found:- none}; started throwaway (stopped at exit):${started:- none}"
}
