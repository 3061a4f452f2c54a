"""Memory stores mounted at /mnt/memory/<slug>: what the worker's sync reads and writes.

The executor sees every store's folder, writable, under its memory root (a folder only
root can enter); the agent sees each at /mnt/memory/<slug>, read-only for a read-only
store. The worker compares both sides with what was last synced:

  memory_scan   the regular files that differ from a manifest {slug: {path: sha256}}
  memory_apply  writes and deletes, each only if the file still has the expected sha256

The agent can put anything in a read-write store's folder: links, FIFOs, huge or binary
files, odd names, deep trees, and swap them while we look. So nothing here follows a
link: every path is walked a component at a time through directory descriptors opened
with O_NOFOLLOW, files are opened non-blocking and checked with fstat before a read, and
every read is capped. What cannot be a memory is reported, never guessed at.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import re
import stat
import time
import unicodedata
import uuid
from typing import Any

MAX_MEMORY_BYTES = 102_400
MAX_SEGMENTS = 20
MAX_PATH_BYTES = 1024
# A scan visits at most this many entries, all stores together; past it a store is not
# judged for deletions (what was not seen is not gone).
MAX_ENTRIES = 50_000
# Changed and deleted entries in one scan reply, as JSON bytes; past it `truncated` is set
# and the worker, having synced these, scans again.
MAX_REPLY_CONTENT_BYTES = 4 * 1024 * 1024
# Rejected entries in one reply, as JSON bytes. They come back on every scan until the
# agent fixes them, so past this they are dropped: truncating would make the worker scan
# again and find them all again.
MAX_REPLY_REJECTED_BYTES = 256 * 1024
# A file changed within this long before its stamp was taken may change again without its
# stamp changing (file times advance a clock tick at a time): it is hashed again on the
# next scan rather than trusted from the cache.
RACY_STAMP_NS = 50_000_000
SLUG = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$")
TEMP_PREFIX = ".longhaul-sync-"

_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_FILE_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC


class Mismatch(Exception):
    """A path is not what a write expects (a link, a folder, or other content)."""


class ScanReply:
    """One `memory_scan` reply being filled, and what it may still take, all stores together.

    Sizes are counted as the JSON the reply becomes, not as file bytes: a memory of control
    characters is valid UTF-8 and escapes to six times its size, and the worker drops any
    reply line over 16 MiB (which it must read as a lost sandbox).
    """

    def __init__(self, *, reply_bytes: int = MAX_REPLY_CONTENT_BYTES, rejected_bytes: int = MAX_REPLY_REJECTED_BYTES, entries: int = MAX_ENTRIES) -> None:
        self.changed: list[dict[str, str]] = []
        self.deleted: list[dict[str, str]] = []
        self.rejected: list[dict[str, str]] = []
        self.truncated = False
        self.entries_left = entries
        self._reply_left = reply_bytes
        self._rejected_left = rejected_bytes

    def add(self, into: list[dict[str, str]], entry: dict[str, str]) -> bool:
        """Adds a changed or deleted entry if it fits; otherwise the reply is truncated."""
        size = _json_bytes(entry)
        if self.truncated or size > self._reply_left:
            self.truncated = True
            return False
        self._reply_left -= size
        into.append(entry)
        return True

    def reject(self, slug: str, path: str, reason: str) -> None:
        entry = {"store": slug, "path": path, "reason": reason}
        size = _json_bytes(entry)
        if size <= self._rejected_left:
            self._rejected_left -= size
            self.rejected.append(entry)

    def as_json(self) -> dict[str, Any]:
        return {"changed": self.changed, "deleted": self.deleted, "rejected": self.rejected, "truncated": self.truncated}


class MemorySync:
    """Scans and applies per store, on a store folder's descriptor: the executor opens each
    one as root (only root can enter the memory root) and hands it to a thread acting as the
    folder's owner, so a read-write store is read and written with the agent's own rights
    and never with root's (see identity.py)."""

    def __init__(self, root: str, *, reply_content_bytes: int = MAX_REPLY_CONTENT_BYTES) -> None:
        self.root = root
        self.reply_content_bytes = reply_content_bytes
        # (slug, path) -> (inode, size, mtime_ns, ctime_ns, sha256): unchanged files are not read again.
        self.hashes: dict[tuple[str, str], tuple[int, int, int, int, str]] = {}

    def open_stores(self) -> list[tuple[str, int, int]]:
        """(slug, descriptor, owner uid) of each store folder; the caller closes the descriptors."""
        if not self.root:
            return []
        try:
            root_fd = os.open(self.root, _DIR_FLAGS)
        except OSError:
            return []
        stores = []
        try:
            for slug in sorted(os.listdir(root_fd)):
                if not SLUG.match(slug):
                    continue
                try:
                    fd = os.open(slug, _DIR_FLAGS, dir_fd=root_fd)
                except OSError:
                    continue
                stores.append((slug, fd, os.fstat(fd).st_uid))
        finally:
            os.close(root_fd)
        return stores

    # ── scan ────────────────────────────────────────────────────────────────

    def scan_store(self, store_fd: int, slug: str, known: dict[str, str], reply: ScanReply) -> None:
        """Adds the store's differences from `known` to `reply` (see `memory_scan`)."""
        present: set[str] = set()
        # Folders (and entries) that exist but could not be looked into: the agent can take
        # the read or search bit off its own folders. What is under them is not gone.
        hidden: set[str] = set()
        if not self._walk(store_fd, slug, [], known, present, hidden, reply):
            return
        for path in sorted(known):
            if path in present or _under(path, hidden):
                continue
            if not reply.add(reply.deleted, {"store": slug, "path": path}):
                return
            self.hashes.pop((slug, path), None)

    def _walk(
        self,
        dir_fd: int,
        slug: str,
        parents: list[str],
        known: dict[str, str],
        present: set[str],
        hidden: set[str],
        reply: ScanReply,
    ) -> bool:
        """Scans one folder; False when the entry cap cut the walk short."""
        here = "/" + "/".join(parents) if parents else ""
        try:
            names = sorted(os.listdir(dir_fd))
        except OSError:
            hidden.add(here)
            return True
        for name in names:
            reply.entries_left -= 1
            if reply.entries_left < 0:
                return False
            if name.startswith(TEMP_PREFIX):
                continue
            segments = [*parents, name]
            path = "/" + "/".join(segments)
            shown = _shown(path)
            try:
                info = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
            except FileNotFoundError:
                continue
            except OSError:
                hidden.add(path)
                continue
            if shown != path:
                # Not valid UTF-8: it cannot be named in a memory path.
                reply.reject(slug, shown, "bad_path")
                continue
            if stat.S_ISDIR(info.st_mode):
                if len(segments) >= MAX_SEGMENTS:
                    reply.reject(slug, path, "bad_path")
                    continue
                try:
                    child = os.open(name, _DIR_FLAGS, dir_fd=dir_fd)
                except (FileNotFoundError, NotADirectoryError):
                    continue
                except OSError as e:
                    # Swapped for a link (ELOOP) it is no folder any more; otherwise (EACCES)
                    # it is one we cannot see into.
                    if e.errno != errno.ELOOP:
                        hidden.add(path)
                    continue
                try:
                    if not self._walk(child, slug, segments, known, present, hidden, reply):
                        return False
                finally:
                    os.close(child)
                continue
            if not stat.S_ISREG(info.st_mode):
                reply.reject(slug, path, "not_regular")
                continue
            present.add(path)
            self._scan_file(dir_fd, name, slug, path, info, known.get(path), reply)
        return True

    def _scan_file(self, dir_fd: int, name: str, slug: str, path: str, info: os.stat_result, synced: str | None, reply: ScanReply) -> None:
        if len(path.encode("utf-8")) > MAX_PATH_BYTES or not unicodedata.is_normalized("NFC", path):
            reply.reject(slug, path, "bad_path")
            return
        key = (slug, path)
        stamp = (info.st_ino, info.st_size, info.st_mtime_ns, info.st_ctime_ns)
        cached = self.hashes.get(key)
        if cached is not None and cached[:4] == stamp and cached[4] == synced:
            return
        if info.st_size > MAX_MEMORY_BYTES:
            reply.reject(slug, path, "too_large")
            return
        if reply.truncated:
            # The reply is full: reading more files would only be thrown away.
            return
        try:
            data, info = _read_capped(dir_fd, name)
        except (OSError, Mismatch):
            return
        if len(data) > MAX_MEMORY_BYTES:
            reply.reject(slug, path, "too_large")
            return
        try:
            content = data.decode("utf-8")
        except UnicodeDecodeError:
            reply.reject(slug, path, "not_utf8")
            return
        sha = hashlib.sha256(data).hexdigest()
        if time.time_ns() - info.st_ctime_ns >= RACY_STAMP_NS:
            self.hashes[key] = (info.st_ino, info.st_size, info.st_mtime_ns, info.st_ctime_ns, sha)
        else:
            self.hashes.pop(key, None)
        if sha == synced:
            return
        reply.add(reply.changed, {"store": slug, "path": path, "sha256": sha, "content": content})

    # ── apply ───────────────────────────────────────────────────────────────

    def apply_store(self, store_fd: int, writes: list[dict[str, Any]], deletes: list[dict[str, Any]]) -> list[dict[str, str]]:
        """Applies one store's changes; returns those left alone (see `memory_apply`)."""
        skipped = []
        for change, act in [*((w, self._write) for w in writes), *((d, self._delete) for d in deletes)]:
            segments = _segments(change["path"])
            try:
                done = segments is not None and act(store_fd, segments, change)
            except (OSError, Mismatch):
                done = False
            if not done:
                skipped.append({"store": change["store"], "path": change["path"]})
        return skipped

    def _write(self, store_fd: int, segments: list[str], write: dict[str, Any]) -> bool:
        data = write["content"].encode("utf-8")
        sha = hashlib.sha256(data).hexdigest()
        parent = _open_parents(store_fd, segments[:-1])
        name = segments[-1]
        try:
            current = _current_sha(parent, name)
            if current == sha:
                # Already there: a retried apply, or the agent wrote the same.
                return True
            if current != write["expect_sha256"]:
                return False
            temp = f"{TEMP_PREFIX}{uuid.uuid4().hex}"
            fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644, dir_fd=parent)
            try:
                try:
                    _write_all(fd, data)
                    os.fchmod(fd, 0o644)
                finally:
                    os.close(fd)
                os.replace(temp, name, src_dir_fd=parent, dst_dir_fd=parent)
            except BaseException:
                # A full disk or a folder in the way: no half-written temp file stays behind.
                try:
                    os.unlink(temp, dir_fd=parent)
                except OSError:
                    pass
                raise
            # The file's stamp is a few microseconds old, so the cache would not trust it
            # anyway: the next scan hashes it once (the worker's manifest says it is synced).
            self.hashes.pop((write["store"], write["path"]), None)
            return True
        finally:
            os.close(parent)

    def _delete(self, store_fd: int, segments: list[str], delete: dict[str, Any]) -> bool:
        chain = [os.dup(store_fd)]
        try:
            for segment in segments[:-1]:
                chain.append(os.open(segment, _DIR_FLAGS, dir_fd=chain[-1]))
            parent, name = chain[-1], segments[-1]
            current = _current_sha(parent, name)
            if current is None:
                return True
            if current != delete["expect_sha256"]:
                return False
            os.unlink(name, dir_fd=parent)
            self.hashes.pop((delete["store"], delete["path"]), None)
            # Folders the delete left empty go too (up to the store's own folder).
            for depth in range(len(chain) - 1, 0, -1):
                try:
                    os.rmdir(segments[depth - 1], dir_fd=chain[depth - 1])
                except OSError:
                    break
            return True
        except FileNotFoundError:
            return True
        finally:
            for fd in chain:
                os.close(fd)


def _segments(path: Any) -> list[str] | None:
    if not isinstance(path, str) or not path.startswith("/"):
        return None
    segments = path[1:].split("/")
    if not 1 <= len(segments) <= MAX_SEGMENTS or any(s in ("", ".", "..") or "\0" in s for s in segments):
        return None
    return segments


def _under(path: str, hidden: set[str]) -> bool:
    """Whether `path`, or a folder above it, is one the walk could not look into."""
    if not hidden:
        return False
    prefix = path
    while True:
        if prefix in hidden:
            return True
        if not prefix:
            return False
        prefix = prefix.rpartition("/")[0]


def _json_bytes(entry: dict[str, str]) -> int:
    return len(json.dumps(entry, ensure_ascii=False).encode("utf-8"))


def _shown(path: str) -> str:
    """The path as UTF-8 text, names that are not valid UTF-8 with replacement characters."""
    return path.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def _open_parents(store_fd: int, segments: list[str]) -> int:
    """The folder holding a file, made as needed (owned by whoever the thread acts as); never through a link."""
    fd = os.dup(store_fd)
    for segment in segments:
        try:
            child = os.open(segment, _DIR_FLAGS, dir_fd=fd)
        except FileNotFoundError:
            try:
                os.mkdir(segment, 0o755, dir_fd=fd)
                child = os.open(segment, _DIR_FLAGS, dir_fd=fd)
            except OSError:
                os.close(fd)
                raise
        except OSError:
            os.close(fd)
            raise
        os.close(fd)
        fd = child
    return fd


def _read_capped(dir_fd: int, name: str) -> tuple[bytes, os.stat_result]:
    fd = os.open(name, _FILE_FLAGS, dir_fd=dir_fd)
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise Mismatch(name)
        chunks = []
        left = MAX_MEMORY_BYTES + 1
        while left > 0:
            chunk = os.read(fd, min(left, 65536))
            if not chunk:
                break
            chunks.append(chunk)
            left -= len(chunk)
        return b"".join(chunks), info
    finally:
        os.close(fd)


def _current_sha(dir_fd: int, name: str) -> str | None:
    """The sha256 of the regular file there, None when nothing is there; Mismatch for anything else."""
    try:
        data, _ = _read_capped(dir_fd, name)
    except FileNotFoundError:
        return None
    except OSError as e:
        raise Mismatch(name) from e
    if len(data) > MAX_MEMORY_BYTES:
        raise Mismatch(name)
    return hashlib.sha256(data).hexdigest()


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]
