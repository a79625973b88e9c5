# Two commands do everything: `make run` and `make test`. See README.md.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
MYSQL_STAMP := $(VENV)/.installed-mysql
WANT_MYSQL := $(if $(filter mysql://% mariadb://%,$(DATABASE_URL)),$(MYSQL_STAMP),)

.PHONY: run test lint format migrate demo bench bench-batch loadtest run-prod messages clean venv

venv: $(STAMP) $(WANT_MYSQL)

$(STAMP): requirements.txt requirements-dev.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt
	touch $@

$(MYSQL_STAMP): requirements-mysql.txt $(STAMP)
	$(BIN)/python -m pip install --quiet -r requirements-mysql.txt
	touch $@

migrate: venv
	$(BIN)/python manage.py migrate --noinput

demo: migrate
	$(BIN)/python manage.py seed_demo

## Web server on 127.0.0.1:8000 plus the background worker and scheduler; Ctrl-C stops everything.
run: demo
	$(BIN)/python manage.py run_embedded

## The whole suite (browser tests included when Chromium is installed).
test: venv
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports --no-cache

format: venv
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

## Production-style processes: gunicorn + Celery worker + beat (needs DATABASE_URL and REDIS_URL).
run-prod: venv
	@test -n "$(REDIS_URL)" || { echo "run-prod needs REDIS_URL (and DATABASE_URL for MySQL)"; exit 2; }
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py collectstatic --noinput -v0
	trap 'kill 0' INT TERM EXIT; \
	$(BIN)/celery -A crm_project worker --loglevel=INFO --concurrency=2 & \
	$(BIN)/celery -A crm_project beat --loglevel=INFO --schedule data/celerybeat-schedule & \
	$(BIN)/gunicorn -c crm_project/gunicorn.conf.py crm_project.wsgi --bind 127.0.0.1:8000 --workers 2 --access-logfile - & \
	wait

bench: venv
	$(BIN)/python bench/run.py
	DATABASE_URL=$${DATABASE_URL:-sqlite:///data/bench.sqlite3} $(BIN)/python bench/cold_list.py

## Batch operations on 1,000 customers of the bench tenant (make it first with `bench/run.py --skip-http`).
bench-batch: venv
	$(BIN)/python bench/batch_bench.py

## Locust, 500 users for 10 minutes against gunicorn + Celery on loopback (needs DATABASE_URL and REDIS_URL).
loadtest: venv
	$(BIN)/python -c "import locust" 2>/dev/null || $(BIN)/python -m pip install --quiet -r requirements-bench.txt
	bench/loadtest.sh

## Refresh the translation catalogs after changing strings (needs GNU gettext).
messages: venv
	$(BIN)/python manage.py makemessages -l zh_Hans -l en --ignore '.venv/*' --ignore 'staticfiles/*' --no-obsolete
	$(BIN)/python manage.py compilemessages --ignore '.venv/*'

clean:
	rm -rf $(VENV) staticfiles .pytest_cache .ruff_cache
