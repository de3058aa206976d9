"""virtio-inspect: read OS and driver readiness from the disk image."""

import logging

from glance_virtio.cli import common
from glance_virtio import columns
from glance_virtio import engine
from glance_virtio.kinds import images
from glance_virtio import rows as rows_

LOG = logging.getLogger(__name__)


class InspectImages(common.Lister):
    """Inspect disk images for guest OS and virtio driver readiness"""

    command = 'inspect'

    def add_options(self, parser):
        parser.add_argument('images', metavar='<image>', nargs='*',
                            help='Glance image ids or names, each matching '
                                 'exactly one image, else nothing is read '
                                 '(exit 1)')
        parser.add_argument('--file', metavar='<path>', action='append',
                            default=[], dest='files',
                            help='Inspect a local disk image file instead '
                                 '(repeatable; no cloud needed)')
        common.add_long(parser)
        parser.add_argument('--no-cache', action='store_true',
                            help='Inspect again even when a cached result '
                                 'exists for the image checksum')
        parser.add_argument('--max-read', metavar='<MiB>',
                            type=common.positive_int,
                            help='Most image data to read per image, in MiB '
                                 '(default: site policy [inspect] '
                                 'max_read_mib, 256)')

    def take_action(self, parsed_args):
        args = parsed_args
        if not args.images and not args.files:
            common.usage_error(self, 'name images or give --file PATH')
        config = common.load_conf(self.app)
        if args.max_read:
            config.set_override('max_read_mib', args.max_read,
                                group='inspect')
        conn = found = None
        if args.images:
            conn = common.connection(self.app)
            found = images.find(conn, args.images)
        from glance_virtio import inspection  # heavy: only when inspecting
        reports = inspection.inspect_all(conn, args.files, found, config,
                                         use_cache=not args.no_cache)
        if any(report.get('status') != 'ok' for _, _, report in reports):
            self._exit = engine.EXIT_FAILED
        long = columns.wants_long(args, rows_.INSPECT_LONG)
        return (rows_.INSPECT_COLUMNS + (rows_.INSPECT_LONG if long else ()),
                columns.cells(args, [rows_.inspect(ident, name, report, long)
                                     for ident, name, report in reports]))
