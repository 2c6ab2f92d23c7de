"""Tests of progress lines: shown on a terminal, quiet otherwise."""

from __future__ import annotations

import io

from packer.progress import Progress


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_terminal_gets_progress_with_gap():
    """Tests that on a terminal an update prints elapsed, best, bound and gap."""
    out = _Tty()
    p = Progress("cpsat", stream=out)
    p.update(best=90.0, bound=100.0, force=True)
    line = out.getvalue()
    assert "cpsat" in line and "best 90.0000" in line and "bound 100.0000" in line and "gap 10.00%" in line


def test_quiet_when_not_a_terminal_or_disabled():
    """Tests that nothing is printed to a pipe, or with enabled=False (--quiet)."""
    pipe = io.StringIO()
    Progress("x", stream=pipe).update(best=1.0, force=True)
    tty = _Tty()
    Progress("x", stream=tty, enabled=False).update(best=1.0, force=True)
    assert pipe.getvalue() == "" and tty.getvalue() == ""


def test_updates_are_throttled():
    """Tests that rapid updates print at most one line per interval."""
    out = _Tty()
    p = Progress("x", stream=out, interval_s=60)
    for i in range(100):
        p.update(best=float(i))
    assert p.lines == 1
