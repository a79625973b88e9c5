"""Signals of the service_records layer, for the apps above it (health, success_tasks, portal).

Both are sent inside the writing transaction, after the change.
"""

from django.dispatch import Signal

# sender=ServiceRecord, record=ServiceRecord, kind="response"|"resolution", customer=Customer.
# Sent once per ticket and kind, when its breach flag first turns true (ingest, edit or the scan).
sla_breached = Signal()

# sender=ServiceRecord, record=ServiceRecord, customer=Customer, actor=User|None: a satisfaction rating
# arrived or changed (ticket system, staff entry or, later, the portal).
rating_received = Signal()

# sender=NpsResponse, response=NpsResponse, customer=Customer, actor=User|None: an NPS answer was recorded.
nps_received = Signal()
