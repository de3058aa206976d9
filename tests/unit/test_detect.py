import pytest

from glance_virtio.knowledge import detect
from glance_virtio import model


def image(name='', **props):
    return model.Image('id', name, properties=props)


@pytest.mark.parametrize('name,family,distro,version,confidence', [
    ('Windows Server 2019 Datacenter', 'windows', 'windows', '2019',
     'medium'),
    ('win2k22-eval', 'windows', 'windows', None, 'low'),
    ('CentOS-6.10-x86_64-GenericCloud', 'linux', 'centos', '6.10', 'medium'),
    ('ubuntu-22.04-server-cloudimg', 'linux', 'ubuntu', '22.04', 'medium'),
    ('debian-12-genericcloud-amd64', 'linux', 'debian', '12', 'medium'),
    ('Rocky-9-GenericCloud', 'linux', 'rocky', '9', 'medium'),
    ('cirros-0.6.2-x86_64-disk', 'linux', 'cirros', '0.6.2', 'medium'),
    ('golden-image-v3', 'unknown', None, None, 'none'),
])
def test_os_from_name(name, family, distro, version, confidence):
    guest = detect.guest_os(image(name))
    assert (guest.family, guest.distro, guest.version, guest.confidence) == (
        family, distro, version, confidence)
    assert guest.source == ('name' if family != 'unknown' else 'none')


def test_properties_beat_name():
    guest = detect.guest_os(image('Windows 2019', os_type='linux',
                                  os_distro='ubuntu', os_version='20.04'))
    assert (guest.family, guest.distro, guest.source) == (
        'linux', 'ubuntu', 'property')


def test_os_distro_alone_gives_family():
    guest = detect.guest_os(image('x', os_distro='rhel', os_version='8'))
    assert (guest.family, guest.confidence) == ('linux', 'high')


@pytest.mark.parametrize('distro,version,blk,scsi', [
    ('centos', '6.10', 'ready', 'not-ready'),
    ('centos', '7', 'ready', 'ready'),
    ('ubuntu', '12.04', 'ready', 'not-ready'),
    ('ubuntu', '14.04', 'ready', 'ready'),
    ('debian', '7', 'ready', 'not-ready'),
    ('sles', '12', 'ready', 'ready'),
    ('ubuntu', None, 'unknown', 'unknown'),
    ('mystery', '1', 'unknown', 'unknown'),
])
def test_linux_readiness_by_era(distro, version, blk, scsi):
    props = {'os_type': 'linux', 'os_distro': distro}
    if version:
        props['os_version'] = version
    facts = detect.facts(image(**props))
    assert facts.readiness['virtio_blk'].state == blk
    assert facts.readiness['virtio_scsi'].state == scsi
    assert facts.readiness['virtio_scsi'].reason


def test_windows_unknown_until_asserted():
    facts = detect.facts(image(os_type='windows'))
    assert facts.readiness['virtio_blk'].state == 'unknown'
    # storahci is inbox but boot-start only if Windows was installed on AHCI
    assert facts.readiness['sata'].state == 'unknown'
    facts = detect.facts(image(os_type='windows', virtio_drivers='viostor'))
    assert facts.readiness['virtio_blk'].state == 'ready'
    assert facts.readiness['virtio_scsi'].state == 'not-ready'
    facts = detect.facts(image(os_type='windows', virtio_drivers='storahci'))
    assert facts.readiness['sata'].state == 'ready'


@pytest.mark.parametrize('name,distro,version', [
    ('RHEL guest image 2013-02 (6.4)', 'rhel', None),
    ('SLES-for-SAP-2019-12', 'sles', None),
    ('centos-2019-golden', 'centos', None),
    ('rhel-7.9-x86_64', 'rhel', '7.9'),
    ('Red Hat Enterprise Linux 8.6', 'rhel', '8.6'),
    ('SUSE Linux Enterprise Server 15 SP4', 'sles', '15'),
    ('openSUSE-Leap-15.5', 'opensuse', '15.5'),
    ('Fedora-Cloud-Base-39-1.5', 'fedora', '39'),
])
def test_a_date_in_the_name_is_not_a_version(name, distro, version):
    guest = detect.guest_os(image(name=name))
    assert (guest.distro, guest.version) == (distro, version)


def test_inspection_overrides_metadata():
    report = {'status': 'ok',
              'os': {'family': 'windows', 'distro': 'windows',
                     'product_name': 'Windows Server 2022', 'build': '20348'},
              'drivers': {'virtio_scsi': {'state': 'ready',
                                          'evidence': ['vioscsi boot-start']},
                          'virtio_blk': {'state': 'missing',
                                         'evidence': ['no viostor']},
                          'virtio_net': {'state': 'unknown', 'evidence': []}}}
    facts = detect.facts(image('some name', os_type='linux'), report)
    assert facts.os.family == 'windows' and facts.os.source == 'inspection'
    assert facts.readiness['virtio_scsi'].state == 'ready'
    assert 'vioscsi boot-start' in facts.readiness['virtio_scsi'].reason
    assert facts.readiness['virtio_blk'].state == 'not-ready'
    assert facts.readiness['virtio_net'].state == 'unknown'


def test_failed_inspection_is_ignored():
    facts = detect.facts(image(os_type='windows'),
                         {'status': 'error', 'error': 'truncated'})
    assert facts.os.source == 'property'


def test_inspection_unknown_beats_metadata_guess():
    report = {'status': 'ok', 'os': {'family': 'linux', 'distro': 'rhel',
                                     'version': '9.0'},
              'drivers': {'virtio_scsi': {'state': 'unknown', 'evidence': [
                  'initramfs was not fully read']}}}
    facts = detect.facts(image(os_distro='rhel', os_version='9'), report)
    assert facts.readiness['virtio_scsi'].state == 'unknown'
    assert 'not fully read' in facts.readiness['virtio_scsi'].reason
    assert facts.readiness['virtio_blk'].state == 'ready'
