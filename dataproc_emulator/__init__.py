"""A local Dataproc emulator speaking the real REST paths and JSON shapes.

No official emulator exists; this one serves operations, batches, cluster jobs,
interactive sessions and clusters scripted through an admin API, so the canceller can be tested
end to end and benchmarked offline.

Run: ``python -m dataproc_emulator --host 127.0.0.1 --port 0 [--latency-ms 20] [--verbose]``
(prints ``dataproc-emulator listening on http://HOST:PORT`` when ready), or in process:
``with DataprocEmulator() as emu: emu.base_url``. ``admin.EmulatorAdmin`` wraps the
admin API for tests.

Real API (``/v1/``): operations get, ``:cancel``, delete and list (regions-based);
batches get and list (locations-based); jobs get, ``:cancel`` and list (regions-based;
clusterName, jobStateMatcher, filter); sessions get, ``:terminate`` (answers a
regions-based operation) and list (locations-based); clusters get, list (filter,
alphabetically, 200 a page by default), ``:stop`` and ``:start`` (body {clusterUuid?,
requestId?}) and delete (query clusterUuid, requestId, gracefulTerminationTimeout),
each of the last three answering a regions-based operation (ClusterOperationMetadata,
operationType STOP, START or DELETE; its response the Cluster, or Empty for a delete);
cluster methods refuse query parameters they do not declare. Methods that Google's
clients call with ``$alt=json;enum-encoding=int`` get enums as numbers. Lists page with
keyset tokens: operations and jobs in seeding order, batches and sessions by creation
time, clusters by name.

Other Google APIs, on the same port (their real paths do not overlap Dataproc's), all
answered from one organisation description (dataproc_emulator/organisation.py) and the
Dataproc work above: Billing Budgets v1 ``GET /v1/billingAccounts/B/budgets/ID``; Cloud
Billing v1 ``GET /v1/billingAccounts/B/projects``; Resource Manager v3 ``GET
/v3/projects/{id or number}``, ``/v3/projects?parent=``, ``/v3/projects:search``,
``/v3/folders/F``, ``/v3/folders?parent=``, ``/v3/folders:search``,
``/v3/organizations/O``
(dataproc_emulator/org_apis.py); Cloud Asset v1 ``GET /v1/{scope}:searchAllResources``
over the emulator's clusters, jobs, batches and sessions (dataproc_emulator/assets.py).
They are logged, counted (by discovery method id, e.g. ``cloudasset.searchAllResources``)
and open to faults like Dataproc's methods; only Cloud Asset has a quota bucket.

Admin API (``/_emulator/``; JSON bodies, unknown keys are a 400; seeding a name again
replaces it; every delay counts from seeding on the emulator's clock):

- ``GET health``; ``POST reset`` (clears all but the startup latency and the clock).
- ``POST clock`` {advanceSeconds, frozen} -> {"offsetSeconds", "frozen"}: moves the
  emulator's clock forward (scripted delays, timestamps and quota windows follow it; it
  never goes back); frozen, it no longer follows real time and moves only so (a test on
  a fake clock); ``reset`` sets it running again.
- ``POST operations`` {name, kind, metadata, state, done, result, completesAfterSeconds,
  completion, onCancel, cancelSeconds, cancelError, getForbidden, cancelWhenDone}
  -> the operation; ``POST operations:bulk`` {"operations": [...]} -> {"seeded": n};
  ``GET operations/{name}`` -> internal state.
- ``POST batches`` {name, operation: {seed}, labels, state, usage, ttl, runtimeVersion}
  -> the batch. A batch runs from its creation; ``runtimeInfo.currentUsage`` while it is
  RUNNING or CANCELLING (``snapshotTime`` its start, then every minute),
  ``approximateUsage`` once it has ended (each count times the seconds it ran,
  ``updateTime`` its end). ``usage``: UsageSnapshot's counts as integers, {milliDcu,
  milliDcuPremium, shuffleStorageGb, shuffleStorageGbPremium (with milliDcuPremium),
  milliAccelerator, acceleratorType}, those left out 0 (default: a driver and 4
  executors of 4 vCPUs and 16 GB, {"milliDcu": 20000, "shuffleStorageGb": 25}; null:
  none reported); ``ttl`` executionConfig.ttl, a google-duration of 600 s to 14 days
  (default: not set); ``runtimeVersion`` runtimeConfig.version ("2.2"). Neither a ttl
  nor a lifecycleConfig ends anything here; dataproc_emulator/usage.py says what else
  is assumed.
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
  with error 13) | forbidden (403); ``getForbidden``; ``usage`` as a batch's (default:
  the documented minimum, a driver and 2 executors, {"milliDcuPremium": 12000}), served
  while ACTIVE or TERMINATING, its total once ended; ``ttl`` ("86400s") and ``idleTtl``
  ("3600s"), google-durations of 600 s to 14 days, null: not shown; ``runtimeVersion``
  ("2.2"). Only CREATING and ACTIVE sessions terminate; a repeated requestId answers the
  first terminate's operation.
- ``POST clusters`` -> the Cluster; ``POST clusters:bulk`` {"clusters": [...]} ->
  {"seeded": n}; ``GET clusters/{name}`` -> {cluster, deleted, operations,
  blockingOperation, requests, gracefulTerminationSeconds, seq} (also once deleted).
  Seed keys: ``name`` projects/P/regions/R/clusters/N (required); ``state`` RUNNING
  (default) or any ClusterStatus state; ``clusterUuid`` (generated); ``labels`` {} (the
  three goog-dataproc-* labels are added); ``detail``; ``substate`` (RUNNING only);
  ``masterInstances`` (1 or 3), ``workerInstances`` (2; 0 or >= 2),
  ``secondaryWorkerInstances`` (0), ``masterMachineType``, ``workerMachineType``,
  ``secondaryWorkerMachineType`` (rendered as given; default the full URL of
  n2-standard-4), ``localSsds`` (per master and worker), ``flexibleVms`` (on the
  workers), ``secondaryWorkerPreemptibility`` PREEMPTIBLE (default) | SPOT |
  NON_PREEMPTIBLE, ``lifecycle`` (config.lifecycleConfig: ``autoDeleteTtl`` and
  ``autoStopTtl``, 600 s to 14 days, ``idleDeleteTtl`` and ``idleStopTtl``, 300 s to 14
  days, as google-durations; ``autoDeleteInSeconds`` and ``autoStopInSeconds``, served
  as autoDeleteTime and autoStopTime that long after seeding, each instead of its ttl;
  ``idleSinceSecondsAgo``, served as idleStartTime, with an idle ttl, not before the
  cluster was RUNNING; shown, not acted on), or a raw ``config``, or ``gke``
  (virtualClusterConfig instead);
  ``runningSecondsAgo`` (0) and ``createdSecondsAgo`` (= running); ``stopSeconds``,
  ``startSeconds``, ``deleteSeconds`` (0: how long STOPPING, STARTING, DELETING last;
  a cluster *seeded* in one of them stays there unless its key is given, as a
  CREATING, SCHEDULED, UPDATING or REPAIRING one does without ``runningAfterSeconds``);
  ``blockingOperation`` UPDATE (shows the cluster UPDATING) | DIAGNOSE: a running
  operation (ends after ``blockingOperationSeconds``, or cancelled: error 1);
  ``refusalStatus`` FAILED_PRECONDITION (default) | INVALID_ARGUMENT; ``getForbidden``;
  ``forbidden`` [stop, start, delete] (403). A stop goes from RUNNING only, and not
  while a blocking operation runs, nor with secondary workers, local SSDs, flexible
  VMs or on GKE; it fails the cluster's unfinished jobs (ERROR). A start goes from
  STOPPED only; a delete from any settled state (it fails the jobs after
  gracefulTerminationTimeout) and GET answers 404 once it is done. A repeated
  requestId answers the first request's operation; a clusterUuid not the cluster's is
  404. Jobs seeded on a clusterName without a clusterUuid take that cluster's.
- ``POST organisation`` {the description} -> {folders, projects, budgets} (counts);
  ``GET organisation`` -> the description as seeded. ``dataproc_emulator.fake_org``
  builds one.
- ``POST assets:freeze`` -> {frozen, work}: Cloud Asset answers from the work as it is
  now (a snapshot, as real asset data is minutes stale) until ``POST assets:release``.
- ``POST faults`` {method, pathRegex, times, action, status, statusName, retryAfter,
  delaySeconds} -> {"id"}; ``GET faults``; ``DELETE faults``.
- ``GET requests`` / ``DELETE requests``: the real-API request log (each entry also
  names its ``apiMethod`` and whether it was ``quotaExceeded``). DELETE also zeroes
  ``requestCounts``, but not the quota's memory of the last minute.
- ``GET requestCounts`` -> {total, byMethod {"jobs.get": n, ...; "unknown" for paths no
  method serves}, byBucket {default, getJob, jobOperation, and clusterOperation once
  used}, byLocation {"projects/P/regions/R": n}, peakPerMinute {all and the same
  buckets: the most requests in any sliding 60 s}, rejectedByQuota}. Buckets are
  Dataproc's quota buckets: jobs.get is getJob, jobs.cancel jobOperation,
  clusters.stop, .start and .delete clusterOperation, everything else default; the
  other APIs' methods count in total, byMethod, byApi (shown once one is used) and the
  "all" peak, and only cloudasset.searchAllResources has a bucket, cloudAsset.
- ``GET settings`` / ``POST settings`` {latencySeconds, ignoreFilter, quotaPerMinute
  {bucket: n}}: with a quota, a request beyond n in its bucket within 60 s, per
  project and region, answers 429 RESOURCE_EXHAUSTED (counted, but using no quota);
  ``cloudAsset`` counts per consumer project (X-Goog-User-Project), Google's limit being
  400 (``metering.ASSET_SEARCHES_PER_MINUTE``).
"""

from .server import DataprocEmulator

__all__ = ["DataprocEmulator"]
