"""Computing the figures of :mod:`definitions` in SQL: GROUP BY community over indexed columns, the
same statements on SQLite and PostgreSQL, never a matter loaded into Python.

``figures(ids, start, end)`` works for one community (its dashboard) or all of a street's (the
comparison report) in the same handful of queries. Periods are half-open: ``start <= t < end``.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import and_, case, func, literal_column, or_, select, tuple_
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
from yishi.modules.metrics.models import DashboardFigures
from yishi.modules.participation.models import Participation
from yishi.modules.points.models import Point, PointResidentGroup


def _count_if(condition) -> ColumnElement:
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


def _in(column, start: datetime, end: datetime):
    return and_(column >= start, column < end)


TOTAL = 0  # the key of the combined row in ``figures(..., combined=True)``


def figures(
    community_ids: list[int],
    start: datetime,
    end: datetime,
    *,
    as_of: datetime | None = None,
    combined: bool = False,
    parts: dict | None = None,
    total: dict | None = None,
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
        _matter_counts(result, ids, start, end, as_of, key, groups, {} if parts is None else parts)
        if db.session.get_bind().dialect.name == "postgresql":
            _percentiles_postgresql(result, ids, start, end, key, groups, total)
        else:
            for value, time, prefix in DURATIONS:
                _percentiles(result, ids, value, time, start, end, prefix, key, groups, total)
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


def _total_key(column):
    return literal_column("0")


def _no_groups(column) -> list:
    return []


def street_figures(community_ids: list[int], start: datetime, end: datetime, *, as_of: datetime | None = None):
    """(per community, the street's totals): what ``figures`` and ``figures(combined=True)`` give, with the
    totals added up from the communities' rows — counts summed (people and groups belong to one
    community each), shares from their summed parts; the street's percentiles come with the
    communities' (on PostgreSQL from the same sort, with GROUPING SETS)."""
    parts: dict[int, dict] = {}
    totals: dict = {metric.code: None for metric in METRICS}
    per_community = figures(community_ids, start, end, as_of=as_of, parts=parts, total=totals)
    rows = list(per_community.values())
    for metric in METRICS:
        if metric.unit == "count":
            totals[metric.code] = sum(row[metric.code] or 0 for row in rows)

    def share(numerator: int, denominator: int, digits: int = 3):
        return round(numerator / denominator, digits) if denominator else None

    summed = {name: sum(part[name] for part in parts.values()) for name in ("met", "in_time", "score_sum")}
    totals["quarter_hour_rate"] = share(summed["met"], totals["first_response_cases"])
    totals["resolution_rate"] = share(summed["in_time"], totals["matters_resolved"])
    totals["satisfaction_mean"] = share(summed["score_sum"], totals["satisfaction_count"], 2)
    residents = db.session.execute(
        select(func.coalesce(func.sum(Community.resident_count), 0)).where(Community.id.in_(community_ids))
    ).scalar_one()
    totals["participants_per_100"] = round(totals["participants"] * 100 / residents, 1) if residents else None
    return per_community, totals


def _matter_counts(result: dict, ids: list[int], start, end, as_of, key, groups, parts: dict) -> None:
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
        parts[cid] = {"met": met, "in_time": in_time, "score_sum": score_sum or 0}
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


# (minutes, the time that puts a matter in the period, the figures' prefix)
DURATIONS = (
    (Matter.minutes_to_accept, Matter.accepted_at, "accept_minutes"),
    (Matter.minutes_to_resolve, Matter.resolved_at, "resolve_minutes"),
)


def _percentiles_postgresql(result: dict, ids, start, end, key, groups, total: dict | None) -> None:
    """Both durations' nearest-rank median and 90th percentile in one pass over the matters:
    ``percentile_disc`` is the nearest rank, and it skips the NULLs a CASE gives outside the period.
    With ``total``, the street's come from the same statement (GROUPING SETS)."""
    grouping = groups(Matter.community_id)
    if total is not None and grouping:
        grouping = [func.grouping_sets(Matter.community_id, tuple_())]
    aggregates, names = [], []
    for value, time, prefix in DURATIONS:
        in_period = case((_in(time, start, end), value), else_=None)
        for fraction, suffix in ((0.5, "median"), (0.9, "p90")):
            aggregates.append(func.percentile_disc(fraction).within_group(in_period))
            names.append(f"{prefix}_{suffix}")
    statement = (
        select(key(Matter.community_id), *aggregates)
        .where(
            Matter.community_id.in_(ids),
            or_(*(and_(_in(time, start, end), value.is_not(None)) for value, time, _prefix in DURATIONS)),
        )
        .group_by(*grouping)
    )
    for cid, *values in db.session.execute(statement).all():
        row = total if (total is not None and cid is None) else result[cid]
        row.update(zip(names, values, strict=True))


def _percentiles(
    result: dict, ids, value_column, time_column, start, end, prefix: str, key, groups, total: dict | None = None
) -> None:
    """Nearest-rank median and 90th percentile per community with window functions picking both ranks
    in one statement (SQLite; PostgreSQL uses ``_percentiles_postgresql``). With ``total``, the same
    over all the communities together goes there."""
    where = (Matter.community_id.in_(ids), _in(time_column, start, end), value_column.is_not(None))
    if total is not None:
        combined = {TOTAL: total}
        _percentiles(combined, ids, value_column, time_column, start, end, prefix, _total_key, _no_groups)
    partition = groups(Matter.community_id) or None
    ranked = (
        select(
            key(Matter.community_id).label("cid"),
            value_column.label("v"),
            func.row_number().over(partition_by=partition, order_by=(value_column, Matter.id)).label("rn"),
            func.count().over(partition_by=partition).label("n"),
        )
        .where(*where)
        .subquery()
    )
    median_rank = (ranked.c.n * 50 + 99) // 100  # ceil(n * p / 100) in integers
    p90_rank = (ranked.c.n * 90 + 99) // 100
    statement = select(ranked.c.cid, ranked.c.v, ranked.c.rn == median_rank, ranked.c.rn == p90_rank).where(
        or_(ranked.c.rn == median_rank, ranked.c.rn == p90_rank)
    )
    for cid, value, is_median, is_p90 in db.session.execute(statement).all():
        if is_median:
            result[cid][f"{prefix}_median"] = value
        if is_p90:
            result[cid][f"{prefix}_p90"] = value


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


BREAKDOWN_COLUMNS = {
    "category": Category.code,
    "channel": Matter.channel,
    "group": Matter.resident_group_id,
    "point": Matter.point_id,
}


def breakdowns(community_ids: list[int], start: datetime, end: datetime, bys) -> dict[str, dict[int, dict[str, int]]]:
    """Matters raised in the period per community and per category code, channel, group or point:
    {by: {community id: {label: count}}}. On PostgreSQL every ``by`` comes from one pass (GROUPING SETS)."""
    bys = tuple(bys)
    ids = sorted(set(community_ids))
    result = {by: {cid: {} for cid in community_ids} for by in bys}
    where = (
        Matter.community_id.in_(ids),
        _in(Matter.submitted_at, start, end),
        Matter.status != Status.WITHDRAWN,
    )
    columns = [BREAKDOWN_COLUMNS[by] for by in bys]
    with tenancy.communities_scope(ids, reason="breakdowns are grouped per community in SQL"):
        if db.session.get_bind().dialect.name == "postgresql" and len(bys) > 1:
            statement = (
                select(Matter.community_id, *columns, *(func.grouping(column) for column in columns), func.count())
                .join(Category, Category.id == Matter.category_id)
                .where(*where)
                .group_by(func.grouping_sets(*(tuple_(Matter.community_id, column) for column in columns)))
            )
            for cid, *rest in db.session.execute(statement).all():
                values, grouped, count = rest[: len(bys)], rest[len(bys) : 2 * len(bys)], rest[-1]
                by_index = grouped.index(0)  # the one column this row is grouped by
                _put(result[bys[by_index]][cid], values[by_index], count)
            return result
        for by, column in zip(bys, columns, strict=True):
            statement = select(Matter.community_id, column, func.count()).where(*where)
            if by == "category":
                statement = statement.join(Category, Category.id == Matter.category_id)
            for cid, value, count in db.session.execute(statement.group_by(Matter.community_id, column)).all():
                _put(result[by][cid], value, count)
    return result


def _put(counts: dict[str, int], value, count: int) -> None:
    label = getattr(value, "value", value)
    counts["" if label is None else str(label)] = count


def breakdown(community_ids: list[int], start: datetime, end: datetime, by: str) -> dict[int, dict[str, int]]:
    """One breakdown (see :func:`breakdowns`)."""
    return breakdowns(community_ids, start, end, (by,))[by]


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
    offset = int(ZoneInfo(community.time_zone).utcoffset(start.replace(tzinfo=None)).total_seconds() // 60)
    months: dict[str, dict[str, int]] = {}

    def month(label: str) -> dict[str, int]:
        return months.setdefault(label, {"raised": 0, "resolved": 0, "within_target": 0})

    with tenancy.community_scope(community.id):
        submitted = month_of(Matter.submitted_at, community.time_zone, offset)
        for label, raised, in_time in db.session.execute(
            select(
                submitted,
                _count_if(Matter.status != Status.WITHDRAWN),
                _count_if(Matter.first_response_met.is_(True)),
            )
            .where(_in(Matter.submitted_at, start, end))
            .group_by(submitted)
        ).all():
            month(label).update(raised=int(raised), within_target=int(in_time))
        resolved = month_of(Matter.resolved_at, community.time_zone, offset)
        for label, count in db.session.execute(
            select(resolved, func.count(Matter.id)).where(_in(Matter.resolved_at, start, end)).group_by(resolved)
        ).all():
            month(label)["resolved"] = int(count)
    return dict(sorted(months.items()))


# --- the community dashboard --------------------------------------------------------------------------

DASHBOARD_PERIODS = ("month", "quarter", "year", "12m", "custom")
KEPT_PERIODS = ("month", "12m")  # what the refresh job keeps ready
FRESH_FOR = timedelta(minutes=10)


def dashboard_period(community: Community, args) -> tuple[datetime, datetime, str, str]:
    """(start, end, kind, label) from ``?period=`` (and ``start``/``end`` days for custom), in the
    community's time zone; this month by default."""
    zone = ZoneInfo(community.time_zone)
    today = datetime.now(zone).date()
    kind = args.get("period", "month")
    kind = kind if kind in DASHBOARD_PERIODS else "month"

    def at(day: date) -> datetime:
        return datetime(day.year, day.month, day.day, tzinfo=zone)

    if kind == "custom":
        try:
            first, last = date.fromisoformat(args.get("start", "")), date.fromisoformat(args.get("end", ""))
        except ValueError:
            first, last = None, None
        if first and last and first <= last and (last - first).days <= 3 * 366:
            return at(first), at(last) + timedelta(days=1), kind, f"{first.isoformat()}–{last.isoformat()}"
        kind = "month"
    if kind == "year":
        return at(date(today.year, 1, 1)), at(date(today.year + 1, 1, 1)), kind, str(today.year)
    if kind == "quarter":
        first_month = 3 * ((today.month - 1) // 3) + 1
        start = date(today.year, first_month, 1)
        end = date(today.year + (first_month == 10), (first_month + 2) % 12 + 1, 1)
        return at(start), at(end), kind, f"{today.year}-Q{(today.month - 1) // 3 + 1}"
    if kind == "12m":
        start = date(today.year - 1, today.month, 1)
        return at(start), at(today) + timedelta(days=1), kind, f"{start.isoformat()}–{today.isoformat()}"
    start = date(today.year, today.month, 1)
    end = date(today.year + (today.month == 12), today.month % 12 + 1, 1)
    return at(start), at(end), "month", f"{today.year}-{today.month:02d}"


def compute_dashboard(community: Community, kind: str, start: datetime, end: datetime) -> dict:
    """Everything the dashboard shows, as JSON: figures, the monthly trend (a single month is shown
    with the eleven before it) and the breakdowns by category, group, point and channel."""
    trend_start = start - timedelta(days=335) if kind == "month" else max(start, end - timedelta(days=366))
    counts = breakdowns([community.id], start, end, ("category", "group", "point", "channel"))
    return {
        "figures": figures([community.id], start, end)[community.id],
        "months": monthly(community, trend_start, end),
        "counts": {by: per_community[community.id] for by, per_community in counts.items()},
        "computed_at": utcnow().isoformat(),
    }


def dashboard(community: Community, kind: str, start: datetime, end: datetime) -> dict:
    """The dashboard the refresh job keeps, while fresh and for these very bounds; else computed now."""
    if kind in KEPT_PERIODS:
        with tenancy.community_scope(community.id):
            kept = db.session.execute(
                select(DashboardFigures).where(DashboardFigures.period_kind == kind)
            ).scalar_one_or_none()
        if (
            kept is not None
            and kept.period_start == start
            and kept.period_end == end
            and kept.computed_at >= utcnow() - FRESH_FOR
        ):
            return kept.data
    return compute_dashboard(community, kind, start, end)


def keep_dashboards(community: Community) -> int:
    """Compute and keep the community's standard dashboards (what the refresh job runs)."""
    kept = 0
    with tenancy.community_scope(community.id):
        for kind in KEPT_PERIODS:
            start, end, _kind, _label = dashboard_period(community, {"period": kind})
            data = compute_dashboard(community, kind, start, end)
            row = db.session.execute(
                select(DashboardFigures).where(DashboardFigures.period_kind == kind)
            ).scalar_one_or_none()
            if row is None:
                row = DashboardFigures(community_id=community.id, period_kind=kind)
                db.session.add(row)
            row.period_start, row.period_end, row.data = start, end, data
            row.computed_at = datetime.fromisoformat(data["computed_at"])
            kept += 1
        db.session.flush()
    return kept
