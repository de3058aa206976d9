"""Guest OS and driver readiness from image metadata alone."""

import functools
import re

from glance_virtio import model
from glance_virtio.model import NOT_READY, READY, UNKNOWN, Readiness

LINUX_DISTROS = {
    'almalinux', 'alma', 'alpine', 'arch', 'centos', 'cirros', 'coreos',
    'debian', 'fedora', 'gentoo', 'mandrake', 'mandriva', 'mes', 'opensuse',
    'oraclelinux', 'ol', 'rhel', 'rocky', 'sled', 'sles', 'suse', 'ubuntu',
    'amzn', 'linux',
}
OTHER_DISTROS = {'freebsd', 'netbsd', 'openbsd', 'opensolaris', 'msdos',
                 'netware'}

# Windows driver names an operator may assert in the virtio_drivers property.
ASSERT_PROPERTY = 'virtio_drivers'
WINDOWS_DRIVERS = {'virtio_blk': 'viostor', 'virtio_scsi': 'vioscsi',
                   'virtio_net': 'netkvm', 'sata': 'storahci',
                   'ide': 'intelide'}

# A release number in a name: one or two digits, never a year or a date.
_VERSION = r'(\d{1,2}(?:\.\d+)?(?!\d))?'
_NAME_PATTERNS = [
    (re.compile(r'win(?:dows)?[\s_-]*(?:server[\s_-]*)?'
                r'(2008|2012|2016|2019|2022|2025|7|8|10|11)\b', re.I),
     'windows', 'windows'),
    (re.compile(r'(?<![a-z])win(?:dows|2k\d*|\d{1,4}\b|[\s_-]?server|\b)',
                re.I), 'windows', 'windows'),
    (re.compile(r'ubuntu[\s_-]*(\d{2}\.\d{2})?', re.I), 'linux', 'ubuntu'),
    (re.compile(r'centos[\s_-]*(?:stream[\s_-]*)?' + _VERSION, re.I),
     'linux', 'centos'),
    (re.compile(r'(?:rhel|red[\s_-]*hat(?:[\s_-]*enterprise)?'
                r'(?:[\s_-]*linux)?)(?:[\s_-]*server)?[\s_-]*' + _VERSION,
                re.I), 'linux', 'rhel'),
    (re.compile(r'rocky[\s_-]*(?:linux[\s_-]*)?' + _VERSION, re.I),
     'linux', 'rocky'),
    (re.compile(r'alma[\s_-]*(?:linux[\s_-]*)?' + _VERSION, re.I),
     'linux', 'almalinux'),
    (re.compile(r'debian[\s_-]*' + _VERSION, re.I), 'linux', 'debian'),
    (re.compile(r'fedora[\s_-]*(?:cloud[\s_-]*(?:base[\s_-]*)?)?' +
                _VERSION, re.I), 'linux', 'fedora'),
    (re.compile(r'(?:sles|suse[\s_-]*linux[\s_-]*enterprise'
                r'(?:[\s_-]*server)?)[\s_-]*' + _VERSION, re.I),
     'linux', 'sles'),
    (re.compile(r'opensuse[\s_-]*(?:leap[\s_-]*)?' + _VERSION, re.I),
     'linux', 'opensuse'),
    (re.compile(r'cirros[\s_-]*(\d+\.\d+(?:\.\d+)?)?', re.I), 'linux',
     'cirros'),
    (re.compile(r'freebsd[\s_-]*(\d+(?:\.\d+)?)?', re.I), 'other',
     'freebsd'),
]


# nova/objects/image_meta.py ImageMetaProps._legacy_property_map (Nova
# 34.0.0, line 660): legacy names Nova still reads, for the keys we judge.
LEGACY_NAMES = {'architecture': 'hw_architecture',
                'vmware_ostype': 'os_distro',
                'vm_mode': 'hw_vm_mode',
                'hypervisor_type': 'img_hv_type'}


def effective_properties(props):
    """The properties as Nova reads them: legacy names mapped.

    As ImageMetaProps.from_dict and _set_attr_from_legacy_names (Nova
    34.0.0, nova/objects/image_meta.py lines 688-702 and 758): legacy
    values first, current names override them key by key.
    """
    legacy = {}
    for old, new in LEGACY_NAMES.items():
        if old in props:
            legacy[new] = props[old]
    adapter = props.get('vmware_adaptertype')
    if adapter == 'ide':
        legacy['hw_disk_bus'] = 'ide'
    elif adapter:
        legacy['hw_disk_bus'] = 'scsi'
        legacy['hw_scsi_model'] = adapter
    if not legacy:
        return props
    result = dict(props)
    for key, value in legacy.items():
        result.setdefault(key, value)
    return result


def legacy_source(props, key):
    """The legacy property that gives key its effective value, or None."""
    if key in props:
        return None
    if key in ('hw_disk_bus', 'hw_scsi_model') and props.get(
            'vmware_adaptertype'):
        return 'vmware_adaptertype'
    for old, new in LEGACY_NAMES.items():
        if new == key and old in props:
            return old
    return None


def family_of(distro):
    distro = (distro or '').lower()
    if distro.startswith('win'):
        return 'windows'
    if distro in LINUX_DISTROS:
        return 'linux'
    if distro in OTHER_DISTROS:
        return 'other'
    return UNKNOWN


def guest_os(image):
    """Guess the guest OS from properties, then from the image name."""
    props = effective_properties(image.properties)
    os_type = (props.get('os_type') or '').lower()
    distro = (props.get('os_distro') or '').lower() or None
    version = props.get('os_version') or None
    if os_type in ('linux', 'windows'):
        distro = distro or (os_type if os_type == 'windows' else None)
        return model.GuestOS(os_type, distro, version, 'property', 'high')
    if distro and family_of(distro) != UNKNOWN:
        return model.GuestOS(family_of(distro), distro, version, 'property',
                             'high')
    return _from_name(image.name or '')


def _from_name(name):
    for pattern, family, distro in _NAME_PATTERNS:
        match = pattern.search(name)
        if match:
            version = match.group(1) if match.groups() else None
            confidence = 'medium' if version else 'low'
            return model.GuestOS(family, distro, version, 'name', confidence)
    return model.GuestOS()


def _major(version):
    match = re.match(r'\s*(\d+)(?:\.(\d+))?', version or '')
    if not match:
        return None
    return int(match.group(1)), int(match.group(2) or 0)


# First version (major, minor) of each distro whose stock initramfs carries
# the driver; below it the driver is treated as missing.
_LINUX_SCSI_SINCE = {
    'rhel': (7, 0), 'centos': (7, 0), 'rocky': (8, 0), 'almalinux': (8, 0),
    'oraclelinux': (7, 0), 'ubuntu': (14, 4), 'debian': (8, 0),
    'fedora': (17, 0), 'sles': (12, 0), 'opensuse': (13, 1),
}
_LINUX_BLK_SINCE = {
    'rhel': (5, 3), 'centos': (5, 3), 'rocky': (8, 0), 'almalinux': (8, 0),
    'oraclelinux': (5, 3), 'ubuntu': (8, 4), 'debian': (5, 0),
    'fedora': (9, 0), 'sles': (11, 0), 'opensuse': (11, 0), 'cirros': (0, 3),
}


# KNOWLEDGE.md rule 9: treat RHEL 6 era guests as lacking AHCI at boot.
_LINUX_SATA_SINCE = dict(_LINUX_BLK_SINCE, rhel=(7, 0), centos=(7, 0),
                         oraclelinux=(7, 0))
_TABLES = {'virtio_scsi': _LINUX_SCSI_SINCE, 'sata': _LINUX_SATA_SINCE,
           'virtio_blk': _LINUX_BLK_SINCE, 'virtio_net': _LINUX_BLK_SINCE}


def _linux(guest, driver):
    if driver == 'ide':
        return Readiness(READY, 'Linux kernels carry ata_piix/IDE support')
    table = _TABLES[driver]
    version = _major(guest.version)
    if guest.distro not in table or version is None:
        what = guest.distro or 'Linux'
        return Readiness(UNKNOWN, '%s version unknown: the kernel era cannot '
                         'be told from metadata' % what)
    label = '%s %s' % (guest.distro, guest.version)
    if version >= table[guest.distro]:
        return Readiness(READY, '%s ships %s in its stock kernel and '
                         'initramfs' % (label, driver))
    return Readiness(NOT_READY, '%s predates %s in its stock initramfs'
                     % (label, driver))


def _windows(asserted, driver):
    name = WINDOWS_DRIVERS[driver]
    if asserted is None and driver in ('ide', 'sata'):
        return Readiness(UNKNOWN, 'Windows ships %s but starts it at boot '
                         'only when it was installed on that bus: metadata '
                         'cannot tell (inspect the image or set %s)'
                         % (name, ASSERT_PROPERTY))
    if asserted is None:
        return Readiness(UNKNOWN, 'Windows has no inbox %s: metadata cannot '
                         'prove it is installed (inspect the image or set '
                         '%s)' % (name, ASSERT_PROPERTY))
    names = {n.strip().lower() for n in asserted.split(',')}
    if name in names or driver in names:
        return Readiness(READY, 'operator asserts %s in %s'
                         % (name, ASSERT_PROPERTY))
    return Readiness(NOT_READY, '%s=%s does not list %s'
                     % (ASSERT_PROPERTY, asserted, name))


def readiness(image, guest):
    """Readiness of each driver in model.DRIVERS from metadata."""
    asserted = image.properties.get(ASSERT_PROPERTY)
    if not isinstance(asserted, (str, type(None))):
        return _readiness(guest, asserted)
    return dict(_memo_readiness(guest, asserted))


@functools.lru_cache(maxsize=4096)
def _memo_readiness(guest, asserted):
    return _readiness(guest, asserted)


def _readiness(guest, asserted):
    result = {}
    for driver in model.DRIVERS:
        if guest.family == 'windows':
            result[driver] = _windows(asserted, driver)
        elif guest.family == 'linux':
            result[driver] = _linux(guest, driver)
        else:
            result[driver] = Readiness(UNKNOWN, 'guest OS unknown')
    return result


def from_inspection(report):
    """GuestOS and readiness from a guest inspection report, if usable."""
    if not report or report.get('status') != 'ok':
        return None, {}
    found = report.get('os') or {}
    family = found.get('family') or UNKNOWN
    guest = model.GuestOS(family, found.get('distro'),
                          found.get('version') or found.get('build'),
                          'inspection',
                          'high' if family != UNKNOWN else 'none')
    states = {'ready': READY, 'missing': NOT_READY}
    result = {}
    for driver, verdict in (report.get('drivers') or {}).items():
        state = states.get(verdict.get('state'), UNKNOWN)
        reason = '; '.join(verdict.get('evidence') or []) or 'inspection'
        result[driver] = Readiness(state, 'inspection: ' + reason)
    return guest, result


def facts(image, inspection=None):
    """Facts for one image: metadata first, inspection where it knows."""
    guest = guest_os(image)
    ready = readiness(image, guest)
    seen_os, seen_ready = from_inspection(inspection)
    if seen_os is not None and seen_os.family != UNKNOWN:
        guest = seen_os
        ready = readiness(image, guest)
    ready.update(seen_ready)
    return model.Facts(image, guest, ready, inspection,
                       effective_properties(image.properties))
