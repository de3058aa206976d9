"""Benchmark: glance-virtio audit against openstack image list --long.

Run: .venv/bin/python bench/audit.py [--images 2000] [--runs 3]
"""

import argparse
import os
import sys

# The repository root replaces bench/ on the path: bench/inspect.py must
# not shadow the standard library's inspect module.
sys.path[0] = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
from bench import common  # noqa: E402

TAG = 'bench-audit'
PROPS = common.MIXED_PROPS


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument('--images', type=int, default=2000)
    parser.add_argument('--runs', type=int, default=3)
    args = parser.parse_args()
    env = common.cloud_env()
    common.ensure_images(common.connect(), TAG, args.images,
                         lambda n: PROPS[n % len(PROPS)])
    cloud = ['--os-cloud', 'devcloud-admin']
    ours = [os.path.join(common.BIN, 'glance-virtio')] + cloud + [
        'audit', '--tag', TAG, '-f', 'json']
    theirs = [os.path.join(common.BIN, 'openstack')] + cloud + [
        'image', 'list', '--long', '--tag', TAG, '-f', 'json']
    table, ratio = common.compare(ours, theirs, env, args.runs)
    text = """## Audit of %d images (bench/audit.py)

Command: `.venv/bin/python bench/audit.py --images %d --runs %d`, on %s;
the two commands alternate, %d runs each.

%s

Ratio of medians (audit / plain listing): **%.2fx** (target: at most
1.2x). The audit lists with the largest page size (1000) and evaluates
every rule on every image; the plain listing only formats what Glance
returns.
""" % (args.images, args.images, args.runs, common.machine(), args.runs,
       table, ratio)
    common.write_section('audit', text)
    print(text)
    return 0


if __name__ == '__main__':
    sys.exit(main())
