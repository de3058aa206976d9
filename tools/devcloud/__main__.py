"""Entry point: `python3 tools/devcloud COMMAND`, as tools/devcloud.sh runs."""

import os
import sys

# Run as a directory, sys.path[0] is this folder; import the package from
# its parent instead.
sys.path[0] = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

from devcloud import commands  # noqa: E402

sys.exit(commands.main(sys.argv[1:]))
