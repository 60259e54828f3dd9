"""Output directories written whole or not at all (`agentnet report --out`, `agentnet show --out`).

`staged(out_dir)` checks the target first — an existing file, a path under a file, a special
filesystem (/proc, /sys, /dev …) or a directory that cannot be written is one `ConfigError` line
before anything is written — then hands out a temporary directory beside it. Everything is
written there; only when the whole output is complete does it move into place (a rename when
`out_dir` is new; file by file into an existing directory, every clash checked before the first
move). A failure on the way (disk full, a bad run) leaves `out_dir` as it was and no temporary
directory behind.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from agentnet.errors import ConfigError

# kernel and pseudo filesystems: writing a report there is never what was meant
SPECIAL_FILESYSTEMS = frozenset(
    {
        "proc",
        "sysfs",
        "devtmpfs",
        "devpts",
        "cgroup",
        "cgroup2",
        "debugfs",
        "tracefs",
        "securityfs",
        "pstore",
        "bpf",
        "configfs",
        "fusectl",
        "mqueue",
        "hugetlbfs",
        "binfmt_misc",
        "autofs",
        "efivarfs",
        "rpc_pipefs",
        "nsfs",
    }
)


def _existing_ancestor(path: Path) -> Path:
    here = path.absolute()
    while not here.exists() and here != here.parent:
        here = here.parent
    return here


def filesystem_type(path: Path) -> str | None:
    """The type of the filesystem `path` (an existing path) is on, from /proc/self/mountinfo; None if unknown."""
    try:
        lines = Path("/proc/self/mountinfo").read_text().splitlines()
    except OSError:
        return None
    real, best, kind = os.path.realpath(path), "", None
    for line in lines:
        fields = line.split(" - ")
        if len(fields) != 2:
            continue
        mount = fields[0].split()[4].replace("\\040", " ")
        inside = real == mount or real.startswith(mount.rstrip("/") + "/")
        if inside and len(mount) >= len(best):
            best, kind = mount, fields[1].split()[0]
    return kind


def check_target(out_dir: Path, flag: str = "--out") -> Path:
    """Refuse an output directory that cannot be one; returns its nearest existing ancestor."""
    if out_dir.exists() and not out_dir.is_dir():
        raise ConfigError(f"{flag} {out_dir} is a file, not a directory; give a directory (it is created if missing)")
    return _check_place(out_dir, out_dir, flag)


def _check_place(named: Path, place: Path, flag: str) -> Path:
    """`place` (a directory to be) can hold output: no file in its way, on a disk, writable. Errors name `named`."""
    where = f"{flag} {named}"
    anchor = _existing_ancestor(place)
    if not anchor.is_dir():
        raise ConfigError(f"{where}: {anchor} is a file, so no directory can be made under it; give another path")
    kind = filesystem_type(anchor)
    if kind in SPECIAL_FILESYSTEMS:
        raise ConfigError(f"{where} is on the {kind} filesystem, which holds no output; give a place on a disk")
    if not os.access(anchor, os.W_OK | os.X_OK):
        raise ConfigError(f"{where}: {anchor} is not writable; give a writable directory")
    return anchor


@contextmanager
def staged(out_dir: Path, flag: str = "--out") -> Iterator[Path]:
    """A temporary directory to write `out_dir`'s contents into; they move into place when the block ends
    without an error. OSErrors on the way are one `ConfigError` line."""
    out_dir = Path(out_dir)
    anchor = check_target(out_dir, flag)
    try:
        tmp = Path(tempfile.mkdtemp(prefix=f".{out_dir.name or 'out'}.partial-", dir=anchor))
    except OSError as e:
        raise ConfigError(
            f"{flag} {out_dir}: cannot write under {anchor} ({e.strerror}); give a writable directory"
        ) from None
    try:
        yield tmp
        publish(tmp, out_dir, flag)
    except OSError as e:
        raise ConfigError(
            f"{flag} {out_dir}: writing failed ({e.strerror or e}); nothing was written there; "
            "free space or give another directory"
        ) from None
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def publish(tmp: Path, out_dir: Path, flag: str = "--out") -> None:
    """Move `tmp`'s tree into `out_dir`: a rename when `out_dir` is new, else file by file."""
    if not out_dir.exists():
        out_dir.parent.mkdir(parents=True, exist_ok=True)
        os.rename(tmp, out_dir)
        return
    files = sorted(p for p in tmp.rglob("*") if not p.is_dir())
    for f in files:  # every clash found before anything moves
        target = out_dir / f.relative_to(tmp)
        if target.is_dir():
            raise ConfigError(
                f"{flag} {out_dir}: {target} is a directory where a file goes; remove it or give another --out"
            )
        for parent in target.relative_to(out_dir).parents:
            if (out_dir / parent).exists() and not (out_dir / parent).is_dir():
                raise ConfigError(
                    f"{flag} {out_dir}: {out_dir / parent} is a file where a directory goes; "
                    "remove it or give another --out"
                )
    for f in files:
        target = out_dir / f.relative_to(tmp)
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(f, target)


def moved(path: Path, tmp: Path, out_dir: Path) -> Path:
    """Where `path`, written under `tmp`, is once published into `out_dir`."""
    return Path(out_dir) / Path(path).relative_to(tmp)


def check_file_target(path: Path, flag: str = "--out") -> Path:
    """Refuse an output file that cannot be one (a directory, a path under a file, a special
    filesystem, an unwritable directory); returns its nearest existing ancestor."""
    path = Path(path)
    if path.is_dir():
        raise ConfigError(f"{flag} {path} is a directory; give a file name (e.g. {path / 'topology.png'})")
    return _check_place(path, path.parent, flag)


@contextmanager
def staged_file(path: Path, flag: str = "--out") -> Iterator[Path]:
    """A temporary file beside `path` (same suffix) to write; renamed onto `path` when the block ends
    without an error, removed otherwise. OSErrors on the way are one `ConfigError` line."""
    path = Path(path)
    anchor = check_file_target(path, flag)
    try:
        fd, name = tempfile.mkstemp(prefix=f".{path.stem}.partial-", suffix=path.suffix, dir=anchor)
        os.close(fd)
    except OSError as e:
        raise ConfigError(f"{flag} {path}: cannot write under {anchor} ({e.strerror}); give a writable place") from None
    tmp = Path(name)
    try:
        yield tmp
        path.parent.mkdir(parents=True, exist_ok=True)
        os.replace(tmp, path)
    except OSError as e:
        raise ConfigError(f"{flag} {path}: writing failed ({e.strerror or e}); nothing was written there") from None
    finally:
        tmp.unlink(missing_ok=True)
