#!/usr/bin/env bash
# Deploy dataproc-canceller to Google Cloud with one command: least privilege, retried
# deliveries with a dead-letter topic, and a schema-checked results topic.
#
# Every step looks before it creates, so a rerun changes nothing and says so; --dry-run
# prints every command without running any; a failure names the step it happened in.
# Run ./deploy.sh --help for the flags and what is created.
set -euo pipefail
if ((BASH_VERSINFO[0] * 100 + BASH_VERSINFO[1] < 404)); then
  echo "deploy.sh needs bash 4.4 or newer (on macOS: brew install bash)" >&2
  exit 2
fi
shopt -s inherit_errexit # a failure inside $(...) stops the script too

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
readonly ROOT
readonly SCHEMA_FILE="$ROOT/schemas/result.proto"
readonly MONITORING_DIR="$ROOT/deploy/monitoring"
readonly BIGQUERY_SCHEMA_FILE="$ROOT/deploy/bigquery/results-schema.json" # deploy/bigquery_schema.py
readonly BIGQUERY_TOOL="$ROOT/deploy/bigquery_schema.py"

# The custom role's permissions are exactly the Dataproc calls the function makes, nothing
# more (docs/iam.md). They are not typed here: canceller/kinds decides them, and
# `python3 -m canceller.role [CLUSTER_DELETE_ALLOWED]` prints them (role_permissions, below);
# dataproc.clusters.delete only with --allow-cluster-delete. At organisation scale
# (ORG_SCALE) the target projects' role also holds the calls that find where work is in a
# project (`--project-scope`); each folder and organisation of --scope-folder and
# --scope-organization gets those and the folders' (`--scope`), and the billing account of
# --billing-account the budget's (`--billing-account`): canceller/org_apis.py describes
# those calls. All filled in step_project.
DATAPROC_PERMISSIONS=() # the target projects' role
SCOPE_PERMISSIONS=()    # the organisation-level role granted on each folder and organisation
BILLING_PERMISSIONS=()  # the organisation-level role granted on the billing account
readonly BASE_APIS=(
  artifactregistry.googleapis.com
  cloudbuild.googleapis.com
  cloudfunctions.googleapis.com
  cloudresourcemanager.googleapis.com
  eventarc.googleapis.com
  iam.googleapis.com
  logging.googleapis.com
  monitoring.googleapis.com
  pubsub.googleapis.com
  run.googleapis.com
)
# With --billing-account: the function reads the budget (Budget API) and the projects the
# account pays for (Cloud Billing). At organisation scale it finds where Dataproc work is
# with Cloud Asset Inventory. Each is called on the deployment project's quota, so enabled
# there (Resource Manager, for project and folder reads, is in BASE_APIS already).
readonly BILLING_APIS=(billingbudgets.googleapis.com cloudbilling.googleapis.com)
readonly ASSET_API=cloudasset.googleapis.com
# A billing account that belongs to no organisation cannot be granted a custom role (custom
# roles live in a project or an organisation and are granted within it), so there the
# function gets this predefined role: the narrowest that holds both billing.budgets.get and
# billing.resourceAssociations.list, and read-only (roles/billing.costsManager holds both too,
# but may also create, change and delete budgets). The permissions Google documents it with
# (Cloud Billing's access control page; billingAccounts.projects.list's reference): deploy.sh
# refuses a billing permission from canceller.role that is not one of them.
readonly BILLING_VIEWER_ROLE=roles/billing.viewer
readonly BILLING_VIEWER_HOLDS=(billing.budgets.get billing.resourceAssociations.list)
# Folders nest at most 10 deep under an organisation (Resource Manager's limit).
readonly MAX_FOLDER_DEPTH=10
# Function settings (canceller/settings.py) a user may set with --setting. RESULTS_TOPIC,
# TRIGGER_TOPIC, ALLOWED_PROJECTS, VERIFY_TIMEOUT_SECONDS, GOOGLE_CLOUD_PROJECT, the three
# DATAPROC_*_PER_MINUTE budgets, BUDGET_LADDER, CLUSTER_INCIDENT_ACTION, ALLOWED_BUDGETS and
# ALLOWED_ALERT_POLICIES come from the flags (the last two decide who may publish too);
# CLUSTER_DELETE_ALLOWED comes only from --allow-cluster-delete, which also puts
# dataproc.clusters.delete in the role, so the two always agree (SETTING_FLAGS refuses it
# here, naming the flag). BUDGET_THRESHOLD stays a setting: T is the ladder T:work, and
# canceller/settings.py refuses it beside --budget-ladder. DATAPROC_PROJECT_REQUESTS_PER_MINUTE
# follows from the per-instance budgets. ALLOWED_ANCESTORS comes from --scope-folder and
# --scope-organization, which also grant the role there, so the allowlist and the grants
# always agree. SWEEP_REGIONS, SCOPE_CACHE_SECONDS and the request budgets of Cloud Asset,
# Resource Manager and Cloud Billing are passed on as given. DATAPROC_EMULATOR_HOST, BILLING_BUDGETS_EMULATOR_HOST,
# CLOUD_BILLING_EMULATOR_HOST, RESOURCE_MANAGER_EMULATOR_HOST and CLOUD_ASSET_EMULATOR_HOST are
# for local tests only, never deployed: --setting refuses them as it does any name not here.
readonly USER_SETTINGS=(
  BILLING_REQUESTS_PER_MINUTE BUDGET_THRESHOLD CLOUD_ASSET_REQUESTS_PER_MINUTE DATAPROC_ENDPOINT
  DATAPROC_REGIONS DRY_RUN EXEMPT_LABEL MAX_CANCELS_PER_MESSAGE MAX_CONCURRENCY
  MAX_EVENT_AGE_SECONDS PRICE_MULTIPLIER PUBLISH_TIMEOUT_SECONDS REQUEST_TIMEOUT_SECONDS
  RESOURCE_MANAGER_REQUESTS_PER_MINUTE RETRY_DEADLINE_SECONDS SCOPE_CACHE_SECONDS SWEEP_FILTER
  SWEEP_KINDS SWEEP_REGIONS SWEEP_SCOPES
)
# Settings a flag sets, and that --setting therefore refuses, naming the flag.
declare -rA SETTING_FLAGS=(
  [CLUSTER_DELETE_ALLOWED]=--allow-cluster-delete
  [BUDGET_LADDER]=--budget-ladder
  [CLUSTER_INCIDENT_ACTION]=--cluster-incident-action
  [DATAPROC_CLUSTER_OPERATIONS_PER_MINUTE]=--dataproc-cluster-operations-per-minute
  [DATAPROC_REQUESTS_PER_MINUTE]=--dataproc-requests-per-minute
  [DATAPROC_JOB_CANCELS_PER_MINUTE]=--dataproc-job-cancels-per-minute
  [VERIFY_TIMEOUT_SECONDS]=--verify-timeout
  [ALLOWED_BUDGETS]=--allowed-budget
  [ALLOWED_ALERT_POLICIES]=--allowed-alert-policy
  [ALLOWED_ANCESTORS]="--scope-folder or --scope-organization"
  [NOTIFY_WEBHOOK_URL]=--notify-webhook-secret
)
# Dataproc's default quotas per project and region, per minute (docs/design.md, "Request
# budget"; https://cloud.google.com/dataproc/docs/resources/quotas):
# 7,500 requests in all, 400 job operations (SubmitJob, UpdateJob, CancelJob, DeleteJob),
# 200 cluster operations (create, update, delete, stop, start, diagnose, repair).
readonly DATAPROC_REQUEST_QUOTA=7500
readonly DATAPROC_JOB_OPERATION_QUOTA=400
readonly DATAPROC_CLUSTER_OPERATION_QUOTA=200
# A metric-absence condition's duration (the sweep alert) stays under a day.
readonly MAX_SILENCE_SECONDS=84600
readonly MAX_EVENT_FUNCTION_TIMEOUT=540 # seconds: the ceiling for event-driven functions
# The trigger's push subscription: Pub/Sub waits this long for the function's answer (for a
# push subscription the ack deadline is also the push request's timeout), at most 600 s. It is
# the function timeout plus ACK_MARGIN, for a cold start, which need not count against the
# function's own timeout; 540 + 60 is exactly Pub/Sub's ceiling.
readonly MAX_ACK_DEADLINE=600
readonly ACK_MARGIN=60
# Who may publish to the trigger topic may stop everything the function may touch. Budget
# notifications are published by this Google-wide account (Cloud Billing's "Set up
# programmatic notifications"; the Budget API wants pubsub.topics.setIamPolicy on the topic
# from whoever connects a budget to it, googleapis/googleapis
# google/cloud/billing/budgets/v1/budget_model.proto, NotificationsRule.pubsub_topic).
readonly BUDGET_PUBLISHER=serviceAccount:billing-budget-alert@system.gserviceaccount.com
# Topic-level roles that hold pubsub.topics.publish besides roles/pubsub.publisher (reported,
# never changed: they are someone's administration, not a publisher list).
readonly BROADER_PUBLISH_ROLES=(roles/pubsub.editor roles/pubsub.admin roles/owner roles/editor)
# The chat webhook's URL (NOTIFY_WEBHOOK_URL) is its own credential: Google Chat's key and
# token, Slack's path. It lives in Secret Manager, and the function gets it as an environment
# variable that Cloud Run resolves from there when an instance starts (--set-secrets; "Configure
# secrets for instances", https://cloud.google.com/run/docs/configuring/instances/secrets):
# never in --set-env-vars, which anyone who may describe the function can read, and never in
# this script's output. deploy.sh handles the secret's name only, never its value.
readonly NOTIFY_VARIABLE=NOTIFY_WEBHOOK_URL
readonly SECRET_ACCESSOR=roles/secretmanager.secretAccessor
readonly SECRET_RE='^[A-Za-z0-9_-]{1,255}$' # a secret ID; gcloud's --set-secrets takes no other

PROJECT=${CANCELLER_PROJECT:-}
REGION=${CANCELLER_REGION:-us-central1}
FUNCTION=${CANCELLER_FUNCTION:-dataproc-canceller}
TRIGGER_TOPIC=${CANCELLER_TRIGGER_TOPIC:-dataproc-cancel-requests}
RESULTS_TOPIC=${CANCELLER_RESULTS_TOPIC:-dataproc-cancel-results}
DEAD_LETTER_TOPIC=${CANCELLER_DEAD_LETTER_TOPIC:-}
TARGET_PROJECTS=${CANCELLER_TARGET_PROJECTS:-}
VERIFY_TIMEOUT=${CANCELLER_VERIFY_TIMEOUT:-60}
FUNCTION_TIMEOUT=${CANCELLER_TIMEOUT:-} # "": sized from the settings (step_project)
MEMORY=${CANCELLER_MEMORY:-256Mi}
MAX_INSTANCES=${CANCELLER_MAX_INSTANCES:-10}
RUNTIME=${CANCELLER_RUNTIME:-python312}
MAX_DELIVERY_ATTEMPTS=${CANCELLER_MAX_DELIVERY_ATTEMPTS:-10}
SWEEP_SCHEDULE=${CANCELLER_SWEEP_SCHEDULE:-}
SWEEP_TIME_ZONE=${CANCELLER_SWEEP_TIME_ZONE:-Etc/UTC}
PRINT_WIRING=${CANCELLER_PRINT_WIRING:-false}
BILLING_ACCOUNT=${CANCELLER_BILLING_ACCOUNT:-}
BUDGET_AMOUNT=${CANCELLER_BUDGET_AMOUNT:-}
REQUESTS_PER_MINUTE=${CANCELLER_DATAPROC_REQUESTS_PER_MINUTE:-600}      # 8 % of 7,500
JOB_CANCELS_PER_MINUTE=${CANCELLER_DATAPROC_JOB_CANCELS_PER_MINUTE:-200} # half of 400
CLUSTER_OPERATIONS_PER_MINUTE=${CANCELLER_DATAPROC_CLUSTER_OPERATIONS_PER_MINUTE:-100} # half of 200
BUDGET_LADDER=${CANCELLER_BUDGET_LADDER:-} # "": unset, the function's BUDGET_THRESHOLD:work
CLUSTER_INCIDENT_ACTION=${CANCELLER_CLUSTER_INCIDENT_ACTION:-jobs}
ALLOW_CLUSTER_DELETE=${CANCELLER_ALLOW_CLUSTER_DELETE:-false}
RESULTS_TABLE=${CANCELLER_RESULTS_BIGQUERY_TABLE:-}
NOTIFY_SECRET=${CANCELLER_NOTIFY_WEBHOOK_SECRET:-} # NAME or projects/P/secrets/NAME; "": none
SETTINGS=()
if [[ -n ${CANCELLER_SETTINGS:-} ]]; then
  IFS=';' read -r -a SETTINGS <<<"$CANCELLER_SETTINGS"
fi
CHANNELS=()
if [[ -n ${CANCELLER_NOTIFICATION_CHANNELS:-} ]]; then
  IFS=',' read -r -a CHANNELS <<<"${CANCELLER_NOTIFICATION_CHANNELS// /}"
fi
PUBLISHERS=() # members besides the function itself that may publish to the trigger topic
if [[ -n ${CANCELLER_PUBLISHERS:-} ]]; then
  IFS=',' read -r -a PUBLISHERS <<<"${CANCELLER_PUBLISHERS// /}"
fi
ALLOWED_BUDGETS=() # budget IDs whose notifications may stop work (and may be published)
if [[ -n ${CANCELLER_ALLOWED_BUDGETS:-} ]]; then
  IFS=',' read -r -a ALLOWED_BUDGETS <<<"${CANCELLER_ALLOWED_BUDGETS// /}"
fi
ALLOWED_ALERT_POLICIES=() # alert policy names (an incident's policy_name) that may stop work
if [[ -n ${CANCELLER_ALLOWED_ALERT_POLICIES:-} ]]; then
  IFS=',' read -r -a ALLOWED_ALERT_POLICIES <<<"$CANCELLER_ALLOWED_ALERT_POLICIES"
fi
SCOPE_FOLDERS=() # folders the function may act in (ALLOWED_ANCESTORS), by number
if [[ -n ${CANCELLER_SCOPE_FOLDERS:-} ]]; then
  IFS=',' read -r -a SCOPE_FOLDERS <<<"${CANCELLER_SCOPE_FOLDERS// /}"
fi
SCOPE_ORGANIZATIONS=() # organisations the function may act in (ALLOWED_ANCESTORS), by number
if [[ -n ${CANCELLER_SCOPE_ORGANIZATIONS:-} ]]; then
  IFS=',' read -r -a SCOPE_ORGANIZATIONS <<<"${CANCELLER_SCOPE_ORGANIZATIONS// /}"
fi
REMOVE_OTHER_INVOKERS=${CANCELLER_REMOVE_OTHER_INVOKERS:-false}
MODE=deploy # deploy | dry-run | teardown

CURRENT_STEP=""      # named when the script fails
CHANGES=0            # commands that changed something (or would, in a dry run)
WORK_DIR=""          # generated files; removed on exit
PROJECT_NUMBER=""    # names the Pub/Sub service agent
LONGEST_MESSAGE=""   # seconds one message may keep its request open (canceller/settings.py)
ACK_DEADLINE=""      # the trigger subscription's, from the function timeout
DEPLOY=()            # the gcloud functions deploy command, without its digest label
SERVICE=""           # the function's Cloud Run service, once deployed
TRIGGER=""           # the function's Eventarc trigger, once deployed
METRIC_CONFIG=""     # a log metric's generated configuration file
METRIC_DESCRIPTION="" # carries a digest of that configuration, to detect changes
RENDERED_DIGEST=""   # the digest render_template wrote into its output
SILENCE_SECONDS=""   # how long without an execution means the sweeps stopped ("": no alert)
SCOPES=()            # folders/F and organizations/O: ALLOWED_ANCESTORS, where the role is granted
SECRET_ID=""         # --notify-webhook-secret's secret, and the project it is in
SECRET_PROJECT=""
ORG_SCALE=false      # true: the function resolves budgets or searches scopes (see configure)

usage() {
  cat <<EOF
Usage: ./deploy.sh [FLAGS]

Deploys the dataproc-canceller Cloud Run function (2nd gen), triggered by a Pub/Sub
topic, with everything it needs. Safe to rerun: every step checks before it creates,
and a rerun with nothing to do changes nothing and says so.

Modes
  --dry-run                 Print every command a first run would execute; run none
                            (no gcloud call at all, so --project is required).
  --teardown                Print the commands that remove everything this script
                            creates; run none. Review, then: ./deploy.sh --teardown | bash
  -h, --help                This text.

Flags (each also read from the environment variable shown; flags win)
  --project ID              CANCELLER_PROJECT        Project to deploy to.
                            Default: gcloud config get-value project.
  --region REGION           CANCELLER_REGION         Default: us-central1.
  --function NAME           CANCELLER_FUNCTION       Default: dataproc-canceller.
                            Also names the service accounts (NAME, NAME-invoker),
                            the IAM role, the sweep job and the log metric.
  --trigger-topic NAME      CANCELLER_TRIGGER_TOPIC  Default: dataproc-cancel-requests.
  --results-topic NAME      CANCELLER_RESULTS_TOPIC  Default: dataproc-cancel-results.
  --dead-letter-topic NAME  CANCELLER_DEAD_LETTER_TOPIC
                            Default: TRIGGER_TOPIC-dead-letter.
  --target-projects P1,P2   CANCELLER_TARGET_PROJECTS
                            Projects whose Dataproc operations may be cancelled: the
                            function's ALLOWED_PROJECTS, and where the IAM role is
                            created and granted. Default: the deployment project.
  --verify-timeout SECONDS  CANCELLER_VERIFY_TIMEOUT How long the function checks that a
                            cancel took effect (VERIFY_TIMEOUT_SECONDS). 0-240, default 60.
  --timeout SECONDS         CANCELLER_TIMEOUT        Function timeout. Default, and least
                            accepted: the longest one message may take, from the function
                            settings (RETRY_DEADLINE_SECONDS + VERIFY_TIMEOUT_SECONDS +
                            2 x PUBLISH_TIMEOUT_SECONDS + 23.05 for a chat notification,
                            decoding, logging and a cold start; 204 with the defaults); at most
                            $MAX_EVENT_FUNCTION_TIMEOUT, the ceiling for event-driven functions. The trigger's
                            ack deadline is set to the timeout plus $ACK_MARGIN (at most $MAX_ACK_DEADLINE).
  --memory SIZE             CANCELLER_MEMORY         Default: 256Mi.
  --max-instances N         CANCELLER_MAX_INSTANCES  Default: 10.
  --runtime RUNTIME         CANCELLER_RUNTIME        Default: python312.
  --max-delivery-attempts N CANCELLER_MAX_DELIVERY_ATTEMPTS
                            Deliveries of a failing trigger message before it moves to
                            the dead-letter topic. 5-100, default 10.
  --setting NAME=VALUE      CANCELLER_SETTINGS (NAME=VALUE;NAME=VALUE)
                            A function setting (canceller/settings.py); repeatable.
                            NAME is one of:
                              $(wrapped "                              " "${USER_SETTINGS[@]}")
                            A setting with a flag of its own (e.g. BUDGET_LADDER) is refused
                            here: give the flag. CLUSTER_DELETE_ALLOWED in particular comes
                            only from --allow-cluster-delete, which also sets the role.
                            SWEEP_SCOPES defaults to projects/P/regions/REGION for each
                            target project. Try --setting DRY_RUN=true first: the function
                            then reports what it would cancel and cancels nothing.
  --sweep-schedule CRON     CANCELLER_SWEEP_SCHEDULE Create a Cloud Scheduler job that
                            publishes {"sweep": {}} to the trigger topic on this schedule,
                            e.g. "0 * * * *": each run cancels every running operation in
                            SWEEP_SCOPES that SWEEP_FILTER selects. Default: no job.
  --sweep-time-zone TZ      CANCELLER_SWEEP_TIME_ZONE Default: Etc/UTC.
  --print-wiring            CANCELLER_PRINT_WIRING=true  At the end, print the commands
                            that point a budget and a Monitoring notification channel at
                            the trigger topic (they are not run).
  --billing-account ID      CANCELLER_BILLING_ACCOUNT  The billing account whose budgets
                            notify the function (e.g. 012345-6789AB-CDEF01): it may read them
                            and the projects the account pays for (billing.budgets.get,
                            billing.resourceAssociations.list, granted on the account: an
                            organisation-level custom role FUNCTION_billing in the account's
                            organisation, or $BILLING_VIEWER_ROLE if it has none); enables the
                            Budget and Cloud Billing APIs. Also fills the printed budget commands.
  --scope-folder F          CANCELLER_SCOPE_FOLDERS (comma-separated)
                            A folder (its number) the function may act in: every project under
                            it is allowed (ALLOWED_ANCESTORS). Repeatable. Grants the function
                            the role there, an organisation-level custom role (Dataproc
                            permissions and the reads that find where work is), in the
                            organisation found above the folder (gcloud resource-manager
                            folders describe, parent by parent); enables Cloud Asset.
  --scope-organization O    CANCELLER_SCOPE_ORGANIZATIONS (comma-separated)
                            An organisation (its number) the function may act in; as
                            --scope-folder, for the whole organisation.
  --budget-amount AMOUNT    CANCELLER_BUDGET_AMOUNT    For the printed budget commands,
                            e.g. 500USD.
  --dataproc-requests-per-minute N  CANCELLER_DATAPROC_REQUESTS_PER_MINUTE
                            Dataproc requests a minute the function may make in all (every
                            instance together), per target project and region. Default 600:
                            8 % of Dataproc's default quota of 7,500. Divided by
                            --max-instances into each instance's DATAPROC_REQUESTS_PER_MINUTE.
  --dataproc-job-cancels-per-minute N  CANCELLER_DATAPROC_JOB_CANCELS_PER_MINUTE
                            CancelJob calls a minute in all. Default 200: half of Dataproc's
                            default quota of 400 job operations. Divided by --max-instances
                            into each instance's DATAPROC_JOB_CANCELS_PER_MINUTE.
  --dataproc-cluster-operations-per-minute N  CANCELLER_DATAPROC_CLUSTER_OPERATIONS_PER_MINUTE
                            Cluster stops and deletes a minute in all. Default 100: half of
                            Dataproc's default quota of $DATAPROC_CLUSTER_OPERATION_QUOTA cluster operations. Divided by
                            --max-instances into each instance's
                            DATAPROC_CLUSTER_OPERATIONS_PER_MINUTE.
  --budget-ladder LADDER    CANCELLER_BUDGET_LADDER  What a budget notification does as the cost
                            climbs (BUDGET_LADDER): rungs RATIO:ACTION, comma-separated, e.g.
                            0.5:report,0.9:work,1.2:clusters. report: publish what the rungs
                            above would stop, stop nothing; work: stop SWEEP_KINDS in
                            SWEEP_SCOPES; clusters: that, then stop the clusters. Default: the
                            function's BUDGET_THRESHOLD:work (--setting BUDGET_THRESHOLD=T is
                            the ladder T:work; give one or the other).
  --cluster-incident-action ACTION  CANCELLER_CLUSTER_INCIDENT_ACTION
                            What an incident on a cluster does (CLUSTER_INCIDENT_ACTION): jobs
                            (stop its jobs and operations), stop (those, then stop the
                            cluster) or delete (those, then delete the cluster; needs
                            --allow-cluster-delete). Default: jobs.
  --allow-cluster-delete    CANCELLER_ALLOW_CLUSTER_DELETE=true  Let the function delete
                            clusters (CLUSTER_DELETE_ALLOWED=true) and add
                            dataproc.clusters.delete to its role. Without it the role has no
                            delete, and a rerun without it removes the permission. Only this
                            flag sets CLUSTER_DELETE_ALLOWED, so the role always matches.
  --notification-channel CHANNEL  CANCELLER_NOTIFICATION_CHANNELS (comma-separated)
                            A Monitoring notification channel, projects/P/notificationChannels/ID;
                            repeatable. With at least one, create the alert policies of
                            deploy/monitoring/alert-*.json, notifying these channels (needs
                            the gcloud alpha component: gcloud components install alpha).
  --publisher MEMBER        CANCELLER_PUBLISHERS (comma-separated)
                            Who may publish to the trigger topic, and so stop everything the
                            function may touch: user:EMAIL, group:EMAIL, serviceAccount:EMAIL,
                            domain:DOMAIN, principal://... or principalSet://...; repeatable.
                            roles/pubsub.publisher on the trigger topic is set to exactly these,
                            the function itself (it publishes a big sweep's continuation), and
                            the publishers of --allowed-budget and --allowed-alert-policy;
                            anyone else holding it is removed, and said so. Broader roles on
                            the topic or the project are reported, not changed.
  --allowed-budget ID       CANCELLER_ALLOWED_BUDGETS (comma-separated)
                            A budget whose notifications may sweep (ALLOWED_BUDGETS); repeatable.
                            With at least one, billing-budget-alert@system.gserviceaccount.com
                            may publish to the trigger topic. Default: no budget may publish.
  --allowed-alert-policy NAME  CANCELLER_ALLOWED_ALERT_POLICIES (comma-separated)
                            An alert policy (its display name, an incident's policy_name) whose
                            incidents may stop work (ALLOWED_ALERT_POLICIES); repeatable. With at
                            least one, the Monitoring notification agent
                            service-PROJECT_NUMBER@gcp-sa-monitoring-notification may publish to
                            the trigger topic (if that grant fails because the agent does not
                            exist yet, create the Pub/Sub channel first: --print-wiring).
                            Default: no alert policy may publish.
  --remove-other-invokers   CANCELLER_REMOVE_OTHER_INVOKERS=true  Remove roles/run.invoker on
                            the function's Cloud Run service from everyone but FUNCTION-invoker
                            (e.g. allUsers). Without it they are only reported.
  --results-bigquery-table PROJECT.DATASET.TABLE  CANCELLER_RESULTS_BIGQUERY_TABLE
                            Also keep every result in this BigQuery table: the dataset (if
                            missing, in --region) and the table (schema
                            deploy/bigquery/results-schema.json, from schemas/result.proto),
                            and a BigQuery subscription on the results topic. Needs python3.
  --notify-webhook-secret NAME  CANCELLER_NOTIFY_WEBHOOK_SECRET
                            The Secret Manager secret holding the Google Chat or Slack
                            incoming-webhook URL the function tells people through
                            (NOTIFY_WEBHOOK_URL): NAME in this project, or
                            projects/P/secrets/NAME in another. Mounted as that variable
                            (version latest, read when an instance starts); never a plain
                            setting, and its value is never read or shown here. Enables
                            Secret Manager; the secret must exist with an enabled version:
                              read -rs URL && printf %s "\$URL" |
                                gcloud secrets create NAME --project=P --data-file=-
                            The function's service account may access that secret only. A
                            rerun without it unmounts the secret: nobody is told.

What it does, in order
  1. Project and settings: check the function settings with canceller/settings.py (needs
     python3) and size the function timeout and ack deadline from them; find the project
     and its number.
  2. APIs: enable the ones that are not yet enabled (Cloud Functions, Cloud Run, Cloud
     Build, Artifact Registry, Eventarc, Pub/Sub, Logging, IAM, Resource Manager, and
     Cloud Monitoring, and Cloud Scheduler with --sweep-schedule, BigQuery with
     --results-bigquery-table, Billing Budgets and Cloud Billing with --billing-account,
     Cloud Asset at organisation scale, Secret Manager with --notify-webhook-secret).
  3. Service accounts: FUNCTION (the function's identity) and FUNCTION-invoker (the
     identity Eventarc uses to call the function).
  4. IAM role: a custom role FUNCTION (dashes become underscores) in each target project,
     granted there to the function's service account, holding exactly the permissions of
     the calls the function makes, derived from canceller/kinds (python3 -m canceller.role):
       $(help_permissions "       ")
     With --billing-account or a scope flag (or a SWEEP_SCOPES beyond projects/P/regions/R)
     also those of the calls that find where work is in a project:
       $(help_scope_permissions --project-scope "       ")
     With --scope-folder and --scope-organization: the custom role FUNCTION in the
     organisation of each scope, granted on the folder or organisation, with the Dataproc
     permissions and:
       $(help_scope_permissions --scope "       ")
     With --billing-account: FUNCTION_billing in the billing account's organisation (or
     $BILLING_VIEWER_ROLE without one), granted on the account:
       $(help_scope_permissions --billing-account "       ")
  5. Results schema: schemas/result.proto as a Pub/Sub protocol-buffer schema; a changed
     file becomes a new schema revision.
  6. Topics: the trigger topic; the results topic, bound to the schema with JSON encoding
     so malformed results are refused at publish time; the dead-letter topic and a pull
     subscription on it (7 days' retention, never expires).
  7. Publishers: roles/pubsub.publisher on the results topic for the function (results);
     on the trigger topic for exactly the function (a big sweep hands the rest of its work
     on there), each --publisher, and the budget and Monitoring publishers of
     --allowed-budget and --allowed-alert-policy: others are removed. Members with broader
     roles on the topic, or publishing roles on the project, are reported.
  8. Trigger identity: the Pub/Sub service agent may mint tokens for FUNCTION-invoker
     (needed by projects whose Pub/Sub agent predates April 2021).
  9. Function: gcloud functions deploy (2nd gen, Pub/Sub trigger, --retry, no
     unauthenticated calls, internal-only ingress). Skipped when the source files and
     every setting are unchanged since the last deployment (label deploy_digest).
 10. Invoker: roles/run.invoker for FUNCTION-invoker on the function's service; anyone
     else holding it is reported (removed with --remove-other-invokers).
 11. Trigger subscription: on the subscription Eventarc created for the trigger, the ack
     deadline (the function timeout plus $ACK_MARGIN s) and a dead-letter policy to the
     dead-letter topic; the Pub/Sub service agent gets publisher on that topic and
     subscriber on that subscription, which dead-lettering needs.
 12. Sweep job (with --sweep-schedule).
 13. Log metrics: FUNCTION-outcomes counts the function's result log lines, labelled by
     outcome, kind, project and trigger kind; FUNCTION-time-to-stop is the distribution of
     the elapsed seconds of CANCELLED results, by kind; FUNCTION-sweep-found, -selected
     and -acted the distributions of what each SWEEP_SUMMARY found, selected, stopped;
     FUNCTION-burn-stopped and -saved-up-to the dollars an hour and the dollars saved (list
     price, upper bound) of what CANCELLED results stopped, by kind, project and trigger
     kind; FUNCTION-notifications counts chat notifications SENT and FAILED, by service.
 14. Dashboard FUNCTION (deploy/monitoring/dashboard.json).
 15. Alert policies (with --notification-channel; deploy/monitoring/alert-*.json): the kill
     switch failed, trigger messages dead-lettered, the function failing, and with
     --sweep-schedule no executions for longer than the schedule implies.
With --results-bigquery-table, before the function: the dataset and table, the Pub/Sub
service agent as roles/bigquery.dataEditor on the table, and the BigQuery subscription
FUNCTION-results-bigquery on the results topic (topic schema, with message metadata).
With --notify-webhook-secret, before the function: the secret is checked (it exists, its
latest version is enabled) and the function's service account gets
$SECRET_ACCESSOR on it alone.

You need roles/owner on the project (or the admin roles for each service above) and
roles/iam.roleAdmin plus roles/resourcemanager.projectIamAdmin on each target project;
with --results-bigquery-table, roles/bigquery.admin on the table's dataset (or project);
with a scope flag or --billing-account, roles/iam.organizationRoleAdmin on the
organisation whose role it makes; with a scope flag, IAM admin on each folder
(roles/resourcemanager.folderIamAdmin) or organisation, and resourcemanager.folders.get on
each folder and the folders above it (roles/browser on the organisation); with
--billing-account, roles/billing.admin on the account; with --notify-webhook-secret,
roles/secretmanager.admin on the secret (to grant access to it).
EOF
}

# For --help: the role's permissions from canceller/kinds, and those --allow-cluster-delete
# adds; without python3, where to find them.
help_permissions() { # help_permissions INDENT
  local base all extra
  if base=$(role_permissions 2>/dev/null) &&
    all=$(role_permissions CLUSTER_DELETE_ALLOWED 2>/dev/null); then
    extra=$(LC_ALL=C comm -13 <(printf '%s\n' "$base") <(printf '%s\n' "$all") | paste -sd' ' -)
    # shellcheck disable=SC2086 # one word per permission
    wrapped "$1" $base
    printf '\n%s%s\n' "$1" "and with --allow-cluster-delete: $extra"
  else
    printf '%s\n' "(python3 not found: PYTHONPATH=. python3 -m canceller.role lists them)"
  fi
}

# For --help: what canceller.role adds for OPTION (--project-scope, --scope: beyond the
# Dataproc permissions; --billing-account: all of them).
help_scope_permissions() { # help_scope_permissions OPTION INDENT
  local base all
  if base=$(role_permissions 2>/dev/null) && all=$(role_permissions "$1" 2>/dev/null); then
    # shellcheck disable=SC2046 # one word per permission
    wrapped "$2" $(LC_ALL=C comm -13 <(printf '%s\n' "$base") <(printf '%s\n' "$all"))
  else
    printf '%s' "(python3 not found: PYTHONPATH=. python3 -m canceller.role $1 lists them)"
  fi
}

wrapped() { # wrapped INDENT WORDS...: the words, wrapped to fit 88 columns after INDENT
  local indent=$1
  shift
  printf '%s' "$*" | fold -s -w $((88 - ${#indent})) | sed -e 's/ *$//' -e "2,\$s/^/$indent/"
}

shown_name() { # shown_name NAME: a setting's name as given, or "(not shown)" if it cannot be one (it may be a secret)
  if [[ $1 =~ ^[A-Z][A-Z0-9_]{0,63}$ ]]; then printf '%s' "$1"; else printf '(not shown)'; fi
}

usage_error() {
  printf 'deploy.sh: %s\nRun ./deploy.sh --help for usage.\n' "$1" >&2
  exit 2
}

parse_args() {
  while (($#)); do
    case $1 in
    --*=*) set -- "${1%%=*}" "${1#*=}" "${@:2}" ;;
    --dry-run) MODE=dry-run && shift ;;
    --teardown) MODE=teardown && shift ;;
    --print-wiring) PRINT_WIRING=true && shift ;;
    --remove-other-invokers) REMOVE_OTHER_INVOKERS=true && shift ;;
    --allow-cluster-delete) ALLOW_CLUSTER_DELETE=true && shift ;;
    -h | --help) usage && exit 0 ;;
    --project | --region | --function | --trigger-topic | --results-topic | \
      --dead-letter-topic | --target-projects | --verify-timeout | --timeout | --memory | \
      --max-instances | --runtime | --max-delivery-attempts | --setting | \
      --sweep-schedule | --sweep-time-zone | --billing-account | --budget-amount | \
      --dataproc-requests-per-minute | --dataproc-job-cancels-per-minute | \
      --notification-channel | --results-bigquery-table | --publisher | --allowed-budget | \
      --allowed-alert-policy | --dataproc-cluster-operations-per-minute | --budget-ladder | \
      --cluster-incident-action | --scope-folder | --scope-organization | \
      --notify-webhook-secret)
      (($# >= 2)) || usage_error "$1 needs a value"
      set_flag "$1" "$2"
      shift 2
      ;;
    *) usage_error "unknown argument: $1" ;;
    esac
  done
}

set_flag() {
  case $1 in
  --project) PROJECT=$2 ;;
  --region) REGION=$2 ;;
  --function) FUNCTION=$2 ;;
  --trigger-topic) TRIGGER_TOPIC=$2 ;;
  --results-topic) RESULTS_TOPIC=$2 ;;
  --dead-letter-topic) DEAD_LETTER_TOPIC=$2 ;;
  --target-projects) TARGET_PROJECTS=$2 ;;
  --verify-timeout) VERIFY_TIMEOUT=$2 ;;
  --timeout) FUNCTION_TIMEOUT=$2 ;;
  --memory) MEMORY=$2 ;;
  --max-instances) MAX_INSTANCES=$2 ;;
  --runtime) RUNTIME=$2 ;;
  --max-delivery-attempts) MAX_DELIVERY_ATTEMPTS=$2 ;;
  --setting) SETTINGS+=("$2") ;;
  --sweep-schedule) SWEEP_SCHEDULE=$2 ;;
  --sweep-time-zone) SWEEP_TIME_ZONE=$2 ;;
  --billing-account) BILLING_ACCOUNT=$2 ;;
  --budget-amount) BUDGET_AMOUNT=$2 ;;
  --dataproc-requests-per-minute) REQUESTS_PER_MINUTE=$2 ;;
  --dataproc-job-cancels-per-minute) JOB_CANCELS_PER_MINUTE=$2 ;;
  --dataproc-cluster-operations-per-minute) CLUSTER_OPERATIONS_PER_MINUTE=$2 ;;
  --budget-ladder) BUDGET_LADDER=$2 ;;
  --cluster-incident-action) CLUSTER_INCIDENT_ACTION=$2 ;;
  --notification-channel) CHANNELS+=("$2") ;;
  --results-bigquery-table) RESULTS_TABLE=$2 ;;
  --publisher) PUBLISHERS+=("$2") ;;
  --allowed-budget) ALLOWED_BUDGETS+=("$2") ;;
  --allowed-alert-policy) ALLOWED_ALERT_POLICIES+=("$2") ;;
  --scope-folder) SCOPE_FOLDERS+=("$2") ;;
  --scope-organization) SCOPE_ORGANIZATIONS+=("$2") ;;
  --notify-webhook-secret) NOTIFY_SECRET=$2 ;;
  esac
}

# --- checks of the configuration (no gcloud call) ---------------------------------------

check_match() { # check_match WHAT VALUE REGEX HINT
  [[ $2 =~ $3 ]] || usage_error "$1 '$2' is not valid: $4"
}

check_range() { # check_range WHAT VALUE LOW HIGH
  # The pattern comes first: bash arithmetic would evaluate any other text as an expression.
  if ! [[ $2 =~ ^(0|[1-9][0-9]*)$ ]] || (($2 < $3 || $2 > $4)); then
    usage_error "$1 '$2' is not valid: a whole number from $3 to $4"
  fi
}

readonly RUNG_RE='([0-9]+(\.[0-9]*)?|\.[0-9]+):(report|work|clusters)' # BUDGET_LADDER
readonly PROJECT_ID_RE='^[a-z][a-z0-9-]{4,28}[a-z0-9]$'
readonly TOPIC_RE='^[A-Za-z][A-Za-z0-9._~+%-]{2,254}$'
# An IAM principal that names someone: not allUsers or allAuthenticatedUsers.
readonly MEMBER_RE='^((user|group|serviceAccount):[^@[:space:],;]+@[^@[:space:],;]+|domain:[A-Za-z0-9.-]+|principal(Set)?://[^[:space:],;]+)$'

validate_config() {
  check_match "--region" "$REGION" '^[a-z]+-[a-z]+[0-9]+$' "e.g. us-central1"
  check_match "--function" "$FUNCTION" '^[a-z][a-z0-9-]{4,20}[a-z0-9]$' \
    "6-22 lowercase letters, digits and dashes (it also names service accounts)"
  local topic
  for topic in "$TRIGGER_TOPIC" "$RESULTS_TOPIC" "$DEAD_LETTER_TOPIC"; do
    check_match "topic" "$topic" "$TOPIC_RE" "3-255 letters, digits or . _ ~ + % -, from a letter"
  done
  [[ $TRIGGER_TOPIC != "$RESULTS_TOPIC" ]] ||
    usage_error "the trigger and results topics must differ, or every result triggers again"
  local target
  for target in "${TARGETS[@]}"; do
    check_match "target project" "$target" "$PROJECT_ID_RE" "a project ID (not * nor a number)"
  done
  check_range "--verify-timeout" "$VERIFY_TIMEOUT" 0 240
  # Whether it fits one message's work is judged with the settings (size_function).
  [[ -z $FUNCTION_TIMEOUT ]] ||
    check_range "--timeout" "$FUNCTION_TIMEOUT" 1 "$MAX_EVENT_FUNCTION_TIMEOUT"
  check_match "--memory" "$MEMORY" '^[0-9]+(Mi|Gi)$' "e.g. 256Mi or 1Gi"
  check_range "--max-instances" "$MAX_INSTANCES" 1 1000
  check_match "--runtime" "$RUNTIME" '^python3[0-9]+$' "a Python runtime, e.g. python312"
  check_range "--max-delivery-attempts" "$MAX_DELIVERY_ATTEMPTS" 5 100
  if [[ -n $SWEEP_SCHEDULE ]]; then
    check_match "--sweep-schedule" "$SWEEP_SCHEDULE" '^[0-9A-Za-z*/,? -]+$' \
      "a cron schedule, e.g. \"0 * * * *\""
  fi
  check_range "--dataproc-requests-per-minute" "$REQUESTS_PER_MINUTE" 1 "$DATAPROC_REQUEST_QUOTA"
  check_range "--dataproc-job-cancels-per-minute" "$JOB_CANCELS_PER_MINUTE" 1 \
    "$DATAPROC_JOB_OPERATION_QUOTA"
  check_range "--dataproc-cluster-operations-per-minute" "$CLUSTER_OPERATIONS_PER_MINUTE" 1 \
    "$DATAPROC_CLUSTER_OPERATION_QUOTA"
  # The rungs' figures and order are canceller/settings.py's to judge (step_project); this
  # keeps out what --set-env-vars cannot carry.
  BUDGET_LADDER=${BUDGET_LADDER// /}
  if [[ -n $BUDGET_LADDER ]]; then
    check_match "--budget-ladder" "$BUDGET_LADDER" "^$RUNG_RE(,$RUNG_RE)*\$" \
      "RATIO:ACTION rungs, comma-separated, ACTION one of report, work, clusters, e.g. 0.5:report,0.9:work,1.2:clusters"
  fi
  [[ $ALLOW_CLUSTER_DELETE == true || $ALLOW_CLUSTER_DELETE == false ]] ||
    usage_error "CANCELLER_ALLOW_CLUSTER_DELETE must be true or false"
  check_match "--cluster-incident-action" "$CLUSTER_INCIDENT_ACTION" '^(jobs|stop|delete)$' \
    "jobs, stop or delete"
  [[ $CLUSTER_INCIDENT_ACTION != delete || $ALLOW_CLUSTER_DELETE == true ]] ||
    usage_error "--cluster-incident-action delete needs --allow-cluster-delete (which lets the function delete clusters and adds dataproc.clusters.delete to its role)"
  local channel
  for channel in "${CHANNELS[@]}"; do
    check_match "--notification-channel" "$channel" \
      '^projects/[a-z][a-z0-9-]{4,28}[a-z0-9]/notificationChannels/[0-9]+$' \
      "projects/PROJECT/notificationChannels/ID (gcloud beta monitoring channels list)"
  done
  if [[ -n $RESULTS_TABLE ]]; then
    check_match "--results-bigquery-table" "$RESULTS_TABLE" \
      '^[a-z][a-z0-9-]{4,28}[a-z0-9]\.[A-Za-z0-9_]{1,1024}\.[A-Za-z0-9_-]{1,1024}$' \
      "PROJECT.DATASET.TABLE, e.g. finops-prod.dataproc.cancel_results"
  fi
  [[ $PRINT_WIRING == true || $PRINT_WIRING == false ]] ||
    usage_error "CANCELLER_PRINT_WIRING must be true or false"
  [[ $REMOVE_OTHER_INVOKERS == true || $REMOVE_OTHER_INVOKERS == false ]] ||
    usage_error "CANCELLER_REMOVE_OTHER_INVOKERS must be true or false"
  local member budget index
  for member in "${PUBLISHERS[@]}"; do
    [[ $member != allUsers && $member != allAuthenticatedUsers ]] ||
      usage_error "--publisher $member would let anyone stop everything the function may touch"
    check_match "--publisher" "$member" "$MEMBER_RE" \
      "user:EMAIL, group:EMAIL, serviceAccount:EMAIL, domain:DOMAIN, principal://... or principalSet://..."
  done
  for budget in "${ALLOWED_BUDGETS[@]}"; do
    check_match "--allowed-budget" "$budget" '^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$' \
      "a budget ID (the last part of billingAccounts/ACCOUNT/budgets/ID), e.g. 0a1b2c3d-..."
  done
  for index in "${!ALLOWED_ALERT_POLICIES[@]}"; do
    ALLOWED_ALERT_POLICIES[index]=$(trim "${ALLOWED_ALERT_POLICIES[index]}")
    check_match "--allowed-alert-policy" "${ALLOWED_ALERT_POLICIES[index]}" '^[^,;]{1,512}$' \
      "an alert policy's display name (an incident's policy_name), without ',' or ';'"
  done
  # Given as a number or a resource name; kept as the number, and once.
  BILLING_ACCOUNT=${BILLING_ACCOUNT#billingAccounts/}
  if [[ -n $BILLING_ACCOUNT ]]; then
    check_match "--billing-account" "$BILLING_ACCOUNT" '^[0-9A-F]{6}-[0-9A-F]{6}-[0-9A-F]{6}$' \
      "a billing account ID, e.g. 012345-6789AB-CDEF01 (gcloud billing accounts list)"
  fi
  local scope
  SCOPES=()
  for scope in "${SCOPE_FOLDERS[@]}"; do
    check_match "--scope-folder" "${scope#folders/}" '^[0-9]{1,20}$' \
      "a folder's number, e.g. 123456789012 (gcloud resource-manager folders list)"
    [[ " ${SCOPES[*]} " == *" folders/${scope#folders/} "* ]] || SCOPES+=("folders/${scope#folders/}")
  done
  for scope in "${SCOPE_ORGANIZATIONS[@]}"; do
    check_match "--scope-organization" "${scope#organizations/}" '^[0-9]{1,20}$' \
      "an organisation's number, e.g. 123456789012 (gcloud organizations list)"
    [[ " ${SCOPES[*]} " == *" organizations/${scope#organizations/} "* ]] ||
      SCOPES+=("organizations/${scope#organizations/}")
  done
  read_notify_secret
}

# --notify-webhook-secret into SECRET_ID and SECRET_PROJECT: NAME is in the deployment
# project; projects/P/secrets/NAME in P, an ID or a number (gcloud functions deploy
# --help: --set-secrets takes either). What was given is never echoed: given the webhook URL
# by mistake, an error must not print it.
read_notify_secret() {
  local name=$NOTIFY_SECRET project=$PROJECT
  [[ -n $name ]] || return 0
  if [[ $name =~ ^projects/([^/]+)/secrets/([^/]+)$ ]]; then
    project=${BASH_REMATCH[1]}
    name=${BASH_REMATCH[2]}
  fi
  if ! [[ $name =~ $SECRET_RE && ($project =~ $PROJECT_ID_RE || $project =~ ^[0-9]{1,20}$) ]]; then
    usage_error "--notify-webhook-secret takes a Secret Manager secret's name, NAME or projects/PROJECT/secrets/NAME (NAME: letters, digits, - and _), not the webhook URL, which belongs in the secret (what was given is not shown, in case it is the URL)"
  fi
  SECRET_ID=$name
  SECRET_PROJECT=$project
}

trim() { # trim TEXT: without leading and trailing blanks
  local text=$1
  text=${text#"${text%%[![:space:]]*}"}
  printf '%s' "${text%"${text##*[![:space:]]}"}"
}

# FUNCTION_ENV holds the function's environment; its values cannot hold ';', the
# delimiter of --set-env-vars below (see: gcloud topic escaping).
declare -A FUNCTION_ENV=()

build_function_env() {
  local target scopes=()
  for target in "${TARGETS[@]}"; do
    scopes+=("projects/$target/regions/$REGION")
  done
  FUNCTION_ENV=(
    [GOOGLE_CLOUD_PROJECT]=$PROJECT
    [RESULTS_TOPIC]="projects/$PROJECT/topics/$RESULTS_TOPIC"
    [TRIGGER_TOPIC]="projects/$PROJECT/topics/$TRIGGER_TOPIC"
    [ALLOWED_PROJECTS]=$(join_by , "${TARGETS[@]}")
    [VERIFY_TIMEOUT_SECONDS]=$VERIFY_TIMEOUT
    [SWEEP_SCOPES]=$(join_by , "${scopes[@]}")
    [DATAPROC_REQUESTS_PER_MINUTE]=$(per_instance "$REQUESTS_PER_MINUTE")
    [DATAPROC_JOB_CANCELS_PER_MINUTE]=$(per_instance "$JOB_CANCELS_PER_MINUTE")
    [DATAPROC_CLUSTER_OPERATIONS_PER_MINUTE]=$(per_instance "$CLUSTER_OPERATIONS_PER_MINUTE")
    [CLUSTER_INCIDENT_ACTION]=$CLUSTER_INCIDENT_ACTION
    # Said either way, as the role is: the two come from the one flag.
    [CLUSTER_DELETE_ALLOWED]=$ALLOW_CLUSTER_DELETE
  )
  # Unset, the function's BUDGET_THRESHOLD (a --setting) is its one rung.
  [[ -z $BUDGET_LADDER ]] || FUNCTION_ENV[BUDGET_LADDER]=$BUDGET_LADDER
  # Unset means any budget, any policy; the flags narrow them (and let their publisher in).
  ((${#ALLOWED_BUDGETS[@]} == 0)) || FUNCTION_ENV[ALLOWED_BUDGETS]=$(join_by , "${ALLOWED_BUDGETS[@]}")
  ((${#ALLOWED_ALERT_POLICIES[@]} == 0)) ||
    FUNCTION_ENV[ALLOWED_ALERT_POLICIES]=$(join_by , "${ALLOWED_ALERT_POLICIES[@]}")
  # Unset means no folder or organisation: only ALLOWED_PROJECTS.
  ((${#SCOPES[@]} == 0)) || FUNCTION_ENV[ALLOWED_ANCESTORS]=$(join_by , "${SCOPES[@]}")
  local setting name
  for setting in "${SETTINGS[@]}"; do
    # First, and without the value: it is the webhook's secret.
    if [[ $setting == "$NOTIFY_VARIABLE"* ]]; then
      usage_error "--setting $NOTIFY_VARIABLE: the webhook URL is a secret, never a plain setting (anyone who may describe the function would read it): store it in Secret Manager and give --notify-webhook-secret NAME, which mounts it from there (the value given is not shown)"
    fi
    [[ $setting == *=* ]] || usage_error "a --setting is not NAME=VALUE (what was given is not shown: it may be a secret)"
    name=${setting%%=*}
    if [[ $name == CLUSTER_DELETE_ALLOWED ]]; then
      usage_error "--setting CLUSTER_DELETE_ALLOWED: give --allow-cluster-delete instead, which also adds dataproc.clusters.delete to the role (and leaving it out removes it), so the role always matches the setting"
    fi
    if [[ $name == ALLOWED_ANCESTORS ]]; then
      usage_error "--setting ALLOWED_ANCESTORS: give --scope-folder F or --scope-organization O instead (repeatable), which also grant the function's role there, so the allowlist always matches the grants"
    fi
    [[ -z $name || -z ${SETTING_FLAGS[$name]:-} ]] ||
      usage_error "--setting $name: deploy.sh sets it from ${SETTING_FLAGS[$name]}; give that flag instead"
    [[ " ${USER_SETTINGS[*]} " == *" $name "* ]] ||
      usage_error "--setting $(shown_name "$name") is not one of: ${USER_SETTINGS[*]}"
    [[ $setting != *[$';\n']* ]] || usage_error "--setting $name: the value cannot hold ';' or a newline"
    FUNCTION_ENV[$name]=${setting#*=}
  done
}

# A project-wide budget split between the instances: each may spend its share (at least 1).
per_instance() {
  local share=$(($1 / MAX_INSTANCES))
  echo $((share > 0 ? share : 1))
}

configure() {
  parse_args "$@"
  DEAD_LETTER_TOPIC=${DEAD_LETTER_TOPIC:-$TRIGGER_TOPIC-dead-letter}
  if [[ -z $PROJECT ]]; then
    [[ $MODE != dry-run ]] ||
      usage_error "--dry-run makes no gcloud call, not even to read your configuration: give --project"
    PROJECT=$(gcloud config get-value project 2>/dev/null) ||
      usage_error "could not read the project from gcloud's configuration: give --project"
    [[ -n $PROJECT ]] || usage_error "no project: give --project or run gcloud config set project ID"
  fi
  check_match "--project" "$PROJECT" "$PROJECT_ID_RE" "a project ID"
  IFS=',' read -r -a TARGETS <<<"${TARGET_PROJECTS// /}"
  ((${#TARGETS[@]})) || TARGETS=("$PROJECT")
  validate_config
  build_function_env

  FUNCTION_SA="$FUNCTION@$PROJECT.iam.gserviceaccount.com"
  INVOKER_SA="$FUNCTION-invoker@$PROJECT.iam.gserviceaccount.com"
  ROLE_ID=${FUNCTION//-/_}
  BILLING_ROLE_ID="${ROLE_ID}_billing"
  ORG_SCALE=$(organisation_scale)
  SCHEMA="$RESULTS_TOPIC-schema"
  DEAD_LETTER_SUBSCRIPTION="$DEAD_LETTER_TOPIC-sub"
  SWEEP_JOB="$FUNCTION-sweep"
  METRIC="$FUNCTION-outcomes"
  TIME_METRIC="$FUNCTION-time-to-stop"
  SWEEP_METRICS=("$FUNCTION-sweep-found" "$FUNCTION-sweep-selected" "$FUNCTION-sweep-acted")
  BURN_METRIC="$FUNCTION-burn-stopped"
  SAVED_METRIC="$FUNCTION-saved-up-to"
  NOTIFY_METRIC="$FUNCTION-notifications"
  BQ_SUBSCRIPTION="$FUNCTION-results-bigquery"
  if [[ -n $RESULTS_TABLE ]]; then
    local parts
    IFS=. read -r -a parts <<<"$RESULTS_TABLE"
    BQ_DATASET="${parts[0]}:${parts[1]}" # bq's and gcloud's spelling: PROJECT:DATASET[.TABLE]
    BQ_TABLE="$BQ_DATASET.${parts[2]}"
  fi
  SILENCE_SECONDS=$(silence_seconds "$SWEEP_SCHEDULE")
}

# Whether the function works at organisation scale, and so reads more than Dataproc in the
# target projects: it resolves a budget's projects (numbers, read with Resource Manager) and
# finds where their work is with Cloud Asset when it may read budgets (--billing-account),
# when it acts in folders or organisations (a scope flag), or when SWEEP_SCOPES names
# something other than projects/P/regions/R (a whole project, a folder, an organisation).
organisation_scale() {
  local scopes scope
  if [[ -n $BILLING_ACCOUNT ]] || ((${#SCOPES[@]})); then
    echo true
    return 0
  fi
  IFS=',' read -r -a scopes <<<"${FUNCTION_ENV[SWEEP_SCOPES]// /}"
  for scope in "${scopes[@]}"; do
    if [[ -n $scope && ! $scope =~ ^projects/[^/]+/regions/[^/]+$ ]]; then
      echo true
      return 0
    fi
  done
  echo false
}

# How long the function may go without an execution before the sweeps have surely stopped:
# twice the schedule's interval plus ten minutes. Empty when there is no schedule, its
# interval is not one this reads (*/N or fixed minutes, hours; a daily time), or the result
# would exceed a day.
silence_seconds() {
  local minute hour rest interval=""
  [[ -n $1 ]] || return 0
  read -r minute hour rest <<<"$1"
  if [[ $rest != "* * *" ]]; then
    interval=""
  elif [[ $minute == "*" && $hour == "*" ]]; then
    interval=60
  elif [[ $minute =~ ^\*/([0-9]+)$ && $hour == "*" ]]; then
    interval=$((10#${BASH_REMATCH[1]} * 60))
  elif [[ $minute =~ ^[0-9]+$ && $hour == "*" ]]; then
    interval=3600
  elif [[ $minute =~ ^[0-9]+$ && $hour =~ ^\*/([0-9]+)$ ]]; then
    interval=$((10#${BASH_REMATCH[1]} * 3600))
  elif [[ $minute =~ ^[0-9]+$ && $hour =~ ^[0-9]+$ ]]; then
    interval=86400
  fi
  [[ -n $interval ]] || return 0
  local seconds=$((2 * interval + 600))
  ((seconds > MAX_SILENCE_SECONDS)) || echo "$seconds"
}

# --- running commands ------------------------------------------------------------------

join_by() { # join_by SEPARATOR ITEMS...
  local IFS=$1
  shift
  printf '%s' "$*"
}

# Print a command so that it can be pasted into a shell.
quote() {
  local arg words=()
  for arg in "$@"; do
    if [[ $arg =~ ^[A-Za-z0-9_./:=@,+%-]+$ ]]; then
      words+=("$arg")
    else
      words+=("'${arg//\'/\'\\\'\'}'")
    fi
  done
  printf '%s' "${words[*]}"
}

step() {
  CURRENT_STEP=$1
  printf '\n==> %s\n' "$1"
}

unchanged() { printf '  = %s\n' "$*"; }

warn() { printf '  ! %s\n' "$*"; } # something found that the reader should know

fail() {
  printf '  ! %s\n' "$*" >&2
  return 1
}

# A change: shown, counted, and run unless this is a dry run.
run() {
  CHANGES=$((CHANGES + 1))
  printf '  + %s\n' "$(quote "$@")"
  [[ $MODE == dry-run ]] || "$@"
}

# An IAM change right after creating a service account can fail until IAM has caught up
# (minutes at worst): retry a few times before giving up.
run_iam() {
  local attempt
  for attempt in 1 2 3 4 5; do
    if run "$@"; then
      return 0
    fi
    ((attempt < 5)) || return 1
    CHANGES=$((CHANGES - 1))
    printf '  ! failed; IAM can lag behind a new service account: retrying in %ss\n' $((attempt * 10))
    sleep $((attempt * 10))
  done
}

# A read. A failure (usually: it does not exist) prints nothing; a dry run reads nothing,
# so it shows what a first run would do.
read_state() {
  [[ $MODE != dry-run ]] || return 0
  "$@" 2>/dev/null || true
}

# A bq read. bq prints its errors (e.g. "Not found") on stdout, so its output counts only
# when it succeeded.
read_bq() {
  [[ $MODE != dry-run ]] || return 0
  local out
  if out=$(bq "$@" 2>/dev/null); then
    printf '%s\n' "$out"
  fi
}

# RESOURCE's IAM policy, one "ROLE<TAB>MEMBER" line per member of each binding.
read_policy() { # read_policy "KIND WORDS" RESOURCE FLAGS...
  local -a kind
  read -r -a kind <<<"$1"
  read_state gcloud "${kind[@]}" get-iam-policy "$2" "${@:3}" --flatten='bindings[].members' \
    --format='value(bindings.role,bindings.members)'
}

# Does RESOURCE's IAM policy bind ROLE to MEMBER? Compared exactly, not with --filter,
# whose '=' also matches on word prefixes.
has_binding() { # has_binding ROLE MEMBER GET_IAM_POLICY_COMMAND...
  local role=$1 member=$2 policy
  shift 2
  policy=$(read_state "$@" --flatten='bindings[].members' \
    --format='value(bindings.role,bindings.members)')
  grep -Fxq -- "$role"$'\t'"$member" <<<"$policy"
}

# ensure_binding "KIND WORDS" RESOURCE ROLE MEMBER [FLAGS...], e.g.
# ensure_binding "pubsub topics" results roles/pubsub.publisher serviceAccount:x --project=P
ensure_binding() {
  local kind_words=$1 resource=$2 role=$3 member=$4
  shift 4
  local -a kind add_flags=()
  read -r -a kind <<<"$kind_words"
  # These policies may hold conditional bindings; without a prompt gcloud then refuses an
  # unconditional binding unless told --condition=None.
  case $kind_words in
  projects | "iam service-accounts" | "resource-manager folders" | organizations | secrets)
    add_flags=(--condition=None)
    ;;
  esac
  if has_binding "$role" "$member" gcloud "${kind[@]}" get-iam-policy "$resource" "$@"; then
    unchanged "$member has $role on $resource"
  else
    run_iam gcloud "${kind[@]}" add-iam-policy-binding "$resource" "$@" "${add_flags[@]}" \
      --member="$member" --role="$role" --format=none
  fi
}

sha256() {
  if command -v sha256sum >/dev/null; then
    sha256sum | cut -c1-64
  else
    shasum -a 256 | cut -c1-64
  fi
}

# --- steps -------------------------------------------------------------------------------

step_project() {
  step "Project and settings"
  check_function_settings # first: a refusal here comes before any gcloud call
  read_role_permissions
  report_unscoped_sweeps
  if [[ $MODE == dry-run ]]; then
    PROJECT_NUMBER="<PROJECT_NUMBER>"
  else
    PROJECT_NUMBER=$(gcloud projects describe "$PROJECT" --format='value(projectNumber)')
    [[ -n $PROJECT_NUMBER ]] || fail "project $PROJECT has no number: is the ID right?"
  fi
  unchanged "project $PROJECT (number $PROJECT_NUMBER), region $REGION, targets ${TARGETS[*]}"
  local requests=${FUNCTION_ENV[DATAPROC_REQUESTS_PER_MINUTE]}
  local cancels=${FUNCTION_ENV[DATAPROC_JOB_CANCELS_PER_MINUTE]}
  local clusters=${FUNCTION_ENV[DATAPROC_CLUSTER_OPERATIONS_PER_MINUTE]}
  unchanged "request budget: each of up to $MAX_INSTANCES instances may make $requests Dataproc" \
    "requests a minute: $((requests * MAX_INSTANCES)) in all (of Dataproc's default" \
    "$DATAPROC_REQUEST_QUOTA per project and region); and $cancels job cancels a minute:" \
    "$((cancels * MAX_INSTANCES)) in all (of $DATAPROC_JOB_OPERATION_QUOTA); and $clusters" \
    "cluster stops or deletes a minute: $((clusters * MAX_INSTANCES)) in all (of" \
    "$DATAPROC_CLUSTER_OPERATION_QUOTA)"
}

# The role's permissions, one a line, sorted: canceller/role.py derives them from the kind
# registry (standard library only, like canceller.settings), adding those of the calls a
# flag allows: CLUSTER_DELETE_ALLOWED (--allow-cluster-delete) adds dataproc.clusters.delete.
role_permissions() { # role_permissions [SETTING...]
  env -i PATH="$PATH" HOME="${HOME:-/}" PYTHONPATH="$ROOT" python3 -m canceller.role "$@"
}

# read_permissions ARRAY [ROLE_ARGUMENTS...]: python3 -m canceller.role's list into ARRAY.
read_permissions() {
  local -n into=$1
  local text permission
  shift
  text=$(role_permissions "$@") ||
    fail "python3 -m canceller.role $* could not list the role's permissions"
  mapfile -t into <<<"$text"
  for permission in "${into[@]}"; do
    [[ $permission =~ ^[a-z]+\.[a-zA-Z]+\.[a-zA-Z]+$ ]] ||
      fail "python3 -m canceller.role $* printed '$permission', not an IAM permission"
  done
}

read_role_permissions() {
  local enabled=() project_scope=() permission
  local delete="no dataproc.clusters.delete (--allow-cluster-delete adds it)"
  if [[ $ALLOW_CLUSTER_DELETE == true ]]; then
    enabled+=(CLUSTER_DELETE_ALLOWED)
    delete="with dataproc.clusters.delete (--allow-cluster-delete)"
  fi
  [[ $ORG_SCALE == false ]] || project_scope=(--project-scope)
  read_permissions DATAPROC_PERMISSIONS "${project_scope[@]}" "${enabled[@]}"
  local others
  others=$(printf '%s\n' "${DATAPROC_PERMISSIONS[@]}" | grep -v '^dataproc\.' | paste -sd' ' -) ||
    true
  unchanged "role: the $(printf '%s\n' "${DATAPROC_PERMISSIONS[@]}" | grep -c '^dataproc\.')" \
    "permissions canceller/kinds derives, $delete"
  if [[ $ORG_SCALE == true ]]; then
    unchanged "organisation scale: the target projects' role also holds $others (a budget" \
      "names its projects by number, and work is found with Cloud Asset)"
  fi
  if ((${#SCOPES[@]})); then
    read_permissions SCOPE_PERMISSIONS --scope "${enabled[@]}"
    unchanged "scope role: ${#SCOPE_PERMISSIONS[@]} permissions on ${SCOPES[*]}"
  fi
  if [[ -n $BILLING_ACCOUNT ]]; then
    read_permissions BILLING_PERMISSIONS --billing-account
    for permission in "${BILLING_PERMISSIONS[@]}"; do
      [[ " ${BILLING_VIEWER_HOLDS[*]} " == *" $permission "* ]] ||
        fail "the billing account's role needs $permission, which deploy.sh does not know" \
          "$BILLING_VIEWER_ROLE to hold (BILLING_VIEWER_HOLDS): check that role and update the list"
    done
    unchanged "billing account role: ${BILLING_PERMISSIONS[*]} on $BILLING_ACCOUNT"
  fi
}

# A folder or organisation in SWEEP_SCOPES that no scope flag names is neither allowed
# (ALLOWED_ANCESTORS) nor granted: the function would refuse every project in it.
report_unscoped_sweeps() {
  local scopes scope
  IFS=',' read -r -a scopes <<<"${FUNCTION_ENV[SWEEP_SCOPES]// /}"
  for scope in "${scopes[@]}"; do
    [[ $scope =~ ^(folders|organizations)/ ]] || continue
    [[ " ${SCOPES[*]} " != *" $scope "* ]] || continue
    warn "SWEEP_SCOPES names $scope, but no --scope-${BASH_REMATCH[1]%s} gives it: it is" \
      "not in ALLOWED_ANCESTORS and the function has no role there, so a sweep of it stops" \
      "nothing (unless its projects are target projects)"
  done
}

# The function reads its settings once per instance; a bad value would fail every
# message. canceller/settings.py itself judges them here, before anything is deployed, with
# exactly the environment the function will get, and says how long one message may take
# (Settings.longest_message_seconds), which sizes the function's timeout. Without python3
# the script refuses rather than guess: a timeout computed here from its own defaults could
# fall short of the settings the function really gets.
check_function_settings() {
  command -v python3 >/dev/null ||
    fail "python3 not found: deploy.sh needs it to check the function settings with" \
      "canceller/settings.py and to size the function timeout from them (install python3, rerun)"
  local name pairs=() figures
  for name in "${!FUNCTION_ENV[@]}"; do
    pairs+=("$name=${FUNCTION_ENV[$name]}")
  done
  # canceller.settings and what it imports (the kind registry) use the standard library
  # only, so any python3 can load them from the repository.
  figures=$(env -i PATH="$PATH" HOME="${HOME:-/}" PYTHONPATH="$ROOT" "${pairs[@]}" python3 - <<'PY'
import math
import sys

import canceller.settings as module

try:
    settings = module.load_settings()
except module.SettingsError as error:
    sys.exit(f"  ! function setting: {error}")
longest = settings.longest_message_seconds
parts = (
    settings.retry_deadline_seconds,
    settings.verify_timeout_seconds,
    settings.publish_timeout_seconds,
)
margin = longest - parts[0] - parts[1] - 2 * parts[2]
# The whole seconds a function timeout needs, then the terms of the sum, for the message.
print(math.ceil(longest), *(f"{value:g}" for value in (*parts, margin)), sep="\t")
PY
  )
  unchanged "function settings accepted by canceller/settings.py"
  size_function "$figures"
}

# The function timeout and the trigger subscription's ack deadline, from what one message
# may take: the platform must never end a request after its stops and before its results.
size_function() { # size_function "LONGEST<TAB>RETRY<TAB>VERIFY<TAB>PUBLISH<TAB>MARGIN"
  local retry verify publish margin sum
  IFS=$'\t' read -r LONGEST_MESSAGE retry verify publish margin <<<"$1"
  sum="RETRY_DEADLINE_SECONDS $retry + VERIFY_TIMEOUT_SECONDS $verify + 2 x PUBLISH_TIMEOUT_SECONDS $publish + $margin s more: a chat notification, decoding, logging, a cold start"
  ((LONGEST_MESSAGE <= MAX_EVENT_FUNCTION_TIMEOUT)) ||
    fail "one message may take up to $LONGEST_MESSAGE s ($sum), more than the" \
      "$MAX_EVENT_FUNCTION_TIMEOUT s an event-driven function may run: lower --verify-timeout," \
      "or the RETRY_DEADLINE_SECONDS or PUBLISH_TIMEOUT_SECONDS setting"
  if [[ -z $FUNCTION_TIMEOUT ]]; then
    FUNCTION_TIMEOUT=$LONGEST_MESSAGE
  elif ((FUNCTION_TIMEOUT < LONGEST_MESSAGE)); then
    fail "--timeout $FUNCTION_TIMEOUT is shorter than one message may take, $LONGEST_MESSAGE s" \
      "($sum): the platform would end a request after its stops and before its results." \
      "Give --timeout $LONGEST_MESSAGE or more (at most $MAX_EVENT_FUNCTION_TIMEOUT), or leave it out"
  fi
  ACK_DEADLINE=$((FUNCTION_TIMEOUT + ACK_MARGIN))
  ((ACK_DEADLINE <= MAX_ACK_DEADLINE)) || ACK_DEADLINE=$MAX_ACK_DEADLINE
  unchanged "one message may take up to $LONGEST_MESSAGE s ($sum): function timeout" \
    "$FUNCTION_TIMEOUT s, trigger ack deadline $ACK_DEADLINE s"
}

step_apis() {
  step "APIs"
  local apis=("${BASE_APIS[@]}") missing=() api enabled
  [[ -z $SWEEP_SCHEDULE ]] || apis+=(cloudscheduler.googleapis.com)
  [[ -z $RESULTS_TABLE ]] || apis+=(bigquery.googleapis.com)
  [[ -z $BILLING_ACCOUNT ]] || apis+=("${BILLING_APIS[@]}")
  [[ $ORG_SCALE == false ]] || apis+=("$ASSET_API")
  [[ -z $NOTIFY_SECRET ]] || apis+=(secretmanager.googleapis.com)
  enabled=$(read_state gcloud services list --enabled --project="$PROJECT" \
    --format='value(config.name)')
  for api in "${apis[@]}"; do
    if grep -Fxq "$api" <<<"$enabled"; then
      unchanged "$api enabled"
    else
      missing+=("$api")
    fi
  done
  ((${#missing[@]} == 0)) || run gcloud services enable "${missing[@]}" --project="$PROJECT"
}

ensure_service_account() { # ensure_service_account EMAIL DISPLAY_NAME DESCRIPTION
  if [[ -n $(read_state gcloud iam service-accounts describe "$1" --project="$PROJECT" \
    --format='value(email)') ]]; then
    unchanged "service account $1 exists"
  else
    run gcloud iam service-accounts create "${1%%@*}" --project="$PROJECT" \
      --display-name="$2" --description="$3"
  fi
}

step_service_accounts() {
  step "Service accounts"
  ensure_service_account "$FUNCTION_SA" "$FUNCTION function" \
    "Runs the $FUNCTION Cloud Run function: stops Dataproc work, publishes results"
  ensure_service_account "$INVOKER_SA" "$FUNCTION trigger" \
    "Identity Eventarc uses to invoke the $FUNCTION function; may do nothing else"
}

# "Exactly the Dataproc calls FUNCTION makes: batches get; clusters get, list, stop; ...",
# from the permissions; "Exactly the calls" when some are not Dataproc's. IAM takes at most
# 256 characters: past that, only the count.
readonly MAX_ROLE_DESCRIPTION=256
role_description() { # role_description PERMISSIONS...
  local permission service plural verb previous="" text="" what="Dataproc calls"
  for permission in "$@"; do
    IFS=. read -r service plural verb <<<"$permission"
    [[ $service == dataproc ]] || what="calls"
    if [[ $plural == "$previous" ]]; then
      text+=", $verb"
    else
      text+="${text:+; }$plural $verb"
    fi
    previous=$plural
  done
  text="Exactly the $what the $FUNCTION function makes: $text"
  ((${#text} <= MAX_ROLE_DESCRIPTION)) ||
    text="Exactly the $what the $FUNCTION function makes: $# permissions (see docs/iam.md in its repository)"
  printf '%s' "$text"
}

# ensure_custom_role PARENT ROLE_ID TITLE PERMISSIONS...: the custom role ROLE_ID of PARENT
# (projects/P or organizations/O) holds exactly PERMISSIONS.
ensure_custom_role() {
  local parent=$1 role_id=$2 title=$3 wanted state deleted have
  shift 3
  local -a where=(--project="${parent#projects/}")
  [[ $parent != organizations/* ]] || where=(--organization="${parent#organizations/}")
  wanted=$(printf '%s\n' "$@" | LC_ALL=C sort)
  state=$(read_state gcloud iam roles describe "$role_id" "${where[@]}" \
    --format='value(deleted,includedPermissions)')
  if [[ -z $state ]]; then
    run gcloud iam roles create "$role_id" "${where[@]}" --title="$title" \
      --description="$(role_description "$@")" --permissions="$(join_by , "$@")" --stage=GA
    return 0
  fi
  deleted=${state%%$'\t'*}
  have=$(tr ';' '\n' <<<"${state#*$'\t'}" | LC_ALL=C sort)
  # A deleted custom role keeps its ID for 7 days and cannot be created again.
  [[ $deleted != True ]] || run gcloud iam roles undelete "$role_id" "${where[@]}"
  if [[ $have == "$wanted" ]]; then
    unchanged "role $parent/roles/$role_id has exactly the needed permissions"
  else
    # --permissions replaces the whole list: one no longer wanted (a delete given up) goes.
    run gcloud iam roles update "$role_id" "${where[@]}" \
      --description="$(role_description "$@")" --permissions="$(join_by , "$@")"
  fi
}

step_iam_role() {
  step "IAM role"
  local target
  for target in "${TARGETS[@]}"; do
    ensure_custom_role "projects/$target" "$ROLE_ID" "Dataproc canceller ($FUNCTION)" \
      "${DATAPROC_PERMISSIONS[@]}"
    ensure_binding projects "$target" "projects/$target/roles/$ROLE_ID" \
      "serviceAccount:$FUNCTION_SA"
  done
}

# The organisation at the top of a scope's ancestry: a custom role can be defined only in a
# project or an organisation, and granted only on what is in it, so the role for a folder
# is its organisation's. Found with gcloud, parent by parent (gcloud resource-manager
# folders describe: a folder's parent is a folder or its organisation), rather than asked
# for as a flag: nothing to get wrong, and each read is a gcloud command like every other,
# which the tests check with the real gcloud. A dry run reads nothing: <ORGANIZATION>.
organization_of() { # organization_of folders/F|organizations/O: prints O
  local parent=$1 folder depth=0
  while [[ $parent == folders/* ]]; do
    if [[ $MODE == dry-run ]]; then
      printf '%s' "<ORGANIZATION>"
      return 0
    fi
    ((depth++ < MAX_FOLDER_DEPTH)) || fail "$1: more than $MAX_FOLDER_DEPTH folders above it"
    folder=$parent
    parent=$(gcloud resource-manager folders describe "${folder#folders/}" \
      --format='value(parent)') ||
      fail "could not read $folder to find the organisation above $1: this needs" \
        "resourcemanager.folders.get on it (e.g. roles/browser on the organisation)"
  done
  [[ $parent =~ ^organizations/[0-9]+$ ]] ||
    fail "$1 is under '$parent', not an organisation: a custom role for it cannot be made"
  printf '%s' "${parent#organizations/}"
}

# Each folder and organisation the function may act in (--scope-folder, --scope-organization,
# that is ALLOWED_ANCESTORS): the organisation-level role, with the Dataproc permissions and
# the reads that find where the work is, granted there; every project below inherits it.
step_scopes() {
  ((${#SCOPES[@]})) || return 0
  step "Organisation scopes"
  local scope organization role member="serviceAccount:$FUNCTION_SA"
  local -A defined=()
  for scope in "${SCOPES[@]}"; do
    organization=$(organization_of "$scope")
    [[ $scope == organizations/* ]] || unchanged "$scope is in organizations/$organization"
    role="organizations/$organization/roles/$ROLE_ID"
    if [[ -z ${defined[$organization]:-} ]]; then
      ensure_custom_role "organizations/$organization" "$ROLE_ID" \
        "Dataproc canceller ($FUNCTION)" "${SCOPE_PERMISSIONS[@]}"
      defined[$organization]=1
    fi
    case $scope in
    folders/*) ensure_binding "resource-manager folders" "${scope#folders/}" "$role" "$member" ;;
    *) ensure_binding organizations "$organization" "$role" "$member" ;;
    esac
  done
}

# The billing account whose budgets notify the function: reading a budget and the projects
# the account pays for. A custom role is granted only within its organisation, so it is
# the account's organisation's; an account in none (or a reseller's subaccount, whose
# parent is another billing account) gets the predefined BILLING_VIEWER_ROLE instead.
step_billing_account() {
  [[ -n $BILLING_ACCOUNT ]] || return 0
  step "Billing account"
  local parent role placed
  if [[ $MODE == dry-run ]]; then
    parent="organizations/<ORGANIZATION>"
    unchanged "a dry run does not read the billing account's organisation: one without an" \
      "organisation gets $BILLING_VIEWER_ROLE instead of the custom role below"
  else
    parent=$(gcloud billing accounts describe "$BILLING_ACCOUNT" --format='value(parent)') ||
      fail "could not read billing account $BILLING_ACCOUNT (billing.accounts.get)"
  fi
  if [[ $parent == organizations/* ]]; then
    ensure_custom_role "$parent" "$BILLING_ROLE_ID" "Dataproc canceller budgets ($FUNCTION)" \
      "${BILLING_PERMISSIONS[@]}"
    role="$parent/roles/$BILLING_ROLE_ID"
  else
    role=$BILLING_VIEWER_ROLE
    placed="in no organisation"
    [[ -z $parent ]] || placed="under $parent, not an organisation"
    warn "billing account $BILLING_ACCOUNT is $placed, so no custom role can be granted on" \
      "it: the function gets $role, which also lets it read the account's costs and prices" \
      "(it can change nothing)"
  fi
  ensure_binding "billing accounts" "$BILLING_ACCOUNT" "$role" "serviceAccount:$FUNCTION_SA"
}

step_schema() {
  step "Results schema"
  local definition
  definition=$(read_state gcloud pubsub schemas describe "$SCHEMA" --project="$PROJECT" \
    --format='value(definition)')
  if [[ -z $definition ]]; then
    run gcloud pubsub schemas create "$SCHEMA" --project="$PROJECT" --type=protocol-buffer \
      --definition-file="$SCHEMA_FILE"
  elif [[ $definition == "$(<"$SCHEMA_FILE")" ]]; then
    unchanged "schema $SCHEMA matches schemas/result.proto"
  else
    run gcloud pubsub schemas commit "$SCHEMA" --project="$PROJECT" --type=protocol-buffer \
      --definition-file="$SCHEMA_FILE"
  fi
}

topic_exists() {
  [[ -n $(read_state gcloud pubsub topics describe "$1" --project="$PROJECT" \
    --format='value(name)') ]]
}

step_topics() {
  step "Topics"
  local topic settings
  for topic in "$TRIGGER_TOPIC" "$DEAD_LETTER_TOPIC"; do
    if topic_exists "$topic"; then
      unchanged "topic $topic exists"
    else
      run gcloud pubsub topics create "$topic" --project="$PROJECT"
    fi
  done

  settings=$(read_state gcloud pubsub topics describe "$RESULTS_TOPIC" --project="$PROJECT" \
    --format='value(name,schemaSettings.schema,schemaSettings.encoding)')
  if [[ -z $settings ]]; then
    run gcloud pubsub topics create "$RESULTS_TOPIC" --project="$PROJECT" \
      --schema="$SCHEMA" --message-encoding=json
  elif [[ ${settings#*$'\t'} == "projects/$PROJECT/schemas/$SCHEMA"$'\tJSON' ]]; then
    unchanged "topic $RESULTS_TOPIC exists, bound to schema $SCHEMA (JSON)"
  else
    run gcloud pubsub topics update "$RESULTS_TOPIC" --project="$PROJECT" \
      --schema="$SCHEMA" --message-encoding=json
  fi

  if [[ -n $(read_state gcloud pubsub subscriptions describe "$DEAD_LETTER_SUBSCRIPTION" \
    --project="$PROJECT" --format='value(name)') ]]; then
    unchanged "subscription $DEAD_LETTER_SUBSCRIPTION exists"
  else
    run gcloud pubsub subscriptions create "$DEAD_LETTER_SUBSCRIPTION" --project="$PROJECT" \
      --topic="$DEAD_LETTER_TOPIC" --message-retention-duration=7d --expiration-period=never
  fi
}

monitoring_agent() {
  echo "serviceAccount:service-$PROJECT_NUMBER@gcp-sa-monitoring-notification.iam.gserviceaccount.com"
}

# Results go to the results topic; a big sweep publishes a continuation message (the rest of
# its work) to the trigger topic. No other topic.
#
# Whoever may publish to the trigger topic may stop everything the function may touch, so
# roles/pubsub.publisher there is exactly: the function (continuations), each --publisher,
# the Billing budget account with --allowed-budget, the Monitoring notification agent with
# --allowed-alert-policy. Anyone else is removed, and said so. Broader topic-level roles,
# and project-level ones (which reach every topic of the project), are reported, not changed.
step_publishers() {
  step "Publishers"
  ensure_binding "pubsub topics" "$RESULTS_TOPIC" roles/pubsub.publisher \
    "serviceAccount:$FUNCTION_SA" --project="$PROJECT"

  local -A wanted=(["serviceAccount:$FUNCTION_SA"]=1)
  local member role policy line members lines keep
  for member in "${PUBLISHERS[@]}"; do
    wanted[$member]=1
  done
  ((${#ALLOWED_BUDGETS[@]} == 0)) || wanted[$BUDGET_PUBLISHER]=1
  ((${#ALLOWED_ALERT_POLICIES[@]} == 0)) || wanted[$(monitoring_agent)]=1
  if [[ -n ${wanted[$BUDGET_PUBLISHER]:-} && ${#ALLOWED_BUDGETS[@]} -eq 0 ]]; then
    warn "$BUDGET_PUBLISHER may publish but no --allowed-budget is given: a notification of" \
      "any budget pointed at the trigger topic would sweep"
  fi
  if [[ -n ${wanted[$(monitoring_agent)]:-} && ${#ALLOWED_ALERT_POLICIES[@]} -eq 0 ]]; then
    warn "the Monitoring notification agent may publish but no --allowed-alert-policy is" \
      "given: an incident of any alert policy notifying the trigger topic would stop work"
  fi
  policy=$(read_policy "pubsub topics" "$TRIGGER_TOPIC" --project="$PROJECT")
  mapfile -t members < <(printf '%s\n' "${!wanted[@]}" | LC_ALL=C sort)
  for member in "${members[@]}"; do
    if grep -Fxq -- "roles/pubsub.publisher"$'\t'"$member" <<<"$policy"; then
      unchanged "$member may publish to $TRIGGER_TOPIC"
    else
      run_iam gcloud pubsub topics add-iam-policy-binding "$TRIGGER_TOPIC" --project="$PROJECT" \
        --member="$member" --role=roles/pubsub.publisher --format=none
    fi
  done
  mapfile -t lines <<<"$policy"
  for line in "${lines[@]}"; do
    IFS=$'\t' read -r role member <<<"$line"
    [[ -n $member ]] || continue
    if [[ $role == roles/pubsub.publisher && -z ${wanted[$member]:-} ]]; then
      case $member in
      "$BUDGET_PUBLISHER") keep="--allowed-budget ID for each budget that may sweep" ;;
      "$(monitoring_agent)") keep="--allowed-alert-policy NAME for each policy that may stop work" ;;
      *) keep="--publisher $member" ;;
      esac
      warn "$member may publish to the trigger topic $TRIGGER_TOPIC, and so stop everything" \
        "the function may touch, but was not named: removing it (to keep it: $keep)"
      run gcloud pubsub topics remove-iam-policy-binding "$TRIGGER_TOPIC" --project="$PROJECT" \
        --member="$member" --role=roles/pubsub.publisher --format=none
    elif [[ " ${BROADER_PUBLISH_ROLES[*]} " == *" $role "* ]]; then
      warn "$member holds $role on the trigger topic $TRIGGER_TOPIC: it may publish there" \
        "(and so stop everything the function may touch); deploy.sh leaves it: remove it if it" \
        "need not (gcloud pubsub topics remove-iam-policy-binding)"
    fi
  done
  report_project_publishers
}

# Project-level grants reach the trigger topic too. Only reported: they are the project's.
report_project_publishers() {
  local policy role holders
  policy=$(read_policy projects "$PROJECT")
  for role in roles/pubsub.publisher "${BROADER_PUBLISH_ROLES[@]}"; do
    holders=$(awk -F'\t' -v role="$role" '$1 == role { print $2 }' <<<"$policy" | paste -sd, -)
    [[ -z $holders ]] ||
      warn "project-level $role on $PROJECT, so may publish to the trigger topic too:" \
        "${holders//,/, } (deploy.sh changes no project-level grant)"
  done
}

pubsub_agent() { echo "serviceAccount:service-$PROJECT_NUMBER@gcp-sa-pubsub.iam.gserviceaccount.com"; }

step_trigger_identity() {
  step "Trigger identity"
  ensure_binding "iam service-accounts" "$INVOKER_SA" roles/iam.serviceAccountTokenCreator \
    "$(pubsub_agent)" --project="$PROJECT"
}

# Everything the deployment depends on, in a stable order: a change to any of it, or to
# an uploaded file, changes the digest and so redeploys.
deploy_command() {
  local name pairs=()
  while IFS= read -r name; do
    pairs+=("$name=${FUNCTION_ENV[$name]}")
  done < <(printf '%s\n' "${!FUNCTION_ENV[@]}" | LC_ALL=C sort)
  DEPLOY=(
    gcloud functions deploy "$FUNCTION" --gen2 --project="$PROJECT" --region="$REGION"
    --runtime="$RUNTIME" --entry-point=stop_dataproc_work --source="$ROOT"
    --trigger-topic="$TRIGGER_TOPIC" --retry
    --service-account="$FUNCTION_SA" --trigger-service-account="$INVOKER_SA"
    --no-allow-unauthenticated --ingress-settings=internal-only
    --timeout="${FUNCTION_TIMEOUT}s" --memory="$MEMORY" --max-instances="$MAX_INSTANCES"
    --set-env-vars="^;^$(join_by ';' "${pairs[@]}")"
  )
  # --set-secrets replaces the function's secrets with this one, --clear-secrets removes
  # them: like its settings, they are exactly what this run says.
  if [[ -n $NOTIFY_SECRET ]]; then
    DEPLOY+=(--set-secrets="$NOTIFY_VARIABLE=$(secret_reference):latest")
  else
    DEPLOY+=(--clear-secrets)
  fi
}

# The secret as --set-secrets names it: NAME in the function's project, else
# projects/P/secrets/NAME (gcloud functions deploy --help, --set-secrets).
secret_reference() {
  if [[ $SECRET_PROJECT == "$PROJECT" ]]; then
    printf '%s' "$SECRET_ID"
  else
    printf 'projects/%s/secrets/%s' "$SECRET_PROJECT" "$SECRET_ID"
  fi
}

# What gcloud will upload (it honours .gcloudignore) and the deploy flags, hashed.
deploy_digest() {
  local files file
  files=$(gcloud meta list-files-for-upload "$ROOT" | LC_ALL=C sort)
  [[ -n $files ]] || fail "gcloud lists no file to upload from $ROOT"
  {
    printf '%s\0' "${DEPLOY[@]}"
    while IFS= read -r file; do
      printf '%s\0' "$file"
      cat -- "$ROOT/$file"
    done <<<"$files"
  } | sha256 | cut -c1-32
}

# The deployed function's digest, the variables it reads from Secret Manager and the
# secret volumes it mounts: a secret mounted or unmounted since (by hand) redeploys too,
# since --set-secrets and --clear-secrets replace them all, volumes included (gcloud
# functions deploy --help). Unmounting the webhook, or a volume, is said.
step_function() {
  step "Function"
  deploy_command
  local digest deployed rest="" mounted="" volumes="" wanted=""
  [[ -z $NOTIFY_SECRET ]] || wanted=$NOTIFY_VARIABLE
  if [[ $MODE == dry-run ]]; then
    digest="<DIGEST>"
  else
    digest=$(deploy_digest)
  fi
  local format="value(labels.deploy_digest,serviceConfig.secretEnvironmentVariables[].key,"
  format+="serviceConfig.secretVolumes[].mountPath)"
  deployed=$(read_state gcloud functions describe "$FUNCTION" --gen2 --project="$PROJECT" \
    --region="$REGION" --format="$format")
  [[ $deployed != *$'\t'* ]] || rest=${deployed#*$'\t'}
  mounted=${rest%%$'\t'*}
  [[ $rest != *$'\t'* ]] || volumes=${rest#*$'\t'}
  if [[ ${deployed%%$'\t'*} == "$digest" && $mounted == "$wanted" && -z $volumes ]]; then
    unchanged "function $FUNCTION is deployed with these files and settings ($digest)"
  else
    if [[ -n $mounted && -z $NOTIFY_SECRET ]]; then
      warn "the function reads ${mounted//;/, } from Secret Manager; without" \
        "--notify-webhook-secret this deployment removes it (--clear-secrets), and nobody is" \
        "told of what the function stops: to keep it, rerun with --notify-webhook-secret NAME"
    fi
    if [[ -n $volumes ]]; then
      warn "the function mounts secret volume(s) at ${volumes//;/, }, which this deployment" \
        "removes (it sets the function's secrets to exactly what this run says)"
    fi
    run "${DEPLOY[@]}" --update-labels="deploy_digest=$digest"
  fi
}

# SERVICE and TRIGGER: the Cloud Run service and Eventarc trigger behind the function.
read_function_resources() {
  if [[ $MODE == dry-run ]]; then
    SERVICE="<RUN_SERVICE>"
    TRIGGER="<EVENTARC_TRIGGER>"
    return 0
  fi
  local resources
  resources=$(gcloud functions describe "$FUNCTION" --gen2 --project="$PROJECT" \
    --region="$REGION" --format='value(serviceConfig.service,eventTrigger.trigger)')
  SERVICE=${resources%%$'\t'*}
  TRIGGER=${resources#*$'\t'}
  [[ -n $SERVICE && -n $TRIGGER ]] ||
    fail "function $FUNCTION has no Cloud Run service or Eventarc trigger yet: '$resources'"
}

# Only the push identity may invoke the function: anyone else holding roles/run.invoker on
# its Cloud Run service could hand it a message directly, past the trigger topic and its
# publishers. Reported; removed with --remove-other-invokers.
step_invoker() {
  step "Invoker"
  read_function_resources
  local service=${SERVICE##*/} policy member members invoker="serviceAccount:$INVOKER_SA"
  policy=$(read_policy "run services" "$service" --project="$PROJECT" --region="$REGION")
  if grep -Fxq -- "roles/run.invoker"$'\t'"$invoker" <<<"$policy"; then
    unchanged "$INVOKER_SA may invoke the function"
  else
    run_iam gcloud functions add-invoker-policy-binding "$FUNCTION" --project="$PROJECT" \
      --region="$REGION" --member="$invoker" --format=none
  fi
  mapfile -t members < <(awk -F'\t' '$1 == "roles/run.invoker" { print $2 }' <<<"$policy")
  for member in "${members[@]}"; do
    [[ $member != "$invoker" ]] || continue
    if [[ $REMOVE_OTHER_INVOKERS == true ]]; then
      warn "$member may invoke the function (roles/run.invoker on $service): removing it"
      # --all: every binding of the member to the role, conditional ones included.
      run gcloud run services remove-iam-policy-binding "$service" --project="$PROJECT" \
        --region="$REGION" --member="$member" --role=roles/run.invoker --all --format=none
    else
      warn "$member may invoke the function (roles/run.invoker on $service), as if the" \
        "trigger had delivered its message: rerun with --remove-other-invokers to remove it"
    fi
  done
}

# Eventarc creates the trigger's push subscription itself; neither `gcloud functions deploy`
# nor Eventarc takes its dead-letter policy or its ack deadline. Eventarc's documentation
# says to update that subscription (https://cloud.google.com/eventarc/docs/retry-events,
# "Configure retries": find it as the trigger's transport.pubsub.subscription, then
# `gcloud pubsub subscriptions update`), which is done here.
#
# The ack deadline matters because for a push subscription it is also the push request's
# timeout (Pub/Sub's Subscription reference, ackDeadlineSeconds: "For push delivery, this
# value is also used to set the request timeout for the call to the push endpoint";
# https://cloud.google.com/pubsub/docs/reference/rest/v1/projects.subscriptions): shorter
# than the function's work, and Pub/Sub gives up on a request that is still stopping work
# and delivers the message again, to a second instance, while the first goes on. What
# Eventarc sets is not documented; users report 10 s, the API's default when none is given
# (https://github.com/hashicorp/terraform-provider-google/issues/17701,
# https://github.com/battlecode/galaxy/issues/239). So it is read and set, never assumed.
# A redeploy that recreates the trigger creates a new subscription: rerun to cover it.
step_trigger_subscription() {
  step "Trigger subscription"
  local subscription state wanted
  if [[ $MODE == dry-run ]]; then
    subscription="<TRIGGER_SUBSCRIPTION>"
  else
    subscription=$(gcloud eventarc triggers describe "$TRIGGER" \
      --format='value(transport.pubsub.subscription)')
    [[ -n $subscription ]] || fail "Eventarc trigger $TRIGGER has no Pub/Sub subscription"
  fi
  wanted="projects/$PROJECT/topics/$DEAD_LETTER_TOPIC"$'\t'"$MAX_DELIVERY_ATTEMPTS"$'\t'"$ACK_DEADLINE"
  state=$(read_state gcloud pubsub subscriptions describe "$subscription" \
    --format='value(deadLetterPolicy.deadLetterTopic,deadLetterPolicy.maxDeliveryAttempts,ackDeadlineSeconds)')
  ensure_binding "pubsub topics" "$DEAD_LETTER_TOPIC" roles/pubsub.publisher \
    "$(pubsub_agent)" --project="$PROJECT"
  ensure_binding "pubsub subscriptions" "$subscription" roles/pubsub.subscriber \
    "$(pubsub_agent)"
  if [[ $state == "$wanted" ]]; then
    unchanged "$subscription waits $ACK_DEADLINE s for the function and dead-letters to" \
      "$DEAD_LETTER_TOPIC after $MAX_DELIVERY_ATTEMPTS attempts"
  else
    run gcloud pubsub subscriptions update "$subscription" --ack-deadline="$ACK_DEADLINE" \
      --dead-letter-topic="projects/$PROJECT/topics/$DEAD_LETTER_TOPIC" \
      --max-delivery-attempts="$MAX_DELIVERY_ATTEMPTS"
  fi
}

step_sweep_job() {
  [[ -n $SWEEP_SCHEDULE ]] || return 0
  step "Sweep job"
  local state wanted topic="projects/$PROJECT/topics/$TRIGGER_TOPIC"
  local -a flags=(--schedule="$SWEEP_SCHEDULE" --time-zone="$SWEEP_TIME_ZONE" --topic="$topic"
    --message-body='{"sweep": {}}')
  state=$(read_state gcloud scheduler jobs describe "$SWEEP_JOB" --project="$PROJECT" \
    --location="$REGION" --format='value(schedule,timeZone,pubsubTarget.topicName)')
  wanted="$SWEEP_SCHEDULE"$'\t'"$SWEEP_TIME_ZONE"$'\t'"$topic"
  if [[ -z $state ]]; then
    run gcloud scheduler jobs create pubsub "$SWEEP_JOB" --project="$PROJECT" \
      --location="$REGION" "${flags[@]}" --description="Sweeps for $FUNCTION"
  elif [[ $state == "$wanted" ]]; then
    unchanged "job $SWEEP_JOB publishes a sweep on '$SWEEP_SCHEDULE' ($SWEEP_TIME_ZONE)"
  else
    run gcloud scheduler jobs update pubsub "$SWEEP_JOB" --project="$PROJECT" \
      --location="$REGION" "${flags[@]}"
  fi
}

# A log metric's filter: the function's own lines, under whichever resource type Cloud
# Logging files them (cloud_run_revision: a 2nd gen function runs as a Cloud Run service;
# or cloud_function), for which CONDITION holds. metric_filter CONDITION
metric_filter() {
  cat <<EOF
filter: >-
  ((resource.type="cloud_run_revision" AND resource.labels.service_name="$FUNCTION")
  OR (resource.type="cloud_function" AND resource.labels.function_name="$FUNCTION"))
  AND $1
EOF
}

# One counter with labels rather than one metric per outcome: a single chart groups by
# outcome, and an outcome added to the code is counted without touching the metric.
outcomes_metric_body() {
  metric_filter "jsonPayload.outcome:*"
  cat <<EOF
labelExtractors:
  outcome: EXTRACT(jsonPayload.outcome)
  kind: EXTRACT(jsonPayload.kind)
  project: EXTRACT(jsonPayload.project)
  trigger_kind: EXTRACT(jsonPayload.triggerKind)
metricDescriptor:
  metricKind: DELTA
  valueType: INT64
  unit: "1"
  labels:
  - key: outcome
    description: The result's outcome, e.g. CANCELLED or REJECTED.
  - key: kind
    description: What was acted on - operation, batch, job or session.
  - key: project
    description: The project of the work acted on.
  - key: trigger_kind
    description: What asked for it - operation, batch, sweep, budget, incident.
EOF
}

# Time to stop: the elapsed seconds (request to verified stop) of every CANCELLED result,
# as a distribution, so a chart shows its percentiles by kind.
time_to_stop_metric_body() {
  metric_filter "jsonPayload.outcome=\"CANCELLED\" AND jsonPayload.elapsedSeconds:*"
  cat <<EOF
valueExtractor: EXTRACT(jsonPayload.elapsedSeconds)
labelExtractors:
  kind: EXTRACT(jsonPayload.kind)
bucketOptions:
  exponentialBuckets:
    numFiniteBuckets: 24
    growthFactor: 1.5
    scale: 0.1
metricDescriptor:
  metricKind: DELTA
  valueType: DISTRIBUTION
  unit: s
  labels:
  - key: kind
    description: What was stopped - operation, batch, job or session.
EOF
}

SWEEP_FIGURE=found # which count sweep_metric_body extracts: found, selected or acted

sweep_metric_body() {
  local field="sweep${SWEEP_FIGURE^}"
  metric_filter "jsonPayload.outcome=\"SWEEP_SUMMARY\" AND jsonPayload.$field:*"
  cat <<EOF
valueExtractor: EXTRACT(jsonPayload.$field)
bucketOptions:
  exponentialBuckets:
    numFiniteBuckets: 20
    growthFactor: 2
    scale: 1
metricDescriptor:
  metricKind: DELTA
  valueType: DISTRIBUTION
  unit: "1"
EOF
}

# Money: each CANCELLED result's burnUsdPerHour (what it was costing, dollars an hour at list
# price) and savedUpToUsd (what stopping it may have saved: an upper bound), each absent when
# unknown (canceller/burn.py), as a distribution: a chart adds a period's values up (PromQL's
# NAME_sum series, dashboard.json). A distribution keeps the values' count and mean beside
# the buckets ("Configure distribution metrics",
# https://cloud.google.com/logging/docs/logs-based-metrics/distribution-metrics), so that sum
# does not depend on the buckets, which serve percentiles and heatmaps: exponential from a
# cent, 20 of them reach $10,485.76 an hour, 27 reach $1,342,177.28.
money_metric_body() { # money_metric_body FIELD UNIT FINITE_BUCKETS
  metric_filter "jsonPayload.outcome=\"CANCELLED\" AND jsonPayload.$1:*"
  cat <<EOF
valueExtractor: EXTRACT(jsonPayload.$1)
labelExtractors:
  kind: EXTRACT(jsonPayload.kind)
  project: EXTRACT(jsonPayload.project)
  trigger_kind: EXTRACT(jsonPayload.triggerKind)
bucketOptions:
  exponentialBuckets:
    numFiniteBuckets: $3
    growthFactor: 2
    scale: 0.01
metricDescriptor:
  metricKind: DELTA
  valueType: DISTRIBUTION
  unit: "$2"
  labels:
  - key: kind
    description: What was stopped - operation, batch, job, session or cluster.
  - key: project
    description: The project of the work stopped.
  - key: trigger_kind
    description: What asked for it - operation, batch, sweep, budget, incident.
EOF
}

burn_metric_body() { money_metric_body burnUsdPerHour "{USD_per_hour}" 20; }

saved_metric_body() { money_metric_body savedUpToUsd "{USD}" 27; }

# One line per notification the function tried (canceller/notify.py): SENT or FAILED, and the
# service. Counted, so that a failing webhook (removed, rate-limited) shows on the dashboard.
notifications_metric_body() {
  metric_filter "jsonPayload.notification:*"
  cat <<EOF
labelExtractors:
  notification: EXTRACT(jsonPayload.notification)
  notify_service: EXTRACT(jsonPayload.notifyService)
metricDescriptor:
  metricKind: DELTA
  valueType: INT64
  unit: "1"
  labels:
  - key: notification
    description: SENT, or FAILED (an HTTP error, a timeout, a refused connection).
  - key: notify_service
    description: The chat service the webhook belongs to.
EOF
}

write_metric_config() { # write_metric_config NAME WHAT BODY_FUNCTION
  local body digest
  body=$("$3")
  digest=$(printf '%s' "$body" | sha256 | cut -c1-12)
  METRIC_DESCRIPTION="$2 of the $FUNCTION function (deploy.sh config $digest)"
  METRIC_CONFIG="$WORK_DIR/log-metric-$1.yaml"
  printf 'description: %s\n%s\n' "$METRIC_DESCRIPTION" "$body" >"$METRIC_CONFIG"
}

ensure_log_metric() { # ensure_log_metric NAME WHAT BODY_FUNCTION
  write_metric_config "$@"
  local description
  description=$(read_state gcloud logging metrics describe "$1" --project="$PROJECT" \
    --format='value(description)')
  if [[ $description == "$METRIC_DESCRIPTION" ]]; then
    unchanged "log metric $1 is up to date"
    return 0
  fi
  if [[ -z $description ]]; then
    run gcloud logging metrics create "$1" --project="$PROJECT" --config-from-file="$METRIC_CONFIG"
  else
    run gcloud logging metrics update "$1" --project="$PROJECT" --config-from-file="$METRIC_CONFIG"
  fi
  if [[ $MODE == dry-run ]]; then
    sed 's/^/      | /' "$METRIC_CONFIG"
  fi
}

step_log_metric() {
  step "Log metrics"
  ensure_log_metric "$METRIC" "Results by outcome" outcomes_metric_body
  ensure_log_metric "$TIME_METRIC" "Seconds to a verified stop" time_to_stop_metric_body
  local metric
  for metric in "${SWEEP_METRICS[@]}"; do
    SWEEP_FIGURE=${metric##*-}
    ensure_log_metric "$metric" "Targets each sweep $SWEEP_FIGURE" sweep_metric_body
  done
  ensure_log_metric "$BURN_METRIC" "Dollars an hour (list price) of what was stopped" \
    burn_metric_body
  ensure_log_metric "$SAVED_METRIC" "Dollars saved at most (list price) by what was stopped" \
    saved_metric_body
  ensure_log_metric "$NOTIFY_METRIC" "Chat notifications by delivery" notifications_metric_body
}

# --- Monitoring: the files in deploy/monitoring, with their @@PLACEHOLDERS@@ filled in -----

declare -A TEMPLATE_VALUES=()

template_values() {
  local channels=() channel
  for channel in "${CHANNELS[@]}"; do
    channels+=("\"$channel\"")
  done
  TEMPLATE_VALUES=(
    [PROJECT]=$PROJECT
    [FUNCTION]=$FUNCTION
    [METRIC]=$METRIC
    [TIME_METRIC]=$TIME_METRIC
    [DEAD_LETTER_SUBSCRIPTION]=$DEAD_LETTER_SUBSCRIPTION
    [NOTIFY_METRIC]=$NOTIFY_METRIC
    [BURN_PROMQL]=$(promql_name "$BURN_METRIC")
    [SAVED_PROMQL]=$(promql_name "$SAVED_METRIC")
    [SWEEP_SCHEDULE]=$SWEEP_SCHEDULE
    [SILENCE_SECONDS]=$SILENCE_SECONDS
    [SILENCE_DURATION]="$((${SILENCE_SECONDS:-0} / 60)) minutes"
    # The quoted placeholder in "notificationChannels": ["@@NOTIFICATION_CHANNELS@@"].
    ['"@@NOTIFICATION_CHANNELS@@"']=$(join_by ', ' "${channels[@]}")
  )
}

# A log-based metric's name in PromQL, for the distributions' _sum series: the first / a :,
# every other / . - a _ ("Mapping Cloud Monitoring metrics to PromQL",
# https://cloud.google.com/monitoring/promql/promql-mapping). --function allows no _, so no
# two metrics' names meet.
promql_name() {
  local name="logging.googleapis.com/user/$1"
  name=${name/\//:}
  name=${name//[.\/-]/_}
  printf '%s' "$name"
}

# render_template TEMPLATE OUT: every placeholder filled (values are validated above and
# hold no '"' or '\'), then a digest of the result in place of @@DEPLOY_DIGEST@@: the
# label a rerun compares to know whether the deployed copy is this one.
render_template() {
  local text name pattern
  text=$(<"$1")
  for name in "${!TEMPLATE_VALUES[@]}"; do
    pattern=$name
    [[ $name == \"* ]] || pattern="@@$name@@"
    text=${text//"$pattern"/"${TEMPLATE_VALUES[$name]}"}
  done
  RENDERED_DIGEST=$(printf '%s' "$text" | sha256 | cut -c1-12)
  text=${text//@@DEPLOY_DIGEST@@/$RENDERED_DIGEST}
  [[ $text != *@@* ]] || fail "${1#"$ROOT/"} has a placeholder deploy.sh does not fill"
  printf '%s\n' "$text" >"$2"
}

# The top-level "displayName" of a rendered file (two spaces in, as the files are laid out).
display_name() { sed -n 's/^  "displayName": "\(.*\)",$/\1/p' "$1" | head -n 1; }

step_dashboard() {
  step "Dashboard"
  template_values
  local file="$WORK_DIR/dashboard.json" state
  render_template "$MONITORING_DIR/dashboard.json" "$file"
  state=$(read_state gcloud monitoring dashboards describe "$FUNCTION" --project="$PROJECT" \
    --format='value(labels.deploy_digest,etag)')
  if [[ -z $state ]]; then
    run gcloud monitoring dashboards create --project="$PROJECT" --config-from-file="$file"
  elif [[ ${state%%$'\t'*} == "$RENDERED_DIGEST" ]]; then
    unchanged "dashboard $FUNCTION is up to date ($RENDERED_DIGEST)"
  else
    # An update names the etag it replaces, so a concurrent edit is refused, not lost.
    local text
    text=$(<"$file")
    printf '{"etag": "%s",%s\n' "${state#*$'\t'}" "${text#\{}" >"$file"
    run gcloud monitoring dashboards update "$FUNCTION" --project="$PROJECT" \
      --config-from-file="$file"
  fi
}

# Alert policies have IDs chosen by Monitoring, so each is found by its display name,
# compared by its deploy_digest label, and replaced whole when it differs.
step_alert_policies() {
  ((${#CHANNELS[@]})) || return 0
  step "Alert policies"
  template_values
  local names=(kill-switch-failed dead-letters function-errors) name file display existing
  local found
  if [[ -n $SILENCE_SECONDS ]]; then
    names+=(function-silent)
  elif [[ -n $SWEEP_SCHEDULE ]]; then
    unchanged "no 'sweeps stopped' alert: cannot tell the interval of '$SWEEP_SCHEDULE'," \
      "or twice it exceeds a day"
  fi
  existing=$(read_state gcloud alpha monitoring policies list --project="$PROJECT" \
    --format='value(displayName,name,userLabels.deploy_digest)')
  for name in "${names[@]}"; do
    file="$WORK_DIR/alert-$name.json"
    render_template "$MONITORING_DIR/alert-$name.json" "$file"
    display=$(display_name "$file")
    found=$(awk -F'\t' -v name="$display" '$1 == name { print $2 "\t" $3; exit }' <<<"$existing")
    if [[ -z $found ]]; then
      run gcloud alpha monitoring policies create --project="$PROJECT" --policy-from-file="$file"
    elif [[ ${found#*$'\t'} == "$RENDERED_DIGEST" ]]; then
      unchanged "alert policy '$display' is up to date ($RENDERED_DIGEST)"
    else
      run gcloud alpha monitoring policies update "${found%%$'\t'*}" --policy-from-file="$file"
    fi
  done
}

# --- Notifications: the webhook URL, a secret ------------------------------------------------

# Cloud Run checks when it deploys that the function's service account may access each
# secret it mounts, and reads an environment variable's secret when an instance starts
# ("Configure secrets for instances", NOTIFY_VARIABLE above): so the secret must exist with
# an enabled version, and the grant, on this one secret, must come before the function.
# The checks read metadata only (describe), never the value (versions access).
step_notify_secret() {
  [[ -n $NOTIFY_SECRET ]] || return 0
  step "Notification secret"
  local where=(--project="$SECRET_PROJECT") create state
  create="read -rs URL && printf %s \"\$URL\" | gcloud secrets"
  if [[ $MODE == dry-run ]]; then
    unchanged "a dry run does not check that secret $SECRET_ID exists in $SECRET_PROJECT"
  else
    [[ -n $(read_state gcloud secrets describe "$SECRET_ID" "${where[@]}" --format='value(name)') ]] ||
      fail "secret $SECRET_ID not found in project $SECRET_PROJECT (or you may not read it)." \
        "Create it with the webhook URL as its value (read keeps the URL out of your shell's" \
        "history): $create create $SECRET_ID --project=$SECRET_PROJECT --data-file=-"
    state=$(read_state gcloud secrets versions describe latest --secret="$SECRET_ID" \
      "${where[@]}" --format='value(state)')
    [[ $state == ENABLED ]] ||
      fail "secret $SECRET_ID's latest version is ${state:-missing}, not ENABLED: the function" \
        "could not start with it. Add the webhook URL as a new version: $create versions add" \
        "$SECRET_ID --project=$SECRET_PROJECT --data-file=-"
    unchanged "secret $SECRET_ID in $SECRET_PROJECT has an enabled latest version (its value is" \
      "not read)"
  fi
  ensure_binding secrets "$SECRET_ID" "$SECRET_ACCESSOR" "serviceAccount:$FUNCTION_SA" "${where[@]}"
}

# --- BigQuery: every result as a row ------------------------------------------------------

# The Pub/Sub service agent writes the rows (the subscription names no other account), so
# it is the one that needs roles/bigquery.dataEditor, on this table only. A BigQuery
# subscription needs an existing table, which needs its dataset: both are created first.
step_bigquery() {
  [[ -n $RESULTS_TABLE ]] || return 0
  step "Results in BigQuery"
  command -v python3 >/dev/null || fail "--results-bigquery-table needs python3 (to compare schemas)"
  local schema policy state wanted
  if [[ -n $(read_bq show --format=json "$BQ_DATASET") ]]; then
    unchanged "dataset $BQ_DATASET exists"
  else
    run bq mk --dataset --location="$REGION" \
      --description="Dataproc kill switch results ($FUNCTION)" "$BQ_DATASET"
  fi
  schema=$(read_bq show --schema --format=json "$BQ_TABLE")
  if [[ -z $schema ]]; then
    run bq mk --table --schema="$BIGQUERY_SCHEMA_FILE" --time_partitioning_field=publish_time \
      --time_partitioning_type=DAY \
      --description="One row per result of $FUNCTION (schemas/result.proto)" "$BQ_TABLE"
  elif python3 "$BIGQUERY_TOOL" same-schema "$BIGQUERY_SCHEMA_FILE" <<<"$schema"; then
    unchanged "table $BQ_TABLE has the schema of schemas/result.proto"
  else
    # Adds the columns of new result.proto fields; BigQuery refuses to drop or retype one.
    run bq update --schema="$BIGQUERY_SCHEMA_FILE" "$BQ_TABLE"
  fi
  policy=$(read_bq get-iam-policy --format=json "$BQ_TABLE")
  if python3 "$BIGQUERY_TOOL" has-binding roles/bigquery.dataEditor "$(pubsub_agent)" <<<"$policy"; then
    unchanged "$(pubsub_agent) has roles/bigquery.dataEditor on $BQ_TABLE"
  else
    run_iam bq add-iam-policy-binding --member="$(pubsub_agent)" \
      --role=roles/bigquery.dataEditor "$BQ_TABLE"
  fi
  state=$(read_state gcloud pubsub subscriptions describe "$BQ_SUBSCRIPTION" --project="$PROJECT" \
    --format='value(bigqueryConfig.table,bigqueryConfig.useTopicSchema,bigqueryConfig.writeMetadata)')
  wanted="${BQ_TABLE/:/.}"$'\t'True$'\t'True
  local -a flags=(--bigquery-table="$BQ_TABLE" --use-topic-schema --write-metadata)
  if [[ -z $state ]]; then
    run gcloud pubsub subscriptions create "$BQ_SUBSCRIPTION" --project="$PROJECT" \
      --topic="$RESULTS_TOPIC" "${flags[@]}" --expiration-period=never
  elif [[ ${state/:/.} == "$wanted" ]]; then
    unchanged "subscription $BQ_SUBSCRIPTION writes every result to $BQ_TABLE"
  else
    run gcloud pubsub subscriptions update "$BQ_SUBSCRIPTION" --project="$PROJECT" "${flags[@]}"
  fi
}

# --- printed, never run ------------------------------------------------------------------

print_wiring() {
  local topic="projects/$PROJECT/topics/$TRIGGER_TOPIC" filters=() target
  for target in "${TARGETS[@]}"; do
    filters+=("projects/$target")
  done
  cat <<EOF

==> Optional wiring (not run)
# A budget whose notifications reach the function; as the cost passes each rung of
# BUDGET_LADDER (--budget-ladder; by default BUDGET_THRESHOLD times the budget: sweep
# SWEEP_SCOPES), it does that rung's action. Create one, or point an existing one at it:
$(quote gcloud billing budgets create --billing-account="${BILLING_ACCOUNT:-BILLING_ACCOUNT_ID}" \
    --display-name="$FUNCTION" --budget-amount="${BUDGET_AMOUNT:-BUDGET_AMOUNT}" \
    --filter-projects="$(join_by , "${filters[@]}")" --threshold-rule=percent=1.0 \
    --notifications-rule-pubsub-topic="$topic")
$(quote gcloud billing budgets update BUDGET_ID \
    --billing-account="${BILLING_ACCOUNT:-BILLING_ACCOUNT_ID}" \
    --notifications-rule-pubsub-topic="$topic")
# Budget notifications are published by ${BUDGET_PUBLISHER#serviceAccount:}.
# deploy.sh keeps the trigger topic's publishers to those it is told of: rerun it with
# --allowed-budget BUDGET_ID (the budget's ID, printed by the create command), and the
# function acts on that budget's notifications, and that account may publish them.
# A Monitoring notification channel on the trigger topic; then add the channel to an
# alerting policy on Dataproc resources, and rerun deploy.sh with --allowed-alert-policy
# 'POLICY DISPLAY NAME' for each: the function acts on those policies' incidents only,
# and the Monitoring notification agent ($(monitoring_agent))
# may publish them.
$(quote gcloud beta monitoring channels create --project="$PROJECT" \
    --display-name="$FUNCTION trigger" --type=pubsub --channel-labels=topic="$topic")
EOF
}

print_teardown() {
  local target
  cat <<EOF
# Removes what ./deploy.sh created for $FUNCTION in $PROJECT. Review, then pipe to bash.
# A command for something that was never created fails harmlessly. APIs stay enabled.
# Deleting the function also deletes its Eventarc trigger and that trigger's subscription.
$(quote gcloud functions delete "$FUNCTION" --gen2 --project="$PROJECT" --region="$REGION" --quiet)
$(quote gcloud scheduler jobs delete "$SWEEP_JOB" --project="$PROJECT" --location="$REGION" --quiet)
$(quote gcloud logging metrics delete "$METRIC" --project="$PROJECT" --quiet)
$(quote gcloud logging metrics delete "$TIME_METRIC" --project="$PROJECT" --quiet)
$(for metric in "${SWEEP_METRICS[@]}" "$BURN_METRIC" "$SAVED_METRIC" "$NOTIFY_METRIC"; do quote gcloud logging metrics delete "$metric" --project="$PROJECT" --quiet; echo; done)
$(quote gcloud monitoring dashboards delete "$FUNCTION" --project="$PROJECT" --quiet)
# The alert policies deploy.sh made for this function (label function=$FUNCTION), if any:
$(quote gcloud alpha monitoring policies list --project="$PROJECT" \
    --format='value(name,userLabels.function)') | awk -F'\t' '\$2 == "$FUNCTION" { print \$1 }' | $(quote xargs -r -n1 gcloud alpha monitoring policies delete --quiet)
# Undelivered dead letters are lost with this subscription: read them first if you need them.
$(quote gcloud pubsub subscriptions delete "$DEAD_LETTER_SUBSCRIPTION" --project="$PROJECT" --quiet)
EOF
  if [[ -n $RESULTS_TABLE ]]; then
    cat <<EOF
$(quote gcloud pubsub subscriptions delete "$BQ_SUBSCRIPTION" --project="$PROJECT" --quiet)
# The results table is the history of everything stopped: export it first if you need it.
$(quote bq rm --force --table "$BQ_TABLE")
# Removes the dataset only if nothing else is in it (no --recursive).
$(quote bq rm --force --dataset "$BQ_DATASET")
EOF
  fi
  cat <<EOF
$(quote gcloud pubsub topics delete "$TRIGGER_TOPIC" "$RESULTS_TOPIC" "$DEAD_LETTER_TOPIC" --project="$PROJECT" --quiet)
$(quote gcloud pubsub schemas delete "$SCHEMA" --project="$PROJECT" --quiet)
EOF
  for target in "${TARGETS[@]}"; do
    quote gcloud projects remove-iam-policy-binding "$target" \
      --member="serviceAccount:$FUNCTION_SA" --role="projects/$target/roles/$ROLE_ID" \
      --condition=None --format=none --quiet
    printf '\n'
    quote gcloud iam roles delete "$ROLE_ID" --project="$target" --quiet
    printf '\n'
  done
  print_organisation_teardown
  if [[ -n $NOTIFY_SECRET ]]; then
    cat <<EOF
# The function's access to the webhook secret. The secret is yours: once nothing needs it,
#   gcloud secrets delete $SECRET_ID --project=$SECRET_PROJECT
$(quote gcloud secrets remove-iam-policy-binding "$SECRET_ID" --project="$SECRET_PROJECT" \
    --member="serviceAccount:$FUNCTION_SA" --role="$SECRET_ACCESSOR" --condition=None \
    --format=none --quiet)
EOF
  fi
  quote gcloud iam service-accounts delete "$FUNCTION_SA" --project="$PROJECT" --quiet
  printf '\n'
  quote gcloud iam service-accounts delete "$INVOKER_SA" --project="$PROJECT" --quiet
  printf '\n'
}

# The grants on folders, organisations and the billing account, and the organisation-level
# roles. The teardown reads nothing, so where the role's organisation is not known from the
# flags (a folder's, the billing account's) the grant is found in the resource's own policy.
print_organisation_teardown() {
  local scope organization member="serviceAccount:$FUNCTION_SA" organizations=()
  local read=(--flatten='bindings[].members' --format='value(bindings.role,bindings.members)')
  for scope in "${SCOPES[@]}"; do
    [[ $scope == folders/* ]] || continue
    cat <<EOF
# The function's role on ${scope}, whichever organisation's it is:
$(quote gcloud resource-manager folders get-iam-policy "${scope#folders/}" "${read[@]}") | awk -F'\t' '\$2 == "$member" && \$1 ~ /^organizations\/[0-9]+\/roles\/$ROLE_ID\$/ { print \$1 }' | $(quote xargs -r -n1 gcloud resource-manager folders remove-iam-policy-binding "${scope#folders/}" --member="$member" --condition=None --format=none --quiet --role)
EOF
  done
  for scope in "${SCOPES[@]}"; do
    [[ $scope == organizations/* ]] || continue
    organization=${scope#organizations/}
    organizations+=("$organization")
    quote gcloud organizations remove-iam-policy-binding "$organization" --member="$member" \
      --role="$scope/roles/$ROLE_ID" --condition=None --format=none --quiet
    printf '\n'
  done
  if [[ -n $BILLING_ACCOUNT ]]; then
    cat <<EOF
# The function's role on billing account $BILLING_ACCOUNT (its organisation's, or $BILLING_VIEWER_ROLE):
$(quote gcloud billing accounts get-iam-policy "$BILLING_ACCOUNT" "${read[@]}") | awk -F'\t' '\$2 == "$member" && (\$1 == "$BILLING_VIEWER_ROLE" || \$1 ~ /^organizations\/[0-9]+\/roles\/$BILLING_ROLE_ID\$/) { print \$1 }' | $(quote xargs -r -n1 gcloud billing accounts remove-iam-policy-binding "$BILLING_ACCOUNT" --member="$member" --format=none --quiet --role)
EOF
  fi
  for organization in "${organizations[@]}"; do
    quote gcloud iam roles delete "$ROLE_ID" --organization="$organization" --quiet
    printf '\n'
  done
  if [[ " ${SCOPES[*]} " == *" folders/"* || -n $BILLING_ACCOUNT ]]; then
    cat <<EOF
# The organisation-level roles of the folders' and the billing account's organisations, if
# not deleted above (ORGANIZATION_ID: gcloud organizations list), once nothing uses them:
#   gcloud iam roles delete $ROLE_ID --organization=ORGANIZATION_ID --quiet
#   gcloud iam roles delete $BILLING_ROLE_ID --organization=ORGANIZATION_ID --quiet
EOF
  fi
}

on_exit() {
  local status=$?
  [[ -z $WORK_DIR ]] || rm -rf -- "$WORK_DIR"
  if ((status != 0)) && [[ -n $CURRENT_STEP ]]; then
    printf '\ndeploy.sh: FAILED in step "%s" (exit status %d). Fix the cause above and rerun; steps already done are skipped.\n' \
      "$CURRENT_STEP" "$status" >&2
  fi
}

main() {
  export CLOUDSDK_CORE_DISABLE_PROMPTS=1
  configure "$@"
  if [[ $MODE == teardown ]]; then
    print_teardown
    return 0
  fi
  trap on_exit EXIT
  WORK_DIR=$(mktemp -d)
  [[ $MODE != dry-run ]] || printf 'DRY RUN: printing the commands of a first run; nothing is executed.\n'

  step_project
  step_apis
  step_service_accounts
  step_iam_role
  step_scopes
  step_billing_account
  step_schema
  step_topics
  step_publishers
  step_trigger_identity
  step_bigquery
  step_notify_secret
  step_function
  step_invoker
  step_trigger_subscription
  step_sweep_job
  step_log_metric
  step_dashboard
  step_alert_policies
  CURRENT_STEP=""

  [[ $PRINT_WIRING == false ]] || print_wiring
  if [[ $MODE == dry-run ]]; then
    printf '\nDry run: %d command(s) would run; none was run.\n' "$CHANGES"
  elif ((CHANGES == 0)); then
    printf '\nNo changes: everything was already in place.\n'
  else
    printf '\nDone: %d change(s) made. Publish {"operation": "projects/P/regions/R/operations/ID"} to %s to cancel one.\n' \
      "$CHANGES" "$TRIGGER_TOPIC"
  fi
}

main "$@"
