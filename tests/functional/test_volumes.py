"""volume-audit, volume-set and volume-rollback against real Cinder."""

import time

import pytest
import yaml

from tests.functional.conftest import DEADLINE
from tests.functional.conftest import run
from tests.functional.conftest import run_json
from tests.functional.conftest import wait_until
import load_samples

UBUNTU = {'os_type': 'linux', 'os_distro': 'ubuntu', 'os_version': '22.04'}
LINUX = dict(UBUNTU, hw_disk_bus='virtio', vmware_adaptertype='lsiLogic')
WINDOWS = {'os_type': 'windows', 'hw_disk_bus': 'sata'}
MOVED = {'hw_disk_bus': 'scsi', 'hw_scsi_model': 'virtio-scsi',
         'vmware_adaptertype': None}


def wait_available(conn, volume_id, timeout=DEADLINE):
    deadline = time.time() + timeout
    while time.time() < deadline:
        vol = conn.block_storage.get_volume(volume_id)
        if vol.status == 'available':
            return vol
        assert vol.status not in ('error', 'error_restoring'), vol
        time.sleep(1)
    raise AssertionError('volume %s not available after %d s'
                         % (volume_id, timeout))


def cinder_meta(conn, volume_id):
    """The volume's image metadata as Cinder's API shows it."""
    body = conn.block_storage.get('/volumes/%s' % volume_id).json()
    return body['volume'].get('volume_image_metadata') or {}


def bus(meta):
    return {k: meta.get(k) for k in MOVED}


class Volumes:
    """Volumes made in a test, deleted after it."""

    def __init__(self, conn):
        self.conn = conn
        self.made = []

    def from_image(self, image_id, name):
        vol = self.conn.block_storage.create_volume(size=1, name=name,
                                                    image_id=image_id)
        self.made.append(vol.id)
        return wait_available(self.conn, vol.id).id

    def delete(self):
        for volume_id in self.made:
            self.conn.block_storage.delete_volume(volume_id,
                                                  ignore_missing=True)


@pytest.fixture
def volumes(admin):
    made = Volumes(admin)
    yield made
    made.delete()


@pytest.fixture
def member_volumes(member):
    made = Volumes(member)
    yield made
    made.delete()


@pytest.fixture
def images(admin, tag):
    yield {name: load_samples.create(admin, '%s-%s' % (tag, name), [tag],
                                     props)['id']
           for name, props in (('lin', LINUX), ('win', WINDOWS))}
    load_samples.delete_tagged(admin, tag)


def by_id(rows):
    return {r['ID']: r for r in rows}


def test_drift_after_image_set_fixed_by_volume_set_then_rolled_back(
        admin, tag, images, volumes, tmp_path):
    lin = volumes.from_image(images['lin'], tag + '-lin')
    win = volumes.from_image(images['win'], tag + '-win')
    assert bus(cinder_meta(admin, lin)) == {
        'hw_disk_bus': 'virtio', 'hw_scsi_model': None,
        'vmware_adaptertype': 'lsiLogic'}
    rows, _ = run_json('volume-audit', lin, win, '--long', check=0)
    assert {r['ID']: r['Drift'] for r in rows} == {lin: 'none', win: 'none'}

    image_journal = str(tmp_path / 'image-set.jsonl')
    run('set', '--tag', tag, '--bus', 'scsi', '--yes', '--journal',
        image_journal, check=5)
    rows, _ = run_json('volume-audit', '--follow-images', image_journal,
                       '--fail-on-drift', '--long', '--no-snapshots',
                       check=3)
    got = by_id(rows)
    assert lin in got and win not in got
    assert got[lin]['Drift'] == 'drifted'
    assert got[lin]['Drift Keys']['hw_disk_bus'] == {'volume': 'virtio',
                                                     'image': 'scsi'}
    assert got[lin]['Source Image'] == images['lin']
    assert got[lin]['Disk Bus'] == 'virtio'

    volume_journal = str(tmp_path / 'volume-set.jsonl')
    rows, result = run_json('volume-set', '--follow-images', image_journal,
                            '--bus', 'scsi', '--yes', '--journal',
                            volume_journal, check=0)
    assert [(r['ID'], r['Action'], r['Outcome']) for r in rows] == [
        (lin, 'change', 'changed')]
    after = cinder_meta(admin, lin)
    assert bus(after) == MOVED
    assert after['os_distro'] == 'ubuntu'
    assert after['image_id'] == images['lin']
    steps = [line for line in open(volume_journal) if '"intent"' in line]
    assert len(steps) == 2, steps
    rows, _ = run_json('volume-audit', lin, '--fail-on-drift', check=0)
    assert rows[0]['Drift'] == 'none'

    rows, _ = run_json('volume-set', win, '--bus', 'scsi', '--yes',
                       '--journal', str(tmp_path / 'win.jsonl'), check=5)
    assert rows[0]['Action'] == 'blocked'
    assert cinder_meta(admin, win)['hw_disk_bus'] == 'sata'

    rows, _ = run_json('volume-rollback', volume_journal, '--dry-run',
                       check=0)
    assert rows[0]['Outcome'] == 'planned'
    assert bus(cinder_meta(admin, lin)) == MOVED
    rows, _ = run_json('volume-rollback', volume_journal, '--yes', check=0)
    assert rows[0]['Outcome'] == 'changed'
    assert bus(cinder_meta(admin, lin)) == {
        'hw_disk_bus': 'virtio', 'hw_scsi_model': None,
        'vmware_adaptertype': 'lsiLogic'}
    result = run('rollback', volume_journal, '--yes', check=1)
    assert 'Traceback' not in result.stderr
    run('volume-rollback', image_journal, '--yes', check=1)


def test_snapshot_listed_as_not_changeable(admin, tag, images, volumes):
    lin = volumes.from_image(images['lin'], tag + '-lin')
    snap = admin.block_storage.create_snapshot(volume_id=lin,
                                               name=tag + '-snap')
    try:
        admin.block_storage.wait_for_status(snap, 'available', wait=120)
        rows, _ = run_json('volume-audit', lin, '--long', check=0)
        got = by_id(rows)
        assert got[snap.id]['Kind'] == 'snapshot'
        assert got[snap.id]['Changeable'] is False
        assert lin in got[snap.id]['Note']
        rows, _ = run_json('volume-audit', lin, '--no-snapshots', check=0)
        assert [r['ID'] for r in rows] == [lin]
    finally:
        admin.block_storage.delete_snapshot(snap)
        admin.block_storage.wait_for_delete(snap, wait=120)


def test_state_cinder_refuses_is_a_per_volume_skip(admin, tag, images,
                                                   volumes, tmp_path):
    lin = volumes.from_image(images['lin'], tag + '-lin')
    other = volumes.from_image(images['lin'], tag + '-other')
    admin.block_storage.post('/volumes/%s/action' % lin, json={
        'os-reset_status': {'status': 'maintenance'}})
    try:
        rows, _ = run_json('volume-set', lin, other, '--bus', 'scsi',
                           '--yes', '--journal', str(tmp_path / 'j.jsonl'),
                           check=5)
        got = by_id(rows)
        assert got[lin]['Action'] == 'skipped'
        assert 'maintenance' in got[lin]['Reason']
        assert got[other]['Outcome'] == 'changed'
        assert bus(cinder_meta(admin, lin))['hw_disk_bus'] == 'virtio'
        assert bus(cinder_meta(admin, other)) == MOVED
    finally:
        admin.block_storage.post('/volumes/%s/action' % lin, json={
            'os-reset_status': {'status': 'available'}})


def test_member_sees_only_its_own_volumes(admin, member, tag, images,
                                          volumes, member_volumes):
    mine = load_samples.create(member, tag + '-member', [tag], LINUX)['id']
    theirs = volumes.from_image(images['lin'], tag + '-admin')
    own = member_volumes.from_image(mine, tag + '-member')
    rows, _ = run_json('volume-audit', cloud='devcloud-member', check=0)
    ids = {r['ID'] for r in rows}
    assert own in ids and theirs not in ids
    rows, _ = run_json('volume-audit', check=0)
    ids = {r['ID'] for r in rows}
    assert {own, theirs} <= ids
    result = run('volume-set', theirs, '--bus', 'scsi', '--yes',
                 cloud='devcloud-member', check=1)
    assert 'no volume with id or name %s' % theirs in result.stderr
    assert bus(cinder_meta(admin, theirs))['hw_disk_bus'] == 'virtio'


def test_failed_login_is_an_error_for_the_whole_command(cloud, tmp_path):
    with open(cloud) as f:
        config = yaml.safe_load(f)
    admin = config['clouds']['devcloud-admin']
    config['clouds']['bad-password'] = dict(
        admin, auth=dict(admin['auth'], password='wrong-pw-9d1c'))
    path = tmp_path / 'clouds.yaml'
    path.write_text(yaml.safe_dump(config))
    result = run('volume-audit', cloud='bad-password', check=1,
                 env={'OS_CLIENT_CONFIG_FILE': str(path)})
    assert 'authentication failed' in result.stderr
    assert 'Traceback' not in result.stderr
    assert 'wrong-pw-9d1c' not in result.stderr + result.stdout


def test_attached_volume_changes_and_the_row_names_the_server(
        admin, tag, images, volumes, tmp_path):
    boot = volumes.from_image(images['lin'], tag + '-boot')
    admin.compute.default_microversion = '2.37'
    server = admin.compute.create_server(
        name=tag + '-server', flavor_id='devcloud.tiny', networks='none',
        block_device_mapping=[{'boot_index': 0, 'uuid': boot,
                               'source_type': 'volume',
                               'destination_type': 'volume',
                               'delete_on_termination': False}])
    try:
        admin.compute.wait_for_server(server, wait=DEADLINE)
        wait_until(lambda: admin.block_storage.get_volume(
            boot).status == 'in-use', 'volume %s in-use' % boot)
        rows, _ = run_json('volume-audit', boot, '--no-snapshots', check=0)
        assert rows[0]['Attached To'] == [server.id]
        rows, _ = run_json('volume-set', boot, '--bus', 'scsi', '--yes',
                           '--journal', str(tmp_path / 'j.jsonl'), check=0)
        assert rows[0]['Outcome'] == 'changed'
        assert 'server %s' % server.id in rows[0]['Note']
        assert 'keeps the image_* values' in rows[0]['Note']
        assert bus(cinder_meta(admin, boot)) == MOVED
    finally:
        admin.compute.delete_server(server)
        admin.compute.wait_for_delete(server, wait=DEADLINE)
        wait_available(admin, boot)


DEBIAN = {'os_type': 'linux', 'os_distro': 'debian', 'os_version': '12',
          'hw_disk_bus': 'virtio'}


def test_following_an_image_skips_a_copy_changed_by_hand(
        admin, tag, volumes, tmp_path):
    image = load_samples.create(admin, tag + '-debian', [tag], DEBIAN)['id']
    try:
        a = volumes.from_image(image, tag + '-a')
        c = volumes.from_image(image, tag + '-c')
        run('volume', 'set', '--image-property', 'hw_disk_bus=sata', c,
            tool='openstack', check=0)
        assert cinder_meta(admin, c)['hw_disk_bus'] == 'sata'
        image_journal = str(tmp_path / 'img.jsonl')
        run('set', image, '--bus', 'scsi', '--yes', '--journal',
            image_journal, check=0)

        rows, result = run_json(
            'volume-set', '--follow-images', image_journal, '--bus', 'scsi',
            '--yes', '--journal', str(tmp_path / 'vol.jsonl'), check=5)
        got = by_id(rows)
        assert set(got) == {a, c}
        assert (got[a]['Action'], got[a]['Outcome']) == ('change', 'changed')
        assert (got[c]['Action'], got[c]['Outcome']) == ('skipped',
                                                         'skipped')
        assert 'hw_disk_bus is sata here, the image had virtio before ' \
            'the journalled change' in got[c]['Reason']
        assert 'plan: 1 to change, 0 unchanged, 0 blocked, 1 skipped' \
            in result.stderr
        assert cinder_meta(admin, a)['hw_disk_bus'] == 'scsi'
        assert cinder_meta(admin, c)['hw_disk_bus'] == 'sata'

        rows, _ = run_json('volume-set', c, '--follow-images', image_journal,
                           '--bus', 'scsi', '--yes', '--journal',
                           str(tmp_path / 'named.jsonl'), check=0)
        assert [(r['ID'], r['Outcome']) for r in rows] == [(c, 'changed')]
        assert cinder_meta(admin, c)['hw_disk_bus'] == 'scsi'
    finally:
        load_samples.delete_tagged(admin, tag)
