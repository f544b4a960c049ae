"""The matter workflow: every state and every allowed move, in one table.

A move not in :data:`TRANSITIONS` (or made by someone its row does not name) is refused with a
clear error; services never change ``Matter.status`` any other way.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask_babel import lazy_gettext as _l

from yishi.modules.matters.models import Channel, Status

HANDLER = "handler"  # a moderator of the matter's point, a community admin, the street office, a system token
REPORTER = "reporter"  # whoever raised it: its account, or the holder of its tracking code
SYSTEM = "system"  # the scheduler (auto-close)

OPEN = frozenset({Status.SUBMITTED, Status.ACCEPTED, Status.IN_PROGRESS, Status.REOPENED, Status.ESCALATED})
AWAITING_RESPONSE = frozenset({Status.SUBMITTED, Status.REOPENED})
FINAL = frozenset({Status.CLOSED, Status.REJECTED, Status.WITHDRAWN})


@dataclass(frozen=True)
class Transition:
    action: str
    sources: frozenset[Status]
    target: Status
    by: frozenset[str]
    label: object
    needs_note: bool = False  # a note (reason, resolution, what reopens it) is required


def _t(action, sources, target, by, label, **kwargs) -> Transition:
    return Transition(action, frozenset(sources), target, frozenset(by), label, **kwargs)


TRANSITIONS: dict[str, Transition] = {
    t.action: t
    for t in (
        _t("accept", AWAITING_RESPONSE | {Status.ESCALATED}, Status.ACCEPTED, {HANDLER}, _l("Take it up")),
        _t("start", {Status.ACCEPTED}, Status.IN_PROGRESS, {HANDLER}, _l("Start work")),
        _t(
            "resolve",
            {Status.ACCEPTED, Status.IN_PROGRESS, Status.ESCALATED},
            Status.RESOLVED,
            {HANDLER},
            _l("Mark resolved"),
            needs_note=True,
        ),
        _t("close", {Status.RESOLVED}, Status.CLOSED, {REPORTER, SYSTEM}, _l("Confirm and close")),
        _t("reopen", {Status.RESOLVED}, Status.REOPENED, {REPORTER}, _l("Not solved: reopen"), needs_note=True),
        _t("reject", OPEN, Status.REJECTED, {HANDLER}, _l("Reject"), needs_note=True),
        _t("withdraw", OPEN, Status.WITHDRAWN, {REPORTER}, _l("Withdraw")),
        _t(
            "escalate",
            {Status.SUBMITTED, Status.ACCEPTED, Status.IN_PROGRESS, Status.REOPENED},
            Status.ESCALATED,
            {HANDLER},
            _l("Escalate"),
            needs_note=True,
        ),
    )
}

STATUS_LABELS = {
    Status.SUBMITTED: _l("Submitted"),
    Status.ACCEPTED: _l("Taken up"),
    Status.IN_PROGRESS: _l("In progress"),
    Status.RESOLVED: _l("Resolved"),
    Status.CLOSED: _l("Closed"),
    Status.REJECTED: _l("Rejected"),
    Status.WITHDRAWN: _l("Withdrawn"),
    Status.ESCALATED: _l("Escalated"),
    Status.REOPENED: _l("Reopened"),
}


CHANNEL_LABELS = {
    Channel.WEB: _l("online"),
    Channel.QR: _l("QR code at a point"),
    Channel.OFFLINE: _l("in person at a point"),
    Channel.PHONE: _l("on the phone"),
    Channel.VISIT: _l("door-to-door visit"),
    Channel.API: _l("government system"),
}


def allowed(status: Status, roles: set[str]) -> list[Transition]:
    """The moves open from ``status`` to someone holding ``roles``, in table order."""
    return [t for t in TRANSITIONS.values() if status in t.sources and t.by & roles]
