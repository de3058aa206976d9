"""volume virtio-audit, virtio-set, virtio-rollback: Cinder's copies."""

import logging

from osc_lib import exceptions

from glance_virtio import audit
from glance_virtio.cli import common
from glance_virtio.cli import rollback
from glance_virtio import columns
from glance_virtio import engine
from glance_virtio.kinds import volumes
from glance_virtio import plan
from glance_virtio.services import cinder

LOG = logging.getLogger(__name__)

EXIT_CODES = {
    'audit': ['0  no finding at or above --fail-on, no drift with '
              '--fail-on-drift',
              '3  a finding at or above --fail-on, or drift with '
              '--fail-on-drift'],
    'set': ['0  every selected volume has the target properties',
            '4  a volume failed, was in conflict or is uncertain',
            '5  nothing failed, but a volume was blocked or skipped'],
    'rollback': ['0  every volume is back to its journalled state',
                 '4  a volume failed, was in conflict or is uncertain'],
}
EXAMPLES = {
    'audit': ['{cmd}', '{cmd} --project demo --fail-on error',
              '{cmd} --follow-images set.jsonl --only-drift'],
    'set': ['{cmd} --follow-images set.jsonl --bus scsi --dry-run',
            '{cmd} boot-vol-1 --bus scsi --yes'],
    'rollback': ['{cmd} volume-set.jsonl --dry-run',
                 '{cmd} volume-set.jsonl --yes'],
}


_RUNTIME = ('1  runtime error: login or connection failed, a name matching '
            'no volume\n     or several, an unreadable journal or policy '
            'file')
EPILOGS = {k: ('\n'.join(EXAMPLES[k]), '\n'.join(
    '  ' + line for line in [codes[0], _RUNTIME, '2  usage error']
    + codes[1:])) for k, codes in EXIT_CODES.items()}


class Lister(common.ChangeLister):

    family = 'volume'
    epilogs = EPILOGS


def connection(app):
    """The SDK connection, logged in with image and volume endpoints."""
    conn = common.connection(app)
    try:
        cinder.login(conn)
    except cinder.CloudError as e:
        raise exceptions.CommandError(str(e))
    return conn


def add_selection(parser):
    parser.add_argument('volumes', metavar='<volume>', nargs='*',
                        help='Volume ids or names, each matching exactly one '
                             'volume, else nothing is done (exit 1); '
                             'default: every bootable volume visible (all '
                             'projects for an admin)')
    parser.add_argument('--project', metavar='<project>',
                        help='Only volumes of this project (id, or name '
                             'where the user may look projects up)')
    parser.add_argument('--follow-images', metavar='<journal>',
                        help='Only volumes made from the images this '
                             'image set journal changed')


AUDIT_COLUMNS = (
    ('Kind', 'kind', None), ('ID', 'id', None), ('Name', 'name', None),
    ('Project', 'project', None), ('Status', 'status', None),
    ('Source Image', 'source_image', None),
    ('Disk Bus', 'hw_disk_bus', None), ('SCSI Model', 'hw_scsi_model', None),
    ('Drift', 'drift', None), ('Attached To', 'attached_to',
                               common.ListColumn),
    ('Recommended Bus', 'recommended_bus', None),
    ('Findings', 'findings', common.FindingsColumn), ('Note', 'note', None),
)
AUDIT_LONG = (
    ('Source Image Name', 'source_image_name', None),
    ('Image Bus', 'image_bus', common.DictColumn),
    ('Drift Keys', 'drift_keys', columns.VolumeDriftColumn),
    ('Drift Why', 'drift_why', None), ('Bootable', 'bootable', None),
    ('Changeable', 'changeable', None), ('OS', 'os', None),
    ('OS Source', 'os_source', None), ('Machine Type', 'machine_type', None),
    ('Readiness', 'readiness', common.DictColumn),
    ('Recommended Why', 'recommended_why', None),
    ('Severity', 'severity', None),
    ('Details', 'findings', common.MessagesColumn),
)


class AuditVolumes(Lister):
    """Audit bootable volumes' image metadata and its drift from the image"""

    command = 'audit'

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        add_selection(parser)
        parser.add_argument('--long', action='store_true',
                            help='List additional fields in output')
        parser.add_argument('--no-snapshots', dest='snapshots',
                            action='store_false', default=True,
                            help='Leave out the snapshots that carry a copy')
        common.severity_choice(parser, 'none: findings never change the '
                                       'exit code')
        parser.add_argument('--fail-on-drift', action='store_true',
                            help='Exit with code %d when a volume differs '
                                 'from its image' % common.EXIT_FINDINGS)
        parser.add_argument('--only-drift', action='store_true',
                            help='List only volumes that differ from their '
                                 'image')
        return parser

    def take_action(self, parsed_args):
        args = parsed_args
        policy = common.load_policy(self.app)
        conn = connection(self.app)
        vols = volumes.select(conn, args)
        if args.volumes and not vols:
            raise exceptions.CommandError('none of the volumes matched')
        snaps = volumes.snapshots(conn, args) if args.snapshots else ()
        rows = volumes.audit_rows(vols, volumes.sources(conn, vols), policy,
                                  snaps)
        failing = []
        if args.fail_on:
            failing += audit.failing(rows, args.fail_on)
        if args.fail_on_drift:
            failing += [r for r in rows if r['drift'] == volumes.DRIFTED]
        if failing:
            self._exit = common.EXIT_FINDINGS
        if args.only_drift:
            rows = [r for r in rows if r['drift'] == volumes.DRIFTED]
        long = args.long or common.wants_everything(args)
        return common.table(AUDIT_COLUMNS + (AUDIT_LONG if long else ()),
                            rows, args)


SET_COLUMNS = (
    ('ID', 'id', None), ('Name', 'name', None), ('Status', 'status', None),
    ('Action', 'action', None), ('Outcome', 'outcome', None),
    ('Changes', 'changes', common.ChangesColumn),
    ('Findings', 'findings', common.FindingsColumn),
    ('Reason', 'reason', None), ('Note', 'note', None),
)


class SetVolumes(Lister):
    """Set the disk bus in bootable volumes' image metadata, journaled"""

    command = 'set'

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        add_selection(parser)
        parser.add_argument('--all', action='store_true',
                            help='Select every visible bootable volume '
                                 '(required when none is named and no '
                                 'filter is given)')
        common.add_target(parser, self)
        common.add_apply_options(parser, 'Volumes')
        return parser

    def take_action(self, parsed_args):
        args = parsed_args
        if not (args.volumes or args.all or args.project
                or args.follow_images):
            common.usage_error(self, 'name the volumes, give --project or '
                                     '--follow-images, or use --all')
        common.check_target(self, args)
        config = common.load_conf(self.app)
        policy = common.load_policy(self.app, args.allow)
        conn = connection(self.app)
        target = plan.Target(args.bus, args.scsi_model, None,
                             args.machine_type)
        vols, changes = volumes.plan_for(conn, args, target, policy)
        by_id = {v.id: v for v in vols}
        rows, self._exit = engine.change(
            volumes.KIND, conn, changes, args,
            common.opener(conn, config, args, 'volume-set',
                          target=vars(target)),
            common.concurrency(args, config))
        for row in rows:
            vol = by_id[row['id']]
            row.update(status=vol.status, note=volumes.attached_note(vol))
        return common.table(SET_COLUMNS, rows, args)


class RollbackVolumes(Lister, rollback.Command):
    """Restore the image metadata of every volume a volume journal changed"""

    source_help = 'Journal written by the volume set command'
    entries = staticmethod(volumes.rollback_entries)

    def add_options(self, parser):
        common.add_apply_options(parser, 'Volumes')

    def kind(self, parsed_args):
        return volumes.KIND

    def connect(self):
        return connection(self.app)
