#!/usr/bin/env bash
# Start the streaming job from the template (refuses if a job of that name is already running).
source "$(dirname "$0")/env.sh"

if [[ -n "$(running_job_id)" ]]; then
  echo "a job named ${JOB_NAME} is already running: use update.sh (or drain.sh first)" >&2
  exit 1
fi
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
  --parameters "$(template_parameters)"
