"""Platform housekeeping jobs (listed in :data:`yishi.schedule.SCHEDULE`)."""

from __future__ import annotations

from yishi.core.api import purge_expired_idempotency_records
from yishi.core.jobs import job


@job("maintenance", timeout=300, retries=(60, 600))
def purge_expired_records() -> dict:
    """Forget Idempotency-Key answers older than their 24 hours. Idempotent: safe to run twice."""
    return {"idempotency_records_purged": purge_expired_idempotency_records()}
