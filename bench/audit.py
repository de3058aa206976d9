"""Benchmark: glance-virtio audit against openstack image list --long.

Run: .venv/bin/python bench/audit.py [--images 2000] [--runs 3]
"""

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402

TAG = 'bench-audit'
PROPS = [
    {'os_type': 'linux', 'os_distro': 'ubuntu', 'os_version': '22.04',
     'hw_disk_bus': 'virtio'},
    {'os_type': 'windows', 'hw_disk_bus': 'sata'},
    {'os_distro': 'centos', 'os_version': '6.10', 'hw_disk_bus': 'scsi'},
    {'hw_disk_bus': 'ide', 'hw_machine_type': 'q35'},
]


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
    times = {'ours': [], 'theirs': []}
    for _ in range(args.runs):
        times['theirs'].append(common.timed(theirs, env))
        times['ours'].append(common.timed(ours, env))
    o_best, o_med = common.best_and_median(times['ours'])
    t_best, t_med = common.best_and_median(times['theirs'])
    text = '''## Audit of %(n)d images (bench/audit.py)

Command: `%(cmd)s`, %(runs)d alternating runs of each, on %(machine)s.

| command | best (s) | median (s) |
| --- | --- | --- |
| `%(ours)s` | %(ob).2f | %(om).2f |
| `%(theirs)s` | %(tb).2f | %(tm).2f |

Ratio of medians (audit / plain listing): **%(ratio).2fx** (target: at most
1.2x). The audit lists with the largest page size (1000) and evaluates every
rule on every image; the plain listing only formats what Glance returns.
''' % {'n': args.images, 'runs': args.runs, 'machine': common.machine(),
       'cmd': '.venv/bin/python bench/audit.py --images %d --runs %d'
              % (args.images, args.runs),
       'ours': ' '.join(['glance-virtio'] + ours[1:]),
       'theirs': ' '.join(['openstack'] + theirs[1:]),
       'ob': o_best, 'om': o_med, 'tb': t_best, 'tm': t_med,
       'ratio': o_med / t_med}
    common.write_section('audit', text)
    print(text)
    return 0


if __name__ == '__main__':
    sys.exit(main())
