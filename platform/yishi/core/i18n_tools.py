"""Developer tooling for catalogues: extract marked strings and merge them into each .po."""

from __future__ import annotations

from pathlib import Path

from babel.messages.frontend import CommandLineInterface

from yishi.core.paths import project_root


def update_catalogues(translations: Path) -> list[str]:
    root = project_root()
    template = translations / "messages.pot"
    CommandLineInterface().run(
        [
            "pybabel",
            "-q",
            "extract",
            "-F",
            str(root / "babel.cfg"),
            "-k",
            "_l",
            "--no-location",
            "--sort-output",
            "--project",
            "yishi",
            "-o",
            str(template),
            str(root / "platform"),
        ]
    )
    CommandLineInterface().run(
        [
            "pybabel",
            "-q",
            "update",
            "-i",
            str(template),
            "-d",
            str(translations),
            "--no-fuzzy-matching",
            "--ignore-obsolete",
        ]
    )
    return [f"updated {po}" for po in sorted(translations.glob("*/LC_MESSAGES/messages.po"))]
