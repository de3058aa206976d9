"""virtio-explain: what the guest sees now and after a bus change."""

import logging

from glance_virtio.cli import common
from glance_virtio import columns
from glance_virtio import engine
from glance_virtio.kinds import images
from glance_virtio.knowledge import explain
from glance_virtio import rows as rows_

LOG = logging.getLogger(__name__)


class ExplainImages(common.Lister):
    """Show the disks, controllers and XML a guest gets, now and after --bus"""

    snapshots_default = True
    command = 'explain'

    def add_options(self, parser):
        common.add_bus(parser, 'Show the target hw_disk_bus side by side: '
                       'virtio, scsi, sata, ide', required=False,
                       machine_type='Target hw_machine_type, e.g. q35 '
                       '(alone: the same bus on that machine type)')
        parser.add_argument('--no-config-drive', dest='config_drive',
                            action='store_false',
                            help='Servers boot without a config drive')
        parser.add_argument('--ephemeral', action='store_true',
                            help='The flavor has an ephemeral disk')
        parser.add_argument('--swap', action='store_true',
                            help='The flavor has a swap disk')
        common.add_long(parser, 'Also list devices, XML, what libvirt adds '
                                'and limits')
        common.add_deep(parser)

    def take_action(self, parsed_args):
        args = parsed_args
        common.check_scsi_model(self, args)
        config = common.load_conf(self.app)
        policy = common.load_policy(self.app)
        conn = common.connection(self.app)
        found = images.select(conn, args)
        results = explain.explain_images(
            found, policy, args.bus, args.scsi_model, args.machine_type,
            common.inspections(self.app, conn, found, args, config),
            explain.Options(args.config_drive, args.ephemeral, args.swap))
        if any(data is None for _, data in results):
            self._exit = engine.EXIT_FAILED
        elif any(explain.has_errors(data) for _, data in results):
            self._exit = engine.EXIT_FINDINGS
        long = columns.wants_long(args, rows_.EXPLAIN_LONG)
        return (rows_.EXPLAIN_COLUMNS + (rows_.EXPLAIN_LONG if long else ()),
                columns.cells(args, [rows_.explain(image, data, long)
                                     for image, data in results]))
