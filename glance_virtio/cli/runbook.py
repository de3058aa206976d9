"""virtio-set --runbook: the glue between the command and runbook.py."""

import datetime
import logging
import sys

from osc_lib import exceptions

from glance_virtio.cli import common
from glance_virtio.knowledge import explain
from glance_virtio import journal
from glance_virtio import runbook

LOG = logging.getLogger(__name__)


def add_option(parser):
    parser.add_argument('--runbook', metavar='<file.md>',
                        help='Also write the change as an operator runbook '
                             'in Markdown (with or without --dry-run)')


def write(app, config, args, changes, inspections):
    """Write the runbook named by --runbook, if any.

    Without --journal, picks the journal path now and sets it on args, so
    the journal this run writes is the one the runbook names.
    """
    if not getattr(args, 'runbook', None):
        return
    if not args.journal:
        args.journal = journal.default_path(config.journal.directory, 'set')
    policy = common.load_policy(app, [a.upper() for a in args.allow])
    inspections = inspections or {}
    scsi_model = args.scsi_model or (
        policy.default_scsi_model if args.bus == 'scsi' else None)
    explanations = {
        c.image.id: explain.explain(
            c.image.properties, policy.default_machine_type, args.bus,
            scsi_model, args.machine_type, inspections.get(c.image.id),
            disk_format=c.image.disk_format).to_dict()
        for c in changes if not c.image.error}
    cloud = getattr(app.options, 'os_cloud', None) or \
        getattr(app.options, 'cloud', None)
    ctx = runbook.Context(
        bus=args.bus, scsi_model=scsi_model,
        vif_model=args.vif_model, machine_type=args.machine_type,
        fill_os_type=args.fill_os_type,
        allow=tuple(a.upper() for a in args.allow), deep=args.deep,
        journal=args.journal, cloud=cloud,
        config_file=getattr(app.options, 'virtio_config_file', None),
        dry_run=args.dry_run,
        generated=datetime.datetime.now(datetime.timezone.utc).strftime(
            '%Y-%m-%d %H:%M UTC'))
    text = runbook.render(changes, explanations, inspections, ctx)
    try:
        with open(args.runbook, 'w') as out:
            out.write(text)
    except OSError as e:
        raise exceptions.CommandError('cannot write runbook %s: %s'
                                      % (args.runbook, e))
    sys.stderr.write('runbook: %s\n' % args.runbook)
