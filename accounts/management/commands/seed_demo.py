"""Create the demo tenant and users when the database has no tenant yet (used by `make run`)."""

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand

from accounts.models import Tenant
from accounts.roles import CS_LEAD, CSM, FINANCE, VIEWER
from accounts.services import tenant_create, user_create
from accounts.tenancy import tenant_scope

DEMO_TENANT = "Demo IT Services"
DEMO_USERS = [
    ("lead", CS_LEAD, "李静 Li Jing"),
    ("csm", CSM, "王磊 Wang Lei"),
    ("csm2", CSM, "陈晓 Chen Xiao"),
    ("finance", FINANCE, "赵敏 Zhao Min"),
    ("viewer", VIEWER, "周宁 Zhou Ning"),
]


class Command(BaseCommand):
    help = "Create the demo tenant with one user per role, only when the database holds no tenant."

    def add_arguments(self, parser):
        parser.add_argument("--force", action="store_true", help="seed even if tenants exist (skips existing ones)")

    def handle(self, *args, force=False, **options):
        password = settings.CRM_DEMO_PASSWORD
        if Tenant.objects.exists() and not force:
            self.stdout.write("Database already holds data; demo seeding skipped.")
            return
        if Tenant.objects.filter(name=DEMO_TENANT).exists():
            self.stdout.write("Demo tenant exists; nothing to do.")
            return
        tenant = tenant_create(name=DEMO_TENANT, admin_username="admin", admin_password=password)
        with tenant_scope(tenant):
            for username, role, name in DEMO_USERS:
                user_create(
                    tenant=tenant,
                    username=username,
                    password=password,
                    role=role,
                    display_name=name,
                    email=f"{username}@demo.example",
                )
        # Later apps hook their demo data in here (customers, contracts, ...).
        demo_steps = getattr(settings, "CRM_DEMO_DATA_COMMANDS", [])
        for command, kwargs in demo_steps:
            call_command(command, tenant=DEMO_TENANT, **kwargs)
        # Then every app's registered history (contracts, tickets, communications, usage, health): accounts.registry.
        from accounts.registry import run_demo_steps

        run_demo_steps(tenant, log=self.stdout.write)
        self.stdout.write(self.style.SUCCESS(f"Demo tenant '{DEMO_TENANT}' created."))
