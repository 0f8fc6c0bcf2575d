"""Output folders: checked before any work, filled out of sight, locked while in use.

- `output_folder(path)` says before a run or sweep starts whether `path` can be its output
  folder (a folder, or one that can be made, that this user can write into), so a bad
  `--out` is one message instead of an `OSError` after minutes of simulation.
- `staged(path)` gives a run a hidden sibling folder to write into and renames it over
  `path` only when every file is in it: a run that fails leaves no half-written folder.
- `locked(path)` holds an exclusive lock on a sweep's or comparison's folder while it runs,
  so a second command with the same `--out` says who holds it instead of computing every
  run twice.
- `file_mode()`: files and folders get the permissions the umask allows, as `open` would
  give them (the temporary-file path alone would leave them private to their owner).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from protocols.errors import ConfigError

#: what a folder must hold to be a run's earlier outputs, which a new run may replace
RUN_MARKER = "summary.json"
LOCK_NAME = ".lock"


def file_mode(folder: bool = False) -> int:
    """0o666 (files) or 0o777 (folders) less this process's umask."""
    mask = os.umask(0)
    os.umask(mask)
    return (0o777 if folder else 0o666) & ~mask


def output_folder(path: str | Path, option: str = "--out") -> Path:
    """`path` as a folder this user can write into (made if missing), or a `ConfigError`
    naming `option` and what is wrong with it."""
    path = _not_a_file(path, option)
    try:
        path.mkdir(parents=True, exist_ok=True)
    except PermissionError:
        raise ConfigError(f"{option} {path}: cannot make this folder (permission denied)") \
            from None
    except OSError as exc:
        raise ConfigError(f"{option} {path}: cannot make this folder ({exc.strerror})") \
            from None
    if not os.access(path, os.W_OK | os.X_OK):
        raise ConfigError(f"{option} {path}: cannot write into this folder (permission denied)")
    return path


def replaceable_run_folder(path: str | Path, option: str = "--out") -> Path:
    """`path` if a run may write its outputs there: missing, empty, or an earlier run's
    outputs (which it replaces); any other folder is someone's files, and is refused."""
    path = _not_a_file(path, option)
    if path.is_dir() and any(path.iterdir()) and not (path / RUN_MARKER).exists():
        raise ConfigError(f"{option} {path}: holds other files (not a run's outputs), which a "
                          "run would replace; choose a new or empty folder")
    output_folder(path.parent if path.parent != path else path, option)
    return path


def _not_a_file(path: str | Path, option: str) -> Path:
    """`path`, unless it or a folder above it is a file (or a device such as /dev/null)."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise ConfigError(f"{option} {path}: is a file, not a folder; choose a folder")
    blocker = next((p for p in path.parents if p.exists() and not p.is_dir()), None)
    if blocker is not None:
        raise ConfigError(f"{option} {path}: {blocker} is a file, so no folder can be made "
                          "under it")
    return path


@contextmanager
def staged(path: str | Path) -> Iterator[Path]:
    """A hidden folder beside `path` to write into; on success it replaces `path` (an
    earlier run's outputs are removed), on any failure it is removed and `path` is left as
    it was."""
    path = Path(path)
    stage = Path(tempfile.mkdtemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp"))
    try:
        stage.chmod(file_mode(folder=True))
        yield stage
        old = None
        if path.exists():
            old = Path(tempfile.mkdtemp(dir=path.parent, prefix=f".{path.name}.", suffix=".old"))
            os.replace(path, old / path.name)
        os.replace(stage, path)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(stage, ignore_errors=True)
        raise


@contextmanager
def locked(path: str | Path, option: str = "--out") -> Iterator[None]:
    """Hold an exclusive lock on folder `path` (a `.lock` file naming the holder's pid);
    a second holder gets a `ConfigError` naming the first. Released on exit, also when the
    process dies (the operating system drops the lock)."""
    try:
        import fcntl
    except ImportError:  # not POSIX: no lock, as before
        yield
        return
    lock = Path(path) / LOCK_NAME
    handle = open(lock, "a+")  # noqa: SIM115 - held open for the lock's lifetime
    try:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "another process"
            raise ConfigError(f"{option} {path}: {holder} is writing into this folder; wait "
                              "for it to finish, or choose another --out") from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"daosim (pid {os.getpid()})")
        handle.flush()
        yield
    finally:
        handle.close()
