"""virtio-rollback: restore what a virtio-set journal changed."""

import logging
import sys

from osc_lib import exceptions

from glance_virtio import apply
from glance_virtio.cli import common
from glance_virtio.cli import setbus
from glance_virtio import journal

LOG = logging.getLogger(__name__)


class Rollback(common.Lister):
    """Restore the before-state of every image a journal changed"""

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        parser.add_argument('source', metavar='<journal>',
                            help='Journal written by virtio-set')
        setbus.add_apply_options(parser)
        return parser

    def take_action(self, parsed_args):
        try:
            touched = journal.touched(journal.read(parsed_args.source))
        except (OSError, ValueError) as e:
            raise exceptions.CommandError('cannot read journal: %s' % e)
        writes = [apply.Write(t['image'], t.get('name') or '', t['after'],
                              t['before']) for t in touched]
        sys.stderr.write('journal names %d images\n' % len(writes))
        columns = ('ID', 'Name', 'Outcome', 'Changes', 'Reason')
        if parsed_args.dry_run or not writes:
            rows = [(w.image_id, w.name, 'planned',
                     setbus.ChangesColumn(setbus.changes_of(w.expected,
                                                            w.desired)), '')
                    for w in writes]
            return columns, rows
        if not (parsed_args.yes or setbus.confirm(
                'Roll back %d images?' % len(writes))):
            raise exceptions.CommandError('cancelled: nothing changed')
        config = common.load_conf(self.app)
        conn = common.connection(self.app)
        record = setbus.open_journal(conn, config, parsed_args, 'rollback',
                                     rolls_back=parsed_args.source)
        outcomes, done = setbus.run_writes(
            conn, writes, record,
            parsed_args.concurrency or config.policy.concurrency)
        sys.stderr.write('done: %s\n' % setbus.describe(done))
        self._exit = setbus.exit_code((), outcomes)
        return columns, [
            (o.image_id, o.name, o.outcome,
             setbus.ChangesColumn(setbus.changes_of(o.before, o.after)),
             o.error) for o in outcomes]

    def run(self, parsed_args):
        self._exit = 0
        result = super().run(parsed_args)
        return result or self._exit
