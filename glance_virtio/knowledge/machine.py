"""Architecture, machine type and cdrom bus as Nova's libvirt driver sets them.

Pure: effective image properties and the site's per-architecture
[libvirt]hw_machine_type in, plain values out. knowledge.rules and
knowledge.explain both use these; tests/unit/test_nova_oracle.py checks
them against Nova.
"""

import re
from typing import Mapping

PPC = ('ppc', 'ppc64', 'ppcle', 'ppc64le')
X86 = ('i686', 'x86_64')
# blockinfo.py get_disk_bus_for_device_type (Nova 34.0.0 l.219-276).
CDROM_SCSI_ARCHES = PPC + ('s390', 's390x', 'aarch64')
# utils.py get_default_machine_type (Nova 34.0.0 l.676).
NOVA_DEFAULTS = {
    'armv7l': 'virt', 'aarch64': 'virt', 'ppc64le': 'pseries',
    's390': 's390-ccw-virtio', 's390x': 's390-ccw-virtio', 'i686': 'pc',
    'x86_64': 'pc'}
# Machine types QEMU offers, by family; the families without IDE.
PATTERNS = (
    ('pc', r'pc|pc-i440fx-.+|pc-\d+\.\d+|isapc'),
    ('q35', r'q35|pc-q35-.+'),
    ('virt', r'virt|virt-.+'),
    ('pseries', r'pseries|pseries-.+'),
    ('s390-ccw-virtio', r's390-ccw-virtio|s390-ccw-virtio-.+'),
    ('microvm', r'microvm'),
)
NO_IDE = ('q35', 'virt', 'pseries', 's390-ccw-virtio', 'microvm')


def architecture(props):
    """hw_architecture as Nova canonicalises it, or None if unset.

    Architecture.canonicalize, nova/objects/fields.py l.193.
    """
    value = props.get('hw_architecture')
    if not value:
        return None
    value = value.lower()
    if value in ('i386', 'i486', 'i586', 'x86_32', 'x86_32p'):
        return 'i686'
    return 'x86_64' if value == 'amd64' else value


def arch_or_assumed(props):
    """The architecture; x86_64 (the usual compute) if the image is silent."""
    return architecture(props) or 'x86_64'


def parse_machine_types(entries):
    """{arch: machine type} from nova.conf's host-arch=machine-type list.

    A bare value (q35) means x86_64.
    """
    result = {}
    for entry in entries:
        arch, sep, value = (s.strip() for s in entry.partition('='))
        if not sep:
            arch, value = 'x86_64', arch
        if not arch or not value:
            raise ValueError('hw_machine_type: %r is not host-arch=machine-'
                             'type (e.g. x86_64=q35)' % entry)
        result[arch.lower()] = value
    return result


def as_machine_types(value):
    """A per-architecture mapping from a mapping, a list or a 'a=b,c=d'."""
    if isinstance(value, Mapping):
        return dict(value)
    if isinstance(value, str):
        value = [e for e in re.split(r'[,\s]+', value) if e]
    return parse_machine_types(value or ())


def machine_type(props, machine_types):
    """(machine type, 'image' | 'policy' | 'nova default' | None).

    utils.py get_machine_type and get_default_machine_type (l.644-685).
    """
    explicit = props.get('hw_machine_type')
    if explicit:
        return explicit, 'image'
    arch = arch_or_assumed(props)
    if arch in machine_types:
        return machine_types[arch], 'policy'
    if arch in NOVA_DEFAULTS:
        return NOVA_DEFAULTS[arch], 'nova default'
    return None, None


def family(value):
    """The family of a machine type (pc, q35, virt...), or None if unknown."""
    for name, pattern in PATTERNS:
        if value and re.fullmatch(pattern, value):
            return name
    return None


def is_q35(value):
    # Nova tests the same way: 'q35' in machine_type (driver.py l.7237).
    return 'q35' in (value or '')


def has_no_ide(value):
    return is_q35(value) or family(value) in NO_IDE


def cdrom_bus(props, machine):
    """hw_cdrom_bus, else get_disk_bus_for_device_type's kvm default."""
    explicit = props.get('hw_cdrom_bus')
    if explicit:
        return explicit
    if arch_or_assumed(props) in CDROM_SCSI_ARCHES:
        return 'scsi'
    return 'sata' if is_q35(machine) else 'ide'
