"""``yishi demo`` is a demo wherever its database is, and its kept logins never outlive their
database (issue 10, item 8). Demo preparation takes seconds: one test walks the whole story."""

from __future__ import annotations

from click.testing import CliRunner

from yishi.cli import main


def _logins(output: str) -> dict[str, str]:
    """email → password, as `yishi demo` prints them."""
    return {
        words[-2]: words[-1]
        for words in (line.split() for line in output.splitlines())
        if len(words) >= 2 and words[-2].endswith("@yishi.example")
    }


def test_demo_on_any_database_url_and_after_losing_its_database(tmp_path, monkeypatch):
    instance, database = tmp_path / "instance", tmp_path / "elsewhere" / "demo.sqlite3"
    database.parent.mkdir()
    monkeypatch.setenv("YISHI_INSTANCE_PATH", str(instance))
    for name in ("REDIS_URL", "YISHI_ENV", "SECRET_KEY"):
        monkeypatch.delenv(name, raising=False)
    # A database URL and no SECRET_KEY: still a demo, not a production refusing to start.
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{database}")
    runner = CliRunner()

    first = runner.invoke(main, ["demo", "--no-serve"], catch_exceptions=False)
    assert first.exit_code == 0, first.output
    assert len(_logins(first.output)) >= 15
    kept = database.parent / "demo.sqlite3.demo-accounts.json"
    assert kept.exists() and not (instance / "demo-accounts.json").exists()  # beside its own database

    # The database is lost, its logins file is not: the people are created again, with new passwords.
    for leftover in database.parent.glob("demo.sqlite3*"):
        if leftover != kept and not leftover.name.endswith(".txt"):
            leftover.unlink()
    second = runner.invoke(main, ["demo", "--no-serve"], catch_exceptions=False)
    assert second.exit_code == 0, second.output
    assert _logins(second.output).keys() == _logins(first.output).keys()
    assert set(_logins(second.output).values()).isdisjoint(_logins(first.output).values())
    token = second.output.splitlines()[-1].split()[-1]
    assert token.startswith("ys_") and token not in first.output  # the old token opened the old database
