"""Every periodic job, in one list (Redash's ``tasks/schedule.py``): what runs, and when.

Cron expressions are in UTC. ``yishi worker`` and the demo's embedded runner read this list through
``core.jobs``; a job named here that is not declared fails the app at start. For tests and trials,
``YISHI_SCHEDULE_EVERY=N`` (never in production) runs every entry every N seconds instead.
"""

from __future__ import annotations

from yishi.core.jobs import Periodic
from yishi.core.maintenance import purge_expired_records
from yishi.modules.matters.tasks import sweep_all
from yishi.modules.metrics.tasks import refresh_dashboards
from yishi.modules.reports.tasks import monthly_reports

SCHEDULE: tuple[Periodic, ...] = (
    # The quarter-hour promise: remind, escalate and auto-close, every minute.
    Periodic(sweep_all, cron="* * * * *"),
    # Keep each community's "this month" and "last 12 months" dashboards ready.
    Periodic(refresh_dashboards, cron="*/5 * * * *"),
    # Each street's report of the month before, checked daily at 09:30 China time.
    Periodic(monthly_reports, cron="30 1 * * *"),
    # Forget Idempotency-Key answers past their 24 hours.
    Periodic(purge_expired_records, cron="17 3 * * *"),
)
