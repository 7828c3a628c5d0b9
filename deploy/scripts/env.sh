# Shared settings for the deploy scripts. Source it; override any variable in the environment.
# Names match deploy/terraform (bucket, repository, service account, subscription, dataset).
set -euo pipefail

: "${PROJECT:?set PROJECT to the Google Cloud project id}"
REGION="${REGION:-europe-west1}"
DATASET="${DATASET:-newswire}"
SUBSCRIPTION="${SUBSCRIPTION:-raw-items}"
JOB_NAME="${JOB_NAME:-newswire}"
BUCKET="${BUCKET:-${PROJECT}-newswire-staging}"
REPOSITORY="${REPOSITORY:-${REGION}-docker.pkg.dev/${PROJECT}/newswire}"
TAG="${TAG:-$(git rev-parse --short=12 HEAD 2>/dev/null || date -u +%Y%m%d%H%M%S)}"
TEMPLATE_IMAGE="${TEMPLATE_IMAGE:-${REPOSITORY}/dataflow:${TAG}}"
POLLERS_IMAGE="${POLLERS_IMAGE:-${REPOSITORY}/pollers:${TAG}}"
TEMPLATE_SPEC="${TEMPLATE_SPEC:-gs://${BUCKET}/templates/newswire-${TAG}.json}"
SERVICE_ACCOUNT="${SERVICE_ACCOUNT:-newswire-dataflow@${PROJECT}.iam.gserviceaccount.com}"

# Scaling: one worker idles along at feed rates; the cap bounds cost during a backlog replay.
NUM_WORKERS="${NUM_WORKERS:-1}"
MAX_WORKERS="${MAX_WORKERS:-4}"
MACHINE_TYPE="${MACHINE_TYPE:-n2-standard-2}"

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"

# The pipeline parameters (each one is declared in deploy/dataflow/metadata.json), named as Google's
# Pub/Sub-to-BigQuery templates name them. DEADLETTER_TABLE: another table for dead letters.
template_parameters() {
  local params="inputSubscription=projects/${PROJECT}/subscriptions/${SUBSCRIPTION}"
  params+=",outputTableSpec=${PROJECT}:${DATASET}.articles"
  params+=",outputDeadletterTable=${DEADLETTER_TABLE:-${PROJECT}:${DATASET}.dead_letter}"
  if [[ -n "${DEDUP_TTL_HOURS:-}" ]]; then
    params+=",dedup_ttl_hours=${DEDUP_TTL_HOURS}"
  fi
  printf '%s' "${params}"
}

# Launch the Flex Template as job JOB_NAME with the deployment's settings; extra gcloud flags follow
# (update.sh adds --update and its transform-name mappings).
run_flex_template() {
  gcloud dataflow flex-template run "${JOB_NAME}" \
    --project "${PROJECT}" \
    --region "${REGION}" \
    --template-file-gcs-location "${TEMPLATE_SPEC}" \
    --service-account-email "${SERVICE_ACCOUNT}" \
    --staging-location "gs://${BUCKET}/staging" \
    --temp-location "gs://${BUCKET}/tmp" \
    --enable-streaming-engine \
    --num-workers "${NUM_WORKERS}" \
    --max-workers "${MAX_WORKERS}" \
    --worker-machine-type "${MACHINE_TYPE}" \
    --parameters "$(template_parameters)" \
    "$@"
}

# Build IMAGE from DOCKERFILE with the repository root as context: local Docker when USE_DOCKER=1,
# else Cloud Build (deploy/cloudbuild.yaml).
build_image() {
  local image="$1" dockerfile="$2"
  if [[ "${USE_DOCKER:-0}" == "1" ]]; then
    DOCKER_BUILDKIT=1 docker build -f "${ROOT}/${dockerfile}" -t "${image}" "${ROOT}"
    docker push "${image}"
  else
    gcloud builds submit "${ROOT}" --project "${PROJECT}" --region "${REGION}" \
      --config "${ROOT}/deploy/cloudbuild.yaml" \
      --substitutions "_IMAGE=${image},_DOCKERFILE=${dockerfile}"
  fi
}

# The id of the running job named JOB_NAME (empty if none).
running_job_id() {
  gcloud dataflow jobs list --project "${PROJECT}" --region "${REGION}" --status active \
    --filter "name=${JOB_NAME}" --format 'value(id)' | head -n 1
}
