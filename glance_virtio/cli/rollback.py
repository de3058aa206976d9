"""virtio-rollback: restore what a virtio-set journal changed."""

import logging

from osc_lib import exceptions

from glance_virtio.cli import common
from glance_virtio import engine
from glance_virtio.kinds import images

LOG = logging.getLogger(__name__)

COLUMNS = (
    ('ID', 'id', None), ('Name', 'name', None), ('Outcome', 'outcome', None),
    ('Changes', 'changes', common.ChangesColumn), ('Reason', 'reason', None),
)


def load(kind, source, entries):
    """(start, entries) of the journal at source, or a one-line error."""
    try:
        return entries(source)
    except OSError as e:
        raise exceptions.CommandError('cannot read journal %s: %s' % (
            source, e.strerror or e))
    except ValueError as e:
        raise exceptions.CommandError('cannot roll back: %s' % e)


def roll_back(cmd, args, kind, entries, conn, columns):
    """The rows of engine.rollback of the journal args.source."""
    start, found = load(kind, args.source, entries)
    config = common.load_conf(cmd.app)
    conn = conn()
    rows, cmd._exit = engine.rollback(
        kind, conn, start, found, args,
        common.opener(conn, config, args, kind.rollback_command),
        common.concurrency(args, config), common.identity(conn))
    return common.table(columns, rows, args)


class Rollback(common.ChangeLister):
    """Restore the before-state of every image a journal changed"""

    command = 'rollback'

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        parser.add_argument('source', metavar='<journal>',
                            help='Journal written by %s'
                                 % common.invoked(self, 'set'))
        common.add_apply_options(parser)
        return parser

    def take_action(self, parsed_args):
        common.check_journal_option(parsed_args)
        return roll_back(self, parsed_args, images.KIND,
                         images.rollback_entries,
                         lambda: common.connection(self.app), COLUMNS)
