"""The rules agree with Nova's own functions, run from the Nova 34.0.0 wheel.

See tests/unit/nova_source.py for how single functions are compiled.
"""

import itertools
import logging
import types

import pytest

from glance_virtio import conf
from glance_virtio.knowledge import detect
from glance_virtio.knowledge import explain
from glance_virtio.knowledge import machine
from glance_virtio import model
from glance_virtio.knowledge import rules
from tests.unit import nova_source

UTILS = 'nova/virt/libvirt/utils.py'
BLOCKINFO = 'nova/virt/libvirt/blockinfo.py'
IMAGE_META = 'nova/objects/image_meta.py'
ARCHES = ['x86_64', 'i686', 'aarch64', 'armv7l', 'ppc64le', 's390x']
MACHINE_POLICIES = [[], ['x86_64=q35'], ['x86_64=pc-q35-9.0', 'aarch64=virt'],
                    ['q35']]


def nova_machine_type(hw_machine_type):
    """Nova's get_default_machine_type and get_machine_type for a nova.conf.

    nova/virt/libvirt/utils.py l.644-685, with CONF.libvirt.hw_machine_type
    set to hw_machine_type.
    """
    conf_ = types.SimpleNamespace(libvirt=types.SimpleNamespace(
        hw_machine_type=hw_machine_type))
    namespace = {'CONF': conf_, 'LOG': logging.getLogger('nova'),
                 'obj_fields': nova_source.architecture()}
    default = nova_source.function(UTILS, 'get_default_machine_type',
                                   namespace)
    get_arch = nova_source.function(UTILS, 'get_arch', dict(
        namespace, obj_fields=types.SimpleNamespace(
            Architecture=types.SimpleNamespace(from_host=lambda: 'x86_64'))))
    namespace.update(get_default_machine_type=default, get_arch=get_arch)
    return nova_source.function(UTILS, 'get_machine_type', namespace), \
        get_arch


def test_machine_type_per_architecture_matches_nova():
    """Machine type per architecture and nova.conf matches Nova.

    utils.py get_machine_type / get_default_machine_type (l.644-685): the
    image's hw_machine_type, else [libvirt]hw_machine_type for get_arch(),
    else the per-architecture default. A bare policy value means x86_64,
    as a compute on x86_64 reads it.
    """
    for entries, arch, explicit in itertools.product(
            MACHINE_POLICIES, ARCHES, [None, 'pc-i440fx-8.2']):
        nova_entries = ['x86_64=' + e if '=' not in e else e
                        for e in entries]
        get_machine_type, _ = nova_machine_type(nova_entries)
        props = {'hw_architecture': arch}
        if explicit:
            props['hw_machine_type'] = explicit
        policy = model.Policy(machine_types=conf.machine_types(entries))
        facts = detect.facts(model.Image('i', properties=props))
        assert rules.machine_type(facts, policy) == get_machine_type(
            nova_source.Meta(props)), (entries, arch, explicit)


def nova_cdrom_bus(props):
    """Nova's get_disk_bus_for_device_type(..., 'cdrom') for kvm.

    nova/virt/libvirt/blockinfo.py l.219-276 with Nova's own get_arch and
    get_machine_type (the compute's nova.conf sets no hw_machine_type).
    """
    get_machine_type, get_arch = nova_machine_type([])
    fields = nova_source.architecture()
    namespace = {
        'osinfo': None, 'exception': None,
        'obj_fields': fields,
        'libvirt_utils': types.SimpleNamespace(
            get_arch=get_arch, get_machine_type=get_machine_type),
        'is_disk_bus_valid_for_virt': lambda virt, bus: True,
    }
    function = nova_source.function(BLOCKINFO, 'get_disk_bus_for_device_type',
                                    namespace)
    return function(None, 'kvm', nova_source.Meta(props), 'cdrom')


@pytest.mark.parametrize('props', [
    {}, {'hw_machine_type': 'q35'}, {'hw_machine_type': 'pc-q35-8.2'},
    {'hw_machine_type': 'pc'}, {'hw_architecture': 'aarch64'},
    {'hw_architecture': 'ppc64le'}, {'hw_architecture': 's390x'},
    {'hw_architecture': 'armv7l'}, {'hw_cdrom_bus': 'scsi'},
    {'hw_cdrom_bus': 'ide', 'hw_machine_type': 'q35'}])
def test_cdrom_and_config_drive_bus_matches_nova(props):
    """The cdrom (config drive) bus matches Nova.

    blockinfo.py get_disk_bus_for_device_type (l.219-276), run from the
    Nova wheel.
    """
    facts = detect.facts(model.Image('i', properties=props))
    assert rules.cdrom_bus(facts, model.Policy()) == nova_cdrom_bus(props)
    assert explain.state(props, {}).cdrom_bus == nova_cdrom_bus(props)


class _InvalidArchitecture(Exception):
    pass


@pytest.mark.parametrize('name', [
    'x86_64', 'AMD64', 'i386', 'i586', 'x86_32p', 'aarch64', 'ppc64le',
    's390x', 'arm64', 'x64', 'x86-64', 'ppc64el'])
def test_architecture_is_canonicalised_as_nova_does(name):
    """hw_architecture as Architecture.canonicalize reads it.

    nova/objects/fields.py l.193, run from the wheel: only i386-i586,
    x86_32(p) and amd64 are aliases; any other unknown name is invalid for
    Nova, so neither rules nor explain may read it as another architecture.
    """
    valid = set(nova_source.constants('nova/virt/arch.py').values())
    fields = nova_source.architecture().Architecture
    stand_in = types.SimpleNamespace(
        I686=fields.I686, X86_64=fields.X86_64,
        is_valid=lambda value: value in valid)
    canonicalize = nova_source.function(
        'nova/objects/fields.py', 'canonicalize',
        {'exception': types.SimpleNamespace(
            InvalidArchitectureName=lambda arch: _InvalidArchitecture(arch))},
        within='Architecture')
    try:
        nova = canonicalize(stand_in, name)
    except _InvalidArchitecture:
        nova = name.lower()  # Nova rejects it; we must not rename it
    props = {'hw_architecture': name}
    assert machine.architecture(props) == nova
    assert explain.state(props, {}).architecture == nova


class _LegacyProps:
    """Receives what _set_attr_from_legacy_names sets."""

    def __init__(self, legacy_map):
        self._legacy_property_map = legacy_map


@pytest.mark.parametrize('props', [
    {'vmware_adaptertype': 'lsiLogic'}, {'vmware_adaptertype': 'ide'},
    {'vmware_adaptertype': 'paraVirtual', 'hw_disk_bus': 'virtio'},
    {'vmware_adaptertype': 'busLogic', 'hw_scsi_model': 'virtio-scsi'},
    {'vmware_ostype': 'windows9Server64Guest'},
    {'vmware_ostype': 'otherLinux64Guest', 'os_distro': 'ubuntu'},
    {'architecture': 'aarch64'},
    {'architecture': 'aarch64', 'hw_architecture': 'x86_64'}])
def test_legacy_properties_match_nova(props):
    """Legacy vmware_adaptertype and vmware_ostype match Nova.

    nova/objects/image_meta.py ImageMetaProps._set_attr_from_legacy_names
    (l.688) run from the wheel, then the current names on top, as from_dict
    (l.758) does.
    """
    legacy_map = nova_source.literal(IMAGE_META, '_legacy_property_map')
    method = nova_source.function(IMAGE_META, '_set_attr_from_legacy_names',
                                  {})
    receiver = _LegacyProps(legacy_map)
    method(receiver, props)
    nova = {k: v for k, v in vars(receiver).items()
            if k != '_legacy_property_map'}
    nova.update({k: v for k, v in props.items()
                 if k.startswith(('hw_', 'os_'))})
    ours = detect.effective_properties(props)
    for key in ('hw_disk_bus', 'hw_scsi_model', 'os_distro',
                'hw_architecture'):
        assert ours.get(key) == nova.get(key), key


def test_legacy_names_are_nova_s():
    """Every legacy name mapped is in image_meta.py _legacy_property_map."""
    legacy_map = nova_source.literal(IMAGE_META, '_legacy_property_map')
    for old, new in detect.LEGACY_NAMES.items():
        assert legacy_map[old] == new


def test_kvm_buses_and_vif_models_match_nova():
    """KVM buses and NIC models match Nova.

    blockinfo.py SUPPORTED_DEVICE_BUSES (l.96); vif.py SUPPORTED_VIF_MODELS
    (l.52, names from nova/network/model.py); fields.py DiskBus.ALL.
    """
    buses = nova_source.literal(BLOCKINFO, 'SUPPORTED_DEVICE_BUSES')
    assert sorted(rules.KVM_BUSES) == sorted(buses['kvm'])
    names = nova_source.constants('nova/network/model.py')
    tree = nova_source.source('nova/virt/libvirt/vif.py')
    start = tree.index("'kvm': [")
    block = tree[start:tree.index(']', start)]
    kvm = [names[n.strip().rstrip(',').split('.')[-1]]
           for n in block.split('\n')[1:]
           if n.strip().startswith('network_model.')]
    assert sorted(rules.KVM_VIF_MODELS) == sorted(kvm)


@pytest.mark.parametrize('key,enum', [
    ('hw_disk_bus', 'DiskBus'), ('hw_cdrom_bus', 'DiskBus'),
    ('hw_rescue_bus', 'DiskBus'), ('hw_scsi_model', 'SCSIModel'),
    ('hw_vif_model', 'VIFModel'), ('hw_video_model', 'VideoModel'),
    ('hw_firmware_type', 'FirmwareType'), ('os_type', 'OSType'),
    ('os_secure_boot', 'SecureBoot'), ('hw_viommu_model', 'VIOMMUModel'),
    ('hw_rescue_device', 'BlockDeviceType'), ('hw_tpm_model', 'TPMModel'),
    ('hw_tpm_version', 'TPMVersion'),
    ('hw_watchdog_action', 'WatchdogAction'), ('hw_input_bus', 'InputBus'),
    ('hw_rng_model', 'RNGModel')])
def test_enums_match_nova(key, enum):
    """GV001's enums are Nova's.

    nova/objects/fields.py, the ALL tuple of each enum class.
    """
    assert sorted(rules.ENUMS[key]) == sorted(
        nova_source.enum('nova/objects/fields.py', enum))


def test_rules_cite_the_nova_both_oracles_run():
    """The Sources cite the one Nova version of tools/nova-version."""
    assert rules.NOVA == 'Nova %s ' % nova_source.VERSION
    assert nova_source.source('nova/virt/libvirt/blockinfo.py')
