"""The rows of the explain, inspect and verify tables.

Plain reports in (Explanation.to_dict(), an inspection report, a canary
outcome), tuples of cells out, in the order of the command's columns.
"""

from glance_virtio import columns
from glance_virtio import model

Lines = columns.LinesColumn

EXPLAIN_COLUMNS = ('ID', 'Name', 'Machine Type', 'Disk Bus', 'Root Disk',
                   'Config Drive', 'Controllers', 'Renames', 'Gains',
                   'Loses', 'Guest', 'Errors')
EXPLAIN_LONG = ('Devices', 'XML', 'Libvirt Adds', 'Limits')
INSPECT_COLUMNS = ('ID', 'Name', 'Status', 'Format', 'OS', 'Version',
                   'Arch', 'Firmware', 'Drivers', 'Bytes Read', 'Seconds',
                   'Error')
INSPECT_LONG = ('Product', 'Build', 'Partition Table', 'Kernels',
                'Windows Drivers', 'Fstab Devices', 'Boot Devices',
                'Evidence', 'Notes', 'Cached')
VERIFY_COLUMNS = ('ID', 'Name', 'Verdict', 'Marker', 'Evidence', 'Seconds',
                  'Booted On', 'Devices')
VERIFY_LONG = ('Accel', 'CPU Seconds', 'Peak MiB', 'Console Log', 'Reason')


def _root(state):
    root = state.get('devices') and state['devices'][0]
    return '%s (%s, %s)' % (root['dev'], root['bus'], root['guest']) \
        if root else None


def _drive(state):
    drive = next((d for d in state.get('devices') or ()
                  if d['name'] == 'disk.config'), None)
    return '%s (%s)' % (drive['dev'], drive['bus']) if drive else None


def _controllers(state, long):
    return ['%s %s (%s / %s)' % (c['pci_id'], c['name'], c['linux'],
                                 c['windows']) if long else
            '%s %s' % (c['pci_id'], c['linux'])
            for c in state.get('controllers') or ()]


def _pair(data, pick):
    current = pick(data['current'])
    target = pick(data['target']) if data['target'] else None
    return columns.SideBySide((current, target))


def explain(image, data, long):
    """One explain row; ``data`` is Explanation.to_dict() or None."""
    if data is None:
        empty = [None] * (len(EXPLAIN_COLUMNS) - 3)
        values = [image.id, image.name] + empty + [Lines([image.error])]
        return tuple(values + [None] * (len(EXPLAIN_LONG) if long else 0))
    guest = data.get('guest')
    errors = list(data['current']['errors'])
    if data['target']:
        errors += ['target: %s' % e for e in data['target']['errors']]
    values = [
        image.id, image.name,
        _pair(data, lambda s: s['machine_type']),
        _pair(data, lambda s: s['disk_bus'] + (
            '/' + s['scsi_model'] if s['scsi_model'] else '')),
        _pair(data, _root), _pair(data, _drive),
        _pair(data, lambda s: _controllers(s, long)),
        Lines(['%s -> %s' % tuple(r) for r in data.get('renames') or ()]),
        Lines(data.get('gains')), Lines(data.get('loses')),
        Lines(([guest['state']] + guest['lines']) if guest else ()),
        Lines(errors)]
    if long:
        values += [_pair(data, lambda s: s['devices']),
                   _pair(data, lambda s: s['xml']),
                   _pair(data, lambda s: s['implicit_xml']),
                   _pair(data, lambda s: s['limits'])]
    return tuple(values)


def inspect(ident, name, report, long):
    """One inspect row of an inspection report."""
    found = report.get('os') or {}
    drivers = report.get('drivers') or {}
    linux = report.get('linux') or {}
    windows = report.get('windows') or {}
    values = [ident, name, report.get('status'), report.get('format'),
              found.get('family'), found.get('distro') and ' '.join(
                  v for v in (found.get('distro'), found.get('version')) if v),
              found.get('arch'), report.get('firmware'),
              columns.DictColumn({d: drivers[d]['state'] for d in
                                  model.DRIVERS if d in drivers}),
              report.get('bytes_read'), round(report.get('seconds') or 0, 3),
              report.get('error')]
    if long:
        values += [found.get('product_name'), found.get('build'),
                   report.get('partition_table'),
                   columns.ListColumn(linux.get('kernels') or []),
                   columns.DictColumn(windows.get('drivers') or {}),
                   columns.ListColumn(linux.get('fstab_devices') or []),
                   columns.ListColumn(linux.get('boot_devices') or []),
                   columns.DictColumn({d: v.get('evidence')
                                       for d, v in drivers.items()}),
                   columns.ListColumn(report.get('notes') or []),
                   report.get('cached', False)]
    return tuple(values)


def verify(outcome, long):
    """One verify row of a canary outcome."""
    result = outcome.result
    v, plan = result.verdict, result.plan
    values = [outcome.image_id, outcome.name, v.verdict, v.marker,
              Lines(v.evidence if v.evidence or not v.reason
                    else [v.reason]),
              result.seconds, plan.booted_on if plan else None,
              Lines(plan.devices if plan else ())]
    if long:
        values += [result.accel, result.cpu_seconds, result.peak_rss_mb,
                   result.console_log, v.reason or outcome.error]
    return tuple(values)
