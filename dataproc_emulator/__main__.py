"""``python -m dataproc_emulator``: run the emulator as its own process.

Launchers wait for the one ready line on stdout, so it is printed only once the
socket is listening, and flushed; SIGTERM and SIGINT stop it with exit status 0.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading

from .server import DataprocEmulator


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m dataproc_emulator", description="Local Dataproc REST emulator."
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument(
        "--latency-ms", type=float, default=0.0, help="delay every real-API answer this long"
    )
    parser.add_argument("--verbose", action="store_true", help="log each request to stderr")
    args = parser.parse_args(argv)
    try:
        emulator = DataprocEmulator(args.host, args.port, args.latency_ms / 1000, args.verbose)
    except OSError as exc:
        parser.exit(1, f"dataproc-emulator: cannot listen on {args.host}:{args.port}: {exc}\n")
    stopping = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stopping.set())
    emulator.start()
    print(f"dataproc-emulator listening on {emulator.base_url}", flush=True)
    stopping.wait()
    emulator.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
