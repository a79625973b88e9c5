#!/usr/bin/env bash
# Drill (PRD 8): a Celery worker is killed with SIGKILL in the middle of nightly health scoring; the rerun
# completes and the day has exactly one score row per customer (none missing, none doubled).
#
#   bench/drills/worker_sigkill.sh [CUSTOMERS]          (default 3000; SQLite file in a temp folder)
#   DRILL_DATABASE_URL=mysql://root@127.0.0.1:3306/crm_scale_drill bench/drills/worker_sigkill.sh
#   DRILL_BROKER_URL=amqp://guest:guest@127.0.0.1:5672// bench/drills/worker_sigkill.sh   (RabbitMQ broker)
#
# Needs Redis (or RabbitMQ) on loopback. Uses Redis DB 9 by default and its own data folder; touches nothing else.
set -euo pipefail
cd "$(dirname "$0")/../.."
CUSTOMERS="${1:-3000}"
PY=.venv/bin/python
WORK="$(mktemp -d /tmp/crm-drill-XXXXXX)"
export CRM_DATA_DIR="$WORK"
export REDIS_URL="${DRILL_REDIS_URL:-redis://127.0.0.1:6379/9}"
export CELERY_BROKER_URL="${DRILL_BROKER_URL:-$REDIS_URL}"
export DATABASE_URL="${DRILL_DATABASE_URL:-sqlite:///$WORK/drill.sqlite3}"
export SECRET_KEY=drill-secret DB_CONN_MAX_AGE=0
if [[ "$DATABASE_URL" == mysql://* ]]; then
  db="${DATABASE_URL##*/}"
  mysql -uroot -h127.0.0.1 -e "DROP DATABASE IF EXISTS \`$db\`; CREATE DATABASE \`$db\` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"
fi
WORKER_PID=""
cleanup() { [[ -n "$WORKER_PID" ]] && kill -9 "$WORKER_PID" 2>/dev/null || true; }
trap cleanup EXIT

echo "== setup: $CUSTOMERS customers, database $DATABASE_URL, broker $CELERY_BROKER_URL"
$PY manage.py migrate --noinput -v0
$PY manage.py create_tenant --name "Drill Ops" --admin-username drilladmin --admin-password 'drill-pass-2025' >/dev/null
$PY manage.py generate_demo --tenant "Drill Ops" --customers "$CUSTOMERS" --seed 7
# Contracts, tickets, communications and usage for those customers (the score history step is left out: the
# drill scores today only).
$PY manage.py shell -c "
import random
from accounts.models import Tenant
from accounts.registry import demo_steps
from accounts.tenancy import tenant_scope
tenant = Tenant.objects.get(name='Drill Ops')
rng, context = random.Random(7), {}
with tenant_scope(tenant):
    for step in demo_steps:
        if step.key != 'health_history':
            print('demo step', step.key, step.run(tenant, rng, context))
" | cut -c1-160
$PY -m celery -A crm_project purge -f >/dev/null 2>&1 || true

counts() {
  $PY manage.py shell 2>/dev/null -c "
from django.db import connection
from django.utils import timezone
from accounts.tenancy import unscoped
from customers.models import Customer
from health.models import CustomerHealthScore
day = timezone.localdate()
with unscoped('drill'):
    customers = Customer.objects.filter(deleted_at__isnull=True).count()
    rows = CustomerHealthScore.objects.filter(score_date=day).count()
    dup = CustomerHealthScore.objects.filter(score_date=day).values('customer_id').annotate(n=__import__('django').db.models.Count('id')).filter(n__gt=1).count()
print(f'customers={customers} score_rows_today={rows} customers_with_duplicate_rows={dup}')
"
}

echo "== start a worker (prefork, 1 process) and queue the scoring job"
PYTHONPATH="bench/drills:." $PY -m celery -A drill_app worker --loglevel=INFO --concurrency=1 --without-mingle \
  --without-gossip >"$WORK/worker.log" 2>&1 &
WORKER_PID=$!
for _ in $(seq 1 60); do grep -q "ready" "$WORK/worker.log" && break; sleep 0.5; done
$PY manage.py shell -c "
from accounts.models import Tenant
from health.tasks import score_customers
tenant = Tenant.objects.get(name='Drill Ops')
print('queued', score_customers.apply_async((tenant.pk,)).id)
"
# Wait until some chunks are committed (scoring runs in chunks of DRILL_CHUNK customers), then kill the worker
# and its pool child with SIGKILL: no warm shutdown, no chance to finish the chunk in flight.
$PY manage.py shell -c "
import time
from django.utils import timezone
from accounts.tenancy import unscoped
from health.models import CustomerHealthScore
with unscoped('drill'):
    for _ in range(1200):
        n = CustomerHealthScore.objects.filter(score_date=timezone.localdate()).count()
        if n > 0:
            print('rows committed when the kill is sent:', n)
            break
        time.sleep(0.05)
"
CHILDREN=$(pgrep -P "$WORKER_PID" || true)
kill -9 "$WORKER_PID" $CHILDREN 2>/dev/null || true
wait "$WORKER_PID" 2>/dev/null || true
WORKER_PID=""
echo "== after SIGKILL mid-scoring:"
counts
show_runs() {
  $PY manage.py shell -c "
from accounts.models import JobRun
from accounts.tenancy import unscoped
with unscoped('drill'):
    for run in JobRun.objects.filter(job_name='score_customers').order_by('pk'):
        print(run.pk, run.status, run.started_at, run.heartbeat_at, run.finished_at, run.error[:90])
" 2>/dev/null || true
}
echo "== the job run record of the killed run (still running: nobody closed it):"
show_runs
# The sweeper (beat runs it every 10 minutes, threshold JOB_ABANDONED_AFTER_SECONDS, 900 s) finds the silent run;
# the drill shortens the threshold to 2 s instead of waiting 15 minutes.
sleep 3
echo "== sweeper (manage.py run_job sweep_job_runs, threshold 2 s):"
JOB_ABANDONED_AFTER_SECONDS=2 $PY manage.py run_job sweep_job_runs 2>/dev/null
show_runs
echo "== rerun (manage.py run_job score_customers):"
$PY manage.py run_job score_customers --tenant "Drill Ops" 2>/dev/null | tee "$WORK/rerun.txt"
scored=$(grep -o '"scored": [0-9]*' "$WORK/rerun.txt" | grep -o '[0-9]*$')
echo "== after the rerun (the rerun scored $scored customers):"
after=$(counts | tail -1); echo "$after"
echo "== rerun once more (idempotent: same day, still one row per customer):"
$PY manage.py run_job score_customers --tenant "Drill Ops" >/dev/null 2>&1
again=$(counts | tail -1); echo "$again"
if [[ "$after" == *"score_rows_today=$scored customers_with_duplicate_rows=0"* && "$again" == "$after" ]]; then
  echo "DRILL PASSED: one row per scored customer for today, no duplicates, none missing"
else
  echo "DRILL FAILED"; exit 1
fi
rm -rf "$WORK"
