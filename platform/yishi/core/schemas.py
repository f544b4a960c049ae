"""Field types shared by every module's marshmallow schemas."""

from __future__ import annotations

import marshmallow as ma
from marshmallow import validate

# Primary keys are PostgreSQL `integer`: anything larger cannot name a row, and would make the
# database fail instead of the request. Every id the API accepts goes through this bound.
MAX_ID = 2**31 - 1

# A list of ids becomes one SQL ``IN`` of as many parameters: bounded far below PostgreSQL's 65,535,
# and above any real list (a community has tens of resident groups and hundreds of members).
MAX_IDS = 500


class Integer(ma.fields.Integer):
    """A whole number. marshmallow's own truncates 2.5 to 2 (and 1e-42 to 0) unless strict, and strict
    also refuses the digits of a query string; this one refuses fractions and keeps the digits."""

    def _validated(self, value):
        if isinstance(value, float) and not value.is_integer():
            raise self.make_error("invalid")
        return super()._validated(value)


class Flag(ma.fields.Boolean):
    """A yes/no in a JSON body: ``true`` or ``false`` only, as the document says, not marshmallow's
    ``1``, ``"on"`` or ``"yes"`` (query strings keep :class:`marshmallow.fields.Boolean`'s words)."""

    def _deserialize(self, value, attr, data, **kwargs):
        if not isinstance(value, bool):
            raise self.make_error("invalid", input=value)
        return value


class Id(Integer):
    """A row id given by a client: a whole number from 1 to 2**31-1."""

    def __init__(self, **kwargs):
        kwargs.setdefault("validate", validate.Range(min=1, max=MAX_ID))
        super().__init__(**kwargs)


class IdList(ma.fields.List):
    """A list of row ids given by a client: at most ``max_items`` (:data:`MAX_IDS`), shown as ``maxItems``."""

    def __init__(self, *, max_items: int = MAX_IDS, **kwargs):
        kwargs.setdefault("validate", validate.Length(max=max_items))
        super().__init__(Id(), **kwargs)
