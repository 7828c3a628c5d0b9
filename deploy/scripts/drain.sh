#!/usr/bin/env bash
# Drain the running job: stop reading, finish everything in flight, then stop. Nothing is lost;
# messages not yet read stay in the subscription for the next job.
source "$(dirname "$0")/env.sh"

job_id="$(running_job_id)"
if [[ -z "${job_id}" ]]; then
  echo "no running job named ${JOB_NAME}" >&2
  exit 1
fi
gcloud dataflow jobs drain "${job_id}" --project "${PROJECT}" --region "${REGION}"
echo "draining ${JOB_NAME} (${job_id}); follow it with: gcloud dataflow jobs describe ${job_id} --region ${REGION}"
