"""Field types shared by every module's marshmallow schemas."""

from __future__ import annotations

import marshmallow as ma
from marshmallow import validate

# Primary keys are PostgreSQL `integer`: anything larger cannot name a row, and would make the
# database fail instead of the request. Every id the API accepts goes through this bound.
MAX_ID = 2**31 - 1


class Id(ma.fields.Integer):
    """A row id given by a client: a whole number from 1 to 2**31-1."""

    def __init__(self, **kwargs):
        kwargs.setdefault("validate", validate.Range(min=1, max=MAX_ID))
        super().__init__(**kwargs)
