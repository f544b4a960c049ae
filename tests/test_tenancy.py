"""The tenant boundary (core/tenancy.py): every tenant-owned model, every kind of statement."""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime

import pytest
from sqlalchemy import delete, func, select, update

from yishi.core import tenancy
from yishi.core.audit import AuditEntry
from yishi.core.db import db
from yishi.core.tenancy import TenantMixin, TenantScopeError
from yishi.modules.accounts import services as accounts
from yishi.modules.accounts.models import CommunityMembership, CommunityRole
from yishi.modules.calendar.models import CalendarDay
from yishi.modules.categories.models import Category
from yishi.modules.communities.models import ResidentGroup
from yishi.modules.matters.models import (
    Channel,
    DueKind,
    EntryKind,
    Escalation,
    Matter,
    MatterPhoto,
    TimelineEntry,
    Volunteer,
)
from yishi.modules.meetings.models import AgendaComment, AgendaItem, Attendance, CheckInMethod, Invitation, Meeting
from yishi.modules.metrics.models import DashboardFigures
from yishi.modules.participation.models import Participation, ParticipationKind, Person
from yishi.modules.points.models import Point, PointResidentGroup
from yishi.modules.selection.models import (
    Appointment,
    Candidate,
    RoundCriterion,
    RoundEvaluator,
    Score,
    SelectionCriterion,
    SelectionRound,
)


def _make_group(community, tag):
    return ResidentGroup(code=f"x{tag}", name_zh=f"小组{tag}", name_en=f"Group {tag}")


def _make_membership(community, tag):
    user = accounts.create_user(email=f"m{tag}-{community.slug}@test.example", name="成员", password="password1")
    return CommunityMembership(user_id=user.id, role=CommunityRole.RESIDENT)


def _make_audit_entry(community, tag):
    return AuditEntry(action=f"test.{tag}", actor_label="test")


def _selection_user(community, tag, kind):
    return accounts.create_user(email=f"{kind}{tag}-{community.slug}@test.example", name=kind, password="password1")


def _selection_round(tag, kind):
    selection_round = SelectionRound(title=f"{kind} {tag}")
    db.session.add(selection_round)
    db.session.flush()
    return selection_round


def _selection_criterion(tag, kind):
    criterion = SelectionCriterion(code=f"{kind}-{tag}", name_zh="标准", name_en="Criterion")
    db.session.add(criterion)
    db.session.flush()
    return criterion


def _make_criterion(community, tag):
    return SelectionCriterion(code=f"c{tag}", name_zh=f"标准{tag}", name_en=f"Criterion {tag}")


def _make_round(community, tag):
    return SelectionRound(title=f"round {tag}")


def _make_round_criterion(community, tag):
    selection_round = _selection_round(tag, "rc")
    criterion = _selection_criterion(tag, "rc")
    return RoundCriterion(round_id=selection_round.id, criterion_id=criterion.id, weight=1.0)


def _make_evaluator(community, tag):
    selection_round = _selection_round(tag, "ev")
    user = _selection_user(community, tag, "evaluator")
    return RoundEvaluator(round_id=selection_round.id, user_id=user.id)


def _make_candidate(community, tag):
    selection_round = _selection_round(tag, "ca")
    user = _selection_user(community, tag, "candidate")
    return Candidate(round_id=selection_round.id, user_id=user.id, reason="reason")


def _make_score(community, tag):
    selection_round = _selection_round(tag, "sc")
    criterion = _selection_criterion(tag, "sc")
    candidate = Candidate(
        round_id=selection_round.id, user_id=_selection_user(community, tag, "scored").id, reason="reason"
    )
    db.session.add(candidate)
    db.session.flush()
    evaluator = _selection_user(community, tag, "scorer")
    return Score(
        round_id=selection_round.id,
        candidate_id=candidate.id,
        evaluator_id=evaluator.id,
        criterion_id=criterion.id,
        score=3,
    )


def _make_appointment(community, tag):
    point = Point(code=f"ap{tag}", name_zh="议事点", name_en="Point")
    db.session.add(point)
    db.session.flush()
    user = _selection_user(community, tag, "appointed")
    return Appointment(user_id=user.id, point_id=point.id, term_start=date(2026, 1, 1))


# Every tenant-owned model needs a factory here; test_every_tenant_model_is_covered enforces it.
def _make_category(community, tag):
    return Category(code=f"c{tag}", name_zh=f"分类{tag}", name_en=f"Category {tag}")


def _make_calendar_day(community, tag):
    return CalendarDay(day=date(2030, 1, 1 if tag == "a" else 2), is_workday=tag == "a", note=f"note {tag}")


def _make_point(community, tag):
    return Point(code=f"p{tag}", name_zh=f"议事点{tag}", name_en=f"Point {tag}")


def _make_point_group(community, tag):
    point = Point(code=f"pg{tag}", name_zh="议事点", name_en="Point")
    group = ResidentGroup(code=f"pg{tag}", name_zh="小组", name_en="Group")
    db.session.add_all([point, group])
    db.session.flush()
    return PointResidentGroup(point_id=point.id, resident_group_id=group.id)


_serial = itertools.count()


def _make_matter(community, tag):
    category = _make_category(community, f"m{tag}{next(_serial)}")
    db.session.add(category)
    db.session.flush()
    now = datetime.now(UTC)
    return Matter(
        title=f"事项{tag}",
        category_id=category.id,
        channel=Channel.WEB,
        first_response_due_at=now,
        first_response_escalate_at=now,
        resolution_due_at=now,
        resolution_escalate_at=now,
    )


def _matter_id(community, tag):
    matter = _make_matter(community, tag)
    db.session.add(matter)
    db.session.flush()
    return matter.id


def _make_timeline_entry(community, tag):
    return TimelineEntry(matter_id=_matter_id(community, tag), kind=EntryKind.NOTE, note=f"note {tag}")


def _make_matter_photo(community, tag):
    return MatterPhoto(
        matter_id=_matter_id(community, tag),
        storage_key=f"matters/x/{tag}.jpg",
        content_type="image/jpeg",
        width=1,
        height=1,
        size=1,
    )


def _make_escalation(community, tag):
    return Escalation(
        matter_id=_matter_id(community, tag), due_kind=DueKind.FIRST_RESPONSE, level=1, due_at=datetime.now(UTC)
    )


def _person_id(community, tag):
    person = _make_person(community, f"{tag}{next(_serial)}")
    db.session.add(person)
    db.session.flush()
    return person.id


def _make_person(community, tag):
    return Person(identity_key=f"test:{tag}:{next(_serial)}", name=f"居民{tag}")


def _make_participation(community, tag):
    return Participation(
        person_id=_person_id(community, tag), kind=ParticipationKind.RAISED, subject_type="matter", subject_id=1
    )


def _make_volunteer(community, tag):
    return Volunteer(matter_id=_matter_id(community, tag), person_id=_person_id(community, tag))


def _meeting_id(community, tag):
    meeting = _make_meeting(community, tag)
    db.session.add(meeting)
    db.session.flush()
    return meeting.id


def _make_meeting(community, tag):
    now = datetime.now(UTC)
    return Meeting(title=f"议事会{tag}", starts_at=now, ends_at=now)


def _make_invitation(community, tag):
    return Invitation(meeting_id=_meeting_id(community, tag))


def _make_agenda_item(community, tag):
    return AgendaItem(meeting_id=_meeting_id(community, tag), title=f"议题{tag}")


def _make_attendance(community, tag):
    return Attendance(
        meeting_id=_meeting_id(community, tag), person_id=_person_id(community, tag), method=CheckInMethod.MANUAL
    )


def _make_agenda_comment(community, tag):
    item = _make_agenda_item(community, tag)
    db.session.add(item)
    db.session.flush()
    return AgendaComment(agenda_item_id=item.id, person_id=_person_id(community, tag), body=f"意见{tag}")


def _make_dashboard_figures(community, tag):
    now = datetime.now(UTC)
    return DashboardFigures(
        period_kind=f"k{tag}{next(_serial)}", period_start=now, period_end=now, data={}, computed_at=now
    )


FACTORIES = {
    CalendarDay: _make_calendar_day,
    Category: _make_category,
    Point: _make_point,
    PointResidentGroup: _make_point_group,
    ResidentGroup: _make_group,
    CommunityMembership: _make_membership,
    AuditEntry: _make_audit_entry,
    SelectionCriterion: _make_criterion,
    SelectionRound: _make_round,
    RoundCriterion: _make_round_criterion,
    RoundEvaluator: _make_evaluator,
    Candidate: _make_candidate,
    Score: _make_score,
    Appointment: _make_appointment,
    Matter: _make_matter,
    TimelineEntry: _make_timeline_entry,
    MatterPhoto: _make_matter_photo,
    Escalation: _make_escalation,
    Volunteer: _make_volunteer,
    Person: _make_person,
    Participation: _make_participation,
    Meeting: _make_meeting,
    Invitation: _make_invitation,
    AgendaItem: _make_agenda_item,
    Attendance: _make_attendance,
    AgendaComment: _make_agenda_comment,
    DashboardFigures: _make_dashboard_figures,
}


def _all_tenant_models():
    return sorted(
        (mapper.class_ for mapper in db.Model.registry.mappers if issubclass(mapper.class_, TenantMixin)),
        key=lambda cls: cls.__name__,
    )


def test_every_tenant_model_is_covered(app):
    missing = [cls.__name__ for cls in _all_tenant_models() if cls not in FACTORIES]
    assert not missing, f"add isolation factories for {missing}"


def test_every_tenant_model_has_indexed_non_null_community_id(app):
    for cls in _all_tenant_models():
        column = cls.__table__.c.community_id
        assert column.nullable is False, cls.__name__
        indexed_first = [ix for ix in cls.__table__.indexes if list(ix.columns)[0].name == "community_id"]
        assert indexed_first, f"{cls.__name__} has no index starting with community_id"
        for index in cls.__table__.indexes:
            names = [c.name for c in index.columns]
            if len(names) > 1:
                assert names[0] == "community_id", f"{index.name} must start with community_id"


@pytest.fixture
def rows(community, other_community):
    """One row of every tenant model in each of the two communities."""
    made = {}
    for community_obj, tag in ((community, "a"), (other_community, "b")):
        with tenancy.community_scope(community_obj.id):
            for cls, factory in FACTORIES.items():
                row = factory(community_obj, tag)
                db.session.add(row)
                db.session.flush()
                made[(cls, community_obj.id)] = row.id
    db.session.commit()
    return made


@pytest.mark.parametrize("model", list(FACTORIES), ids=lambda cls: cls.__name__)
def test_select_sees_only_the_community_in_scope(model, rows, community, other_community):
    with tenancy.community_scope(community.id):
        found = db.session.execute(select(model)).scalars().all()
        assert found and {row.community_id for row in found} == {community.id}
        other_id = rows[(model, other_community.id)]
        assert db.session.execute(select(model).where(model.id == other_id)).scalar_one_or_none() is None
        assert tenancy.get_owned(model, other_id) is None
        assert db.session.execute(select(func.count(model.id))).scalar_one() == len(found)


@pytest.mark.parametrize("model", list(FACTORIES), ids=lambda cls: cls.__name__)
def test_bulk_update_and_delete_stay_in_scope(model, rows, community, other_community):
    other_id = rows[(model, other_community.id)]
    with tenancy.community_scope(community.id):
        # An UPDATE/DELETE with no WHERE at all must still touch only this community.
        db.session.execute(
            update(model).values(community_id=model.community_id), execution_options={"synchronize_session": False}
        )
        result = db.session.execute(
            delete(model).where(model.id == other_id), execution_options={"synchronize_session": False}
        )
        assert result.rowcount == 0
    with tenancy.community_scope(other_community.id):
        assert tenancy.get_owned(model, other_id) is not None
    with tenancy.community_scope(community.id):
        if model is Category:  # matters keep their category (no cascade): they go first
            db.session.execute(delete(Matter), execution_options={"synchronize_session": False})
        removed = db.session.execute(delete(model), execution_options={"synchronize_session": False}).rowcount
        assert removed >= 1
    with tenancy.community_scope(other_community.id):
        assert db.session.execute(select(func.count(model.id))).scalar_one() >= 1


@pytest.mark.parametrize("model", list(FACTORIES), ids=lambda cls: cls.__name__)
def test_no_scope_fails_closed(model, rows):
    with pytest.raises(TenantScopeError):
        db.session.execute(select(model)).all()
    with pytest.raises(TenantScopeError):
        db.session.execute(update(model).values(community_id=model.community_id))
    with pytest.raises(TenantScopeError):
        db.session.execute(delete(model))


def test_joined_tenant_rows_are_hidden_without_scope(rows, community):
    # A statement whose top-level entity is global but that joins a tenant table returns no tenant rows.
    from yishi.modules.accounts.models import User

    statement = select(User.id).join(CommunityMembership, CommunityMembership.user_id == User.id)
    assert db.session.execute(statement).all() == []
    with tenancy.community_scope(community.id):
        assert len(db.session.execute(statement).all()) == 1


def test_writes_are_stamped_and_cannot_cross(community, other_community):
    with tenancy.community_scope(community.id):
        group = ResidentGroup(code="new", name_zh="新小组", name_en="New")
        db.session.add(group)
        db.session.flush()
        assert group.community_id == community.id
        intruder = ResidentGroup(code="evil", name_zh="越界", name_en="Cross", community_id=other_community.id)
        db.session.add(intruder)
        with pytest.raises(TenantScopeError):
            db.session.flush()
    db.session.rollback()
    with pytest.raises(TenantScopeError):
        db.session.add(ResidentGroup(code="none", name_zh="无", name_en="None"))
        db.session.flush()
    db.session.rollback()


def test_moving_a_row_to_another_community_is_refused(rows, community, other_community):
    with tenancy.community_scope(community.id):
        group = tenancy.get_owned(ResidentGroup, rows[(ResidentGroup, community.id)])
        group.community_id = other_community.id
        with pytest.raises(TenantScopeError):
            db.session.flush()
    db.session.rollback()


def test_relationship_and_identity_map_do_not_leak(rows, community, other_community):
    other_id = rows[(ResidentGroup, other_community.id)]
    with tenancy.unscoped("test: load a row of another community into the identity map"):
        db.session.execute(select(ResidentGroup).where(ResidentGroup.id == other_id)).scalar_one()
    with tenancy.community_scope(community.id):
        # session.get() would answer from the identity map; get_owned always asks the database.
        assert tenancy.get_owned(ResidentGroup, other_id) is None
        # A relationship load from a global object is scoped too.
        member = db.session.execute(select(CommunityMembership)).scalar_one()
        assert member.user.id  # global relationship target loads normally


def test_communities_scope_reads_only_the_listed_communities(rows, community, neighbour_community, other_community):
    with tenancy.community_scope(neighbour_community.id):
        db.session.add(ResidentGroup(code="n1", name_zh="邻", name_en="N"))
        db.session.flush()
    with tenancy.communities_scope([community.id, neighbour_community.id], reason="test: a street report"):
        ids = {g.community_id for g in db.session.execute(select(ResidentGroup)).scalars()}
    assert ids == {community.id, neighbour_community.id}


def test_unscoped_needs_a_reason():
    with pytest.raises(ValueError), tenancy.unscoped(""):
        pass


def test_scopes_nest_and_restore(community, other_community):
    assert tenancy.current_community_id() is None
    with tenancy.community_scope(community.id):
        with tenancy.community_scope(other_community.id):
            assert tenancy.current_community_id() == other_community.id
        assert tenancy.current_community_id() == community.id
    assert tenancy.current_community_id() is None
