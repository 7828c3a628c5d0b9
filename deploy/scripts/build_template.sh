#!/usr/bin/env bash
# Build the Flex Template image and write its spec file to the staging bucket.
source "$(dirname "$0")/env.sh"

build_image "${TEMPLATE_IMAGE}" deploy/dataflow/Dockerfile
gcloud dataflow flex-template build "${TEMPLATE_SPEC}" \
  --project "${PROJECT}" \
  --image "${TEMPLATE_IMAGE}" \
  --sdk-language PYTHON \
  --metadata-file "${ROOT}/deploy/dataflow/metadata.json"
echo "template: ${TEMPLATE_SPEC}"
