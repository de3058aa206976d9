"""virtio-verify: boot each image as Nova would and read its console."""

import argparse
import logging
import sys

from cliff import columns

from glance_virtio.cli import common
from glance_virtio.verify import canary
from glance_virtio.verify import runner

LOG = logging.getLogger(__name__)

COLUMNS = ('ID', 'Name', 'Verdict', 'Marker', 'Evidence', 'Seconds',
           'Booted On', 'Devices')
LONG_COLUMNS = ('Accel', 'CPU Seconds', 'Peak MiB', 'Console Log', 'Reason')
EXAMPLES = ('{cmd} debian-12 --bus scsi\n'
            '{cmd} --tag golden --console /var/tmp/canary --concurrency 2\n'
            '{cmd} win2019 --bus virtio --strict\n'
            '{cmd} debian-12 --via nova --flavor m1.small --network none')
CODES = '\n'.join([
    '  0  every canary booted',
    '  1  runtime error: login or connection failed, a name matching no '
    'image\n     or several, QEMU missing, an unreadable policy file',
    '  2  usage error',
    '  4  a canary failed to boot, or an image could not be booted',
    '  5  nothing failed, but a verdict is unknown (4 with --strict)'])


class Lines(columns.FormattableColumn):
    def human_readable(self):
        return '\n'.join(str(v) for v in self._value or ())

    def machine_readable(self):
        return list(self._value or ())


def seconds_arg(text):
    try:
        value = float(text)
    except ValueError:
        value = 0
    if not 10 <= value <= 86400:
        raise argparse.ArgumentTypeError('give seconds from 10 to 86400')
    return value


def add_target_options(parser):
    parser.add_argument('--bus', metavar='<bus>', type=common.lower,
                        choices=['virtio', 'scsi', 'sata', 'ide'],
                        help='Boot on this hw_disk_bus (virtio, scsi, sata, '
                             'ide) instead of the image\'s own')
    common.add_scsi_model(parser)
    parser.add_argument('--machine-type', metavar='<type>',
                        help='Boot on this hw_machine_type, e.g. q35')


def add_boot_options(parser):
    """Options of a local canary boot, shared with set --verify."""
    # Not --timeout: the global --timeout (API calls) would take it.
    parser.add_argument('--boot-timeout', metavar='<seconds>',
                        type=seconds_arg, default=300.0,
                        help='Wall time per canary before the verdict is '
                             'unknown (default: 300; dracut images wait '
                             '~230 s for a missing root)')
    parser.add_argument('--memory', metavar='<MiB>', type=common.positive_int,
                        default=1024, help='Guest memory (default: 1024)')
    parser.add_argument('--accel', metavar='<accel>', type=common.lower,
                        choices=['auto', 'kvm', 'tcg'], default='auto',
                        help='auto (KVM when a probe guest runs, else TCG), '
                             'kvm or tcg (default: auto)')
    parser.add_argument('--console', metavar='<dir>', dest='console_dir',
                        help='Keep each canary\'s full serial console log '
                             'in this directory')
    parser.add_argument('--canary-cache', metavar='<dir>',
                        default=canary.DEFAULT_CACHE,
                        help='Local copies of the images, by checksum '
                             '(default: %s)' % canary.DEFAULT_CACHE)


def boot_options(args):
    return runner.Options(timeout=args.boot_timeout, memory_mb=args.memory,
                          accel=args.accel, console_dir=args.console_dir)


def row(outcome, long):
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


def progress(outcome):
    sys.stderr.write('canary %s %s: %s%s\n' % (
        outcome.image_id, outcome.name, outcome.verdict,
        ' (%s)' % outcome.result.verdict.marker
        if outcome.result.verdict.marker else ''))


class VerifyImages(common.Lister):
    """Boot each image in a local QEMU as Nova would, and read its console"""

    command = 'verify'

    def get_epilog(self):
        return common.epilog(EXAMPLES.format(cmd=common.invoked(self)),
                             CODES)

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        common.add_selection(parser, snapshots_default=True)
        add_target_options(parser)
        add_boot_options(parser)
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
        parser.add_argument('--long', action='store_true',
                            help='Also show the accelerator, CPU seconds, '
                                 'peak memory, console log and reason')
        return parser

    def take_action(self, parsed_args):
        args = parsed_args
        if not (args.images or args.all or common.filters(args)
                or args.name_pattern):
            common.usage_error(self, 'name the images, give a filter, or use '
                                     '--all')
        if args.scsi_model and args.bus != 'scsi':
            common.usage_error(self, '--scsi-model needs --bus scsi')
        if args.via == 'nova' and not args.flavor:
            common.usage_error(self, '--via nova needs --flavor')
        if args.via == 'nova' and (args.bus or args.machine_type):
            common.usage_error(self, '--via nova boots the image as it is: '
                                     'set the properties first, or boot '
                                     'locally with --bus')
        policy = common.load_policy(self.app)
        conn = common.connection(self.app)
        images = common.select(conn, args)
        if args.via == 'nova':
            from glance_virtio.verify import viaserver
            outcomes = viaserver.verify_images(
                conn, images, args.flavor, args.network or 'none',
                args.boot_timeout, progress)
        else:
            try:
                runner.qemu_binary(boot_options(args))
            except runner.QemuMissing as e:
                from osc_lib import exceptions
                raise exceptions.CommandError(str(e))
            target = canary.Target(args.bus, args.scsi_model,
                                   args.machine_type)
            outcomes = canary.verify_images(
                conn, images, target, boot_options(args), policy,
                args.canary_cache, args.concurrency, progress)
        self._exit = canary.exit_code(outcomes, args.strict)
        long = common.wants_long(args, LONG_COLUMNS)
        return COLUMNS + (LONG_COLUMNS if long else ()), common.cells(
            args, [row(o, long) for o in outcomes])

    def run(self, parsed_args):
        self._exit = 0
        result = super().run(parsed_args)
        return result or self._exit
