"""`ci-assets` as a user runs it from a terminal: what it starts, it stops on Ctrl-C."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import requests

from ci_assets_tests.services import processes
from ci_assets_tests.services.leftovers import embedded_servers, stop_servers_under
from ci_assets_tests.services.network import free_port, wait_for_http


def test_search_stops_the_embedded_postgresql_it_started_on_ctrl_c(tmp_path: Path) -> None:
    home, port = tmp_path / "home", free_port()
    env = {"PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin", "HOME": str(tmp_path), "CI_ASSETS_HOME": str(home)}
    search = processes.start(
        [Path(sys.executable).parent / "ci-assets", "search", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        wait_for_http(f"http://127.0.0.1:{port}/__lbheartbeat__", timeout=120)
        assert requests.get(f"http://127.0.0.1:{port}/__heartbeat__", timeout=30).status_code == 200
        assert embedded_servers(home)  # the search command started the local default's server
        search.send_signal(signal.SIGINT)  # Ctrl-C
        output, _ = search.communicate(timeout=60)
        assert "stopped the embedded PostgreSQL" in output
        assert embedded_servers(home) == []
    finally:
        processes.stop(search)
        stop_servers_under(tmp_path)
