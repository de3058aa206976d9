"""Every rule fires on its bad case and stays quiet on a good one."""

import pytest

from glance_virtio.knowledge import detect
from glance_virtio import model
from glance_virtio.knowledge import rules

UBUNTU = {'os_type': 'linux', 'os_distro': 'ubuntu', 'os_version': '22.04'}
GOOD = dict(UBUNTU, hw_disk_bus='scsi', hw_scsi_model='virtio-scsi')
WIN_READY = {'os_type': 'windows', 'virtio_drivers': 'viostor,vioscsi,netkvm'}
INSPECTED_VD = {'status': 'ok', 'os': {'family': 'linux', 'distro': 'ubuntu',
                                       'version': '22.04'},
                'drivers': {}, 'linux': {'uses_vd_names': True}}
INSPECTED_WIN = {'status': 'ok', 'os': {'family': 'windows'},
                 'drivers': {'virtio_scsi': {'state': 'missing',
                                             'evidence': ['no vioscsi']}}}
BASE = model.Image('base', 'ubuntu', properties=dict(GOOD))

# rule id, properties, name, inspection, context extras
BAD = [
    ('GV001', dict(GOOD, hw_disk_bus='virtio-blk'), '', None, {}),
    ('GV001', dict(GOOD, hw_vif_model='virtio-net'), '', None, {}),
    ('GV001', dict(GOOD, os_type='solaris'), '', None, {}),
    ('GV001', dict(GOOD, os_secure_boot='yes'), '', None, {}),
    ('GV001', dict(GOOD, hw_viommu_model='amd'), '', None, {}),
    ('GV001', dict(GOOD, hw_rescue_device='usb'), '', None, {}),
    ('GV002', dict(UBUNTU, hw_disk_bus='xen'), '', None, {}),
    ('GV002', dict(GOOD, hw_vif_model='netfront'), '', None, {}),
    ('GV002', dict(GOOD, hw_scsi_model='BusLogic'), '', None, {}),
    ('GV003', dict(UBUNTU, hw_disk_bus='ide', hw_machine_type='q35'), '',
     None, {}),
    ('GV003', dict(GOOD, hw_cdrom_bus='ide', hw_machine_type='pc-q35-8.2'),
     '', None, {}),
    ('GV004', dict(UBUNTU, hw_disk_bus='ide'), '', None, {}),
    ('GV004', dict(UBUNTU, hw_disk_bus='sata'), '', None, {}),
    ('GV005', dict(UBUNTU, hw_disk_bus='scsi'), '', None, {}),
    ('GV006', dict(UBUNTU, hw_disk_bus='virtio', hw_scsi_model='virtio-scsi'),
     '', None, {}),
    ('GV007', dict(GOOD, hw_scsi_model='lsilogic'), '', None, {}),
    ('GV010', {'os_type': 'windows', 'hw_disk_bus': 'virtio',
               'virtio_drivers': 'vioscsi'}, '', None, {}),
    ('GV010', {'os_type': 'windows', 'hw_disk_bus': 'scsi',
               'hw_scsi_model': 'virtio-scsi'}, '', INSPECTED_WIN, {}),
    ('GV011', {'os_type': 'windows', 'hw_disk_bus': 'scsi',
               'hw_scsi_model': 'virtio-scsi'}, '', None, {}),
    ('GV011', {}, 'Windows Server 2019', None, {}),
    ('GV012', {'os_distro': 'centos', 'os_version': '6.10',
               'hw_disk_bus': 'scsi', 'hw_scsi_model': 'virtio-scsi'}, '',
     None, {}),
    ('GV012', {'hw_disk_bus': 'sata'}, 'CentOS-6.10', None, {}),
    ('GV013', {'os_type': 'linux', 'hw_disk_bus': 'scsi',
               'hw_scsi_model': 'virtio-scsi'}, '', None, {}),
    ('GV014', dict(WIN_READY, virtio_drivers='viostor', hw_disk_bus='virtio'),
     '', None, {}),
    ('GV015', {'hw_disk_bus': 'virtio'}, 'golden-image', None, {}),
    ('GV016', dict(UBUNTU, os_type='windows'), '', None, {}),
    ('GV020', dict(GOOD, hw_disk_bus_model='virtio'), '', None, {}),
    ('GV020', dict(GOOD, **{'os-type': 'linux'}), '', None, {}),
    ('GV021', {'os_distro': 'windows', 'hw_disk_bus': 'sata'}, '', None, {}),
    ('GV022', dict(GOOD, os_secure_boot='required'), '', None, {}),
    ('GV023', dict(GOOD, hw_disk_bus='virtio', hw_scsi_model=None,
                   image_type='snapshot', base_image_ref='base'), '', None,
     {'catalogue': {'base': BASE}}),
    ('GV024', GOOD, '', None,
     {'before': dict(UBUNTU, hw_disk_bus='virtio')}),
    ('GV025', dict(UBUNTU, hw_disk_bus='ide'), '', None, {}),
    ('GV026', GOOD, '', INSPECTED_VD, {}),
    ('GV027', dict(UBUNTU, os_version=None, hw_disk_bus='scsi',
                   hw_scsi_model='virtio-scsi'), '', None,
     {'before': dict(UBUNTU, os_version=None, hw_disk_bus='virtio')}),
    ('GV027', {'hw_disk_bus': 'virtio'}, 'golden-app-2019', None,
     {'before': {'hw_disk_bus': 'ide'}}),
    ('GV027', {'os_type': 'windows', 'hw_disk_bus': 'sata'}, '', None,
     {'before': {'os_type': 'windows', 'hw_disk_bus': 'ide'}}),
    ('GV027', dict(UBUNTU, hw_disk_bus='scsi', hw_scsi_model='lsilogic'), '',
     None, {'before': dict(UBUNTU, hw_disk_bus='virtio')}),
    ('GV030', dict(UBUNTU, hw_disk_bus='fdc'), '', None, {}),
    ('GV030', dict(GOOD, hw_cdrom_bus='virtio'), '', None, {}),
    ('GV031', dict(UBUNTU, hw_disk_bus='ide'), '', None, {}),
    ('GV032', dict(GOOD, hw_machine_type='q53'), '', None, {}),
    ('GV033', dict(GOOD, hw_viommu_model='virtio', hw_machine_type='pc'), '',
     None, {}),
    ('GV034', dict(GOOD, hw_mem_encryption='true', hw_machine_type='q35'),
     '', None, {}),
    ('GV035', dict(UBUNTU, hw_disk_bus='scsi', hw_scsi_model='lsilogic',
                   hw_firmware_type='uefi'), '', None, {}),
    ('GV036', dict(UBUNTU, hw_disk_bus='virtio', hw_machine_type='q35'), '',
     None, {}),
]


def image(props, name='', **kwargs):
    props = {k: v for k, v in props.items() if v is not None}
    return model.Image('img', name, properties=props, **kwargs)


def findings(props, name='', inspection=None, extras=None, policy=None):
    extras = dict(extras or {})
    before = extras.pop('before', None)
    if before is not None:
        extras['before'] = detect.facts(image(before, name))
    ctx = rules.Context(policy=policy or model.Policy(), **extras)
    return rules.evaluate(detect.facts(image(props, name), inspection), ctx)


def ids(found):
    return {f.rule for f in found}


@pytest.mark.parametrize('rule_id,props,name,inspection,extras', BAD)
def test_rule_fires(rule_id, props, name, inspection, extras):
    found = findings(props, name, inspection, extras)
    assert rule_id in ids(found)
    rule = rules.by_id()[rule_id]
    assert all(f.severity == rule.severity for f in found
               if f.rule == rule_id)


def test_every_rule_has_a_bad_case():
    tested = {case[0] for case in BAD} | {'GV000'}
    assert tested == set(rules.by_id())


@pytest.mark.parametrize('props,name', [
    (GOOD, ''),
    (dict(GOOD, os_type='Linux', hw_vif_model='VirtualE1000',
          hw_cpu_model='host'), ''),
    (dict(UBUNTU, hw_disk_bus='virtio'), ''),
    (dict(WIN_READY, hw_disk_bus='scsi', hw_scsi_model='virtio-scsi'), ''),
    (dict(WIN_READY, hw_disk_bus='virtio'), ''),
    ({'os_type': 'linux', 'os_distro': 'rhel', 'os_version': '9.4',
      'hw_disk_bus': 'scsi', 'hw_scsi_model': 'virtio-scsi',
      'hw_machine_type': 'q35', 'hw_firmware_type': 'uefi',
      'os_secure_boot': 'required'}, ''),
    (dict(GOOD, hw_architecture='aarch64', os_secure_boot='required'), ''),
])
def test_clean_images_have_no_warning_or_error(props, name):
    found = findings(props, name)
    assert [f for f in found if f.severity != model.INFO] == []


def test_unreadable_image_is_one_gv000():
    facts = detect.facts(model.Image('x', error='HTTP 403 forbidden'))
    found = rules.evaluate(facts)
    assert [(f.rule, f.severity) for f in found] == [('GV000', 'error')]
    assert '403' in found[0].message


def test_windows_default_bus_is_virtio():
    found = findings({'os_type': 'windows'})
    assert any(f.rule == 'GV011' and 'Nova defaults to virtio' in f.message
               for f in found)


def test_policy_overrides_and_disables():
    props = dict(UBUNTU, hw_disk_bus='ide')
    policy = model.Policy(severity_overrides={'GV004': 'error'},
                          disabled_rules=('GV025',))
    found = findings(props, policy=policy)
    assert ('GV004', 'error') in {(f.rule, f.severity) for f in found}
    assert 'GV025' not in ids(found)


def test_windows_on_its_install_bus_is_not_an_error():
    # An unproven inbox driver is only a blocker when the bus changes.
    for bus in ('ide', 'sata'):
        found = findings({'os_type': 'windows', 'hw_disk_bus': bus})
        assert not [f for f in found if f.severity == model.ERROR]


def test_gv027_quiet_when_the_driver_does_not_change():
    props = dict(UBUNTU, os_version=None, hw_disk_bus='virtio')
    assert 'GV027' not in ids(findings(props, extras={'before': dict(
        UBUNTU, os_version=None)}))


def test_non_virtio_scsi_model_is_not_judged_by_virtio_scsi():
    props = {'os_type': 'windows', 'virtio_drivers': 'vioscsi',
             'hw_disk_bus': 'scsi', 'hw_scsi_model': 'lsilogic'}
    found = findings(props)
    assert any(f.rule == 'GV011' and 'lsilogic controller' in f.message
               for f in found)


def test_q35_default_machine_type_from_policy():
    props = dict(UBUNTU, hw_disk_bus='ide')
    assert 'GV003' not in ids(findings(props))
    policy = model.Policy(machine_types={'x86_64': 'q35'})
    assert 'GV003' in ids(findings(props, policy=policy))


def test_findings_sorted_most_severe_first():
    found = findings({'hw_disk_bus': 'scsi', 'os_type': 'windows'})
    ranks = [model.severity_rank(f.severity) for f in found]
    assert ranks == sorted(ranks, reverse=True)


def test_typo_suggests_the_known_key():
    found = findings(dict(GOOD, hw_disk_bus_model='virtio', hw_dsik_bus='x'))
    messages = [f.message for f in found if f.rule == 'GV020']
    assert len(messages) == 2
    assert any('did you mean hw_disk_bus?' in m for m in messages)
    assert not any('virtio_drivers' in m for m in messages)


# Keys real clients and services write: openstacksdk uploads, Nova
# snapshots (nova/compute/api.py snapshot, snapshot_volume_backed; the
# libvirt driver's _create_snapshot_metadata), the SCS-0102 image metadata.
CLIENT_KEYS = {
    'owner_specified.openstack.md5': 'd41d8cd98f00b204e9800998ecf8427e',
    'owner_specified.openstack.sha256': 'e3b0c44298fc1c149afbf4c8996fb924',
    'owner_specified.openstack.object': 'images/ubuntu-22.04',
    'image_type': 'snapshot', 'instance_uuid': 'a' * 36, 'user_id': 'b' * 32,
    'owner_id': 'c' * 32, 'owner_project_name': 'demo',
    'owner_user_name': 'alice', 'base_image_ref': 'd' * 36,
    'boot_roles': 'member,reader', 'image_location': 'snapshot',
    'image_state': 'available', 'bdm_v2': 'True',
    'block_device_mapping': '[{"boot_index": 0}]',
    'root_device_name': '/dev/vda', 'image_build_date': '2026-11-02 04:00',
    'image_original_user': 'ubuntu', 'image_source': 'https://example.org',
    'image_description': 'https://example.org/doc',
    'replace_frequency': 'monthly', 'provided_until': 'none',
    'uuid_validity': 'last-3', 'hotfix_hours': '0', 'patchlevel': '20261102',
    'os_purpose': 'generic', 'hypervisor_type': 'qemu',
    'architecture': 'x86_64', 'hw_qemu_guest_agent': 'yes',
    'hw_rng_model': 'virtio', 'os_require_quiesce': 'yes',
}


def test_client_and_scs_keys_are_not_typos():
    found = findings(dict(GOOD, **CLIENT_KEYS))
    assert 'GV020' not in ids(found)


@pytest.mark.parametrize('key,known', [
    ('hw_dsik_bus', 'hw_disk_bus'), ('os-distro', 'os_distro'),
    ('hw_scsi_modle', 'hw_scsi_model'), ('hw_vif_mdoel', 'hw_vif_model'),
    ('os_typ', 'os_type'), ('hw_machine_typ', 'hw_machine_type'),
    ('hw_disk_bus_model', 'hw_disk_bus'), ('os-type', 'os_type'),
    ('HW_DISK_BUS', 'hw_disk_bus'), ('hw:disk_bus', 'hw_disk_bus'),
    ('os_distro_version', 'os_distro'), ('virtio_driver', 'virtio_drivers'),
    ('hw_firmware', None), ('owner_specified.openstack.object', None),
])
def test_misspellings_found(key, known):
    assert rules.misspelling_of(key) == known
