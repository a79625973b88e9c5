"""`manage.py portal_invite --customer CODE --email ADDRESS [--print-link]`: invite a contact to the portal."""

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from accounts.tenancy import tenant_scope, unscoped
from customers.models import Customer
from portal import services


class Command(BaseCommand):
    help = "Invite a customer's contact to the portal (e-mail with a one-time link valid 72 hours)."

    def add_arguments(self, parser):
        parser.add_argument("--customer", required=True, help="customer code")
        parser.add_argument("--email", required=True, help="the contact's e-mail address")
        parser.add_argument("--print-link", action="store_true", help="print the one-time link")

    def handle(self, *args, customer, email, print_link, **options):
        with unscoped("an operator names the customer by its code"):
            found = list(Customer.objects.alive().select_related("tenant").filter(customer_code=customer)[:2])
        if not found:
            raise CommandError(f"No customer with code {customer!r}.")
        if len(found) > 1:
            raise CommandError(f"More than one tenant has a customer with code {customer!r}.")
        target = found[0]
        with tenant_scope(target.tenant):
            try:
                _account, path = services.account_invite(actor=None, customer=target, email=email)
            except ValidationError as exc:
                raise CommandError("; ".join(m for errors in exc.message_dict.values() for m in errors)) from exc
        self.stdout.write(f"Invited {email.strip().lower()} to the portal of {target.customer_code}.")
        if print_link:
            self.stdout.write((getattr(settings, "PORTAL_BASE_URL", "") or "") + path)
