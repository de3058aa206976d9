"""virtio-verify: boot each image as Nova would and read its console."""

import logging

from osc_lib import exceptions

from glance_virtio.cli import common
from glance_virtio import columns
from glance_virtio.kinds import images
from glance_virtio import rows as rows_
from glance_virtio.verify import boot
from glance_virtio.verify import canary
from glance_virtio.verify import runner

LOG = logging.getLogger(__name__)


class VerifyImages(common.Lister):
    """Boot each image in a local QEMU as Nova would, and read its console"""

    snapshots_default = True
    command = 'verify'

    def add_options(self, parser):
        common.add_bus(parser, 'Boot on this hw_disk_bus (virtio, scsi, '
                       'sata, ide) instead of the image\'s own',
                       required=False, machine_type='Boot on this '
                       'hw_machine_type, e.g. q35')
        # Not --timeout: the global --timeout (API calls) would take it.
        parser.add_argument('--boot-timeout', metavar='<seconds>',
                            type=common.number(10, 86400, 'give seconds from '
                                               '10 to 86400', float),
                            default=300.0,
                            help='Wall time per canary before the verdict is '
                                 'unknown (default: 300; dracut images wait '
                                 '~230 s for a missing root)')
        parser.add_argument('--memory', metavar='<MiB>',
                            type=common.positive_int, default=1024,
                            help='Guest memory (default: 1024)')
        parser.add_argument('--accel', metavar='<accel>', type=common.lower,
                            choices=['auto', 'kvm', 'tcg'], default='auto',
                            help='auto (KVM when a probe guest runs, else '
                                 'TCG), kvm or tcg (default: auto)')
        parser.add_argument('--console', metavar='<dir>', dest='console_dir',
                            help='Keep each canary\'s full serial console '
                                 'log in this directory')
        parser.add_argument('--canary-cache', metavar='<dir>',
                            default=canary.DEFAULT_CACHE,
                            help='Local copies of the images, by checksum '
                                 '(default: %s)' % canary.DEFAULT_CACHE)
        parser.add_argument('--concurrency', metavar='<count>',
                            type=common.positive_int,
                            help='Canaries at the same time (default: half '
                                 'the CPU cores, at least 1)')
        parser.add_argument('--strict', action='store_true',
                            help='An unknown verdict is a failure (exit 4)')
        parser.add_argument('--via', metavar='<where>', type=common.lower,
                            choices=['local', 'nova'], default='local',
                            help='local (QEMU here, default) or nova (boot a '
                                 'real server, read its console log, delete '
                                 'it)')
        parser.add_argument('--flavor', metavar='<flavor>',
                            help='With --via nova: the flavor to boot')
        parser.add_argument('--network', metavar='<network>',
                            help='With --via nova: a network name or id, or '
                                 '"none" (default: none)')
        common.add_long(parser, 'Also show the accelerator, CPU seconds, '
                                'peak memory, console log and reason')

    def take_action(self, parsed_args):
        args = parsed_args
        if not (args.images or args.all or images.filters(args)
                or args.name_pattern):
            common.usage_error(self, 'name the images, give a filter, or use '
                                     '--all')
        common.check_scsi_model(self, args)
        if args.via == 'nova' and not args.flavor:
            common.usage_error(self, '--via nova needs --flavor')
        if args.via == 'nova' and (args.bus or args.machine_type):
            common.usage_error(self, '--via nova boots the image as it is: '
                                     'set the properties first, or boot '
                                     'locally with --bus')
        policy = common.load_policy(self.app)
        conn = common.connection(self.app)
        found = images.select(conn, args)
        try:
            outcomes = boot.verify(conn, found, args, policy)
        except runner.QemuMissing as e:
            raise exceptions.CommandError(str(e))
        self._exit = canary.exit_code(outcomes, args.strict)
        long = columns.wants_long(args, rows_.VERIFY_LONG)
        return (rows_.VERIFY_COLUMNS + (rows_.VERIFY_LONG if long else ()),
                columns.cells(args, [rows_.verify(o, long)
                                     for o in outcomes]))
