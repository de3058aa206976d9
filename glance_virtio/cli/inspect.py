"""virtio-inspect: read OS and driver readiness from the disk image."""

import logging

from glance_virtio.cli import common
from glance_virtio import model

LOG = logging.getLogger(__name__)

COLUMNS = ('ID', 'Name', 'Status', 'Format', 'OS', 'Version', 'Arch',
           'Firmware', 'Drivers', 'Bytes Read', 'Seconds', 'Error')
LONG_COLUMNS = ('Product', 'Build', 'Partition Table', 'Kernels',
                'Windows Drivers', 'Fstab Devices', 'Boot Devices',
                'Evidence', 'Notes', 'Cached')


def row(ident, name, report, long):
    found = report.get('os') or {}
    drivers = report.get('drivers') or {}
    linux = report.get('linux') or {}
    windows = report.get('windows') or {}
    values = [ident, name, report.get('status'), report.get('format'),
              found.get('family'), found.get('distro') and ' '.join(
                  v for v in (found.get('distro'), found.get('version')) if v),
              found.get('arch'), report.get('firmware'),
              common.DictColumn({d: drivers[d]['state'] for d in
                                 model.DRIVERS if d in drivers}),
              report.get('bytes_read'), round(report.get('seconds') or 0, 3),
              report.get('error')]
    if long:
        values += [found.get('product_name'), found.get('build'),
                   report.get('partition_table'),
                   common.ListColumn(linux.get('kernels') or []),
                   common.DictColumn(windows.get('drivers') or {}),
                   common.ListColumn(linux.get('fstab_devices') or []),
                   common.ListColumn(linux.get('boot_devices') or []),
                   common.DictColumn({d: v.get('evidence')
                                      for d, v in drivers.items()}),
                   common.ListColumn(report.get('notes') or []),
                   report.get('cached', False)]
    return tuple(values)


class InspectImages(common.Lister):
    """Inspect disk images for guest OS and virtio driver readiness"""

    command = 'inspect'

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        parser.add_argument('images', metavar='<image>', nargs='*',
                            help='Glance image ids or names, each matching '
                                 'exactly one image, else nothing is read '
                                 '(exit 1)')
        parser.add_argument('--file', metavar='<path>', action='append',
                            default=[], dest='files',
                            help='Inspect a local disk image file instead '
                                 '(repeatable; no cloud needed)')
        parser.add_argument('--long', action='store_true',
                            help='List additional fields in output')
        parser.add_argument('--no-cache', action='store_true',
                            help='Inspect again even when a cached result '
                                 'exists for the image checksum')
        parser.add_argument('--max-read', metavar='<MiB>',
                            type=common.positive_int,
                            help='Most image data to read per image, in MiB '
                                 '(default: site policy [inspect] '
                                 'max_read_mib, 256)')
        return parser

    def take_action(self, parsed_args):
        if not parsed_args.images and not parsed_args.files:
            common.usage_error(self, 'name images or give --file PATH')
        config = common.load_conf(self.app)
        if parsed_args.max_read:
            config.set_override('max_read_mib', parsed_args.max_read,
                                group='inspect')
        long = common.wants_long(parsed_args, LONG_COLUMNS)
        if parsed_args.images:
            conn = common.connection(self.app)
            images = common.find(conn, parsed_args.images)
        from glance_virtio import inspection  # heavy: only when inspecting
        rows = [row(path, path, inspection.inspect_path(path, config), long)
                for path in parsed_args.files]
        if parsed_args.images:
            reports = inspection.inspect_images(
                conn, images, config, use_cache=not parsed_args.no_cache)
            rows += [row(i.id, i.name, reports[i.id], long) for i in images]
        self._failed = any(r[2] != 'ok' for r in rows)
        return (COLUMNS + (LONG_COLUMNS if long else ()),
                common.cells(parsed_args, rows))

    def run(self, parsed_args):
        self._failed = False
        result = super().run(parsed_args)
        return result or (common.EXIT_FAILED if self._failed else 0)
