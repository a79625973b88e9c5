"""The CRM project: settings, URL map, Celery app and the API plumbing shared by every app."""

from crm_project.celery import app as celery_app

__all__ = ["celery_app"]
