#!/usr/bin/env bash
# Run Nova's own blockinfo.get_disk_mapping as the oracle for `explain`.
# Nova lives in its own virtualenv (its pins fight the tool's), created on
# first use. Usage: tools/nova-oracle.sh < cases.json > mappings.json
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
# The one Nova version of both oracles (tests/unit/nova_source.py reads it too).
NOVA_VERSION=$(cat "$here/nova-version")
venv=${NOVA_ORACLE_DIR:-$here/../.nova-oracle}
stamp="$venv/.nova-$NOVA_VERSION"

if [ ! -e "$stamp" ]; then
    echo "nova-oracle: installing nova==$NOVA_VERSION into $venv" >&2
    python3 -m venv "$venv"
    "$venv/bin/pip" install -q "nova==$NOVA_VERSION" >&2
    touch "$stamp"
fi
exec "$venv/bin/python" "$here/nova_oracle.py"
