"""Benchmark: virtio-set on 1,000 images against the obvious alternatives.

In one run against the local cloud: glance-virtio set on N images; a shell
loop of `openstack image set --property ...` on a sample (scaled to N); and
a bare script sending the same PATCHes with the same concurrency through
keystoneauth (the floor).

Run: .venv/bin/python bench/set.py [--images 1000] [--sample 50]
"""

import argparse
import concurrent.futures
import json
import os
import sys
import tempfile
import time

# The repository root replaces bench/ on the path: bench/inspect.py must
# not shadow the standard library's inspect module.
sys.path[0] = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
from bench import common  # noqa: E402

TAG = 'bench-set'
BASE = {'os_type': 'linux', 'os_distro': 'ubuntu', 'os_version': '22.04',
        'hw_disk_bus': 'virtio'}
TO_SCSI = [{'op': 'replace', 'path': '/hw_disk_bus', 'value': 'scsi'},
           {'op': 'add', 'path': '/hw_scsi_model', 'value': 'virtio-scsi'}]
TO_VIRTIO = [{'op': 'replace', 'path': '/hw_disk_bus', 'value': 'virtio'},
             {'op': 'remove', 'path': '/hw_scsi_model'}]
PATCH = {'Content-Type': 'application/openstack-images-v2.1-json-patch'}


def patch_all(conn, ids, ops, concurrency):
    """The floor: one PATCH per image through keystoneauth, concurrently."""
    body = json.dumps(ops)

    def send(image_id):
        conn.image.patch('/images/%s' % image_id, data=body, headers=PATCH,
                         raise_exc=True)
    with concurrent.futures.ThreadPoolExecutor(concurrency) as pool:
        list(pool.map(send, ids))


def reset(conn, ids, concurrency):
    """Put every image back on virtio, whatever it is on now."""
    def one(image_id):
        props = conn.image.get('/images/%s' % image_id).json()
        if props.get('hw_disk_bus') != 'virtio':
            ops = [o for o in TO_VIRTIO if o['op'] != 'remove'
                   or 'hw_scsi_model' in props]
            conn.image.patch('/images/%s' % image_id, data=json.dumps(ops),
                             headers=PATCH, raise_exc=True)
    with concurrent.futures.ThreadPoolExecutor(concurrency) as pool:
        list(pool.map(one, ids))


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument('--images', type=int, default=1000)
    parser.add_argument('--sample', type=int, default=50)
    parser.add_argument('--concurrency', type=int, default=8)
    args = parser.parse_args()
    env = common.cloud_env()
    conn = common.connect()
    ids = common.ensure_images(conn, TAG, args.images, lambda n: BASE)
    reset(conn, ids, args.concurrency)
    journal = tempfile.mktemp(suffix='.jsonl')
    ours = [os.path.join(common.BIN, 'glance-virtio'), '--os-cloud',
            'devcloud-admin', 'set', '--tag', TAG, '--bus', 'scsi', '--yes',
            '--concurrency', str(args.concurrency), '--journal', journal,
            '-f', 'value', '-c', 'Outcome']
    cpu = common.server_cpu()
    t_ours = common.timed(ours, env)
    cpu_ours = common.server_cpu() - cpu
    changed = sum(1 for line in open(journal) if '"intent"' in line)
    if changed != args.images:
        sys.exit('virtio-set changed %d of %d images' % (changed,
                                                         args.images))

    reset(conn, ids, args.concurrency)
    start, cpu = time.perf_counter(), common.server_cpu()
    patch_all(conn, ids, TO_SCSI, args.concurrency)
    t_floor = time.perf_counter() - start
    cpu_floor = common.server_cpu() - cpu

    reset(conn, ids, args.concurrency)
    sample = ids[:args.sample]
    start = time.perf_counter()
    for image_id in sample:
        common.timed([os.path.join(common.BIN, 'openstack'), '--os-cloud',
                      'devcloud-admin', 'image', 'set', '--property',
                      'hw_disk_bus=scsi', '--property',
                      'hw_scsi_model=virtio-scsi', image_id], env)
    t_loop = (time.perf_counter() - start) * args.images / len(sample)
    reset(conn, ids, args.concurrency)

    n = args.images
    table = common.md_table(
        ('what', 'seconds for %d images' % n, 'images/s'), [
            ('`glance-virtio set --tag %s --bus scsi --yes --concurrency %d`'
             ' (list, plan, then per image a fresh GET, the PATCH and a '
             'verify GET; fsynced journal)' % (TAG, args.concurrency),
             '%.1f' % t_ours, '%.0f' % (n / t_ours)),
            ('bare keystoneauth script: the same PATCHes, same concurrency '
             '(the floor)', '%.1f' % t_floor, '%.0f' % (n / t_floor)),
            ('shell loop of `openstack image set --property hw_disk_bus=scsi'
             ' --property hw_scsi_model=virtio-scsi` (%d images, scaled)'
             % len(sample), '%.0f' % t_loop, '%.1f' % (n / t_loop)),
        ])
    text = """## Bulk bus change of %d images (bench/set.py)

Command: `.venv/bin/python bench/set.py --images %d --sample %d
--concurrency %d`, on %s.

%s

virtio-set is **%.0fx** faster than the loop (target: at least 50x) and
takes **%.2fx** the floor's time (target: at most 1.5x).

The server bounds both: Glance (one waitress process) used %.1f s of CPU
during the %.1f s of the floor and %.1f s during the %.1f s of virtio-set.
The floor itself is only %.0fx faster than the loop, so on this cloud no
client can be 50x faster; the loop is bound by the client (one
`openstack` process per image), the others by Glance's CPU per request.
""" % (n, n, args.sample, args.concurrency, common.machine(), table,
       t_loop / t_ours, t_ours / t_floor, cpu_floor, t_floor, cpu_ours,
       t_ours, t_loop / t_floor)
    common.write_section('set', text)
    print(text)
    os.unlink(journal)
    return 0


if __name__ == '__main__':
    sys.exit(main())
