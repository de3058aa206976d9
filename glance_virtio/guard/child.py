"""Inspect one staged file; run as its own process by the import plugin.

    python -m glance_virtio.guard.child   (limits as JSON on stdin)

Glance's worker is threaded: the plugin never forks it. It starts this
fresh interpreter, which runs glance_virtio.inspect's isolated inspection
(a forked child with memory and CPU limits) and prints the report as JSON.
"""

import json
import sys

from glance_virtio import inspect as guest


def main():
    args = json.load(sys.stdin)
    path = args['path']

    def opener():
        return open(path, 'rb')
    report = guest.inspect_isolated(
        opener, max_read=args['max_read'],
        max_memory_mb=args['max_memory_mb'],
        max_cpu_seconds=args['max_cpu_seconds'], timeout=args['timeout'])
    json.dump(report, sys.stdout)
    return 0


if __name__ == '__main__':
    sys.exit(main())
