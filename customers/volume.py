"""The customers' side of the volume generator: the customer frame every volume step reads, and its shared story.

`load_frame(plan)` reads the tenant's alive customers once (ids in order, status, level, stored health, manager,
creation time) and their contacts, and derives per customer, reproducibly from the plan's seed:
- `latent`: the latent health (0-1), the stored demo health score / 100, so the health history ends where the
  customer's figure stands and tickets, ratings, sentiment and churn all follow the same story;
- `activity`: a heavy-tailed (log-normal, sigma 1) size factor: most customers are small, a few are large;
- `lost_days`: for lost customers, how many days ago their last contract ended (20-400); activity stops there.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np
from django.utils import timezone

from accounts.volume import VolumePlan, epoch_days, epoch_seconds
from customers.choices import CustomerLevel, CustomerStatus
from customers.models import Customer, CustomerContact

LEVEL_FACTOR = {
    CustomerLevel.NORMAL: 1.0,
    CustomerLevel.IMPORTANT: 1.6,
    CustomerLevel.VIP: 2.4,
    CustomerLevel.STRATEGIC: 3.5,
}


@dataclass
class Frame:
    ids: np.ndarray
    status: np.ndarray
    level_factor: np.ndarray
    latent: np.ndarray
    manager: np.ndarray
    created_s: np.ndarray  # unix seconds
    activity: np.ndarray
    lost_days: np.ndarray
    contact_offsets: np.ndarray  # CSR: contacts of customer i are contact_ids[offsets[i]:offsets[i+1]]
    contact_ids: np.ndarray
    now: datetime
    now_s: int
    today_d: int  # local today, days since epoch
    utc_offset_s: int  # local time = UTC + offset (the zone's offset now; Asia/Shanghai has no DST)

    def __len__(self) -> int:
        return len(self.ids)

    def index_of(self, ids: np.ndarray) -> np.ndarray:
        return np.searchsorted(self.ids, ids)

    @property
    def formal(self) -> np.ndarray:
        return self.status == CustomerStatus.FORMAL

    @property
    def lost(self) -> np.ndarray:
        return self.status == CustomerStatus.LOST

    def active_until_s(self) -> np.ndarray:
        """The last moment a customer can have activity (now, or the end of a lost customer's last contract)."""
        return self.now_s - self.lost_days.astype(np.int64) * 86400


def load_frame(plan: VolumePlan) -> Frame:
    now = plan.now or timezone.now().replace(microsecond=0)
    rows = list(
        Customer.objects.alive()
        .order_by("pk")
        .values_list("pk", "status", "level", "health_score", "assigned_manager_id", "created_at")
    )
    n = len(rows)
    ids = np.fromiter((r[0] for r in rows), dtype=np.int64, count=n)
    status = np.fromiter((r[1] for r in rows), dtype=np.int8, count=n)
    level_factor = np.fromiter((LEVEL_FACTOR.get(r[2], 1.0) for r in rows), dtype=float, count=n)
    health = np.fromiter((float(r[3]) if r[3] is not None else 60.0 for r in rows), dtype=float, count=n)
    manager = np.fromiter((r[4] or 0 for r in rows), dtype=np.int64, count=n)
    created_s = np.fromiter((epoch_seconds(r[5]) for r in rows), dtype=np.int64, count=n)
    rng = plan.rng("frame")
    activity = rng.lognormal(0.0, 1.0, n)
    lost_days = np.where(status == CustomerStatus.LOST, rng.integers(20, 401, n), 0)
    pairs = np.array(
        list(CustomerContact.objects.filter(customer__deleted_at__isnull=True).values_list("customer_id", "pk")),
        dtype=np.int64,
    ).reshape(-1, 2)
    pairs = pairs[np.lexsort((pairs[:, 1], pairs[:, 0]))] if len(pairs) else pairs
    position = np.searchsorted(ids, pairs[:, 0]) if len(pairs) else np.zeros(0, dtype=np.int64)
    offsets = np.zeros(n + 1, dtype=np.int64)
    np.add.at(offsets, position + 1, 1)
    offsets = np.cumsum(offsets)
    offset = timezone.get_current_timezone().utcoffset(now.replace(tzinfo=None)) or timedelta(0)
    return Frame(
        ids=ids,
        status=status,
        level_factor=level_factor,
        latent=np.clip(health / 100.0, 0.0, 1.0),
        manager=manager,
        created_s=created_s,
        activity=activity,
        lost_days=lost_days,
        contact_offsets=offsets,
        contact_ids=pairs[:, 1].copy() if len(pairs) else np.zeros(0, dtype=np.int64),
        now=now,
        now_s=epoch_seconds(now),
        today_d=epoch_days(timezone.localdate(now)),
        utc_offset_s=int(offset.total_seconds()),
    )


def pick_contacts(frame: Frame, rng: np.random.Generator, customer_index: np.ndarray) -> np.ndarray:
    """A random contact of each given customer (0 where the customer has none)."""
    start = frame.contact_offsets[customer_index]
    count = frame.contact_offsets[customer_index + 1] - start
    choice = start + (rng.random(len(customer_index)) * np.maximum(count, 1)).astype(np.int64)
    picked = np.zeros(len(customer_index), dtype=np.int64)
    has = count > 0
    picked[has] = frame.contact_ids[choice[has]]
    return picked
