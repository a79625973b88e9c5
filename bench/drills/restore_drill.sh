#!/usr/bin/env bash
# Drill: the demo data set (seed_demo) → encrypted backup → restore into a scratch database → every table's row
# count and checksum compared (manage.py restore_drill). Temporary SQLite database unless DRILL_DATABASE_URL.
#   bench/drills/restore_drill.sh
#   DRILL_DATABASE_URL=mysql://root@127.0.0.1:3306/crm_scale_restore bench/drills/restore_drill.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
PY=.venv/bin/python
WORK="$(mktemp -d /tmp/crm-restore-XXXXXX)"
export CRM_DATA_DIR="$WORK" SECRET_KEY=drill
export DATABASE_URL="${DRILL_DATABASE_URL:-sqlite:///$WORK/source.sqlite3}"
export CRM_BACKUP_KEY="$($PY manage.py backup --generate-key)"
if [[ "$DATABASE_URL" == mysql://* ]]; then
  db="${DATABASE_URL##*/}"
  mysql -uroot -h127.0.0.1 -e "DROP DATABASE IF EXISTS \`$db\`; CREATE DATABASE \`$db\` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"
fi
$PY manage.py migrate --noinput -v0
$PY manage.py seed_demo 2>&1 | tail -2
$PY manage.py backup --output "$WORK/demo.crmbk"
ls -l "$WORK/demo.crmbk"
$PY manage.py restore_drill
rm -rf "$WORK"
