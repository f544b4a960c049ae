"""Recording participation, and counting it: distinct people over a period, by kind."""

from __future__ import annotations

import hashlib
import re
import unicodedata
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from yishi.core import tenancy
from yishi.core.db import db, utcnow
from yishi.modules.accounts.models import User
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


def person_for(
    *, user: User | None = None, name: str = "", phone: str = "", group_id: int | None = None
) -> Person | None:
    """The community's Person for an account or an identity, created the first time (None when
    there is nobody to name: no account and no name)."""
    if user is None and not _normalise_name(name):
        return None
    key = identity_key(user_id=user.id if user else None, name=name, phone=phone, group_id=group_id)
    found = db.session.execute(select(Person).where(Person.identity_key == key)).scalar_one_or_none()
    if found is not None:
        return found
    person = Person(
        community_id=tenancy.require_community_id(),
        identity_key=key,
        user_id=user.id if user else None,
        name=(user.name if user else name.strip())[:120],
        phone=(user.phone or "") if user else _normalise_phone(phone)[:32],
        resident_group_id=group_id,
    )
    try:
        with db.session.begin_nested():
            db.session.add(person)
    except IntegrityError:  # someone else created them meanwhile
        return db.session.execute(select(Person).where(Person.identity_key == key)).scalar_one()
    return person


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
