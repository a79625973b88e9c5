"""The Celery app. Production: Redis broker and results. Embedded (no REDIS_URL): a folder on disk is the broker."""

import os

from celery import Celery
from celery.schedules import crontab

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "crm_project.settings")

app = Celery("crm_project")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

# Each entry fans out one task per active tenant (see accounts.tasks.fan_out) unless it is global.
app.conf.beat_schedule = {
    "purge-read-notifications": {
        "task": "accounts.tasks.fan_out",
        "schedule": crontab(minute=17),
        "args": ("accounts.tasks.purge_read_notifications",),
    },
    "expire-contracts": {
        "task": "accounts.tasks.fan_out",
        "schedule": crontab(hour=0, minute=30),
        "args": ("contracts.tasks.expire_contracts",),
    },
    "renewal-reminders": {
        "task": "accounts.tasks.fan_out",
        "schedule": crontab(hour=8, minute=0),
        "args": ("contracts.tasks.send_renewal_reminders",),
    },
    "flush-expired-tokens": {
        "task": "accounts.tasks.flush_expired_tokens",
        "schedule": crontab(hour=3, minute=5),
    },
}
