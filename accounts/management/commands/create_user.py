from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from accounts.models import Tenant
from accounts.roles import ROLE_CODES
from accounts.services import user_create


class Command(BaseCommand):
    help = "Create a staff user in a tenant with one role."

    def add_arguments(self, parser):
        parser.add_argument("--tenant", required=True, help="tenant name")
        parser.add_argument("--username", required=True)
        parser.add_argument("--password", required=True)
        parser.add_argument("--role", required=True, choices=ROLE_CODES)
        parser.add_argument("--email", default="")
        parser.add_argument("--display-name", default="")

    def handle(self, *args, tenant, username, password, role, email, display_name, **options):
        tenant_obj = Tenant.objects.filter(name=tenant).first()
        if tenant_obj is None:
            raise CommandError(f"Tenant '{tenant}' does not exist.")
        try:
            user = user_create(
                tenant=tenant_obj,
                username=username,
                password=password,
                role=role,
                email=email,
                display_name=display_name,
            )
        except ValidationError as exc:
            raise CommandError("; ".join(exc.messages)) from exc
        self.stdout.write(self.style.SUCCESS(f"Created user '{user.username}' ({role}) in tenant '{tenant_obj.name}'."))
