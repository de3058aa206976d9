"""volume virtio-audit, virtio-set, virtio-rollback: Cinder's copies."""

import logging

from glance_virtio.cli import common
from glance_virtio.cli import rollback
from glance_virtio.kinds import volumes
from glance_virtio import plan
from glance_virtio.services import cinder

LOG = logging.getLogger(__name__)


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


class AuditVolumes(common.Audit):
    """Audit bootable volumes' image metadata and its drift from the image"""

    family = 'volume'
    kind_module = volumes

    def add_options(self, parser):
        add_selection(parser)
        common.add_long(parser)
        parser.add_argument('--no-snapshots', dest='snapshots',
                            action='store_false', default=True,
                            help='Leave out the snapshots that carry a copy')
        self.add_drift_options(
            parser, 'volumes that differ from their image', 'volume differs '
            'from its image', 'none: findings never change the exit code',
            only_drift_last=True)

    def rows(self, args):
        policy = common.load_policy(self.app)
        conn = common.connection(self.app, cinder.login)
        return volumes.audit_selected(conn, args, policy)

    drifted = staticmethod(volumes.drifted)


class SetVolumes(common.Change):
    """Set the disk bus in bootable volumes' image metadata, journaled"""

    family = 'volume'
    kind_module = volumes
    login = staticmethod(cinder.login)
    selection_hint = ('name the volumes, give --project or --follow-images, '
                      'or use --all')

    def add_options(self, parser):
        add_selection(parser)
        parser.add_argument('--all', action='store_true',
                            help='Select every visible bootable volume '
                                 '(required when none is named and no '
                                 'filter is given)')
        common.add_bus(parser)
        common.add_allow(parser, self)
        common.add_apply_options(parser, 'Volumes')

    def selected(self, args):
        return args.volumes or args.project or args.follow_images

    def plan(self, conn, args, config, policy):
        target = plan.Target(args.bus, args.scsi_model, None,
                             args.machine_type)
        self.vols, changes = volumes.plan_for(conn, args, target, policy)
        return volumes.KIND, target, changes, None

    def rows(self, rows):
        return volumes.with_status(self.vols, rows)


class RollbackVolumes(rollback.Command):
    """Restore the image metadata of every volume a volume journal changed"""

    family = 'volume'
    source_help = 'Journal written by the volume set command'
    login = staticmethod(cinder.login)
    entries = staticmethod(volumes.rollback_entries)

    def add_apply(self, parser):
        common.add_apply_options(parser, 'Volumes')

    def kind(self, parsed_args):
        return volumes.KIND
