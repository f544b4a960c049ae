"""A community ready for matters: the agriculture categories, two points, moderators, an admin, a
staff member and a resident — built through the services, as a community would set itself up."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from yishi.core import tenancy
from yishi.core.db import db
from yishi.modules.accounts.models import User
from yishi.modules.accounts.permissions import Actor
from yishi.modules.categories import services as categories
from yishi.modules.communities import services as communities
from yishi.modules.matters import services
from yishi.modules.matters.models import Channel
from yishi.modules.points import services as points
from yishi.modules.selection.models import Appointment


@dataclass(frozen=True)
class Raised:
    id: int
    tracking_code: str | None
    point_id: int | None


@dataclass
class World:
    community: object
    categories: dict[str, int]
    groups: list[int]
    east: int  # point serving groups 1 and 2
    west: int  # point serving group 3
    admin: User
    moderator: User  # at the east point
    moderator2: User  # at the east point too
    west_moderator: User
    staff: User
    resident: User

    def actor(self, user: User | None) -> Actor:
        return Actor(user=user)

    def scope(self):
        return tenancy.community_scope(self.community.id)

    def raise_matter(self, *, by: User | None = None, channel=Channel.WEB, at=None, category="streetlight", **data):
        """A matter raised through the service (anonymous on the web when ``by`` is None)."""
        values = {
            "title": "桥头路灯不亮",
            "category_id": self.categories[category],
            "resident_group_id": self.groups[0],
            "reporter_name": "王秀英",
            "reporter_phone": "13912345678",
        }
        if category == "dispute":
            values["parties"] = ["张三", "李四"]
        values.update(data)
        with self.scope():
            done = services.submit(self.community, values, channel=channel, actor=Actor(user=by), at=at)
            raised = Raised(done.matter.id, done.tracking_code, done.matter.point_id)
            db.session.commit()
            return raised

    def matter(self, matter_id: int):
        """The matter as stored now (read in the community's scope, loaded in full)."""
        with self.scope():
            matter = services.get_matter(matter_id)
            db.session.refresh(matter)
            return matter

    def move(self, matter_id: int, action: str, *, by: User | None, at=None, tracked=False, **kwargs):
        with self.scope():
            matter = services.get_matter(matter_id)
            services.transition(self.community, matter, action, actor=Actor(user=by), at=at, tracked=tracked, **kwargs)
            db.session.commit()


def build(community, create_user) -> World:
    admin = create_user(community=community, role="admin", name="管理员")
    moderator = create_user(community=community, role="moderator", name="李建国", phone="13800000001")
    moderator2 = create_user(community=community, role="moderator", name="赵红梅", phone="13800000002")
    west_moderator = create_user(community=community, role="moderator", name="孙志强", phone="13800000003")
    staff = create_user(community=community, role="staff", name="工作人员")
    resident = create_user(community=community, role="resident", name="陈居民", phone="13711112222")
    with tenancy.community_scope(community.id):
        categories.apply_template(community, "agriculture")
        groups = [g.id for g in communities.list_resident_groups()]
        east = points.create_point(
            community, {"code": "east", "name_zh": "东议事点", "name_en": "East", "resident_group_ids": groups[:2]}
        )
        west = points.create_point(
            community, {"code": "west", "name_zh": "西议事点", "name_en": "West", "resident_group_ids": groups[2:]}
        )
        for user, point in ((moderator, east), (moderator2, east), (west_moderator, west)):
            db.session.add(Appointment(user_id=user.id, point_id=point.id, term_start=date(2020, 1, 1)))
        codes = {c.code: c.id for c in categories.list_categories()}
        east_id, west_id = east.id, west.id
        db.session.commit()
    return World(
        community, codes, groups, east_id, west_id, admin, moderator, moderator2, west_moderator, staff, resident
    )
