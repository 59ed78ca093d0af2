"""Where the chatbot keeps what it can make again: compiled templates, the lexicon, the engine.

In `$CHATBOT_CACHE_DIR/<kind>`, else in the user's cache folder (`$XDG_CACHE_HOME`, else
`~/.cache`) under `botox-filler-chatbot/<kind>`. When the folder cannot be made or written,
nothing is kept and everything is made afresh, only more slowly.

`kept` is for objects made from data files: like Python's compiled modules, the saved bytes are
named by a digest of the files they were made from (and of Python's version), so a change to any
of them makes a new one; a file that cannot be loaded is made again and replaced.

Loading runs pickle, which can run code: a kept file is loaded only if it belongs to the user
running the chatbot and nobody else may write to it or its folder (folders made here are private).
"""
from __future__ import annotations

import hashlib
import os
import pickle
import sys
import tempfile
import time
from collections.abc import Callable, Iterable
from pathlib import Path


def folder(kind: str) -> str | None:
    base = os.environ.get("CHATBOT_CACHE_DIR") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache"),
        "botox-filler-chatbot")
    path = os.path.join(base, kind)
    try:
        os.makedirs(path, mode=0o700, exist_ok=True)
    except OSError:
        return None
    return path if os.access(path, os.W_OK) else None


def _trusted(path: Path) -> bool:
    """The file and its folder are the user's own, and writable by nobody else."""
    if not hasattr(os, "getuid"):   # pragma: no cover - Windows: the user's profile folder
        return True
    for item in (path, path.parent):
        status = item.stat()
        if status.st_uid != os.getuid() or status.st_mode & 0o022:
            return False
    return True


def key(sources: Iterable[Path], *versions: str) -> str:
    """A digest of the files' names and contents, the `versions` given, and Python's version."""
    digest = hashlib.sha256("|".join((sys.version, *versions)).encode())
    for path in sorted(sources):
        digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:24]


def kept(kind: str, name: str, make: Callable[[], object], dumps: Callable[[object], bytes] = pickle.dumps,
         loads: Callable[[bytes], object] = pickle.loads) -> tuple[object, bytes | None]:
    """The object kept as `kind`/`name`, loaded; else `make()`, then kept. Also its bytes (None when
    it cannot be saved)."""
    where = folder(kind)
    path = Path(where, f"{name}.pickle") if where else None
    if path is not None:
        try:
            if _trusted(path):
                data = path.read_bytes()
                return loads(data), data
        except Exception:   # absent, unreadable, or not what `loads` accepts: make it again
            pass
    made = make()
    try:
        data = dumps(made)
    except (pickle.PicklingError, TypeError, AttributeError, RecursionError):   # e.g. a class of one's own
        return made, None
    if path is not None:
        _save(path, data)
        _prune(path)
    return made, data


def _prune(kept: Path, days: int = 30) -> None:
    """Remove the folder's other saved files not made again for `days` (older versions')."""
    limit = time.time() - days * 86400
    for other in kept.parent.glob("*.pickle"):
        try:
            if other != kept and other.stat().st_mtime < limit:
                other.unlink()
        except OSError:
            pass


def _save(path: Path, data: bytes) -> None:
    """Write `data` to `path` whole or not at all (another process may be reading or writing it)."""
    temporary = None
    try:
        with tempfile.NamedTemporaryFile(dir=path.parent, prefix=".new-", delete=False) as out:
            temporary = out.name
            out.write(data)
        os.replace(temporary, path)
    except OSError:
        if temporary is not None:
            try:
                os.unlink(temporary)
            except OSError:
                pass
