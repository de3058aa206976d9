"""Benchmark: glance-virtio server-audit against openstack server list --long.

Run: .venv/bin/python bench/fleet_servers.py [--servers 200] [--runs 3]

Servers section of the fleet benchmark (bench/fleet.py, on wip/volumes,
holds the volumes section); needs the full local cloud (Nova, fake driver).
"""

import argparse
import os
import sys
import time

sys.path[0] = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
from bench import common  # noqa: E402

TAG = 'bench-fleet'
PROPS = {'os_type': 'linux', 'os_distro': 'ubuntu', 'os_version': '22.04',
         'hw_disk_bus': 'virtio'}


def ensure_servers(conn, count):
    """At least count servers named bench-fleet* exist and are ACTIVE."""
    import load_samples
    images = list(conn.image.images(tag=TAG))
    image_id = images[0].id if images else load_samples.create(
        conn, TAG + '-image', [TAG], PROPS, data=b'\0' * 1024)['id']
    have = [s for s in conn.compute.servers(name='^%s' % TAG)]
    missing = count - len(have)
    flavor = min(conn.compute.flavors(), key=lambda f: (f.ram, f.vcpus))
    while missing > 0:
        batch = min(missing, 50)
        # networks "none" needs 2.37: the devcloud has no Neutron.
        resp = conn.compute.post('/servers', microversion='2.37', json={
            'server': {'name': TAG, 'imageRef': image_id,
                       'flavorRef': flavor.id, 'networks': 'none',
                       'min_count': batch, 'max_count': batch}})
        if resp.status_code != 202:
            sys.exit('cannot create servers: %s' % resp.text[:300])
        missing -= batch
    deadline = time.time() + 1800
    while time.time() < deadline:
        states = [s.status for s in conn.compute.servers(name='^%s' % TAG)]
        if len(states) >= count and all(s == 'ACTIVE' for s in states):
            return len(states)
        if 'ERROR' in states:
            sys.exit('a bench server went to ERROR')
        time.sleep(5)
    sys.exit('bench servers not ACTIVE after 30 minutes')


def running_env():
    if not os.environ.get('OS_CLIENT_CONFIG_FILE'):
        sys.exit('--running needs OS_CLIENT_CONFIG_FILE')
    env = {k: v for k, v in os.environ.items() if not k.startswith('OS_')
           or k == 'OS_CLIENT_CONFIG_FILE'}
    env['PATH'] = common.BIN + os.pathsep + env.get('PATH', '')
    return env


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument('--servers', type=int, default=200)
    parser.add_argument('--runs', type=int, default=3)
    parser.add_argument('--running', action='store_true',
                        help='Use the cloud OS_CLIENT_CONFIG_FILE names, '
                             'started elsewhere; do not start one')
    args = parser.parse_args()
    env = running_env() if args.running else common.cloud_env()
    total = ensure_servers(common.connect(), args.servers)
    cloud = ['--os-cloud', 'devcloud-admin']
    ours = [os.path.join(common.BIN, 'glance-virtio')] + cloud + [
        'server-audit', '-f', 'json']
    theirs = [os.path.join(common.BIN, 'openstack')] + cloud + [
        'server', 'list', '--long', '--all-projects', '-f', 'json']
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
    text = """## Server audit of %d servers (bench/fleet_servers.py)

Command: `.venv/bin/python bench/fleet_servers.py --servers %d --runs %d%s`,
on %s; %d servers visible; the two commands alternate, %d runs each.

%s

Ratio of medians (server audit / plain listing): **%.2fx** (target: at
most 1.5x). The audit lists servers at microversion 2.98 (the booted image
properties), reads each distinct image once from Glance and judges every
server with the rules; without --nova-manage, as here, no nova-manage runs.
""" % (args.servers, args.servers, args.runs,
       ' --running' if args.running else '', common.machine(), total,
       args.runs, table, o_med / t_med)
    common.write_section('fleet-servers', text)
    print(text)
    return 0


if __name__ == '__main__':
    sys.exit(main())
