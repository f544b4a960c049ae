"""Generate a benchmark database: one street, N communities, M matters each, on PostgreSQL.

    python bench/generate.py                                   # 100 communities x 10,000 matters -> yishi_bench
    python bench/generate.py --communities 1 --matters 100000 --database yishi_bench_dash
    python bench/generate.py --url postgresql://user@host:5432/yishi_bench_other

The database is dropped and created again (its name must contain "bench": this script drops nothing
else), migrated with the project's Alembic migrations, then filled with COPY: resident groups, points
and the groups they serve, the agriculture template's categories, people, meetings with their
attendance, matters with their timelines, and the participation ledger (raised, attended). Then
VACUUM ANALYZE, as autovacuum would do after a bulk load.

The data is deterministic: the same ``--seed`` and ``--until`` give the same rows. Matters are spread
over the ``--months`` before ``--until`` (today by default, midnight in Asia/Shanghai) and written in
time order across communities, as a live database would have them; each one's life (taken up,
started, resolved, closed, rated, or rejected, withdrawn, stuck) is cut at that moment, so the last
days hold open and overdue matters. Rows are streamed to COPY in batches; nothing holds the whole set.
"""

from __future__ import annotations

import argparse
import atexit
import hashlib
import json
import os
import random
import shutil
import sys
import tempfile
import time
import tomllib
from collections.abc import Iterable, Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import psycopg
from sqlalchemy.engine import URL, make_url

ROOT = Path(__file__).resolve().parent.parent
ZONE = "Asia/Shanghai"
LOCAL_OFFSET = 8 * 3600  # Asia/Shanghai has no daylight saving time
GROUPS = 10  # resident groups per community
POINTS = 6  # deliberation points per community
MEETINGS = 60  # meetings per community over the whole span
BATCH = 10_000  # matters per COPY batch (with their timeline and participation rows)

SURNAMES = "王李张刘陈杨赵黄周吴徐孙胡朱高林何郭马罗梁宋郑谢韩唐冯于董萧程曹袁邓许傅沈曾彭吕"
GIVEN = ["秀英", "建华", "桂芳", "国强", "玉兰", "志明", "春梅", "德胜", "丽娟", "永刚", "凤英", "海燕", "长生", "金花"]
MODERATORS = ["王德胜", "李春梅", "张国强", "刘玉兰", "陈志明", "杨桂芳"]  # one per point
TITLES = {
    "dispute": ["宅基地边界纠纷", "田埂占用引发口角", "排水沟堵塞邻里矛盾", "散养家禽毁坏菜地", "赡养老人家庭矛盾"],
    "road": ["组道坑洼雨天积水", "村道太窄会车困难", "桥头路面塌陷", "机耕路破损"],
    "streetlight": ["桥头路灯不亮", "路灯闪烁", "新修路段缺少照明", "路灯白天常亮"],
    "environment": ["河道漂浮垃圾", "垃圾桶满溢", "乱堆乱放"],
    "water": ["自来水水压低", "灌溉渠漏水", "下水道堵塞"],
    "farmland": ["灌溉渠淤塞", "土地流转租金疑问", "机耕路需要平整"],
    "elderly-children": ["独居老人需要照看", "放学路上不安全", "老人助餐点开放时间"],
    "safety": ["河边缺少护栏", "电线私拉乱接", "路口视线遮挡"],
    "other": ["快递无处投放", "健身器材损坏", "广场舞噪音"],
}
# Share of matters per category code (the agriculture template's nine).
CATEGORY_WEIGHTS = {
    "dispute": 16,
    "road": 10,
    "streetlight": 13,
    "environment": 14,
    "water": 10,
    "farmland": 8,
    "elderly-children": 10,
    "safety": 8,
    "other": 11,
}
CHANNELS = ["visit"] * 6 + ["offline"] * 5 + ["qr"] * 4 + ["web"] * 3 + ["phone"] * 2
RESOLVE_HOURS = {"dispute": (1, 72), "streetlight": (12, 120), "road": (48, 480), "farmland": (24, 240)}
AGREEMENTS = [
    "双方同意以原界桩为准，各自退让二十厘米，由议事长现场见证。",
    "一方当场道歉并赔偿损失二百元，双方握手言和。",
    "约定轮流放水，单日东户、双日西户，议事长监督执行。",
]
REJECT_REASON = "经核实不属于社区议事范围，已引导当事人通过相应渠道解决。"
MINUTES = "## 会议纪要\\n\\n议定事项见附件。"  # \\n: a newline in COPY's text format
COMMENTS = ["处理及时，很满意。", "议事长跑了好几趟，辛苦了。", "问题解决了。", "", "", ""]
SCORES = (5, 5, 5, 5, 4, 4, 4, 3, 2, 1)
HOUR_WEIGHTS = [0, 0, 0, 0, 0, 0, 1, 2, 6, 9, 9, 8, 5, 5, 8, 9, 8, 7, 6, 5, 4, 2, 1, 0]  # local hour of submission
N = r"\N"  # NULL in COPY's text format


# --- the database ------------------------------------------------------------------------------------


def database_urls(url: str | None, database: str) -> tuple[URL, str, str]:
    """(SQLAlchemy URL, psycopg conninfo of the bench database, psycopg conninfo of the maintenance database)."""
    parsed = make_url(url or f"postgresql+psycopg://postgres@127.0.0.1:5432/{database}")
    if not parsed.drivername.startswith("postgresql"):
        sys.exit("only PostgreSQL is supported")
    parsed = parsed.set(drivername="postgresql+psycopg")
    plain = parsed.set(drivername="postgresql")
    return (
        parsed,
        plain.render_as_string(hide_password=False),
        plain.set(database="postgres").render_as_string(hide_password=False),
    )


def recreate(maintenance: str, name: str) -> None:
    if "bench" not in name:
        sys.exit(f"refusing to drop {name!r}: a bench database's name contains 'bench'")
    with psycopg.connect(maintenance, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        connection.execute(f'CREATE DATABASE "{name}"')


def migrate(sqlalchemy_url: URL) -> None:
    """The schema is the migrated one, exactly as production gets it."""
    instance = tempfile.mkdtemp(prefix="yishi-bench-")  # secret key, stored exports: gone at exit
    atexit.register(shutil.rmtree, instance, ignore_errors=True)
    os.environ["YISHI_INSTANCE_PATH"] = instance
    from flask_migrate import upgrade

    from yishi import create_app

    app = create_app(
        {"YISHI_ENV": "test", "SQLALCHEMY_DATABASE_URI": sqlalchemy_url.render_as_string(hide_password=False)}
    )
    with app.app_context():
        upgrade(directory=app.config["MIGRATIONS_PATH"])
        from yishi.core.db import db

        db.engine.dispose()


# --- text for COPY -------------------------------------------------------------------------------------


def esc(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")


_days: dict[int, str] = {}


def ts(seconds: int | None) -> str:
    """A UTC epoch second as a timestamptz literal (fast: the date part is cached)."""
    if seconds is None:
        return N
    day, rest = divmod(seconds, 86400)
    text = _days.get(day)
    if text is None:
        text = _days[day] = (date(1970, 1, 1) + timedelta(days=day)).isoformat()
    return f"{text} {rest // 3600:02d}:{rest // 60 % 60:02d}:{rest % 60:02d}+00"


def line(*values) -> str:
    return "\t".join(values) + "\n"


def b(value: bool | None) -> str:
    return N if value is None else ("t" if value else "f")


def copy_rows(cursor: psycopg.Cursor, table: str, columns: str, lines: Iterable[str]) -> int:
    count, chunk = 0, []
    with cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
        for text in lines:
            chunk.append(text)
            if len(chunk) >= 2000:
                copy.write("".join(chunk))
                count += len(chunk)
                chunk.clear()
        if chunk:
            copy.write("".join(chunk))
            count += len(chunk)
    return count


# --- the shape of the data ----------------------------------------------------------------------------


class Plan:
    """Ids are arithmetic, so any row can name another without a lookup: community ``c`` (0-based) owns
    groups ``c*10+1..``, points ``c*6+1..``, categories ``c*9+1..``, people ``c*P+1..``, meetings ``c*60+1..``."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.communities = args.communities
        self.matters = args.matters
        self.seed = args.seed
        self.people = args.people or max(300, args.matters // 3)
        zone = ZoneInfo(ZONE)
        until = args.until or datetime.now(zone).date()
        self.now = int(datetime(until.year, until.month, until.day, tzinfo=zone).timestamp())
        self.days = round(args.months * 365 / 12)
        self.first_day = self.now - self.days * 86400  # local midnight, as epoch seconds
        template = tomllib.loads((ROOT / "tenants" / "templates" / "agriculture.toml").read_text(encoding="utf-8"))
        self.categories = template["categories"]
        self.category_codes = [c["code"] for c in self.categories]
        weights = [CATEGORY_WEIGHTS.get(code, 5) for code in self.category_codes]
        self.category_cum = _cumulative(weights)
        self.hour_cum = _cumulative(HOUR_WEIGHTS)

    def rng(self, *parts) -> random.Random:
        return random.Random("-".join(str(p) for p in (self.seed, *parts)))

    def group_id(self, c: int, g: int) -> int:
        return c * GROUPS + g + 1

    def point_of_group(self, g: int) -> int:  # point p serves groups p and p+6 (p < 4), points 4 and 5 one each
        return g if g < POINTS else g - POINTS

    def point_id(self, c: int, p: int) -> int:
        return c * POINTS + p + 1

    def category_id(self, c: int, k: int) -> int:
        return c * len(self.categories) + k + 1

    def person_id(self, c: int, n: int) -> int:
        return c * self.people + n + 1

    def meeting_id(self, c: int, j: int) -> int:
        return c * MEETINGS + j + 1

    def person(self, c: int, n: int) -> tuple[str, str, int]:
        """(name, phone, group index) of person n of community c: the same every time it is asked."""
        h = (n * 2654435761 + c * 40503) & 0xFFFFFFFF
        name = SURNAMES[h % len(SURNAMES)] + GIVEN[(h >> 8) % len(GIVEN)]
        phone = f"13{c % 1000:03d}{n:06d}"
        return name, phone, n % GROUPS


def _cumulative(weights: list[int]) -> list[float]:
    total, running, result = sum(weights), 0, []
    for weight in weights:
        running += weight
        result.append(running / total)
    return result


def _pick(cumulative: list[float], r: float) -> int:
    for index, bound in enumerate(cumulative):
        if r < bound:
            return index
    return len(cumulative) - 1


# --- small tables ---------------------------------------------------------------------------------------


def street_rows(plan: Plan) -> Iterator[str]:
    yield line("1", "bench", "基准街道", "Bench Street", "泰州市", ZONE, ts(plan.first_day - 90 * 86400))


def community_rows(plan: Plan) -> Iterator[str]:
    created = ts(plan.first_day - 60 * 86400)
    for c in range(plan.communities):
        rng = plan.rng("community", c)
        yield line(
            str(c + 1), f"bench-{c + 1:03d}", f"基准{c + 1:03d}社区", f"Bench Community {c + 1:03d}", "1",
            "agriculture", ZONE, "zh_CN", str(rng.randint(3000, 15000)), "active", "", "", created, "agriculture",
            created, created, "", "around_the_clock", "08:30-17:30", "7",
        )  # fmt: skip


def group_rows(plan: Plan) -> Iterator[str]:
    created = ts(plan.first_day - 60 * 86400)
    for c in range(plan.communities):
        for g in range(GROUPS):
            yield line(
                str(plan.group_id(c, g)), f"g{g + 1:02d}", f"第{g + 1}居民小组", f"Group {g + 1}",
                str(80 + (c * 7 + g * 13) % 120), str(g), str(c + 1), created,
            )  # fmt: skip


def point_rows(plan: Plan) -> Iterator[str]:
    created = ts(plan.first_day - 60 * 86400)
    for c in range(plan.communities):
        for p in range(POINTS):
            active = not (c % 10 == 3 and p == POINTS - 1)  # a few communities have a point closed: a group uncovered
            yield line(
                str(plan.point_id(c, p)), f"p{p + 1}", f"第{p + 1}议事点", f"Point {p + 1}", f"第{p + 1}组活动室",
                f"{32.45 + c * 0.01:.5f}", f"{119.92 + p * 0.01:.5f}", "周一至周五 8:30-17:30", b(active), str(p),
                str(c + 1), created,
            )  # fmt: skip


def point_group_rows(plan: Plan) -> Iterator[str]:
    row = 0
    for c in range(plan.communities):
        for g in range(GROUPS):
            row += 1
            yield line(str(row), str(plan.point_id(c, plan.point_of_group(g))), str(plan.group_id(c, g)), str(c + 1))


def category_rows(plan: Plan) -> Iterator[str]:
    created = ts(plan.first_day - 60 * 86400)
    for c in range(plan.communities):
        for k, category in enumerate(plan.categories):
            yield line(
                str(plan.category_id(c, k)), category["code"], esc(category["name_zh"]), esc(category["name_en"]),
                esc(category.get("description_zh", "")), esc(category.get("description_en", "")), category["kind"],
                str(category["first_response_minutes"]), str(category["resolution_minutes"]), "t", str(k),
                "agriculture", str(c + 1), created,
            )  # fmt: skip


def people_rows(plan: Plan) -> Iterator[str]:
    created = ts(plan.first_day - 30 * 86400)
    for c in range(plan.communities):
        for n in range(plan.people):
            name, phone, g = plan.person(c, n)
            key = "anon:" + hashlib.sha256(f"{name}|{phone}|{plan.group_id(c, g)}".encode()).hexdigest()
            yield line(str(plan.person_id(c, n)), key, N, name, phone, str(plan.group_id(c, g)), str(c + 1), created)


class Meetings:
    """Meetings, their attendance and the 'attended' participations: three COPYs from the same draw."""

    def __init__(self, plan: Plan) -> None:
        self.plan = plan

    def each(self) -> Iterator[tuple[int, int, int, int, str, list[int]]]:
        """(community, meeting index, starts_at, ends_at, status, attendees)."""
        plan = self.plan
        span = plan.days * 86400
        for c in range(plan.communities):
            rng = plan.rng("meetings", c)
            for j in range(MEETINGS):
                day = plan.first_day + (span * j + rng.randint(0, span // MEETINGS)) // MEETINGS // 86400 * 86400
                local_start = rng.choice((9 * 3600, 14 * 3600 + 1800, 19 * 3600))
                starts = day + local_start  # day is a local midnight
                ends = starts + rng.choice((5400, 7200))
                if ends >= plan.now:
                    status = "planned"
                else:
                    r = rng.random()
                    status = "cancelled" if r < 0.05 else "held" if r < 0.2 else "published"
                attendees = []
                if status in ("held", "published"):
                    attendees = sorted(rng.sample(range(plan.people), min(plan.people, rng.randint(8, 30))))
                yield c, j, starts, ends, status, attendees

    def meeting_rows(self) -> Iterator[str]:
        plan = self.plan
        for c, j, starts, ends, status, _attendees in self.each():
            p = j % POINTS
            held = ends if status in ("held", "published") else None
            published = min(ends + 86400 * (1 + j % 3), plan.now - 60) if status == "published" else None
            yield line(
                str(plan.meeting_id(c, j)), f"第{j + 1}次议事会", "本月议题：组道维修、路灯亮化、矛盾调解回访。",
                str(plan.point_id(c, p)), f"第{p + 1}组活动室", ts(starts), ts(ends), N, status,
                "天气原因改期" if status == "cancelled" else "", MINUTES if published else "",
                ts(held), ts(published), str(c + 1), ts(starts - 7 * 86400),
            )  # fmt: skip

    def attendance_rows(self) -> Iterator[str]:
        plan, row = self.plan, 0
        for c, j, starts, _ends, _status, attendees in self.each():
            for n in attendees:
                row += 1
                method = "qr" if n % 3 else "manual"
                yield line(
                    str(row), str(plan.meeting_id(c, j)), str(plan.person_id(c, n)), method, ts(starts - 600 + n % 900),
                    N, str(c + 1),
                )  # fmt: skip

    def participation_rows(self, first_id: int) -> Iterator[str]:
        plan, row = self.plan, first_id - 1
        for c, j, starts, _ends, _status, attendees in self.each():
            for n in attendees:
                row += 1
                yield line(
                    str(row), str(plan.person_id(c, n)), "attended", "meeting", str(plan.meeting_id(c, j)), ts(starts),
                    str(c + 1),
                )  # fmt: skip


# --- matters -----------------------------------------------------------------------------------------

MATTER_COLUMNS = (
    "id, community_id, version, title, description, category_id, resident_group_id, point_id, channel, status, "
    "address, latitude, longitude, reporter_user_id, reporter_name, reporter_phone, recorded_by_id, tracking_hash, "
    "parties, assignee_id, escalated_to, resolution_note, outcome, agreement_text, reject_reason, submitted_at, "
    "accepted_at, resolved_at, closed_at, first_response_due_at, first_response_escalate_at, resolution_due_at, "
    "resolution_escalate_at, minutes_to_accept, minutes_to_resolve, first_response_met, resolution_met, "
    "satisfaction, satisfaction_comment, rated_at, created_at"
)
TIMELINE_COLUMNS = (
    "id, community_id, matter_id, at, kind, action, from_status, to_status, actor_user_id, actor_label, actor_role, "
    "note, public"
)
PARTICIPATION_COLUMNS = "id, person_id, kind, subject_type, subject_id, at, community_id"


class Matters:
    """Matters in time order across communities (day by day), each with 3-5 timeline entries and its
    'raised' participation. ``batches()`` yields (matters, timeline, participations) lists of lines."""

    def __init__(self, plan: Plan) -> None:
        self.plan = plan
        self.matter_id = 0
        self.entry_id = 0
        self.participation_id = 0

    def per_day(self, c: int) -> list[int]:
        """How many matters community c receives each day: exactly ``--matters`` in all, busier on
        weekdays and slowly growing over the year, with day-to-day noise."""
        plan = self.plan
        rng = plan.rng("days", c)
        weights = []
        for d in range(plan.days):
            weekday = (date(1970, 1, 1) + timedelta(days=(plan.first_day + LOCAL_OFFSET) // 86400 + d)).weekday()
            weights.append((0.7 if weekday >= 5 else 1.0) * (0.8 + 0.4 * d / plan.days) * rng.uniform(0.6, 1.4))
        total, running, previous, result = sum(weights), 0.0, 0, []
        for weight in weights:
            running += weight
            upto = round(plan.matters * running / total)
            result.append(upto - previous)
            previous = upto
        return result

    def batches(self) -> Iterator[tuple[list[str], list[str], list[str]]]:
        plan = self.plan
        schedules = [self.per_day(c) for c in range(plan.communities)]
        rngs = [plan.rng("matters", c) for c in range(plan.communities)]
        matters: list[str] = []
        timeline: list[str] = []
        raised: list[str] = []
        for d in range(plan.days):
            day_start = plan.first_day + d * 86400  # local midnight
            for c in range(plan.communities):
                rng = rngs[c]
                times = sorted(
                    day_start + _pick(plan.hour_cum, rng.random()) * 3600 + rng.randrange(3600)
                    for _ in range(schedules[c][d])
                )
                for submitted in times:
                    if submitted >= plan.now:
                        submitted = plan.now - rng.randint(60, 3600)
                    self.matter(rng, c, submitted, matters, timeline, raised)
                if len(matters) >= BATCH:
                    yield matters, timeline, raised
                    matters, timeline, raised = [], [], []
        if matters:
            yield matters, timeline, raised

    def matter(self, rng: random.Random, c: int, submitted: int, matters: list, timeline: list, raised: list) -> None:
        plan = self.plan
        now = plan.now
        self.matter_id += 1
        mid = self.matter_id
        k = _pick(plan.category_cum, rng.random())
        category = plan.categories[k]
        code = category["code"]
        dispute = category["kind"] == "dispute"
        n = int(plan.people * rng.random() ** 2)  # some residents raise many matters, most a few
        name, phone, g = plan.person(c, n)
        p = plan.point_of_group(g)
        moderator = MODERATORS[p]
        channel = CHANNELS[int(rng.random() * len(CHANNELS))]
        title = rng.choice(TITLES.get(code) or TITLES["other"])
        first_minutes, resolution_minutes = category["first_response_minutes"], category["resolution_minutes"]
        first_due = submitted + first_minutes * 60
        resolution_due = submitted + resolution_minutes * 60

        accepted = resolved = closed = rated = minutes_accept = minutes_resolve = satisfaction = None
        first_met = resolution_met = None
        outcome = escalated_to = None
        status, reject_reason, resolution_note, agreement, comment = "submitted", "", "", "", ""
        role = "handler" if channel in ("offline", "phone", "visit") else "reporter"
        entries = [(submitted, "transition", "submit", N, "submitted", moderator if role == "handler" else name, role)]

        r = rng.random()
        if r < 0.02:  # withdrawn before anyone took it up
            at = submitted + rng.randint(60, 720)
            if at < now:
                status, closed = "withdrawn", at
                entries.append((at, "transition", "withdraw", "submitted", "withdrawn", name, "reporter"))
        elif r < 0.05:  # rejected: not something the community can handle
            at = submitted + rng.randint(300, 7200)
            if at < now:
                status, closed, reject_reason = "rejected", at, REJECT_REASON
                entries.append((at, "transition", "reject", "submitted", "rejected", moderator, "handler"))
        elif r < 0.054:  # never taken up: overdue
            pass
        else:
            t = rng.random()
            if t < 0.86:
                minutes = rng.randint(2, 14)
            elif t < 0.97:
                minutes = rng.randint(15, 60)
            else:
                minutes = rng.randint(60, 1440)
            at = submitted + minutes * 60 + rng.randrange(60)
            if at < now:
                accepted, minutes_accept, first_met = at, minutes, at <= first_due
                status = "accepted"
                entries.append((at, "transition", "accept", "submitted", "accepted", moderator, "handler"))
        if accepted is not None:
            stall = rng.random()
            started = accepted + rng.randint(300, 5400)
            if stall < 0.008:
                pass  # taken up, nothing since
            elif stall < 0.015:
                at = accepted + rng.randint(3600, 6 * 3600)
                if at < now:
                    status, escalated_to = "escalated", "community" if rng.random() < 0.8 else "street"
                    entries.append((at, "transition", "escalate", "accepted", "escalated", moderator, "handler"))
            else:
                use_start = stall < 0.03 or rng.random() < 0.45
                low, high = RESOLVE_HOURS.get(code, (6, 168))
                if rng.random() < 0.07:  # late: past the resolution target
                    done = submitted + int(resolution_minutes * 60 * rng.uniform(1.02, 1.8))
                else:
                    done = started + rng.randint(low * 3600, high * 3600)
                    done = min(done, resolution_due - rng.randint(0, 3600)) if done > resolution_due else done
                    done = max(done, started + 600)
                if use_start and started < now:
                    status = "in_progress"
                    entries.append((started, "transition", "start", "accepted", "in_progress", moderator, "handler"))
                if stall < 0.03:
                    pass  # still in progress (or not started)
                elif done < now:
                    resolved, minutes_resolve, resolution_met = done, (done - submitted) // 60, done <= resolution_due
                    previous, status = status, "resolved"
                    if dispute:
                        agreed = rng.random() < 0.85
                        outcome = "agreement" if agreed else "no_agreement"
                        agreement = rng.choice(AGREEMENTS) if agreed else ""
                        resolution_note = "在议事点现场调解，双方当面沟通。"
                    else:
                        resolution_note = "已协调相关部门处理完毕，现场复查合格。"
                    entries.append((done, "transition", "resolve", previous, "resolved", moderator, "handler"))
                    by_reporter = rng.random() < 0.85
                    at = done + (rng.randint(4 * 3600, 72 * 3600) if by_reporter else 7 * 86400)
                    if at < now:
                        status, closed = "closed", at
                        who = (name, "reporter") if by_reporter else ("系统", "system")
                        entries.append((at, "transition", "close", "resolved", "closed", *who))
                        if by_reporter and rng.random() < 0.7:
                            satisfaction = SCORES[int(rng.random() * len(SCORES))]
                            rated, comment = at, rng.choice(COMMENTS)
                            entries.append((at, "rating", "", N, N, name, "reporter"))
        if len(entries) > 5:  # closed and rated: the start step is the one left out (accepted -> resolved)
            entries = [e for e in entries if e[2] != "start"]
            entries = [(*e[:3], "accepted", *e[4:]) if e[2] == "resolve" else e for e in entries]
        while len(entries) < 3:  # a note, a reminder: every matter has a few lines of history
            last = entries[-1][0]
            at = min(last + rng.randint(600, 86400), now - 1)
            if status == "submitted" and first_due < now and len(entries) == 1:
                entries.append((max(first_due, last), "reminder", "", N, N, "系统", "system"))
            else:
                entries.append((max(at, last), "note", "", N, N, moderator, "handler"))

        for at, kind, action, from_status, to_status, label, actor_role in entries:
            self.entry_id += 1
            timeline.append(
                f"{self.entry_id}\t{c + 1}\t{mid}\t{ts(at)}\t{kind}\t{action}\t{from_status}\t{to_status}\t{N}\t"
                f"{label}\t{actor_role}\t{'' if kind != 'note' else '已电话联系反映人，约定上门查看。'}\t"
                f"{'f' if kind == 'reminder' else 't'}\n"
            )
        self.participation_id += 1
        raised.append(
            f"{self.participation_id}\t{plan.person_id(c, n)}\traised\tmatter\t{mid}\t{ts(submitted)}\t{c + 1}\n"
        )
        parties = json.dumps([name, rng.choice(SURNAMES) + rng.choice(GIVEN)], ensure_ascii=False) if dispute else "[]"
        tracking = hashlib.sha256(f"bench-{mid}".encode()).hexdigest() if channel in ("web", "qr") else N
        matters.append(
            line(
                str(mid), str(c + 1), str(len(entries)), title, "", str(plan.category_id(c, k)),
                str(plan.group_id(c, g)), str(plan.point_id(c, p)), channel, status, f"第{g + 1}组", N, N, N,
                name, phone, N, tracking, parties, N, escalated_to or N, resolution_note, outcome or N, agreement,
                reject_reason, ts(submitted), ts(accepted), ts(resolved), ts(closed), ts(first_due),
                ts(first_due + first_minutes * 60), ts(resolution_due),
                ts(resolution_due + min(resolution_minutes, 1440) * 60),
                N if minutes_accept is None else str(minutes_accept),
                N if minutes_resolve is None else str(minutes_resolve), b(first_met), b(resolution_met),
                N if satisfaction is None else str(satisfaction), comment, ts(rated), ts(submitted),
            )
        )  # fmt: skip


# --- main ---------------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--communities", type=int, default=100, help="communities in the street (default 100)")
    parser.add_argument("--matters", type=int, default=10_000, help="matters per community (default 10000)")
    parser.add_argument("--months", type=int, default=12, help="months of history before --until (default 12)")
    parser.add_argument("--until", type=date.fromisoformat, help="the data's today, YYYY-MM-DD (default: today)")
    parser.add_argument("--people", type=int, help="people per community (default max(300, matters/3))")
    parser.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
    parser.add_argument("--database", default="yishi_bench", help="database name (default yishi_bench)")
    parser.add_argument("--url", help="full database URL instead (postgresql://user@host:port/name)")
    args = parser.parse_args(argv)

    sqlalchemy_url, conninfo, maintenance = database_urls(args.url, args.database)
    plan = Plan(args)
    started = time.perf_counter()
    print(f"database {sqlalchemy_url.database}: dropped and created, migrating ...", flush=True)
    recreate(maintenance, sqlalchemy_url.database)
    migrate(sqlalchemy_url)
    migrated = time.perf_counter()
    print(f"  migrated in {migrated - started:.1f} s", flush=True)
    until = datetime.fromtimestamp(plan.now, UTC).astimezone(ZoneInfo(ZONE))
    print(
        f"{plan.communities} communities x {plan.matters} matters, {plan.people} people each, "
        f"{plan.days} days up to {until.isoformat()}, seed {plan.seed}",
        flush=True,
    )

    counts: dict[str, int] = {}
    with psycopg.connect(conninfo) as connection, connection.cursor() as cursor:
        cursor.execute("SET synchronous_commit = off")

        def load(table: str, columns: str, rows: Iterable[str]) -> None:
            began = time.perf_counter()
            counts[table] = counts.get(table, 0) + copy_rows(cursor, table, columns, rows)
            print(f"  {table:<22} {counts[table]:>10,} rows  {time.perf_counter() - began:6.1f} s", flush=True)

        load("streets", "id, slug, name_zh, name_en, city, time_zone, created_at", street_rows(plan))
        load(
            "communities",
            "id, slug, name_zh, name_en, street_id, kind, time_zone, default_locale, resident_count, status, "
            "description_zh, description_en, created_at, category_template, applied_at, decided_at, decision_reason, "
            "target_clock, working_hours, auto_close_days",
            community_rows(plan),
        )
        load(
            "resident_groups",
            "id, code, name_zh, name_en, household_count, position, community_id, created_at",
            group_rows(plan),
        )
        load(
            "points",
            "id, code, name_zh, name_en, address, latitude, longitude, opening_hours, active, position, "
            "community_id, created_at",
            point_rows(plan),
        )
        load("point_resident_groups", "id, point_id, resident_group_id, community_id", point_group_rows(plan))
        load(
            "categories",
            "id, code, name_zh, name_en, description_zh, description_en, kind, first_response_minutes, "
            "resolution_minutes, active, position, template, community_id, created_at",
            category_rows(plan),
        )
        load(
            "people",
            "id, identity_key, user_id, name, phone, resident_group_id, community_id, created_at",
            people_rows(plan),
        )
        meetings = Meetings(plan)
        load(
            "meetings",
            "id, title, topic, point_id, location, starts_at, ends_at, convener_id, status, cancel_reason, minutes, "
            "held_at, minutes_published_at, community_id, created_at",
            meetings.meeting_rows(),
        )
        load(
            "meeting_attendance",
            "id, meeting_id, person_id, method, checked_in_at, checked_in_by_id, community_id",
            meetings.attendance_rows(),
        )
        load("participations", PARTICIPATION_COLUMNS, meetings.participation_rows(1))

        matters = Matters(plan)
        matters.participation_id = counts["participations"]
        began = time.perf_counter()
        for batch, entries, raised in matters.batches():
            counts["matters"] = counts.get("matters", 0) + copy_rows(cursor, "matters", MATTER_COLUMNS, batch)
            counts["matter_timeline"] = counts.get("matter_timeline", 0) + copy_rows(
                cursor, "matter_timeline", TIMELINE_COLUMNS, entries
            )
            counts["participations"] += copy_rows(cursor, "participations", PARTICIPATION_COLUMNS, raised)
            if counts["matters"] % 100_000 < BATCH:
                rate = counts["matters"] / (time.perf_counter() - began)
                print(f"  matters {counts['matters']:>10,}  ({rate:,.0f}/s)", flush=True)
        print(f"  matters, timeline, participations  {time.perf_counter() - began:6.1f} s", flush=True)

        for table in counts:
            sequence = f"pg_get_serial_sequence('{table}', 'id')"
            cursor.execute(f"SELECT setval({sequence}, (SELECT coalesce(max(id), 0) + 1 FROM {table}), false)")
        connection.commit()
    loaded = time.perf_counter()

    with psycopg.connect(conninfo, autocommit=True) as connection:
        connection.execute("VACUUM (ANALYZE)")
        size = connection.execute("SELECT pg_size_pretty(pg_database_size(current_database()))").fetchone()[0]
    done = time.perf_counter()

    print(f"\n{'table':<24}{'rows':>12}")
    for table, count in counts.items():
        print(f"{table:<24}{count:>12,}")
    print(
        f"\nmigrate {migrated - started:.1f} s, load {loaded - migrated:.1f} s, VACUUM ANALYZE {done - loaded:.1f} s, "
        f"total {done - started:.1f} s; database size {size}"
    )


if __name__ == "__main__":
    main()
