"""virtio-verify and set --verify: real canary boots of real Debian images.

The images come from tests/fixtures/bootable.py (debootstrap, GRUB,
initramfs-tools; cached between runs): ``good`` has virtio_scsi in its
initramfs, ``no-virtio-scsi`` does not. Five boots in all, two at a time:
each costs 30-120 s under TCG on a shared machine, so deadlines are
generous and nothing here is timed.
"""

import json
import os
import subprocess
import uuid

import openstack
import pytest

from glance_virtio.verify import canary
from glance_virtio.verify import runner
from tests.fixtures import bootable
from tests.functional import conftest
from tests.functional import devcloud
import load_samples  # noqa: I100 (tools/, on the path from conftest)

# Per canary; a slow shared CI machine under TCG needs far less.
CANARY_TIMEOUT = '900'


@pytest.fixture(scope='module')
def admin_conn():
    """Keystone and Glance are enough (start --minimal when nothing runs)."""
    if not devcloud.is_running():
        devcloud._run('start', '--minimal')
    os.environ['OS_CLIENT_CONFIG_FILE'] = devcloud.info()['clouds_yaml']
    for key in [k for k in os.environ if k.startswith('OS_')
                and k != 'OS_CLIENT_CONFIG_FILE']:
        del os.environ[key]
    return openstack.connect(cloud='devcloud-admin')


@pytest.fixture(scope='module')
def images():
    """{variant: local qcow2 path}; built once, cached between runs."""
    return {v: bootable.image(v) for v in bootable.VARIANTS}


@pytest.fixture
def uploaded(admin_conn):
    tag = 'gvverify-' + uuid.uuid4().hex[:8]
    made = []

    def upload(name, path, **props):
        body = dict(props, name=name, disk_format='qcow2',
                    container_format='bare', tags=[tag])
        image = admin_conn.image.post('/images', json=body,
                                      raise_exc=True).json()
        made.append(image['id'])
        with open(path, 'rb') as data:
            admin_conn.image.put(
                '/images/%s/file' % image['id'], data=data,
                headers={'Content-Type': 'application/octet-stream'},
                raise_exc=True)
        return admin_conn.image.get_image(image['id'])
    upload.tag = tag
    yield upload
    for image_id in made:
        admin_conn.image.delete_image(image_id, ignore_missing=True)


def by_name(rows):
    return {r['Name']: r for r in rows}


def test_verify_verdicts_and_evidence(uploaded, images, tmp_path):
    scsi = {'hw_disk_bus': 'scsi', 'hw_scsi_model': 'virtio-scsi'}
    good = uploaded('canary-good', images['good'], **scsi)
    bad = uploaded('canary-no-virtio-scsi', images['no-virtio-scsi'], **scsi)
    # No hw_scsi_model: libvirt gives an LSI controller; OVMF has no driver.
    uefi = uploaded('canary-uefi-lsi', images['good'], hw_disk_bus='scsi',
                    hw_firmware_type='uefi')
    consoles = tmp_path / 'consoles'
    result = conftest.run(
        'verify', good.id, bad.id, uefi.id, '--console', str(consoles),
        '--canary-cache', str(tmp_path / 'cache'), '--concurrency', '2',
        '--boot-timeout', CANARY_TIMEOUT, '-f', 'json')
    assert result.returncode == 4, (result.stdout, result.stderr)
    rows = by_name(json.loads(result.stdout))

    row = rows['canary-good']
    assert row['Verdict'] == 'booted'
    # Whichever systemd prints first on a loaded machine.
    assert row['Marker'] in ('login prompt', 'multi-user target')
    assert row['Booted On'] == 'scsi/virtio-scsi, pc, bios'
    assert row['Devices'] == ['virtio-scsi-pci', 'scsi-hd']

    row = rows['canary-no-virtio-scsi']
    assert (row['Verdict'], row['Marker']) == ('failed',
                                               'root device not found')
    assert any(line.startswith('ALERT!  UUID=%s does not exist.'
                               % bootable.ROOT_UUID)
               for line in row['Evidence']), row['Evidence']

    row = rows['canary-uefi-lsi']
    assert row['Verdict'] == 'failed'
    assert 'map: No mapping found.' in row['Evidence']
    assert row['Booted On'] == 'scsi/lsilogic, pc, uefi'
    assert row['Devices'] == ['lsi', 'scsi-hd']

    logs = sorted(os.listdir(consoles))
    assert len(logs) == 3
    for image in (good, bad, uefi):
        assert any(image.id in name for name in logs)
    # The same data twice: one local copy, by checksum.
    assert len(os.listdir(tmp_path / 'cache')) == 2


def test_set_verify_rolls_back_the_image_that_failed(uploaded, images,
                                                     tmp_path):
    virtio = {'hw_disk_bus': 'virtio', 'os_type': 'linux',
              'os_distro': 'debian'}
    good = uploaded('set-good', images['good'], **virtio)
    bad = uploaded('set-no-virtio-scsi', images['no-virtio-scsi'], **virtio)
    journal = tmp_path / 'set.jsonl'
    # GV027: the metadata cannot prove virtio_scsi; the canary will.
    result = conftest.run(
        'set', '--tag', uploaded.tag, '--bus', 'scsi', '--allow', 'GV027',
        '--verify', '--verify-timeout', CANARY_TIMEOUT, '--yes',
        '--journal', str(journal), '-f', 'json')
    assert result.returncode == 4, (result.stdout, result.stderr)
    rows = by_name(json.loads(result.stdout))
    assert rows['set-good']['Verify'].startswith('booted (')
    assert rows['set-no-virtio-scsi']['Verify'].startswith(
        'failed (root device not found)')
    assert rows['set-no-virtio-scsi']['Verify'].endswith('; rolled back')

    conn = openstack.connect(cloud='devcloud-admin')
    kept = conn.image.get('/images/%s' % good.id).json()
    assert (kept.get('hw_disk_bus'), kept.get('hw_scsi_model')) == (
        'scsi', 'virtio-scsi')
    undone = conn.image.get('/images/%s' % bad.id).json()
    assert undone.get('hw_disk_bus') == 'virtio'
    assert 'hw_scsi_model' not in undone

    records = [json.loads(line) for line in journal.read_text().splitlines()]
    verified = {r['image']: r for r in records if r['type'] == 'verify'}
    assert verified[good.id]['verdict'] == 'booted'
    assert verified[bad.id]['verdict'] == 'failed'
    rollback = [r for r in records if r['type'] == 'intent'
                and r['image'] == bad.id][-1]
    assert rollback['after'] == {'hw_disk_bus': 'virtio',
                                 'hw_scsi_model': None}
    end = [r for r in records if r['type'] == 'verify-end'][-1]
    assert end['rolled_back'] == [bad.id]
    # The journal still rolls back the whole run: the failed image is done.
    again = conftest.run('rollback', str(journal), '--dry-run', '-f', 'json')
    assert again.returncode == 0, (again.stdout, again.stderr)
    states = {r['ID']: r['Outcome'] for r in json.loads(again.stdout)}
    assert states == {good.id: 'planned', bad.id: 'unchanged'}


def test_probe_sector_boots_under_tcg():
    # The same probe decides whether KVM is used; under TCG it always runs.
    qemu = runner.qemu_binary(runner.Options())
    assert runner.probe(qemu, 'tcg', seconds=60)


def test_a_backing_file_is_refused_and_never_opened(tmp_path):
    secret = tmp_path / 'host-secret.raw'
    secret.write_bytes(b'not for the guest' * 1000)
    image = tmp_path / 'overlay.qcow2'
    subprocess.run(['qemu-img', 'create', '-q', '-f', 'qcow2', '-F', 'raw',
                    '-b', str(secret), str(image)], check=True)
    result = canary.boot_file(str(image), {}, canary.Target(),
                              runner.Options(timeout=60), 'backing')
    assert result.verdict.verdict == 'failed'
    assert result.verdict.marker == 'refused by the format check'
    assert 'backing file' in result.verdict.evidence[0]
    # Refused before QEMU is planned, let alone started.
    assert result.plan is None


def test_via_nova_reads_the_console_and_deletes_the_server(cloud, admin,
                                                           tag):
    # The local cloud's Nova runs the fake driver: a server goes ACTIVE,
    # its console is three fixed lines, so the honest verdict is unknown.
    image_id = load_samples.create(
        admin, tag + '-nova', [tag], {'hw_disk_bus': 'scsi',
                                      'hw_scsi_model': 'virtio-scsi'},
        data=b'\0' * 1024)['id']
    flavor = min(admin.compute.flavors(), key=lambda f: (f.ram, f.vcpus))
    try:
        result = conftest.run('verify', image_id, '--via', 'nova',
                              '--flavor', flavor.name, '--boot-timeout', '10',
                              '-f', 'json')
        assert result.returncode == 5, (result.stdout, result.stderr)
        row, = json.loads(result.stdout)
        assert (row['Verdict'], row['Accel']) == ('unknown', 'nova')
        assert row['Reason'] == 'timeout after 10 s (server ACTIVE)'
        left = [s for s in admin.compute.servers(all_projects=True)
                if s.name.startswith('virtio-verify-' + image_id[:8])]
        assert left == []
    finally:
        admin.image.delete_image(image_id, ignore_missing=True)
