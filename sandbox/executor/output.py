"""Tool outcomes and output limits shared by every tool of the executor."""

from __future__ import annotations

from typing import Any

Outcome = dict[str, Any]

# A text block must never be empty: the Messages API rejects empty text content.
_EMPTY_PLACEHOLDER = "(no output)"


def outcome(text: str, is_error: bool = False) -> Outcome:
    """The wire shape of a tool result: `{content: [{type: 'text', text}], is_error}`."""
    return {"content": [{"type": "text", "text": text or _EMPTY_PLACEHOLDER}], "is_error": is_error}


def error(text: str) -> Outcome:
    return outcome(text, is_error=True)


class ToolInputError(Exception):
    """The model sent input the tool cannot use; becomes an `is_error` result naming the field."""


class Interrupted(Exception):
    """A cooperative tool noticed that its call was cancelled or timed out."""


def truncation_marker(dropped: int) -> str:
    return f"\n[… {dropped} bytes truncated …]\n"


class OutputBuffer:
    """Keeps the first and last `limit / 2` bytes of a stream of unknown length.

    Memory stays bounded however much a command prints; `text()` joins head and tail
    around a marker saying how much was dropped.
    """

    def __init__(self, limit: int) -> None:
        self.limit = max(limit, 2)
        self.head_limit = self.limit // 2
        self.tail_limit = self.limit - self.head_limit
        self.head = bytearray()
        self.tail = bytearray()
        self.total = 0

    def write(self, data: bytes) -> None:
        self.total += len(data)
        room = self.head_limit - len(self.head)
        if room > 0:
            self.head += data[:room]
            data = data[room:]
        if data:
            self.tail += data
            if len(self.tail) > self.tail_limit:
                del self.tail[: len(self.tail) - self.tail_limit]

    def text(self) -> str:
        kept = len(self.head) + len(self.tail)
        if self.total <= self.limit:
            return bytes(self.head + self.tail).decode("utf-8", errors="replace")
        head = bytes(self.head).decode("utf-8", errors="replace")
        tail = bytes(self.tail).decode("utf-8", errors="replace")
        return head + truncation_marker(self.total - kept) + tail


def truncate_text(text: str, limit: int) -> str:
    """Applies the head-and-tail limit to an already complete text."""
    data = text.encode("utf-8", errors="replace")
    if len(data) <= limit:
        return text
    buffer = OutputBuffer(limit)
    buffer.write(data)
    return buffer.text()


def require_str(tool_input: dict[str, Any], field: str, *, allow_empty: bool = True) -> str:
    value = tool_input.get(field)
    if not isinstance(value, str):
        raise ToolInputError(f"`{field}` is required and must be a string")
    if not allow_empty and value == "":
        raise ToolInputError(f"`{field}` must not be empty")
    if "\x00" in value:
        raise ToolInputError(f"`{field}` must not contain NUL characters")
    return value


def optional_str(tool_input: dict[str, Any], field: str) -> str | None:
    value = tool_input.get(field)
    if value is None:
        return None
    if not isinstance(value, str):
        raise ToolInputError(f"`{field}` must be a string")
    if "\x00" in value:
        raise ToolInputError(f"`{field}` must not contain NUL characters")
    return value


def optional_bool(tool_input: dict[str, Any], field: str) -> bool:
    value = tool_input.get(field)
    if value is None:
        return False
    if not isinstance(value, bool):
        raise ToolInputError(f"`{field}` must be a boolean")
    return value
