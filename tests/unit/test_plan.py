import pytest

from glance_virtio.kinds import images as apply
from glance_virtio import audit
from glance_virtio import model
from glance_virtio import plan

POLICY = model.Policy()
UBUNTU = {'os_type': 'linux', 'os_distro': 'ubuntu', 'os_version': '22.04'}


def image(image_id='i', name='', **props):
    return model.Image(image_id, name, properties=props)


def test_scsi_sets_bus_and_model_together():
    change = plan.plan_one(image(**UBUNTU, hw_disk_bus='virtio'),
                           plan.Target('scsi'), POLICY)
    assert change.action == plan.CHANGE
    assert change.set == {'hw_disk_bus': 'scsi',
                          'hw_scsi_model': 'virtio-scsi'}
    assert change.before == {'hw_disk_bus': 'virtio', 'hw_scsi_model': None}


def test_policy_scsi_model_default():
    policy = model.Policy(default_scsi_model='lsilogic')
    change = plan.plan_one(image(**UBUNTU), plan.Target('scsi'), policy)
    assert change.set['hw_scsi_model'] == 'lsilogic'


def test_already_in_target_is_unchanged():
    change = plan.plan_one(
        image(**UBUNTU, hw_disk_bus='scsi', hw_scsi_model='virtio-scsi'),
        plan.Target('scsi'), POLICY)
    assert change.action == plan.UNCHANGED
    assert change.set == {} and change.remove == ()


def test_leaving_scsi_removes_the_model():
    change = plan.plan_one(
        image(**UBUNTU, hw_disk_bus='scsi', hw_scsi_model='virtio-scsi'),
        plan.Target('virtio'), POLICY)
    assert change.remove == ('hw_scsi_model',)
    assert change.after == {'hw_disk_bus': 'virtio', 'hw_scsi_model': None}


def test_windows_unproven_is_blocked_unless_allowed():
    win = image(name='w', os_type='windows')
    change = plan.plan_one(win, plan.Target('scsi'), POLICY)
    assert change.action == plan.BLOCKED
    assert 'GV011' in change.reason
    allowed = model.Policy(allowed_rules=('GV011', 'GV014'))
    assert plan.plan_one(win, plan.Target('scsi'), allowed).action == \
        plan.CHANGE


def test_windows_with_assertion_moves():
    win = image(os_type='windows', virtio_drivers='vioscsi,netkvm')
    assert plan.plan_one(win, plan.Target('scsi'), POLICY).action == \
        plan.CHANGE
    assert plan.plan_one(win, plan.Target('virtio'), POLICY).action == \
        plan.BLOCKED


def test_windows_leaving_its_install_bus_is_blocked():
    win = image(os_type='windows', hw_disk_bus='ide')
    change = plan.plan_one(win, plan.Target('sata'), POLICY)
    assert change.action == plan.BLOCKED and 'GV027' in change.reason
    allowed = model.Policy(allowed_rules=('GV027',))
    assert plan.plan_one(win, plan.Target('sata'), allowed).action == \
        plan.CHANGE


@pytest.mark.parametrize('props,name', [
    ({}, 'golden-app-2019'),
    ({'os_type': 'linux'}, 'app'),
    ({}, 'RHEL guest image 2013-02 (6.4)'),
])
def test_unproven_driver_blocks_a_bus_change(props, name):
    change = plan.plan_one(image(name=name, hw_disk_bus='virtio', **props),
                           plan.Target('scsi'), POLICY)
    assert change.action == plan.BLOCKED and 'GV027' in change.reason


def test_ide_on_q35_blocked():
    img = image(**UBUNTU, hw_machine_type='q35')
    change = plan.plan_one(img, plan.Target('ide'), POLICY)
    assert change.action == plan.BLOCKED and 'GV003' in change.reason


def test_fill_os_type_only_when_certain():
    certain = image(os_distro='rocky', os_version='9')
    change = plan.plan_one(certain, plan.Target('scsi', fill_os_type=True),
                           POLICY)
    assert change.set['os_type'] == 'linux'
    guessed = image(name='ubuntu-22.04')
    change = plan.plan_one(guessed, plan.Target('virtio', fill_os_type=True),
                           POLICY)
    assert 'os_type' not in change.set


def test_unreadable_image_skipped():
    bad = model.Image('x', error='HTTP 403')
    change = plan.plan_one(bad, plan.Target('scsi'), POLICY)
    assert change.action == plan.SKIPPED and '403' in change.reason


def test_summary_counts():
    changes = plan.make_plan(
        [image('a', **UBUNTU), image('b', os_type='windows'),
         image('c', **UBUNTU, hw_disk_bus='virtio')],
        plan.Target('virtio'), POLICY)
    assert plan.summary(changes) == {'change': 1, 'unchanged': 1,
                                     'blocked': 1, 'skipped': 0}


def test_json_patch_ops():
    ops = apply.json_patch({'hw_disk_bus': 'virtio', 'hw_scsi_model': 'x'},
                           {'hw_disk_bus': 'scsi', 'hw_vif_model': 'virtio',
                            'hw_scsi_model': None, 'gone': None})
    assert ops == [
        {'op': 'replace', 'path': '/hw_disk_bus', 'value': 'scsi'},
        {'op': 'remove', 'path': '/hw_scsi_model'},
        {'op': 'add', 'path': '/hw_vif_model', 'value': 'virtio'},
    ]


def test_audit_rows_and_recommendation():
    rows = audit.audit([image('a', 'ubuntu', **UBUNTU, hw_disk_bus='ide'),
                        image('b', 'mystery')], POLICY)
    assert rows[0]['recommended_bus'] == 'scsi'
    assert rows[0]['readiness']['virtio_scsi'] == 'ready'
    assert {f['rule'] for f in rows[0]['findings']} == {
        'GV004', 'GV025', 'GV031'}
    assert rows[1]['recommended_bus'] == 'unknown'
    assert audit.failing(rows, 'warning') == rows
    assert audit.failing(rows, 'error') == []


def test_a_copy_changed_by_hand_is_skipped_when_following_its_image():
    entry = {'before': {'hw_disk_bus': 'virtio', 'hw_scsi_model': None},
             'after': {'hw_disk_bus': 'scsi',
                       'hw_scsi_model': 'virtio-scsi'}}
    copies = [image('a', **UBUNTU, hw_disk_bus='virtio'),
              image('c', **UBUNTU, hw_disk_bus='sata'),
              image('other', **UBUNTU, hw_disk_bus='sata')]
    source = {'a': 'img', 'c': 'img', 'other': 'img2'}
    changes = plan.make_plan(copies, plan.Target('scsi'), POLICY)
    assert [c.action for c in changes] == [plan.CHANGE] * 3
    got = plan.skip_hand_changed(changes, {'img': entry},
                                 lambda c: source[c.image.id])
    assert [c.action for c in got] == [plan.CHANGE, plan.SKIPPED,
                                       plan.CHANGE]
    assert 'hw_disk_bus is sata here, the image had virtio' in got[1].reason
    assert got[1].set == {} and got[1].findings == changes[1].findings
    assert plan.summary(got)[plan.SKIPPED] == 1
