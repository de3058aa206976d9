"""Quick-start demo, second part: an image, its volume and its server drift.

A volume is made from an Ubuntu image on virtio-blk and a server boots from
that volume. Moving the image to virtio-scsi changes neither copy: the
volume keeps its volume_image_metadata, the server the image_* values Nova
recorded at boot. The audits show the drift; volume-set --follow-images and
server-set fix it; the audits then show none. Exit 0 only when every step
did what it says.
"""

import json
import os
import subprocess
import sys
import tempfile
import time

import openstack

import load_samples

TAG = 'glance-virtio-drift'
CLOUD = 'devcloud-admin'
UBUNTU = {'os_type': 'linux', 'os_distro': 'ubuntu', 'os_version': '22.04',
          'hw_disk_bus': 'virtio'}
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
GLANCE_VIRTIO = os.path.join(os.path.dirname(sys.executable), 'glance-virtio')
# Generous: a limit for a hung cloud, not an expectation of speed.
DEADLINE = 600


def wait(get, want):
    end = time.monotonic() + DEADLINE
    while True:
        thing = get()
        if thing is not None and thing.status.lower() == want:
            return thing
        if thing is not None and thing.status.lower() == 'error':
            sys.exit('drift demo: %s %s is in error' % (want, thing.id))
        if time.monotonic() > end:
            sys.exit('drift demo: not %s after %d s' % (want, DEADLINE))
        time.sleep(1)


def clean(conn):
    """Remove what an earlier run of the demo left."""
    for server in conn.compute.servers(name='^%s-' % TAG):
        conn.compute.delete_server(server)
        conn.compute.wait_for_delete(server, wait=DEADLINE)
    for volume in conn.block_storage.volumes(name=TAG + '-volume'):
        wait(lambda: conn.block_storage.get_volume(volume.id), 'available')
        conn.block_storage.delete_volume(volume)
        conn.block_storage.wait_for_delete(volume, wait=DEADLINE)
    load_samples.delete_tagged(conn, TAG)


def build(conn):
    """The image, a volume made from it and a server booted from that."""
    image = load_samples.create(conn, TAG + '-ubuntu', [TAG], UBUNTU,
                                data=b'\0' * 1024)
    volume = conn.block_storage.create_volume(
        size=1, image_id=image['id'], name=TAG + '-volume')
    wait(lambda: conn.block_storage.get_volume(volume.id), 'available')
    flavor = min(conn.compute.flavors(), key=lambda f: (f.ram, f.vcpus))
    # networks "none" needs 2.37: the local cloud has no Neutron.
    resp = conn.compute.post('/servers', microversion='2.37', json={
        'server': {'name': TAG + '-server', 'flavorRef': flavor.id,
                   'networks': 'none', 'block_device_mapping_v2': [{
                       'boot_index': 0, 'uuid': volume.id,
                       'source_type': 'volume',
                       'destination_type': 'volume',
                       'delete_on_termination': False}]}})
    if resp.status_code != 202:
        sys.exit('drift demo: boot failed: %s' % resp.text)
    server_id = resp.json()['server']['id']
    wait(lambda: conn.compute.find_server(server_id), 'active')
    return image['id'], volume.id, server_id


def step(text, *args, expect=0):
    """Say what the operator does, run it, and check its exit code."""
    print('\n%s:\n  glance-virtio %s\n' % (text, ' '.join(
        "'%s'" % a if ' ' in a else a for a in args)), flush=True)
    code = subprocess.run([GLANCE_VIRTIO, '--os-cloud', CLOUD, *args],
                          cwd=ROOT, stdin=subprocess.DEVNULL).returncode
    if code != expect:
        sys.exit('drift demo: exit code %d, expected %d' % (code, expect))


def nova_manage():
    out = subprocess.run(['bash', 'tools/devcloud.sh', 'info'], cwd=ROOT,
                         check=True, capture_output=True, text=True).stdout
    return json.loads(out)['nova_manage']


def main():
    conn = openstack.connect(cloud=CLOUD)
    clean(conn)
    image, volume, server = build(conn)
    manage = nova_manage()
    journal = os.path.join(tempfile.mkdtemp(prefix='gv-drift-'),
                           'image-set.jsonl')
    print('\nAn Ubuntu image on virtio-blk (%s), a volume made from it (%s) '
          'and a server booted from that volume (%s).' % (
              image, volume, server))
    volume_cols = ['-c', 'Name', '-c', 'Source Image', '-c', 'Disk Bus',
                   '-c', 'SCSI Model', '-c', 'Drift', '-c', 'Attached To']
    server_cols = ['-c', 'Name', '-c', 'Status', '-c', 'Volume', '-c',
                   'Booted Bus', '-c', 'Booted SCSI Model', '-c',
                   'Image Bus', '-c', 'Drift', '-c', 'Known From']
    step('The image moves to virtio-scsi', 'set', image, '--bus', 'scsi',
         '--yes', '--journal', journal, '-c', 'Name', '-c', 'Outcome',
         '-c', 'Changes')
    step('Its copies do not: how many there are and how many differ',
         'audit', image, '--impact', '--nova-manage', manage, '-c', 'Name',
         '-c', 'Disk Bus', '-c', 'Volumes', '-c', 'Volumes Differ',
         '-c', 'Servers', '-c', 'Servers Differ', '-c', 'Servers Unknown')
    step('The volume keeps the old bus (exit 3: drift)', 'volume-audit',
         volume, '--no-snapshots', '--fail-on-drift', *volume_cols,
         expect=3)
    step('So does the server: Nova recorded the bus at boot (exit 3)',
         'server-audit', server, '--nova-manage', manage, '--fail-on-drift',
         *server_cols, expect=3)
    step('Move the volumes made from the images that journal changed',
         'volume-set', '--follow-images', journal, '--bus', 'scsi', '--yes',
         '-c', 'Name', '-c', 'Outcome', '-c', 'Changes', '-c', 'Note')
    step('Move the server: stop, nova-manage image_property set, start',
         'server-set', server, '--bus', 'scsi', '--nova-manage', manage,
         '--yes', '-c', 'Name', '-c', 'Outcome', '-c', 'Power',
         '-c', 'Changes')
    step('No drift is left', 'volume-audit', volume, '--no-snapshots',
         '--fail-on-drift', *volume_cols)
    step('No drift is left', 'server-audit', server, '--nova-manage',
         manage, '--fail-on-drift', *server_cols)
    print('\nThe image, its volume and its server all boot on virtio-scsi. '
          'Each change is in a journal for rollback.')
    return 0


if __name__ == '__main__':
    sys.exit(main())
