#!/usr/bin/env bash
# Build and push the pollers image; pass it to Terraform as poller_image.
source "$(dirname "$0")/env.sh"

build_image "${POLLERS_IMAGE}" deploy/pollers/Dockerfile
echo "poller_image = \"${POLLERS_IMAGE}\""
