"""How a command's failure becomes an exit code, the same way for every command.

A `DaosimError` is a refused input or plan: its one-line message is all the user needs, so
no traceback (exit 2). Ctrl-C is the user's own doing: say in one line what survived the
interruption and how to carry on (exit 130, the shell's code for SIGINT). Only the command
knows what survived, so it attaches that line with `on_interrupt` around its long work. A
command that ran but found no answer exits 3 (`NO_ANSWER`).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from protocols.errors import DaosimError

#: a command that ran but has no answer to give (`recommend`: no point within the budget):
#: a script can tell it from success, from a refused input (2) and from a simulator bug
#: (1, Python's own exit code for an uncaught exception)
NO_ANSWER = 3
#: the shell's code for a process ended by SIGPIPE (128 + 13)
BROKEN_PIPE = 141
#: said on Ctrl-C when the command attached nothing (nothing written yet)
INTERRUPTED = "interrupted"


def exit_code(handler: Callable[[argparse.Namespace], int], args: argparse.Namespace) -> int:
    """`handler(args)`'s exit code, or 2 on a `DaosimError` and 130 on Ctrl-C, each with a
    one-line message on stderr instead of a traceback, and 141 without a word when the
    reader of the output closed the pipe."""
    try:
        return handler(args)
    except DaosimError as exc:
        print(f"daosim: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as exc:
        # the leading newline ends the line the terminal's ^C (or a progress bar) left open
        print(f"\n{interrupt_hint(exc)}", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # the reader of stdout went away (`daosim run ... | head`): stop quietly, as a Unix
        # tool does on SIGPIPE; stdout goes to devnull so the exit's flush cannot fail too
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return BROKEN_PIPE


@contextmanager
def on_interrupt(hint: str) -> Iterator[None]:
    """Attach `hint` (what the interrupted work leaves behind, and what to run next) to a
    Ctrl-C raised inside the block; `exit_code` prints it."""
    try:
        yield
    except KeyboardInterrupt as exc:
        exc.add_note(hint)
        raise


def interrupt_hint(exc: KeyboardInterrupt) -> str:
    """The innermost hint attached by `on_interrupt` (the most specific), else a bare
    'interrupted'."""
    notes = getattr(exc, "__notes__", None)
    return notes[0] if notes else INTERRUPTED
