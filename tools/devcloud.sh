#!/bin/bash
# Local Keystone + Glance on 127.0.0.1 for tests and demos; see
# doc/source/devcloud.md.  One module per service in tools/devcloud/services/.
exec python3 "$(dirname "$0")/devcloud" "$@"
