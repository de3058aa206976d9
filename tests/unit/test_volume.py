"""The volume core: Cinder bodies to facts, drift, plans, calls, journals."""

import json

import pytest

from glance_virtio import engine as apply
from glance_virtio import journal
from glance_virtio.kinds import volumes as volume
from glance_virtio import model
from glance_virtio import plan
from glance_virtio.services import cinder

UBUNTU = {'os_type': 'linux', 'os_distro': 'ubuntu', 'os_version': '22.04'}


def body(vid='v1', status='available', meta=None, servers=(), **extra):
    """A volume as Cinder v3 answers GET /volumes/detail for an admin."""
    out = {'id': vid, 'name': 'vol-' + vid, 'status': status,
           'bootable': 'true', 'size': 1,
           'os-vol-tenant-attr:tenant_id': 'p1',
           'attachments': [{'server_id': s, 'attachment_id': 'a' + s,
                            'device': '/dev/vda'} for s in servers],
           'created_at': '2026-11-28T04:00:00.000000'}
    if meta is not None:
        out['volume_image_metadata'] = meta
    out.update(extra)
    return out


def meta(image_id='img1', **props):
    out = {'image_id': image_id, 'image_name': 'ubuntu', 'checksum': 'c0',
           'container_format': 'bare', 'disk_format': 'qcow2',
           'min_disk': '0', 'min_ram': '0', 'size': '13'}
    out.update(props)
    return out


def test_to_volume_reads_cinder_body():
    vol = volume.to_volume(body(meta=meta(hw_disk_bus='virtio', **UBUNTU),
                                servers=('s1',), status='in-use'))
    assert (vol.id, vol.project, vol.status, vol.bootable) == (
        'v1', 'p1', 'in-use', True)
    assert vol.servers == ('s1',)
    assert vol.devices == (('s1', '/dev/vda'),)
    assert vol.image_id == 'img1'
    assert vol.properties == dict(UBUNTU, hw_disk_bus='virtio')


def test_not_bootable_and_no_metadata():
    vol = volume.to_volume(body(bootable='false'))
    assert not vol.bootable
    assert vol.image_metadata is None and vol.image_id is None
    assert volume.drift(vol, None)[0] == volume.NO_METADATA


def test_as_image_keeps_only_properties():
    image = volume.as_image(volume.to_volume(body(meta=meta(**UBUNTU))))
    assert image.properties == UBUNTU
    assert image.disk_format == 'qcow2'
    assert image.error is None


@pytest.mark.parametrize('status', ['maintenance', 'uploading', 'creating',
                                    'downloading', 'error'])
def test_volumes_cinder_refuses_are_skipped_by_the_plan(status):
    vol = volume.to_volume(body(status=status, meta=meta(
        hw_disk_bus='virtio', **UBUNTU)))
    [change] = volume.make_plan([vol], plan.Target('scsi'), model.Policy())
    assert change.action == plan.SKIPPED
    assert 'status %s' % status in change.reason


def test_plan_moves_a_volume_like_an_image():
    vol = volume.to_volume(body(status='in-use', servers=('s1',), meta=meta(
        hw_disk_bus='virtio', vmware_adaptertype='lsiLogic', **UBUNTU)))
    [change] = volume.make_plan([vol], plan.Target('scsi'), model.Policy())
    assert change.action == plan.CHANGE
    assert change.set == {'hw_disk_bus': 'scsi',
                          'hw_scsi_model': 'virtio-scsi'}
    assert change.remove == ('vmware_adaptertype',)
    assert volume.steps(change) == [
        ('set', {'hw_disk_bus': 'scsi', 'hw_scsi_model': 'virtio-scsi'}),
        ('unset', 'vmware_adaptertype')]
    assert 'server s1' in volume.attached_note(vol)


def test_plan_blocks_an_unproven_windows_volume():
    vol = volume.to_volume(body(meta=meta(os_type='windows',
                                          hw_disk_bus='sata')))
    [change] = volume.make_plan([vol], plan.Target('scsi'), model.Policy())
    assert change.action == plan.BLOCKED


def test_drift_compares_bus_keys_with_the_current_image():
    vol = volume.to_volume(body(meta=meta(hw_disk_bus='virtio', **UBUNTU)))
    now = model.Image(id='img1', properties=dict(
        UBUNTU, hw_disk_bus='scsi', hw_scsi_model='virtio-scsi'))
    state, keys, _ = volume.drift(vol, now)
    assert state == volume.DRIFTED
    assert keys == {'hw_disk_bus': {'volume': 'virtio', 'image': 'scsi'},
                    'hw_scsi_model': {'volume': None,
                                      'image': 'virtio-scsi'}}
    same = model.Image(id='img1', properties=dict(UBUNTU, os_version='24',
                                                  hw_disk_bus='virtio'))
    assert volume.drift(vol, same)[0] == volume.NO_DRIFT
    state, _, why = volume.drift(vol, 'deleted or not visible')
    assert state == volume.UNKNOWN and 'deleted' in why


def test_audit_rows_volumes_then_snapshots_with_a_copy():
    with_meta = volume.to_volume(body('v1', meta=meta(hw_disk_bus='virtio',
                                                      **UBUNTU),
                                      servers=('s1',), status='in-use'))
    blank = volume.to_volume(body('v2'))
    snaps = [volume.to_snapshot({'id': 's-a', 'volume_id': 'v1',
                                 'status': 'available',
                                 'created_at': '2026-11-28T04:10:00'}),
             volume.to_snapshot({'id': 's-b', 'volume_id': 'v2',
                                 'status': 'available'})]
    image = model.Image(id='img1', properties=dict(UBUNTU,
                                                   hw_disk_bus='scsi'))
    rows = volume.audit_rows([with_meta, blank], {'img1': image},
                             model.Policy(), snaps)
    assert [(r['kind'], r['id']) for r in rows] == [
        ('volume', 'v1'), ('volume', 'v2'), ('snapshot', 's-a')]
    v1, v2, snap = rows
    assert v1['drift'] == volume.DRIFTED and v1['hw_disk_bus'] == 'virtio'
    assert v1['image_bus']['hw_disk_bus'] == 'scsi'
    assert v1['attached_to'] == ['s1'] and 'server s1' in v1['note']
    assert v1['os'].startswith('ubuntu')
    assert v2['drift'] == volume.NO_METADATA and 'no image metadata' in \
        v2['note']
    assert snap['changeable'] is False and 'v1' in snap['note']
    assert snap['drift'] == volume.UNKNOWN
    json.dumps(rows)


def test_volume_cinder_refused_to_show_is_an_error_row():
    rows = volume.audit_rows([volume.Volume(id='v9', error='HTTP 403')], {},
                             model.Policy())
    assert rows[0]['severity'] == model.ERROR
    assert rows[0]['drift'] == volume.UNKNOWN


def test_undo_and_steps_between():
    before = {'hw_disk_bus': 'virtio', 'hw_scsi_model': None,
              'vmware_adaptertype': 'lsiLogic'}
    done = [('set', {'hw_disk_bus': 'scsi', 'hw_scsi_model': 'virtio-scsi'})]
    assert volume.undo_steps(before, done) == [
        ('set', {'hw_disk_bus': 'virtio'}), ('unset', 'hw_scsi_model')]
    desired = {'hw_disk_bus': 'virtio', 'hw_scsi_model': None,
               'vmware_adaptertype': 'lsiLogic'}
    current = {'hw_disk_bus': 'scsi', 'hw_scsi_model': 'virtio-scsi',
               'vmware_adaptertype': None}
    assert volume.steps_between(current, desired) == [
        ('set', {'hw_disk_bus': 'virtio', 'vmware_adaptertype': 'lsiLogic'}),
        ('unset', 'hw_scsi_model')]


def test_touched_reads_volume_records():
    records = [
        {'type': 'start', 'command': 'volume-set'},
        {'type': 'intent', 'volume': 'v1', 'name': 'a', 'step': 'set',
         'before': {'hw_disk_bus': 'virtio', 'hw_scsi_model': None},
         'after': {'hw_disk_bus': 'scsi', 'hw_scsi_model': 'virtio-scsi'}},
        {'type': 'result', 'volume': 'v1', 'outcome': 'changed'},
        {'type': 'intent', 'volume': 'v1', 'step': 'unset',
         'before': {'vmware_adaptertype': 'lsiLogic'},
         'after': {'vmware_adaptertype': None}},
    ]
    [entry] = volume.touched(records)
    assert entry['before'] == {'hw_disk_bus': 'virtio', 'hw_scsi_model': None,
                               'vmware_adaptertype': 'lsiLogic'}
    assert entry['after']['vmware_adaptertype'] is None
    assert entry['outcome'] == 'uncertain'
    with pytest.raises(ValueError):
        volume.touched([{'type': 'intent', 'volume': 'v1'}])


def test_follow_images_takes_changed_and_uncertain_images(tmp_path):
    path = str(tmp_path / 'set.jsonl')
    with journal.Journal(path) as record:
        record.write('start', command='set')
        for image, outcome in (('i1', 'changed'), ('i2', 'failed'),
                               ('i3', None), ('i4', 'conflict')):
            record.write('intent', image=image, before={}, after={})
            if outcome:
                record.write('result', image=image, outcome=outcome)
    assert volume.followed_images(journal.read(path)) == ['i1', 'i3']
    with pytest.raises(ValueError):
        volume.followed_images([{'type': 'start', 'command': 'volume-set'}])


class Records:
    def __init__(self):
        self.records = []

    def write(self, kind, **fields):
        self.records.append(dict(fields, type=kind))


class FakeCinder:
    """A Cinder whose second call fails: no real server does it on demand."""

    def __init__(self, props, fail_unset=None, fail_undo=False):
        self.props = dict(props)
        self.fail_unset = fail_unset
        self.fail_undo = fail_undo
        self.calls = []

    def install(self, monkeypatch):
        monkeypatch.setattr(cinder, 'get_volume', self.get)
        monkeypatch.setattr(cinder, 'set_image_metadata', self.set)
        monkeypatch.setattr(cinder, 'unset_image_metadata', self.unset)

    def get(self, conn, vid):
        return volume.Volume(id=vid, status='available',
                             image_metadata=dict(self.props))

    def set(self, conn, vid, metadata):
        self.calls.append(('set', dict(metadata)))
        if self.fail_undo and len(self.calls) > 2:
            raise cinder.CinderError('HTTP 400 maintenance', 400)
        self.props.update(metadata)
        return dict(self.props)

    def unset(self, conn, vid, key):
        self.calls.append(('unset', key))
        if key == self.fail_unset:
            raise cinder.CinderError('HTTP 400 in maintenance', 400)
        del self.props[key]


BEFORE = {'hw_disk_bus': 'virtio', 'hw_scsi_model': None,
          'vmware_adaptertype': 'lsiLogic'}
AFTER = {'hw_disk_bus': 'scsi', 'hw_scsi_model': 'virtio-scsi',
         'vmware_adaptertype': None}
START = {'image_id': 'img1', 'hw_disk_bus': 'virtio',
         'vmware_adaptertype': 'lsiLogic'}


def test_write_sets_then_unsets_journaling_each(monkeypatch):
    fake = FakeCinder(START)
    fake.install(monkeypatch)
    records = Records()
    out = volume.write_one(None, apply.Write('v1', 'a', BEFORE, AFTER),
                           records, sleep=lambda s: None)
    assert out.outcome == apply.CHANGED, out
    assert fake.props == {'image_id': 'img1', 'hw_disk_bus': 'scsi',
                          'hw_scsi_model': 'virtio-scsi'}
    assert [(r['type'], r.get('step')) for r in records.records] == [
        ('intent', 'set'), ('result', 'set'),
        ('intent', 'unset'), ('result', 'unset')]


def test_failed_second_call_undoes_the_first(monkeypatch):
    fake = FakeCinder(START, fail_unset='vmware_adaptertype')
    fake.install(monkeypatch)
    records = Records()
    out = volume.write_one(None, apply.Write('v1', 'a', BEFORE, AFTER),
                           records, sleep=lambda s: None)
    assert out.outcome == apply.FAILED
    assert 'were undone: nothing changed' in out.error
    assert fake.props == START
    assert [r.get('step') for r in records.records
            if r['type'] == 'intent'] == ['set', 'unset', 'undo', 'undo']
    [entry] = volume.touched(records.records)
    assert entry['after'] == {k: v for k, v in BEFORE.items()}


def test_failed_undo_says_half_changed(monkeypatch):
    fake = FakeCinder(START, fail_unset='vmware_adaptertype', fail_undo=True)
    fake.install(monkeypatch)
    out = volume.write_one(None, apply.Write('v1', 'a', BEFORE, AFTER),
                           Records(), sleep=lambda s: None)
    assert out.outcome == apply.UNCERTAIN
    assert out.error.startswith('HALF CHANGED')


def test_conflict_and_refused_state_change_nothing(monkeypatch):
    fake = FakeCinder(dict(START, hw_disk_bus='sata'))
    fake.install(monkeypatch)
    out = volume.write_one(None, apply.Write('v1', 'a', BEFORE, AFTER),
                           Records(), sleep=lambda s: None)
    assert out.outcome == apply.CONFLICT and fake.calls == []
    monkeypatch.setattr(cinder, 'get_volume', lambda c, v: volume.Volume(
        id=v, status='maintenance', image_metadata=dict(START)))
    out = volume.write_one(None, apply.Write('v1', 'a', BEFORE, AFTER),
                           Records(), sleep=lambda s: None)
    assert out.outcome == apply.FAILED and 'maintenance' in out.error
    assert fake.calls == []


def test_every_column_of_a_snapshot_row_formats():
    from glance_virtio import columns
    vol = volume.to_volume(body(meta=meta(**UBUNTU)))
    snap = volume.to_snapshot({'id': 's1', 'volume_id': 'v1'})
    rows = volume.audit_rows([vol], {'img1': 'deleted'}, model.Policy(),
                             [snap])
    _, data = columns.table(volume.AUDIT_COLUMNS + volume.AUDIT_LONG, rows)
    for row in data:
        for cell in row:
            if hasattr(cell, 'machine_readable'):
                json.dumps(cell.machine_readable())
                cell.human_readable()


def test_cinder_error_body_becomes_its_message():
    import requests
    resp = requests.Response()
    resp.status_code = 400
    message = ('Invalid volume: Updating volume metadata is not allowed '
               'for volumes in maintenance status.')
    resp._content = json.dumps({'badRequest': {
        'message': message, 'code': 400}}).encode()
    assert cinder._detail(resp).startswith('Invalid volume: Updating')
    resp._content = b'<html>proxy error</html>'
    assert cinder._detail(resp) == '<html>proxy error</html>'
