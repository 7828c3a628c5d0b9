#!/usr/bin/env bash
# Start the streaming job from the template (refuses if a job of that name is already running).
source "$(dirname "$0")/env.sh"

if [[ -n "$(running_job_id)" ]]; then
  echo "a job named ${JOB_NAME} is already running: use update.sh (or drain.sh first)" >&2
  exit 1
fi
run_flex_template
