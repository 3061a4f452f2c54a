"""The `read`, `write` and `edit` tools. They run in a worker thread."""

from __future__ import annotations

import os
import stat
from typing import Any, Callable

from output import Outcome, OutputBuffer, ToolInputError, error, optional_bool, outcome, require_str

_BINARY_SNIFF_BYTES = 8192


def resolve(workspace: str, file_path: str) -> str:
    """Relative paths are relative to the workspace, whatever the shell's cwd is."""
    return os.path.normpath(os.path.join(workspace, os.path.expanduser(file_path)))


def _looks_binary(sample: bytes) -> bool:
    return b"\x00" in sample


def _regular_file(path: str, shown: str) -> Outcome | None:
    """An `is_error` outcome unless `path` is an existing regular file."""
    try:
        info = os.stat(path)
    except FileNotFoundError:
        return error(f"File not found: {shown}")
    except NotADirectoryError:
        return error(f"File not found: {shown} (a parent is not a directory)")
    except PermissionError:
        return error(f"Permission denied: {shown}")
    if stat.S_ISDIR(info.st_mode):
        return error(f"{shown} is a directory, not a file; use glob or bash `ls` to list it")
    if not stat.S_ISREG(info.st_mode):
        return error(f"{shown} is not a regular file")
    return None


def _parse_view_range(tool_input: dict[str, Any]) -> tuple[int, int] | None:
    value = tool_input.get("view_range")
    if value is None:
        return None
    if (
        not isinstance(value, list)
        or len(value) != 2
        or not all(isinstance(n, int) and not isinstance(n, bool) for n in value)
    ):
        raise ToolInputError("`view_range` must be two integers: [start_line, end_line]")
    start, end = value
    if start < 1:
        raise ToolInputError("`view_range` start_line is 1-indexed and must be at least 1")
    if end > 0 and end < start:
        raise ToolInputError(f"`view_range` end_line {end} is before start_line {start}")
    return start, end


def read_tool(tool_input: dict[str, Any], *, workspace: str, output_limit: int, check: Callable[[], None]) -> Outcome:
    shown = require_str(tool_input, "file_path", allow_empty=False)
    view_range = _parse_view_range(tool_input)
    path = resolve(workspace, shown)
    problem = _regular_file(path, shown)
    if problem is not None:
        return problem
    start, end = view_range if view_range is not None else (1, 0)
    shown_lines = OutputBuffer(output_limit)
    count = 0
    try:
        with open(path, "rb") as f:
            if _looks_binary(f.read(_BINARY_SNIFF_BYTES)):
                size = os.fstat(f.fileno()).st_size
                return error(f"{shown} is a binary file ({size} bytes); use bash (e.g. `file`, `xxd`) to inspect it")
            f.seek(0)
            for raw in f:
                count += 1
                if count % 4096 == 0:
                    check()
                if count < start:
                    continue
                if end > 0 and count > end:
                    break
                text = raw.rstrip(b"\n").decode("utf-8", errors="replace")
                shown_lines.write(f"{count:6d}\t{text}\n".encode("utf-8"))
    except PermissionError:
        return error(f"Permission denied: {shown}")
    if count == 0:
        return outcome(f"(empty file: {shown})")
    if shown_lines.total == 0:
        return error(f"view_range starts at line {start} but {shown} has only {count} lines")
    return outcome(shown_lines.text().removesuffix("\n"))


def write_tool(tool_input: dict[str, Any], *, workspace: str) -> Outcome:
    shown = require_str(tool_input, "file_path", allow_empty=False)
    content = tool_input.get("content")
    if not isinstance(content, str):
        raise ToolInputError("`content` is required and must be a string")
    path = resolve(workspace, shown)
    if os.path.isdir(path):
        return error(f"{shown} is a directory; cannot write a file there")
    if os.path.lexists(path) and not os.path.isfile(path) and not os.path.islink(path):
        return error(f"{shown} exists and is not a regular file")
    data = content.encode("utf-8", errors="replace")
    existed = os.path.exists(path)
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as f:
            f.write(data)
    except NotADirectoryError:
        return error(f"Cannot write {shown}: a parent is not a directory")
    except PermissionError:
        return error(f"Permission denied: {shown}")
    verb = "Overwrote" if existed else "Created"
    return outcome(f"{verb} {shown} ({len(data)} bytes)")


def edit_tool(tool_input: dict[str, Any], *, workspace: str) -> Outcome:
    shown = require_str(tool_input, "file_path", allow_empty=False)
    old = require_str(tool_input, "old_string")
    new = require_str(tool_input, "new_string")
    replace_all = optional_bool(tool_input, "replace_all")
    if old == "":
        return error("`old_string` must not be empty; use write to create or overwrite a file")
    if old == new:
        return error("`old_string` and `new_string` are identical; nothing to change")
    path = resolve(workspace, shown)
    problem = _regular_file(path, shown)
    if problem is not None:
        return problem
    try:
        with open(path, "rb") as f:
            raw = f.read()
    except PermissionError:
        return error(f"Permission denied: {shown}")
    if _looks_binary(raw[:_BINARY_SNIFF_BYTES]):
        return error(f"{shown} is a binary file; edit only changes text files")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return error(f"{shown} is not valid UTF-8 text; edit only changes UTF-8 text files")
    occurrences = text.count(old)
    if occurrences == 0:
        return error(f"`old_string` was not found in {shown}; nothing was changed")
    if occurrences > 1 and not replace_all:
        return error(
            f"`old_string` occurs {occurrences} times in {shown}; nothing was changed. "
            "Include more surrounding context to make it unique, or set `replace_all` to replace every occurrence."
        )
    updated = text.replace(old, new) if replace_all else text.replace(old, new, 1)
    try:
        # Rewriting in place keeps the file's inode, mode, owner and hard links.
        with open(path, "wb") as f:
            f.write(updated.encode("utf-8"))
    except PermissionError:
        return error(f"Permission denied: {shown}")
    noun = "occurrence" if occurrences == 1 else "occurrences"
    return outcome(f"Replaced {occurrences if replace_all else 1} {noun} in {shown}")
