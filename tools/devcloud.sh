#!/bin/bash
# Local Keystone, Glance, Placement, Nova and Cinder (with RabbitMQ) on
# 127.0.0.1; see docs/devcloud.md.  One module per service in
# tools/devcloud/services/.
exec python3 "$(dirname "$0")/devcloud" "$@"
