"""Volume step of communications (`manage.py generate_volume`): calls, e-mails, meetings and chats over the last
`plan.months` months whose sentiment follows the latent health.

Per customer: a multinomial split of the target with weight activity (log-normal) x level x status (formal 1,
potential 0.35, lost 0.5 and only until its contract ended) x (0.8 + 0.6 x (1 - latent health)): unhealthy
customers are talked to more. Dates: 85 % on weekdays, office hours. Sentiment: negative with probability
0.8 x (1 - h), positive 0.6 x h, neutral otherwise. The contact is one of the customer's contacts, the staff member
its account manager. A rerun tops each customer up to its target (existing live rows count). Afterwards the
customers' last contact date is refreshed set-based.
"""

from __future__ import annotations

import numpy as np
from django.db.models import Count, Max, OuterRef, Subquery

from accounts.models import User
from accounts.tenancy import current_tenant
from accounts.volume import VolumePlan, chunked_write, dt_text, insert_rows, multinomial_counts, office_times
from communications.choices import CommunicationType, Direction, Importance, Sentiment
from communications.models import Communication
from communications.services import FUTURE_SLACK
from customers import services as customer_services
from customers.choices import CustomerStatus
from customers.volume import Frame, pick_contacts

SUBJECTS = {
    Sentiment.NEGATIVE: [
        "投诉：故障反复出现",
        "对服务响应不满",
        "Considering other vendors",
        "续约价格异议",
        "SLA 未达标",
    ],
    Sentiment.NEUTRAL: ["月度例会", "Quarterly review", "工单进展同步", "巡检报告确认", "账单核对"],
    Sentiment.POSITIVE: ["感谢快速响应", "Great support this month", "讨论扩容需求", "推荐新客户", "续约意向确认"],
}
BODIES = [
    "客户反馈本月运维情况，双方确认下阶段工作计划。",
    "Discussed open tickets, the maintenance window and the next quarterly review.",
    "对接人说明了业务高峰期的保障需求，我方将提供值守方案。",
    "回顾上月 SLA 达成情况与满意度评分，约定改进措施并跟进。",
    "Customer asked about pricing for additional nodes and the renewal terms.",
]
OUTCOMES = ["", "", "已确认", "待客户反馈", "需内部评审", "Follow-up scheduled"]
COLUMNS = [
    "tenant_id",
    "customer_id",
    "contact_id",
    "communication_type",
    "direction",
    "subject",
    "content",
    "duration_minutes",
    "outcome",
    "sentiment",
    "importance",
    "staff_id",
    "communication_date",
    "created_at",
    "updated_at",
]
STATUS_FACTOR = {CustomerStatus.FORMAL: 1.0, CustomerStatus.POTENTIAL: 0.35, CustomerStatus.LOST: 0.5}


def run(tenant, plan: VolumePlan, frame: Frame) -> dict:
    rng = plan.rng("communications")
    window_s = int(plan.months * 30.44 * 86400)
    until = frame.active_until_s()
    start = np.maximum(until - window_s, frame.created_s)
    status_factor = np.vectorize(lambda s: STATUS_FACTOR.get(int(s), 1.0), otypes=[float])(frame.status)
    weight = frame.activity * frame.level_factor * status_factor * (0.8 + 0.6 * (1 - frame.latent))
    weight = weight * np.clip((until - start) / window_s, 0, 1)
    existing = np.zeros(len(frame), dtype=np.int64)
    have = dict(Communication.objects.alive().values_list("customer_id").annotate(n=Count("id")).order_by())
    if have:
        existing[frame.index_of(np.fromiter(have, dtype=np.int64))] = np.fromiter(have.values(), dtype=np.int64)
    # The rows still missing, split by weight (a first run splits the whole target; a rerun adds nothing).
    need = multinomial_counts(rng, max(0, plan.communications - int(existing.sum())), weight)
    target = existing + need
    fallback = User.objects.filter(tenant=tenant, is_active=True).order_by("pk").values_list("pk", flat=True).first()
    tenant_id = current_tenant().pk
    subjects = {int(k): v for k, v in SUBJECTS.items()}
    types = np.array([int(t) for t in CommunicationType])
    timed = {int(CommunicationType.PHONE), int(CommunicationType.MEETING)}

    def write(ids, number):
        r = plan.rng("communications", int(ids[0]))
        at = frame.index_of(ids)
        row_at = np.repeat(at, need[at])
        n = len(row_at)
        if n == 0:
            return 0
        when = office_times(r, start[row_at], until[row_at], frame.utc_offset_s)
        h = frame.latent[row_at]
        roll = r.random(n)
        sentiment = np.where(
            roll < 0.8 * (1 - h),
            int(Sentiment.NEGATIVE),
            np.where(roll > 1 - 0.6 * h, int(Sentiment.POSITIVE), int(Sentiment.NEUTRAL)),
        )
        kind = r.choice(types, n, p=[0.35, 0.4, 0.1, 0.15])
        direction = np.where(r.random(n) < 0.45, int(Direction.INBOUND), int(Direction.OUTBOUND))
        importance = np.where(sentiment == int(Sentiment.NEGATIVE), int(Importance.HIGH), int(Importance.MEDIUM))
        duration = np.maximum(1, r.lognormal(2.7, 0.6, n)).astype(np.int64)
        contact = pick_contacts(frame, r, row_at)
        staff = np.where(frame.manager[row_at] > 0, frame.manager[row_at], fallback or 0)
        pick = r.integers(0, 5, n)
        body = r.integers(0, len(BODIES), n)
        outcome = r.integers(0, len(OUTCOMES), n)
        when_t = dt_text(when)
        cust = frame.ids[row_at].tolist()
        rows = []
        for k in range(n):
            s = int(sentiment[k])
            subject = subjects[s][pick[k]]
            t = int(kind[k])
            rows.append(
                (
                    tenant_id,
                    cust[k],
                    int(contact[k]) or None,
                    t,
                    int(direction[k]),
                    subject,
                    f"{subject}。{BODIES[body[k]]}",
                    int(duration[k]) if t in timed else None,
                    OUTCOMES[outcome[k]],
                    s,
                    int(importance[k]),
                    int(staff[k]),
                    when_t[k],
                    when_t[k],
                    when_t[k],
                )
            )
        return insert_rows(Communication, COLUMNS, rows)

    written = chunked_write(plan, "communications", frame.ids, need > 0, write, pipelined=True)
    counts = {"rows": written, "target": int(target.sum()), "max_per_customer": int(target.max(initial=0))}
    counts["last_contact_set"] = refresh_last_contact(frame)
    return counts


def refresh_last_contact(frame: Frame) -> int:
    """customers.last_contact_date = the latest live communication (not in the future), NULL without one."""
    latest = (
        Communication.objects.alive()
        .filter(customer_id=OuterRef("pk"), communication_date__lte=frame.now + FUTURE_SLACK)
        .order_by()
        .values("customer_id")
        .annotate(last=Max("communication_date"))
        .values("last")
    )
    return customer_services.customers_figure_recompute(field="last_contact_date", source=Subquery(latest))
