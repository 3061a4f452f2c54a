"""The `glob` and `grep` tools."""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import stat
from typing import Any, Callable

from file_tools import resolve
from identity import subprocess_identity
from output import OutputBuffer, Outcome, ToolInputError, error, optional_str, outcome, require_str, truncate_text

MAX_GLOB_RESULTS = 1000
_MAGIC = set("*?[{\\")


def _has_magic(segment: str) -> bool:
    return any(c in _MAGIC for c in segment)


def glob_to_regex(pattern: str) -> re.Pattern[str]:
    """Doublestar semantics: `**` as a whole segment spans any number of folders (even
    none); `*` and `?` stay inside one segment; `[...]` classes; `{a,b}` alternatives."""
    out: list[str] = []
    depth = 0
    i, n = 0, len(pattern)
    while i < n:
        c = pattern[i]
        if c == "*":
            if pattern.startswith("**", i):
                j = i + 2
                whole_segment = (i == 0 or pattern[i - 1] == "/") and (j == n or pattern[j] == "/")
                if whole_segment:
                    if j == n:
                        out.append(".*")
                    else:
                        out.append("(?:.*/)?")
                        j += 1
                    i = j
                    continue
                out.append("[^/]*")
                i = j
                continue
            out.append("[^/]*")
        elif c == "?":
            out.append("[^/]")
        elif c == "[":
            close = pattern.find("]", i + 2 if pattern[i + 1 : i + 2] in ("!", "^", "]") else i + 1)
            if close < 0:
                out.append(re.escape(c))
            else:
                body = pattern[i + 1 : close]
                negate = body[:1] in ("!", "^")
                if negate:
                    body = body[1:]
                body = body.replace("\\", "\\\\").replace("^", "\\^").replace("[", "\\[")
                out.append(f"[^/{body}]" if negate else f"(?!/)[{body}]")
                i = close + 1
                continue
        elif c == "{":
            out.append("(?:")
            depth += 1
        elif c == "," and depth:
            out.append("|")
        elif c == "}" and depth:
            out.append(")")
            depth -= 1
        elif c == "\\" and i + 1 < n:
            out.append(re.escape(pattern[i + 1]))
            i += 2
            continue
        else:
            out.append(re.escape(c))
        i += 1
    if depth:
        raise ToolInputError(f"`pattern` has an unclosed '{{': {pattern}")
    return re.compile("".join(out), re.DOTALL)


def _split_literal_prefix(pattern: str) -> tuple[str, str]:
    """`src/lib/**/*.ts` -> (`src/lib`, `**/*.ts`): the walk can start below the prefix."""
    segments = pattern.split("/")
    literal: list[str] = []
    for segment in segments[:-1]:
        if _has_magic(segment):
            break
        literal.append(segment)
    return "/".join(literal), "/".join(segments[len(literal) :])


def glob_tool(tool_input: dict[str, Any], *, workspace: str, output_limit: int, check: Callable[[], None]) -> Outcome:
    pattern = require_str(tool_input, "pattern", allow_empty=False)
    path = optional_str(tool_input, "path")
    absolute = pattern.startswith("/")
    if absolute:
        root = "/"
        pattern = pattern.lstrip("/")
    else:
        root = resolve(workspace, path or ".")
        while pattern.startswith("./"):
            pattern = pattern[2:]
    if not os.path.isdir(root):
        return error(f"Search path not found or not a directory: {path}")
    regex = glob_to_regex(pattern)
    prefix, rest = _split_literal_prefix(pattern)
    start = os.path.join(root, prefix) if prefix else root
    max_depth = None if ("**" in rest or "{" in rest) else rest.count("/") + 1

    matches: list[tuple[float, str]] = []
    for dirpath, dirnames, filenames in os.walk(start, onerror=lambda _: None):
        check()
        relative_dir = os.path.relpath(dirpath, start)
        depth = 0 if relative_dir == "." else relative_dir.count(os.sep) + 1
        if max_depth is not None and depth >= max_depth - 1:
            # Files here can still match; nothing in a deeper folder can.
            dirnames[:] = []
        for name in filenames:
            full = os.path.join(dirpath, name)
            relative = os.path.relpath(full, root)
            if not regex.fullmatch(relative):
                continue
            try:
                info = os.stat(full)
            except OSError:
                continue
            if stat.S_ISREG(info.st_mode):
                matches.append((info.st_mtime, full if absolute else relative))
    matches.sort(key=lambda m: (-m[0], m[1]))
    if not matches:
        where = "/" if absolute else (path or "the workspace")
        return outcome(f"No files match {tool_input['pattern']} under {where}")
    shown = [name for _, name in matches[:MAX_GLOB_RESULTS]]
    text = "\n".join(shown)
    if len(matches) > MAX_GLOB_RESULTS:
        text += f"\n[showing the {MAX_GLOB_RESULTS} newest of {len(matches)} matches; narrow the pattern]"
    return outcome(truncate_text(text, output_limit))


async def grep_tool(
    tool_input: dict[str, Any], *, workspace: str, output_limit: int, timeout_ms: int, cancelled: asyncio.Event
) -> Outcome:
    pattern = require_str(tool_input, "pattern", allow_empty=False)
    path = optional_str(tool_input, "path")
    if path is not None and not os.path.exists(resolve(workspace, path)):
        return error(f"Search path not found: {path}")
    rg = shutil.which("rg")
    if rg is None:
        raise RuntimeError("grep_tool needs rg; the executor runs python_grep in a thread otherwise")
    # Hidden files are searched (agents need .github/ and dotfiles), .gitignore is honoured.
    args = [
        rg,
        "--line-number",
        "--no-heading",
        "--with-filename",
        "--color=never",
        "--sort=path",
        "--hidden",
        "--glob=!.git",
        "--max-columns=1000",
        "--max-columns-preview",
        "--regexp",
        pattern,
    ]
    if path is not None:
        args += ["--", path]
    proc = await asyncio.create_subprocess_exec(
        *args,
        cwd=workspace,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        start_new_session=True,
        **subprocess_identity(),
    )
    stdout = OutputBuffer(output_limit)
    stderr = OutputBuffer(8192)

    async def pump(stream: asyncio.StreamReader | None, sink: OutputBuffer) -> None:
        assert stream is not None
        while chunk := await stream.read(65536):
            sink.write(chunk)

    finished_reading = asyncio.gather(pump(proc.stdout, stdout), pump(proc.stderr, stderr), proc.wait())
    cancel_wait = asyncio.ensure_future(cancelled.wait())
    try:
        done, _ = await asyncio.wait(
            {finished_reading, cancel_wait}, timeout=timeout_ms / 1000, return_when=asyncio.FIRST_COMPLETED
        )
    finally:
        cancel_wait.cancel()
    if finished_reading not in done:
        # rg does not fork: the one process is all there is to stop.
        proc.kill()
        await asyncio.gather(finished_reading, return_exceptions=True)
        if cancelled.is_set():
            return error("[interrupted: the search was cancelled]")
        return error(f"[timed out after {timeout_ms} ms: the search was killed]")
    code = proc.returncode
    if code == 1:
        return outcome(f"No matches for {pattern}")
    if code == 0:
        return outcome(stdout.text())
    problem = stderr.text().strip()
    if stdout.total:
        # Matches were found but some files could not be read.
        return outcome(f"{stdout.text()}\n[some files could not be searched: {problem}]")
    return error(problem or f"rg failed with exit code {code}")


def python_grep(tool_input: dict[str, Any], *, workspace: str, output_limit: int, check: Callable[[], None]) -> Outcome:
    """Used when the image has no ripgrep: the same `path:line:text` lines, sorted by path."""
    pattern = require_str(tool_input, "pattern", allow_empty=False)
    path = optional_str(tool_input, "path")
    if path is not None and not os.path.exists(resolve(workspace, path)):
        return error(f"Search path not found: {path}")
    try:
        regex = re.compile(pattern)
    except re.error as e:
        return error(f"Invalid regular expression: {e}")
    target = resolve(workspace, path) if path is not None else workspace
    files: list[str] = []
    if os.path.isfile(target):
        files.append(target)
    else:
        for dirpath, dirnames, filenames in os.walk(target, onerror=lambda _: None):
            check()
            dirnames[:] = sorted(d for d in dirnames if d != ".git")
            files.extend(os.path.join(dirpath, f) for f in sorted(filenames))
    files.sort()
    sink = OutputBuffer(output_limit)
    for full in files:
        check()
        shown = os.path.relpath(full, workspace) if not (path or "").startswith("/") else full
        try:
            with open(full, "rb") as f:
                data = f.read()
        except OSError:
            continue
        if b"\x00" in data[:8192]:
            continue
        for number, line in enumerate(data.decode("utf-8", errors="replace").splitlines(), start=1):
            if regex.search(line):
                sink.write(f"{shown}:{number}:{line[:1000]}\n".encode("utf-8"))
    if sink.total == 0:
        return outcome(f"No matches for {pattern}")
    return outcome(sink.text().removesuffix("\n"))
