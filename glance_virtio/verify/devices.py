"""The QEMU command line for a canary: Nova's devices for a root disk (pure).

explain.state says what Nova's libvirt driver gives the guest (machine
type, disk bus, SCSI model); this maps it onto the QEMU devices libvirt
generates for it (checked with ``virsh domxml-to-native`` against Nova
34's XML, /work/shared/KNOWLEDGE.md "Booting a canary"): virtio ->
virtio-blk-pci; scsi + virtio-scsi -> virtio-scsi-pci + scsi-hd; scsi
without a model -> lsi (lsi53c895a) + scsi-hd; ide -> ide-hd on the PIIX3
of pc; sata -> ahci + ide-hd on pc, the built-in ICH9 AHCI on q35. The
config drive and network are left out: a canary needs neither.
"""

import dataclasses
import json
from typing import Optional, Tuple

from glance_virtio.knowledge import explain

# libvirt's SCSI controller models and the QEMU device each becomes
# (src/qemu/qemu_command.c qemuBuildControllerSCSIDevStr).
SCSI_DEVICES = {
    'virtio-scsi': 'virtio-scsi-pci',
    'lsilogic': 'lsi',
    'lsisas1068': 'mptsas1068',
    'lsisas1078': 'megasas-gen2',
    'vmpvscsi': 'pvscsi',
}
QEMU_FORMATS = {'raw': 'raw', 'gpt': 'raw', 'qcow2': 'qcow2',
                'vmdk': 'vmdk', 'vhd': 'vpc', 'vhdx': 'vhdx'}


class Unbootable(Exception):
    """Nova (libvirt) would refuse these properties: a failed boot."""


class CannotEmulate(Exception):
    """This host cannot boot what Nova would: no verdict (unknown)."""


@dataclasses.dataclass(frozen=True)
class Plan:
    """What one canary boots on, and the QEMU arguments that give it."""

    machine_type: str
    disk_bus: str
    scsi_model: Optional[str]
    firmware: str
    devices: Tuple[str, ...]
    args: Tuple[str, ...]

    @property
    def booted_on(self):
        bus = self.disk_bus + ('/' + self.scsi_model if self.scsi_model
                               else '')
        return '%s, %s, %s' % (bus, self.machine_type, self.firmware)


def target(props, bus=None, scsi_model=None, machine=None,
           default_machine='pc'):
    """explain.State for the image's properties, or the target ones."""
    if bus:
        props = explain.target_properties(props, bus, scsi_model, machine)
    elif machine:
        props = dict(props, hw_machine_type=machine)
    return explain.state(props, default_machine)


def firmware(props):
    value = (explain.effective(props).get('hw_firmware_type') or 'bios')
    return value.lower()


def disk_devices(state):
    """(QEMU -device values, SCSI model as booted) for the root disk."""
    bus, machine = state.disk_bus, state.machine_type
    q35 = 'q35' in machine
    root = 'drive=root,bootindex=1'
    if bus == 'virtio':
        return ('virtio-blk-pci,%s' % root,), None
    if bus == 'scsi':
        model = state.scsi_model or explain.LIBVIRT_SCSI_DEFAULT.get(
            state.architecture)
        device = SCSI_DEVICES.get(model or '')
        if not device:
            raise Unbootable('hw_scsi_model=%s: no QEMU device for it here '
                             '(libvirt refuses buslogic; ibmvscsi is '
                             'POWER only)' % model)
        return ('%s,id=scsi0' % device,
                'scsi-hd,bus=scsi0.0,channel=0,scsi-id=0,lun=0,%s'
                % root), model
    if bus == 'ide':
        if q35:
            raise Unbootable('machine type %s has no IDE: libvirt refuses '
                             '"IDE controllers are unsupported"' % machine)
        return ('ide-hd,bus=ide.0,unit=0,%s' % root,), None
    if bus == 'sata':
        if q35:
            return ('ide-hd,bus=ide.0,%s' % root,), None
        return ('ahci,id=sata0', 'ide-hd,bus=sata0.0,%s' % root), None
    raise CannotEmulate('hw_disk_bus=%s: a canary root disk on it is not '
                        'supported' % bus)


def plan(state, firmware_type, image_path, image_format, overlay,
         ovmf=None, memory_mb=1024):
    """The Plan: QEMU arguments minus accelerator, console and QMP.

    The image is opened read-only with its backing chain cut (backing=null)
    and written through a throwaway qcow2 overlay.
    """
    if state.errors:
        raise Unbootable('; '.join(state.errors))
    if state.architecture not in ('x86_64', 'i686'):
        raise CannotEmulate('architecture %s: this host boots x86 '
                            'canaries only' % state.architecture)
    driver = QEMU_FORMATS.get(image_format)
    if not driver:
        raise CannotEmulate('image format %s cannot be booted here'
                            % image_format)
    devices, model = disk_devices(state)
    base = {'driver': driver, 'node-name': 'base', 'read-only': True,
            'file': {'driver': 'file', 'filename': image_path,
                     'read-only': True}}
    if driver == 'qcow2':
        base['backing'] = None
    root = {'driver': 'qcow2', 'node-name': 'root', 'backing': 'base',
            'file': {'driver': 'file', 'filename': overlay}}
    args = ['-machine', '%s' % state.machine_type,
            '-m', str(memory_mb), '-smp', '1',
            '-blockdev', json.dumps(base, sort_keys=True),
            '-blockdev', json.dumps(root, sort_keys=True)]
    for device in devices:
        args += ['-device', device]
    if firmware_type == 'uefi':
        if not ovmf:
            raise CannotEmulate('hw_firmware_type=uefi: no OVMF firmware '
                                'found on this host (install ovmf)')
        code, variables = ovmf
        args += ['-drive', 'if=pflash,format=raw,unit=0,readonly=on,file=%s'
                 % _escape(code),
                 '-drive', 'if=pflash,format=raw,unit=1,file=%s'
                 % _escape(variables)]
    elif firmware_type != 'bios':
        raise Unbootable('hw_firmware_type=%s is not bios or uefi'
                         % firmware_type)
    return Plan(state.machine_type, state.disk_bus, model, firmware_type,
                tuple(d.split(',', 1)[0] for d in devices), tuple(args))


def _escape(path):
    # QEMU option values: a comma is written twice.
    return path.replace(',', ',,')


def safety_args(serial_log, qmp_socket, accel):
    """The arguments every canary gets, whatever the image."""
    return ['-nodefaults', '-no-user-config', '-display', 'none',
            '-vga', 'std', '-nic', 'none', '-no-reboot',
            '-sandbox', 'on,obsolete=deny,elevateprivileges=deny,'
                        'spawn=deny,resourcecontrol=deny',
            '-device', 'pvpanic',
            '-chardev', 'file,id=console,path=%s' % _escape(serial_log),
            '-serial', 'chardev:console',
            '-qmp', 'unix:%s,server=on,wait=off' % _escape(qmp_socket),
            '-accel', accel]
