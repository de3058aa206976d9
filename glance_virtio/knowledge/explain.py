"""What the guest sees under Nova's libvirt driver (kvm), from properties.

Pure: image properties (+ the site's default machine type, + an optional
inspection report) in, devices, controllers, libvirt XML and limits out.
Device naming follows nova/virt/libvirt/blockinfo.py (get_disk_mapping,
get_disk_bus_for_device_type, find_disk_dev_for_disk_bus); the XML follows
nova/virt/libvirt/imagebackend.py Image.libvirt_info and driver.py
_get_scsi_controller. tests/functional/test_nova_oracle.py checks both
against Nova's own code.
"""

import dataclasses
import re
from typing import Optional, Tuple

from glance_virtio.knowledge import detect
from glance_virtio.knowledge import machine as machine_
from glance_virtio.knowledge import rules

BLOCKINFO = 'nova/virt/libvirt/blockinfo.py'
INSTANCE_DIR = '/var/lib/nova/instances/INSTANCE-UUID/'
PREFIX = {'ide': 'hd', 'virtio': 'vd', 'scsi': 'sd', 'usb': 'sd',
          'sata': 'sd', 'fdc': 'fd'}
ENUM_BUSES = rules.DISK_BUSES
KVM_BUSES = rules.KVM_BUSES
IDE_MAX = 4
VIRTIO_SCSI_UNITS = 256
NO_IDE_MACHINES = machine_.NO_IDE
CDROM_SCSI_ARCHES = machine_.CDROM_SCSI_ARCHES
DEFAULT_MACHINE = machine_.NOVA_DEFAULTS
# Names that stay put when the bus changes (/etc/fstab, root=).
STABLE_NAME = re.compile(r'^(UUID|LABEL|PARTUUID|PARTLABEL)=|^/dev/disk/by-'
                         r'(uuid|label|partuuid|partlabel)/|^/dev/mapper/|'
                         r'^/dev/[^/]+/[^/]+$|^ZFS=')
DEVICE_NAME = re.compile(r'^/dev/(vd|sd|hd|xvd)([a-z]+)(\d*)$')


@dataclasses.dataclass(frozen=True)
class Controller:
    """A storage controller as the guest's lspci -nn shows it."""

    name: str
    pci_id: str
    lspci: str
    linux: str
    windows: str

    def to_dict(self):
        return dataclasses.asdict(self)


def _ctl(name, pci_id, lspci_class, vendor, linux, windows):
    line = '%s: %s %s [%s]' % (lspci_class, vendor, name, pci_id)
    return Controller(name, pci_id, line, linux, windows)


_SCSI = 'SCSI storage controller [0100]'
_REDHAT = 'Red Hat, Inc.'
CONTROLLERS = {
    'virtio-blk-transitional': _ctl('Virtio block device', '1af4:1001',
                                    _SCSI, _REDHAT, 'virtio_blk', 'viostor'),
    'virtio-blk-modern': _ctl('Virtio 1.0 block device', '1af4:1042',
                              _SCSI, _REDHAT, 'virtio_blk', 'viostor'),
    'virtio-scsi-transitional': _ctl('Virtio SCSI', '1af4:1004', _SCSI,
                                     _REDHAT, 'virtio_scsi', 'vioscsi'),
    'virtio-scsi-modern': _ctl('Virtio 1.0 SCSI', '1af4:1048', _SCSI,
                               _REDHAT, 'virtio_scsi', 'vioscsi'),
    'piix3-ide': _ctl('82371SB PIIX3 IDE [Natoma/Triton II]', '8086:7010',
                      'IDE interface [0101]', 'Intel Corporation',
                      'ata_piix', 'intelide (with pciide, atapi)'),
    'ich9-ahci': _ctl('82801IR/IO/IH (ICH9R/DO/DH) 6 port SATA Controller '
                      '[AHCI mode]', '8086:2922', 'SATA controller [0106]',
                      'Intel Corporation', 'ahci', 'storahci (msahci)'),
    'lsilogic': _ctl('53c895a', '1000:0012', _SCSI, 'Broadcom / LSI',
                     'sym53c8xx', 'no inbox driver since Windows Vista'),
}


@dataclasses.dataclass(frozen=True)
class Device:
    """One disk or cdrom in Nova's disk mapping."""

    name: str  # disk, disk.local, disk.swap, disk.config (Nova's keys)
    role: str
    dev: str
    bus: str
    type: str  # disk or cdrom
    guest: str  # the name a current Linux guest gives it

    def to_dict(self):
        return dataclasses.asdict(self)


@dataclasses.dataclass(frozen=True)
class State:
    """The devices and hardware one set of properties gives a guest."""

    architecture: str
    machine_type: str
    machine_type_source: str
    disk_bus: str
    cdrom_bus: str
    scsi_model: Optional[str]
    devices: Tuple[Device, ...] = ()
    controllers: Tuple[Controller, ...] = ()
    xml: Tuple[str, ...] = ()
    implicit_xml: Tuple[str, ...] = ()
    limits: Tuple[str, ...] = ()
    traits: Tuple[str, ...] = ()
    errors: Tuple[str, ...] = ()

    @property
    def root(self):
        return next((d for d in self.devices if d.name == 'disk'), None)

    def to_dict(self):
        out = dataclasses.asdict(self)
        out['devices'] = [d.to_dict() for d in self.devices]
        out['controllers'] = [c.to_dict() for c in self.controllers]
        for key in ('xml', 'implicit_xml', 'limits', 'traits', 'errors'):
            out[key] = list(out[key])
        return out


@dataclasses.dataclass(frozen=True)
class Options:
    """The instance around the image: flavor disks and config drive."""

    config_drive: bool = True
    ephemeral: bool = False
    swap: bool = False


def effective(props):
    """Properties as Nova reads them: legacy names mapped, then current.

    detect.effective_properties (ImageMetaProps._set_attr_from_legacy_names
    then the current names), with hw_scsi_model coerced as SCSIModelField
    does: lowercased, VMware names mapped.
    """
    out = detect.effective_properties(
        {k: v for k, v in props.items() if v is not None})
    if out.get('hw_scsi_model'):
        out = dict(out, hw_scsi_model=rules.canonical(
            'hw_scsi_model', out['hw_scsi_model']))
    return out


def architecture(props):
    """hw_architecture, else x86_64 (Nova falls back to the host's)."""
    arch = machine_.architecture(props)
    if not arch:
        return 'x86_64', 'assumed x86_64 compute hosts'
    return arch, 'image'


def machine_type(props, default, arch=None):
    """(machine type, where it came from), as libvirt utils.get_machine_type.

    ``default`` is the site's [libvirt]hw_machine_type: a mapping
    {arch: type}, one type (x86_64), or the nova.conf list
    ``x86_64=q35,aarch64=virt``. ``arch`` is machine.architecture's.
    """
    types = machine_.as_machine_types(default)
    value, source = machine_.machine_type(props, types)
    arch = machine_.arch_or_assumed(props)
    if source == 'image':
        return value, 'image hw_machine_type'
    if source == 'policy':
        return value, 'site policy (%s=%s)' % (arch, value)
    if source == 'nova default':
        return value, "Nova's default for %s" % arch
    return 'unknown', 'no default for %s' % arch


def has_ide(machine):
    return not machine_.has_no_ide(machine)


def cdrom_bus(props, machine, arch=None):
    """hw_cdrom_bus, else Nova's default for kvm (blockinfo)."""
    return machine_.cdrom_bus(props, machine)


def device_letters(index):
    """nova/block_device.py generate_device_letter: a..z, aa..."""
    letters = ''
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(ord('a') + rest) + letters
    return letters


def _next_dev(used, bus):
    prefix = PREFIX[bus]
    index = 0
    while True:
        if bus == 'ide' and index >= IDE_MAX:
            raise ValueError('TooManyDiskDevices: the ide bus holds at most '
                             '%d devices, the config drive included' %
                             IDE_MAX)
        dev = prefix + device_letters(index)
        if dev not in used:
            return dev
        index += 1


def _bus_error(key, bus):
    if bus not in ENUM_BUSES:
        return ('%s=%s is not a bus Nova knows (%s): the boot request is '
                'rejected' % (key, bus, ', '.join(ENUM_BUSES)))
    if bus not in KVM_BUSES:
        return ('%s=%s is not supported for kvm (UnsupportedHardware, %s '
                'SUPPORTED_DEVICE_BUSES)' % (key, bus, BLOCKINFO))
    return None


def _guest_names(devices):
    """Names a current Linux kernel gives: vdX for virtio, sdX otherwise."""
    counters = {'vd': 0, 'sd': 0, 'sr': 0, 'fd': 0}
    out = []
    for dev in devices:
        if dev['type'] == 'cdrom':
            family = 'sr'
            name = '/dev/sr%d' % counters['sr']
        else:
            family = {'virtio': 'vd', 'fdc': 'fd'}.get(dev['bus'], 'sd')
            name = '/dev/%s%s' % (family, device_letters(counters[family])) \
                if family != 'fd' else '/dev/fd%d' % counters['fd']
        counters[family] += 1
        out.append(name)
    return out


ROLES = (('disk', 'root disk'), ('disk.local', 'ephemeral disk'),
         ('disk.swap', 'swap disk'), ('disk.config', 'config drive'))


def disk_mapping(disk_bus, cd_bus, options, iso=False):
    """Nova's mapping for an image-backed server (blockinfo._get_disk_mapping).

    Returns [(name, dev, bus, type)].
    """
    used, out = [], []

    def add(name, bus, kind):
        dev = _next_dev(used, bus)
        used.append(dev)
        out.append({'name': name, 'dev': dev, 'bus': bus, 'type': kind})
    add('disk', cd_bus if iso else disk_bus, 'cdrom' if iso else 'disk')
    if options.ephemeral:
        add('disk.local', disk_bus, 'disk')
    if options.swap:
        add('disk.swap', disk_bus, 'disk')
    if options.config_drive:
        add('disk.config', cd_bus, 'cdrom')
    return out


def disk_xml(device, unit=None, driver_format='qcow2'):
    """The <disk> element Nova writes (imagebackend.Image.libvirt_info)."""
    lines = ['<disk type="file" device="%s">' % device['type'],
             '  <driver name="qemu" type="%s" cache="none"/>'
             % driver_format,
             '  <source file="%s%s"/>' % (INSTANCE_DIR, device['name']),
             '  <target dev="%s" bus="%s"/>' % (device['dev'], device['bus'])]
    if unit is not None:
        lines.append('  <address type="drive" controller="0" unit="%d"/>'
                     % unit)
    lines.append('</disk>')
    return '\n'.join(lines)


def controller_xml(scsi_model):
    """driver.py _get_scsi_controller: only when hw_scsi_model is set."""
    return '<controller type="scsi" index="0" model="%s"/>' % scsi_model


# libvirt qemu_domain_address.c qemuDomainSetSCSIControllerModel: with no
# model, ibmvscsi on pseries, else lsilogic where QEMU has the LSI device
# (RHEL's QEMU does not: then virtio-scsi). Other architectures: unknown.
LIBVIRT_SCSI_DEFAULT = {'x86_64': 'lsilogic', 'i686': 'lsilogic',
                        'ppc64le': 'ibmvscsi', 'ppc64': 'ibmvscsi'}


def is_pcie(machine):
    """q35 and aarch64 virt put devices on PCIe ports: modern virtio ids."""
    return 'q35' in machine or machine == 'virt' or \
        machine.startswith('virt-')


def controller_for(bus, scsi_model, machine, arch='x86_64'):
    """The controller a disk on ``bus`` sits behind, and what libvirt adds."""
    modern = is_pcie(machine)
    if bus == 'virtio':
        key = 'virtio-blk-modern' if modern else 'virtio-blk-transitional'
        implicit = ('<controller type="pci" model="pcie-root-port"/> '
                    '(one per virtio-blk disk)') if modern else None
        return CONTROLLERS[key], implicit
    if bus == 'scsi':
        implicit = None
        if not scsi_model:
            scsi_model = LIBVIRT_SCSI_DEFAULT.get(arch)
            implicit = ('<controller type="scsi" index="0" model="%s"/>'
                        % scsi_model) if scsi_model else \
                '<controller type="scsi" index="0"/> (model: libvirt default)'
        if scsi_model == 'virtio-scsi':
            key = 'virtio-scsi-modern' if modern else \
                'virtio-scsi-transitional'
            return CONTROLLERS[key], implicit
        if scsi_model == 'lsilogic':
            return CONTROLLERS['lsilogic'], implicit
        return None, implicit
    if bus == 'ide':
        return CONTROLLERS['piix3-ide'], '<controller type="ide" index="0"/>'
    if bus == 'sata':
        return CONTROLLERS['ich9-ahci'], '<controller type="sata" index="0"/>'
    return None, None


def limits(disk_bus, scsi_model, machine, devices):
    """(lines, traits): what the bus allows; traits are compared."""
    lines, traits = [], []
    on_bus = sum(1 for d in devices if d['bus'] == disk_bus)
    if disk_bus == 'ide':
        ide = sum(1 for d in devices if d['bus'] == 'ide')
        lines.append('ide holds at most %d devices, the config drive '
                     'included: %d used' % (IDE_MAX, ide))
        traits.append('at most 4 ide devices')
    if disk_bus in ('ide', 'sata', 'fdc'):
        lines.append('%s cannot hot-plug: attaching a volume to a running '
                     'server fails' % disk_bus)
        traits.append('no volume hot-plug')
    else:
        traits.append('volume hot-plug')
    if disk_bus == 'virtio':
        lines.append('virtio-blk takes one PCI slot per disk (%d here)'
                     % on_bus)
        traits.append('one PCI slot per disk')
        if 'q35' in machine:
            lines.append('on q35 each virtio-blk disk needs a free '
                         'pcie-root-port: [libvirt]num_pcie_ports '
                         '(libvirt default leaves 1-2 free for hot-plug)')
            traits.append('one pcie-root-port per disk')
    if disk_bus == 'scsi' and scsi_model == 'virtio-scsi':
        lines.append('virtio-scsi: up to %d units on one controller, one '
                     'PCI slot in all' % VIRTIO_SCSI_UNITS)
        traits.append('up to 256 disks on one controller')
    return tuple(lines), tuple(traits)


def state(props, default_machine='pc', options=Options(), disk_format=None):
    """The State one set of image properties gives a kvm guest."""
    props = effective(props)
    arch, _ = architecture(props)
    machine, source = machine_type(props, default_machine, arch)
    disk_bus = props.get('hw_disk_bus') or 'virtio'
    scsi_model = props.get('hw_scsi_model') or None
    errors = [e for e in (_bus_error('hw_disk_bus', disk_bus),) if e]
    cd_bus = cdrom_bus(props, machine, arch)
    if props.get('hw_cdrom_bus'):
        errors += [e for e in (_bus_error('hw_cdrom_bus', cd_bus),) if e]
    base = dict(architecture=arch, machine_type=machine,
                machine_type_source=source, disk_bus=disk_bus,
                cdrom_bus=cd_bus, scsi_model=scsi_model)
    if errors:
        return State(errors=tuple(errors), **base)
    try:
        raw = disk_mapping(disk_bus, cd_bus, options, disk_format == 'iso')
    except ValueError as e:
        return State(errors=(str(e),), **base)
    for bus in {d['bus'] for d in raw}:
        if bus == 'ide' and not has_ide(machine):
            errors.append('machine type %s has no IDE: libvirt refuses "IDE '
                          'controllers are unsupported for this QEMU binary '
                          'or machine type"' % machine)
    names = _guest_names(raw)
    devices = tuple(Device(d['name'], dict(ROLES)[d['name']], d['dev'],
                           d['bus'], d['type'], name)
                    for d, name in zip(raw, names))
    virtio_scsi = scsi_model == 'virtio-scsi'
    xml, unit = [], 0
    for d in raw:
        scsi_unit = unit if virtio_scsi and d['bus'] == 'scsi' else None
        unit += scsi_unit is not None
        xml.append(disk_xml(d, scsi_unit, 'raw' if d['name'] == 'disk.config'
                            else 'qcow2'))
    if scsi_model:
        xml.append(controller_xml(scsi_model))
    controllers, implicit = [], []
    for bus in dict.fromkeys(d['bus'] for d in raw):
        found, added = controller_for(bus, scsi_model, machine, arch)
        if found and found not in controllers:
            controllers.append(found)
        if added and added not in implicit:
            implicit.append(added)
    lines, traits = limits(disk_bus, scsi_model, machine, raw)
    return State(devices=devices, controllers=tuple(controllers),
                 xml=tuple(xml), implicit_xml=tuple(implicit), limits=lines,
                 traits=traits, errors=tuple(errors), **base)


def target_properties(props, bus, scsi_model=None, machine=None):
    """The image's properties after virtio-set --bus (as plan.desired)."""
    out = {k: v for k, v in props.items() if k != 'vmware_adaptertype'}
    out['hw_disk_bus'] = bus
    if bus == 'scsi':
        out['hw_scsi_model'] = scsi_model or 'virtio-scsi'
    elif 'hw_scsi_model' in out and 'scsi' not in (
            out.get('hw_cdrom_bus'), out.get('hw_rescue_bus')):
        del out['hw_scsi_model']
    if machine:
        out['hw_machine_type'] = machine
    return out


def rename(name, before, after):
    """What a /dev path in the guest becomes when the root disk moves.

    None when the name does not depend on the bus (UUID=, LABEL=, LVM...).
    """
    match = DEVICE_NAME.match(name)
    if not match or before is None or after is None:
        return None
    old = before.guest.rsplit('/', 1)[1]
    new = after.guest.rsplit('/', 1)[1]
    disk = match.group(1) + match.group(2)
    if disk != old and not (match.group(1) == 'hd' and old.startswith('sd')
                            and match.group(2) == old[2:]):
        return None
    return '/dev/%s%s' % (new, match.group(3))


def shifts(before, after):
    """Root and data disk names that change, as (old, new) guest paths."""
    old = {d.name: d for d in before.devices}
    out = []
    for dev in after.devices:
        was = old.get(dev.name)
        if was is not None and was.guest != dev.guest:
            out.append((was.guest, dev.guest))
    root_b, root_a = before.root, after.root
    if root_b and root_a and root_b.guest != root_a.guest:
        out.append((root_b.guest + '1', root_a.guest + '1'))
    return out


def trait_changes(before, after):
    gains = [t for t in after.traits if t not in before.traits]
    loses = [t for t in before.traits if t not in after.traits]
    return gains, loses


def guest_checks(inspection, before, after, target_bus):
    """What must be true inside the guest, from a deep inspection report."""
    if not inspection:
        return {'state': 'unknown', 'lines': [
            'not inspected: run with --deep to read fstab, the boot loader '
            'and the drivers from the disk image']}
    if inspection.get('status') != 'ok':
        return {'state': 'unknown', 'lines': [
            'inspection failed: %s' % (inspection.get('error') or
                                       'unknown error')]}
    family = (inspection.get('os') or {}).get('family')
    if family == 'linux':
        return _linux_checks(inspection, before, after, target_bus)
    if family == 'windows':
        return _windows_checks(inspection, target_bus)
    return {'state': 'unknown',
            'lines': ['guest OS not recognised by the inspection']}


def _linux_checks(report, before, after, target_bus):
    linux = report.get('linux') or {}
    lines, state_ = [], 'ok'
    names = [('fstab', n) for n in linux.get('fstab_devices') or []] + \
        [('boot loader root=', n) for n in linux.get('boot_devices') or []]
    for where, name in names:
        if STABLE_NAME.match(name):
            lines.append('%s %s: survives (does not name the bus)'
                         % (where, name))
            continue
        new = rename(name, before.root, after.root)
        if new is None and DEVICE_NAME.match(name):
            lines.append('%s %s: names a device the root disk is not; '
                         'check it by hand' % (where, name))
            state_ = 'unknown' if state_ == 'ok' else state_
        elif new and new != name:
            lines.append('%s %s: becomes %s: the boot breaks (use UUID= or '
                         'LABEL=)' % (where, name, new))
            state_ = 'breaks'
        elif new:
            lines.append('%s %s: unchanged' % (where, name))
    driver = rules.BUS_DRIVER.get(target_bus)
    verdict = (report.get('drivers') or {}).get(driver) or {}
    if driver:
        evidence = '; '.join(verdict.get('evidence') or []) or 'no evidence'
        lines.append('initramfs %s: %s (%s)' % (
            driver, verdict.get('state', 'unknown'), evidence))
        if verdict.get('state') == 'missing':
            state_ = 'breaks'
        elif verdict.get('state') != 'ready' and state_ == 'ok':
            state_ = 'unknown'
    return {'state': state_, 'lines': lines}


# The Windows service that drives each bus (viostor, vioscsi...).
WINDOWS_SERVICE = {bus: detect.WINDOWS_DRIVERS[driver]
                   for bus, driver in rules.BUS_DRIVER.items()}


def _windows_checks(report, target_bus):
    service = WINDOWS_SERVICE.get(target_bus)
    driver = rules.BUS_DRIVER.get(target_bus)
    verdict = (report.get('drivers') or {}).get(driver) or {}
    info = ((report.get('windows') or {}).get('drivers') or {}).get(
        service) or {}
    evidence = '; '.join(verdict.get('evidence') or []) or 'no evidence'
    lines = ['%s boot-start: %s (%s)' % (service, verdict.get('state',
                                                              'unknown'),
                                         evidence)]
    if verdict.get('state') == 'ready':
        return {'state': 'ok', 'lines': lines}
    if staged_cutover_applies(info):
        lines += staged_procedure(service, target_bus)
        return {'state': 'staged', 'lines': lines}
    return {'state': 'breaks' if verdict.get('state') == 'missing'
            else 'unknown', 'lines': lines}


def staged_cutover_applies(info):
    """The driver is installed (service and file) but not boot-start."""
    return bool(info.get('service') and info.get('file') and
                (info.get('start') != 0 or info.get('start_override')))


def staged_procedure(service, bus):
    return [
        'staged cut-over: boot a server from the image as it is, attach an '
        'extra small volume on the %s bus so Windows binds %s and makes it '
        'boot-start' % (bus, service),
        'confirm in the registry: HKLM\\SYSTEM\\CurrentControlSet\\Services'
        '\\%s Start = 0, and no StartOverride subkey' % service,
        'snapshot that server (or update the image from it), then change '
        'the image\'s bus']


@dataclasses.dataclass(frozen=True)
class Explanation:
    before: State
    after: Optional[State] = None
    guest: Optional[dict] = None

    def to_dict(self):
        out = {'current': self.before.to_dict(),
               'target': self.after.to_dict() if self.after else None,
               'guest': self.guest}
        if self.after:
            gains, loses = trait_changes(self.before, self.after)
            renames = shifts(self.before, self.after)
            out.update(renames=[list(r) for r in renames], gains=gains,
                       loses=loses)
        return out


def explain(props, default_machine='pc', bus=None, scsi_model=None,
            machine=None, inspection=None, options=Options(),
            disk_format=None):
    """Current state and, with ``bus`` or ``machine``, the target state."""
    before = state(props, default_machine, options, disk_format)
    current = before.disk_bus if before.disk_bus in KVM_BUSES else None
    if not bus and not machine:
        guest = guest_checks(inspection, before, before, current) \
            if inspection else None
        return Explanation(before, None, guest)
    if bus:
        wanted = target_properties(props, bus, scsi_model, machine)
    else:
        wanted = dict(props, hw_machine_type=machine)
    after = state(wanted, default_machine, options, disk_format)
    return Explanation(before, after,
                       guest_checks(inspection, before, after,
                                    bus or current))


def explain_images(images, policy, bus=None, scsi_model=None, machine=None,
                   inspections=None, options=Options()):
    """[(image, Explanation.to_dict(), or None for an image not read)].

    --bus scsi without a model takes the site's default_scsi_model.
    """
    scsi_model = scsi_model or (
        policy.default_scsi_model if bus == 'scsi' else None)
    inspections = inspections or {}
    return [(image, None if image.error else explain(
        image.properties, policy.machine_types, bus, scsi_model, machine,
        inspections.get(image.id), options, image.disk_format).to_dict())
        for image in images]


def has_errors(data):
    """Whether the current or the target state of to_dict() has an error."""
    return bool(data['current']['errors'] or (
        data['target'] and data['target']['errors']))
