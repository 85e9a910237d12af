#!/usr/bin/env bash
# HTTP benchmark of services-get and certificates-get (issue 2/4): wrk on loopback against the
# gateway on SQLite and on PostgreSQL, and against nginx serving the same services-get answer as
# a static file, measured in one run. Needs: apt-get install wrk nginx-light; PostgreSQL running.
#   bash tests/load/http_bench.sh [seconds per run, default 10] [connections, default 64]
set -euo pipefail
cd "$(dirname "$0")/../.."
SECONDS_PER_RUN=${1:-10}
CONNECTIONS=${2:-64}
THREADS=2
WORK=$(mktemp -d)
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  psql -q -h 127.0.0.1 -U postgres -d test -c "DROP DATABASE IF EXISTS openpeer_bench WITH (FORCE)" >/dev/null 2>&1 || true
  rm -rf "$WORK"
}
trap cleanup EXIT

cargo build --release --quiet --bin openpeer-gateway
BIN=target/release/openpeer-gateway

cat > "$WORK/services-get.json" <<'JSON'
{"request":{"$domain":"localhost","$id":"bench","$handler":"bootstrapper","$method":"services-get"}}
JSON
cat > "$WORK/certificates-get.json" <<'JSON'
{"request":{"$domain":"localhost","$id":"bench","$handler":"certificates","$method":"certificates-get"}}
JSON
cat > "$WORK/signed-salt-get.json" <<'JSON'
{"request":{"$domain":"localhost","$id":"bench","$handler":"peer-salt","$method":"signed-salt-get","salts":1}}
JSON

wait_up() { for _ in $(seq 1 100); do curl -fs "$1" >/dev/null 2>&1 && return 0; sleep 0.1; done; echo "not up: $1" >&2; exit 1; }

run() { # label url body
  local line
  line=$(BODY_FILE="$3" wrk -t"$THREADS" -c"$CONNECTIONS" -d"${SECONDS_PER_RUN}s" --latency -s tests/load/post.lua "$2" | grep '^RESULT')
  printf '%-45s %s\n' "$1" "${line#RESULT }"
}

start_gateway() { # port database-url
  cat > "$WORK/gw-$1.toml" <<TOML
[server]
bind = "127.0.0.1:$1"
[database]
url = "$2"
[log]
level = "warn"
TOML
  "$BIN" serve --config "$WORK/gw-$1.toml" 2>"$WORK/gw-$1.log" &
  PIDS+=($!)
  wait_up "http://127.0.0.1:$1/healthz"
}

start_gateway 18080 "sqlite://$WORK/bench.db?mode=rwc"
psql -q -h 127.0.0.1 -U postgres -d test -c "DROP DATABASE IF EXISTS openpeer_bench WITH (FORCE)" >/dev/null
psql -q -h 127.0.0.1 -U postgres -d test -c "CREATE DATABASE openpeer_bench" >/dev/null
start_gateway 18081 "postgres://postgres@127.0.0.1:5432/openpeer_bench"

# nginx serves the gateway's own services-get answer as a static file, POST allowed.
mkdir -p "$WORK/www" "$WORK/nginx"
curl -fs -X POST --data-binary @"$WORK/services-get.json" http://127.0.0.1:18080/.well-known/openpeer-services-get > "$WORK/www/services-get.json"
chmod -R a+rX "$WORK"  # nginx workers run as another user
cat > "$WORK/nginx/nginx.conf" <<NGINX
worker_processes auto;
pid $WORK/nginx/nginx.pid;
error_log $WORK/nginx/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path $WORK/nginx;
  server {
    listen 127.0.0.1:18082;
    location / { root $WORK/www; default_type application/json; error_page 405 =200 \$uri; }
  }
}
NGINX
nginx -c "$WORK/nginx/nginx.conf" -g 'daemon off;' &
PIDS+=($!)
wait_up "http://127.0.0.1:18082/services-get.json"

echo "wrk -t$THREADS -c$CONNECTIONS -d${SECONDS_PER_RUN}s, $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
run "nginx static services-get" http://127.0.0.1:18082/services-get.json "$WORK/services-get.json"
run "gateway sqlite services-get" http://127.0.0.1:18080/.well-known/openpeer-services-get "$WORK/services-get.json"
run "gateway sqlite certificates-get" http://127.0.0.1:18080/openpeer/certificates/certificates-get "$WORK/certificates-get.json"
run "gateway postgres services-get" http://127.0.0.1:18081/.well-known/openpeer-services-get "$WORK/services-get.json"
run "gateway postgres certificates-get" http://127.0.0.1:18081/openpeer/certificates/certificates-get "$WORK/certificates-get.json"
run "gateway sqlite signed-salt-get (sign + insert)" http://127.0.0.1:18080/openpeer/salt/signed-salt-get "$WORK/signed-salt-get.json"
run "gateway postgres signed-salt-get (sign + insert)" http://127.0.0.1:18081/openpeer/salt/signed-salt-get "$WORK/signed-salt-get.json"
