"""Benchmark: audits of volumes and servers against the plain listings.

Run: .venv/bin/python bench/fleet.py [--volumes 500] [--servers 200]
     [--runs 3] [--no-start]

Each part writes its own section of doc/source/benchmarks.md
(bench:fleet-volumes, bench:fleet-servers); give 0 to skip a part.
"""

import argparse
import concurrent.futures
import os
import subprocess
import sys
import time

sys.path[0] = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
from bench import catalogue  # noqa: E402
from bench import common  # noqa: E402

VOLUME_PREFIX = 'bench-fleet-vol-'
SERVER_PREFIX = 'bench-fleet-srv'
# Volumes and servers are made from this many images of the realistic
# catalogue (bench/catalogue.py), spread over its kinds.
SOURCE_IMAGES = 200


def unlimited_quota(conn):
    """Lift the project's volume quotas (Cinder's default is 10 volumes)."""
    conn.block_storage.put(
        '/os-quota-sets/%s' % conn.current_project_id,
        json={'quota_set': {'volumes': -1, 'gigabytes': -1,
                            'snapshots': -1}}, raise_exc=True)


def source_images(conn):
    """Ids of the catalogue images volumes and servers are made from.

    Volume-backed snapshots are left out: Cinder refuses to make a volume
    from one whose volume snapshot is gone ("Nova specific image is
    found, but boot volume snapshot id ... not found").
    """
    ids = common.ensure_catalogue(conn, common.API_IMAGES)
    usable = [i for n, i in enumerate(ids)
              if 'bdm_v2' not in catalogue.image(n)[3]]
    return usable[:SOURCE_IMAGES]


def ensure_volumes(conn, count, workers=4):
    """At least count bootable volumes named VOLUME_PREFIX*, available.

    Volume n below SOURCE_IMAGES is made from catalogue image 7n mod
    SOURCE_IMAGES (Cinder copies the image's properties into its
    volume_image_metadata); the others are clones of volume n mod
    SOURCE_IMAGES, which carry Cinder's copy of the same metadata (a clone
    needs no image download: Glance is not the bottleneck of the setup).
    """
    images = source_images(conn)
    unlimited_quota(conn)
    have = {}
    for vol in conn.block_storage.volumes(details=True):
        if (vol.name or '').startswith(VOLUME_PREFIX) and \
                vol.status == 'available':
            have[int(vol.name[len(VOLUME_PREFIX):])] = vol.id

    def create(n):
        if n < len(images):
            attrs = {'image_id': images[(7 * n) % len(images)]}
        else:
            attrs = {'source_volid': have[n % len(images)]}
        vol = conn.block_storage.create_volume(
            size=1, name='%s%05d' % (VOLUME_PREFIX, n), **attrs)
        have[n] = conn.block_storage.wait_for_status(
            vol, 'available', failures=['error'], interval=2, wait=1800).id
    missing = [n for n in range(count) if n not in have]
    with concurrent.futures.ThreadPoolExecutor(workers) as pool:
        list(pool.map(create, [n for n in missing if n < len(images)]))
        list(pool.map(create, [n for n in missing if n >= len(images)]))


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
    glance_images = int(subprocess.run(
        [sys.executable, os.path.join(common.ROOT, 'bench', 'floor.py')],
        env=env, capture_output=True, text=True, check=True).stdout)
    before = common.load()
    table, ratio = common.compare(ours, theirs, env, args.runs)
    return """## Audit of %d volumes (bench/fleet.py)

Command: `.venv/bin/python bench/fleet.py --volumes %d --servers %d
--runs %d%s`, on %s; the cloud held %d volumes in all (both commands list every
project's); the two commands alternate, %d runs each. Making the missing
volumes took %.0f s before timing.

%s

Ratio of medians (volume audit / plain listing): **%.2fx** (target: at
most 1.0x). The first %d volumes were made from as many images of the
realistic catalogue (bench/catalogue.py; Glance listed %d images), the
others cloned from them: each volume's image metadata is Cinder's copy of
its image's properties (owner_specified.*, Nova snapshot keys, SCS-0102
keys, operator keys). The audit lists volumes
1000 to a page, reads the distinct source images by id, 50 to a list
request, for drift, and evaluates every rule on every volume's image
metadata. Cinder is the local cloud's (API, scheduler and volume service
with its fake driver). Load average (1, 5, 15 min) before: %s, after: %s
(other work shared the machine).
""" % (args.volumes, args.volumes, args.servers, args.runs,
       ' --no-start' if args.no_start else '', common.machine(), total,
       args.runs, made, table, ratio, SOURCE_IMAGES, glance_images, before,
       common.load())


def unlimited_instances(conn):
    """Lift the project's compute quotas (Nova's default is 10 servers)."""
    conn.compute.put(
        '/os-quota-sets/%s' % conn.current_project_id,
        json={'quota_set': {'instances': -1, 'cores': -1, 'ram': -1}},
        raise_exc=True)


def ensure_servers(conn, count):
    """At least count servers named SERVER_PREFIX*, all ACTIVE."""
    image_id = source_images(conn)[0]
    unlimited_instances(conn)
    have = list(conn.compute.servers(name='^%s' % SERVER_PREFIX))
    missing = count - len(have)
    flavor = min(conn.compute.flavors(), key=lambda f: (f.ram, f.vcpus))
    while missing > 0:
        batch = min(missing, 25)
        # networks "none" needs 2.37: the devcloud has no Neutron.
        resp = conn.compute.post('/servers', microversion='2.37', json={
            'server': {'name': SERVER_PREFIX, 'imageRef': image_id,
                       'flavorRef': flavor.id, 'networks': 'none',
                       'min_count': batch, 'max_count': batch}})
        if resp.status_code != 202:
            sys.exit('cannot create servers: %s' % resp.text[:300])
        missing -= batch
        wait_active(conn, count - missing)


def wait_active(conn, count):
    deadline = time.monotonic() + 3600
    while time.monotonic() < deadline:
        states = [s.status for s in conn.compute.servers(
            name='^%s' % SERVER_PREFIX)]
        if len(states) >= count and all(s == 'ACTIVE' for s in states):
            return len(states)
        if 'ERROR' in states:
            sys.exit('a bench server went to ERROR')
        time.sleep(5)
    sys.exit('bench servers not ACTIVE after an hour')


def servers_part(args, env):
    conn = common.connect()
    start = time.perf_counter()
    ensure_servers(conn, args.servers)
    made = time.perf_counter() - start
    total = sum(1 for _ in conn.compute.servers(all_projects=True))
    cloud = ['--os-cloud', 'devcloud-admin']
    ours = [os.path.join(common.BIN, 'glance-virtio')] + cloud + [
        'server-audit', '-f', 'json']
    theirs = [os.path.join(common.BIN, 'openstack')] + cloud + [
        'server', 'list', '--long', '--all-projects', '-f', 'json']
    table, ratio = common.compare(ours, theirs, env, args.runs)
    return """## Server audit of %d servers (bench/fleet.py)

Command: `.venv/bin/python bench/fleet.py --volumes %d --servers %d
--runs %d%s`, on %s; the cloud held %d servers in all (both commands list every
project's); the two commands alternate, %d runs each. Booting the missing
servers (Nova's fake compute driver) took %.0f s before timing.

%s

Ratio of medians (server audit / plain listing): **%.2fx** (target: at
most 1.5x). The audit lists servers at microversion 2.98 (the booted image
properties), reads each distinct image once from Glance and judges every
server with the rules; without --nova-manage, as here, no nova-manage runs.
""" % (args.servers, args.volumes, args.servers, args.runs,
       ' --no-start' if args.no_start else '', common.machine(), total,
       args.runs, made, table, ratio)


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument('--volumes', type=int, default=500)
    parser.add_argument('--servers', type=int, default=200)
    parser.add_argument('--runs', type=int, default=3)
    parser.add_argument('--no-start', action='store_true',
                        help='Use the running cloud OS_CLIENT_CONFIG_FILE '
                             'names instead of starting tools/devcloud.sh')
    args = parser.parse_args()
    env = common.cloud_env(start=not args.no_start)
    for count, name, part in ((args.volumes, 'fleet-volumes', volumes_part),
                              (args.servers, 'fleet-servers', servers_part)):
        if count:
            text = part(args, env)
            common.write_section(name, text)
            print(text, flush=True)
    return 0


if __name__ == '__main__':
    sys.exit(main())
