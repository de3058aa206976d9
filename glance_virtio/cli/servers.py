"""server virtio-audit/-set/-rollback: the bus each server was booted with."""

import logging

from glance_virtio.cli import common
from glance_virtio.cli import rollback
from glance_virtio.kinds import servers
from glance_virtio import plan
from glance_virtio.services import novamanage

LOG = logging.getLogger(__name__)


def add_selection(parser, required):
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
                        type=common.number(1, None, 'must be a whole number '
                                           'of seconds, 1 or more'),
                        default=novamanage.TIMEOUT,
                        help='Seconds one nova-manage run may take '
                             '(default: %d)' % novamanage.TIMEOUT)


def nova_manage(parsed_args):
    return servers.nova_manage(parsed_args.nova_manage,
                               parsed_args.nova_manage_timeout)


def add_apply(parser):
    common.add_apply_options(parser, 'Servers', concurrency=4)
    parser.add_argument('--no-restart', action='store_true',
                        help='Leave the servers this command stopped '
                             'SHUTOFF')


class AuditServers(common.Audit):
    """Audit the disk bus each server was booted with, and its drift"""

    family = 'server'
    kind_module = servers

    def add_options(self, parser):
        add_selection(parser, required=False)
        common.add_long(parser)
        self.add_drift_options(
            parser, 'servers whose booted bus differs from their image, or '
            'is unknown', 'server drifts from its image', 'none')
        parser.add_argument('--concurrency', metavar='<count>',
                            type=common.concurrency_arg, default=4,
                            help='nova-manage runs at the same time '
                                 '(default: 4)')

    def rows(self, args):
        policy = common.load_policy(self.app)
        manage = nova_manage(args)
        if manage is not None:
            servers.check_runs(manage)
        return servers.audit_selected(common.connection(self.app), args,
                                      manage, policy)

    drifted = staticmethod(servers.drifted)

    def listed(self, row):
        return bool(row['drift'])


class SetServers(common.Change):
    """Set the disk bus Nova recorded for servers: stop, nova-manage, start"""

    family = 'server'
    kind_module = servers
    selection_hint = ('name the servers, give --project or --follow-images, '
                      'or use --all')

    def add_options(self, parser):
        add_selection(parser, required=True)
        parser.add_argument('--all', action='store_true',
                            help='Select every visible server (required '
                                 'when none is named)')
        parser.add_argument('--follow-images', metavar='<journal>',
                            help='Only servers booted from the images this '
                                 'image set journal changed (from them or '
                                 'from volumes made of them)')
        common.add_bus(parser, machine_type=None)
        common.add_allow(parser, self, example='')
        add_apply(parser)

    def selected(self, args):
        return args.servers or args.project or args.follow_images

    def prepare(self, args):
        self.manage = nova_manage(args)
        self.version = servers.check_runs(self.manage)

    def plan(self, conn, args, config, policy):
        target = plan.Target(args.bus, args.scsi_model)
        return (servers.Servers(self.manage, not args.no_restart), target,
                servers.plan_for(conn, args, self.manage, target, policy,
                                 self.version), None)


class RollbackServers(rollback.Command):
    """Restore the recorded bus of the servers a server-set journal changed"""

    family = 'server'
    spec = servers.ROLLBACK_COLUMNS
    source_help = 'Journal written by the server set command'
    entries = staticmethod(servers.rollback_entries)

    def add_apply(self, parser):
        add_nova_manage(parser, required=True)
        add_apply(parser)

    def kind(self, parsed_args):
        manage = nova_manage(parsed_args)
        servers.check_runs(manage)
        return servers.Servers(manage, not parsed_args.no_restart)
