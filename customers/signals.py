"""Domain signals of the customers layer; higher apps subscribe from their own `AppConfig.ready()`.

Every signal is sent inside the writing transaction, after the change, so a receiver that fails rolls
the whole change back (a merge never leaves contracts behind on the merged customer).
"""

from django.dispatch import Signal

# sender=Customer, survivor=Customer, duplicate=Customer, actor=User|None, request=HttpRequest|None.
# Receivers move their rows from `duplicate` to `survivor` and return a dict {label: count} for the audit entry.
customer_merged = Signal()

# sender=Customer, customer=Customer, old=int, new=int, reason=str, actor=User|None.
customer_status_changed = Signal()

# sender=Customer, customer=Customer, actor=User|None: the customer was soft-deleted.
customer_deleted = Signal()

# sender=any, customer=Customer, title=str, description=str, goal=str ("renewal", "upsell", "training",
# "satisfaction"), due_date=datetime|None, actor=User|None: a higher app (segments' campaigns) asks for a success
# task for a CSM; success_tasks answers with the created task (the sender reads it from the responses).
success_task_requested = Signal()
