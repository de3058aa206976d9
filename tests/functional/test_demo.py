"""The README's Quick start demo does what the README says."""

import os
import shlex
import subprocess
import sys

from tests.functional import conftest
from tests.functional import devcloud
import drift_demo

ROOT = conftest.ROOT


def test_quickstart_demo(admin, cloud):
    env = {k: v for k, v in os.environ.items() if not k.startswith('OS_')}
    proc = subprocess.run(
        [sys.executable, 'tools/quickstart.py', 'demo'], cwd=ROOT, env=env,
        capture_output=True, text=True, stdin=subprocess.DEVNULL,
        timeout=conftest.DEADLINE)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    out = proc.stdout
    assert 'audit exit code 3' in out
    assert out.count('glance-virtio volume-audit') == 2
    assert out.count('glance-virtio server-audit') == 2
    assert 'drifted' in out and 'hw_disk_bus, hw_scsi_model' in out

    # The copies the demo fixed, as Cinder and Nova hold them now.
    volume = next(admin.block_storage.volumes(
        name=drift_demo.TAG + '-volume'))
    meta = admin.block_storage.get_volume(volume.id).volume_image_metadata
    assert (meta['hw_disk_bus'], meta['hw_scsi_model']) == (
        'scsi', 'virtio-scsi')
    server = next(admin.compute.servers(name='^%s-' % drift_demo.TAG))
    manage = shlex.split(devcloud.info()['nova_manage'])
    shown = subprocess.run(
        manage + ['image_property', 'show', server.id, 'hw_disk_bus'],
        capture_output=True, text=True, stdin=subprocess.DEVNULL,
        timeout=conftest.DEADLINE)
    assert shown.stdout.strip() == 'scsi', shown.stderr
    drift_demo.clean(admin)
    assert not list(admin.compute.servers(name='^%s-' % drift_demo.TAG))
