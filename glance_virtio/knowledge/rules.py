"""The knowledge base: every known-bad or risky combination is a rule."""

import dataclasses
import functools
from typing import Callable, Mapping, Optional

from glance_virtio.knowledge import detect
from glance_virtio.knowledge import machine
from glance_virtio import model
from glance_virtio.model import ERROR, INFO, NOT_READY, READY, UNKNOWN, WARNING

DISK_BUSES = ('fdc', 'ide', 'sata', 'scsi', 'usb', 'virtio', 'xen', 'lxc',
              'uml')
KVM_BUSES = ('virtio', 'scsi', 'ide', 'usb', 'fdc', 'sata')
SCSI_MODELS = ('buslogic', 'ibmvscsi', 'lsilogic', 'lsisas1068',
               'lsisas1078', 'virtio-scsi', 'vmpvscsi')
VIF_MODELS = ('virtio', 'ne2k_pci', 'pcnet', 'rtl8139', 'e1000', 'e1000e',
              'netfront', 'spapr-vlan', 'lan9118', 'sriov', 'vmxnet',
              'vmxnet3', 'igb')
KVM_VIF_MODELS = ('virtio', 'ne2k_pci', 'pcnet', 'rtl8139', 'e1000',
                  'e1000e', 'spapr-vlan', 'vmxnet3', 'igb')
ENUMS = {
    'hw_disk_bus': DISK_BUSES,
    'hw_cdrom_bus': DISK_BUSES,
    'hw_rescue_bus': DISK_BUSES,
    'hw_scsi_model': SCSI_MODELS,
    'hw_vif_model': VIF_MODELS,
    'hw_video_model': ('vga', 'cirrus', 'vmvga', 'xen', 'qxl', 'virtio',
                       'gop', 'none', 'bochs'),
    'hw_rng_model': ('virtio',),
    'hw_firmware_type': ('bios', 'uefi'),
    'os_type': ('linux', 'windows'),
    'os_secure_boot': ('required', 'disabled', 'optional'),
    'hw_tpm_model': ('tpm-tis', 'tpm-crb'),
    'hw_tpm_version': ('1.2', '2.0'),
    'hw_watchdog_action': ('disabled', 'reset', 'poweroff', 'pause', 'none'),
    'hw_input_bus': ('usb', 'virtio'),
    'hw_viommu_model': ('intel', 'smmuv3', 'virtio', 'auto'),
    'hw_rescue_device': ('cdrom', 'disk', 'floppy', 'fs', 'lun'),
}
# Nova lowercases these and maps legacy names before checking the enum.
NORMALISED = {
    'os_type': {},
    'hw_vif_model': {'virtuale1000': 'e1000', 'virtuale1000e': 'e1000e',
                     'virtualpcnet32': 'pcnet', 'virtualsriovethernetcard':
                     'sriov', 'virtualvmxnet': 'vmxnet',
                     'virtualvmxnet3': 'vmxnet3'},
    'hw_scsi_model': {'lsilogicsas': 'lsisas1068',
                      'paravirtual': 'vmpvscsi'},
}


def canonical(key, value):
    """The value Nova compares with its enum."""
    if value is None or key not in NORMALISED:
        return value
    value = value.lower()
    return NORMALISED[key].get(value, value)


TYPO_TARGETS = tuple(ENUMS) + (
    'hw_machine_type', 'os_distro', 'os_version', 'os_secure_boot',
    'virtio_drivers')
KNOWN_KEYS = frozenset(TYPO_TARGETS + (
    'architecture', 'hypervisor_type', 'img_config_drive', 'img_hv_type',
    'os_require_quiesce', 'os_command_line', 'os_admin_user', 'os_hidden',
    'hw_qemu_guest_agent', 'hw_vif_multiqueue_enabled', 'hw_pointer_model',
    'hw_boot_menu', 'hw_tpm_version', 'hw_tpm_model', 'hw_mem_encryption',
    'hw_video_ram', 'hw_watchdog_action', 'hw_serial_port_count',
    'hw_cpu_policy', 'hw_cpu_thread_policy', 'hw_cpu_cores',
    'hw_cpu_sockets', 'hw_cpu_threads', 'hw_cpu_max_cores',
    'hw_cpu_max_sockets', 'hw_cpu_max_threads', 'hw_numa_nodes',
    'hw_mem_page_size', 'hw_pmu', 'hw_time_hpet', 'hw_input_bus',
    'hw_emulation_architecture', 'hw_ipxe_boot', 'hw_locked_memory',
    'hw_viommu_model', 'hw_virtio_packed_ring', 'hw_firmware_stateless',
    'hw_sound_model', 'hw_usb_model', 'hw_maxphysaddr_mode',
    'hw_maxphysaddr_bits', 'hw_auto_disk_config', 'hw_architecture',
    'hw_vm_mode', 'hw_rescue_device', 'hw_device_id', 'hw_rng_rate_bytes',
    'hw_rng_rate_period', 'hw_ephemeral_encryption',
    'hw_ephemeral_encryption_format', 'image_type', 'base_image_ref',
    'instance_uuid', 'user_id', 'image_location', 'image_state', 'kernel_id',
    'ramdisk_id', 'root_device_name', 'block_device_mapping', 'bdm_v2',
    'boot_roles', 'description', 'owner_project_name', 'owner_user_name',
    'vm_mode', 'vmware_adaptertype', 'vmware_ostype', 'hw_cpu_model',
    'hw_mem_encryption_model', 'hw_firmware_stateless'))
REFUSED_SCSI_MODELS = {
    'buslogic': 'libvirt refuses the BusLogic controller for QEMU',
}
PPC = machine.PPC
X86 = machine.X86
PARAVIRTUAL_BUSES = ('virtio', 'scsi')
BUS_DRIVER = {'virtio': 'virtio_blk', 'scsi': 'virtio_scsi', 'sata': 'sata',
              'ide': 'ide'}
TRUE = ('1', 't', 'true', 'on', 'y', 'yes')

# Public sources, as read in Nova 34.0.0 (the release the rules were checked
# against), libvirt and Microsoft's documentation.
NOVA = 'Nova 34.0.0 '
FIELDS = NOVA + 'nova/objects/fields.py (DiskBus l.346, SCSIModel l.580, ' \
    'VIFModel l.629, VIOMMUModel l.655, BlockDeviceType l.250 enums)'
BLOCKINFO = NOVA + 'nova/virt/libvirt/blockinfo.py'
BUS_FOR_DEVICE = BLOCKINFO + ' get_disk_bus_for_device_type (l.219-276)'
MACHINE = NOVA + 'nova/virt/libvirt/utils.py get_machine_type, ' \
    'get_default_machine_type (l.644-685)'
LIBVIRT_IDE = 'libvirt src/qemu/qemu_validate.c: "IDE controllers are ' \
    'unsupported for this QEMU binary or machine type"'
LIBVIRT_HOTPLUG = 'libvirt src/qemu/qemu_hotplug.c: "disk bus \'%s\' ' \
    'cannot be hotplugged"'
BSOD = 'Microsoft: Bug Check 0x7B INACCESSIBLE_BOOT_DEVICE; virtio-win ' \
    'drivers (viostor, vioscsi, netkvm)'
LINUX_DRIVERS = 'virt-v2v convert/convert_linux.ml (virtio drivers in the ' \
    'initramfs); Linux drivers/block/virtio_blk.c, drivers/scsi/virtio_scsi.c'
DEV_NAMES = BLOCKINFO + ' get_dev_prefix_for_disk_bus (l.126: vd, sd, hd)'
PROPS_DOC = 'Glance docs: Useful image properties (os_type, os_distro)'

MACHINE_EXAMPLES = ('pc, pc-i440fx-*, q35, pc-q35-*, virt, pseries, '
                    's390-ccw-virtio')
NO_IDE = machine.NO_IDE
NOVA_MACHINE_DEFAULTS = machine.NOVA_DEFAULTS


@dataclasses.dataclass(frozen=True)
class Context:
    """What a rule may look at besides the image's own facts."""

    policy: model.Policy = model.Policy()
    catalogue: Mapping[str, model.Image] = dataclasses.field(
        default_factory=dict)
    before: Optional[model.Facts] = None


@dataclasses.dataclass(frozen=True)
class Rule:
    id: str
    severity: str
    summary: str
    source: str
    check: Callable


RULES = []


def rule(rule_id, severity, summary, source):
    def register(check):
        RULES.append(Rule(rule_id, severity, summary, source, check))
        return check
    return register


def architecture(facts):
    """The guest architecture as Nova canonicalises it, or None if unset."""
    return machine.architecture(facts.props)


def arch_or_assumed(facts):
    """The architecture; x86_64 (the usual compute) if the image is silent."""
    return machine.arch_or_assumed(facts.props)


def machine_type_and_source(facts, policy):
    """(machine type, 'image' | 'policy' | 'nova default' | None)."""
    return machine.machine_type(facts.props, policy.machine_types)


def machine_type(facts, policy):
    return machine_type_and_source(facts, policy)[0]


def machine_family(value):
    """The family of a machine type (pc, q35, virt...), or None if unknown."""
    return machine.family(value)


def is_q35(facts, policy):
    return machine.is_q35(machine_type(facts, policy))


def assumed_pc(facts, policy):
    """True when pc is only Nova's default: image and policy are silent."""
    return (machine_type_and_source(facts, policy)[1] == 'nova default'
            and arch_or_assumed(facts) in X86)


def has_no_ide(facts, policy):
    return machine.has_no_ide(machine_type(facts, policy))


def is_iso(facts):
    return facts.image.disk_format == 'iso'


def cdrom_bus(facts, policy):
    """The cdrom (and config drive) bus, as get_disk_bus_for_device_type."""
    return machine.cdrom_bus(facts.props, machine_type(facts, policy))


def disk_bus(facts, policy=None):
    """The boot device bus: the cdrom bus for iso images, else the disk's.

    blockinfo.py get_root_info (l.427): disk_format=iso boots from a cdrom.
    """
    if is_iso(facts):
        return cdrom_bus(facts, policy or model.Policy())
    return facts.props.get('hw_disk_bus') or 'virtio'


def boot_key(facts):
    return 'hw_cdrom_bus' if is_iso(facts) else 'hw_disk_bus'


def uses_scsi_controller(facts):
    # A rescue takes its SCSI controller from the instance's image
    # (driver.py _get_scsi_controller l.6318), so hw_rescue_bus is not here.
    return 'scsi' in (facts.props.get(k) for k in
                      ('hw_disk_bus', 'hw_cdrom_bus'))


def firmware(facts):
    """hw_firmware_type; on aarch64 Nova defaults it to uefi (l.7343)."""
    value = facts.props.get('hw_firmware_type')
    if not value and arch_or_assumed(facts) == 'aarch64':
        return 'uefi'
    return value or 'bios'


def described(key, facts):
    """key=value, naming the legacy property it comes from."""
    value = facts.props.get(key)
    source = detect.legacy_source(facts.image.properties, key)
    if source:
        return '%s=%s (from %s=%s)' % (
            key, value, source, facts.image.properties[source])
    return '%s=%s' % (key, value)


RULES.append(Rule('GV000', ERROR, 'Image could not be read', 'Glance API v2',
                  lambda facts, ctx: ()))


@rule('GV001', ERROR, 'Property value outside the Nova enum',
      FIELDS + '; nova/objects/image_meta.py ImageMetaProps.from_dict')
def _invalid_enum(facts, ctx):
    for key, allowed in ENUMS.items():
        value = facts.props.get(key)
        if value is not None and canonical(key, value) not in allowed:
            yield ('%s is not valid; Nova rejects the boot with "Invalid '
                   'image metadata". Use one of: %s'
                   % (described(key, facts), ', '.join(allowed)))


@rule('GV002', ERROR, 'Bus or model the libvirt kvm driver refuses',
      BLOCKINFO + ' SUPPORTED_DEVICE_BUSES (l.96); ' + NOVA +
      'nova/virt/libvirt/vif.py SUPPORTED_VIF_MODELS (l.52)')
def _bus_not_kvm(facts, ctx):
    for key in ('hw_disk_bus', 'hw_cdrom_bus', 'hw_rescue_bus'):
        value = facts.props.get(key)
        if value in DISK_BUSES and value not in KVM_BUSES:
            when = ('a rescue fails with UnsupportedRescueBus'
                    if key == 'hw_rescue_bus'
                    else 'the build fails with UnsupportedHardware')
            yield ('%s=%s is not supported for kvm/qemu: %s. Use virtio, scsi '
                   'or sata' % (key, value, when))
    arch = arch_or_assumed(facts)
    scsi = canonical('hw_scsi_model', facts.props.get('hw_scsi_model'))
    if scsi in REFUSED_SCSI_MODELS:
        yield ('%s: %s, so the build fails. Use virtio-scsi'
               % (described('hw_scsi_model', facts),
                  REFUSED_SCSI_MODELS[scsi]))
    elif scsi == 'ibmvscsi' and arch not in PPC:
        yield ('%s is the POWER (pseries) controller; QEMU has no such '
               'device for %s, so the build fails. Use virtio-scsi'
               % (described('hw_scsi_model', facts), arch))
    vif = canonical('hw_vif_model', facts.props.get('hw_vif_model'))
    if vif in VIF_MODELS and vif not in KVM_VIF_MODELS:
        yield ('hw_vif_model=%s is not supported for kvm: the build fails '
               'with UnsupportedHardware. Use virtio' % vif)
    elif vif == 'spapr-vlan' and arch not in PPC:
        yield ('hw_vif_model=spapr-vlan is the POWER (pseries) NIC; QEMU has '
               'no such device for %s. Use virtio' % arch)


def _machine_words(facts, policy):
    value, source = machine_type_and_source(facts, policy)
    if source == 'image':
        return value
    if source == 'policy':
        return '%s (the site policy for %s)' % (value,
                                                arch_or_assumed(facts))
    return "%s (Nova's default for %s)" % (value, arch_or_assumed(facts))


def _ide_devices(facts):
    """The image's keys that put a device on the IDE bus."""
    return [k for k in ('hw_disk_bus', 'hw_cdrom_bus', 'hw_rescue_bus')
            if facts.props.get(k) == 'ide']


@rule('GV003', ERROR, 'IDE on a machine type that has no IDE',
      LIBVIRT_IDE + '; ' + MACHINE + '; ' + BUS_FOR_DEVICE)
def _no_ide(facts, ctx):
    if not has_no_ide(facts, ctx.policy):
        return
    for key in _ide_devices(facts):
        advice = ('Use sata or scsi (a cdrom cannot be on virtio)'
                  if key == 'hw_cdrom_bus' else
                  'Use virtio, or scsi with hw_scsi_model=virtio-scsi, where '
                  'the guest has the driver (sata boots too but cannot '
                  'hot-plug volumes)')
        yield ('%s with machine type %s: that machine has no IDE controller '
               'and libvirt refuses "IDE controllers are unsupported for '
               'this QEMU binary or machine type". %s'
               % (described(key, facts), _machine_words(facts, ctx.policy),
                  advice))


@rule('GV004', WARNING, 'IDE or SATA disk bus: no volume hot-plug (IDE: 4 '
      'devices)', BLOCKINFO + ' get_dev_count_for_disk_bus (l.160); ' +
      LIBVIRT_HOTPLUG)
def _emulated_limits(facts, ctx):
    bus = facts.props.get('hw_disk_bus')
    if bus not in ('ide', 'sata'):
        return
    hotplug = ('cannot hot-plug: attaching a volume to a running server '
               'fails (libvirt "disk bus \'%s\' cannot be hotplugged"); '
               'volumes attach only while it is shut off' % bus)
    if bus == 'sata':
        yield '%s %s' % (described('hw_disk_bus', facts), hotplug)
        return
    if cdrom_bus(facts, ctx.policy) == 'ide':
        count = ('the root disk and the config drive (a cdrom on ide here) '
                 'leave 2')
    else:
        count = 'the root disk leaves 3'
    yield ('%s allows 4 devices including the config drive: %s for '
           'ephemeral, swap and volumes, a fifth fails with '
           'TooManyDiskDevices; and IDE %s'
           % (described('hw_disk_bus', facts), count, hotplug))


@rule('GV005', ERROR, 'SCSI bus without hw_scsi_model',
      NOVA + 'nova/virt/libvirt/driver.py _get_scsi_controller (l.6318); '
      'libvirt src/qemu/qemu_domain.c qemuDomainDefaultSCSIControllerModel '
      '(ibmvscsi on pseries, else lsilogic where QEMU has it)')
def _scsi_without_model(facts, ctx):
    if uses_scsi_controller(facts) and not facts.props.get('hw_scsi_model'):
        yield ('a scsi bus without hw_scsi_model leaves the controller to '
               'libvirt: lsilogic where QEMU has it (Debian/Ubuntu builds), '
               'virtio-scsi elsewhere; guests with only virtio drivers find '
               'no disk on LSI. Set hw_scsi_model=%s'
               % ctx.policy.default_scsi_model)


@rule('GV006', WARNING, 'hw_scsi_model set but no device on the scsi bus',
      NOVA + 'nova/virt/libvirt/driver.py _get_scsi_controller (l.6318)')
def _model_without_scsi(facts, ctx):
    model_ = facts.props.get('hw_scsi_model')
    if model_ and not uses_scsi_controller(facts):
        yield ('%s has no effect while hw_disk_bus=%s: an unused '
               'controller' % (described('hw_scsi_model', facts),
                               facts.props.get('hw_disk_bus') or 'virtio'))


@rule('GV007', WARNING, 'SCSI model libvirt or QEMU may not provide',
      'libvirt src/qemu/qemu_validate.c (SCSI controller models); ' +
      FIELDS)
def _scsi_model_support(facts, ctx):
    value = canonical('hw_scsi_model', facts.props.get('hw_scsi_model'))
    if value in SCSI_MODELS and value not in (
            'virtio-scsi', 'ibmvscsi') and value not in REFUSED_SCSI_MODELS:
        yield ('%s: RHEL-family qemu-kvm has no LSI models and vmpvscsi '
               'needs QEMU pvscsi; the guest needs a driver for the emulated '
               'controller. Use virtio-scsi'
               % described('hw_scsi_model', facts))


def _driver_state(facts, bus):
    """(driver the boot disk needs on bus, its Readiness) or (None, None)."""
    driver = BUS_DRIVER.get(bus)
    if driver is None or is_iso(facts) and bus == 'virtio':
        return None, None  # a cdrom on virtio is GV030's
    scsi = canonical('hw_scsi_model', facts.props.get('hw_scsi_model'))
    if bus == 'scsi' and scsi and scsi != 'virtio-scsi':
        return '%s controller' % scsi, model.Readiness(
            UNKNOWN, 'hw_scsi_model=%s is an emulated controller whose '
            'guest driver is not judged' % scsi)
    return driver, facts.readiness.get(driver)


def _bus_words(facts, policy):
    key, bus = boot_key(facts), disk_bus(facts, policy)
    if facts.props.get(key):
        return described(key, facts)
    if key == 'hw_cdrom_bus':
        return 'hw_cdrom_bus=%s (unset: the cdrom default)' % bus
    return '%s=%s' % (key, bus)


def _missing(facts, ctx, family):
    """(driver, verdict) when a guest of family lacks its boot bus driver."""
    if facts.os.family != family:
        return None
    driver, verdict = _driver_state(facts, disk_bus(facts, ctx.policy))
    if verdict is not None and verdict.state == NOT_READY:
        return driver, verdict
    return None


@rule('GV010', ERROR, 'Windows boot bus driver missing', BSOD)
def _windows_missing(facts, ctx):
    missing = _missing(facts, ctx, 'windows')
    if missing:
        yield ('Windows on %s without a boot-start %s driver '
               'blue-screens with INACCESSIBLE_BOOT_DEVICE (%s)'
               % (_bus_words(facts, ctx.policy), missing[0],
                  missing[1].reason))


@rule('GV011', ERROR, 'Windows boot bus driver unproven', BSOD)
def _windows_unproven(facts, ctx):
    if facts.os.family != 'windows':
        return
    bus = disk_bus(facts, ctx.policy)
    if bus not in PARAVIRTUAL_BUSES:
        return
    driver, verdict = _driver_state(facts, bus)
    if verdict is not None and verdict.state == UNKNOWN:
        how = ('' if facts.props.get(boot_key(facts))
               else ' (hw_disk_bus unset: Nova defaults to virtio)')
        yield ('Windows on %s=%s%s needs a boot-start %s driver; %s'
               % (boot_key(facts), bus, how, driver, verdict.reason))


@rule('GV012', ERROR, 'Linux guest lacks the boot bus driver', LINUX_DRIVERS)
def _linux_missing(facts, ctx):
    missing = _missing(facts, ctx, 'linux')
    if missing:
        yield ('%s needs %s at boot: %s; the guest drops to a rescue shell'
               % (_bus_words(facts, ctx.policy), missing[0],
                  missing[1].reason))


@rule('GV013', WARNING, 'Linux guest boot bus driver unknown', LINUX_DRIVERS)
def _linux_unknown(facts, ctx):
    if facts.os.family != 'linux' or not facts.props.get(boot_key(facts)):
        return
    bus = disk_bus(facts, ctx.policy)
    driver, verdict = _driver_state(facts, bus)
    if bus != 'ide' and verdict is not None and verdict.state == UNKNOWN:
        yield ('%s needs %s in the initramfs: %s. Set os_distro/os_version '
               'or inspect the image'
               % (_bus_words(facts, ctx.policy), driver, verdict.reason))


@rule('GV014', WARNING, 'Windows on virtio-net without netkvm proven',
      NOVA + 'nova/virt/libvirt/vif.py LibvirtGenericVIFDriver.get_vif_model '
      '(l.164: virtio when unset); virtio-win netkvm')
def _windows_net(facts, ctx):
    if facts.os.family != 'windows':
        return
    value = canonical('hw_vif_model', facts.props.get('hw_vif_model'))
    verdict = facts.readiness.get('virtio_net')
    if (value or 'virtio') != 'virtio' or verdict is None or \
            verdict.state == READY:
        return
    what = ('hw_vif_model=virtio' if value
            else 'hw_vif_model unset: Nova defaults to virtio, which')
    advice = ('Install netkvm (virtio-win), or set hw_vif_model=e1000'
              if arch_or_assumed(facts) in X86 else
              'Install netkvm (virtio-win)')
    yield ('%s needs netkvm: the guest boots without network (%s). %s'
           % (what, verdict.reason, advice))


@rule('GV015', WARNING, 'Guest OS unknown', PROPS_DOC)
def _os_unknown(facts, ctx):
    if facts.os.family == UNKNOWN:
        yield ('no os_type, os_distro or recognisable name: set os_type and '
               'os_distro so driver readiness can be judged')


@rule('GV016', WARNING, 'os_type and os_distro disagree', PROPS_DOC)
def _os_conflict(facts, ctx):
    os_type = facts.props.get('os_type')
    distro_family = detect.family_of(facts.props.get('os_distro'))
    if os_type in ('linux', 'windows') and distro_family in (
            'linux', 'windows') and os_type != distro_family:
        yield ('os_type=%s but %s' % (os_type, described('os_distro', facts)))


@rule('GV020', WARNING, 'Misspelt property name',
      NOVA + 'nova/objects/image_meta.py ImageMetaProps.fields')
def _typo(facts, ctx):
    for key in facts.image.properties:
        message = typo_message(key)
        if message:
            yield message


@rule('GV021', WARNING, 'Windows image without os_type=windows',
      NOVA + 'nova/virt/libvirt/driver.py _set_clock (l.6821: localtime '
      'and hypervclock), _set_features (l.6875: Hyper-V enlightenments), '
      'only for os_type=windows')
def _windows_os_type(facts, ctx):
    if facts.os.family == 'windows' and facts.props.get(
            'os_type') != 'windows':
        yield ('guest looks like Windows (from %s) but os_type is not '
               'windows: it loses the localtime clock and Hyper-V '
               'enlightenments. Set os_type=windows' % facts.os.source)


@rule('GV022', ERROR, 'Secure boot without UEFI (and q35 on x86_64)',
      NOVA + 'nova/virt/libvirt/driver.py _check_secure_boot_support '
      '(l.7221), _configure_guest_by_virt_type (l.7343: aarch64 defaults '
      'to uefi)')
def _secure_boot(facts, ctx):
    if facts.props.get('os_secure_boot') != 'required':
        return
    if firmware(facts) != 'uefi':
        yield ('os_secure_boot=required needs hw_firmware_type=uefi: with '
               'BIOS firmware Nova silently boots without secure boot')
    if arch_or_assumed(facts) == 'x86_64' and not is_q35(
            facts, ctx.policy) and not assumed_pc(facts, ctx.policy):
        yield ('os_secure_boot=required on x86_64 needs a q35 machine type '
               '(now %s): the build fails with SecureBootNotSupported'
               % _machine_words(facts, ctx.policy))


@rule('GV023', WARNING, 'Snapshot bus differs from its base image',
      NOVA + 'nova/compute/api.py API.snapshot (l.3447) and nova/utils.py '
      'get_image_from_system_metadata (l.564): a snapshot carries the '
      'properties recorded at boot')
def _snapshot_drift(facts, ctx):
    if not facts.image.is_snapshot:
        return
    base = ctx.catalogue.get(facts.image.base_image_id)
    if base is None:
        return
    for key in ('hw_disk_bus', 'hw_scsi_model'):
        mine, theirs = facts.props.get(key), base.properties.get(key)
        if mine != theirs:
            yield ('snapshot carries %s=%s but its base image %s now has %s: '
                   'changing a base image does not fix its snapshots'
                   % (key, mine, base.id, theirs))


@rule('GV024', WARNING, 'Linux disks renamed from /dev/vd* to /dev/sd*',
      DEV_NAMES)
def _renamed_disks(facts, ctx):
    if facts.os.family != 'linux' or ctx.before is None:
        return
    before = disk_bus(ctx.before, ctx.policy)
    after = disk_bus(facts, ctx.policy)
    if before != 'virtio' or after == 'virtio':
        return
    if not (facts.inspection or {}).get('linux'):
        yield ('moving from virtio to %s renames /dev/vd* to /dev/sd*: make '
               'sure fstab and the boot loader use UUID= or LABEL= (inspect '
               'the image to check)' % after)


@rule('GV025', INFO, 'Emulated bus on a guest ready for a paravirtual one',
      BUS_FOR_DEVICE + ': virtio is the kvm default disk bus')
def _slow_bus(facts, ctx):
    bus = facts.props.get('hw_disk_bus')
    if bus not in ('ide', 'sata'):
        return
    for better in ('scsi', 'virtio'):
        verdict = facts.readiness.get(BUS_DRIVER[better])
        if verdict is not None and verdict.state == READY:
            yield ('hw_disk_bus=%s is emulated; the guest is ready for %s'
                   % (bus, better))
            return


@rule('GV026', ERROR, 'Linux fstab names disks the target bus does not have',
      DEV_NAMES)
def _names_break(facts, ctx):
    linux = (facts.inspection or {}).get('linux') or {}
    bus = disk_bus(facts, ctx.policy)
    if linux.get('uses_vd_names') and bus != 'virtio':
        yield ('/etc/fstab or the boot loader name /dev/vd* but on %s the '
               'disks are /dev/sd*' % bus)
    elif linux.get('uses_sd_names') and bus == 'virtio':
        yield ('/etc/fstab or the boot loader name /dev/sd* but on virtio the '
               'disks are /dev/vd*')


@rule('GV027', ERROR, 'Boot bus changed to one whose driver is unproven',
      BSOD + '; ' + LINUX_DRIVERS)
def _unproven_change(facts, ctx):
    if ctx.before is None:
        return
    bus = disk_bus(facts, ctx.policy)
    driver, verdict = _driver_state(facts, bus)
    if verdict is None or verdict.state != UNKNOWN:
        return
    before = disk_bus(ctx.before, ctx.policy)
    if _driver_state(ctx.before, before)[0] == driver:
        return
    if facts.os.family == 'windows' and bus in PARAVIRTUAL_BUSES:
        return  # GV011 says it
    yield ('moving the boot disk from %s to %s needs %s at boot, which is '
           'not proven: %s. Inspect the image (--deep), or accept the risk '
           'with --allow GV027' % (before, bus, driver, verdict.reason))


@rule('GV030', ERROR, 'Bus that cannot carry the device',
      BUS_FOR_DEVICE + ', get_rescue_bus (l.763); libvirt '
      'src/qemu/qemu_hotplug.c: "cdrom device with virtio bus isn\'t '
      'supported"; libvirt formatdomain: bus fdc is for floppies')
def _wrong_device_bus(facts, ctx):
    if facts.props.get('hw_disk_bus') == 'fdc':
        yield ('hw_disk_bus=fdc is the floppy controller: a disk (and every '
               'volume) on it fails. Use virtio, scsi or sata')
    cdrom = facts.props.get('hw_cdrom_bus')
    if cdrom in ('virtio', 'fdc'):
        why = ('virtio-blk has no removable media: libvirt refuses "cdrom '
               'device with virtio bus isn\'t supported"' if cdrom == 'virtio'
               else 'fdc carries floppies only')
        yield ('hw_cdrom_bus=%s: %s; the config drive (a cdrom) and any '
               'cdrom fail. Use sata or scsi' % (cdrom, why))
    rescue = facts.props.get('hw_rescue_bus')
    device = facts.props.get('hw_rescue_device') or 'disk'
    if rescue == 'fdc' and device != 'floppy' or \
            rescue == 'virtio' and device == 'cdrom':
        yield ('hw_rescue_bus=%s cannot carry the rescue %s '
               '(hw_rescue_device=%s): the rescue fails. Use sata or scsi'
               % (rescue, device, device))


@rule('GV031', WARNING, 'Depends on a machine type the site policy does not '
      'state', MACHINE + '; ' + NOVA + 'nova/conf/libvirt.py '
      '[libvirt]hw_machine_type (l.764)')
def _machine_assumed(facts, ctx):
    if not assumed_pc(facts, ctx.policy):
        return
    needs = [(described(k, facts), 'pc (i440fx): q35 has no IDE')
             for k in _ide_devices(facts)]
    if facts.props.get('hw_viommu_model'):
        needs.append(('hw_viommu_model=%s' % facts.props['hw_viommu_model'],
                      'q35'))
    if str(facts.props.get('hw_mem_encryption', '')).lower() in TRUE:
        needs.append(('hw_mem_encryption (SEV)', 'q35'))
    if facts.props.get('os_secure_boot') == 'required' and \
            arch_or_assumed(facts) == 'x86_64':
        needs.append(('os_secure_boot=required', 'q35'))
    arch = '' if architecture(facts) else (
        ' (and no hw_architecture: an x86_64 compute is assumed)')
    for what, needed in needs:
        yield ('%s needs machine type %s, but neither the image '
               '(hw_machine_type) nor the site policy ([policy] '
               'hw_machine_type) says what the computes use: Nova defaults '
               'to pc unless nova.conf [libvirt]hw_machine_type says '
               'otherwise%s. Set hw_machine_type on the image, or state the '
               "computes' setting in the site policy" % (what, needed, arch))


@rule('GV032', WARNING, 'Unknown machine type',
      NOVA + 'nova/virt/libvirt/host.py Host._check_machine_type (l.1300: '
      'InvalidMachineType)')
def _unknown_machine(facts, ctx):
    value = facts.props.get('hw_machine_type')
    if value and machine_family(value) is None:
        yield ('hw_machine_type=%s matches no machine type QEMU offers (%s): '
               'Nova fails the build with InvalidMachineType on a host that '
               'does not offer it' % (value, MACHINE_EXAMPLES))


@rule('GV033', ERROR, 'vIOMMU needs q35 (x86) or virt (aarch64)',
      NOVA + 'nova/virt/libvirt/driver.py _get_iommu_model (l.8238)')
def _viommu(facts, ctx):
    value = facts.props.get('hw_viommu_model')
    if not value:
        return
    arch = arch_or_assumed(facts)
    mtype = machine_type(facts, ctx.policy) or ''
    if arch in X86:
        if 'q35' not in mtype and not assumed_pc(facts, ctx.policy):
            yield ('hw_viommu_model=%s needs a q35 machine type (now %s): '
                   'the build fails with InvalidVIOMMUMachineType'
                   % (value, _machine_words(facts, ctx.policy)))
    elif arch == 'aarch64':
        if 'virt' not in mtype:
            yield ('hw_viommu_model=%s needs the virt machine type (now %s): '
                   'the build fails with InvalidVIOMMUMachineType'
                   % (value, _machine_words(facts, ctx.policy)))
    else:
        yield ('hw_viommu_model=%s: Nova offers a vIOMMU only on x86 and '
               'aarch64; on %s the build fails with '
               'InvalidVIOMMUArchitecture' % (value, arch))


@rule('GV034', ERROR, 'SEV memory encryption requirements not met',
      NOVA + 'nova/virt/hardware.py MemEncryptionConfig.check_constraints '
      '(l.157), _check_firmware_type (l.83), _check_machine_type (l.97); '
      'Nova docs admin/sev.rst (Limitations: boot disk)')
def _sev(facts, ctx):
    if str(facts.props.get('hw_mem_encryption', '')).lower() not in TRUE:
        return
    if facts.props.get('hw_firmware_type') != 'uefi':
        yield ('hw_mem_encryption needs hw_firmware_type=uefi: the build '
               'fails with FlavorImageConflict')
    if not is_q35(facts, ctx.policy) and not assumed_pc(facts, ctx.policy):
        yield ('hw_mem_encryption needs a q35 machine type (now %s): the '
               'build fails with InvalidMachineType'
               % _machine_words(facts, ctx.policy))
    bus = disk_bus(facts, ctx.policy)
    scsi = canonical('hw_scsi_model', facts.props.get('hw_scsi_model'))
    if not (bus in ('virtio', 'sata') or
            bus == 'scsi' and scsi == 'virtio-scsi'):
        yield ('hw_mem_encryption: the boot disk must be on virtio, '
               'scsi with hw_scsi_model=virtio-scsi, or sata (now %s)'
               % _bus_words(facts, ctx.policy))


@rule('GV035', ERROR, 'UEFI boot from an LSI SCSI controller',
      'edk2 OvmfPkg/OvmfPkgX64.dsc: LSI_SCSI_ENABLE is FALSE by default (no '
      'LSI 53C895A driver in OVMF); ' + NOVA + 'nova/virt/libvirt/driver.py '
      '_get_scsi_controller (l.6318); libvirt qemu_domain.c '
      'qemuDomainDefaultSCSIControllerModel')
def _uefi_lsi(facts, ctx):
    if firmware(facts) != 'uefi' or disk_bus(facts, ctx.policy) != 'scsi':
        return
    scsi = canonical('hw_scsi_model', facts.props.get('hw_scsi_model'))
    if scsi in (None, 'lsilogic'):
        what = (described('hw_scsi_model', facts) if scsi else
                'no hw_scsi_model (libvirt then adds an LSI controller '
                'where QEMU has one)')
        yield ('UEFI boot from the scsi bus with %s: OVMF as distributions '
               'build it has no LSI driver, so the firmware finds no boot '
               'disk. Set hw_scsi_model=virtio-scsi' % what)


@rule('GV036', INFO, 'q35 and virtio-blk: volume hot-plug needs free PCIe '
      'ports', NOVA + 'nova/conf/libvirt.py [libvirt]num_pcie_ports (l.843: '
      '"By default we have just 1-2 free ports"); driver.py '
      '_guest_add_pcie_root_ports (l.7676)')
def _pcie_ports(facts, ctx):
    volumes = facts.props.get('hw_disk_bus') or 'virtio'
    if volumes != 'virtio' or not is_q35(facts, ctx.policy):
        return
    yield ('on %s every virtio-blk volume takes a PCIe root port and '
           'libvirt leaves 1-2 free: hot-plugging more volumes (or NICs) '
           'fails unless nova.conf [libvirt]num_pcie_ports is raised'
           % _machine_words(facts, ctx.policy))


def _distance(a, b):
    """Levenshtein distance, counting a transposition as one edit."""
    previous, current = None, list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        previous, before, current = current, previous, [i]
        for j, cb in enumerate(b, 1):
            cost = min(previous[j] + 1, current[j - 1] + 1,
                       previous[j - 1] + (ca != cb))
            if (i > 1 and j > 1 and ca == b[j - 2] and a[i - 2] == cb):
                cost = min(cost, before[j - 2] + 1)
            current.append(cost)
    return current[-1]


# The most edits a misspelling may have (of a known name of 8 or more).
_MAX_EDITS = 2


@functools.lru_cache(maxsize=65536)
def misspelling_of(key):
    """The known key this unknown key most likely misspells, or None.

    Judged once per key (memoised). Names whose length differs by more
    than _MAX_EDITS are at least that many edits away, so never the answer:
    the distance is computed only for the others.
    """
    plain = key.replace('-', '_').replace(':', '_').lower()
    best, edits = None, None
    for known in TYPO_TARGETS:
        if abs(len(known) - len(plain)) > _MAX_EDITS:
            continue
        distance = _distance(plain, known)
        if edits is None or distance < edits:
            best, edits = known, distance
    if best is not None and edits <= (1 if len(best) < 8 else _MAX_EDITS):
        return best
    for known in TYPO_TARGETS:
        if plain.startswith(known + '_') or plain.endswith('_' + known):
            return known
    return None


@functools.lru_cache(maxsize=65536)
def typo_message(key):
    """GV020's message for one property name, or None."""
    if key in KNOWN_KEYS or key.startswith(('os_glance', 'img_')):
        return None
    close = misspelling_of(key)
    if close:
        return ('%s is not a property Nova knows and is ignored; did you '
                'mean %s?' % (key, close))
    return None


# Rules run for every image: they read what verdict_key leaves out (each
# property name, memoised per name; a snapshot's base image) and cost a
# lookup or two.
PER_IMAGE_RULES = ('GV020', 'GV023')
# Known keys whose values are per image and which no rule reads: Nova's
# snapshot bookkeeping and free text. tests/unit/test_rule_work.py checks
# that no rule reads them.
PER_IMAGE_KEYS = frozenset((
    'instance_uuid', 'user_id', 'image_location', 'image_state',
    'root_device_name', 'block_device_mapping', 'bdm_v2', 'boot_roles',
    'description', 'owner_project_name', 'owner_user_name', 'kernel_id',
    'ramdisk_id', 'base_image_ref'))
_READ_KEYS = KNOWN_KEYS - PER_IMAGE_KEYS
_MEMOS = []
_MEMO_MAX = 100000
_POLICY_KEYS = {}


def memo():
    """A dict for results by verdict_key; clear_memo empties it."""
    kept = {}
    _MEMOS.append(kept)
    return kept


def remember(kept, key, value):
    """kept[key] = value, emptying kept first when it is full."""
    if len(kept) >= _MEMO_MAX:
        kept.clear()
    kept[key] = value
    return value


_VERDICTS = memo()


def _facts_key(facts):
    if facts.inspection is not None or facts.image.error:
        return None
    props = facts.image.properties
    try:
        key = (frozenset((k, props[k]) for k in props.keys() & _READ_KEYS),
               facts.image.disk_format, facts.os,
               frozenset(facts.readiness.items()))
        hash(key)
    except TypeError:  # a value that is not a string
        return None
    return key


def _policy_key(policy):
    held = _POLICY_KEYS.get(id(policy))
    if held is None or held[0] is not policy:
        key = (tuple(sorted(policy.machine_types.items())),
               policy.default_scsi_model, policy.preferred_bus,
               tuple(sorted(policy.severity_overrides.items())),
               tuple(policy.disabled_rules), tuple(policy.allowed_rules))
        if len(_POLICY_KEYS) > 64:
            _POLICY_KEYS.clear()
        held = _POLICY_KEYS[id(policy)] = (policy, key)
    return held[1]


def verdict_key(facts, ctx):
    """A key equal for facts whose findings cannot differ (bar one rule's).

    Only PER_IMAGE_RULES may differ. It holds every property the other
    rules read (known keys, less PER_IMAGE_KEYS), the guest OS, driver
    readiness, disk format, the state before a change and the policy; None
    when facts carry an inspection or a value that is not hashable (never
    memoised).
    """
    mine = _facts_key(facts)
    if mine is None:
        return None
    before = None
    if ctx.before is not None:
        before = _facts_key(ctx.before)
        if before is None:
            return None
    return mine, before, _policy_key(ctx.policy)


def base_of(facts, ctx):
    """What GV023 compares a snapshot with: (id, bus, model) or None."""
    if not facts.image.is_snapshot:
        return None
    found = ctx.catalogue.get(facts.image.base_image_id)
    if found is None:
        return None
    return (found.id, found.properties.get('hw_disk_bus'),
            found.properties.get('hw_scsi_model'))


def clear_memo():
    """Forget memoised verdicts and typo judgements."""
    for kept in _MEMOS:
        kept.clear()
    _POLICY_KEYS.clear()
    misspelling_of.cache_clear()
    typo_message.cache_clear()


def by_id():
    return {r.id: r for r in RULES}


def severity_for(rule_, policy):
    return policy.severity_overrides.get(rule_.id, rule_.severity)


def _judge(facts, ctx):
    """(rule position, Finding) of every rule but PER_IMAGE_RULES."""
    found = []
    for position, rule_ in enumerate(RULES):
        if rule_.id in ctx.policy.disabled_rules or \
                rule_.id in PER_IMAGE_RULES:
            continue
        severity = severity_for(rule_, ctx.policy)
        for message in rule_.check(facts, ctx):
            found.append((position, model.Finding(rule_.id, severity,
                                                  message)))
    return tuple(found)


def evaluate(facts, ctx=Context()):
    """All findings for one image's facts, most severe first.

    Facts with the same verdict_key share one evaluation of the rules;
    PER_IMAGE_RULES run for each.
    """
    if facts.image.error:
        return [model.Finding('GV000', ERROR, facts.image.error)]
    key = verdict_key(facts, ctx)
    found = _VERDICTS.get(key) if key is not None else None
    if found is None:
        found = _judge(facts, ctx)
        if key is not None:
            remember(_VERDICTS, key, found)
    found = list(found)
    for position, rule_ in enumerate(RULES):
        if rule_.id in PER_IMAGE_RULES and \
                rule_.id not in ctx.policy.disabled_rules:
            severity = severity_for(rule_, ctx.policy)
            found += [(position, model.Finding(rule_.id, severity, message))
                      for message in rule_.check(facts, ctx)]
    found.sort(key=lambda p: (-model.severity_rank(p[1].severity), p[0]))
    return [finding for _, finding in found]
