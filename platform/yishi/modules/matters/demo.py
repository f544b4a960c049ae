"""Demo matters: a year of Shilipu-like matters (86 completed — 20 disputes, 10 road, 15 streetlight —
and a few still open), and fewer for its neighbours, so a street has something to compare.

Every matter goes through the services with explicit times, exactly as live ones would: intake on
its channel, taken up by a moderator of its point, resolved, confirmed and rated by its reporter.
"""

from __future__ import annotations

import io
import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from PIL import Image, ImageDraw
from sqlalchemy import func, select

from yishi.core import tenancy
from yishi.core.db import db, utcnow
from yishi.modules.accounts.models import CommunityMembership, CommunityRole, User
from yishi.modules.accounts.permissions import Actor
from yishi.modules.categories.models import Category
from yishi.modules.communities import services as communities
from yishi.modules.matters import services
from yishi.modules.matters.models import Channel, Matter, Outcome

TITLES = {
    "dispute": [
        ("宅基地边界纠纷", "两户翻建房屋，对宅基地边界各执一词。"),
        ("田埂占用引发口角", "邻户耕种时把田埂往外挪了半尺。"),
        ("排水沟堵塞邻里矛盾", "一户填了排水沟，雨天积水淹到邻家院子。"),
        ("散养家禽毁坏菜地", "鸡鸭进了邻居菜地，双方争执赔偿。"),
        ("赡养老人家庭矛盾", "兄弟三人对赡养费分担有分歧。"),
        ("灌溉用水先后之争", "放水季节两家为先后顺序起了冲突。"),
        ("树木遮挡采光纠纷", "院外大树遮挡邻居二楼采光。"),
        ("建房滴水檐纠纷", "新房屋檐滴水落在邻家屋顶。"),
        ("鸡舍异味影响邻居", "养殖棚离住房太近，夏天气味大。"),
        ("借用农具损坏赔偿", "借用的旋耕机损坏，赔偿说不拢。"),
    ],
    "road": [
        ("组道坑洼雨天积水", "组道中段坑洼，雨后积水难行。"),
        ("村道太窄会车困难", "农忙时机械多，希望拓宽会车点。"),
        ("桥头路面塌陷", "桥头接坡处路面下沉，电动车易摔。"),
        ("机耕路破损", "田间机耕路破损，收割机进不去。"),
    ],
    "streetlight": [
        ("桥头路灯不亮", "桥头两盏路灯连续一周不亮。"),
        ("路灯闪烁", "主干道三盏路灯夜里一直闪。"),
        ("新修路段缺少照明", "新修的组道晚上漆黑一片。"),
        ("路灯白天常亮", "路灯白天也亮着，浪费电。"),
    ],
    "environment": [("河道漂浮垃圾", "河道拐弯处垃圾堆积。"), ("垃圾桶满溢", "垃圾清运不及时。")],
    "water": [("自来水水压低", "早晚用水高峰水压很低。"), ("灌溉渠漏水", "灌溉渠一处渗漏。")],
    "farmland": [("灌溉渠淤塞", "渠道淤泥多，水流不畅。"), ("土地流转租金疑问", "对今年租金结算有疑问。")],
    "elderly-children": [
        ("独居老人需要照看", "邻居老人独居，近来身体不好。"),
        ("放学路上不安全", "路口车多，孩子放学危险。"),
    ],
    "safety": [("河边缺少护栏", "河边小路没有护栏。"), ("电线私拉乱接", "有人从家里拉电线充电。")],
    "other": [("快递无处投放", "快递员不进组，取件不便。"), ("健身器材损坏", "广场健身器材螺丝松动。")],
    "property": [("物业服务不到位", "楼道卫生很久没人打扫。")],
    "parking": [("小区停车难", "晚上车位不够，乱停乱放。")],
    "renovation": [("老旧小区改造意见", "希望加装扶手和楼道灯。")],
}
SURNAMES = "王李张刘陈杨赵黄周吴徐孙胡朱高林何郭马罗梁宋郑谢韩唐冯于董萧程曹袁邓许傅沈曾彭吕"
GIVEN = ["秀英", "建华", "桂芳", "国强", "玉兰", "志明", "春梅", "德胜", "丽娟", "永刚", "凤英", "海燕", "长生", "金花"]
AGREEMENTS = [
    "双方同意以原界桩为准，各自退让二十厘米，由议事长现场见证。",
    "一方当场道歉并赔偿损失二百元，双方握手言和。",
    "约定轮流放水，单日东户、双日西户，议事长监督执行。",
    "三兄弟按月均摊赡养费，每月五日前交给母亲本人。",
]
POOL_SIZES = {"shilipu": 112, "donghu": 70, "xiyuan": 45}
CHANNELS = [Channel.VISIT] * 6 + [Channel.OFFLINE] * 5 + [Channel.QR] * 4 + [Channel.WEB] * 3 + [Channel.PHONE] * 2


@dataclass(frozen=True)
class Resident:
    name: str
    phone: str
    group_id: int | None


def resident_pool(community, size: int) -> list[Resident]:
    """The same residents every time for a community (names, phones, groups): they raise matters and
    come to meetings, so the participation ledger counts people, not events."""
    generator = random.Random(f"residents-{community.slug}")
    groups = [g.id for g in communities.list_resident_groups()] or [None]
    people, seen = [], set()
    while len(people) < size:
        name = generator.choice(SURNAMES) + generator.choice(GIVEN)
        if name in seen:
            continue
        seen.add(name)
        phone = f"1{generator.choice('35789')}{generator.randint(100000000, 999999999)}"
        people.append(Resident(name, phone, groups[len(people) % len(groups)]))
    return people


@dataclass
class Plan:
    category: str
    completed: bool = True
    end: str = "closed"  # closed, resolved, accepted, in_progress, submitted, escalated, rejected, withdrawn


def _shilipu_plan() -> list[Plan]:
    completed = {
        "dispute": 20,
        "road": 10,
        "streetlight": 15,
        "environment": 10,
        "water": 8,
        "farmland": 8,
        "elderly-children": 6,
        "safety": 5,
        "other": 4,
    }
    plans = [Plan(code) for code, count in completed.items() for _ in range(count)]
    plans += [Plan("streetlight", False, "submitted"), Plan("road", False, "submitted")]
    plans += [
        Plan("water", False, "accepted"),
        Plan("road", False, "in_progress"),
        Plan("farmland", False, "in_progress"),
    ]
    plans += [
        Plan("dispute", False, "escalated"),
        Plan("other", False, "rejected"),
        Plan("environment", False, "withdrawn"),
    ]
    return plans


def _neighbour_plan(codes: list[str], count: int, generator: random.Random) -> list[Plan]:
    plans = [Plan(generator.choice(codes)) for _ in range(count)]
    plans[-1].completed, plans[-1].end = False, "submitted"
    plans[-2].completed, plans[-2].end = False, "in_progress"
    return plans


def _photo(generator: random.Random) -> bytes:
    """A small generated picture: a lane at dusk with a lamp post (no camera, so no metadata)."""
    image = Image.new("RGB", (640, 480), (40 + generator.randint(0, 30), 60, 110))
    draw = ImageDraw.Draw(image)
    draw.rectangle((0, 320, 640, 480), fill=(90, 85, 80))
    x = generator.randint(200, 440)
    draw.rectangle((x, 120, x + 10, 330), fill=(30, 30, 30))
    draw.ellipse((x - 20, 100, x + 30, 140), fill=(60, 60, 60))
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=80)
    return buffer.getvalue()


def ensure_demo_matters(now: datetime | None = None) -> None:
    now = now or utcnow()
    for slug, plan, seed in (("shilipu", _shilipu_plan(), 1200), ("donghu", None, 2200), ("xiyuan", None, 3300)):
        community = communities.get_community(slug)
        if community is None:
            continue
        with tenancy.community_scope(community.id):
            if db.session.execute(select(func.count(Matter.id))).scalar_one():
                continue
            generator = random.Random(seed)
            codes = [c.code for c in db.session.execute(select(Category).where(Category.active.is_(True))).scalars()]
            if not codes:
                continue
            _build(community, plan or _neighbour_plan(codes, 36 if slug == "donghu" else 24, generator), generator, now)
            services.sweep(community, now=now)  # what the scheduler would have done: reminders, auto-close
            db.session.commit()


def _people(community) -> dict[str, list[User]]:
    rows = db.session.execute(
        select(CommunityMembership, User).join(User, User.id == CommunityMembership.user_id)
    ).all()
    people: dict[str, list[User]] = {"admin": [], "visitors": [], "residents": []}
    for membership, user in rows:
        if membership.role == CommunityRole.ADMIN:
            people["admin"].append(user)
        if membership.party_member or membership.representative:
            people["visitors"].append(user)
        if membership.role == CommunityRole.RESIDENT:
            people["residents"].append(user)
    return people


def _build(community, plans: list[Plan], generator: random.Random, now: datetime) -> None:
    from yishi.modules.selection.services import active_moderators

    zone = ZoneInfo(community.time_zone)
    people = _people(community)
    moderators: dict[int, list[User]] = {}
    for appointment, user in active_moderators():
        moderators.setdefault(appointment.point_id, []).append(user)
    categories = {c.code: c for c in db.session.execute(select(Category)).scalars()}
    admin = people["admin"][0] if people["admin"] else None
    pool = resident_pool(community, POOL_SIZES.get(community.slug, 60))
    start = now - timedelta(days=360)
    generator.shuffle(plans)
    photos_left = 8
    for index, plan in enumerate(plans):
        category = categories.get(plan.category) or next(iter(categories.values()))
        if plan.completed:
            day = start + timedelta(days=int(index * 345 / max(len(plans), 1)) + generator.randint(0, 3))
        else:
            day = now - timedelta(days=generator.randint(0, 4))
        local = day.astimezone(zone).replace(hour=generator.randint(8, 19), minute=generator.randint(0, 59))
        submitted = min(local.astimezone(UTC), now - timedelta(minutes=generator.randint(40, 300)))
        channel = generator.choice(CHANNELS)
        if channel == Channel.WEB and not people["residents"]:
            channel = Channel.QR
        resident = generator.choice(pool)
        group = resident.group_id
        point_id = services.route(group)
        if channel == Channel.QR and point_id is None:
            channel = Channel.PHONE
        handler_pool = moderators.get(point_id) or ([admin] if admin else [])
        if not handler_pool:
            continue
        handler = generator.choice(handler_pool)
        titles = TITLES.get(category.code) or TITLES["other"]
        title, description = generator.choice(titles)
        name = resident.name
        data = {
            "title": title,
            "description": description,
            "category_id": category.id,
            "resident_group_id": group,
            "point_id": point_id if channel == Channel.QR else None,
            "reporter_name": name,
            "reporter_phone": resident.phone,
            "parties": [name, generator.choice(SURNAMES) + generator.choice(GIVEN)]
            if category.kind == "dispute"
            else [],
        }
        if channel == Channel.WEB:
            reporter, recorder = generator.choice(people["residents"]), None
        elif channel == Channel.VISIT:
            reporter, recorder = None, generator.choice(people["visitors"] or handler_pool)
        elif channel in (Channel.OFFLINE, Channel.PHONE):
            reporter, recorder = None, handler
        else:
            reporter, recorder = None, None
        photos = []
        if photos_left and category.code in ("streetlight", "road") and generator.random() < 0.5:
            photos, photos_left = [("photo.jpg", _photo(generator))], photos_left - 1
        done = services.submit(
            community, data, channel=channel, actor=Actor(user=reporter or recorder), photos=photos, at=submitted
        )
        _advance(community, done.matter, plan, handler, reporter, generator, submitted, now)


def _advance(community, matter, plan: Plan, handler: User, reporter: User | None, generator, submitted, now) -> None:
    moderator = Actor(user=handler)
    resident = Actor(user=reporter)

    def move(action, at, **kwargs):
        services.transition(community, matter, action, actor=moderator, at=min(at, now), **kwargs)

    if plan.end == "submitted":
        return
    if plan.end == "withdrawn":
        services.transition(
            community, matter, "withdraw", actor=resident, tracked=True, at=submitted + timedelta(hours=2)
        )
        return
    late = generator.random() < 0.12
    accepted = submitted + timedelta(minutes=generator.randint(16, 50) if late else generator.randint(2, 14))
    if plan.end == "rejected":
        move("reject", accepted, note="经核实属于个人合同纠纷，已引导当事人通过法律途径解决。")
        return
    move("accept", accepted)
    if plan.end == "accepted":
        return
    if plan.end == "escalated":
        move(
            "escalate",
            accepted + timedelta(hours=3),
            note="涉及多户土地边界，需要社区两委协调。",
            escalate_to="community",
        )
        return
    started = accepted + timedelta(minutes=generator.randint(5, 90))
    move("start", started, note="已到现场查看情况。")
    if plan.end == "in_progress":
        return
    hours = {"dispute": (1, 72), "streetlight": (12, 120), "road": (48, 480)}.get(plan.category, (6, 168))
    resolved = started + timedelta(hours=generator.randint(*hours))
    kwargs = {}
    if plan.category == "dispute":
        agreed = generator.random() < 0.85
        kwargs = {
            "outcome": (Outcome.AGREEMENT if agreed else Outcome.NO_AGREEMENT).value,
            "agreement_text": generator.choice(AGREEMENTS) if agreed else "",
        }
        note = (
            "在议事点现场调解，双方当面沟通。"
            if agreed
            else "多次调解未能达成一致，已告知当事人可申请人民调解委员会调解。"
        )
    else:
        note = "已协调相关部门处理完毕，现场复查合格。"
    move("resolve", resolved, note=note, **kwargs)
    if resolved >= now or generator.random() < 0.2:
        return  # left for the reporter to confirm (or for the auto-close)
    confirmed = resolved + timedelta(hours=generator.randint(4, 72))
    if confirmed >= now:
        return
    services.transition(community, matter, "close", actor=resident, tracked=True, at=confirmed)
    if generator.random() < 0.8:
        score = generator.choice((5, 5, 5, 4, 4, 3))
        comment = generator.choice(("处理及时，很满意。", "议事长跑了好几趟，辛苦了。", "问题解决了。", ""))
        services.rate(community, matter, score, comment, actor=resident, tracked=True, at=confirmed)
