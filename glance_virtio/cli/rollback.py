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


class Command(common.ChangeLister):
    """A rollback command: the journal, the apply options, the engine."""

    command = 'rollback'
    columns = COLUMNS
    source_help = None
    entries = staticmethod(images.rollback_entries)

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        parser.add_argument('source', metavar='<journal>',
                            help=self.source_help or 'Journal written by %s'
                            % common.invoked(self, 'set'))
        self.add_options(parser)
        return parser

    def add_options(self, parser):
        common.add_apply_options(parser)

    def kind(self, parsed_args):
        return images.KIND

    def connect(self):
        return common.connection(self.app)

    def take_action(self, parsed_args):
        args = parsed_args
        common.check_journal_option(args)
        kind = self.kind(args)
        try:
            start, found = self.entries(args.source)
        except OSError as e:
            raise exceptions.CommandError('cannot read journal %s: %s' % (
                args.source, e.strerror or e))
        except ValueError as e:
            raise exceptions.CommandError('cannot roll back: %s' % e)
        config = common.load_conf(self.app)
        conn = self.connect()
        rows, self._exit = engine.rollback(
            kind, conn, start, found, args,
            common.opener(conn, config, args, kind.rollback_command),
            common.concurrency(args, config), common.identity(conn))
        return common.table(self.columns, rows, args)


class Rollback(Command):
    """Restore the before-state of every image a journal changed"""
