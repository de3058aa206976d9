"""Read a Windows guest's registry hives for version and storage drivers.

Boot start: a driver for the boot disk must have Start=0 (boot, loaded by
the kernel loader); 3 (demand) and 4 (disabled) are not loaded at boot
(learn.microsoft.com/en-us/previous-versions/windows/it-pro/
windows-2000-server/cc959920(v=technet.10)). Values named 0, 1... under
Services\\<name>\\StartOverride override Start: AWS restores its storage
driver by deleting xenvbd\\StartOverride (awsdocs/amazon-ec2-user-guide-
windows, doc_source/pvdrivers-troubleshooting.md).
"""

import logging
import re
import struct

from glance_virtio.inspect.result import error_result
from glance_virtio.inspect.result import verdict

LOG = logging.getLogger(__name__)

CONFIG_DIR = '/Windows/System32/config'
DRIVERS_DIR = '/Windows/System32/drivers'
DRIVER_STORE = '/Windows/System32/DriverStore/FileRepository'
SERVICES = ('viostor', 'vioscsi', 'netkvm', 'storahci', 'msahci',
            'intelide', 'pciide', 'atapi')
# Virtio PCI device ids (legacy, modern) each driver binds to.
PCI_IDS = {'viostor': ('1001', '1042'), 'vioscsi': ('1004', '1048'),
           'netkvm': ('1000', '1041')}
CDD_ID = re.compile(r'pci#ven_1af4&dev_([0-9a-f]{4})(?:&|$)')
DDB_ID = re.compile(r'ven_1af4&dev_([0-9a-f]{4})(?:&|$)')
CONTROL_SET = re.compile(r'controlset(\d{3})$')
START_NAMES = {0: 'boot', 1: 'system', 2: 'automatic', 3: 'demand',
               4: 'disabled'}
# STORAGE_BUS_TYPE, as a storport miniport's Parameters\BusType gives it.
BUS_TYPES = {1: 'SCSI', 2: 'ATAPI', 3: 'ATA', 8: 'RAID', 10: 'SAS',
             11: 'SATA', 14: 'Virtual'}
ARCHES = {'AMD64': 'x86_64', 'X86': 'i686', 'ARM64': 'aarch64'}
BASE_BLOCK = 4096
# Bounds on a walk: keys deep, subkeys of one key, values of one key.
MAX_DEPTH = 64
MAX_SUBKEYS = 65536
MAX_VALUES = 1024


class HiveError(Exception):
    """A hive that cannot be walked: missing, truncated, damaged, looping."""


class Node:
    """A key reached from the root; ``seen`` holds the offsets above it."""

    def __init__(self, key, name, path, offset, seen):
        self.key = key
        self.name = name
        self.path = path
        self.offset = offset
        self.seen = seen


class Hive:
    """Bounded, loop-checked reads of one hive; any failure is HiveError."""

    def __init__(self, name, regf):
        self.name = name
        self.regf = regf

    def _call(self, what, func, *args):
        try:
            return func(*args)
        except Exception as exc:  # libregf raises several types
            detail = str(exc).split('. ')[0].strip() or type(exc).__name__
            raise HiveError('%s hive is damaged: %s failed (%s)'
                            % (self.name, what, detail))

    def root(self):
        key = self._call('reading the root key', self.regf.get_root_key)
        if key is None:
            raise HiveError('%s hive is damaged: it has no root key'
                            % self.name)
        offset = self._call('reading the root key', lambda: key.offset)
        return Node(key, '', '', offset, frozenset([offset]))

    def _enter(self, node, sub, name):
        path = '%s\\%s' % (node.path, name)
        offset = self._call('reading %s' % path, lambda: sub.offset)
        if offset in node.seen:
            raise HiveError('%s hive is damaged: its subkey lists loop '
                            '(%s is a key above it)' % (self.name, path))
        if len(node.seen) >= MAX_DEPTH:
            raise HiveError('%s hive is damaged: keys nest deeper than %d '
                            'at %s' % (self.name, MAX_DEPTH, node.path))
        return Node(sub, name, path, offset, node.seen | {offset})

    def child(self, node, name):
        """The subkey ``name`` (any case) of ``node``, or None."""
        if node is None:
            return None
        sub = self._call('reading %s\\%s' % (node.path, name),
                         node.key.get_sub_key_by_name, name)
        return None if sub is None else self._enter(node, sub, name)

    def key(self, path):
        node = self.root()
        for part in path.split('\\'):
            if part and node is not None:
                node = self.child(node, part)
        return node

    def subkeys(self, node):
        """Every subkey of ``node`` (none when it is None)."""
        if node is None:
            return []
        what = 'listing %s' % (node.path or 'the root key')
        count = self._call(what, lambda: node.key.number_of_sub_keys)
        if count > MAX_SUBKEYS:
            raise HiveError('%s hive is damaged: %s claims %d subkeys'
                            % (self.name, node.path, count))
        found, offsets = [], set()
        for index in range(count):
            sub = self._call(what, node.key.get_sub_key, index)
            name = self._call(what, lambda: sub.name) or ''
            child = self._enter(node, sub, name)
            if child.offset in offsets:
                raise HiveError('%s hive is damaged: %s lists a key twice'
                                % (self.name, node.path))
            offsets.add(child.offset)
            found.append(child)
        return found

    def value(self, node, name):
        """The data of value ``name`` of ``node`` as Python data, or None."""
        if node is None:
            return None
        what = 'reading %s\\%s' % (node.path, name)
        value = self._call(what, node.key.get_value_by_name, name)
        return None if value is None else self._data(what, value)

    def values(self, node):
        """{name: data} of every value of ``node``."""
        if node is None:
            return {}
        what = 'reading the values of %s' % node.path
        count = self._call(what, lambda: node.key.number_of_values)
        if count > MAX_VALUES:
            raise HiveError('%s hive is damaged: %s claims %d values'
                            % (self.name, node.path, count))
        found = {}
        for index in range(count):
            value = self._call(what, node.key.get_value, index)
            name = self._call(what, lambda: value.name) or ''
            found[name] = self._data(what, value)
        return found

    def _data(self, what, value):
        vtype = self._call(what, lambda: value.type)
        if vtype in (4, 5, 11):
            return self._call(what, lambda: value.data_as_integer)
        if vtype in (1, 2):
            return self._call(what, lambda: value.data_as_string)
        if vtype == 7:
            return list(self._call(what, lambda: value.data_as_multi_string))
        return self._call(what, lambda: value.data)


def is_windows(fs):
    return fs.kind == 'ntfs' and fs.exists(CONFIG_DIR + '/SYSTEM')


def open_hive(fs, name, notes):
    """The hive ``name`` as a Hive; HiveError when it cannot be read."""
    import pyregf
    fobj = fs.open('%s/%s' % (CONFIG_DIR, name))
    if fobj is None:
        raise HiveError('%s hive not found' % name)
    try:
        head = fobj.read_at(0, 48)
    except (OSError, IOError) as exc:
        raise HiveError('%s hive cannot be read from the volume: %s'
                        % (name, exc))
    if len(head) < 48 or head[:4] != b'regf':
        raise HiveError('%s hive is damaged: no regf header (%d bytes)'
                        % (name, fobj.size))
    primary, secondary = struct.unpack_from('<II', head, 4)
    if primary != secondary:
        notes.append('%s hive is dirty (its transaction logs were not '
                     'replayed); recent changes may be missing' % name)
    bins = struct.unpack_from('<I', head, 40)[0]
    if fobj.size < BASE_BLOCK + bins:
        raise HiveError('%s hive is truncated: its header gives %d bytes '
                        'of hive bins, the file holds %d bytes in all'
                        % (name, bins, fobj.size))
    hive = Hive(name, pyregf.file())
    hive._call('opening the file', hive.regf.open_file_object, fobj)
    return hive


def inspect_windows(fs, result):
    notes = result['notes']
    result['os'].update({'family': 'windows', 'distro': 'windows'})
    windows = {'product_name': None, 'build': None, 'edition': None,
               'installation_type': None, 'control_set': None,
               'drivers': {}}
    result['windows'] = windows
    try:
        software = open_hive(fs, 'SOFTWARE', notes)
        result['os']['version'] = _version(software, windows, result)
    except HiveError as exc:
        notes.append('%s; the Windows version is unknown' % exc)
    result['os'].update({'product_name': windows['product_name'],
                         'build': windows['build']})
    try:
        system = open_hive(fs, 'SYSTEM', notes)
        _read_system(fs, system, windows, result)
    except HiveError as exc:
        reason = str(exc)
        notes.append(reason)
        windows['drivers'] = {}
        raise_unknown(result, 'the drivers cannot be read: %s' % reason)
        error_result(reason, result)
    finally:
        notes.extend(getattr(fs, 'notes', ()))


def raise_unknown(result, reason):
    for key in result['drivers']:
        result['drivers'][key] = verdict('unknown', reason)


def _read_system(fs, system, windows, result):
    notes = result['notes']
    current, stale = _control_sets(system, notes)
    windows['control_set'] = current.name
    arch = system.value(system.key('%s\\Control\\Session Manager\\'
                                   'Environment' % current.path),
                        'PROCESSOR_ARCHITECTURE')
    result['os']['arch'] = ARCHES.get(str(arch).upper()) if arch else None
    services = system.child(current, 'Services')
    store = [name.lower() for name in fs.listdir(DRIVER_STORE)]
    mappings = _pci_mappings(system, current)
    infos = {}
    for name in SERVICES:
        infos[name] = _driver(fs, system, services, name, mappings)
        if name in ('viostor', 'vioscsi'):
            infos[name]['stale_sets'] = [] if infos[name]['service'] else [
                cs.name for cs in stale
                if system.child(system.child(cs, 'Services'), name)]
    drivers = result['drivers']
    drivers['virtio_blk'] = boot_verdict('viostor', infos, store,
                                         current.name)
    drivers['virtio_scsi'] = boot_verdict('vioscsi', infos, store,
                                          current.name)
    drivers['virtio_net'] = net_verdict(infos, store)
    drivers['ide'] = inbox_verdict(('intelide', 'pciide'), infos, 'IDE',
                                   ('atapi',))
    drivers['sata'] = inbox_verdict(('storahci', 'msahci'), infos,
                                    'AHCI (SATA)', ())
    windows['drivers'] = {name: {k: v for k, v in info.items()
                                 if not k.startswith('_')}
                          for name, info in infos.items()}


def _control_sets(system, notes):
    """The current control set's Node and the other ControlSetNNN Nodes."""
    sets = {}
    for node in system.subkeys(system.root()):
        match = CONTROL_SET.match(node.name.lower())
        if match:
            sets[int(match.group(1))] = node
    select = system.key('Select')
    current = system.value(select, 'Current')
    names = ', '.join(sets[n].name for n in sorted(sets)) or 'none'
    if not isinstance(current, int):
        if len(sets) != 1:
            raise HiveError('SYSTEM hive has no Select\\Current and %d '
                            'control sets (%s): which one boots is unknown'
                            % (len(sets), names))
        current = next(iter(sets))
        notes.append('Select\\Current missing; the only control set is %s'
                     % sets[current].name)
    if current not in sets:
        raise HiveError('SYSTEM hive is damaged: Select\\Current=%s but '
                        'there is no ControlSet%03d (control sets: %s)'
                        % (current, current % 1000, names))
    default = system.value(select, 'Default')
    if isinstance(default, int) and default != current:
        notes.append('Select\\Default=%d differs from Select\\Current=%d; '
                     'the verdicts rest on %s'
                     % (default, current, sets[current].name))
    return sets[current], [sets[n] for n in sorted(sets) if n != current]


def _version(software, windows, result):
    key = software.key('Microsoft\\Windows NT\\CurrentVersion')
    if key is None:
        result['notes'].append('SOFTWARE hive has no CurrentVersion key')
        return None
    name = _string(software.value(key, 'ProductName'))
    build = software.value(key, 'CurrentBuild') or \
        software.value(key, 'CurrentBuildNumber')
    build = None if build is None else str(build)
    edition = _string(software.value(key, 'EditionID'))
    installation = _string(software.value(key, 'InstallationType'))
    major = software.value(key, 'CurrentMajorVersionNumber')
    minor = software.value(key, 'CurrentMinorVersionNumber')
    legacy = _string(software.value(key, 'CurrentVersion'))
    windows.update({'product_name': name, 'build': build,
                    'edition': edition, 'installation_type': installation})
    name = name or ''
    windows11 = bool(re.fullmatch(r'[0-9]{1,9}', str(build))) and \
        int(build) >= 22000
    if name.startswith('Windows 10') and windows11:
        # Windows 11 still writes "Windows 10" into ProductName.
        windows['product_name'] = 'Windows 11' + name[len('Windows 10'):]
        result['notes'].append('ProductName says %r but build %s is '
                               'Windows 11' % (name, build))
    if isinstance(major, int):
        return '%d.%d' % (major, minor if isinstance(minor, int) else 0)
    return legacy


def _string(value):
    """A string value, or None: a value of another type is not trusted."""
    return value if isinstance(value, str) else None


def _pci_mappings(system, current):
    """{service: (evidence, {pci id: source})}; None if there is no db."""
    found = {}

    def add(service, dev, source, line):
        evidence, ids = found.setdefault(service, ([], {}))
        evidence.append(line)
        ids.setdefault('1af4:%s' % dev, source)

    cdd = system.key('%s\\Control\\CriticalDeviceDatabase' % current.path)
    ddb = system.key('DriverDatabase\\DeviceIds\\PCI')
    for node in system.subkeys(cdd):
        match = CDD_ID.match(node.name.lower())
        if not match:
            continue
        target = str(system.value(node, 'Service')).lower()
        for service, ids in PCI_IDS.items():
            if match.group(1) in ids and target == service:
                add(service, match.group(1), 'CriticalDeviceDatabase',
                    'CriticalDeviceDatabase maps %s to %s'
                    % (node.name, service))
    for node in system.subkeys(ddb):
        match = DDB_ID.match(node.name.lower())
        if not match:
            continue
        for service, ids in PCI_IDS.items():
            if match.group(1) in ids:
                add(service, match.group(1), 'DriverDatabase',
                    'DriverDatabase has PCI\\%s' % node.name)
    return found if (cdd is not None or ddb is not None) else None


def _driver(fs, system, services, name, mappings):
    key = system.child(services, name)
    start = system.value(key, 'Start')
    image_path = system.value(key, 'ImagePath')
    overrides = _overrides(system, system.child(key, 'StartOverride'))
    if isinstance(image_path, str):
        path = _windows_path(image_path)
    else:
        image_path = None
        path = '%s/%s.sys' % (DRIVERS_DIR, name)
    # Without a service only the default file can be there.
    present = None if path is None else fs.open(path) is not None
    info = {'service': key is not None, 'file': present,
            'file_path': path if key is not None else None,
            'image_path': image_path,
            'start': start if isinstance(start, int) else None,
            'start_override': overrides}
    if name in PCI_IDS:
        evidence, ids = (mappings or {}).get(name, ([], {}))
        info['pci_mapping'] = None if mappings is None else bool(ids)
        info['pci_ids'] = sorted(ids)
        info['_evidence'] = list(evidence)
        if mappings is not None:
            info['_evidence'].append(_coverage(name, ids))
    if name in ('viostor', 'vioscsi'):
        bus = system.value(system.child(key, 'Parameters'), 'BusType')
        info['bus_type'] = bus if isinstance(bus, int) else None
    return info


def _overrides(system, node):
    if node is None:
        return None
    return {name: data for name, data in sorted(system.values(node).items())
            if name.isdigit()}


def _coverage(name, ids):
    wanted = ['1af4:%s' % dev for dev in PCI_IDS[name]]
    covered = [i for i in wanted if i in ids]
    text = 'PCI ids mapped to %s: %s' % (name, ', '.join(
        '%s (%s)' % (i, ids[i]) for i in covered) or 'none')
    missing = [i for i in wanted if i not in ids]
    if missing:
        text += '; not mapped: %s' % ', '.join(missing)
    return text


def _windows_path(image_path):
    """Map an ImagePath to a path on the Windows volume."""
    path = image_path.replace('\\', '/').strip()
    lowered = path.lower()
    for prefix in ('/systemroot/', '%systemroot%/', '/??/c:/', 'c:/'):
        if lowered.startswith(prefix):
            rest = path[len(prefix):]
            return ('/Windows/' + rest) if 'systemroot' in prefix else \
                '/' + rest
    if lowered.startswith('system32/'):
        return '/Windows/' + path
    return None


def _start_text(start):
    return '%s (%s start)' % (start, START_NAMES.get(start, 'unknown'))


def effective_start(info):
    """(start type or None, words saying where it comes from)."""
    start, overrides = info['start'], info['start_override']
    said = 'Start=%s' % ('missing' if start is None else _start_text(start))
    if not overrides:
        return start, said
    listed = ', '.join('StartOverride\\%s=%s' % item
                       for item in sorted(overrides.items()))
    kinds = list(overrides.values())
    if not all(isinstance(k, int) for k in kinds) or len(set(kinds)) != 1:
        return None, '%s but %s disagree' % (said, listed)
    override = kinds[0]
    return override, '%s overridden by %s (%s start)' % (
        said, listed, START_NAMES.get(override, 'unknown'))


def _in_store(name, store):
    return any(entry.startswith(name + '.inf_') for entry in store)


def _bus_text(name, info):
    bus = info.get('bus_type')
    if bus is None:
        return None
    return '%s Parameters\\BusType=%d (%s)' % (name, bus,
                                               BUS_TYPES.get(bus, 'other'))


def boot_verdict(name, infos, store, control_set):
    info = infos[name]
    extra = list(info.pop('_evidence', []))
    extra.append(_bus_text(name, info))
    if _in_store(name, store):
        extra.append('%s driver package is in the DriverStore' % name)
    stale = info['stale_sets']
    where = 'in the current control set %s' % control_set
    if not info['service']:
        if stale:
            return verdict(
                'missing', 'no %s service %s; only %s has one, and a '
                'control set that is not current does not count'
                % (name, where, ', '.join(stale)), *extra)
        if not info['file']:
            return verdict('missing', 'no %s service %s and no %s/%s.sys'
                           % (name, where, DRIVERS_DIR, name), *extra)
        return verdict('unknown', '%s/%s.sys present but no %s service %s'
                       % (DRIVERS_DIR, name, name, where), *extra)
    start, said = effective_start(info)
    service = '%s service in %s has %s' % (name, control_set, said)
    image = info['image_path'] or '(none: default %s)' % info['file_path']
    reasons = []
    if start in (3, 4):
        reasons.append('%s: a boot disk driver must be boot-start (0)'
                       % service)
    if info['file'] is False:
        reasons.append('%s service in %s has ImagePath %s, and %s is not '
                       'on the volume' % (name, control_set, image,
                                          info['file_path']))
    if reasons:
        return verdict('missing', *(reasons + extra))
    if info['file'] is None:
        return verdict('unknown', '%s service in %s has ImagePath %s, '
                       'which does not map to a file on the Windows '
                       'volume' % (name, control_set, image), *extra)
    if start == 0:
        return verdict('ready', '%s and its file %s is present'
                       % (service, info['file_path']), *extra)
    return verdict('unknown', '%s, not boot-start' % service, *extra)


def net_verdict(infos, store):
    info = infos['netkvm']
    extra = list(info.pop('_evidence', []))
    if _in_store('netkvm', store):
        extra.append('netkvm driver package is in the DriverStore')
    if info['service'] and info['file']:
        return verdict('ready', 'netkvm.sys present and the netkvm service '
                       'exists (Start=%s)' % info['start'], *extra)
    if not info['service'] and not info['file']:
        return verdict('missing', 'no netkvm service and no netkvm.sys',
                       *extra)
    return verdict('unknown', 'netkvm is only partly installed (service: '
                   '%s, file: %s)' % (info['service'], info['file']), *extra)


def inbox_verdict(names, infos, label, helpers):
    starts = {n: effective_start(infos[n]) for n in names + helpers}
    ready = [n for n in names if infos[n]['service'] and
             infos[n]['file'] and starts[n][0] == 0]
    if ready:
        evidence = ['%s.sys present and the %s service is boot-start '
                    '(%s)' % (n, n, starts[n][1]) for n in ready]
        for helper in helpers:
            if infos[helper]['service'] and starts[helper][0] != 0:
                evidence.append('%s service has %s'
                                % (helper, starts[helper][1]))
        return verdict('ready', *evidence)
    if not any(infos[n]['service'] or infos[n]['file'] for n in names):
        return verdict('missing', 'no %s driver (%s) installed'
                       % (label, ', '.join(names)))
    states = ', '.join(
        '%s %s' % (n, starts[n][1] if infos[n]['service'] else 'no service')
        for n in names if infos[n]['service'] or infos[n]['file'])
    return verdict('unknown', 'no %s driver is boot-start (%s)'
                   % (label, states))
