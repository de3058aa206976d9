"""The paging floor: GET /v2/images pages as `glance-virtio audit` does.

The same requests (limit 1000, the same filters, marker paging by the
`next` link) through keystoneauth, each answer parsed for its `next` link;
nothing else. Prints the number of images listed.

Run: .venv/bin/python bench/floor.py [--tag TAG]
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
    args = parser.parse_args()
    conn = openstack.connect(cloud=args.os_cloud)
    params = {'limit': glance.PAGE_SIZE}
    if args.tag:
        params['tag'] = args.tag
    url, count = '/images', 0
    while url:
        body = conn.image.get(url, params=params, raise_exc=True).json()
        count += len(body['images'])
        url = body.get('next')
        url = url[url.index('/images'):] if url else None
        params = None
    print(count)
    return 0


if __name__ == '__main__':
    sys.exit(main())
