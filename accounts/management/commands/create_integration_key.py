from django.core.management.base import BaseCommand, CommandError

from accounts.integration import integration_key_create
from accounts.models import Tenant


class Command(BaseCommand):
    help = "Create an integration key pair for a tenant; prints `KEY_ID SECRET` (the secret is shown only here)."

    def add_arguments(self, parser):
        parser.add_argument("--tenant", required=True, help="tenant name")
        parser.add_argument("--name", default="", help="what the key is for, e.g. finance system")

    def handle(self, *args, tenant, name, **options):
        tenant_obj = Tenant.objects.filter(name=tenant).first()
        if tenant_obj is None:
            raise CommandError(f"Tenant '{tenant}' does not exist.")
        key, secret = integration_key_create(tenant=tenant_obj, name=name)
        self.stdout.write(f"{key.key_id} {secret}")
