"""Moderator selection (议事长遴选): criteria, rounds, nominations, secret scores, the weighted ranking,
appointments — through the services, the API and the pages. Another tenant's 404s come from
test_isolation_routes.py."""

from __future__ import annotations

import re
from datetime import timedelta
from types import SimpleNamespace

import pytest
from sqlalchemy import func, select

from tests.conftest import bearer
from yishi.core import tenancy
from yishi.core.audit import AuditEntry
from yishi.core.db import db, utcnow
from yishi.core.errors import ConflictError, NotFoundError, PermissionDenied, ValidationFailed
from yishi.modules.accounts import services as accounts
from yishi.modules.accounts.models import CommunityMembership, CommunityRole
from yishi.modules.accounts.permissions import Actor, community_role
from yishi.modules.points.models import Point
from yishi.modules.selection import services
from yishi.modules.selection.models import (
    Appointment,
    Candidate,
    RoundCriterion,
    RoundStatus,
    Score,
    SelectionCriterion,
    SelectionRound,
)

TODAY = utcnow().date()


# --- helpers -----------------------------------------------------------------------------------------------


@pytest.fixture
def english(app):
    """Services' messages in English, as a request with ``Accept-Language: en`` would get them."""
    with app.test_request_context("/", headers={"Accept-Language": "en"}):
        yield


@pytest.fixture
def points(community):
    """Two deliberation points of ``community``: (east id, west id), east shown first."""
    with tenancy.community_scope(community.id):
        east = Point(code="east", name_zh="东议事点", name_en="East point", position=1)
        west = Point(code="west", name_zh="西议事点", name_en="West point", position=2)
        db.session.add_all([east, west])
        db.session.flush()
        ids = (east.id, west.id)
    db.session.commit()
    return ids


@pytest.fixture
def people(community, create_user):
    """An admin, three staff evaluators and three residents (Ann, Bo, Cai) of ``community``."""
    return SimpleNamespace(
        admin=create_user(community=community, role="admin", name="Admin Sun"),
        evaluators=[create_user(community=community, role="staff", name=f"Evaluator {n}") for n in (1, 2, 3)],
        residents=[create_user(community=community, role="resident", name=name) for name in ("Ann", "Bo", "Cai")],
    )


def as_actor(user) -> Actor:
    return Actor(user=user)


def scope(community):
    return tenancy.community_scope(community.id)


def count(model, community) -> int:
    with scope(community):
        return db.session.execute(select(func.count(model.id))).scalar_one()


def criterion_ids(community) -> dict[str, int]:
    with scope(community):
        return {c.code: c.id for c in services.list_criteria()}


def open_round(community, admin, evaluators, **data) -> int:
    with scope(community):
        services.ensure_default_criteria(community)
        selection_round = services.open_round(
            community, {"title": "Round", "evaluator_ids": [e.id for e in evaluators], **data}, actor=as_actor(admin)
        )
        db.session.commit()
        return selection_round.id


def nominate(community, round_id, user, *, by) -> int:
    with scope(community):
        candidate = services.nominate(
            community, services.get_round(round_id), user_id=user.id, reason="Trusted by everyone", actor=as_actor(by)
        )
        db.session.commit()
        return candidate.id


def give_scores(community, round_id, candidate_id, evaluator, **by_code):
    ids = criterion_ids(community)
    with scope(community):
        selection_round = services.get_round(round_id)
        candidate = services.get_candidate(selection_round, candidate_id)
        services.score_candidate(
            community,
            selection_round,
            candidate,
            {ids[code]: value for code, value in by_code.items()},
            actor=as_actor(evaluator),
        )
        db.session.commit()


def close(community, round_id, admin):
    with scope(community):
        services.close_round(community, services.get_round(round_id), actor=as_actor(admin))
        db.session.commit()


def use_english(client):
    client.post("/language", data={"locale": "en"})


def visible_text(html: str) -> str:
    return re.sub(r"<[^>]+>", " ", html)


def assert_csp_safe(html: str) -> None:
    """No inline style attribute, inline script or inline event handler: the CSP would block them."""
    assert not re.search(r"\sstyle=", html)
    assert not re.search(r"\son[a-z]+=", html)
    for tag in re.findall(r"<script\b[^>]*>", html):
        assert "src=" in tag, tag


def numbers_in(value, key: str = "") -> list:
    """Every number of a JSON document except ids (which may be anything on a long-lived database)."""
    if key == "id" or key.endswith(("_id", "_ids")):
        return []
    if isinstance(value, dict):
        return [n for name, item in value.items() for n in numbers_in(item, name)]
    if isinstance(value, list):
        return [n for item in value for n in numbers_in(item, key)]
    return [value] if isinstance(value, int | float) and not isinstance(value, bool) else []


# --- the whole story, in one test ---------------------------------------------------------------------------


def test_full_selection_round_from_nomination_to_appointment(
    client, community, create_user, login_as, token_for, points
):
    east_id, west_id = points
    admin = create_user(community=community, role="admin", name="Sun Lihua")
    evaluators = [create_user(community=community, role="staff", name=f"Evaluator {n}") for n in (1, 2, 3)]
    wang = create_user(community=community, role="resident", name="Wang Fang")
    li = create_user(community=community, role="resident", name="Li Na")
    chen = create_user(community=community, role="staff", name="Chen Hua")
    accounts.add_member(community, chen, CommunityRole.STAFF, party_member=True)
    resident = create_user(community=community, role="resident", name="Feng Xiaoyan")
    services.ensure_default_criteria(community)
    db.session.commit()
    secret = token_for(community=community)
    api = f"/api/v1/communities/{community.slug}/selection"
    pages = f"/c/{community.slug}/selection"

    # The admin weighs the criteria: prestige 3, ability 2, enthusiasm stays 1.
    listed = client.get(f"{api}/criteria", headers=bearer(secret)).get_json()["items"]
    criteria = {c["code"]: c["id"] for c in listed}
    assert set(criteria) == {"prestige", "ability", "enthusiasm"}
    for code, weight in (("prestige", 3), ("ability", 2)):
        response = client.patch(f"{api}/criteria/{criteria[code]}", headers=bearer(secret), json={"weight": weight})
        assert response.status_code == 200 and response.get_json()["weight"] == weight

    # ...and opens a round for the whole community with three evaluators, on the web.
    login_as(admin)
    response = client.post(
        f"{pages}/rounds/new",
        data={
            "title": "Moderators 2026",
            "point_id": "",
            "scale_min": "1",
            "scale_max": "5",
            "evaluator_ids": [str(e.id) for e in evaluators],
        },
    )
    assert response.status_code == 302, response.get_data(as_text=True)
    round_id = int(re.search(r"/rounds/(\d+)", response.headers["Location"]).group(1))

    # A resident and an evaluator nominate on the web; a government system records an offline nomination.
    login_as(resident)
    response = client.post(
        f"{pages}/rounds/{round_id}/nominate",
        data={"nominate-user_id": str(wang.id), "nominate-reason": "Settles disputes in group 2"},
    )
    assert response.status_code == 302
    login_as(evaluators[0])
    response = client.post(
        f"{pages}/rounds/{round_id}/nominate",
        data={"nominate-user_id": str(li.id), "nominate-reason": "Fixed the streetlights"},
    )
    assert response.status_code == 302
    response = client.post(
        f"{api}/rounds/{round_id}/candidates",
        headers=bearer(secret),
        json={"user_id": chen.id, "reason": "Party member, always there", "nominated_by_id": resident.id},
    )
    assert response.status_code == 201 and response.get_json()["nominated_by_id"] == resident.id
    listed = client.get(f"{api}/rounds/{round_id}/candidates", headers=bearer(secret)).get_json()
    candidates = {c["name"]: c["id"] for c in listed["items"]}
    assert set(candidates) == {"Wang Fang", "Li Na", "Chen Hua"} and listed["total"] == 3

    # The evaluators score on the web (an empty field: not scored on that criterion).
    def score(name, prestige="", ability="", enthusiasm=""):
        candidate_id = candidates[name]
        values = {"prestige": prestige, "ability": ability, "enthusiasm": enthusiasm}
        data = {f"candidate{candidate_id}-score_{criteria[code]}": str(value) for code, value in values.items()}
        response = client.post(f"{pages}/rounds/{round_id}/candidates/{candidate_id}/scores", data=data)
        assert response.status_code == 302, response.get_data(as_text=True)

    # evaluator 1 is already signed in
    score("Wang Fang", 2, 4, 3)
    score("Wang Fang", prestige=5, ability=4, enthusiasm=3)  # re-scoring replaces the 2
    score("Li Na", 3, 5, 4)
    score("Chen Hua", 5, 3)
    login_as(evaluators[1])
    score("Wang Fang", 4, 4, 5)
    score("Li Na", 4, 4, 5)
    score("Chen Hua", 3, 5)
    login_as(evaluators[2])
    score("Wang Fang", 5, 5, 4)
    assert count(Score, community) == 3 + 3 + 2 + 3 + 3 + 2 + 3

    # Before closing: progress counts, no ranking.
    detail = client.get(f"{api}/rounds/{round_id}", headers=bearer(secret)).get_json()
    assert detail["ranking"] is None and detail["status"] == "open"
    assert {c["code"]: c["weight"] for c in detail["criteria"]} == {"prestige": 3, "ability": 2, "enthusiasm": 1}
    done = {
        p["candidate_id"]: (p["evaluators_done"], p["evaluators_expected"]) for p in detail["progress"]["candidates"]
    }
    assert done == {candidates["Wang Fang"]: (3, 3), candidates["Li Na"]: (2, 3), candidates["Chen Hua"]: (0, 3)}

    # The admin closes the round on the web.
    login_as(admin)
    assert client.post(f"{pages}/rounds/{round_id}/close").status_code == 302

    # The ranking, computed by hand:
    #   Wang Fang: prestige (5+4+5)/3 = 14/3, ability (4+4+5)/3 = 13/3, enthusiasm (3+5+4)/3 = 4
    #              → (3·14/3 + 2·13/3 + 1·4) / 6 = (80/3) / 6 = 40/9
    #   Li Na:     prestige 3.5, ability 4.5, enthusiasm 4.5 → (10.5 + 9 + 4.5) / 6 = 4
    #   Chen Hua:  prestige 4, ability 4, enthusiasm never scored → (12 + 8) / (3 + 2) = 4
    #   Li Na and Chen Hua tie at 4: ordered by name, sharing rank 2.
    detail = client.get(f"{api}/rounds/{round_id}", headers=bearer(secret)).get_json()
    assert detail["status"] == "closed" and detail["closed_at"]
    ranking = detail["ranking"]
    assert [row["name"] for row in ranking] == ["Wang Fang", "Chen Hua", "Li Na"]
    assert [row["rank"] for row in ranking] == [1, 2, 2]
    assert [row["weighted_mean"] for row in ranking] == [40 / 9, 4.0, 4.0]
    assert [row["evaluator_count"] for row in ranking] == [3, 2, 2]
    means = {(row["name"], c["code"]): (c["mean"], c["count"]) for row in ranking for c in row["criteria"]}
    assert means[("Wang Fang", "prestige")] == (14 / 3, 3)
    assert means[("Wang Fang", "ability")] == (13 / 3, 3)
    assert means[("Wang Fang", "enthusiasm")] == (4.0, 3)
    assert means[("Li Na", "prestige")] == (3.5, 2)
    assert means[("Chen Hua", "enthusiasm")] == (None, 0)
    with scope(community):
        rows = services.ranking(services.get_round(round_id))
        assert [(row.name, row.weighted_mean) for row in rows] == [("Wang Fang", 40 / 9), ("Chen Hua", 4), ("Li Na", 4)]
    page = client.get(f"{pages}/rounds/{round_id}").get_data(as_text=True)
    assert "4.44" in page and "4.67" in page  # the weighted mean and Wang Fang's prestige mean

    # Appointments: Wang Fang to the east point on the web, Chen Hua to the west point through the API.
    response = client.post(
        f"{pages}/rounds/{round_id}/appoint",
        data={
            "appoint-user_id": str(wang.id),
            "appoint-point_id": str(east_id),
            "appoint-term_start": TODAY.isoformat(),
            "appoint-term_end": "",
            "appoint-note": "",
        },
    )
    assert response.status_code == 302, response.get_data(as_text=True)
    response = client.post(
        f"{api}/appointments",
        headers=bearer(secret),
        json={
            "user_id": chen.id,
            "point_id": west_id,
            "round_id": round_id,
            "term_start": TODAY.isoformat(),
            "term_end": (TODAY + timedelta(days=3 * 365)).isoformat(),
        },
    )
    assert response.status_code == 201, response.get_json()
    assert response.get_json()["round_id"] == round_id and response.headers["Location"].endswith(
        f"/selection/appointments/{response.get_json()['id']}"
    )

    # Both are moderators now; Chen Hua is still a Party member.
    assert community_role(wang, community.id) == CommunityRole.MODERATOR
    assert community_role(chen, community.id) == CommunityRole.MODERATOR
    assert community_role(li, community.id) == CommunityRole.RESIDENT
    with scope(community):
        chen_membership = db.session.execute(
            select(CommunityMembership).where(CommunityMembership.user_id == chen.id)
        ).scalar_one()
        assert chen_membership.party_member is True
        serving = [(appointment.point_id, user.name) for appointment, user in services.active_moderators()]
        assert serving == [(east_id, "Wang Fang"), (west_id, "Chen Hua")]
        assert [user.name for _a, user in services.active_moderators(point_id=west_id)] == ["Chen Hua"]


# --- criteria ---------------------------------------------------------------------------------------------


def test_default_criteria_are_created_once_per_community(community, other_community, people):
    created = services.ensure_default_criteria(community)
    assert [(c.code, c.name_zh, c.weight) for c in created] == [
        ("prestige", "威望", 1.0),
        ("ability", "能力", 1.0),
        ("enthusiasm", "热情", 1.0),
    ]
    with scope(community):
        services.update_criterion(community, created[0], {"weight": 2.5}, actor=as_actor(people.admin))
    again = services.ensure_default_criteria(community)
    assert [(c.code, c.weight) for c in again] == [("prestige", 2.5), ("ability", 1.0), ("enthusiasm", 1.0)]
    assert count(SelectionCriterion, community) == 3
    assert count(SelectionCriterion, other_community) == 0
    services.ensure_default_criteria(other_community)
    assert count(SelectionCriterion, other_community) == 3


def test_tenant_file_criteria_are_created_or_updated_by_code(community, english):
    services.ensure_default_criteria(community)
    items = [
        {"code": "prestige", "name_zh": "威望", "name_en": "Standing", "weight": 2},
        {"code": "fairness", "name_zh": "公道", "name_en": "Fairness", "weight": 1.5},
    ]
    applied = services.apply_criteria(community, items)
    assert [c.code for c in applied] == ["prestige", "fairness"]
    with scope(community):
        by_code = {c.code: c for c in services.list_criteria()}
    assert set(by_code) == {"prestige", "ability", "enthusiasm", "fairness"}  # unlisted ones stay
    assert (by_code["prestige"].name_en, by_code["prestige"].weight) == ("Standing", 2)
    assert by_code["fairness"].weight == 1.5
    services.apply_criteria(community, items)  # idempotent
    assert count(SelectionCriterion, community) == 4

    bad = [{"code": "new-one", "name_zh": "新", "name_en": "New"}, {**items[1], "weight": 0}]
    with pytest.raises(ValidationFailed) as refused:
        services.apply_criteria(community, bad)
    assert refused.value.errors == {"1.weight": ["The weight must be a number greater than 0."]}
    assert count(SelectionCriterion, community) == 4  # all or nothing: "new-one" was not created


def test_criteria_weights_must_be_positive(community, people, english):
    admin = as_actor(people.admin)
    services.ensure_default_criteria(community)
    db.session.commit()
    with scope(community):
        for weight in (0, -1, float("nan")):
            with pytest.raises(ValidationFailed) as refused:
                services.create_criterion(
                    community, {"code": "zero", "name_zh": "零", "name_en": "Zero", "weight": weight}, actor=admin
                )
            assert refused.value.errors == {"weight": ["The weight must be a number greater than 0."]}
        prestige = services.list_criteria()[0]
        with pytest.raises(ValidationFailed) as refused:
            services.update_criterion(community, prestige, {"weight": 0}, actor=admin)
        assert "weight" in refused.value.errors
        db.session.rollback()
        assert services.get_criterion(prestige.id).weight == 1.0
        with pytest.raises(ConflictError) as duplicate:
            services.create_criterion(
                community, {"code": "ability", "name_zh": "能力", "name_en": "Ability", "weight": 1}, actor=admin
            )
        assert duplicate.value.errors == {"code": ["A criterion with this code already exists."]}
    assert count(SelectionCriterion, community) == 3


def test_removing_criteria_deletes_deactivates_or_refuses(community, people, english):
    admin = as_actor(people.admin)
    services.ensure_default_criteria(community)
    with scope(community):
        unused = services.create_criterion(
            community, {"code": "unused", "name_zh": "未用", "name_en": "Unused", "weight": 1}, actor=admin
        )
        assert services.remove_criterion(community, unused, actor=admin) == "deleted"
        db.session.commit()
    assert count(SelectionCriterion, community) == 3
    round_id = open_round(community, people.admin, people.evaluators[:1])
    ids = criterion_ids(community)
    with scope(community):
        prestige = services.get_criterion(ids["prestige"])
        with pytest.raises(ConflictError) as refused:
            services.remove_criterion(community, prestige, actor=admin)
        assert list(refused.value.errors) == ["criterion"]
        assert "open round" in refused.value.errors["criterion"][0]
        with pytest.raises(ConflictError):
            services.update_criterion(community, prestige, {"active": False}, actor=admin)
        db.session.rollback()
        assert services.get_criterion(ids["prestige"]).active is True
    close(community, round_id, people.admin)
    with scope(community):
        prestige = services.get_criterion(ids["prestige"])
        assert services.remove_criterion(community, prestige, actor=admin) == "deactivated"
        db.session.commit()
        assert services.get_criterion(ids["prestige"]).active is False
        assert [c.code for c in services.list_criteria(active_only=True)] == ["ability", "enthusiasm"]
        kept = services.round_criteria(services.get_round(round_id))
        assert [criterion.code for _rc, criterion in kept] == ["prestige", "ability", "enthusiasm"]
        actions = db.session.execute(select(AuditEntry.action)).scalars().all()
    assert {"selection.criterion_deleted", "selection.criterion_deactivated"} <= set(actions)


# --- rounds -----------------------------------------------------------------------------------------------------


def test_opening_a_round_copies_the_criteria_and_checks_its_settings(
    community, other_community, people, create_user, english
):
    admin = as_actor(people.admin)
    services.ensure_default_criteria(community)
    stranger = create_user(community=other_community, role="resident")
    with scope(other_community):
        foreign_point = Point(code="far", name_zh="远", name_en="Far")
        db.session.add(foreign_point)
        db.session.flush()
        foreign_point_id = foreign_point.id
    db.session.commit()
    with scope(community):
        for data, field in (
            ({"scale_min": 5, "scale_max": 5}, "scale_max"),
            ({"scale_min": 6, "scale_max": 3}, "scale_max"),
            ({"evaluator_ids": [stranger.id]}, "evaluator_ids"),
            ({"point_id": foreign_point_id}, "point_id"),
            ({"title": "  "}, "title"),
        ):
            with pytest.raises(ValidationFailed) as refused:
                services.open_round(community, {"title": "Round", **data}, actor=admin)
            assert list(refused.value.errors) == [field], data
    assert count(SelectionRound, community) == 0
    round_id = open_round(community, people.admin, people.evaluators, scale_min=0, scale_max=10)
    ids = criterion_ids(community)
    with scope(community):
        services.update_criterion(community, services.get_criterion(ids["ability"]), {"weight": 4}, actor=admin)
        selection_round = services.get_round(round_id)
        assert (selection_round.scale_min, selection_round.scale_max, selection_round.point_id) == (0, 10, None)
        weights = {criterion.code: rc.weight for rc, criterion in services.round_criteria(selection_round)}
        assert weights == {"prestige": 1.0, "ability": 1.0, "enthusiasm": 1.0}  # the round keeps its snapshot
        assert services.evaluator_ids(selection_round) == sorted(e.id for e in people.evaluators)


def test_residents_cannot_manage_rounds_and_strangers_see_nothing(community, other_community, people, create_user):
    services.ensure_default_criteria(community)
    resident = as_actor(people.residents[0])
    with scope(community), pytest.raises(PermissionDenied):
        services.open_round(community, {"title": "Mine"}, actor=resident)
    round_id = open_round(community, people.admin, people.evaluators)
    stranger = create_user(community=other_community, role="admin")
    with scope(community):
        selection_round = services.get_round(round_id)
        with pytest.raises(PermissionDenied):
            services.close_round(community, selection_round, actor=resident)
        with pytest.raises(NotFoundError):
            services.close_round(community, selection_round, actor=as_actor(stranger))
        with pytest.raises(NotFoundError):
            services.nominate(
                community, selection_round, user_id=people.residents[1].id, reason="x", actor=as_actor(stranger)
            )
    with scope(community):
        assert services.get_round(round_id).status == RoundStatus.OPEN


def test_changing_evaluators_drops_the_scores_of_those_removed(community, people, english):
    round_id = open_round(community, people.admin, people.evaluators[:2])
    candidate_id = nominate(community, round_id, people.residents[0], by=people.residents[1])
    give_scores(community, round_id, candidate_id, people.evaluators[0], prestige=4, ability=4, enthusiasm=4)
    give_scores(community, round_id, candidate_id, people.evaluators[1], prestige=2, ability=2, enthusiasm=2)
    with scope(community):
        selection_round = services.get_round(round_id)
        kept = services.set_evaluators(
            community, selection_round, [people.evaluators[0].id, people.evaluators[2].id], actor=as_actor(people.admin)
        )
        db.session.commit()
    assert kept == sorted([people.evaluators[0].id, people.evaluators[2].id])
    with scope(community):
        evaluators = set(db.session.execute(select(Score.evaluator_id)).scalars())
    assert evaluators == {people.evaluators[0].id}
    close(community, round_id, people.admin)
    with scope(community), pytest.raises(ConflictError):
        services.set_evaluators(community, services.get_round(round_id), [], actor=as_actor(people.admin))


def test_closing_twice_is_a_conflict(community, people, english):
    round_id = open_round(community, people.admin, people.evaluators)
    close(community, round_id, people.admin)
    with scope(community), pytest.raises(ConflictError) as refused:
        services.close_round(community, services.get_round(round_id), actor=as_actor(people.admin))
    assert refused.value.errors == {"round_id": ["This round is already closed."]}


# --- nominations ----------------------------------------------------------------------------------------------


def test_nomination_refusals(community, other_community, people, create_user, english):
    round_id = open_round(community, people.admin, people.evaluators)
    outsider = create_user(community=other_community, role="resident")
    nominate(community, round_id, people.residents[0], by=people.residents[1])
    with scope(community):
        selection_round = services.get_round(round_id)
        resident = as_actor(people.residents[1])
        with pytest.raises(ValidationFailed) as non_member:
            services.nominate(community, selection_round, user_id=outsider.id, reason="Good", actor=resident)
        assert non_member.value.errors == {"user_id": ["Only members of the community can be nominated."]}
        with pytest.raises(ConflictError) as duplicate:
            services.nominate(
                community, selection_round, user_id=people.residents[0].id, reason="Again", actor=resident
            )
        assert duplicate.value.errors == {"user_id": ["This member is already a candidate in this round."]}
        with pytest.raises(ValidationFailed) as no_reason:
            services.nominate(community, selection_round, user_id=people.residents[2].id, reason=" ", actor=resident)
        assert list(no_reason.value.errors) == ["reason"]
    assert count(Candidate, community) == 1
    close(community, round_id, people.admin)
    with scope(community), pytest.raises(ConflictError) as closed:
        services.nominate(
            community, services.get_round(round_id), user_id=people.residents[2].id, reason="Late", actor=resident
        )
    assert list(closed.value.errors) == ["round_id"]
    assert count(Candidate, community) == 1


# --- scores -------------------------------------------------------------------------------------------------------


def test_scoring_refusals_leave_nothing_half_written(community, people, english):
    evaluator = people.evaluators[0]
    round_id = open_round(community, people.admin, people.evaluators[:2])
    candidate_id = nominate(community, round_id, people.residents[0], by=people.residents[1])
    own_id = nominate(community, round_id, evaluator, by=people.residents[1])
    ids = criterion_ids(community)

    def attempt(actor_user, candidate, scores):
        with scope(community):
            selection_round = services.get_round(round_id)
            services.score_candidate(
                community,
                selection_round,
                services.get_candidate(selection_round, candidate),
                scores,
                actor=as_actor(actor_user),
            )

    with pytest.raises(ValidationFailed) as out_of_scale:
        attempt(evaluator, candidate_id, {ids["prestige"]: 4, ids["ability"]: 6, ids["enthusiasm"]: 0})
    assert out_of_scale.value.errors == {
        f"scores.{ids['ability']}": ["Give a whole number from 1 to 5."],
        f"scores.{ids['enthusiasm']}": ["Give a whole number from 1 to 5."],
    }
    with pytest.raises(ValidationFailed) as itself:
        attempt(evaluator, own_id, {ids["prestige"]: 5})
    assert itself.value.errors == {"candidate_id": ["You cannot score yourself."]}
    with pytest.raises(PermissionDenied):
        attempt(people.residents[1], candidate_id, {ids["prestige"]: 3})
    with pytest.raises(PermissionDenied):
        attempt(people.admin, candidate_id, {ids["prestige"]: 3})  # not even the admin, unless named
    assert count(Score, community) == 0

    attempt(evaluator, candidate_id, {ids["prestige"]: 2})
    attempt(evaluator, candidate_id, {ids["prestige"]: 4, ids["ability"]: 5})
    db.session.commit()
    with scope(community):
        stored = db.session.execute(select(Score.criterion_id, Score.score)).all()
    assert sorted(stored) == sorted([(ids["prestige"], 4), (ids["ability"], 5)])  # replaced, not added

    close(community, round_id, people.admin)
    with pytest.raises(ConflictError) as closed:
        attempt(evaluator, candidate_id, {ids["prestige"]: 1})
    assert list(closed.value.errors) == ["round_id"]
    with scope(community):
        assert db.session.execute(select(Score.score).where(Score.criterion_id == ids["prestige"])).scalar_one() == 4
        details = [e.details for e in db.session.execute(select(AuditEntry)).scalars() if "scored" in e.action]
    assert details and all(set(d) == {"round_id", "criteria"} for d in details)  # no values in the audit log


def test_ranking_is_hidden_until_close_and_counts_progress(community, people, english):
    round_id = open_round(community, people.admin, people.evaluators[:2])
    first = nominate(community, round_id, people.residents[0], by=people.residents[1])
    second = nominate(community, round_id, people.residents[1], by=people.residents[0])
    give_scores(community, round_id, first, people.evaluators[0], prestige=3, ability=3, enthusiasm=3)
    give_scores(community, round_id, second, people.evaluators[0], prestige=3)
    with scope(community):
        selection_round = services.get_round(round_id)
        with pytest.raises(ConflictError):
            services.ranking(selection_round)
        progress = services.progress(selection_round)
        assert progress.of_candidate(first).evaluators_done == 1
        assert progress.of_candidate(second).evaluators_done == 0  # one criterion of three
        assert progress.of_evaluator(people.evaluators[0].id).candidates_done == 1
        assert progress.of_evaluator(people.evaluators[1].id).candidates_done == 0
        assert services.round_view(selection_round)["ranking"] is None
    close(community, round_id, people.admin)
    with scope(community):
        rows = services.ranking(services.get_round(round_id))
    assert [(row.name, row.weighted_mean, row.rank) for row in rows] == [("Ann", 3.0, 1), ("Bo", 3.0, 1)]


def test_a_candidate_nobody_scored_comes_last_without_a_rank(community, people):
    round_id = open_round(community, people.admin, people.evaluators[:1])
    scored = nominate(community, round_id, people.residents[2], by=people.residents[0])
    nominate(community, round_id, people.residents[0], by=people.residents[1])
    give_scores(community, round_id, scored, people.evaluators[0], prestige=1)
    close(community, round_id, people.admin)
    with scope(community):
        rows = services.ranking(services.get_round(round_id))
    assert [(row.name, row.rank, row.weighted_mean, row.evaluator_count) for row in rows] == [
        ("Cai", 1, 1.0, 1),
        ("Ann", None, None, 0),
    ]


# --- appointments ---------------------------------------------------------------------------------------------


def test_appointment_refusals(community, people, points, create_user, english):
    east_id, _west_id = points
    admin = as_actor(people.admin)
    round_id = open_round(community, people.admin, people.evaluators)
    nominate(community, round_id, people.residents[0], by=people.residents[1])
    with scope(community):
        with pytest.raises(ConflictError) as too_early:
            services.appoint(
                community,
                user_id=people.residents[0].id,
                point_id=east_id,
                term_start=TODAY,
                selection_round=services.get_round(round_id),
                actor=admin,
            )
        assert too_early.value.errors == {"round_id": ["Appoint from a round only after it is closed."]}
    close(community, round_id, people.admin)
    with scope(community):
        selection_round = services.get_round(round_id)
        with pytest.raises(ValidationFailed) as not_candidate:
            services.appoint(
                community,
                user_id=people.residents[1].id,
                point_id=east_id,
                term_start=TODAY,
                selection_round=selection_round,
                actor=admin,
            )
        assert not_candidate.value.errors == {"user_id": ["Only candidates of this round can be appointed from it."]}
        with pytest.raises(ValidationFailed) as backwards:
            services.appoint(
                community,
                user_id=people.residents[0].id,
                point_id=east_id,
                term_start=TODAY,
                term_end=TODAY - timedelta(days=1),
                selection_round=selection_round,
                actor=admin,
            )
        assert backwards.value.errors == {"term_end": ["The term cannot end before it starts."]}
        with pytest.raises(PermissionDenied):
            services.appoint(
                community,
                user_id=people.residents[0].id,
                point_id=east_id,
                term_start=TODAY,
                actor=as_actor(people.residents[1]),
            )
        stranger = create_user(name="Not a member")
        with pytest.raises(ValidationFailed) as non_member:
            services.appoint(community, user_id=stranger.id, point_id=east_id, term_start=TODAY, actor=admin)
        assert list(non_member.value.errors) == ["user_id"]
    assert count(Appointment, community) == 0
    assert community_role(people.residents[0], community.id) == CommunityRole.RESIDENT  # nothing half-done


def test_direct_appointments_roles_history_and_active_moderators(community, people, points, english):
    east_id, west_id = points
    admin = as_actor(people.admin)
    staff = people.evaluators[0]
    accounts.add_member(community, staff, CommunityRole.STAFF, party_member=True, representative=True)
    db.session.commit()
    with scope(community):
        appointed = {}
        for user, point_id, start, end in (
            (people.admin, east_id, TODAY - timedelta(days=30), None),  # admins stay admins
            (staff, east_id, TODAY, TODAY + timedelta(days=365)),
            (people.residents[0], west_id, TODAY - timedelta(days=400), TODAY - timedelta(days=1)),  # term over
            (people.residents[1], west_id, TODAY + timedelta(days=10), None),  # not yet
            (people.residents[2], west_id, TODAY - timedelta(days=5), None),
        ):
            appointment = services.appoint(
                community, user_id=user.id, point_id=point_id, term_start=start, term_end=end, actor=admin
            )
            appointed[user.name] = appointment.id
        with pytest.raises(ConflictError) as twice:
            services.appoint(community, user_id=staff.id, point_id=east_id, term_start=TODAY, actor=admin)
        assert list(twice.value.errors) == ["user_id"]
        db.session.commit()
    assert community_role(people.admin, community.id) == CommunityRole.ADMIN
    assert community_role(staff, community.id) == CommunityRole.MODERATOR
    with scope(community):
        membership = db.session.execute(
            select(CommunityMembership).where(CommunityMembership.user_id == staff.id)
        ).scalar_one()
        assert (membership.party_member, membership.representative) == (True, True)
        serving = [(a.point_id, user.name) for a, user in services.active_moderators()]
        assert serving == [(east_id, "Admin Sun"), (east_id, "Evaluator 1"), (west_id, "Cai")]
        later = [user.name for _a, user in services.active_moderators(on=TODAY + timedelta(days=20))]
        assert later == ["Admin Sun", "Evaluator 1", "Bo", "Cai"]
        earlier = [user.name for _a, user in services.active_moderators(west_id, on=TODAY - timedelta(days=30))]
        assert earlier == ["Ann"]

        ended = services.end_appointment(community, services.get_appointment(appointed["Evaluator 1"]), actor=admin)
        assert ended.ended_at is not None
        with pytest.raises(ConflictError):
            services.end_appointment(community, ended, actor=admin)
        db.session.commit()
        assert [user.name for _a, user in services.active_moderators(east_id)] == ["Admin Sun"]
        assert len(services.appointment_history()) == 5  # ended appointments are kept
    assert count(Appointment, community) == 5


# --- pages -----------------------------------------------------------------------------------------------------


def test_pages_render_for_members_and_are_csp_safe(client, community, people, points, login_as):
    round_id = open_round(community, people.admin, people.evaluators[:2])
    candidate_id = nominate(community, round_id, people.residents[0], by=people.residents[1])
    base = f"/c/{community.slug}/selection"
    login_as(people.admin)
    use_english(client)
    for path in ("/", "/criteria", "/rounds/new", f"/rounds/{round_id}", "/appointments"):
        response = client.get(base + path)
        assert response.status_code == 200, path
        assert_csp_safe(response.get_data(as_text=True))
    with scope(community):
        criterion_id = services.list_criteria()[0].id
    assert client.get(f"{base}/criteria/{criterion_id}").status_code == 200
    admin_page = client.get(f"{base}/rounds/{round_id}").get_data(as_text=True)
    assert "Close the round" in admin_page and "Change the evaluators" in admin_page
    assert 'data-testid="score-form"' not in admin_page  # the admin is not an evaluator

    login_as(people.evaluators[0])
    page = client.get(f"{base}/rounds/{round_id}").get_data(as_text=True)
    assert_csp_safe(page)
    assert f'action="{base}/rounds/{round_id}/candidates/{candidate_id}/scores"' in page
    assert "Close the round" not in page and "Nominate a candidate" in page

    login_as(people.residents[2])
    page = client.get(f"{base}/rounds/{round_id}").get_data(as_text=True)
    assert "Nominate a candidate" in page and 'data-testid="score-form"' not in page
    assert "Trusted by everyone" in page  # the reason is public to members
    assert client.get(f"{base}/criteria").status_code == 403
    assert client.get(f"{base}/rounds/new").status_code == 403
    assert client.post(f"{base}/rounds/{round_id}/close").status_code == 403
    assert client.post(f"{base}/appointments", data={}).status_code == 403
    with scope(community):
        assert services.get_round(round_id).status == RoundStatus.OPEN


def test_selection_pages_need_a_sign_in(client, community):
    response = client.get(f"/c/{community.slug}/selection/")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_criteria_page_adds_edits_and_refuses_with_field_errors(client, community, people, login_as):
    open_round(community, people.admin, [])  # with the three default criteria
    base = f"/c/{community.slug}/selection/criteria"
    login_as(people.admin)
    use_english(client)
    response = client.post(base, data={"code": "fairness", "name_zh": "公道", "name_en": "Fairness", "weight": "0"})
    assert response.status_code == 400
    assert "The weight must be a number greater than 0." in response.get_data(as_text=True)
    assert count(SelectionCriterion, community) == 3
    response = client.post(base, data={"code": "fairness", "name_zh": "公道", "name_en": "Fairness", "weight": "1.5"})
    assert response.status_code == 302
    ids = criterion_ids(community)
    response = client.post(
        f"{base}/{ids['ability']}", data={"name_zh": "能力", "name_en": "Skill", "weight": "-2", "position": "1"}
    )
    assert response.status_code == 400 and "greater than 0" in response.get_data(as_text=True)
    response = client.post(
        f"{base}/{ids['ability']}", data={"name_zh": "能力", "name_en": "Skill", "weight": "2", "position": "1"}
    )
    assert response.status_code == 302
    with scope(community):
        ability = services.get_criterion(ids["ability"])
        assert (ability.name_en, ability.weight) == ("Skill", 2.0)

    response = client.post(f"{base}/{ids['prestige']}/remove")
    assert response.status_code == 409
    assert "An open round uses the criterion" in response.get_data(as_text=True)
    assert client.post(f"{base}/{ids['fairness']}/remove").status_code == 302  # not in the round: deleted
    assert count(SelectionCriterion, community) == 3


def test_open_round_page_shows_field_errors(client, community, people, login_as):
    services.ensure_default_criteria(community)
    db.session.commit()
    login_as(people.admin)
    use_english(client)
    response = client.post(
        f"/c/{community.slug}/selection/rounds/new",
        data={"title": "Round", "point_id": "", "scale_min": "5", "scale_max": "1"},
    )
    assert response.status_code == 400
    assert "The highest score must be greater than the lowest." in response.get_data(as_text=True)
    assert count(SelectionRound, community) == 0


def test_scoring_page_refuses_a_score_out_of_scale(client, community, people, login_as):
    round_id = open_round(community, people.admin, people.evaluators[:1])
    candidate_id = nominate(community, round_id, people.residents[0], by=people.residents[1])
    ids = criterion_ids(community)
    login_as(people.evaluators[0])
    use_english(client)
    url = f"/c/{community.slug}/selection/rounds/{round_id}/candidates/{candidate_id}/scores"
    data = {f"candidate{candidate_id}-score_{cid}": "3" for cid in ids.values()}
    response = client.post(url, data={**data, f"candidate{candidate_id}-score_{ids['ability']}": "9"})
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert "Give a whole number from 1 to 5." in page
    assert count(Score, community) == 0
    assert client.post(url, data=data).status_code == 302
    assert count(Score, community) == 3
    login_as(people.residents[1])
    assert client.post(url, data=data).status_code == 403  # not an evaluator


def test_nominate_page_refuses_duplicates_and_needs_a_reason(client, community, people, login_as):
    round_id = open_round(community, people.admin, people.evaluators[:1])
    nominate(community, round_id, people.residents[0], by=people.residents[1])
    login_as(people.residents[2])
    use_english(client)
    url = f"/c/{community.slug}/selection/rounds/{round_id}/nominate"
    response = client.post(url, data={"nominate-user_id": str(people.residents[0].id), "nominate-reason": "Again"})
    assert response.status_code == 400
    assert "This member is already a candidate in this round." in response.get_data(as_text=True)
    response = client.post(url, data={"nominate-user_id": str(people.residents[1].id), "nominate-reason": ""})
    assert response.status_code == 400
    assert count(Candidate, community) == 1


def test_evaluators_do_not_see_each_others_scores_before_the_round_closes(
    client, community, people, login_as, token_for
):
    """Scale 1–100 so the secret values are unmistakable in a page."""
    first, second = people.evaluators[:2]
    round_id = open_round(community, people.admin, [first, second], scale_min=1, scale_max=100)
    candidate_id = nominate(community, round_id, people.residents[0], by=people.residents[1])
    give_scores(community, round_id, candidate_id, first, prestige=87, ability=93, enthusiasm=71)
    secret_values = {87, 93, 71}
    url = f"/c/{community.slug}/selection/rounds/{round_id}"

    def score_inputs(page: str) -> set[int]:
        inputs = re.findall(r"<input[^>]*-score_\d+[^>]*>", page)
        return {int(value) for tag in inputs for value in re.findall(r'value="(\d+)"', tag)}

    def shown(page: str) -> set[int]:
        return {int(n) for n in re.findall(r"\b\d+\b", visible_text(page))} | score_inputs(page)

    use_english(client)
    login_as(first)
    assert score_inputs(client.get(url).get_data(as_text=True)) == secret_values  # their own, to change
    for viewer in (second, people.admin):
        login_as(viewer)
        page = client.get(url).get_data(as_text=True)
        assert not (shown(page) & secret_values), viewer.name
        assert "Scored by 1 of 2 evaluators" in page  # progress, as a count
    secret = token_for(community=community)
    api = f"/api/v1/communities/{community.slug}/selection/rounds/{round_id}"
    detail = client.get(api, headers=bearer(secret)).get_json()
    candidates = client.get(f"{api}/candidates", headers=bearer(secret)).get_json()
    assert detail["ranking"] is None
    assert not (set(numbers_in(detail)) | set(numbers_in(candidates))) & secret_values
    assert [p["evaluators_done"] for p in detail["progress"]["candidates"]] == [1]

    close(community, round_id, people.admin)
    login_as(second)
    page = client.get(url).get_data(as_text=True)
    assert "87.00" in page and "93.00" in page and "71.00" in page
    detail = client.get(api, headers=bearer(secret)).get_json()
    assert detail["ranking"][0]["weighted_mean"] == (87 + 93 + 71) / 3


def test_appointment_pages_appoint_end_and_refuse(client, community, people, points, login_as):
    east_id, _west_id = points
    login_as(people.admin)
    use_english(client)
    url = f"/c/{community.slug}/selection/appointments"
    data = {
        "appoint-user_id": str(people.residents[0].id),
        "appoint-point_id": str(east_id),
        "appoint-term_start": TODAY.isoformat(),
        "appoint-term_end": (TODAY - timedelta(days=1)).isoformat(),
        "appoint-note": "Appointed before Yishi",
    }
    response = client.post(url, data=data)
    assert response.status_code == 400
    assert "The term cannot end before it starts." in response.get_data(as_text=True)
    assert client.post(url, data={**data, "appoint-term_end": ""}).status_code == 302
    page = client.get(url).get_data(as_text=True)
    assert "Ann" in page and "direct appointment" in page and "End appointment" in page
    with scope(community):
        appointment_id = db.session.execute(select(Appointment.id)).scalar_one()
    assert client.post(f"{url}/{appointment_id}/end").status_code == 302
    page = client.get(url).get_data(as_text=True)
    assert "End appointment" not in page and "ended" in page
    overview = client.get(f"/c/{community.slug}/selection/").get_data(as_text=True)
    assert "No moderator is appointed yet." in overview

    round_id = open_round(community, people.admin, [])
    response = client.post(f"/c/{community.slug}/selection/rounds/{round_id}/appoint", data=data)
    assert response.status_code == 302  # back to the round, with the reason flashed
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Appoint from a round only after it is closed." in page
    assert count(Appointment, community) == 1


# --- API ---------------------------------------------------------------------------------------------------------


def test_api_criteria(client, community, people, token_for):
    services.ensure_default_criteria(community)
    db.session.commit()
    secret = token_for(community=community)
    headers = {**bearer(secret), "Accept-Language": "en"}
    url = f"/api/v1/communities/{community.slug}/selection/criteria"
    listed = client.get(url, headers=headers).get_json()
    assert [c["code"] for c in listed["items"]] == ["prestige", "ability", "enthusiasm"] and listed["total"] == 3
    response = client.post(url, headers=headers, json={"code": "fairness", "name_zh": "公道", "name_en": "Fairness"})
    assert response.status_code == 201 and response.get_json()["weight"] == 1.0
    created = response.get_json()
    assert client.get(response.headers["Location"], headers=headers).get_json() == created
    response = client.post(url, headers=headers, json={"code": "zero", "name_zh": "零", "name_en": "Zero", "weight": 0})
    assert response.status_code == 422
    assert response.get_json()["errors"] == {"weight": ["The weight must be a number greater than 0."]}
    response = client.patch(f"{url}/{created['id']}", headers=headers, json={"weight": -1})
    assert response.status_code == 422 and "weight" in response.get_json()["errors"]
    response = client.patch(f"{url}/{created['id']}", headers=headers, json={"name_en": "Fair-mindedness"})
    assert response.status_code == 200 and response.get_json()["name_en"] == "Fair-mindedness"
    open_round(community, people.admin, [])
    response = client.delete(f"{url}/{created['id']}", headers=headers)
    assert response.status_code == 409 and response.mimetype == "application/problem+json"
    assert "criterion" in response.get_json()["errors"]
    assert count(SelectionCriterion, community) == 4


def test_api_rounds_evaluators_candidates_and_closing(client, community, people, points, token_for):
    east_id, _west_id = points
    services.ensure_default_criteria(community)
    db.session.commit()
    secret = token_for(community=community)
    headers = {**bearer(secret), "Accept-Language": "en"}
    url = f"/api/v1/communities/{community.slug}/selection/rounds"
    response = client.post(url, headers=headers, json={"title": "East 2026", "point_id": east_id, "scale_max": 1})
    assert response.status_code == 422 and list(response.get_json()["errors"]) == ["scale_max"]
    response = client.post(url, headers=headers, json={"title": "East 2026", "point_id": east_id})
    assert response.status_code == 201
    created = response.get_json()
    assert (created["scale_min"], created["scale_max"], created["status"]) == (1, 5, "open")
    assert created["evaluator_ids"] == [] and created["ranking"] is None
    round_url = response.headers["Location"]

    evaluator_ids = [people.evaluators[0].id, people.evaluators[1].id]
    response = client.put(f"{round_url}/evaluators", headers=headers, json={"user_ids": evaluator_ids})
    assert response.status_code == 200 and response.get_json() == {"user_ids": sorted(evaluator_ids)}
    response = client.put(f"{round_url}/evaluators", headers=headers, json={"user_ids": [999999]})
    assert response.status_code == 422 and "user_ids" in response.get_json()["errors"]

    response = client.post(f"{round_url}/candidates", headers=headers, json={"user_id": people.residents[0].id})
    assert response.status_code == 422 and "reason" in response.get_json()["errors"]
    body = {"user_id": people.residents[0].id, "reason": "Known to all"}
    assert client.post(f"{round_url}/candidates", headers=headers, json=body).status_code == 201
    response = client.post(f"{round_url}/candidates", headers=headers, json=body)
    assert response.status_code == 409 and "user_id" in response.get_json()["errors"]
    response = client.post(f"{round_url}/candidates", headers=headers, json={**body, "user_id": 999999})
    assert response.status_code == 422 and "user_id" in response.get_json()["errors"]

    listed = client.get(url + "?status=open", headers=headers).get_json()
    assert [r["title"] for r in listed["items"]] == ["East 2026"]
    response = client.post(f"{round_url}/close", headers=headers)
    assert response.status_code == 200 and response.get_json()["status"] == "closed"
    assert response.get_json()["ranking"][0]["weighted_mean"] is None  # nobody scored
    assert client.post(f"{round_url}/close", headers=headers).status_code == 409
    response = client.post(f"{round_url}/candidates", headers=headers, json={**body, "user_id": people.residents[1].id})
    assert response.status_code == 409


def test_api_appointments(client, community, people, points, token_for):
    east_id, west_id = points
    secret = token_for(community=community)
    headers = {**bearer(secret), "Accept-Language": "en"}
    url = f"/api/v1/communities/{community.slug}/selection/appointments"
    round_id = open_round(community, people.admin, [])
    nominate(community, round_id, people.residents[0], by=people.residents[1])
    body = {"user_id": people.residents[0].id, "point_id": east_id, "round_id": round_id, "term_start": "2026-01-01"}
    response = client.post(url, headers=headers, json=body)
    assert response.status_code == 409 and list(response.get_json()["errors"]) == ["round_id"]
    close(community, round_id, people.admin)
    response = client.post(url, headers=headers, json={**body, "user_id": people.residents[1].id})
    assert response.status_code == 422 and list(response.get_json()["errors"]) == ["user_id"]
    response = client.post(url, headers=headers, json={**body, "term_end": "2025-12-31"})
    assert response.status_code == 422 and list(response.get_json()["errors"]) == ["term_end"]
    response = client.post(url, headers=headers, json={**body, "round_id": 999999})
    assert response.status_code == 422 and list(response.get_json()["errors"]) == ["round_id"]
    response = client.post(url, headers=headers, json=body)
    assert response.status_code == 201
    first = response.get_json()
    assert (first["name"], first["appointed_by_id"], first["ended_at"]) == ("Ann", None, None)
    direct = {"user_id": people.residents[2].id, "point_id": west_id, "term_start": "2025-06-01"}
    assert client.post(url, headers=headers, json=direct).status_code == 201

    response = client.post(f"{url}/{first['id']}/end", headers=headers)
    assert response.status_code == 200 and response.get_json()["ended_at"]
    assert client.post(f"{url}/{first['id']}/end", headers=headers).status_code == 409
    everything = client.get(url, headers=headers).get_json()
    assert everything["total"] == 2
    current = client.get(url + "?current=true", headers=headers).get_json()
    assert [a["name"] for a in current["items"]] == ["Cai"]
    at_east = client.get(f"{url}?point_id={east_id}", headers=headers).get_json()
    assert [a["id"] for a in at_east["items"]] == [first["id"]]


def test_api_scopes(client, community, people, token_for):
    services.ensure_default_criteria(community)
    db.session.commit()
    round_id = open_round(community, people.admin, [])
    reader = token_for(community=community, scopes="selection:read")
    base = f"/api/v1/communities/{community.slug}/selection"
    assert client.get(f"{base}/rounds/{round_id}", headers=bearer(reader)).status_code == 200
    response = client.post(
        f"{base}/rounds/{round_id}/candidates",
        headers=bearer(reader),
        json={"user_id": people.residents[0].id, "reason": "x"},
    )
    assert response.status_code == 403 and response.get_json()["type"] == "urn:yishi:problem:forbidden"
    assert client.post(f"{base}/rounds/{round_id}/close", headers=bearer(reader)).status_code == 403
    other = token_for(community=community, scopes="community:read")
    assert client.get(f"{base}/rounds", headers=bearer(other)).status_code == 403
    assert count(Candidate, community) == 0


def test_openapi_documents_selection_and_says_scores_are_web_only(client):
    spec = client.get("/api/v1/openapi.json").get_json()
    paths = spec["paths"]
    for path in (
        "/api/v1/communities/{community_slug}/selection/criteria",
        "/api/v1/communities/{community_slug}/selection/rounds/{round_id}/close",
        "/api/v1/communities/{community_slug}/selection/rounds/{round_id}/evaluators",
        "/api/v1/communities/{community_slug}/selection/appointments/{appointment_id}/end",
    ):
        assert path in paths, path
    assert not [p for p in paths if "score" in p]
    described = " ".join(tag.get("description", "") for tag in spec.get("tags", []))
    assert "a token is not a person" in described


def test_round_criteria_rows_reference_the_communitys_criteria(community, people):
    round_id = open_round(community, people.admin, [])
    with scope(community):
        rows = db.session.execute(select(RoundCriterion).where(RoundCriterion.round_id == round_id)).scalars().all()
        assert {row.criterion_id for row in rows} == set(criterion_ids(community).values())


def test_terms_follow_the_communitys_calendar_not_utc(community, create_user):
    """At 20:00 UTC on 1 March it is already 2 March in Shilipu: a term starting 2 March has begun."""
    from datetime import UTC, date, datetime

    import time_machine

    from yishi.modules.accounts.permissions import Actor
    from yishi.modules.points.models import Point
    from yishi.modules.selection import services as selection

    admin = Actor(user=create_user(community=community, role="admin"))
    moderator = create_user(community=community, role="resident", name="王建国")
    with tenancy.community_scope(community.id):
        point = Point(code="clock", name_zh="议事点", name_en="Point")
        db.session.add(point)
        db.session.flush()
        selection.appoint(community, user_id=moderator.id, point_id=point.id, term_start=date(2026, 3, 2), actor=admin)
        with time_machine.travel(datetime(2026, 3, 1, 20, 0, tzinfo=UTC), tick=False):
            assert selection.community_today() == date(2026, 3, 2)
            assert [user.name for _appointment, user in selection.active_moderators(point.id)] == ["王建国"]
        with time_machine.travel(datetime(2026, 3, 1, 15, 0, tzinfo=UTC), tick=False):
            assert selection.active_moderators(point.id) == []


def test_a_criterion_added_after_the_last_position_stays_within_the_documented_positions(client, community, token_for):
    """Found by the fuzz test: a criterion at position 10000 made the next one 10001, outside its schema."""
    secret = token_for(community=community)
    url = f"/api/v1/communities/{community.slug}/selection/criteria"
    last = {"code": "last", "name_zh": "末", "name_en": "Last", "position": 10000}
    assert client.post(url, headers=bearer(secret), json=last).status_code == 201
    added = client.post(url, headers=bearer(secret), json={"code": "next", "name_zh": "次", "name_en": "Next"})
    assert added.status_code == 201 and added.get_json()["position"] == 10000
