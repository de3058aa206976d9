"""server virtio-audit/-set/-rollback against the local cloud's real Nova.

Servers are created from images and from volumes (Nova with the fake
compute driver, Cinder), the images moved with `set`, the drift shown by
`server-audit`, fixed by `server-set` through the cloud's own nova-manage,
checked through Nova's API and nova-manage, and rolled back.
"""

import json
import os
import shlex
import subprocess
import time
import uuid

import pytest

from tests.functional import devcloud
from tests.functional.conftest import DEADLINE
from tests.functional.conftest import run
from tests.functional.conftest import run_json
import load_samples

UBUNTU = {'os_type': 'linux', 'os_distro': 'ubuntu', 'os_version': '22.04',
          'hw_disk_bus': 'virtio'}
SCSI = {'hw_disk_bus': 'scsi', 'hw_scsi_model': 'virtio-scsi'}


@pytest.fixture(scope='module')
def nova_manage(cloud):
    # devcloud info names it; DEVCLOUD_NOVA_MANAGE for a cloud started
    # by another tree (a devcloud without Nova has neither: fail loudly).
    command = devcloud.info().get('nova_manage') or os.environ.get(
        'DEVCLOUD_NOVA_MANAGE')
    assert command, 'devcloud info names no nova_manage command'
    return command


def manage_show(command, server_id, prop):
    proc = subprocess.run(shlex.split(command) + [
        'image_property', 'show', server_id, prop], capture_output=True,
        text=True, timeout=300, stdin=subprocess.DEVNULL)
    if proc.returncode == 3:
        return None
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout.strip()


def flavor(conn):
    return min(conn.compute.flavors(), key=lambda f: (f.ram, f.vcpus)).id


def wait(get, want, timeout=DEADLINE):
    deadline = time.time() + timeout
    while time.time() < deadline:
        thing = get()
        if thing.status.lower() == want.lower():
            return thing
        assert thing.status.lower() != 'error', thing
        time.sleep(1)
    raise AssertionError('still %s after %ds, waiting for %s'
                         % (thing.status, timeout, want))


def boot(conn, name, image_id=None, volume_id=None):
    server = {'name': name, 'flavorRef': flavor(conn), 'networks': 'none'}
    if volume_id:
        server['block_device_mapping_v2'] = [{
            'boot_index': 0, 'uuid': volume_id, 'source_type': 'volume',
            'destination_type': 'volume', 'delete_on_termination': False}]
    else:
        server['imageRef'] = image_id
    # networks "none" needs 2.37 (there is no Neutron in the devcloud).
    resp = conn.compute.post('/servers', json={'server': server},
                             microversion='2.37')
    assert resp.status_code == 202, resp.text
    server_id = resp.json()['server']['id']
    return wait(lambda: conn.compute.get_server(server_id), 'ACTIVE')


def volume_from(conn, image_id, name):
    vol = conn.block_storage.create_volume(size=1, image_id=image_id,
                                           name=name)
    return wait(lambda: conn.block_storage.get_volume(vol.id), 'available')


def recorded(conn, server_id):
    """image.properties of server show at microversion 2.98."""
    body = conn.compute.get('/servers/%s' % server_id,
                            microversion='2.98').json()['server']
    return body['image']['properties'] if body['image'] else None


@pytest.fixture(scope='module')
def fleet(admin, member, cloud):
    tag = 'gvsrv-' + uuid.uuid4().hex[:8]
    image_id = load_samples.create(admin, tag + '-ubuntu', [tag], UBUNTU,
                                   data=b'\0' * 1024,
                                   visibility='public')['id']
    vol = volume_from(admin, image_id, tag + '-vol')
    made = {'image': image_id, 'volume': vol.id}
    made['from_image'] = boot(admin, tag + '-img', image_id=image_id).id
    made['from_volume'] = boot(admin, tag + '-vol', volume_id=vol.id).id
    made['member'] = boot(member, tag + '-member', image_id=image_id).id
    made['tag'] = tag
    yield made
    for key, conn in (('from_image', admin), ('from_volume', admin),
                      ('member', member)):
        conn.compute.delete_server(made[key])
    for key, conn in (('from_image', admin), ('from_volume', admin),
                      ('member', member)):
        # Gone already (the fake driver deletes fast) counts as deleted.
        server = conn.compute.find_server(made[key], ignore_missing=True)
        if server is not None:
            conn.compute.wait_for_delete(server)
    admin.block_storage.delete_volume(vol.id)
    load_samples.delete_tagged(admin, tag)


def by_id(rows):
    return {r['ID']: r for r in rows}


def test_server_lifecycle(admin, fleet, nova_manage, tmp_path):
    ids = [fleet['from_image'], fleet['from_volume']]
    # Both servers were booted with virtio; the image moves to scsi.
    run('set', '--tag', fleet['tag'], '--bus', 'scsi', '--yes', check=0)

    rows, _ = run_json('server-audit', *ids, '--long', check=0)
    rows = by_id(rows)
    # Without nova-manage: the API shows the image-booted server's record
    # (2.98); the volume-backed one is unknown, never guessed.
    assert rows[fleet['from_image']]['Booted Bus'] == 'virtio'
    assert rows[fleet['from_image']]['Known From'] == 'api'
    assert rows[fleet['from_volume']]['Booted Bus'] == 'unknown'
    assert rows[fleet['from_volume']]['Drift'] == 'unknown'
    # Absent values: null in json, an empty cell in tables, never "None".
    assert rows[fleet['from_image']]['Booted SCSI Model'] is None
    out = run('server-audit', fleet['from_image'], '-f', 'csv', '-c',
              'Booted SCSI Model', check=0).stdout
    assert out.splitlines()[1:] == ['""']

    rows, _ = run_json('server-audit', *ids, '--nova-manage', nova_manage,
                       check=0)
    rows = by_id(rows)
    for server_id in ids:
        assert rows[server_id]['Booted Bus'] == 'virtio'
        assert rows[server_id]['Drift'] == ['hw_disk_bus', 'hw_scsi_model']
        assert rows[server_id]['Image'] == fleet['image']
    assert rows[fleet['from_volume']]['Known From'] == 'nova-manage'
    assert rows[fleet['from_volume']]['Volume'] == fleet['volume']
    run('server-audit', *ids, '--nova-manage', nova_manage,
        '--fail-on-drift', check=3)

    journal = tmp_path / 'server-set.jsonl'
    rows, result = run_json('server-set', *ids, '--bus', 'scsi',
                            '--nova-manage', nova_manage, '--yes',
                            '--journal', str(journal), check=0)
    assert {r['ID']: r['Outcome'] for r in rows} == {
        i: 'changed' for i in ids}
    assert 'bug 2078999' in result.stderr
    for server_id in ids:
        assert admin.compute.get_server(server_id).status == 'ACTIVE'
        for key, value in SCSI.items():
            assert manage_show(nova_manage, server_id, key) == value
    assert {k: recorded(admin, fleet['from_image'])[k] for k in SCSI} == SCSI
    records = [json.loads(line) for line in journal.read_text().splitlines()]
    steps = [(r['type'], r.get('step')) for r in records
             if r.get('server') == fleet['from_image']]
    assert steps == [('intent', 'stop'), ('result', 'stop'),
                     ('intent', 'set'), ('result', 'set'),
                     ('intent', 'start'), ('result', 'start')]

    rows, _ = run_json('server-audit', *ids, '--nova-manage', nova_manage,
                       check=0)
    assert all(r['Drift'] == [] for r in rows)
    run('server-set', *ids, '--bus', 'scsi', '--nova-manage', nova_manage,
        '--yes', check=0)

    rows, _ = run_json('server-rollback', str(journal), '--nova-manage',
                       nova_manage, '--yes', check=4)
    # nova-manage cannot remove a key: hw_disk_bus is restored, the
    # hw_scsi_model the servers did not have is left, and said so.
    assert {r['ID']: r['Outcome'] for r in rows} == {
        i: 'partial' for i in ids}
    assert all('cannot remove hw_scsi_model' in r['Reason'] for r in rows)
    for server_id in ids:
        assert manage_show(nova_manage, server_id, 'hw_disk_bus') == 'virtio'
        assert admin.compute.get_server(server_id).status == 'ACTIVE'


def test_no_restart_leaves_the_server_stopped(admin, fleet, nova_manage):
    server_id = fleet['from_image']
    admin.compute.stop_server(server_id)
    wait(lambda: admin.compute.get_server(server_id), 'SHUTOFF')
    proc = subprocess.run(shlex.split(nova_manage) + [
        'image_property', 'set', server_id, '--property',
        'hw_disk_bus=virtio'], capture_output=True, text=True, timeout=300,
        stdin=subprocess.DEVNULL)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    admin.compute.start_server(server_id)
    wait(lambda: admin.compute.get_server(server_id), 'ACTIVE')
    rows, _ = run_json('server-set', server_id, '--bus', 'scsi',
                       '--nova-manage', nova_manage, '--yes',
                       '--no-restart', check=0)
    assert rows[0]['Outcome'] == 'changed'
    assert 'left SHUTOFF' in rows[0]['Power']
    assert admin.compute.get_server(server_id).status == 'SHUTOFF'
    assert manage_show(nova_manage, server_id, 'hw_disk_bus') == 'scsi'
    admin.compute.start_server(server_id)
    wait(lambda: admin.compute.get_server(server_id), 'ACTIVE')


def test_member_sees_only_its_own_servers(fleet):
    rows, result = run_json('server-audit', cloud='devcloud-member',
                            check=0)
    ids = {r['ID'] for r in rows}
    assert fleet['member'] in ids
    assert fleet['from_image'] not in ids
    assert fleet['from_volume'] not in ids
    assert 'this project only' in result.stderr


def test_member_cannot_name_an_admin_server(fleet):
    result = run('server-audit', fleet['from_image'],
                 cloud='devcloud-member', check=1)
    assert 'no server with id or name' in result.stderr


def test_paused_server_is_skipped(admin, fleet, nova_manage):
    server_id = fleet['member']
    admin.compute.pause_server(server_id)
    try:
        wait(lambda: admin.compute.get_server(server_id), 'PAUSED')
        rows, _ = run_json('server-set', server_id, '--bus', 'scsi',
                           '--nova-manage', nova_manage, '--yes', check=5)
        assert rows[0]['Action'] == 'skipped'
        assert 'PAUSED' in rows[0]['Reason']
    finally:
        admin.compute.unpause_server(server_id)
        wait(lambda: admin.compute.get_server(server_id), 'ACTIVE')


def test_image_audit_impact(fleet, nova_manage):
    # The counts agree with what server-audit says of each server.
    servers, _ = run_json('server-audit', '--nova-manage', nova_manage,
                          check=0)
    ours = [r for r in servers if r['Image'] == fleet['image']]
    assert {fleet['from_image'], fleet['from_volume'], fleet['member']} <= {
        r['ID'] for r in ours}
    assert all(r['Drift'] != 'unknown' for r in ours)
    rows, _ = run_json('audit', fleet['image'], '--impact', '--nova-manage',
                       nova_manage, check=0)
    row = rows[0]
    assert row['Volumes'] == 1
    assert (row['Servers'], row['Servers Differ'], row['Servers Unknown']) \
        == (len(ours), sum(bool(r['Drift']) for r in ours), 0)
    # Without nova-manage the volume-backed server's boot is unknown.
    rows, _ = run_json('audit', fleet['image'], '--impact', check=0)
    assert rows[0]['Servers'] == len(ours)
    assert rows[0]['Servers Unknown'] == sum(
        r['Boot'] == 'volume' for r in ours) >= 1
    run('audit', fleet['image'], '--nova-manage', nova_manage, check=2)


DEBIAN = {'os_type': 'linux', 'os_distro': 'debian', 'os_version': '12',
          'hw_disk_bus': 'virtio'}


def set_by_hand(conn, command, server_id, prop):
    """Stop, nova-manage image_property set, start: as an operator would."""
    conn.compute.stop_server(server_id)
    wait(lambda: conn.compute.get_server(server_id), 'SHUTOFF')
    proc = subprocess.run(shlex.split(command) + [
        'image_property', 'set', server_id, '--property', prop],
        capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    conn.compute.start_server(server_id)
    wait(lambda: conn.compute.get_server(server_id), 'ACTIVE')


def test_following_an_image_skips_a_server_changed_by_hand(
        admin, nova_manage, tmp_path):
    tag = 'gvsrv-' + uuid.uuid4().hex[:8]
    image_id = load_samples.create(admin, tag + '-debian', [tag], DEBIAN,
                                   data=b'\0' * 1024)['id']
    made = []
    try:
        made.append(boot(admin, tag + '-a', image_id=image_id).id)
        made.append(boot(admin, tag + '-c', image_id=image_id).id)
        a, c = made
        set_by_hand(admin, nova_manage, c, 'hw_disk_bus=sata')
        image_journal = str(tmp_path / 'img.jsonl')
        run('set', image_id, '--bus', 'scsi', '--yes', '--journal',
            image_journal, check=0)

        rows, result = run_json(
            'server-set', '--follow-images', image_journal, '--bus', 'scsi',
            '--nova-manage', nova_manage, '--yes', '--journal',
            str(tmp_path / 'srv.jsonl'), check=5)
        got = by_id(rows)
        assert set(got) == {a, c}
        assert (got[a]['Action'], got[a]['Outcome']) == ('change', 'changed')
        assert (got[c]['Action'], got[c]['Outcome']) == ('skipped',
                                                         'skipped')
        assert 'hw_disk_bus is sata here, the image had virtio before ' \
            'the journalled change' in got[c]['Reason']
        assert 'plan: 1 to change, 0 unchanged, 0 blocked, 1 skipped' \
            in result.stderr
        assert manage_show(nova_manage, a, 'hw_disk_bus') == 'scsi'
        assert manage_show(nova_manage, c, 'hw_disk_bus') == 'sata'
        assert admin.compute.get_server(c).status == 'ACTIVE'

        rows, _ = run_json('server-set', c, '--follow-images', image_journal,
                           '--bus', 'scsi', '--nova-manage', nova_manage,
                           '--yes', '--journal', str(tmp_path / 'named.jsonl'),
                           check=0)
        assert [(r['ID'], r['Outcome']) for r in rows] == [(c, 'changed')]
        assert manage_show(nova_manage, c, 'hw_disk_bus') == 'scsi'
    finally:
        for server_id in made:
            admin.compute.delete_server(server_id)
        for server_id in made:
            server = admin.compute.find_server(server_id, ignore_missing=True)
            if server is not None:
                admin.compute.wait_for_delete(server)
        load_samples.delete_tagged(admin, tag)
