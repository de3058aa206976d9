"""virtio-explain: what the guest sees now and after a bus change."""

import logging

from cliff import columns

from glance_virtio.cli import common
from glance_virtio.knowledge import explain

LOG = logging.getLogger(__name__)

COLUMNS = ('ID', 'Name', 'Machine Type', 'Disk Bus', 'Root Disk',
           'Config Drive', 'Controllers', 'Renames', 'Gains', 'Loses',
           'Guest', 'Errors')
LONG_COLUMNS = ('Devices', 'XML', 'Libvirt Adds', 'Limits')


class SideBySide(columns.FormattableColumn):
    """(current, target): one line each side; both as data for json."""

    def human_readable(self):
        current, target = self._value
        if target is None or target == current:
            return _text(current, '')
        return '%s -> %s' % (_text(current), _text(target))

    def machine_readable(self):
        current, target = self._value
        return {'current': current, 'target': target}


class Lines(columns.FormattableColumn):
    def human_readable(self):
        return '\n'.join(str(v) for v in self._value or ())

    def machine_readable(self):
        return list(self._value or ())


def _text(value, empty='-'):
    """One side of a pair; '-' for a missing side, empty for no value."""
    if value is None or value == []:
        return empty
    if isinstance(value, (list, tuple)):
        return ', '.join(str(v) for v in value)
    return str(value)


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
    return SideBySide((current, target))


def row(image, data, long):
    """One output row; ``data`` is Explanation.to_dict() or None."""
    if data is None:
        empty = [None] * (len(COLUMNS) - 3)
        values = [image.id, image.name] + empty + [Lines([image.error])]
        return tuple(values + [None] * (len(LONG_COLUMNS) if long else 0))
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


class ExplainImages(common.Lister):
    """Show the disks, controllers and XML a guest gets, now and after --bus"""

    command = 'explain'

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        common.add_selection(parser, snapshots_default=True)
        parser.add_argument('--bus', metavar='<bus>', type=common.lower,
                            choices=['virtio', 'scsi', 'sata', 'ide'],
                            help='Show the target hw_disk_bus side by side: '
                                 'virtio, scsi, sata, ide')
        common.add_scsi_model(parser)
        parser.add_argument('--machine-type', metavar='<type>',
                            help='Target hw_machine_type, e.g. q35 (alone: '
                                 'the same bus on that machine type)')
        parser.add_argument('--no-config-drive', dest='config_drive',
                            action='store_false',
                            help='Servers boot without a config drive')
        parser.add_argument('--ephemeral', action='store_true',
                            help='The flavor has an ephemeral disk')
        parser.add_argument('--swap', action='store_true',
                            help='The flavor has a swap disk')
        parser.add_argument('--long', action='store_true',
                            help='Also list devices, XML, what libvirt adds '
                                 'and limits')
        common.add_deep(parser)
        return parser

    def take_action(self, parsed_args):
        args = parsed_args
        if args.scsi_model and args.bus != 'scsi':
            common.usage_error(self, '--scsi-model needs --bus scsi')
        config = common.load_conf(self.app)
        policy = common.load_policy(self.app)
        conn = common.connection(self.app)
        images = common.select(conn, args)
        reports = common.inspections(self.app, conn, images, args,
                                     config) or {}
        options = explain.Options(args.config_drive, args.ephemeral,
                                  args.swap)
        scsi_model = args.scsi_model or (
            policy.default_scsi_model if args.bus == 'scsi' else None)
        long = common.wants_long(args, LONG_COLUMNS)
        rows = []
        self._exit = 0
        for image in images:
            if image.error:
                rows.append(row(image, None, long))
                self._exit = common.EXIT_FAILED
                continue
            result = explain.explain(
                image.properties, policy.machine_types, args.bus,
                scsi_model, args.machine_type, reports.get(image.id),
                options, image.disk_format).to_dict()
            if result['current']['errors'] or (
                    result['target'] and result['target']['errors']):
                self._exit = self._exit or common.EXIT_FINDINGS
            rows.append(row(image, result, long))
        return COLUMNS + (LONG_COLUMNS if long else ()), common.cells(
            args, rows)

    def run(self, parsed_args):
        self._exit = 0
        result = super().run(parsed_args)
        return result or self._exit
