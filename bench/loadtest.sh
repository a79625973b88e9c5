#!/usr/bin/env bash
# `make loadtest`: the load test of issue 16 against production-style processes on loopback, then everything stops.
#   1. bench/locustfile.py --prepare (its own tenant "Load Tenant", users, portal accounts, integration key)
#   2. gunicorn (2 sync workers) + one Celery worker on 127.0.0.1, DEBUG off
#   3. locust headless: LOADTEST_USERS (500) users, LOADTEST_SPAWN_RATE (25/s), LOADTEST_DURATION (10m);
#      CSV stats in data/loadtest/, load average every 30 s in data/loadtest/uptime.log
# Needs DATABASE_URL (MariaDB) and REDIS_URL. Run it under the shared lock: flock /work/wt/bench.lock make loadtest
set -euo pipefail
cd "$(dirname "$0")/.."
: "${DATABASE_URL:?set DATABASE_URL, e.g. mysql://root@127.0.0.1:3306/crm_scaleops}"
: "${REDIS_URL:?set REDIS_URL, e.g. redis://127.0.0.1:6379/5}"
USERS="${LOADTEST_USERS:-500}"
SPAWN="${LOADTEST_SPAWN_RATE:-25}"
DURATION="${LOADTEST_DURATION:-10m}"
PORT="${LOADTEST_PORT:-8055}"
OUT=data/loadtest
BIN=.venv/bin
mkdir -p "$OUT"
export DEBUG=false LOG_LEVEL=WARNING PYTHONUNBUFFERED=1
# Every simulated user comes from 127.0.0.1: the per-IP limit (meant for one client) is lifted, the per-user one kept.
export API_RATE_IP=1000000/min

$BIN/python bench/locustfile.py --prepare
$BIN/python manage.py collectstatic --noinput -v0

pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap cleanup EXIT INT TERM
$BIN/celery -A crm_project worker --loglevel=WARNING --concurrency=1 >"$OUT/celery.log" 2>&1 &
pids+=($!)
$BIN/gunicorn -c crm_project/gunicorn.conf.py crm_project.wsgi --bind "127.0.0.1:$PORT" --workers 2 \
  --worker-class sync --timeout 60 --log-level warning >"$OUT/gunicorn.log" 2>&1 &
pids+=($!)
for _ in $(seq 1 120); do curl -fs "http://127.0.0.1:$PORT/healthz" >/dev/null && break; sleep 0.5; done
curl -fs "http://127.0.0.1:$PORT/healthz" >/dev/null || { echo "gunicorn did not answer"; exit 1; }

echo "load before: $(uptime)" | tee "$OUT/uptime.log"
(while sleep 30; do uptime; done) >>"$OUT/uptime.log" &
pids+=($!)
$BIN/locust -f bench/locustfile.py --headless --users "$USERS" --spawn-rate "$SPAWN" --run-time "$DURATION" \
  --host "http://127.0.0.1:$PORT" --csv "$OUT/locust" --only-summary --stop-timeout 30 2>&1 | tee "$OUT/locust.txt"
echo "load after: $(uptime)" | tee -a "$OUT/uptime.log"
