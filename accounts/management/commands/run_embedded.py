"""Start the web server and the background worker + scheduler together; Ctrl-C stops them all."""

import os
import signal
import subprocess
import sys
import time

from django.conf import settings
from django.core.management.base import BaseCommand

from accounts.management.commands.seed_demo import DEMO_TENANT, DEMO_USERS


class Command(BaseCommand):
    help = "Run web (gunicorn) and Celery worker with beat in one terminal (embedded mode needs no Redis)."

    def add_arguments(self, parser):
        parser.add_argument("--addr", default="127.0.0.1:8000")

    def handle(self, *args, addr, **options):
        python = sys.executable
        env = os.environ.copy()
        commands = {
            # gunicorn rather than runserver: no development-server banner, real worker processes.
            "web": [
                python,
                "-m",
                "gunicorn",
                "-c",
                "crm_project/gunicorn.conf.py",
                "crm_project.wsgi",
                "--bind",
                addr,
                # One process with threads: the embedded cache (lockout counters, page cache) is in-process memory.
                "--workers",
                "1",
                "--threads",
                "8",
                "--worker-class",
                "gthread",
                "--access-logfile",
                "-",
            ],
            "worker": [
                python,
                "-m",
                "celery",
                "-A",
                "crm_project",
                "worker",
                "--beat",
                "--pool=solo",
                "--loglevel=INFO",
                "--schedule",
                settings.CELERY_BEAT_SCHEDULE_FILENAME,
            ],
        }
        processes = {name: subprocess.Popen(cmd, env=env) for name, cmd in commands.items()}
        mode = "embedded (SQLite/filesystem broker)" if settings.CELERY_EMBEDDED else "Redis broker"
        password = settings.CRM_DEMO_PASSWORD
        logins = ", ".join(["admin"] + [username for username, _role, _name in DEMO_USERS])
        self.stdout.write(
            self.style.SUCCESS(
                f"\nCRM is running at http://{addr}/  (admin: http://{addr}/admin/, API docs: http://{addr}/api/v1/docs/)\n"
                f"Background jobs: {mode}.\n"
                f"Demo tenant '{DEMO_TENANT}': users {logins}, password '{password}'.\n"
                "Press Ctrl-C to stop.\n"
            )
        )
        stopping = False

        def stop(*_args):
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGTERM, stop)
        exit_code = 0
        try:
            while not stopping:
                for name, proc in processes.items():
                    if proc.poll() is not None:
                        self.stderr.write(f"{name} exited with code {proc.returncode}; stopping the rest.")
                        exit_code = proc.returncode or 1
                        stopping = True
                        break
                time.sleep(0.5)
        finally:
            for proc in processes.values():
                if proc.poll() is None:
                    proc.send_signal(signal.SIGTERM)
            deadline = time.time() + 10
            for proc in processes.values():
                try:
                    proc.wait(timeout=max(0.1, deadline - time.time()))
                except subprocess.TimeoutExpired:
                    proc.kill()
            self.stdout.write("Stopped.")
        sys.exit(exit_code)
