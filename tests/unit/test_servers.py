import pytest

from glance_virtio import journal
from glance_virtio.kinds import servers
from glance_virtio.kinds import servers as serverapply
from glance_virtio.kinds import volumes as volume_mod
from glance_virtio import model
from glance_virtio import plan

POLICY = model.Policy()
UBUNTU = {'os_type': 'linux', 'os_distro': 'ubuntu', 'os_version': '22.04'}


def body(**fields):
    server = {'id': 's1', 'name': 'web-1', 'tenant_id': 'p1',
              'status': 'ACTIVE', 'OS-EXT-STS:task_state': None,
              'image': {'id': 'img-1'},
              'os-extended-volumes:volumes_attached': []}
    server.update(fields)
    return server


def image(**props):
    return model.Image('img-1', 'ubuntu', properties=props)


def test_api_properties_are_the_recorded_values():
    server = servers.to_server(body(image={
        'id': 'img-1', 'properties': {'hw_disk_bus': 'virtio'}}), True)
    assert server.recorded == {'hw_disk_bus': 'virtio'}
    assert server.recorded_from == 'api'
    assert not server.volume_backed


def test_without_the_microversion_nothing_is_recorded():
    server = servers.to_server(body(image={
        'id': 'img-1', 'properties': {'hw_disk_bus': 'virtio'}}), False)
    assert server.recorded is None and server.recorded_from is None


def test_volume_backed_server_has_no_image():
    server = servers.to_server(body(**{
        'image': '', 'os-extended-volumes:volumes_attached': [
            {'id': 'v1'}, {'id': 'v2'}]}), True)
    assert server.volume_backed
    assert server.volume_ids == ('v1', 'v2')
    assert server.recorded is None


def volume(volume_id, bootable=True, device='/dev/vda', **meta):
    return volume_mod.Volume(volume_id, bootable=bootable, servers=('s1',),
                             devices=(('s1', device),), image_metadata=meta)


def test_boot_volume_is_the_one_bootable_volume():
    server = servers.Server('s1', volume_ids=('v1', 'v2'))
    vols = {'v1': volume('v1', bootable=False), 'v2': volume('v2')}
    assert servers.boot_volume(server, vols) == (vols['v2'], '')


def test_boot_volume_by_root_device_among_several():
    server = servers.Server('s1', volume_ids=('v1', 'v2'),
                            root_device='/dev/vdb')
    vols = {'v1': volume('v1'), 'v2': volume('v2', device='/dev/vdb')}
    assert servers.boot_volume(server, vols)[0] is vols['v2']


def test_boot_volume_unknown_when_ambiguous():
    server = servers.Server('s1', volume_ids=('v1', 'v2'))
    vols = {'v1': volume('v1'), 'v2': volume('v2')}
    found, why = servers.boot_volume(server, vols)
    assert found is None and 'root device' in why


def test_unknown_booted_bus_is_unknown_never_guessed():
    server = servers.Server('s1', 'web-1', image_id='img-1')
    row = servers.row(server, POLICY, image(**UBUNTU, hw_disk_bus='scsi'))
    assert row['booted_hw_disk_bus'] == servers.UNKNOWN
    assert row['drift'] == servers.UNKNOWN
    assert row['severity'] == servers.UNKNOWN
    assert row['findings'] == []
    assert any('--nova-manage' in n for n in row['notes'])
    assert row['image_hw_disk_bus'] == 'scsi'


def test_drift_from_the_image():
    server = servers.Server('s1', 'web-1', image_id='img-1',
                            recorded=dict(UBUNTU, hw_disk_bus='virtio'),
                            recorded_from='api')
    row = servers.row(server, POLICY, image(
        **UBUNTU, hw_disk_bus='scsi', hw_scsi_model='virtio-scsi'))
    assert row['drift'] == ['hw_disk_bus', 'hw_scsi_model']
    assert row['booted_hw_disk_bus'] == 'virtio'
    assert row['known_from'] == 'api'


def test_no_drift_when_equal():
    server = servers.Server('s1', image_id='img-1',
                            recorded=dict(UBUNTU, hw_disk_bus='scsi',
                                          hw_scsi_model='virtio-scsi'),
                            recorded_from='api')
    row = servers.row(server, POLICY, image(
        **UBUNTU, hw_disk_bus='scsi', hw_scsi_model='virtio-scsi'))
    assert row['drift'] == []


def test_nova_manage_values_override_the_source_and_absence_counts():
    # nova-manage read hw_disk_bus as absent: the image's scsi must not
    # leak into what the server was booted with.
    server = servers.with_recorded(
        servers.Server('s1', image_id='img-1'),
        {'hw_disk_bus': None, 'hw_scsi_model': None,
         'hw_machine_type': None}, 'nova-manage')
    booted = servers.booted_properties(
        server, dict(UBUNTU, hw_disk_bus='scsi'))
    assert 'hw_disk_bus' not in booted
    assert booted['os_distro'] == 'ubuntu'


def test_rules_judge_a_server_as_an_image():
    # The same finding for the same properties: GV013 (IDE on q35).
    props = {'hw_disk_bus': 'ide', 'hw_machine_type': 'q35',
             'os_type': 'linux'}
    server = servers.Server('s1', image_id='img-1', recorded=props,
                            recorded_from='api')
    row = servers.row(server, POLICY, image(**props))
    from glance_virtio import audit
    image_row = audit.audit([image(**props)], POLICY)[0]
    assert [f['rule'] for f in row['findings']] == [
        f['rule'] for f in image_row['findings']]
    assert row['findings']


def test_plan_skips_a_server_not_active_or_shutoff():
    server = servers.Server('s1', status='SHELVED_OFFLOADED',
                            recorded=dict(UBUNTU), recorded_from='api')
    change = servers.plan_server(server, plan.Target('scsi'), POLICY)
    assert change.action == plan.SKIPPED
    assert 'SHELVED_OFFLOADED' in change.reason


def test_plan_skips_unknown_booted_values():
    server = servers.Server('s1', status='ACTIVE')
    change = servers.plan_server(server, plan.Target('scsi'), POLICY)
    assert change.action == plan.SKIPPED


def test_plan_changes_bus_and_model():
    server = servers.Server('s1', status='SHUTOFF',
                            recorded=dict(UBUNTU, hw_disk_bus='virtio'),
                            recorded_from='api')
    change = servers.plan_server(server, plan.Target('scsi'), POLICY)
    assert change.action == plan.CHANGE
    assert change.set == {'hw_disk_bus': 'scsi',
                          'hw_scsi_model': 'virtio-scsi'}


def test_plan_blocks_a_removal_nova_manage_cannot_do():
    server = servers.Server('s1', status='ACTIVE',
                            recorded=dict(UBUNTU, hw_disk_bus='scsi',
                                          hw_scsi_model='virtio-scsi'),
                            recorded_from='api')
    change = servers.plan_server(server, plan.Target('virtio'), POLICY)
    assert change.action == plan.BLOCKED
    assert 'cannot remove hw_scsi_model' in change.reason


def test_plan_blocks_what_the_rules_block():
    server = servers.Server('s1', status='ACTIVE',
                            recorded={'os_type': 'windows'},
                            recorded_from='api')
    change = servers.plan_server(server, plan.Target('scsi'), POLICY)
    assert change.action == plan.BLOCKED


@pytest.mark.parametrize('version,ok', [
    ((27, 9, 9), False), ((28, 3, 0), False), ((28, 3, 1), True),
    ((29, 2, 0), False), ((29, 2, 1), True), ((30, 0, 0), True),
    ((34, 0, 0), True), ((29, 9, 0), True),
])
def test_release_check_by_version(version, ok):
    assert servers.check_release(version)[0] is ok


def test_release_check_by_microversion_is_only_a_proof_of_new():
    assert servers.check_release(None, (2, 104))[0] is True
    ok, why = servers.check_release(None, (2, 96))
    assert ok is False and 'cannot tell' in why
    assert servers.check_release(None, None)[0] is False


def test_version_wins_over_microversion():
    assert servers.check_release((29, 0, 0), (2, 104))[0] is False


def test_impact_counts_copies_and_differences():
    images = [image(**UBUNTU, hw_disk_bus='scsi',
                    hw_scsi_model='virtio-scsi')]
    volumes = [
        volume_mod.Volume('v1', image_metadata={
            'image_id': 'img-1', 'hw_disk_bus': 'virtio'}),
        volume_mod.Volume('v2', image_metadata={
            'image_id': 'img-1', 'hw_disk_bus': 'scsi',
            'hw_scsi_model': 'virtio-scsi'}),
        volume_mod.Volume('v3', image_metadata={'image_id': 'other'}),
        volume_mod.Volume('v4', image_metadata={}),
    ]
    rows = [{'image_id': 'img-1', 'drift': ['hw_disk_bus']},
            {'image_id': 'img-1', 'drift': []},
            {'image_id': 'img-1', 'drift': servers.UNKNOWN},
            {'image_id': None, 'drift': servers.UNKNOWN}]
    assert servers.impact(images, volumes, rows)['img-1'] == {
        'volumes': 2, 'volumes_differ': 1, 'servers': 3,
        'servers_differ': 1, 'servers_unknown': 1}


def test_journal_touched_servers(tmp_path):
    path = str(tmp_path / 'j.jsonl')
    with journal.Journal(path) as record:
        record.write('start', command='server-set')
        record.write('intent', step='stop', server='s1', name='web-1')
        record.write('result', step='stop', server='s1', outcome='stopped')
        record.write('intent', step='set', server='s1', name='web-1',
                     before={'hw_disk_bus': 'virtio', 'hw_scsi_model': None},
                     after={'hw_disk_bus': 'scsi',
                            'hw_scsi_model': 'virtio-scsi'})
        record.write('result', step='set', server='s1', outcome='changed')
        record.write('intent', step='set', server='s2', name='db',
                     before={'hw_disk_bus': None}, after={
                         'hw_disk_bus': 'scsi'})
    touched = {t['server']: t for t in serverapply.touched(
        journal.read(path))}
    assert touched['s1']['before'] == {'hw_disk_bus': 'virtio',
                                       'hw_scsi_model': None}
    assert touched['s1']['outcome'] == 'changed'
    # An intent with no result: the run died during the set.
    assert touched['s2']['outcome'] == serverapply.UNCERTAIN
    # Image rollback refuses a server journal rather than skip it.
    with pytest.raises(ValueError):
        journal.touched(journal.read(path))


def test_api_record_keeps_guest_facts_nova_does_not_store():
    # Nova's record holds only ImageMetaProps fields: os_version comes from
    # the image, a bus the image gained later does not.
    server = servers.Server('s1', image_id='img-1',
                            recorded={'os_distro': 'ubuntu'},
                            recorded_from='api')
    booted = servers.booted_properties(
        server, {'os_version': '22.04', 'hw_disk_bus': 'scsi'})
    assert booted == {'os_distro': 'ubuntu', 'os_version': '22.04'}
