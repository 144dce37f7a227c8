"""The project's Dataproc emulator (``python -m dataproc_emulator``) as a child process.

By default it gets ``--port 0`` and announces the port it really bound in its ready
line, so no other process can take the port in between.
"""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path

from local_stack.ports import LOOPBACK
from local_stack.processes import ManagedProcess, log_file

REPO_ROOT = Path(__file__).resolve().parent.parent
READY_LINE = re.compile(r"dataproc-emulator listening on (?P<url>http://(?P<host>[^/\s]+))")


class DataprocEmulatorProcess(ManagedProcess):
    """One Dataproc emulator; ``base_url`` and ``host`` are set once it is ready."""

    name = "Dataproc emulator (python -m dataproc_emulator)"

    def __init__(
        self,
        *,
        port: int = 0,
        latency_ms: float | None = None,
        log_dir: Path | None = None,
        startup_timeout: float = 30.0,
    ) -> None:
        """``port`` 0 lets the emulator pick; pass a fixed one only when others must
        know it before the emulator is ready (LocalStack boots all parts at once)."""
        super().__init__(log_file(log_dir, "dataproc-emulator.log"), startup_timeout)
        self.port = port
        self.latency_ms = latency_ms
        self.base_url = ""
        self.host = ""

    def _argv(self) -> list[str]:
        argv = [
            sys.executable,
            "-m",
            "dataproc_emulator",
            "--host",
            LOOPBACK,
            "--port",
            str(self.port),
        ]
        if self.latency_ms is not None:
            argv += ["--latency-ms", str(self.latency_ms)]
        return argv

    def _env(self) -> dict[str, str]:
        # Unbuffered, so a traceback reaches the log at once, not at exit.
        return {**os.environ, "PYTHONUNBUFFERED": "1"}

    def _cwd(self) -> Path:
        # The repo root, so that ``-m dataproc_emulator`` resolves wherever we run from.
        return REPO_ROOT

    def _is_ready(self) -> bool:
        match = READY_LINE.search(self.log_path.read_text(errors="replace"))
        if match is None:
            return False
        self.base_url, self.host = match["url"], match["host"]
        self.port = int(self.host.rsplit(":", 1)[1])
        return True
