"""The paging floor: GET /v2/images pages as `glance-virtio audit` does.

The same requests audit sends (limit 1000, the same filters; a walk from
each end of the listing at once, glance.list_image_bodies with
both_ends), each answer parsed; nothing else. --sequential: one walk,
page after page, as a plain client pages. Prints the number of images.

Run: .venv/bin/python bench/floor.py [--tag TAG] [--sequential]
"""

import argparse
import os
import sys

# The repository root replaces bench/ on the path: bench/inspect.py must
# not shadow the standard library's inspect module.
sys.path[0] = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
import openstack  # noqa: E402

from glance_virtio.services import glance  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument('--os-cloud', default='devcloud-admin')
    parser.add_argument('--tag', action='append', default=[])
    parser.add_argument('--sequential', action='store_true')
    args = parser.parse_args()
    conn = openstack.connect(cloud=args.os_cloud)
    query = {'tag': args.tag} if args.tag else None
    count = sum(1 for _ in glance.list_image_bodies(
        conn, query, both_ends=not args.sequential))
    print(count)
    return 0


if __name__ == '__main__':
    sys.exit(main())
