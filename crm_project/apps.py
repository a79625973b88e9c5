from django.apps import AppConfig


class CrmProjectConfig(AppConfig):
    name = "crm_project"
    verbose_name = "CRM"
