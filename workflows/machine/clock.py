"""The request's legal clock as data: when reminders, escalation and the overdue flag fall.

Pure: no Temporal import, no I/O. The workflow sleeps on durable timers until each event.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from dsrflow.lifecycle import Policy

Event = tuple[datetime, str, float]
"""(when, kind, offset before due in seconds); kind is reminder, escalation or overdue."""


def clock_events(policy: Policy, received_at: datetime, due: datetime) -> list[Event]:
    """Every event of the clock for one due date, in time order.

    Reminders whose time had passed before the request arrived are not sent late; the
    overdue event always stands (one second after the due date).
    """
    events = [(due - timedelta(seconds=s), "reminder", s) for s in policy.reminder_offsets_s]
    esc = policy.escalation_offset_s
    events.append((due - timedelta(seconds=esc), "escalation", esc))
    events.append((due + timedelta(seconds=1), "overdue", 0.0))
    return sorted(e for e in events if e[1] == "overdue" or e[0] >= received_at)


def days_before(offset_s: float) -> str:
    """How a reminder names its offset: ``"3 days before due"``."""
    return f"{offset_s / 86400:g} days before due"
