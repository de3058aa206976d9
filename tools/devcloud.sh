#!/bin/bash
# Local Keystone + Glance on 127.0.0.1 for tests and demos; see docs/devcloud.md.
exec python3 "$(dirname "$0")/devcloud.py" "$@"
