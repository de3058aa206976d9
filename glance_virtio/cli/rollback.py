"""virtio-rollback: restore what a virtio-set journal changed."""

import logging

from glance_virtio.cli import common
from glance_virtio import columns
from glance_virtio import engine
from glance_virtio.kinds import images

LOG = logging.getLogger(__name__)


class Command(common.Lister):
    """A rollback command: the journal, the apply options, the engine."""

    command = 'rollback'
    spec = images.ROLLBACK_COLUMNS
    source_help = None
    login = None
    entries = staticmethod(images.rollback_entries)

    def add_options(self, parser):
        parser.add_argument('source', metavar='<journal>',
                            help=self.source_help or 'Journal written by %s'
                            % common.invoked(self, 'set'))
        self.add_apply(parser)

    def add_apply(self, parser):
        common.add_apply_options(parser)

    def kind(self, parsed_args):
        return images.KIND

    def take_action(self, parsed_args):
        args = parsed_args
        engine.check_journal(args)
        kind = self.kind(args)
        start, found = engine.read_journal(self.entries, args.source)
        config = common.load_conf(self.app)
        conn = common.connection(self.app, self.login)
        rows, self._exit = engine.rollback(
            kind, conn, start, found, args,
            engine.opener(conn, config.journal.directory, args,
                          kind.rollback_command),
            args.concurrency or config.policy.concurrency,
            engine.identity(conn))
        return columns.table(self.spec, rows, args)


class Rollback(Command):
    """Restore the before-state of every image a journal changed"""
