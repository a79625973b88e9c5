"""SLA clock: when a target falls due under the binding's service hours (7x24, or business hours + calendar).

The contracts app stores a binding's `business_calendar` as free JSON; this module gives it a meaning
(docs/decisions.md). Every key is optional:

    {"timezone": "Asia/Shanghai",           # default: settings.TIME_ZONE
     "days": [1, 2, 3, 4, 5],               # ISO weekdays that are working days (Mon=1), default Mon-Fri
     "start": "09:00", "end": "18:00",      # the working window of a working day, default 09:00-18:00
     "holidays": ["2026-10-01", ...],       # dates that are not worked although their weekday is
     "workdays": ["2026-10-10", ...]}       # make-up days worked although their weekday is not

Pure functions of their arguments (no database, no clock): the breach scan and ingest pass `now`.
"""

from __future__ import annotations

import zoneinfo
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from django.conf import settings

from contracts.choices import ServiceHours

MAX_DAYS = 3660  # a target never reaches further than ten years of calendar days


@dataclass(frozen=True)
class Calendar:
    zone: zoneinfo.ZoneInfo
    days: frozenset[int]
    start: time
    end: time
    holidays: frozenset[date]
    workdays: frozenset[date]

    def works_on(self, day: date) -> bool:
        if day in self.holidays:
            return False
        return day in self.workdays or day.isoweekday() in self.days


def _time(value, default: time) -> time:
    try:
        hours, minutes = str(value).split(":")[:2]
        return time(int(hours), int(minutes))
    except (TypeError, ValueError):
        return default


def _dates(values) -> frozenset[date]:
    out = set()
    for value in values if isinstance(values, list | tuple) else []:
        try:
            out.add(date.fromisoformat(str(value)[:10]))
        except ValueError:
            continue
    return frozenset(out)


def parse_calendar(raw: dict | None) -> Calendar:
    """A calendar from the binding's JSON; unknown or malformed keys fall back to the defaults."""
    raw = raw if isinstance(raw, dict) else {}
    try:
        zone = zoneinfo.ZoneInfo(str(raw.get("timezone") or settings.TIME_ZONE))
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        zone = zoneinfo.ZoneInfo(settings.TIME_ZONE)
    days = raw.get("days")
    weekdays = (
        frozenset(int(d) for d in days if str(d).isdigit() and 1 <= int(d) <= 7) if isinstance(days, list) else None
    )
    start = _time(raw.get("start"), time(9, 0))
    end = _time(raw.get("end"), time(18, 0))
    if end <= start:
        start, end = time(9, 0), time(18, 0)
    return Calendar(
        zone=zone,
        days=weekdays if weekdays is not None else frozenset({1, 2, 3, 4, 5}),
        start=start,
        end=end,
        holidays=_dates(raw.get("holidays")),
        workdays=_dates(raw.get("workdays")),
    )


def add_service_minutes(start: datetime, minutes: int, service_hours: str, calendar: dict | None) -> datetime:
    """The moment `minutes` of service time after `start` (aware datetimes in, aware out)."""
    if service_hours != ServiceHours.BUSINESS:
        return start + timedelta(minutes=minutes)
    cal = parse_calendar(calendar)
    local = start.astimezone(cal.zone)
    remaining = timedelta(minutes=minutes)
    day = local.date()
    cursor = local
    for _ in range(MAX_DAYS):
        if cal.works_on(day):
            window_start = datetime.combine(day, cal.start, tzinfo=cal.zone)
            window_end = datetime.combine(day, cal.end, tzinfo=cal.zone)
            cursor = max(cursor, window_start)
            if cursor < window_end:
                available = window_end - cursor
                if remaining <= available:
                    return (cursor + remaining).astimezone(start.tzinfo)
                remaining -= available
        day += timedelta(days=1)
        cursor = datetime.combine(day, time(0, 0), tzinfo=cal.zone)
    return (cursor + remaining).astimezone(start.tzinfo)


def service_minutes_between(start: datetime, end: datetime, service_hours: str, calendar: dict | None) -> int:
    """Service minutes elapsed from `start` to `end` (0 when end is not after start)."""
    if end <= start:
        return 0
    if service_hours != ServiceHours.BUSINESS:
        return int((end - start).total_seconds() // 60)
    cal = parse_calendar(calendar)
    a, b = start.astimezone(cal.zone), end.astimezone(cal.zone)
    total = timedelta()
    day = a.date()
    for _ in range(MAX_DAYS):
        if day > b.date():
            break
        if cal.works_on(day):
            lo = max(a, datetime.combine(day, cal.start, tzinfo=cal.zone))
            hi = min(b, datetime.combine(day, cal.end, tzinfo=cal.zone))
            if hi > lo:
                total += hi - lo
        day += timedelta(days=1)
    return int(total.total_seconds() // 60)
