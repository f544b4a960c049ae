"""Recording participation, and counting it: distinct people over a period, by kind."""

from __future__ import annotations

import hashlib
import re
import unicodedata
from datetime import datetime

from sqlalchemy import UniqueConstraint, delete, exists, func, or_, select, update
from sqlalchemy.exc import IntegrityError

from yishi.core import tenancy
from yishi.core.db import db, utcnow
from yishi.modules.accounts.models import CommunityMembership, User
from yishi.modules.participation.models import Participation, ParticipationKind, Person


def _normalise_name(name: str) -> str:
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", name or "")).casefold()


def _normalise_phone(phone: str) -> str:
    # NFKC, then ASCII digits only: \D alone keeps full-width digits, so １３９… would be someone else
    return re.sub(r"[^0-9]", "", unicodedata.normalize("NFKC", phone or ""))


def identity_key(*, user_id: int | None = None, name: str = "", phone: str = "", group_id: int | None = None) -> str:
    """An account is itself; anyone else is their name, phone and resident group, normalised
    (full-width digits, spaces, case) and hashed, so the same person always matches."""
    if user_id is not None:
        return f"user:{user_id}"
    raw = f"{_normalise_name(name)}|{_normalise_phone(phone)}|{group_id or ''}"
    return "anon:" + hashlib.sha256(raw.encode()).hexdigest()


def _contact(name: str | None, phone: str | None) -> tuple[str, str] | None:
    """A name and a phone, normalised, or None without both: what recognises an account holder. A phone
    alone is not enough: a household often shares one, and grandmother is not her son's account."""
    name, phone = _normalise_name(name or ""), _normalise_phone(phone or "")
    return (name, phone) if name and phone else None


def _account_holder(name: str, phone: str) -> User | None:
    """The one account of this community (a member, or an account already in its ledger) whose name and
    phone, normalised, are these; None when there is none, or more than one (we do not guess between
    accounts). Phones are compared normalised in Python because accounts keep them as typed."""
    contact = _contact(name, phone)
    if contact is None:
        return None
    community_id = tenancy.require_community_id()
    members = select(CommunityMembership.user_id).where(CommunityMembership.community_id == community_id)
    in_ledger = select(Person.user_id).where(Person.community_id == community_id, Person.user_id.is_not(None))
    rows = db.session.execute(
        select(User.id, User.name, User.phone).where(
            User.phone.is_not(None), User.phone != "", or_(User.id.in_(members), User.id.in_(in_ledger))
        )
    ).all()
    matches = [user_id for user_id, user_name, user_phone in rows if _contact(user_name, user_phone) == contact]
    return db.session.get(User, matches[0]) if len(matches) == 1 else None


def _by_key(key: str) -> Person | None:
    return db.session.execute(select(Person).where(Person.identity_key == key)).scalar_one_or_none()


def _fold(duplicate: Person, into: Person) -> None:
    """Move everything ``duplicate`` did onto ``into`` and forget ``duplicate``: every table that points
    at a person (the ledger, attendance, comments, volunteers), found from the schema so that a table
    added later is not missed. A row that ``into`` already has (the same meeting attended) is dropped.
    Core statements, reviewed: both people are of the community in scope, and each says its community."""
    db.session.flush()
    for table in db.metadata.tables.values():
        for column in table.columns:
            if not any(fk.column is Person.__table__.c.id for fk in column.foreign_keys):
                continue
            # Core statements carry no tenant criteria: say the community outright
            mine = [table.c.community_id == into.community_id] if "community_id" in table.c else []
            for constraint in table.constraints:
                if isinstance(constraint, UniqueConstraint) and column.name in constraint.columns:
                    others = [c for c in constraint.columns if c is not constraint.columns[column.name]]
                    kept = table.alias("kept")
                    clash = exists().where(kept.c[column.name] == into.id, *(kept.c[c.name] == c for c in others))
                    db.session.execute(delete(table).where(*mine, column == duplicate.id, clash))
            db.session.execute(update(table).where(*mine, column == duplicate.id).values({column.name: into.id}))
    db.session.delete(duplicate)
    db.session.flush()


def _account_person(user: User, *, group_id: int | None = None) -> Person:
    """The account's Person. The first time, someone recorded before by name and phone (at a hand
    check-in, a matter raised by phone) with the account's name and phone becomes it, so an account
    used after the fact does not make a second person; several such records (other resident groups
    chosen) become one."""
    key = identity_key(user_id=user.id)
    found = _by_key(key)
    if found is None:
        found = _adopt(user, key)
    if found is None:
        found = _create(
            Person(
                community_id=tenancy.require_community_id(),
                identity_key=key,
                user_id=user.id,
                name=user.name[:120],
                phone=user.phone or "",
                resident_group_id=group_id,
            )
        )
    if found.resident_group_id is None and group_id:
        # shown beside the name on the attendance list, as for anyone checked in by name and phone
        found.resident_group_id = group_id
    return found


def _adopt(user: User, key: str) -> Person | None:
    contact = _contact(user.name, user.phone)
    if contact is None:
        return None
    twins = [
        person
        for person in db.session.execute(
            select(Person).where(Person.user_id.is_(None), Person.phone == contact[1]).order_by(Person.id)
        ).scalars()
        if _normalise_name(person.name) == contact[0]
    ]
    if not twins:
        return None
    adopted, *others = twins
    try:
        with db.session.begin_nested():
            for other in others:
                _fold(other, adopted)
            adopted.identity_key, adopted.user_id = key, user.id
            adopted.name, adopted.phone = user.name[:120], user.phone or ""
            db.session.flush()
    except IntegrityError:  # the account's Person was made meanwhile
        return db.session.execute(select(Person).where(Person.identity_key == key)).scalar_one()
    return adopted


def _create(person: Person) -> Person:
    try:
        with db.session.begin_nested():
            db.session.add(person)
    except IntegrityError:  # someone else created them meanwhile
        return db.session.execute(select(Person).where(Person.identity_key == person.identity_key)).scalar_one()
    return person


def person_for(
    *, user: User | None = None, name: str = "", phone: str = "", group_id: int | None = None
) -> Person | None:
    """The community's Person for an account or an identity, created the first time (None when
    there is nobody to name: no account and no name).

    One person is one person however they come: a name and phone that are, normalised, those of one
    account of the community (a member, or an account in its ledger) are that account's Person — at a
    QR check-in without signing in, a hand check-in, a matter raised by name and phone. Only the ledger
    is joined: the matter keeps what was typed and is not linked to the account, and the caller answers
    the same either way, so nobody learns from it whether a phone belongs to a member."""
    if user is not None:
        return _account_person(user)
    if not _normalise_name(name):
        return None
    holder = _account_holder(name, phone)
    if holder is not None:
        return _account_person(holder, group_id=group_id)
    key = identity_key(name=name, phone=phone, group_id=group_id)
    return _by_key(key) or _create(
        Person(
            community_id=tenancy.require_community_id(),
            identity_key=key,
            name=name.strip()[:120],
            phone=_normalise_phone(phone)[:32],
            resident_group_id=group_id,
        )
    )


def record(
    kind: ParticipationKind, person: Person | None, subject_type: str, subject_id: int, *, at: datetime | None = None
) -> Participation | None:
    """Note that ``person`` took part; a second call for the same act changes nothing."""
    if person is None:
        return None
    existing = db.session.execute(
        select(Participation).where(
            Participation.person_id == person.id,
            Participation.kind == kind,
            Participation.subject_type == subject_type,
            Participation.subject_id == subject_id,
        )
    ).scalar_one_or_none()
    if existing is not None:
        return existing
    entry = Participation(
        community_id=person.community_id,
        person_id=person.id,
        kind=kind,
        subject_type=subject_type,
        subject_id=subject_id,
        at=at or utcnow(),
    )
    try:
        with db.session.begin_nested():
            db.session.add(entry)
    except IntegrityError:
        return None
    return entry


def _in_period(statement, start: datetime | None, end: datetime | None):
    if start is not None:
        statement = statement.where(Participation.at >= start)
    if end is not None:
        statement = statement.where(Participation.at < end)
    return statement


def distinct_participants(start: datetime | None = None, end: datetime | None = None) -> int:
    """How many different people took part in any way in [start, end) — the seed's 127."""
    statement = select(func.count(func.distinct(Participation.person_id)))
    return db.session.execute(_in_period(statement, start, end)).scalar_one()


def participants_by_kind(start: datetime | None = None, end: datetime | None = None) -> dict[str, int]:
    statement = select(Participation.kind, func.count(func.distinct(Participation.person_id))).group_by(
        Participation.kind
    )
    return {kind.value: count for kind, count in db.session.execute(_in_period(statement, start, end))}
