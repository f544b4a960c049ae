"""zh_CN is the primary language, en complete: every marked string has a translation, and the
locale is chosen user → community → Accept-Language."""

from __future__ import annotations

from pathlib import Path

from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from yishi.core.paths import project_root

ROOT = project_root()
METHODS = [("**.py", "python"), ("**/templates/**.html", "jinja2")]
KEYWORDS = {"_": None, "_l": None, "gettext": None, "lazy_gettext": None, "ngettext": (1, 2)}


def _marked_strings() -> set[str]:
    found = set()
    for _filename, _lineno, message, _comments, _context in extract_from_dir(
        str(ROOT / "platform"), method_map=METHODS, keywords=KEYWORDS
    ):
        found.add(message if isinstance(message, str) else message[0])
    return found


def test_every_marked_string_has_a_zh_cn_translation():
    marked = _marked_strings()
    assert len(marked) > 100
    with (ROOT / "translations/zh_CN/LC_MESSAGES/messages.po").open("rb") as po:
        catalog = read_po(po)

    def translated(message_id):
        entry = catalog.get(message_id)
        if entry is None:
            return False
        return all(entry.string) if isinstance(entry.string, tuple) else bool(entry.string)

    missing = sorted(m for m in marked if not translated(m))
    assert not missing, (
        f"{len(missing)} strings lack a zh_CN translation; run `yishi translations update`: {missing[:10]}"
    )


def test_translations_keep_their_placeholders():
    import re

    with (ROOT / "translations/zh_CN/LC_MESSAGES/messages.po").open("rb") as po:
        catalog = read_po(po)
    for message in catalog:
        if not message.id:
            continue
        ids = message.id if isinstance(message.id, tuple) else (message.id,)
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        expected = sorted(set(re.findall(r"%\(\w+\)[sd]", ids[-1])))  # a plural's own placeholders
        for string in strings:
            if string:
                assert sorted(set(re.findall(r"%\(\w+\)[sd]", string))) == expected, message.id


def test_no_template_loads_anything_from_another_host():
    import re

    for template in (ROOT / "platform/yishi/templates").rglob("*.html"):
        text = template.read_text(encoding="utf-8")
        assert not re.search(r'(src|href)="(https?:)?//', text), template


def test_locale_order(app, client, community, create_user, login_as):
    from yishi.core.db import db

    # A browser asking for English on a zh_CN community sees Chinese: the community's default wins.
    page = client.get(f"/c/{community.slug}/", headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert "居民小组" in page
    # Outside any community, Accept-Language decides.
    assert "Communities" in client.get("/", headers={"Accept-Language": "en-US,en"}).get_data(as_text=True)
    assert "社区" in client.get("/", headers={"Accept-Language": "zh-CN,zh"}).get_data(as_text=True)
    # A community whose default is English.
    community.default_locale = "en"
    db.session.commit()
    assert "Coverage of resident groups" in client.get(f"/c/{community.slug}/").get_data(as_text=True)
    # The user's own choice beats both.
    user = create_user()
    user.locale = "zh_CN"
    db.session.commit()
    login_as(user)
    assert "居民小组" in client.get(f"/c/{community.slug}/", headers={"Accept-Language": "en"}).get_data(as_text=True)


def test_catalogues_compile_on_start(tmp_path):
    import shutil

    from yishi.core.i18n import compile_catalogues

    source = ROOT / "translations"
    copy = tmp_path / "translations"
    shutil.copytree(source / "zh_CN", copy / "zh_CN")
    compiled = compile_catalogues(copy)
    assert [p.relative_to(copy) for p in compiled] == [Path("zh_Hans_CN/LC_MESSAGES/messages.mo")]
    assert compile_catalogues(copy) == []  # fresh: nothing to do
