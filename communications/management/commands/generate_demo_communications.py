"""Give a tenant's customers a realistic communication history (for demos and manual testing).

    python manage.py generate_demo_communications --tenant "Demo IT Services" [--per-customer 6] [--seed 7]

Texts come from the labelled notes shipped with the analyser (Chinese and English, positive, neutral and
negative), dated over the last 180 days and analysed like any other communication. Run it again to add more.
`call_command("generate_demo_communications", tenant=NAME)` works as well (CRM_DEMO_DATA_COMMANDS).
"""

from __future__ import annotations

import random
from datetime import timedelta

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from accounts.models import Tenant, User
from accounts.tenancy import tenant_scope
from communications import services
from communications.choices import CommunicationType, Direction, Importance
from communications.nlp.evaluation import load_notes
from customers.models import Customer


class Command(BaseCommand):
    help = "Generate demo communications for the customers of a tenant."

    def add_arguments(self, parser):
        parser.add_argument("--tenant", required=True)
        parser.add_argument("--per-customer", type=int, default=6)
        parser.add_argument("--seed", type=int, default=7)

    def handle(self, *args, tenant, per_customer=6, seed=7, **options):
        target = Tenant.objects.filter(name=tenant).first()
        if target is None:
            raise CommandError(f"No tenant named {tenant!r}")
        rng = random.Random(seed)
        notes = load_notes()
        created = 0
        now = timezone.now()
        with tenant_scope(target):
            fallback = User.objects.filter(tenant=target, is_active=True).order_by("pk").first()
            customers = Customer.objects.alive().select_related("assigned_manager").prefetch_related("contacts")
            for customer in customers:
                staff = customer.assigned_manager or fallback
                if staff is None:
                    continue
                contacts = list(customer.contacts.all())
                for _ in range(rng.randint(1, per_customer)):
                    note = rng.choice(notes)
                    services.communication_create(
                        actor=staff,
                        customer=customer,
                        data={
                            "communication_type": rng.choice(CommunicationType.values),
                            "direction": rng.choice(Direction.values),
                            "subject": note.text[:24],
                            "content": note.text,
                            "duration_minutes": rng.choice([None, 10, 15, 30, 45, 60]),
                            "importance": rng.choice(Importance.values),
                            "contact": rng.choice(contacts) if contacts else None,
                            "communication_date": now
                            - timedelta(days=rng.randint(0, 180), minutes=rng.randint(0, 600)),
                        },
                    )
                    created += 1
        self.stdout.write(self.style.SUCCESS(f"{created} communications created."))
