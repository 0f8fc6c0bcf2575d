"""Start the dashboard's server on this machine only, after checking what can be checked
before it starts: the target, the port, and that the dashboard extra is installed."""

from __future__ import annotations

import errno
import socket
import time
import warnings
from pathlib import Path
from typing import Any

from protocols.errors import ConfigError

#: Panel's own default port
DEFAULT_PORT = 5006
#: Panel extensions the views use (their scripts ship in Panel's wheel and are served by it)
EXTENSIONS = ("tabulator",)


def check_port(port: int) -> None:
    """A `ConfigError` naming `--port` when the port is out of range or already taken."""
    if not 0 < port < 65536:
        raise ConfigError(f"--port {port}: not a port number (1-65535)")
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise ConfigError(f"--port {port}: already in use by another program; choose "
                                  f"another, e.g. --port {port + 1}") from None
            raise ConfigError(f"--port {port}: cannot listen there ({exc.strerror})") from None


def panel() -> Any:
    """The `panel` module, or a `ConfigError` saying how to install the extra."""
    try:
        import panel as pn
    except ImportError:
        raise ConfigError("dashboard: needs the dashboard extra: "
                          "pip install 'daosim[dashboard]'") from None
    return pn


def server(target: str | Path | None, out: Path, port: int, *, browser: bool = False,
           threaded: bool = False) -> Any:
    """Start serving the dashboard on localhost:`port` (each browser tab gets its own page);
    `threaded` returns the running server once it accepts connections (tests), otherwise
    this blocks until Ctrl-C."""
    pn = panel()
    from dashboard.app import TITLE, page, target_kind

    if target is not None:
        target_kind(target)
    check_port(port)
    # Bokeh's own table code trips pandas' deprecation of reset_index(inplace=...) on every
    # table update: nothing a dashboard user can act on
    warnings.filterwarnings("ignore", message="The inplace keyword in DataFrame.reset_index")
    # the views' imports (Bokeh's models, the simulator) now, not in the first page's request
    import dashboard.run_view
    import dashboard.sweep_view
    import dashboard.whatif  # noqa: F401

    def session() -> Any:
        pn.extension(*EXTENSIONS)
        return page(target, out)

    if not threaded:
        print(f"dashboard: http://localhost:{port}/ (Ctrl-C stops it)", flush=True)
    running = pn.serve(session, port=port, address="localhost", show=browser, title=TITLE,
                       threaded=threaded, start=True,
                       websocket_origin=[f"localhost:{port}", f"127.0.0.1:{port}"])
    if threaded:
        wait_listening(port)
    return running


def wait_listening(port: int, seconds: float = 30) -> None:
    """Return once something accepts connections on localhost:`port` (a threaded server
    starts in the background), or raise `TimeoutError`."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            socket.create_connection(("localhost", port), timeout=1).close()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise TimeoutError(f"nothing listens on localhost:{port} after {seconds} s") \
                    from None
            time.sleep(0.05)
