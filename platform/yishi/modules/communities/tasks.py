"""Background jobs of the communities module."""

from __future__ import annotations

import csv
import io

from sqlalchemy import func, select

from yishi.core.audit import AuditEntry
from yishi.core.db import db
from yishi.core.jobs import job, report_progress
from yishi.modules.communities.models import Community


@job("reports", timeout=900, retries=(30, 300), community_argument="community_id")
def export_audit_log(community_id: int) -> dict:
    """The community's audit log as CSV (UTF-8 with BOM, so Excel shows the Chinese right)."""
    community = db.session.get(Community, community_id)
    total = db.session.execute(select(func.count(AuditEntry.id))).scalar_one()
    buffer = io.StringIO()
    buffer.write("\ufeff")
    writer = csv.writer(buffer)
    writer.writerow(["at", "actor", "action", "object_type", "object_id", "ip", "details"])
    statement = select(AuditEntry).order_by(AuditEntry.at, AuditEntry.id).execution_options(yield_per=500)
    for done, entry in enumerate(db.session.execute(statement).scalars(), start=1):
        writer.writerow(
            [
                entry.at.isoformat(),
                entry.actor_label,
                entry.action,
                entry.object_type,
                entry.object_id,
                entry.ip or "",
                entry.details,
            ]
        )
        if done % 500 == 0:
            report_progress(int(done * 100 / max(total, 1)), f"{done}/{total}")
    return {
        "rows": total,
        "download": {
            "filename": f"audit-{community.slug}.csv",
            "content_type": "text/csv; charset=utf-8",
            "content": buffer.getvalue(),
        },
    }
