"""Benchmark: audits of volumes and servers against the plain listings.

Run: .venv/bin/python bench/fleet.py [--volumes 500] [--servers 200]
     [--runs 3]

Each part writes its own section of doc/source/benchmarks.md:
bench:fleet-volumes here, bench:fleet-servers by bench/fleet_servers.py,
which --servers runs;
give 0 to skip a part.
"""

import argparse
import concurrent.futures
import os
import subprocess
import sys
import time

sys.path[0] = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
from bench import common  # noqa: E402

VOLUME_PREFIX = 'bench-fleet-vol-'
IMAGE_TAG = 'bench-fleet'
IMAGE_PROPS = [
    {'os_type': 'linux', 'os_distro': 'ubuntu', 'os_version': '22.04',
     'hw_disk_bus': 'virtio'},
    {'os_type': 'windows', 'hw_disk_bus': 'sata'},
    {'os_distro': 'centos', 'os_version': '6.10', 'hw_disk_bus': 'scsi'},
    {'hw_disk_bus': 'ide', 'hw_machine_type': 'q35'},
]


def unlimited_quota(conn):
    """Lift the project's volume quotas (Cinder's default is 10 volumes)."""
    conn.block_storage.put(
        '/os-quota-sets/%s' % conn.current_project_id,
        json={'quota_set': {'volumes': -1, 'gigabytes': -1,
                            'snapshots': -1}}, raise_exc=True)


def ensure_volumes(conn, count, workers=4):
    """At least count bootable volumes named VOLUME_PREFIX*, available."""
    import load_samples
    images = common.ensure_images(conn, IMAGE_TAG, len(IMAGE_PROPS),
                                  lambda n: IMAGE_PROPS[n], workers=1)
    for image_id in images:
        if conn.image.get_image(image_id).status != 'active':
            conn.image.put('/images/%s/file' % image_id,
                           data=load_samples.DATA, raise_exc=True,
                           headers={'Content-Type':
                                    'application/octet-stream'})
    unlimited_quota(conn)
    have = [v for v in conn.block_storage.volumes(details=False)
            if (v.name or '').startswith(VOLUME_PREFIX)]

    def create(n):
        vol = conn.block_storage.create_volume(
            size=1, name='%s%05d' % (VOLUME_PREFIX, n),
            image_id=images[n % len(images)])
        return conn.block_storage.wait_for_status(
            vol, 'available', failures=['error'], interval=2, wait=1800).id
    with concurrent.futures.ThreadPoolExecutor(workers) as pool:
        list(pool.map(create, range(len(have), count)))


def volumes_part(args, env):
    conn = common.connect()
    start = time.perf_counter()
    ensure_volumes(conn, args.volumes)
    made = time.perf_counter() - start
    total = sum(1 for _ in conn.block_storage.volumes(details=False,
                                                      all_projects=True))
    cloud = ['--os-cloud', 'devcloud-admin']
    ours = [os.path.join(common.BIN, 'glance-virtio')] + cloud + [
        'volume-audit', '--no-snapshots', '-f', 'json']
    theirs = [os.path.join(common.BIN, 'openstack')] + cloud + [
        'volume', 'list', '--long', '--all-projects', '-f', 'json']
    times = {'ours': [], 'theirs': []}
    for _ in range(args.runs):
        times['theirs'].append(common.timed(theirs, env))
        times['ours'].append(common.timed(ours, env))
    o_best, o_med = common.best_and_median(times['ours'])
    t_best, t_med = common.best_and_median(times['theirs'])
    table = common.md_table(('command', 'best (s)', 'median (s)'), [
        ('`%s`' % ' '.join(['glance-virtio'] + ours[1:]),
         '%.2f' % o_best, '%.2f' % o_med),
        ('`%s`' % ' '.join(['openstack'] + theirs[1:]),
         '%.2f' % t_best, '%.2f' % t_med)])
    return """## Audit of %d volumes (bench/fleet.py)

Command: `.venv/bin/python bench/fleet.py --volumes %d --servers 0 --runs
%d%s`, on %s; the cloud held %d volumes in all (both commands list every
project's); the two commands alternate, %d runs each. Making the missing
volumes took %.0f s before timing.

%s

Ratio of medians (volume audit / plain listing): **%.2fx** (target: at
most 1.5x). The audit lists volumes 1000 to a page, reads each distinct
source image once from Glance for drift, and evaluates every rule on
every volume's image metadata. Cinder is the local cloud's (API, scheduler
and volume service with its fake driver), shared with other work while
measured.
""" % (args.volumes, args.volumes, args.runs,
       ' --no-start' if args.no_start else '', common.machine(), total,
       args.runs, made, table, o_med / t_med)


def servers_part(args, env):
    """Servers: bench/fleet_servers.py writes bench:fleet-servers itself."""
    script = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                          'fleet_servers.py')
    if not os.path.exists(script):
        sys.exit('bench/fleet_servers.py is missing: run with --servers 0')
    subprocess.run([sys.executable, script, '--servers', str(args.servers),
                    '--runs', str(args.runs)], env=env, check=True)
    return None


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument('--volumes', type=int, default=500)
    parser.add_argument('--servers', type=int, default=200)
    parser.add_argument('--runs', type=int, default=3)
    parser.add_argument('--no-start', action='store_true',
                        help='Use the running cloud OS_CLIENT_CONFIG_FILE '
                             'names instead of starting tools/devcloud.sh')
    args = parser.parse_args()
    if args.no_start:
        env = {k: v for k, v in os.environ.items()
               if not k.startswith('OS_') or k == 'OS_CLIENT_CONFIG_FILE'}
        env['PATH'] = common.BIN + os.pathsep + env.get('PATH', '')
    else:
        env = common.cloud_env()
    for count, name, part in ((args.volumes, 'fleet-volumes', volumes_part),
                              (args.servers, 'fleet-servers', servers_part)):
        if count:
            text = part(args, env)
            if text:
                common.write_section(name, text)
                print(text)
    return 0


if __name__ == '__main__':
    sys.exit(main())
