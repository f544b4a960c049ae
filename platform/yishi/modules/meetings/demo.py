"""Demo meetings: Shilipu's year of deliberation meetings (60+), with agendas of its matters, the
residents who came, decisions and published minutes; two meetings still to come, with online
comments and volunteers; fewer meetings for its neighbours."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, select

from yishi.core import tenancy
from yishi.core.db import db, utcnow
from yishi.modules.accounts.models import CommunityMembership, CommunityRole, User
from yishi.modules.accounts.permissions import Actor
from yishi.modules.communities import services as communities
from yishi.modules.matters import services as matters
from yishi.modules.matters import workflow
from yishi.modules.matters.demo import POOL_SIZES, resident_pool
from yishi.modules.matters.models import Matter
from yishi.modules.meetings import services
from yishi.modules.meetings.models import AgendaItem, CheckInMethod, DecisionKind, Meeting
from yishi.modules.participation import services as participation
from yishi.modules.points.models import Point
from yishi.modules.selection.services import active_moderators

TOPICS = [
    ("{point}月度议事会", "通报本月事项办理情况，听取居民意见。"),
    ("宅基地与田界纠纷调解会", "当事人双方到场，议事长主持调解。"),
    ("组道修缮议事会", "商议组道修缮的先后顺序和出工安排。"),
    ("路灯亮化议事会", "确定新增路灯的位置。"),
    ("环境整治议事会", "河道和垃圾清运的分工。"),
    ("灌溉用水协调会", "放水季节的用水顺序。"),
]
FREE_TOPICS = ["上月事项办理情况通报", "居民代表发言", "下月走访安排", "环境卫生评比"]
DECISIONS = [
    "经表决通过，由议事长牵头在两周内落实。",
    "与会居民一致同意按此方案执行。",
    "由当事双方签字确认，议事长见证。",
]
MINUTES = """## 会议纪要

**时间**：{when}
**地点**：{place}

### 议题
{items}

### 决定
{decisions}

参会居民 {count} 人。会议坚持公平、公正、公开，议定事项由议事长跟进落实。
"""
PLAN = {"shilipu": 62, "donghu": 18, "xiyuan": 9}


def ensure_demo_meetings(now: datetime | None = None) -> None:
    now = now or utcnow()
    for slug, count in PLAN.items():
        community = communities.get_community(slug)
        if community is None:
            continue
        with tenancy.community_scope(community.id):
            if db.session.execute(select(func.count(Meeting.id))).scalar_one():
                continue
            _build(community, count, random.Random(f"meetings-{slug}"), now)
            db.session.commit()


def _conveners(community) -> dict[int | None, list[User]]:
    by_point: dict[int | None, list[User]] = {}
    for appointment, user in active_moderators():
        by_point.setdefault(appointment.point_id, []).append(user)
    admins = db.session.execute(
        select(User)
        .join(CommunityMembership, CommunityMembership.user_id == User.id)
        .where(CommunityMembership.role == CommunityRole.ADMIN)
    ).scalars()
    by_point[None] = list(admins)
    return by_point


def _build(community, count: int, generator: random.Random, now: datetime) -> None:
    zone = ZoneInfo(community.time_zone)
    conveners = _conveners(community)
    if not conveners[None]:
        return
    points = [p for p in db.session.execute(select(Point).where(Point.active.is_(True))).scalars()]
    pool = resident_pool(community, POOL_SIZES.get(community.slug, 60))
    resolved = list(
        db.session.execute(select(Matter).where(Matter.resolved_at.is_not(None)).order_by(Matter.resolved_at)).scalars()
    )
    start = now - timedelta(days=355)
    for index in range(count):
        day = (start + timedelta(days=index * 350 // count + generator.randint(0, 2))).astimezone(zone)
        begins = day.replace(hour=generator.choice((9, 14, 15, 19)), minute=0, second=0, microsecond=0)
        if begins.astimezone(UTC) > now - timedelta(hours=3):
            continue
        point = generator.choice(points) if points else None
        convener = generator.choice(conveners.get(point.id if point else None) or conveners[None])
        actor = Actor(user=convener)
        title, topic = generator.choice(TOPICS)
        meeting = services.create_meeting(
            community,
            {
                "title": title.format(point=point.name_zh if point else ""),
                "topic": topic,
                "point_id": point.id if point else None,
                "starts_at": begins.astimezone(UTC),
                "ends_at": (begins + timedelta(minutes=generator.choice((60, 90, 120)))).astimezone(UTC),
                "invited_group_ids": [],
            },
            actor=actor,
        )
        meeting.created_at = begins.astimezone(UTC) - timedelta(days=3)
        items = [services.add_agenda_item(community, meeting, actor=actor, title=generator.choice(FREE_TOPICS))]
        nearby = [m for m in resolved if abs((m.resolved_at - meeting.starts_at).days) <= 10][:2]
        for position, matter in enumerate(nearby, start=2):
            # Matters decided at this meeting: recorded as they were then (they are closed now).
            items.append(
                AgendaItem(
                    community_id=community.id,
                    meeting_id=meeting.id,
                    position=position,
                    matter_id=matter.id,
                    title=matter.title,
                )
            )
            db.session.add(items[-1])
        db.session.flush()
        services.mark_held(community, meeting, actor=actor, at=meeting.starts_at)
        for person in generator.sample(pool, k=min(len(pool), generator.randint(6, 16))):
            who = participation.person_for(name=person.name, phone=person.phone, group_id=person.group_id)
            services.check_in(
                community,
                meeting,
                who,
                method=generator.choice((CheckInMethod.QR, CheckInMethod.QR, CheckInMethod.MANUAL)),
                by=actor,
                at=meeting.starts_at + timedelta(minutes=generator.randint(-15, 10)),
            )
        services.check_in(
            community, meeting, participation.person_for(user=convener), method=CheckInMethod.MANUAL, by=actor,
            at=meeting.starts_at,
        )  # fmt: skip
        for item in items:
            # "signed by both parties" fits a matter between residents, not a report or a free topic
            item.decision = generator.choice(DECISIONS if item.matter_id else DECISIONS[:2])
            item.decided_at = meeting.ends_at
            if generator.random() < 0.5:
                item.decision_kind = DecisionKind.VOTE
                item.votes_for, item.votes_against, item.votes_abstain = (
                    generator.randint(6, 14), generator.randint(0, 2), generator.randint(0, 1),
                )  # fmt: skip
            else:
                item.decision_kind = DecisionKind.CONSENSUS
        attendance = len(services.attendance_of(meeting))
        text = MINUTES.format(
            when=begins.strftime("%Y-%m-%d %H:%M"),
            place=point.name_zh if point else "线上",
            items="\n".join(f"{n}. {item.title}" for n, item in enumerate(items, start=1)),
            decisions="\n".join(f"- {item.title}：{item.decision}" for item in items),
            count=attendance,
        )
        services.save_minutes(community, meeting, text, actor=actor)
        services.publish_minutes(community, meeting, actor=actor, at=meeting.ends_at + timedelta(hours=20))
    _upcoming(community, conveners, points, generator, now)


def _upcoming(community, conveners, points, generator: random.Random, now: datetime) -> None:
    """Two meetings still to come, with open matters on their agendas, residents' comments and volunteers."""
    zone = ZoneInfo(community.time_zone)
    open_matters = list(
        db.session.execute(
            select(Matter).where(Matter.status.in_(workflow.OPEN)).order_by(Matter.submitted_at)
        ).scalars()
    )
    residents = list(
        db.session.execute(
            select(User)
            .join(CommunityMembership, CommunityMembership.user_id == User.id)
            .where(CommunityMembership.role.in_((CommunityRole.RESIDENT, CommunityRole.STAFF)))
        ).scalars()
    )
    for days, hour in ((2, 19), (6, 15)):
        point = generator.choice(points) if points else None
        convener = (conveners.get(point.id if point else None) or conveners[None])[0]
        actor = Actor(user=convener)
        begins = (now + timedelta(days=days)).astimezone(zone).replace(hour=hour, minute=0, second=0, microsecond=0)
        taken = open_matters[:2]
        open_matters = open_matters[2:]
        meeting = services.create_meeting(
            community,
            {
                "title": f"{point.name_zh if point else '线上'}议事会",
                "topic": "商议近期居民反映的事项，欢迎居民到场或在线发表意见。",
                "point_id": point.id if point else None,
                "starts_at": begins.astimezone(UTC),
                "ends_at": (begins + timedelta(minutes=90)).astimezone(UTC),
                "invited_group_ids": [g.id for g in communities.list_resident_groups()][:3],
                "matter_ids": [m.id for m in taken],
            },
            actor=actor,
        )
        for item in services.agenda_of(meeting):
            for resident in residents[:2]:
                services.comment(
                    community, meeting, item, "同意尽快解决，我可以帮忙联系相关住户。", actor=Actor(user=resident)
                )
        for matter in taken:
            for resident in residents[:1]:
                matters.volunteer(community, matter, actor=Actor(user=resident), note="可以出工帮忙")
