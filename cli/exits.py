"""How a command's failure becomes an exit code, the same way for every command.

A `DaosimError` is a refused input or plan: its one-line message is all the user needs, so
no traceback (exit 2).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable

from protocols.errors import DaosimError


def exit_code(handler: Callable[[argparse.Namespace], int], args: argparse.Namespace) -> int:
    """`handler(args)`'s exit code, or 2 on a `DaosimError` with a one-line message on
    stderr instead of a traceback."""
    try:
        return handler(args)
    except DaosimError as exc:
        print(f"daosim: {exc}", file=sys.stderr)
        return 2
