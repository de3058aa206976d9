"""Read a Windows guest's registry hives for version and storage drivers."""

import logging
import struct

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
START_NAMES = {0: 'boot', 1: 'system', 2: 'automatic', 3: 'demand',
               4: 'disabled'}
ARCHES = {'AMD64': 'x86_64', 'X86': 'i686', 'ARM64': 'aarch64'}


def is_windows(fs):
    return fs.kind == 'ntfs' and fs.exists(CONFIG_DIR + '/SYSTEM')


def open_hive(fs, name, notes):
    import pyregf
    fobj = fs.open('%s/%s' % (CONFIG_DIR, name))
    if fobj is None:
        notes.append('%s hive not found' % name)
        return None
    head = fobj.read_at(0, 12)
    if len(head) == 12 and head[:4] == b'regf':
        primary, secondary = struct.unpack_from('<II', head, 4)
        if primary != secondary:
            notes.append('%s hive is dirty (its transaction logs were not '
                         'replayed); recent changes may be missing' % name)
    hive = pyregf.file()
    try:
        hive.open_file_object(fobj)
    except (OSError, IOError) as exc:
        notes.append('%s hive is unreadable: %s'
                     % (name, str(exc).split('. ')[0]))
        return None
    return hive


def _key(hive, path):
    try:
        return hive.get_key_by_path(path)
    except (OSError, IOError):
        return None


def _value(key, name):
    if key is None:
        return None
    try:
        value = key.get_value_by_name(name)
        if value is None:
            return None
        if value.type in (4, 5, 11):
            return value.data_as_integer
        if value.type in (1, 2):
            return value.data_as_string
        if value.type == 7:
            return list(value.data_as_multi_string)
        return value.data
    except (OSError, IOError, UnicodeError):
        return None


def _string(key, name):
    """A string value, or None: a value of another type is not trusted."""
    value = _value(key, name)
    return value if isinstance(value, str) else None


def _subkey_names(key):
    if key is None:
        return []
    try:
        return [sub.name for sub in key.sub_keys]
    except (OSError, IOError):
        return []


def inspect_windows(fs, result):
    notes = result['notes']
    system = open_hive(fs, 'SYSTEM', notes)
    if system is None:
        raise_unknown(result, 'SYSTEM hive could not be read')
        return
    current = _value(_key(system, '\\Select'), 'Current')
    if not isinstance(current, int) or not 0 < current < 1000:
        current = 1
        notes.append('Select\\Current missing; assuming ControlSet001')
    control_set = 'ControlSet%03d' % current
    windows = {'product_name': None, 'build': None, 'edition': None,
               'installation_type': None, 'control_set': control_set,
               'drivers': {}}
    software = open_hive(fs, 'SOFTWARE', notes)
    version = _version(software, windows, result)
    arch = _value(_key(system, '\\%s\\Control\\Session Manager\\'
                       'Environment' % control_set),
                  'PROCESSOR_ARCHITECTURE')
    result['os'].update({
        'family': 'windows', 'distro': 'windows', 'version': version,
        'product_name': windows['product_name'], 'build': windows['build'],
        'arch': ARCHES.get(str(arch).upper()) if arch else None})

    services = '\\%s\\Services' % control_set
    store = [name.lower() for name in fs.listdir(DRIVER_STORE)]
    mappings = _pci_mappings(system, control_set)
    for name in SERVICES:
        windows['drivers'][name] = _driver(fs, system, services, name,
                                           mappings)
    result['windows'] = windows
    drivers = windows['drivers']
    result['drivers']['virtio_blk'] = boot_verdict('viostor', drivers, store)
    result['drivers']['virtio_scsi'] = boot_verdict('vioscsi', drivers,
                                                    store)
    result['drivers']['virtio_net'] = net_verdict(drivers, store)
    result['drivers']['ide'] = inbox_verdict(
        ('intelide', 'pciide'), drivers, 'IDE', ('atapi',))
    result['drivers']['sata'] = inbox_verdict(('storahci', 'msahci'),
                                              drivers, 'AHCI (SATA)', ())


def raise_unknown(result, reason):
    for key in result['drivers']:
        result['drivers'][key] = verdict('unknown', reason)


def _version(software, windows, result):
    if software is None:
        return None
    key = _key(software, '\\Microsoft\\Windows NT\\CurrentVersion')
    if key is None:
        result['notes'].append('SOFTWARE hive has no CurrentVersion key')
        return None
    windows['product_name'] = _string(key, 'ProductName')
    build = _value(key, 'CurrentBuild') or _value(key, 'CurrentBuildNumber')
    windows['build'] = None if build is None else str(build)
    windows['edition'] = _string(key, 'EditionID')
    windows['installation_type'] = _string(key, 'InstallationType')
    build = windows['build']
    name = windows['product_name'] or ''
    # ASCII digits only ('²'.isdigit() is true), and no int() of thousands
    # of digits.
    digits = str(build)
    windows11 = 0 < len(digits) < 10 and not digits.strip('0123456789') \
        and int(digits) >= 22000
    if name.startswith('Windows 10') and windows11:
        # Windows 11 still writes "Windows 10" into ProductName.
        windows['product_name'] = 'Windows 11' + name[len('Windows 10'):]
        result['notes'].append('ProductName says %r but build %s is '
                               'Windows 11' % (name, build))
    major = _value(key, 'CurrentMajorVersionNumber')
    minor = _value(key, 'CurrentMinorVersionNumber')
    if isinstance(major, int):
        return '%d.%d' % (major, minor if isinstance(minor, int) else 0)
    return _string(key, 'CurrentVersion')


def _pci_mappings(system, control_set):
    """PCI ids mapped to a driver: {service: [evidence]}; None if no db."""
    found = {}
    cdd = _key(system, '\\%s\\Control\\CriticalDeviceDatabase'
               % control_set)
    ddb = _key(system, '\\DriverDatabase\\DeviceIds\\PCI')
    for sub in _subkey_names(cdd):
        lowered = sub.lower()
        for service, ids in PCI_IDS.items():
            if any(lowered.startswith('pci#ven_1af4&dev_%s' % dev)
                   for dev in ids):
                target = _value(_key(
                    system, '\\%s\\Control\\CriticalDeviceDatabase\\%s'
                    % (control_set, sub)), 'Service')
                if str(target).lower() == service:
                    found.setdefault(service, []).append(
                        'CriticalDeviceDatabase maps %s to %s'
                        % (sub, service))
    for sub in _subkey_names(ddb):
        lowered = sub.lower()
        for service, ids in PCI_IDS.items():
            if any(lowered.startswith('ven_1af4&dev_%s' % dev)
                   for dev in ids):
                found.setdefault(service, []).append(
                    'DriverDatabase has PCI\\%s' % sub)
    return found if (cdd is not None or ddb is not None) else None


def _driver(fs, system, services, name, mappings):
    key = _key(system, '%s\\%s' % (services, name))
    start = _value(key, 'Start')
    image_path = _value(key, 'ImagePath')
    files = ['%s/%s.sys' % (DRIVERS_DIR, name)]
    if isinstance(image_path, str):
        files.insert(0, _windows_path(image_path))
    present = any(path and fs.exists(path) for path in files)
    pci = None
    if name in PCI_IDS and mappings is not None:
        pci = name in mappings
    info = {'file': present, 'service': key is not None,
            'start': start if isinstance(start, int) else None,
            'pci_mapping': pci}
    info['_evidence'] = (mappings or {}).get(name, [])
    info['_group'] = _value(key, 'Group')
    return info


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


def _in_store(name, store):
    return any(entry.startswith(name + '.inf_') for entry in store)


def boot_verdict(name, drivers, store):
    info = drivers[name]
    extra = list(info.pop('_evidence', []))
    info.pop('_group', None)
    if _in_store(name, store):
        extra.append('%s driver package is in the DriverStore' % name)
    if not info['service'] and not info['file']:
        return verdict('missing', 'no %s service and no %s.sys' % (name,
                                                                   name),
                       *extra)
    if not info['service']:
        return verdict('unknown', '%s.sys present but no %s service'
                       % (name, name), *extra)
    if not info['file']:
        return verdict('unknown', '%s service present but %s.sys not '
                       'found' % (name, name), *extra)
    if info['start'] == 0:
        return verdict('ready', '%s.sys present and the %s service is '
                       'boot-start (Start=0)' % (name, name), *extra)
    return verdict('unknown', '%s service has Start=%s, not boot-start'
                   % (name, _start_text(info['start'])), *extra)


def net_verdict(drivers, store):
    info = drivers['netkvm']
    extra = list(info.pop('_evidence', []))
    info.pop('_group', None)
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


def inbox_verdict(names, drivers, label, helpers):
    for name in names + helpers:
        drivers[name].pop('_evidence', None)
        drivers[name].pop('_group', None)
    ready = [n for n in names if drivers[n]['service'] and
             drivers[n]['file'] and drivers[n]['start'] == 0]
    if ready:
        evidence = ['%s.sys present and the %s service is boot-start '
                    '(Start=0)' % (n, n) for n in ready]
        for helper in helpers:
            if drivers[helper]['service'] and drivers[helper]['start'] != 0:
                evidence.append('%s service has Start=%s' % (
                    helper, _start_text(drivers[helper]['start'])))
        return verdict('ready', *evidence)
    if not any(drivers[n]['service'] or drivers[n]['file'] for n in names):
        return verdict('missing', 'no %s driver (%s) installed'
                       % (label, ', '.join(names)))
    states = ', '.join(
        '%s %s' % (n, ('Start=%s' % _start_text(drivers[n]['start']))
                   if drivers[n]['service'] else 'no service')
        for n in names if drivers[n]['service'] or drivers[n]['file'])
    return verdict('unknown', 'no %s driver is boot-start (%s)'
                   % (label, states))
