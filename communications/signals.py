"""Domain signals of the communications layer; health and success_tasks subscribe from their own `ready()`.

Both are sent after the write commits (`transaction.on_commit`), so a receiver sees the stored rows.
"""

from django.dispatch import Signal

# sender=Communication, communication=Communication, customer=Customer, sentiment=int|None (1 negative,
# 2 neutral, 3 positive), score=float, needs=[{"tag": "renewal_risk", "evidence": "不续约"}, ...],
# created=bool (False after an edit or a re-analysis).
communication_logged = Signal()

# sender=FollowUp, follow_up=FollowUp, customer=Customer, staff=User: the follow-up is overdue and its owner
# has just been reminded (sent once per follow-up).
follow_up_due = Signal()
