"""Which files a configured path stands for: Takeout folders, Maildirs, globs."""

from __future__ import annotations

from pathlib import Path

from peerpulse.connectors.files.inputs import resolve


def touch(path: Path, text: str = "x") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_a_takeout_mail_folder_is_read_as_its_mbox_files(tmp_path):
    touch(tmp_path / "Takeout/Mail/All mail Including Spam and Trash.mbox")
    touch(tmp_path / "Takeout/Mail/Sent.mbox")
    inputs, missing = resolve(["Takeout/Mail"], str(tmp_path), "mail")
    assert missing == []
    assert [(i.kind, i.path.name) for i in inputs] == [
        ("mbox", "All mail Including Spam and Trash.mbox"), ("mbox", "Sent.mbox"),
    ]


def test_a_maildir_is_one_folder_input(tmp_path):
    touch(tmp_path / "Mail/cur/1700000000.1.host:2,S")
    touch(tmp_path / "Mail/new/1700000001.2.host")
    inputs, _ = resolve(["Mail"], str(tmp_path), "mail")
    assert [i.kind for i in inputs] == ["folder"]


def test_a_folder_with_both_mbox_and_eml_files_reads_both(tmp_path):
    touch(tmp_path / "export/archive.mbox")
    touch(tmp_path / "export/one.eml")
    inputs, _ = resolve(["export"], str(tmp_path), "mail")
    assert sorted(i.kind for i in inputs) == ["folder", "mbox"]


def test_a_path_that_matches_nothing_is_reported_missing(tmp_path):
    inputs, missing = resolve(["nowhere/*.mbox", "absent"], str(tmp_path), "mail")
    assert (inputs, missing) == ([], ["nowhere/*.mbox", "absent"])
