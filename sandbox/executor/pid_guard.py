"""Keeps a fork bomb from holding the sandbox (and a share of the host's CPU) at its pid cap.

A bomb started in the background (`:(){ :|:& };:` returns at once) outlives its call,
and nothing would stop it until the next call timed out. The guard watches the
container's pids cgroup; when the agent's processes fill most of the cap, it kills every
one of them (identity.kill_sandbox_processes) and counts the event, so the call that was
running can say why its shell went away.
"""

from __future__ import annotations

import asyncio
import sys

from identity import kill_sandbox_processes

# cgroup v2 (the container's own cgroup namespace), then v1.
_PIDS_FILES = (
    ("/sys/fs/cgroup/pids.current", "/sys/fs/cgroup/pids.max"),
    ("/sys/fs/cgroup/pids/pids.current", "/sys/fs/cgroup/pids/pids.max"),
)
# Near the cap: legitimate work (a parallel build) stays far below 90% of it.
_FULL_FRACTION = 0.9


def _read_int(path: str) -> int | None:
    try:
        with open(path, encoding="ascii") as f:
            value = f.read().strip()
    except OSError:
        return None
    return int(value) if value.isdigit() else None


class PidGuard:
    def __init__(self, *, interval_s: float = 0.25) -> None:
        self.interval_s = interval_s
        self.kills = 0
        self.limit: int | None = None
        self._files = next(((cur, mx) for cur, mx in _PIDS_FILES if _read_int(cur) is not None), None)
        if self._files is not None:
            self.limit = _read_int(self._files[1])

    def check(self) -> bool:
        """Kills everything when the cap is nearly full; True when it did."""
        if self._files is None or self.limit is None:
            return False
        current = _read_int(self._files[0])
        if current is None or current < self.limit * _FULL_FRACTION:
            return False
        left = kill_sandbox_processes()
        self.kills += 1
        print(f"longhaul-executor: {current} of {self.limit} pids in use; killed every sandbox process ({left} left)", file=sys.stderr)
        return True

    async def run(self) -> None:
        if self._files is None or self.limit is None:
            return
        while True:
            await asyncio.sleep(self.interval_s)
            self.check()

    def note(self) -> str:
        return f"[the sandbox reached its limit of {self.limit} processes: every process in it was killed]"
