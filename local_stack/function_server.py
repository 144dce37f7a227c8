"""The real functions-framework server, run the way Cloud Run functions runs it.

``python -m functions_framework`` (gunicorn, one worker, threads) rather than an
in-process Flask test client, so the push path, the CloudEvent conversion, process
memory and the structured log lines are the deployed ones.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from local_stack.ports import LOOPBACK, free_port
from local_stack.processes import ManagedProcess, answers_http, group_pids, log_file


class FunctionServer(ManagedProcess):
    """One functions-framework server on a free loopback port."""

    name = "functions-framework server"

    def __init__(
        self,
        source: Path,
        target: str,
        *,
        env: Mapping[str, str] | None = None,
        signature_type: str = "cloudevent",
        port: int | None = None,
        log_dir: Path | None = None,
        startup_timeout: float = 30.0,
    ) -> None:
        """``source`` is the function's file, or a directory holding ``main.py``;
        ``env`` is merged over ``os.environ`` for the server only."""
        super().__init__(log_file(log_dir, "function-server.log"), startup_timeout)
        source = Path(source).resolve()
        self.source = source / "main.py" if source.is_dir() else source
        self.target = target
        self.signature_type = signature_type
        self.env = dict(env or {})
        self.port = port if port is not None else free_port()
        self.url = f"http://{LOOPBACK}:{self.port}"

    def _argv(self) -> list[str]:
        return [
            sys.executable,
            "-m",
            "functions_framework",
            f"--target={self.target}",
            f"--signature-type={self.signature_type}",
            f"--source={self.source}",
            f"--host={LOOPBACK}",
            f"--port={self.port}",
        ]

    def _env(self) -> dict[str, str]:
        # Unbuffered: stdout is a file here, and log_lines() must see each line as soon
        # as it is printed, as Cloud Logging would.
        return {**os.environ, "PYTHONUNBUFFERED": "1", **self.env}

    def _cwd(self) -> Path:
        return self.source.parent

    def _is_ready(self) -> bool:
        # functions-framework answers /robots.txt with 404 without calling the
        # function; the answer proves the worker has imported the source.
        return answers_http(self.url + "/robots.txt")

    def push_endpoint(self, project: str, topic: str) -> str:
        """The URL a push subscription should use: functions-framework reads the topic
        (and so the CloudEvent ``source``) from this path."""
        return f"{self.url}/projects/{project}/topics/{topic}"

    def log_lines(self) -> list[str]:
        """Everything the server and the function printed so far (stdout and stderr)."""
        try:
            return self.log_path.read_text(errors="replace").splitlines()
        except FileNotFoundError:
            return []

    def json_log_records(self) -> list[dict[str, Any]]:
        """The lines that are JSON objects: the function's structured log records."""
        records = []
        for line in self.log_lines():
            if not line.startswith("{"):
                continue
            try:
                record = json.loads(line)
            except ValueError:
                continue
            if isinstance(record, dict):
                records.append(record)
        return records

    def peak_rss_bytes(self) -> int:
        """Peak resident memory (VmHWM) of the largest process of the server's group.

        The maximum, not the sum: gunicorn's master forks the worker that runs the
        function, and most of the master's pages are shared copy-on-write with the
        worker, so a sum would count them twice. Read it before ``stop``: it is 0 when
        the server is not running.
        """
        if self.pid is None:
            return 0
        return max((_vm_hwm_bytes(pid) for pid in group_pids(self.pid)), default=0)


def _vm_hwm_bytes(pid: int) -> int:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:  # exited meanwhile
        return 0
    for line in status.splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024  # reported in kB
    return 0
