from django.apps import AppConfig


class CrmProjectConfig(AppConfig):
    name = "crm_project"
    verbose_name = "CRM"

    def ready(self) -> None:
        from accounts.registry import audit_labels
        from crm_project.audit import ACCESS_LABELS

        audit_labels.register(ACCESS_LABELS)
