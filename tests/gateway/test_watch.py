"""Config files watched for changes: a new content is reported once, a rewrite of the same
content or an untouched file never."""

import os
from pathlib import Path

from gateway.ops.watch import FileWatch


def touch_later(path: Path, text: str) -> None:
    """Write and move the mtime on, so the change is seen even on a coarse clock."""
    path.write_text(text)
    info = path.stat()
    os.utime(path, ns=(info.st_atime_ns, info.st_mtime_ns + 1_000_000_000))


def test_a_changed_file_is_reported_once(tmp_path: Path) -> None:
    """After an edit `changed` names the file; asked again, it has nothing to say."""
    policy = tmp_path / "policy.yaml"
    policy.write_text("a: 1\n")
    watch = FileWatch([policy, tmp_path / "site.yaml"])
    assert watch.changed() == []
    touch_later(policy, "a: 2\n")
    assert watch.changed() == [policy]
    assert watch.changed() == []


def test_the_same_content_written_again_is_not_a_change(tmp_path: Path) -> None:
    """An editor saving without changes (new mtime, same bytes) triggers no reload."""
    policy = tmp_path / "policy.yaml"
    policy.write_text("a: 1\n")
    watch = FileWatch([policy])
    touch_later(policy, "a: 1\n")
    assert watch.changed() == []


def test_a_file_appearing_or_vanishing_is_a_change(tmp_path: Path) -> None:
    """A missing file counts as a content of its own."""
    policy = tmp_path / "policy.yaml"
    watch = FileWatch([policy])
    policy.write_text("a: 1\n")
    assert watch.changed() == [policy]
    policy.unlink()
    assert watch.changed() == [policy]


def test_watch_restarts_from_the_current_contents(tmp_path: Path) -> None:
    """After `watch` (a reload done), earlier edits are not reported again."""
    policy = tmp_path / "policy.yaml"
    policy.write_text("a: 1\n")
    watch = FileWatch([policy])
    touch_later(policy, "a: 2\n")
    watch.watch([policy])
    assert watch.changed() == []
