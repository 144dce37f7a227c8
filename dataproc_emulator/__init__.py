"""A local Dataproc emulator speaking the real REST paths and JSON shapes.

No official emulator exists; this one serves operations, batches, cluster jobs and
interactive sessions scripted through an admin API, so the canceller can be tested
end to end and benchmarked offline.

Run: ``python -m dataproc_emulator --host 127.0.0.1 --port 0 [--latency-ms 20] [--verbose]``
(prints ``dataproc-emulator listening on http://HOST:PORT`` when ready), or in process:
``with DataprocEmulator() as emu: emu.base_url``. ``admin.EmulatorAdmin`` wraps the
admin API for tests.

Real API (``/v1/``): operations get, ``:cancel``, delete and list (regions-based);
batches get and list (locations-based); jobs get, ``:cancel`` and list (regions-based;
clusterName, jobStateMatcher, filter); sessions get, ``:terminate`` (answers a
regions-based operation) and list (locations-based). Methods that Google's clients
call with ``$alt=json;enum-encoding=int`` get enums as numbers. Lists page with keyset
tokens: operations and jobs in seeding order, batches and sessions by creation time.

Admin API (``/_emulator/``; JSON bodies, unknown keys are a 400; seeding a name again
replaces it; every delay counts from seeding on the emulator's clock):

- ``GET health``; ``POST reset`` (clears all but the startup latency and the clock).
- ``POST clock`` {advanceSeconds} -> {"offsetSeconds"}: moves the emulator's clock
  forward (scripted delays, timestamps and quota windows follow it; it never goes back).
- ``POST operations`` {name, kind, metadata, state, done, result, completesAfterSeconds,
  completion, onCancel, cancelSeconds, cancelError, getForbidden, cancelWhenDone}
  -> the operation; ``POST operations:bulk`` {"operations": [...]} -> {"seeded": n};
  ``GET operations/{name}`` -> internal state.
- ``POST batches`` {name, operation: {seed}, labels, state} -> the batch.
- ``POST jobs`` -> the Job; ``POST jobs:bulk`` {"jobs": [...]} -> {"seeded": n};
  ``GET jobs/{name}`` -> {job, onCancel, cancelRequestTime, seq}. Seed keys:
  ``name`` projects/P/regions/R/jobs/ID (required); ``state`` PENDING | SETUP_DONE |
  RUNNING (default) | ATTEMPT_FAILURE | DONE | ERROR | CANCELLED; ``labels`` {};
  ``clusterName`` ("emulator-cluster"), ``clusterUuid``, ``jobUuid`` (generated);
  ``submittedSecondsAgo`` (0: statusHistory[0]'s time); ``setupSeconds`` (SETUP_DONE
  for that long, then RUNNING; a cancel meanwhile is FAILED_PRECONDITION);
  ``completesAfterSeconds`` + ``completion`` DONE (default) | ERROR, ``details`` (the
  ERROR status.details); ``onCancel`` cancel (default: CANCEL_PENDING, CANCEL_STARTED
  half-way, CANCELLED after ``cancelSeconds``, default 0) | finish (DONE after
  cancelSeconds) | stuck (CANCEL_PENDING for good) | forbidden (403);
  ``getForbidden`` (403 on get and cancel). Only PENDING and RUNNING jobs cancel.
- ``POST sessions`` -> the Session; ``POST sessions:bulk`` {"sessions": [...]} ->
  {"seeded": n}; ``GET sessions/{name}`` -> {session, onTerminate,
  terminateRequestTime, terminateOperation, requestId, seq}. Seed keys: ``name``
  projects/P/locations/L/sessions/S (required); ``state`` CREATING | ACTIVE (default) |
  TERMINATED | FAILED; ``stateMessage`` (for FAILED); ``labels`` {}; ``uuid``;
  ``createdSecondsAgo`` (0); ``terminateSeconds`` (0: TERMINATING for that long, then
  TERMINATED); ``onTerminate`` terminate (default) | fail (ends FAILED, the operation
  with error 13) | forbidden (403); ``getForbidden``. Only CREATING and ACTIVE
  sessions terminate; a repeated requestId answers the first terminate's operation.
- ``POST faults`` {method, pathRegex, times, action, status, statusName, retryAfter,
  delaySeconds} -> {"id"}; ``GET faults``; ``DELETE faults``.
- ``GET requests`` / ``DELETE requests``: the real-API request log (each entry also
  names its ``apiMethod`` and whether it was ``quotaExceeded``). DELETE also zeroes
  ``requestCounts``, but not the quota's memory of the last minute.
- ``GET requestCounts`` -> {total, byMethod {"jobs.get": n, ...; "unknown" for paths no
  method serves}, byBucket {default, getJob, jobOperation}, byLocation
  {"projects/P/regions/R": n}, peakPerMinute {all, default, getJob, jobOperation}: the
  most requests in any sliding 60 s, rejectedByQuota}. Buckets are Dataproc's quota
  buckets: jobs.get is getJob, jobs.cancel jobOperation, everything else default.
- ``GET settings`` / ``POST settings`` {latencySeconds, ignoreFilter, quotaPerMinute
  {bucket: n}}: with a quota, a request beyond n in its bucket within 60 s, per
  project and region, answers 429 RESOURCE_EXHAUSTED (counted, but using no quota).
"""

from .server import DataprocEmulator

__all__ = ["DataprocEmulator"]
