"""Finding the export files a setting names, and recognizing when they changed.

A setting entry is a file, a folder or a glob, relative to the config file's
folder. Each resulting input has a stable *label* (its path as the user wrote
it, relative to that folder when inside it): the label names it in warnings,
keys its state in the cursor and is the store ``scope`` of its records.

A fingerprint (size, mtime_ns, hashes of the first and last 4 KiB) tells an
unchanged file from a changed one without reading it; the hash of the 4 KiB
before an offset tells an mbox that was appended to from one that was rewritten.
"""

from __future__ import annotations

import glob
import hashlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

EDGE = 4096

InputKind = Literal["ics", "people", "mbox", "message", "folder"]

_ICS = (".ics", ".ical", ".ifb", ".icalendar")
_PEOPLE = (".csv", ".toml")
_MESSAGE = (".eml", ".msg.txt")
_MBOX = (".mbox", ".mbox.gz", ".mbx")
_GLOB_CHARS = frozenset("*?[")


@dataclass(frozen=True, slots=True)
class Input:
    kind: InputKind
    path: Path
    label: str


def label_for(path: Path, base_dir: Path) -> str:
    try:
        return path.relative_to(base_dir).as_posix()
    except ValueError:
        return path.as_posix()


def resolve(
    entries: list[str], base_dir: str, source: Literal["calendar", "mail", "people"]
) -> tuple[list[Input], list[str]]:
    """The inputs named by ``entries`` (sorted, deduplicated), and entries that matched nothing."""
    base = Path(base_dir).resolve()
    found: dict[str, Input] = {}
    missing: list[str] = []
    for entry in entries:
        raw = Path(os.path.expanduser(entry))
        full = raw if raw.is_absolute() else base / raw
        if _GLOB_CHARS & set(entry):
            matches = [Path(p) for p in sorted(glob.glob(str(full), recursive=True))]
        else:
            matches = [full] if full.exists() else []
        if not matches:
            missing.append(entry)
            continue
        for match in matches:
            for item in _inputs_at(match, base, source):
                found.setdefault(item.label, item)
    return [found[k] for k in sorted(found)], missing


def _inputs_at(path: Path, base: Path, source: str) -> list[Input]:
    if path.is_file():
        return [Input(_file_kind(path, source), path, label_for(path, base))]
    if not path.is_dir():
        return []
    if source == "mail":
        # A Takeout "Mail" folder holds .mbox files; a Maildir or an Outlook
        # export holds message files. A folder may hold both.
        mboxes = [
            Input("mbox", p, label_for(p, base))
            for p in sorted(path.rglob("*"))
            if p.is_file() and p.name.lower().endswith(_MBOX)
            and not {"cur", "new", "tmp"} & set(p.relative_to(path).parts[:-1])
        ]
        if mboxes and not message_files(path):
            return mboxes
        return [*mboxes, Input("folder", path, label_for(path, base))]
    suffixes = _ICS if source == "calendar" else _PEOPLE
    kind: InputKind = "ics" if source == "calendar" else "people"
    return [
        Input(kind, p, label_for(p, base))
        for p in sorted(path.rglob("*"))
        if p.is_file() and p.name.lower().endswith(suffixes) and not p.name.startswith(".")
    ]


def _file_kind(path: Path, source: str) -> InputKind:
    if source == "calendar":
        return "ics"
    if source == "people":
        return "people"
    return "message" if path.name.lower().endswith(_MESSAGE) else "mbox"


def message_files(folder: Path) -> list[Path]:
    """The message files of a Maildir (cur/new, nested folders too) or a folder of .eml files.

    Sorted by name without the Maildir flags suffix, so marking a message read
    (``:2,S``) or moving it from new/ to cur/ does not reorder anything.
    """
    files: list[Path] = []
    for path in folder.rglob("*"):
        if not path.is_file() or path.name.startswith("."):
            continue
        parent = path.parent.name
        maildir = parent in ("cur", "new")
        if maildir or (parent != "tmp" and path.name.lower().endswith(_MESSAGE)):
            files.append(path)
    return sorted(files, key=lambda p: (_stable_name(p, folder), str(p)))


def _stable_name(path: Path, folder: Path) -> str:
    rel = path.relative_to(folder)
    parts = list(rel.parts)
    if len(parts) >= 2 and parts[-2] in ("cur", "new"):
        parts[-2] = "~"
    parts[-1] = parts[-1].split(":2,")[0]
    return "/".join(parts)


def _hash(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:24]


def fingerprint(path: Path) -> dict[str, int | str]:
    """Size, mtime and edge hashes: equal fingerprints mean an unchanged file."""
    stat = path.stat()
    with open(path, "rb") as handle:
        head = handle.read(EDGE)
        if stat.st_size > EDGE:
            handle.seek(max(EDGE, stat.st_size - EDGE))
        tail = handle.read(EDGE) if stat.st_size > EDGE else b""
    return {"size": stat.st_size, "mtime_ns": stat.st_mtime_ns, "head": _hash(head),
            "tail": _hash(tail)}


def prefix_hash(path: Path, offset: int) -> str:
    """Hash of the 4 KiB before ``offset``: unchanged when data was only appended after it."""
    with open(path, "rb") as handle:
        handle.seek(max(0, offset - EDGE))
        return _hash(handle.read(min(offset, EDGE)))


def head_hash(path: Path, limit: int) -> str:
    """Hash of the first min(4 KiB, ``limit``) bytes: the start of what was already read."""
    with open(path, "rb") as handle:
        return _hash(handle.read(min(EDGE, limit)))


def folder_fingerprint(files: list[Path], folder: Path) -> str:
    """One digest of a message folder's listing (stable names, sizes, mtimes)."""
    digest = hashlib.sha256()
    for path in files:
        try:
            stat = path.stat()
        except OSError:
            continue
        line = f"{_stable_name(path, folder)}\0{stat.st_size}\0{stat.st_mtime_ns}\n"
        digest.update(line.encode())
    return digest.hexdigest()[:32]
