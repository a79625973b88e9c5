"""Volume step of service records (`manage.py generate_volume`): a year of tickets driven by the latent health.

Tickets per customer: a multinomial split of the target over the formal and lost customers with weight
activity (log-normal) x level x (0.3 + 3.5 x (1 - latent health)), so most customers have a few tickets and some
many; opened over the last `plan.months` months (lost customers: until their contract ended), 85 % on weekdays in
office hours. Priorities P1-P4 5/20/50/25 %, 7x24 SLA targets copied per priority, response and resolution times
log-normal and slower for unhealthy customers, breaches and SLA state computed as `services.compute_sla` does for
7x24 service; 60 % of closed tickets are rated, the rating following the latent health. External ids are
`VOL-<customer>-<n>` (source system "volume"); a rerun adds only the rows missing from the target (split the same
way, numbered after each customer's existing ones). The tenant-wide rollups are rebuilt at the end (`rollup.rebuild`,
the job `service_records.rebuild_rollups`).
"""

from __future__ import annotations

import numpy as np
from django.db.models import Count, Sum

from accounts.tenancy import current_tenant
from accounts.volume import (
    VolumePlan,
    chunked_write,
    date_text,
    dt_text,
    insert_rows,
    multinomial_counts,
    office_times,
)
from contracts.models import Contract
from customers.volume import Frame
from service_records import rollup
from service_records.choices import Channel, SlaState, TicketStatus
from service_records.models import ServiceDailyRollup, ServiceRecord

SOURCE = "volume"
PRIORITIES = np.array(["P1", "P2", "P3", "P4"])
PRIORITY_P = [0.05, 0.20, 0.50, 0.25]
# (first response, resolution) targets in minutes per priority, 7x24.
TARGETS = np.array([[15, 240], [30, 480], [120, 1440], [240, 2880]])
CATEGORIES = np.array(["网络", "服务器", "数据库", "桌面", "安全", "账号权限", "备份", "应用"])
CHANNELS = np.array([c.value for c in Channel])
TITLES = np.array(
    ["网络中断", "登录失败", "报表错误", "性能下降", "Backup failed", "VPN issue", "磁盘告警", "打印机故障", "邮件延迟"]
)
COLUMNS = [
    "tenant_id",
    "customer_id",
    "contract_id",
    "source_system",
    "external_id",
    "title",
    "category",
    "priority",
    "channel",
    "status",
    "opened_at",
    "opened_month",
    "first_response_at",
    "resolved_at",
    "closed_at",
    "handling_minutes",
    "sla_first_response_minutes",
    "sla_resolution_minutes",
    "sla_service_hours",
    "response_due_at",
    "resolution_due_at",
    "response_minutes",
    "resolution_minutes",
    "response_breached",
    "resolution_breached",
    "breached",
    "breach_minutes",
    "sla_state",
    "satisfaction_overall",
    "satisfaction_response_speed",
    "satisfaction_professionalism",
    "satisfaction_resolution_quality",
    "rated_at",
    "created_at",
    "updated_at",
]


def _text(values: np.ndarray, mask: np.ndarray) -> list:
    text = dt_text(values)
    return [t if m else None for t, m in zip(text, mask.tolist(), strict=True)]


def run(tenant, plan: VolumePlan, frame: Frame) -> dict:
    rng = plan.rng("tickets")
    weight = (frame.formal | frame.lost) * frame.activity * frame.level_factor * (0.3 + 3.5 * (1 - frame.latent))
    window_s = int(plan.months * 30.44 * 86400)
    until = frame.active_until_s()
    start = np.maximum(until - window_s, frame.created_s)
    weight = weight * np.clip((until - start) / window_s, 0, 1)
    existing = np.zeros(len(frame), dtype=np.int64)
    have = dict(
        ServiceRecord.objects.filter(source_system=SOURCE).values_list("customer_id").annotate(n=Count("id")).order_by()
    )
    if have:
        at = frame.index_of(np.fromiter(have, dtype=np.int64))
        existing[at] = np.fromiter(have.values(), dtype=np.int64)
    # The rows still missing, split by weight (a first run splits the whole target; a rerun adds nothing).
    need = multinomial_counts(rng, max(0, plan.tickets - int(existing.sum())), weight)
    target = existing + need
    contract_of = dict(Contract.objects.order_by("customer_id", "end_date").values_list("customer_id", "pk"))
    tenant_id = current_tenant().pk

    def write(ids, number):
        r = plan.rng("tickets", int(ids[0]))
        at = frame.index_of(ids)
        per = need[at]
        row_at = np.repeat(at, per)
        n = len(row_at)
        if n == 0:
            return 0
        # n-th ticket of its customer, continuing after the existing ones.
        first = np.repeat(np.cumsum(per) - per, per)
        serial = existing[row_at] + (np.arange(n) - first) + 1
        opened = office_times(r, start[row_at], until[row_at], frame.utc_offset_s)
        h = frame.latent[row_at]
        prio = r.choice(4, n, p=PRIORITY_P)
        fr_target, res_target = TARGETS[prio, 0], TARGETS[prio, 1]
        slow = 1.0 + 1.5 * (1 - h)
        response_min = np.maximum(1, (fr_target * r.lognormal(-0.6, 0.7, n) * slow)).astype(np.int64)
        resolution_min = np.maximum(response_min + 5, (res_target * r.lognormal(-0.7, 0.8, n) * slow)).astype(np.int64)
        resolved = opened + resolution_min * 60
        responded = opened + response_min * 60
        done = resolved <= frame.now_s
        has_response = responded <= frame.now_s
        status = np.where(done, np.where(r.random(n) < 0.8, TicketStatus.CLOSED, TicketStatus.RESOLVED), "")
        status = np.where(done, status, np.where(has_response, TicketStatus.IN_PROGRESS, TicketStatus.OPEN))
        response_due = opened + fr_target * 60
        resolution_due = opened + res_target * 60
        response_end = np.where(has_response, responded, frame.now_s)
        resolution_end = np.where(done, resolved, frame.now_s)
        response_breached = response_end > response_due
        resolution_breached = resolution_end > resolution_due
        breached = response_breached | resolution_breached
        over = np.maximum(
            np.where(response_breached, (response_end - response_due) // 60, -1),
            np.where(resolution_breached, (resolution_end - resolution_due) // 60, -1),
        )
        pending = np.where(~has_response, response_due, np.where(~done, resolution_due, np.iinfo(np.int64).max))
        state = np.where(
            breached, SlaState.BREACHED, np.where(pending <= frame.now_s + 30 * 60, SlaState.AT_RISK, SlaState.OK)
        )
        rated = done & (r.random(n) < 0.6)
        overall = np.clip(np.rint(1 + 4 * h + r.normal(0, 0.7, n)), 1, 5).astype(np.int64)
        dims = np.clip(overall[:, None] + r.integers(-1, 2, (n, 3)), 1, 5)
        rated_at = resolved + 7200
        local_days = (opened + frame.utc_offset_s) // 86400
        month = local_days.astype("datetime64[D]").astype("datetime64[M]").astype("datetime64[D]").astype(np.int64)
        opened_t, month_t = dt_text(opened), date_text(month)
        responded_t, resolved_t = _text(responded, has_response), _text(resolved, done)
        closed_t = _text(resolved, status == TicketStatus.CLOSED)
        rated_t = _text(rated_at, rated & (rated_at <= frame.now_s))
        rdue_t, sdue_t = dt_text(response_due), dt_text(resolution_due)
        cust = frame.ids[row_at].tolist()
        title = TITLES[r.integers(0, len(TITLES), n)].tolist()
        category = CATEGORIES[r.integers(0, len(CATEGORIES), n)].tolist()
        channel = CHANNELS[r.integers(0, len(CHANNELS), n)].tolist()
        prio_t = PRIORITIES[prio].tolist()
        rows = []
        for k in range(n):
            c = cust[k]
            is_rated = bool(rated[k])
            rows.append(
                (
                    tenant_id,
                    c,
                    contract_of.get(c),
                    SOURCE,
                    f"VOL-{c}-{serial[k]}",
                    title[k],
                    category[k],
                    prio_t[k],
                    channel[k],
                    str(status[k]),
                    opened_t[k],
                    month_t[k],
                    responded_t[k],
                    resolved_t[k],
                    closed_t[k],
                    int(resolution_min[k]) if done[k] else None,
                    int(fr_target[k]),
                    int(res_target[k]),
                    "7x24",
                    rdue_t[k],
                    sdue_t[k],
                    int(response_min[k]) if has_response[k] else None,
                    int(resolution_min[k]) if done[k] else None,
                    bool(response_breached[k]),
                    bool(resolution_breached[k]),
                    bool(breached[k]),
                    int(over[k]) if breached[k] else None,
                    str(state[k]),
                    int(overall[k]) if is_rated else None,
                    int(dims[k, 0]) if is_rated else None,
                    int(dims[k, 1]) if is_rated else None,
                    int(dims[k, 2]) if is_rated else None,
                    rated_t[k] if is_rated else None,
                    opened_t[k],
                    rated_t[k] or resolved_t[k] or opened_t[k],
                )
            )
        return insert_rows(ServiceRecord, COLUMNS, rows)

    written = chunked_write(plan, "tickets", frame.ids, need > 0, write, pipelined=True)
    counts = {"rows": written, "target": int(target.sum()), "max_per_customer": int(target.max(initial=0))}
    counts["median_per_customer"] = float(np.median(target[target > 0])) if (target > 0).any() else 0.0
    counted = ServiceDailyRollup.objects.filter(span="m").aggregate(n=Sum("tickets"))["n"] or 0
    if written or counted != ServiceRecord.objects.count():  # an interrupted run may have skipped the rebuild
        counts["rollup_rows"] = rollup.rebuild().get("rows", 0)
    return counts
