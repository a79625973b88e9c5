import os
import subprocess
import sys
from pathlib import Path

import pytest

from crm_project.env import ConfigError, env_bool, env_int, parse_database_url, parse_redis_url

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("raw", ["yes", "1", "on", "True ", "ture"])
def test_bool_refuses_anything_but_true_or_false(monkeypatch, raw):
    monkeypatch.setenv("SOME_FLAG", raw)
    if raw.strip().lower() == "true":
        assert env_bool("SOME_FLAG", False) is True
    else:
        with pytest.raises(ConfigError, match="SOME_FLAG"):
            env_bool("SOME_FLAG", False)


def test_int_names_the_variable(monkeypatch):
    monkeypatch.setenv("EMAIL_PORT", "twenty-five")
    with pytest.raises(ConfigError, match="EMAIL_PORT"):
        env_int("EMAIL_PORT", 25)


def test_database_url_mysql_uses_utf8mb4():
    config = parse_database_url("DATABASE_URL", "mysql://crm:s%40cret@db.local:3307/crm")
    assert config["ENGINE"] == "django.db.backends.mysql"
    assert (config["USER"], config["PASSWORD"], config["HOST"], config["PORT"]) == ("crm", "s@cret", "db.local", "3307")
    assert config["OPTIONS"]["charset"] == "utf8mb4"
    assert config["TEST"]["CHARSET"] == "utf8mb4"


def test_database_url_sqlite_relative_and_absolute():
    assert parse_database_url("DATABASE_URL", "sqlite:///data/x.sqlite3")["NAME"] == "data/x.sqlite3"
    assert parse_database_url("DATABASE_URL", "sqlite:////tmp/x.sqlite3")["NAME"] == "/tmp/x.sqlite3"


@pytest.mark.parametrize("url", ["postgres://x/y", "mysql://", "nonsense", "mysql://host:notaport/db"])
def test_bad_database_url_names_the_variable(url):
    with pytest.raises(ConfigError, match="DATABASE_URL"):
        parse_database_url("DATABASE_URL", url)


@pytest.mark.parametrize("url", ["http://localhost:6379", "redis://", "localhost:6379"])
def test_bad_redis_url_names_the_variable(url):
    with pytest.raises(ConfigError, match="REDIS_URL"):
        parse_redis_url("REDIS_URL", url)


@pytest.mark.parametrize(
    ("name", "value"),
    [("DEBUG", "maybe"), ("DATABASE_URL", "oracle://x/y"), ("REDIS_URL", "http://x"), ("TIME_ZONE", "Mars/Olympus")],
)
def test_start_fails_with_a_message_naming_the_variable(tmp_path, name, value):
    env = {**os.environ, name: value, "CRM_DATA_DIR": str(tmp_path)}
    result = subprocess.run(
        [sys.executable, "manage.py", "check"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode != 0
    assert name in result.stderr
