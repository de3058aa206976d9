"""server virtio-audit/-set/-rollback: the bus each server was booted with."""

import argparse
import logging

from glance_virtio import audit
from glance_virtio.cli import common
from glance_virtio.cli import rollback
from glance_virtio import columns
from glance_virtio import engine
from glance_virtio.kinds import servers
from glance_virtio import plan
from glance_virtio.services import novamanage

LOG = logging.getLogger(__name__)


COLUMNS = (
    ('ID', 'id', None), ('Name', 'name', None),
    ('Project', 'project_id', None), ('Status', 'status', None),
    ('Boot', 'boot', None), ('Image', 'image_id', None),
    ('Volume', 'volume_id', None),
    ('Booted Bus', 'booted_hw_disk_bus', None),
    ('Booted SCSI Model', 'booted_hw_scsi_model', None),
    ('Image Bus', 'image_hw_disk_bus', None),
    ('Drift', 'drift', columns.ServerDriftColumn),
    ('Known From', 'known_from', None),
    ('Findings', 'findings', common.FindingsColumn),
)
LONG_COLUMNS = (
    ('Volume Bus', 'volume_hw_disk_bus', None), ('OS', 'os', None),
    ('Readiness', 'readiness', common.DictColumn),
    ('Recommended Bus', 'recommended_bus', None),
    ('Severity', 'severity', None), ('Notes', 'notes', common.ListColumn),
    ('Details', 'findings', common.MessagesColumn),
)
EPILOGS = {
    'audit': ('{cmd}\n'
              '{cmd} --nova-manage "docker exec nova_api nova-manage"\n'
              '{cmd} web-1 --long -f json',
              '  0  success (with --fail-on: no finding at or above it)\n'
              '  1  runtime error: login or connection failed, a name '
              'matching no\n     server or several, nova-manage cannot run\n'
              '  2  usage error\n'
              '  3  a finding at or above --fail-on, or drift with '
              '--fail-on-drift'),
    'set': ('{cmd} web-1 --bus scsi --nova-manage /usr/bin/nova-manage '
            '--dry-run\n'
            '{cmd} --all --bus scsi --nova-manage "kubectl -n openstack exec '
            'deploy/nova-api -- nova-manage" --yes',
            '  0  every selected server has the target properties\n'
            '  1  runtime error, a Nova without the fix for bug 2078999, a '
            'cancelled run\n'
            '  2  usage error\n'
            '  4  a server failed, was in conflict or is uncertain, or did '
            'not start\n'
            '  5  nothing failed, but a server was blocked or skipped'),
    'rollback': ('{cmd} server-set.jsonl --nova-manage /usr/bin/nova-manage '
                 '--dry-run',
                 '  0  every server is back to its journalled state\n'
                 '  1  runtime error, an unreadable journal\n'
                 '  2  usage error\n'
                 '  4  a server failed, could not be fully restored, or did '
                 'not start'),
}


class Lister(common.ChangeLister):

    family = 'server'
    epilogs = EPILOGS


def timeout_arg(text):
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError('must be a whole number of '
                                         'seconds, 1 or more')
    return value


def add_common(parser, required):
    parser.add_argument('servers', metavar='<server>', nargs='*',
                        help='Server ids or names, each matching exactly one '
                             'server (default: every visible server)')
    parser.add_argument('--project', metavar='<project-id>',
                        help='Only servers of this project (admin)')
    add_nova_manage(parser, required)


def add_nova_manage(parser, required=False):
    parser.add_argument('--nova-manage', metavar='<command>',
                        required=required,
                        help='The command that runs nova-manage on this '
                             'deployment, e.g. "docker exec nova_api '
                             'nova-manage"; split like a shell line, run '
                             'without a shell')
    parser.add_argument('--nova-manage-timeout', metavar='<seconds>',
                        type=timeout_arg, default=novamanage.TIMEOUT,
                        help='Seconds one nova-manage run may take '
                             '(default: %d)' % novamanage.TIMEOUT)


def nova_manage(parsed_args):
    return servers.nova_manage(parsed_args.nova_manage,
                               parsed_args.nova_manage_timeout)


class AuditServers(Lister):
    """Audit the disk bus each server was booted with, and its drift"""

    command = 'audit'

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        add_common(parser, required=False)
        parser.add_argument('--long', action='store_true',
                            help='List additional fields in output')
        parser.add_argument('--only-drift', action='store_true',
                            help='List only servers whose booted bus '
                                 'differs from their image, or is unknown')
        common.severity_choice(parser, 'none')
        parser.add_argument('--fail-on-drift', action='store_true',
                            help='Exit with code %d when a server drifts '
                                 'from its image' % common.EXIT_FINDINGS)
        parser.add_argument('--concurrency', metavar='<count>',
                            type=common.concurrency_arg, default=4,
                            help='nova-manage runs at the same time '
                                 '(default: 4)')
        return parser

    def take_action(self, parsed_args):
        policy = common.load_policy(self.app)
        manage = nova_manage(parsed_args)
        if manage is not None:
            servers.check_runs(manage)
        found, _, images, boots = servers.gather(
            common.connection(self.app), parsed_args, manage,
            parsed_args.concurrency)
        rows = servers.audit_rows(found, images, boots, policy)
        self._rows = rows
        if parsed_args.only_drift:
            rows = [r for r in rows if r['drift']]
        long = parsed_args.long or common.wants_everything(parsed_args)
        return common.table(COLUMNS + (LONG_COLUMNS if long else ()), rows,
                            parsed_args)

    def run(self, parsed_args):
        self._rows = []
        result = common.Lister.run(self, parsed_args)
        if result:
            return result
        if parsed_args.fail_on and audit.failing(self._rows,
                                                 parsed_args.fail_on):
            return common.EXIT_FINDINGS
        if parsed_args.fail_on_drift and any(
                r['drift'] and r['drift'] != servers.UNKNOWN
                for r in self._rows):
            return common.EXIT_FINDINGS
        return 0


def add_apply(parser):
    common.add_apply_options(parser, 'Servers', concurrency=4)
    parser.add_argument('--no-restart', action='store_true',
                        help='Leave the servers this command stopped '
                             'SHUTOFF')


SET_COLUMNS = (
    ('ID', 'id', None), ('Name', 'name', None), ('Action', 'action', None),
    ('Outcome', 'outcome', None), ('Power', 'power', None),
    ('Changes', 'changes', common.ChangesColumn),
    ('Findings', 'findings', common.FindingsColumn),
    ('Reason', 'reason', None),
)
ROLLBACK_COLUMNS = (
    ('ID', 'id', None), ('Name', 'name', None), ('Outcome', 'outcome', None),
    ('Power', 'power', None), ('Changes', 'changes', common.ChangesColumn),
    ('Reason', 'reason', None),
)


class SetServers(Lister):
    """Set the disk bus Nova recorded for servers: stop, nova-manage, start"""

    command = 'set'

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        add_common(parser, required=True)
        parser.add_argument('--all', action='store_true',
                            help='Select every visible server (required '
                                 'when none is named)')
        parser.add_argument('--follow-images', metavar='<journal>',
                            help='Only servers booted from the images this '
                                 'image set journal changed (from them or '
                                 'from volumes made of them)')
        common.add_target(parser, self, machine_type=False, example='')
        add_apply(parser)
        return parser

    def take_action(self, parsed_args):
        args = parsed_args
        if not (args.servers or args.all or args.project
                or args.follow_images):
            common.usage_error(self, 'name the servers, give --project or '
                                     '--follow-images, or use --all')
        common.check_target(self, args)
        config = common.load_conf(self.app)
        policy = common.load_policy(self.app, args.allow)
        manage = nova_manage(args)
        version = servers.check_runs(manage)
        conn = common.connection(self.app)
        target = plan.Target(args.bus, args.scsi_model)
        changes = servers.plan_for(conn, args, manage, target, policy,
                                   version)
        rows, self._exit = engine.change(
            servers.Servers(manage, not args.no_restart), conn, changes,
            args, common.opener(conn, config, args, 'server-set',
                                target=vars(target)), args.concurrency)
        return common.table(SET_COLUMNS, rows, args)


class RollbackServers(Lister, rollback.Command):
    """Restore the recorded bus of the servers a server-set journal changed"""

    columns = ROLLBACK_COLUMNS
    source_help = 'Journal written by the server set command'
    entries = staticmethod(servers.rollback_entries)

    def add_options(self, parser):
        add_nova_manage(parser, required=True)
        add_apply(parser)

    def kind(self, parsed_args):
        manage = nova_manage(parsed_args)
        servers.check_runs(manage)
        return servers.Servers(manage, not parsed_args.no_restart)


IMPACT_COLUMNS = (('Volumes', 'volumes'), ('Volumes Differ', 'volumes_differ'),
                  ('Servers', 'servers'), ('Servers Differ', 'servers_differ'),
                  ('Servers Unknown', 'servers_unknown'))


def impact(app, conn, images, policy, manage=None):
    """Per image id: the copies volumes and servers carry (image --impact)."""
    return servers.copies(conn, images, policy, manage)
