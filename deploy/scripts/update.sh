#!/usr/bin/env bash
# Replace the running job in place (state and in-flight data are kept).
# Renamed steps need a mapping, old prefix to new prefix, comma-separated, e.g.
#   TRANSFORM_NAME_MAPPINGS='Write_articles/StreamingInsert=Write_articles/Insert' update.sh
# Step names are listed in tests/pipeline/test_dataflow_translation.py (STABLE_STEPS).
source "$(dirname "$0")/env.sh"

if [[ -z "$(running_job_id)" ]]; then
  echo "no running job named ${JOB_NAME} to update: use launch.sh" >&2
  exit 1
fi
mapping_args=()
if [[ -n "${TRANSFORM_NAME_MAPPINGS:-}" ]]; then
  mapping_args=(--transform-name-mappings "${TRANSFORM_NAME_MAPPINGS}")
fi
run_flex_template --update "${mapping_args[@]}"
