"""The knowledge base: every known-bad or risky combination is a rule."""

import dataclasses
from typing import Callable, Mapping, Optional

from glance_virtio import detect
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
    'vm_mode', 'vmware_adaptertype', 'vmware_ostype', 'hw_cpu_model'))
REFUSED_SCSI_MODELS = {
    'buslogic': 'libvirt refuses the BusLogic controller for QEMU',
    'ibmvscsi': 'ibmvscsi is the POWER (spapr) controller, not x86',
}
PARAVIRTUAL_BUSES = ('virtio', 'scsi')
BUS_DRIVER = {'virtio': 'virtio_blk', 'scsi': 'virtio_scsi', 'sata': 'sata',
              'ide': 'ide'}
NOVA = 'nova/objects/fields.py'
BLOCKINFO = 'nova/virt/libvirt/blockinfo.py'


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


def machine_type(facts, policy):
    return facts.props.get('hw_machine_type') or policy.default_machine_type


def is_q35(facts, policy):
    return 'q35' in machine_type(facts, policy)


def disk_bus(facts):
    """The boot disk bus Nova's libvirt driver uses for kvm/qemu."""
    return facts.props.get('hw_disk_bus') or 'virtio'


def uses_scsi_controller(facts):
    return 'scsi' in (facts.props.get(k) for k in
                      ('hw_disk_bus', 'hw_cdrom_bus', 'hw_rescue_bus'))


RULES.append(Rule('GV000', ERROR, 'Image could not be read', 'Glance API v2',
                  lambda facts, ctx: ()))


@rule('GV001', ERROR, 'Property value outside the Nova enum', NOVA)
def _invalid_enum(facts, ctx):
    for key, allowed in ENUMS.items():
        value = facts.props.get(key)
        if value is not None and canonical(key, value) not in allowed:
            yield ('%s=%s is not valid; Nova rejects the boot with "Invalid '
                   'image metadata". Use one of: %s'
                   % (key, value, ', '.join(allowed)))


@rule('GV002', ERROR, 'Bus or NIC model the libvirt kvm driver refuses',
      BLOCKINFO)
def _bus_not_kvm(facts, ctx):
    for key in ('hw_disk_bus', 'hw_cdrom_bus', 'hw_rescue_bus'):
        value = facts.props.get(key)
        if value in DISK_BUSES and value not in KVM_BUSES:
            when = ('a rescue fails with UnsupportedRescueBus'
                    if key == 'hw_rescue_bus'
                    else 'the build fails with UnsupportedHardware')
            yield ('%s=%s is not supported for kvm/qemu: %s. Use virtio, scsi '
                   'or sata' % (key, value, when))
    scsi = canonical('hw_scsi_model', facts.props.get('hw_scsi_model'))
    if scsi in REFUSED_SCSI_MODELS:
        yield ('hw_scsi_model=%s: %s, so the build fails. Use virtio-scsi'
               % (scsi, REFUSED_SCSI_MODELS[scsi]))
    vif = canonical('hw_vif_model', facts.props.get('hw_vif_model'))
    if vif in VIF_MODELS and vif not in KVM_VIF_MODELS:
        yield ('hw_vif_model=%s is not supported for kvm: the build fails '
               'with UnsupportedHardware. Use virtio or e1000' % vif)


@rule('GV003', ERROR, 'IDE bus on a q35 machine type',
      'libvirt src/qemu/qemu_validate.c')
def _ide_q35(facts, ctx):
    if not is_q35(facts, ctx.policy):
        return
    for key in ('hw_disk_bus', 'hw_cdrom_bus', 'hw_rescue_bus'):
        if facts.props.get(key) == 'ide':
            yield ('%s=ide with machine type %s: libvirt refuses "IDE '
                   'controllers are unsupported". Use sata'
                   % (key, machine_type(facts, ctx.policy)))


@rule('GV004', WARNING, 'IDE allows at most 4 devices', BLOCKINFO)
def _ide_limit(facts, ctx):
    if facts.props.get('hw_disk_bus') == 'ide':
        yield ('hw_disk_bus=ide allows 4 devices including the config-drive '
               'CD-ROM: a fifth volume fails with TooManyDiskDevices')


@rule('GV005', ERROR, 'SCSI bus without hw_scsi_model', BLOCKINFO)
def _scsi_without_model(facts, ctx):
    if uses_scsi_controller(facts) and not facts.props.get('hw_scsi_model'):
        yield ('a scsi bus without hw_scsi_model leaves the controller to '
               'libvirt: lsilogic where QEMU has it (Debian/Ubuntu builds), '
               'virtio-scsi elsewhere; guests with only virtio drivers find '
               'no disk on LSI. Set hw_scsi_model=%s'
               % ctx.policy.default_scsi_model)


@rule('GV006', WARNING, 'hw_scsi_model set but no device on the scsi bus',
      BLOCKINFO)
def _model_without_scsi(facts, ctx):
    model_ = facts.props.get('hw_scsi_model')
    if model_ and not uses_scsi_controller(facts):
        yield ('hw_scsi_model=%s has no effect while hw_disk_bus=%s: an '
               'unused controller' % (model_, disk_bus(facts)))


@rule('GV007', WARNING, 'SCSI model libvirt or QEMU may not provide',
      'libvirt src/qemu/qemu_validate.c')
def _scsi_model_support(facts, ctx):
    value = canonical('hw_scsi_model', facts.props.get('hw_scsi_model'))
    if value in SCSI_MODELS and value != 'virtio-scsi' and \
            value not in REFUSED_SCSI_MODELS:
        yield ('hw_scsi_model=%s: RHEL-family qemu-kvm has no LSI models '
               'and vmpvscsi needs QEMU pvscsi; the guest needs a driver for '
               'the emulated controller. Use virtio-scsi' % value)


def _driver_state(facts, bus):
    """(driver the boot disk needs on bus, its Readiness) or (None, None)."""
    driver = BUS_DRIVER.get(bus)
    if driver is None:
        return None, None
    scsi = canonical('hw_scsi_model', facts.props.get('hw_scsi_model'))
    if bus == 'scsi' and scsi and scsi != 'virtio-scsi':
        return '%s controller' % scsi, model.Readiness(
            UNKNOWN, 'hw_scsi_model=%s is an emulated controller whose '
            'guest driver is not judged' % scsi)
    return driver, facts.readiness.get(driver)


@rule('GV010', ERROR, 'Windows boot bus driver missing',
      'virtio-win; KNOWLEDGE.md rule 7')
def _windows_missing(facts, ctx):
    if facts.os.family != 'windows':
        return
    bus = disk_bus(facts)
    driver, verdict = _driver_state(facts, bus)
    if verdict is not None and verdict.state == NOT_READY:
        yield ('Windows on hw_disk_bus=%s without a boot-start %s driver '
               'blue-screens with INACCESSIBLE_BOOT_DEVICE (%s)'
               % (bus, driver, verdict.reason))


@rule('GV011', ERROR, 'Windows boot bus driver unproven',
      'virtio-win; KNOWLEDGE.md rule 7')
def _windows_unproven(facts, ctx):
    if facts.os.family != 'windows':
        return
    bus = disk_bus(facts)
    if bus not in PARAVIRTUAL_BUSES:
        return
    driver, verdict = _driver_state(facts, bus)
    if verdict is not None and verdict.state == UNKNOWN:
        how = ('' if facts.props.get('hw_disk_bus')
               else ' (hw_disk_bus unset: Nova defaults to virtio)')
        yield ('Windows on hw_disk_bus=%s%s needs a boot-start %s driver; %s'
               % (bus, how, driver, verdict.reason))


@rule('GV012', ERROR, 'Linux guest lacks the boot bus driver',
      'virt-v2v linux_kernels.ml; KNOWLEDGE.md rule 9')
def _linux_missing(facts, ctx):
    if facts.os.family != 'linux':
        return
    bus = disk_bus(facts)
    driver, verdict = _driver_state(facts, bus)
    if verdict is not None and verdict.state == NOT_READY:
        yield ('hw_disk_bus=%s needs %s at boot: %s; the guest drops to a '
               'rescue shell' % (bus, driver, verdict.reason))


@rule('GV013', WARNING, 'Linux guest boot bus driver unknown',
      'KNOWLEDGE.md rule 9')
def _linux_unknown(facts, ctx):
    if facts.os.family != 'linux' or not facts.props.get('hw_disk_bus'):
        return
    bus = disk_bus(facts)
    driver, verdict = _driver_state(facts, bus)
    if bus != 'ide' and verdict is not None and verdict.state == UNKNOWN:
        yield ('hw_disk_bus=%s needs %s in the initramfs: %s. Set '
               'os_distro/os_version or inspect the image'
               % (bus, driver, verdict.reason))


@rule('GV014', WARNING, 'Windows on virtio-net without netkvm proven',
      'virtio-win; nova/virt/libvirt/vif.py')
def _windows_net(facts, ctx):
    if facts.os.family != 'windows':
        return
    vif = facts.props.get('hw_vif_model') or 'virtio'
    verdict = facts.readiness.get('virtio_net')
    if vif == 'virtio' and verdict is not None and verdict.state != READY:
        yield ('hw_vif_model=%s needs netkvm: the guest boots without '
               'network (%s). Use e1000 or install netkvm'
               % (vif, verdict.reason))


@rule('GV015', WARNING, 'Guest OS unknown', 'glance useful-image-properties')
def _os_unknown(facts, ctx):
    if facts.os.family == UNKNOWN:
        yield ('no os_type, os_distro or recognisable name: set os_type and '
               'os_distro so driver readiness can be judged')


@rule('GV016', WARNING, 'os_type and os_distro disagree',
      'glance useful-image-properties')
def _os_conflict(facts, ctx):
    os_type = facts.props.get('os_type')
    distro_family = detect.family_of(facts.props.get('os_distro'))
    if os_type in ('linux', 'windows') and distro_family in (
            'linux', 'windows') and os_type != distro_family:
        yield ('os_type=%s but os_distro=%s' % (
            os_type, facts.props.get('os_distro')))


@rule('GV020', WARNING, 'Misspelt property name', 'nova/objects/image_meta.py')
def _typo(facts, ctx):
    for key in facts.props:
        if key in KNOWN_KEYS or key.startswith(('os_glance', 'img_')):
            continue
        close = misspelling_of(key)
        if close:
            yield ('%s is not a property Nova knows and is ignored; did you '
                   'mean %s?' % (key, close))


@rule('GV021', WARNING, 'Windows image without os_type=windows',
      'nova/virt/libvirt/driver.py')
def _windows_os_type(facts, ctx):
    if facts.os.family == 'windows' and facts.props.get(
            'os_type') != 'windows':
        yield ('guest looks like Windows (from %s) but os_type is not '
               'windows: it loses the localtime clock and Hyper-V '
               'enlightenments. Set os_type=windows' % facts.os.source)


@rule('GV022', ERROR, 'Secure boot without UEFI and q35',
      'nova/virt/libvirt/driver.py')
def _secure_boot(facts, ctx):
    if facts.props.get('os_secure_boot') != 'required':
        return
    if facts.props.get('hw_firmware_type') != 'uefi':
        yield ('os_secure_boot=required needs hw_firmware_type=uefi: with '
               'BIOS firmware Nova silently boots without secure boot')
    if not is_q35(facts, ctx.policy):
        yield ('os_secure_boot=required needs a q35 machine type (now %s)'
               % machine_type(facts, ctx.policy))


@rule('GV023', WARNING, 'Snapshot bus differs from its base image',
      'KNOWLEDGE.md rule 14')
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
      'KNOWLEDGE.md rule 10')
def _renamed_disks(facts, ctx):
    if facts.os.family != 'linux' or ctx.before is None:
        return
    if disk_bus(ctx.before) != 'virtio' or disk_bus(facts) == 'virtio':
        return
    if not (facts.inspection or {}).get('linux'):
        yield ('moving from virtio to %s renames /dev/vd* to /dev/sd*: make '
               'sure fstab and the boot loader use UUID= or LABEL= (inspect '
               'the image to check)' % disk_bus(facts))


@rule('GV025', INFO, 'Emulated bus on a guest ready for a paravirtual one',
      'KNOWLEDGE.md')
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
      'KNOWLEDGE.md rule 10')
def _names_break(facts, ctx):
    linux = (facts.inspection or {}).get('linux') or {}
    bus = disk_bus(facts)
    if linux.get('uses_vd_names') and bus != 'virtio':
        yield ('/etc/fstab or the boot loader name /dev/vd* but on %s the '
               'disks are /dev/sd*' % bus)
    elif linux.get('uses_sd_names') and bus == 'virtio':
        yield ('/etc/fstab or the boot loader name /dev/sd* but on virtio the '
               'disks are /dev/vd*')


@rule('GV027', ERROR, 'Boot bus changed to one whose driver is unproven',
      'KNOWLEDGE.md rules 7 and 9')
def _unproven_change(facts, ctx):
    if ctx.before is None:
        return
    bus = disk_bus(facts)
    driver, verdict = _driver_state(facts, bus)
    if verdict is None or verdict.state != UNKNOWN:
        return
    if _driver_state(ctx.before, disk_bus(ctx.before))[0] == driver:
        return
    if facts.os.family == 'windows' and bus in PARAVIRTUAL_BUSES:
        return  # GV011 says it
    yield ('moving the boot disk from %s to %s needs %s at boot, which is '
           'not proven: %s. Inspect the image (--deep), or accept the risk '
           'with --allow GV027' % (disk_bus(ctx.before), bus, driver,
                                   verdict.reason))


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


def misspelling_of(key):
    """The known key this unknown key most likely misspells, or None."""
    plain = key.replace('-', '_').replace(':', '_').lower()
    best = min(TYPO_TARGETS, key=lambda k: _distance(plain, k))
    if _distance(plain, best) <= (1 if len(best) < 8 else 2):
        return best
    for known in TYPO_TARGETS:
        if plain.startswith(known + '_') or plain.endswith('_' + known):
            return known
    return None


def by_id():
    return {r.id: r for r in RULES}


def severity_for(rule_, policy):
    return policy.severity_overrides.get(rule_.id, rule_.severity)


def evaluate(facts, ctx=Context()):
    """All findings for one image's facts, most severe first."""
    if facts.image.error:
        return [model.Finding('GV000', ERROR, facts.image.error)]
    findings = []
    for rule_ in RULES:
        if rule_.id in ctx.policy.disabled_rules:
            continue
        severity = severity_for(rule_, ctx.policy)
        for message in rule_.check(facts, ctx):
            findings.append(model.Finding(rule_.id, severity, message))
    findings.sort(key=lambda f: -model.severity_rank(f.severity))
    return findings
