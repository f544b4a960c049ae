"""Photos of matters: checked by their content, at most 5 MB and 6 per matter, re-encoded without EXIF,
GPS positions or text chunks; uploaded through the web form and the API, stored under STORAGE_PATH,
and shown only to those who may read the matter."""

from __future__ import annotations

import io
import os
import re
from dataclasses import dataclass
from pathlib import Path

import pytest
from PIL import Image
from PIL.PngImagePlugin import PngInfo
from sqlalchemy import func, select
from werkzeug.datastructures import FileStorage, MultiDict
from werkzeug.test import encode_multipart

from tests.conftest import PASSWORD, bearer
from tests.matter_world import build
from yishi.core.db import db
from yishi.core.errors import ValidationFailed
from yishi.core.storage import LocalStorage, storage
from yishi.modules.matters import photos as photo_files
from yishi.modules.matters import services
from yishi.modules.matters.models import Channel, EntryKind, Matter, MatterPhoto

GPS_IFD = 0x8825
SECRET_TEXT = "家住幸福路1号"


@pytest.fixture
def w(community, create_user):
    return build(community, create_user)


@pytest.fixture
def writer(community, token_for):
    return bearer(token_for(community=community))


def image_bytes(fmt: str, *, size=(64, 48), orientation: int | None = None) -> bytes:
    """An image carrying a camera's EXIF with a GPS position (and, for PNG, a text chunk)."""
    image = Image.new("RGB", size, (200, 30, 30))
    image.paste((20, 20, 220), (0, 0, size[0] // 2, size[1] // 2))
    exif = Image.Exif()
    exif[0x010F] = "Canon"  # Make
    if orientation:
        exif[0x0112] = orientation
    gps = exif.get_ifd(GPS_IFD)
    gps.update({1: "N", 2: (31.0, 30.0, 0.0), 3: "E", 4: (120.0, 1.0, 0.0)})
    options = {"exif": exif}
    if fmt == "PNG":
        info = PngInfo()
        info.add_text("Comment", SECRET_TEXT)
        options["pnginfo"] = info
    out = io.BytesIO()
    image.save(out, format=fmt, **options)
    data = out.getvalue()
    with Image.open(io.BytesIO(data)) as check:  # the original really carries what must go
        assert check.getexif().get_ifd(GPS_IFD)[1] == "N"
    return data


def assert_clean(data: bytes, fmt: str) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    assert image.format == fmt
    exif = image.getexif()
    assert GPS_IFD not in exif and not exif.get_ifd(GPS_IFD)
    assert len(exif) == 0
    assert "exif" not in image.info
    assert SECRET_TEXT not in str(image.info) and "Comment" not in image.info
    assert b"Canon" not in data
    if fmt == "JPEG":
        assert b"Exif\x00\x00" not in data
    elif fmt == "PNG":
        assert not any(chunk in data for chunk in (b"eXIf", b"tEXt", b"iTXt", b"zTXt"))
    else:
        assert b"EXIF" not in data
    return image


def oversized_png() -> bytes:
    """A real PNG over 5 MB (noise does not compress)."""
    side = 1400
    data = io.BytesIO()
    Image.frombytes("RGB", (side, side), os.urandom(side * side * 3)).save(data, format="PNG")
    assert data.tell() > photo_files.MAX_BYTES
    return data.getvalue()


EVIL = b"<html><script>alert(document.cookie)</script></html>"


def stored_files(app) -> set[str]:
    root = Path(app.config["STORAGE_PATH"])
    return {str(path.relative_to(root)) for path in root.rglob("*") if path.is_file()} if root.exists() else set()


@dataclass(frozen=True)
class Row:
    id: int
    matter_id: int
    storage_key: str
    content_type: str
    width: int
    height: int
    size: int


def photo_rows(w) -> list[Row]:
    """The stored photo rows, read in scope into plain values (requests expire the session)."""
    with w.scope():
        rows = db.session.execute(select(MatterPhoto).order_by(MatterPhoto.id)).scalars()
        return [Row(r.id, r.matter_id, r.storage_key, r.content_type, r.width, r.height, r.size) for r in rows]


def count_matters(w) -> int:
    with w.scope():
        return db.session.execute(select(func.count(Matter.id))).scalar_one()


def login(client, user):
    response = client.post("/login", data={"email": user.email, "password": PASSWORD})
    assert response.status_code == 302


def multipart(*items: tuple[str, bytes], **fields: str) -> dict:
    """A multipart body built here, in memory (the test client would spool a big one to an unclosed
    temporary file): form fields and files under ``photos``."""
    values = MultiDict([(key, value) for key, value in fields.items()])
    for name, data in items:
        values.add("photos", FileStorage(io.BytesIO(data), filename=name))
    boundary, body = encode_multipart(values)
    return {"data": body, "content_type": f"multipart/form-data; boundary={boundary}"}


# --- the cleaning itself -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fmt", "content_type", "extension"),
    [("JPEG", "image/jpeg", "jpg"), ("PNG", "image/png", "png"), ("WEBP", "image/webp", "webp")],
)
def test_clean_re_encodes_without_metadata(app, fmt, content_type, extension):
    original = image_bytes(fmt)
    with app.test_request_context():
        cleaned = photo_files.clean(original, f"photo.{extension}")
    assert (cleaned.content_type, cleaned.extension, cleaned.width, cleaned.height) == (content_type, extension, 64, 48)
    assert cleaned.data != original
    image = assert_clean(cleaned.data, fmt)
    assert image.size == (64, 48)
    red = image.convert("RGB").getpixel((60, 40))
    assert red[0] > 150 and red[1] < 80  # the pixels survive


def test_clean_turns_the_photo_upright_and_scales_it_down(app):
    with app.test_request_context():
        turned = photo_files.clean(image_bytes("JPEG", size=(64, 48), orientation=6))
        wide = photo_files.clean(image_bytes("JPEG", size=(3000, 200)))
    assert (turned.width, turned.height) == (48, 64)
    assert_clean(turned.data, "JPEG")
    assert (wide.width, wide.height) == (photo_files.MAX_SIDE, 171)


@pytest.mark.parametrize(
    ("name", "data"),
    [
        ("evil.jpg", EVIL),
        ("empty.png", b""),
        ("fake.webp", b"RIFF\x00\x00\x00\x00WEBPVP8 garbage"),
        ("anim.gif", None),  # a real image, of a format not accepted
    ],
)
def test_clean_refuses_what_is_not_a_jpeg_png_or_webp(app, name, data):
    if data is None:
        out = io.BytesIO()
        Image.new("RGB", (8, 8)).save(out, format="GIF")
        data = out.getvalue()
    with app.test_request_context(), pytest.raises(ValidationFailed) as refused:
        photo_files.clean(data, name)
    assert list(refused.value.errors) == ["photos"]


def test_clean_refuses_a_small_file_of_too_many_pixels(app):
    out = io.BytesIO()
    Image.new("1", (8000, 6000)).save(out, format="PNG")  # 48 million pixels in a few kilobytes
    assert out.tell() < 1024 * 1024
    with app.test_request_context(), pytest.raises(ValidationFailed) as refused:
        photo_files.clean(out.getvalue(), "bomb.png")
    assert list(refused.value.errors) == ["photos"]


def test_clean_refuses_a_file_over_5_mb(app):
    with app.test_request_context(), pytest.raises(ValidationFailed) as refused:
        photo_files.clean(oversized_png(), "big.png")
    assert "5 MB" in refused.value.errors["photos"][0]


# --- storage -----------------------------------------------------------------------------------------


def test_local_storage_round_trip_and_key_validation(tmp_path):
    local = LocalStorage(tmp_path)
    local.save("matters/7/abc123.jpg", b"data")
    assert (tmp_path / "matters" / "7" / "abc123.jpg").read_bytes() == b"data"
    assert local.read("matters/7/abc123.jpg") == b"data"
    local.save("matters/7/abc123.jpg", b"new")  # replaced in place
    assert local.read("matters/7/abc123.jpg") == b"new"
    assert [p.name for p in (tmp_path / "matters" / "7").iterdir()] == ["abc123.jpg"]  # no temporary left
    local.delete("matters/7/abc123.jpg")
    local.delete("matters/7/abc123.jpg")  # deleting twice is fine
    assert not (tmp_path / "matters" / "7" / "abc123.jpg").exists()
    for key in (
        "../x",
        "matters/../../x",
        "/etc/passwd",
        "matters//x",
        "",
        "Matters/X.jpg",
        "matters/x\\..\\y",
        ".hidden",
    ):
        for call in (lambda k: local.save(k, b"x"), local.read, local.delete):
            with pytest.raises(ValueError, match="not a storage key"):
                call(key)
    assert not (tmp_path.parent / "x").exists()


def test_the_app_storage_is_local_under_storage_path(app):
    with app.app_context():
        assert isinstance(storage(), LocalStorage)
        assert storage().root == Path(app.config["STORAGE_PATH"])
        with app.test_request_context():
            key = photo_files.storage_key(5, "jpg")
    assert re.fullmatch(r"matters/5/[0-9a-f]{32}\.jpg", key)


# --- the web form ------------------------------------------------------------------------------------


def intake(w, **extra) -> dict:
    data = {
        "title": "桥头路灯不亮",
        "category_id": str(w.categories["streetlight"]),
        "resident_group_id": str(w.groups[0]),
        "reporter_name": "王秀英",
        "reporter_phone": "13912345678",
        "description": "",
        "address": "",
        "parties": "",
    }
    data.update(extra)
    return data


def test_photos_through_the_web_form_are_cleaned_stored_and_shown_to_handlers_only(app, client, w, create_user):
    reporter = app.test_client()
    sent = {"JPEG": image_bytes("JPEG"), "PNG": image_bytes("PNG"), "WEBP": image_bytes("WEBP")}
    before = stored_files(app)
    response = reporter.post(
        f"/c/{w.community.slug}/matters/new",
        **multipart(("a.jpg", sent["JPEG"]), ("b.png", sent["PNG"]), ("c.webp", sent["WEBP"]), **intake(w)),
    )
    assert response.status_code == 302, response.get_data(as_text=True)[:2000]
    matter_id = int(re.search(r"/matters/(\d+)$", response.headers["Location"]).group(1))

    rows = photo_rows(w)
    assert [(r.matter_id, r.content_type) for r in rows] == [
        (matter_id, "image/jpeg"),
        (matter_id, "image/png"),
        (matter_id, "image/webp"),
    ]
    assert stored_files(app) - before == {r.storage_key for r in rows}
    root = Path(app.config["STORAGE_PATH"])
    for row, fmt in zip(rows, ("JPEG", "PNG", "WEBP"), strict=True):
        assert re.fullmatch(rf"matters/{w.community.id}/[0-9a-f]{{32}}\.(jpg|png|webp)", row.storage_key)
        on_disk = (root / row.storage_key).read_bytes()
        assert row.size == len(on_disk) and (row.width, row.height) == (64, 48)
        assert_clean(on_disk, fmt)
    with w.scope():
        assert db.session.get(Matter, matter_id).channel == Channel.WEB

    url = f"/c/{w.community.slug}/matters/{matter_id}/photos/{rows[0].id}"
    # The reporter (who holds the tracking code in this browser) and the handler see it ...
    seen = reporter.get(url)
    assert seen.status_code == 200 and seen.mimetype == "image/jpeg"
    assert seen.data == (root / rows[0].storage_key).read_bytes()
    assert "private" in seen.headers["Cache-Control"]
    login(client, w.moderator)
    assert client.get(url).status_code == 200
    assert "/photos/" in client.get(f"/c/{w.community.slug}/matters/{matter_id}").get_data(as_text=True)
    # ... a stranger does not: not anonymous, not another resident.
    assert app.test_client().get(url).status_code == 404
    neighbour = app.test_client()
    login(neighbour, w.resident)
    assert neighbour.get(url).status_code == 404
    # A photo id of another matter is not found under this one.
    other = w.raise_matter(title="另一件事")
    assert client.get(f"/c/{w.community.slug}/matters/{other.id}/photos/{rows[0].id}").status_code == 404


@pytest.mark.parametrize(
    "upload",
    [
        [("evil.jpg", EVIL)],
        [("ok.jpg", "JPEG"), ("evil.jpg", EVIL)],
        [("big.png", "BIG")],
        [(f"p{n}.jpg", "JPEG") for n in range(7)],
    ],
    ids=["renamed-html", "one-bad-of-two", "over-5mb", "seven-photos"],
)
def test_a_refused_upload_on_the_web_form_records_nothing(app, w, upload):
    reporter = app.test_client()
    with reporter.session_transaction() as browser:
        browser["locale"] = "en"
    items = [
        (name, image_bytes("JPEG") if data == "JPEG" else oversized_png() if data == "BIG" else data)
        for name, data in upload
    ]
    before = stored_files(app)
    response = reporter.post(
        f"/c/{w.community.slug}/matters/new",
        **multipart(*items, **intake(w)),
    )
    assert response.status_code == 200  # the form again, with the refusal
    page = response.get_data(as_text=True)
    assert "not a JPEG, PNG or WebP image" in page or "larger than 5 MB" in page or "At most 6 photos" in page
    assert count_matters(w) == 0 and photo_rows(w) == []
    assert stored_files(app) == before


# --- the API -----------------------------------------------------------------------------------------


def photos_url(w, matter_id: int) -> str:
    return f"/api/v1/communities/{w.community.slug}/matters/{matter_id}/photos"


def test_photos_through_the_api(app, client, w, writer, token_for):
    raised = w.raise_matter()
    response = client.post(
        photos_url(w, raised.id),
        headers=writer,
        **multipart(("a.jpg", image_bytes("JPEG")), ("b.png", image_bytes("PNG"))),
    )
    assert response.status_code == 201, response.get_data(as_text=True)[:1000]
    listed = response.get_json()["photos"]
    assert [p["content_type"] for p in listed] == ["image/jpeg", "image/png"]
    rows = photo_rows(w)
    assert [r.id for r in rows] == [p["id"] for p in listed]
    root = Path(app.config["STORAGE_PATH"])
    for row in rows:
        assert (root / row.storage_key).is_file()

    served = client.get(listed[1]["url"], headers=writer)
    assert served.status_code == 200 and served.mimetype == "image/png"
    assert_clean(served.data, "PNG")
    reader = bearer(token_for(community=w.community, scopes="matters:read,community:read"))
    assert client.get(listed[0]["url"], headers=reader).status_code == 200
    with w.scope():
        entries = services.timeline(db.session.get(Matter, raised.id), internal=True)
        assert entries[-1].kind == EntryKind.PHOTO and entries[-1].actor_role == "handler"
    # A read-only token may look but not add.
    refused = client.post(
        photos_url(w, raised.id),
        headers=reader,
        **multipart(("c.jpg", image_bytes("JPEG"))),
    )
    assert refused.status_code == 403
    assert len(photo_rows(w)) == 2


@pytest.mark.parametrize(
    ("upload", "message"),
    [
        ([("evil.jpg", EVIL)], "not a JPEG, PNG or WebP image"),
        ([("ok.webp", "WEBP"), ("evil.jpg", EVIL)], "not a JPEG, PNG or WebP image"),
        ([("big.png", "BIG")], "larger than 5 MB"),
    ],
    ids=["renamed-html", "one-bad-of-two", "over-5mb"],
)
def test_a_refused_api_upload_saves_nothing(app, client, w, writer, upload, message):
    raised = w.raise_matter()
    items = [
        (name, image_bytes("WEBP") if data == "WEBP" else oversized_png() if data == "BIG" else data)
        for name, data in upload
    ]
    before = stored_files(app)
    response = client.post(
        photos_url(w, raised.id),
        headers={**writer, "Accept-Language": "en"},
        **multipart(*items),
    )
    assert response.status_code == 422 and response.mimetype == "application/problem+json"
    assert message in response.get_json()["errors"]["photos"][0]
    assert photo_rows(w) == [] and stored_files(app) == before
    with w.scope():
        assert [e.kind for e in services.timeline(db.session.get(Matter, raised.id), internal=True)] == [
            EntryKind.TRANSITION
        ]


def test_the_seventh_photo_is_refused(app, client, w, writer):
    raised = w.raise_matter()
    six = multipart(*[(f"p{n}.jpg", image_bytes("JPEG")) for n in range(6)])
    response = client.post(photos_url(w, raised.id), headers=writer, **six)
    assert response.status_code == 201 and len(response.get_json()["photos"]) == 6
    before = stored_files(app)
    seventh = client.post(
        photos_url(w, raised.id),
        headers={**writer, "Accept-Language": "en"},
        **multipart(("p7.png", image_bytes("PNG"))),
    )
    assert seventh.status_code == 422
    assert seventh.get_json()["errors"]["photos"] == ["At most 6 photos."]
    assert len(photo_rows(w)) == 6 and stored_files(app) == before


def test_no_file_is_a_422_and_a_finished_matter_takes_no_photos(client, w, writer):
    raised = w.raise_matter()
    empty = client.post(photos_url(w, raised.id), headers=writer, **multipart(note="no file"))
    assert empty.status_code == 422
    w.move(raised.id, "withdraw", by=None, tracked=True)
    late = client.post(photos_url(w, raised.id), headers=writer, **multipart(("a.jpg", image_bytes("JPEG"))))
    assert late.status_code == 409
    assert photo_rows(w) == []


def test_api_photos_are_404_for_another_community(client, w, writer, other_community, token_for):
    raised = w.raise_matter()
    response = client.post(photos_url(w, raised.id), headers=writer, **multipart(("a.jpg", image_bytes("JPEG"))))
    photo = response.get_json()["photos"][0]
    foreign = bearer(token_for(community=other_community))
    assert client.get(photo["url"], headers=foreign).status_code == 404
    assert client.get(f"{photos_url(w, raised.id)}/{photo['id'] + 1000}", headers=writer).status_code == 404
