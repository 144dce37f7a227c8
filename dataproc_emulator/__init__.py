"""A local Dataproc emulator speaking the real REST paths and JSON shapes.

No official emulator exists; this one serves operations and batches scripted through
an admin API, so the canceller can be tested end to end and benchmarked offline.

Run: ``python -m dataproc_emulator --host 127.0.0.1 --port 0 [--latency-ms 20] [--verbose]``
(prints ``dataproc-emulator listening on http://HOST:PORT`` when ready), or in process:
``with DataprocEmulator() as emu: emu.base_url``. ``admin.EmulatorAdmin`` wraps the
admin API for tests.

Real API (``/v1/``): operations get, ``:cancel``, delete and list (regions-based);
batches get and list (locations-based).

Admin API (``/_emulator/``; JSON bodies, unknown keys are a 400):

- ``GET health``; ``POST reset`` (clears all but the startup latency).
- ``POST operations`` {name, kind, metadata, state, done, result, completesAfterSeconds,
  completion, onCancel, cancelSeconds, cancelError, getForbidden, cancelWhenDone}
  -> the operation; ``POST operations:bulk`` {"operations": [...]} -> {"seeded": n};
  ``GET operations/{name}`` -> internal state.
- ``POST batches`` {name, operation: {seed}, labels, state} -> the batch.
- ``POST faults`` {method, pathRegex, times, action, status, statusName, retryAfter,
  delaySeconds} -> {"id"}; ``GET faults``; ``DELETE faults``.
- ``GET requests`` / ``DELETE requests``: the real-API request log.
- ``GET settings`` / ``POST settings`` {latencySeconds, ignoreFilter}.
"""

from .server import DataprocEmulator

__all__ = ["DataprocEmulator"]
