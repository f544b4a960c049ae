"""REST: matters — intake, the workflow, notes, ratings, photos, the timeline and the public board."""

from __future__ import annotations

from flask import Response, request, url_for
from flask.views import MethodView

from yishi.core.api import PageArgsSchema, page_schema, paginate
from yishi.core.db import db
from yishi.core.storage import storage
from yishi.modules.accounts.auth import current_actor
from yishi.modules.accounts.permissions import require
from yishi.modules.accounts.services import mask_name
from yishi.modules.communities.context import community_api, current_community
from yishi.modules.matters import presenters, services
from yishi.modules.matters.schemas import (
    BoardItemSchema,
    CreatedMatterSchema,
    MatterCreateSchema,
    MatterFilterSchema,
    MatterSchema,
    NoteSchema,
    PhotoUploadSchema,
    RatingSchema,
    TimelineEntrySchema,
    TransitionSchema,
    VolunteerSchema,
)

blp = community_api(
    "matters_api",
    __name__,
    "Matters (事项): intake, routing, the quarter-hour workflow, the timeline and the public board.",
)


def _readable(matter_id: int):
    """The matter, for a caller that may read it (404 otherwise: a matter of another community, or
    of this one without ``matters:read``, does not exist for the caller)."""
    community, actor = current_community(), current_actor()
    require(actor, "community:read", community=community)
    matter = services.get_matter(matter_id)
    if not services.may_read(actor, matter, community):
        require(actor, "matters:read", community=community)
    return matter


@blp.before_request
def _matter_of_the_url_is_readable():
    """A matter id this caller may not read answers 404 before any body is read or checked."""
    matter_id = (request.view_args or {}).get("matter_id")
    if matter_id is not None:
        matter = _readable(matter_id)
        photo_id = request.view_args.get("photo_id")
        if photo_id is not None:
            services.get_photo(matter, photo_id)


def _one(matter, **extra) -> dict:
    row = presenters.describe([matter], current_actor(), current_community(), external=True)[0]
    row["photos"] = [
        {
            "id": photo.id,
            "content_type": photo.content_type,
            "width": photo.width,
            "height": photo.height,
            "url": url_for(".MatterPhotoFile", matter_id=matter.id, photo_id=photo.id, _external=True),
        }
        for photo in services.photos_of(matter)
    ]
    row.update(extra)
    return row


@blp.route("/matters")
class Matters(MethodView):
    @blp.arguments(MatterFilterSchema, location="query")
    @blp.response(200, page_schema(MatterSchema))
    def get(self, args):
        """Matters, overdue first; filter by status, category, group, point, channel, overdue, text"""
        community, actor = current_community(), current_actor()
        require(actor, "matters:read", community=community)
        filters = services.Filters(
            status=args.get("status"),
            category_id=args.get("category_id"),
            resident_group_id=args.get("resident_group_id"),
            point_id=args.get("point_id"),
            channel=args.get("channel"),
            overdue=args.get("overdue"),
            q=args.get("q", ""),
        )
        body, headers = paginate(services.list_statement(filters), args)
        body["items"] = presenters.describe(body["items"], actor, community, external=True)
        return body, headers

    @blp.arguments(MatterCreateSchema)
    @blp.response(201, CreatedMatterSchema)
    def post(self, data):
        """Raise a matter on a resident's behalf (channel api, offline, phone or visit; accepts
        Idempotency-Key). The answer holds the tracking code for the resident, once."""
        community = current_community()
        channel = data.pop("channel")
        done = services.submit(community, data, channel=channel, actor=current_actor())
        db.session.flush()
        return _one(done.matter, tracking_code=done.tracking_code), {
            "Location": url_for(".MatterById", matter_id=done.matter.id, _external=True)
        }


@blp.route("/matters/<int:matter_id>")
class MatterById(MethodView):
    @blp.response(200, MatterSchema)
    def get(self, matter_id: int):
        """One matter with its photos"""
        return _one(_readable(matter_id))


@blp.route("/matters/<int:matter_id>/transitions")
class MatterTransitions(MethodView):
    @blp.arguments(TransitionSchema)
    @blp.response(200, MatterSchema)
    def post(self, data, matter_id: int):
        """Move the matter: accept, start, resolve, close, reopen, reject, withdraw or escalate.
        Send the ``version`` you read to be told (409) when someone moved it meanwhile."""
        matter = _readable(matter_id)
        services.transition(
            current_community(),
            matter,
            data["action"],
            actor=current_actor(),
            note=data["note"],
            public=data["public"],
            outcome=data["outcome"],
            agreement_text=data["agreement_text"],
            escalate_to=data["escalate_to"],
            expected_version=data["version"],
        )
        db.session.flush()
        return _one(matter)


@blp.route("/matters/<int:matter_id>/timeline")
class MatterTimeline(MethodView):
    @blp.arguments(PageArgsSchema, location="query")
    @blp.response(200, page_schema(TimelineEntrySchema))
    def get(self, args, matter_id: int):
        """Everything that happened to the matter, oldest first (internal notes to handlers only)"""
        community, actor = current_community(), current_actor()
        matter = _readable(matter_id)
        entries = services.timeline(matter, internal=services.is_handler(actor, matter, community))
        start = (args["page"] - 1) * args["per_page"]
        items = [
            {
                "id": e.id,
                "at": e.at,
                "kind": e.kind.value,
                "action": e.action,
                "from_status": e.from_status.value if e.from_status else None,
                "to_status": e.to_status.value if e.to_status else None,
                "actor": e.actor_label,
                "actor_role": e.actor_role,
                "note": e.note,
                "public": e.public,
            }
            for e in entries[start : start + args["per_page"]]
        ]
        return {"items": items, "page": args["page"], "per_page": args["per_page"], "total": len(entries)}


@blp.route("/matters/<int:matter_id>/notes")
class MatterNotes(MethodView):
    @blp.arguments(NoteSchema)
    @blp.response(201, TimelineEntrySchema)
    def post(self, data, matter_id: int):
        """Add a note (``public: false`` keeps it among handlers)"""
        entry = services.add_note(
            current_community(), _readable(matter_id), data["note"], actor=current_actor(), public=data["public"]
        )
        db.session.flush()
        return {
            "id": entry.id,
            "at": entry.at,
            "kind": entry.kind.value,
            "action": entry.action,
            "actor": entry.actor_label,
            "actor_role": entry.actor_role,
            "note": entry.note,
            "public": entry.public,
        }


@blp.route("/matters/<int:matter_id>/satisfaction")
class MatterSatisfaction(MethodView):
    @blp.arguments(RatingSchema)
    @blp.response(200, MatterSchema)
    def post(self, data, matter_id: int):
        """The resident's satisfaction (1-5 and a comment), relayed once the matter is resolved"""
        matter = _readable(matter_id)
        services.rate(current_community(), matter, data["score"], data["comment"], actor=current_actor())
        db.session.flush()
        return _one(matter)


@blp.route("/matters/<int:matter_id>/photos")
class MatterPhotos(MethodView):
    @blp.arguments(PhotoUploadSchema, location="files")
    @blp.response(201, MatterSchema)
    def post(self, _files, matter_id: int):
        """Add photos (multipart field ``photos``, up to 6 per matter; JPEG, PNG or WebP, 5 MB each)"""
        matter = _readable(matter_id)
        files = [(f.filename or "", f.read()) for f in request.files.getlist("photos")]
        services.add_photos(current_community(), matter, files, actor=current_actor())
        db.session.flush()
        return _one(matter)


@blp.route("/matters/<int:matter_id>/photos/<int:photo_id>")
class MatterPhotoFile(MethodView):
    @blp.response(200, content_type="image/*")
    def get(self, matter_id: int, photo_id: int):
        """A photo (re-encoded, without metadata)"""
        photo = services.get_photo(_readable(matter_id), photo_id)
        return Response(storage().read(photo.storage_key), mimetype=photo.content_type)


@blp.route("/board")
class Board(MethodView):
    @blp.arguments(PageArgsSchema, location="query")
    @blp.response(200, page_schema(BoardItemSchema))
    def get(self, args):
        """The public board: status, category, group and point of every matter — no names, no phones"""
        require(current_actor(), "community:read", community=current_community())
        body, headers = paginate(services.board_statement(), args)
        body["items"] = presenters.board_rows(body["items"])
        return body, headers


@blp.route("/matters/<int:matter_id>/volunteers")
class MatterVolunteers(MethodView):
    @blp.response(200, VolunteerSchema(many=True))
    def get(self, matter_id: int):
        """Residents who offered to help solve the matter (参与解决); names masked unless the caller handles it"""
        community, actor = current_community(), current_actor()
        matter = _readable(matter_id)
        handler = services.is_handler(actor, matter, community)
        return [
            {"name": name if handler else mask_name(name), "note": note, "at": at}
            for name, note, at in services.volunteers_of(matter)
        ]
