from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from accounts.services import TenantExists, tenant_create


class Command(BaseCommand):
    help = "Create a tenant with its first administrator. Running it again with the same name changes nothing."

    def add_arguments(self, parser):
        parser.add_argument("--name", required=True)
        parser.add_argument("--admin-username", required=True)
        parser.add_argument("--admin-password", required=True)

    def handle(self, *args, name, admin_username, admin_password, **options):
        try:
            tenant = tenant_create(name=name, admin_username=admin_username, admin_password=admin_password)
        except TenantExists:
            self.stdout.write(f"Tenant '{name.strip()}' already exists; nothing changed.")
            return
        except ValidationError as exc:
            raise CommandError("; ".join(exc.messages)) from exc
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(
            self.style.SUCCESS(f"Created tenant '{tenant.name}' (id {tenant.pk}) with admin '{admin_username}'.")
        )
