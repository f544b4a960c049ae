"""Computing the figures of :mod:`definitions` in SQL: GROUP BY community over indexed columns, the
same statements on SQLite and PostgreSQL, never a matter loaded into Python.

``figures(ids, start, end)`` works for one community (its dashboard) or all of a street's (the
comparison report) in the same handful of queries. Periods are half-open: ``start <= t < end``.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import and_, case, func, literal_column, or_, select
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.expression import ColumnElement, FunctionElement

from yishi.core import tenancy
from yishi.core.db import db, utcnow
from yishi.modules.categories.models import Category, CategoryKind
from yishi.modules.communities.models import Community, ResidentGroup
from yishi.modules.matters import workflow
from yishi.modules.matters.models import Matter, Outcome, Status
from yishi.modules.meetings.models import Meeting, MeetingStatus
from yishi.modules.metrics.definitions import METRICS
from yishi.modules.participation.models import Participation
from yishi.modules.points.models import Point, PointResidentGroup


def _count_if(condition) -> ColumnElement:
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


def _in(column, start: datetime, end: datetime):
    return and_(column >= start, column < end)


TOTAL = 0  # the key of the combined row in ``figures(..., combined=True)``


def figures(
    community_ids: list[int], start: datetime, end: datetime, *, as_of: datetime | None = None, combined: bool = False
) -> dict:
    """{community id: {metric code: value}} for the period, every metric of METRICS; with
    ``combined`` the same figures for all the communities together, under the key ``TOTAL``."""
    as_of = min(as_of or utcnow(), end)
    ids = sorted(set(community_ids))
    keys = [TOTAL] if combined else ids
    result: dict[int, dict] = {key: {metric.code: None for metric in METRICS} for key in keys}
    if not ids:
        return result

    def key(column):  # what a row is labelled with: its community, or the combined total
        return literal_column("0") if combined else column

    def groups(column) -> list:  # what rows are grouped by: nothing when combined
        return [] if combined else [column]

    with tenancy.communities_scope(ids, reason="metrics are computed per community, grouped in SQL"):
        _matter_counts(result, ids, start, end, as_of, key, groups)
        _percentiles(
            result, ids, Matter.minutes_to_accept, Matter.accepted_at, start, end, "accept_minutes", key, groups
        )
        _percentiles(
            result, ids, Matter.minutes_to_resolve, Matter.resolved_at, start, end, "resolve_minutes", key, groups
        )
        _people_and_meetings(result, ids, start, end, key, groups)
        _coverage(result, ids, key, groups)
    residents = dict(
        db.session.execute(select(Community.id, Community.resident_count).where(Community.id.in_(ids))).all()
    )
    if combined:
        residents = {TOTAL: sum(value or 0 for value in residents.values())}
    for cid, row in result.items():
        people = residents.get(cid) or 0
        row["participants_per_100"] = round(row["participants"] * 100 / people, 1) if people else None
    return result


def _matter_counts(result: dict, ids: list[int], start, end, as_of, key, groups) -> None:
    submitted = _in(Matter.submitted_at, start, end)
    resolved = _in(Matter.resolved_at, start, end)
    awaiting_late = and_(
        Matter.accepted_at.is_(None),
        Matter.status.in_(workflow.AWAITING_RESPONSE),
        Matter.first_response_due_at < as_of,
    )
    dispute = Category.kind == CategoryKind.DISPUTE
    rows = db.session.execute(
        select(
            key(Matter.community_id),
            _count_if(and_(submitted, Matter.status != Status.WITHDRAWN)),
            _count_if(resolved),
            _count_if(and_(_in(Matter.closed_at, start, end), Matter.status == Status.CLOSED)),
            _count_if(and_(submitted, Matter.first_response_met.is_(True))),
            _count_if(and_(submitted, or_(Matter.first_response_met.is_not(None), awaiting_late))),
            _count_if(_in(Matter.accepted_at, start, end)),
            _count_if(and_(resolved, Matter.resolution_met.is_(True))),
            _count_if(and_(resolved, dispute)),
            _count_if(and_(resolved, dispute, Matter.outcome == Outcome.AGREEMENT)),
            func.sum(case((_in(Matter.rated_at, start, end), Matter.satisfaction), else_=None)),
            _count_if(_in(Matter.rated_at, start, end)),
        )
        .join(Category, Category.id == Matter.category_id)
        .where(Matter.community_id.in_(ids))
        .group_by(*groups(Matter.community_id))
    ).all()
    for cid, raised, done, closed, met, cases, accepted, in_time, disputes, agreed, score_sum, ratings in rows:
        row = result[cid]
        # Shares are kept to the 0.1 % they are shown with: rounded twice (0.9535 for 82/86, then 95.4 %)
        # a page would show a figure that is not the ratio's.
        row.update(
            matters_raised=raised,
            matters_resolved=done,
            matters_closed=closed,
            first_response_cases=cases,
            quarter_hour_rate=round(met / cases, 3) if cases else None,
            accepted=accepted,
            resolution_rate=round(in_time / done, 3) if done else None,
            disputes_mediated=disputes,
            agreements_reached=agreed,
            satisfaction_count=ratings,
            satisfaction_mean=round(score_sum / ratings, 2) if ratings else None,
        )
    for row in result.values():  # communities without a single matter
        for code in ("matters_raised", "matters_resolved", "matters_closed", "first_response_cases", "accepted"):
            row[code] = row[code] or 0
        for code in ("disputes_mediated", "agreements_reached", "satisfaction_count"):
            row[code] = row[code] or 0


def _percentiles(result: dict, ids, value_column, time_column, start, end, prefix: str, key, groups) -> None:
    """Nearest-rank median and 90th percentile per community, with window functions (both databases)."""
    ranked = (
        select(
            key(Matter.community_id).label("cid"),
            value_column.label("v"),
            func.row_number()
            .over(partition_by=groups(Matter.community_id) or None, order_by=(value_column, Matter.id))
            .label("rn"),
            func.count().over(partition_by=groups(Matter.community_id) or None).label("n"),
        )
        .where(Matter.community_id.in_(ids), _in(time_column, start, end), value_column.is_not(None))
        .subquery()
    )
    for percent, suffix in ((50, "median"), (90, "p90")):
        rank = (ranked.c.n * percent + 99) // 100  # ceil(n * p / 100) in integers
        for cid, value in db.session.execute(select(ranked.c.cid, ranked.c.v).where(ranked.c.rn == rank)).all():
            result[cid][f"{prefix}_{suffix}"] = value


def _people_and_meetings(result: dict, ids, start, end, key, groups) -> None:
    for cid, count in db.session.execute(
        select(key(Participation.community_id), func.count(func.distinct(Participation.person_id)))
        .where(Participation.community_id.in_(ids), _in(Participation.at, start, end))
        .group_by(*groups(Participation.community_id))
    ).all():
        result[cid]["participants"] = count
    for cid, count in db.session.execute(
        select(key(Meeting.community_id), func.count(Meeting.id))
        .where(
            Meeting.community_id.in_(ids),
            _in(Meeting.starts_at, start, end),
            Meeting.status.in_((MeetingStatus.HELD, MeetingStatus.PUBLISHED)),
        )
        .group_by(*groups(Meeting.community_id))
    ).all():
        result[cid]["meetings_held"] = count
    for row in result.values():
        row["participants"] = row["participants"] or 0
        row["meetings_held"] = row["meetings_held"] or 0


def _coverage(result: dict, ids, key, groups) -> None:
    for cid, count in db.session.execute(
        select(key(ResidentGroup.community_id), func.count(ResidentGroup.id))
        .where(ResidentGroup.community_id.in_(ids))
        .group_by(*groups(ResidentGroup.community_id))
    ).all():
        result[cid]["groups_total"] = count
    covered = (
        select(
            key(PointResidentGroup.community_id),
            func.count(
                func.distinct(PointResidentGroup.resident_group_id)  # group ids are unique platform-wide
            ),
        )
        .join(Point, Point.id == PointResidentGroup.point_id)
        .where(PointResidentGroup.community_id.in_(ids), Point.active.is_(True))
        .group_by(*groups(PointResidentGroup.community_id))
    )
    for cid, count in db.session.execute(covered).all():
        result[cid]["groups_covered"] = count
    for row in result.values():
        row["groups_total"] = row["groups_total"] or 0
        row["groups_covered"] = row["groups_covered"] or 0


# --- breakdowns and trends (one community, or a street's) ------------------------------------------


def breakdown(community_ids: list[int], start: datetime, end: datetime, by: str) -> dict[int, dict[str, int]]:
    """Matters raised in the period per community and per category code, channel, group or point."""
    columns = {
        "category": Category.code,
        "channel": Matter.channel,
        "group": Matter.resident_group_id,
        "point": Matter.point_id,
    }
    key = columns[by]
    statement = (
        select(Matter.community_id, key, func.count(Matter.id))
        .where(
            Matter.community_id.in_(community_ids),
            _in(Matter.submitted_at, start, end),
            Matter.status != Status.WITHDRAWN,
        )
        .group_by(Matter.community_id, key)
    )
    if by == "category":
        statement = statement.join(Category, Category.id == Matter.category_id)
    result: dict[int, dict[str, int]] = {cid: {} for cid in community_ids}
    with tenancy.communities_scope(sorted(set(community_ids)), reason="breakdowns are grouped per community in SQL"):
        for cid, value, count in db.session.execute(statement).all():
            label = getattr(value, "value", value)
            result[cid]["" if label is None else str(label)] = count
    return result


class month_of(FunctionElement):  # noqa: N801 - used like a SQL function
    """'YYYY-MM' of a timestamp in a time zone: to_char(... AT TIME ZONE) on PostgreSQL, strftime
    with the zone's offset on SQLite (which stores UTC)."""

    type = db.String()
    inherit_cache = True

    def __init__(self, column, zone: str, offset_minutes: int):
        self.zone, self.offset_minutes = zone, offset_minutes
        super().__init__(column)


@compiles(month_of)
def _month_default(element, compiler, **kw):
    column = compiler.process(list(element.clauses)[0], **kw)
    return f"strftime('%Y-%m', {column}, '{element.offset_minutes:+d} minutes')"


@compiles(month_of, "postgresql")
def _month_postgresql(element, compiler, **kw):
    column = compiler.process(list(element.clauses)[0], **kw)
    zone = element.zone.replace("'", "")
    return f"to_char({column} AT TIME ZONE '{zone}', 'YYYY-MM')"


def monthly(community: Community, start: datetime, end: datetime) -> dict[str, dict[str, int]]:
    """Per month (community time): matters raised, resolved, and taken up within the first-response target."""
    from zoneinfo import ZoneInfo

    offset = int(ZoneInfo(community.time_zone).utcoffset(start.replace(tzinfo=None)).total_seconds() // 60)
    months: dict[str, dict[str, int]] = {}
    with tenancy.community_scope(community.id):
        for label, time_column, extra in (
            ("raised", Matter.submitted_at, Matter.status != Status.WITHDRAWN),
            ("resolved", Matter.resolved_at, literal_column("1") == 1),
            ("within_target", Matter.submitted_at, Matter.first_response_met.is_(True)),
        ):
            key = month_of(time_column, community.time_zone, offset)
            statement = (
                select(key, func.count(Matter.id))
                .where(_in(time_column, start, end), extra)
                .group_by(key)
                .order_by(key)
            )
            for month, count in db.session.execute(statement).all():
                months.setdefault(month, {"raised": 0, "resolved": 0, "within_target": 0})[label] = int(count)
    return dict(sorted(months.items()))


def definitions_for(locale: str) -> list[dict]:
    return [
        {"code": m.code, "name": m.name(locale), "definition": m.definition(locale), "unit": m.unit} for m in METRICS
    ]
