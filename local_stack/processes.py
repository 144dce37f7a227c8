"""Start, watch and stop child process groups.

Every local part runs in its own session (``start_new_session=True``) so that one
signal to the group reaches the launcher and everything it forked: gcloud's
emulator launcher leaves a Java child behind when only it is killed, and gunicorn
forks a worker. Output goes to a file, never a pipe, so a chatty child can never block on
a full pipe nobody reads.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Self

import requests

POLL_INTERVAL_SECONDS = 0.05


class StartupError(RuntimeError):
    """A local part did not come up; the message carries the tail of its log."""


def log_file(log_dir: Path | None, name: str) -> Path:
    """Where a part writes its output; a fresh temp dir by default.

    The directory is kept after stop on purpose: when a test fails, the logs of the
    emulators and the function server are the evidence.
    """
    directory = log_dir if log_dir is not None else Path(tempfile.mkdtemp(prefix="local-stack-"))
    return directory / name


def start_group(
    argv: Sequence[str],
    log_path: Path,
    *,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
) -> subprocess.Popen[bytes]:
    """Launch ``argv`` as the leader of a new process group, output to ``log_path``."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("wb") as log:  # a fresh log: no stale ready line from a past run
        return subprocess.Popen(
            list(argv),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=dict(env) if env is not None else None,
            cwd=cwd,
            start_new_session=True,
        )


def group_pids(pgid: int) -> list[int]:
    """Live (non-zombie) processes of a group, read from /proc.

    ``killpg(pgid, 0)`` is not enough: it succeeds while an unreaped zombie is left,
    and the Java child reparented to init may stay a zombie for a while.
    """
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # The command name is in parentheses and may itself contain spaces.
        fields = stat[stat.rindex(")") + 2 :].split()
        state, group = fields[0], int(fields[2])
        if group == pgid and state not in ("Z", "X"):
            pids.append(int(entry.name))
    return pids


def stop_group(process: subprocess.Popen[bytes], grace_seconds: float = 5.0) -> None:
    """SIGTERM the whole group, SIGKILL what is left after the grace period, and wait.

    Returns only once no member of the group is alive, so callers can rely on the
    ports being free and no Java process lingering.
    """
    pgid = process.pid  # leader of its own session, so pgid == pid
    _signal_group(pgid, signal.SIGTERM)
    if not _wait_group_gone(process, grace_seconds):
        _signal_group(pgid, signal.SIGKILL)
        if not _wait_group_gone(process, grace_seconds):
            raise RuntimeError(f"process group {pgid} survived SIGKILL: {group_pids(pgid)}")


def _signal_group(pgid: int, signum: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):  # the group is already gone
        os.killpg(pgid, signum)


def _wait_group_gone(process: subprocess.Popen[bytes], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while True:
        process.poll()  # reap the leader so it does not count as alive
        if process.returncode is not None and not group_pids(process.pid):
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(POLL_INTERVAL_SECONDS)


def wait_until(
    ready: Callable[[], bool],
    *,
    process: subprocess.Popen[bytes],
    what: str,
    log_path: Path,
    timeout: float,
) -> None:
    """Poll ``ready`` until true; fail fast with the log tail if the process dies first."""
    deadline = time.monotonic() + timeout
    while not ready():
        if process.poll() is not None:
            raise StartupError(
                f"{what} exited with code {process.returncode} before it was ready.\n"
                f"Its output ({log_path}):\n{log_tail(log_path)}"
            )
        if time.monotonic() >= deadline:
            raise StartupError(
                f"{what} was not ready after {timeout:.0f} s.\n"
                f"Its output ({log_path}):\n{log_tail(log_path)}"
            )
        time.sleep(POLL_INTERVAL_SECONDS)


def answers_http(url: str) -> bool:
    """True once anything answers HTTP at ``url``, whatever the status code."""
    try:
        requests.get(url, timeout=1.0)
    except requests.RequestException:
        return False
    return True


def log_tail(log_path: Path, lines: int = 40) -> str:
    try:
        text = log_path.read_text(errors="replace")
    except OSError:
        return "(no output)"
    return "\n".join(text.splitlines()[-lines:]) or "(no output)"


class ManagedProcess:
    """Lifecycle shared by the local parts: launch now, wait later, stop the whole group.

    ``launch`` and ``wait_ready`` are separate so that several parts can boot in
    parallel (the Java emulator alone takes about a second); ``start`` does both.
    Subclasses say what to run (``_argv``, ``_env``, ``_cwd``) and when it is ready.
    """

    name = "process"

    def __init__(self, log_path: Path, startup_timeout: float) -> None:
        self.log_path = log_path
        self.startup_timeout = startup_timeout
        self._process: subprocess.Popen[bytes] | None = None

    def _argv(self) -> list[str]:
        raise NotImplementedError

    def _env(self) -> Mapping[str, str] | None:
        return None

    def _cwd(self) -> Path | None:
        return None

    def _is_ready(self) -> bool:
        raise NotImplementedError

    def launch(self) -> None:
        if self._process is not None:
            raise RuntimeError(f"{self.name} is already running (pid {self._process.pid})")
        self._process = start_group(self._argv(), self.log_path, env=self._env(), cwd=self._cwd())

    def wait_ready(self) -> None:
        """Block until ready; on failure stop the group, then raise with the log tail."""
        if self._process is None:
            raise RuntimeError(f"{self.name}: launch() first")
        try:
            wait_until(
                self._is_ready,
                process=self._process,
                what=self.name,
                log_path=self.log_path,
                timeout=self.startup_timeout,
            )
        except BaseException:
            self.stop()
            raise

    def start(self) -> Self:
        self.launch()
        self.wait_ready()
        return self

    def stop(self) -> None:
        """Idempotent, so cleanup paths can call it whatever state start reached."""
        if self._process is not None:
            process, self._process = self._process, None
            stop_group(process)

    @property
    def pid(self) -> int | None:
        """Pid of the group leader, which is also the process-group id."""
        return self._process.pid if self._process is not None else None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()
