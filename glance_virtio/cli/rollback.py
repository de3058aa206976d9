"""virtio-rollback: restore what a virtio-set journal changed."""

import logging
import sys

from osc_lib import exceptions

from glance_virtio import apply
from glance_virtio.cli import common
from glance_virtio.cli import setbus
from glance_virtio import glance
from glance_virtio import journal

LOG = logging.getLogger(__name__)

COLUMNS = ('ID', 'Name', 'Outcome', 'Changes', 'Reason')
PLANNED = 'planned'


def identity(conn):
    return {'cloud': conn.config.name,
            'auth_url': conn.config.get_auth_args().get('auth_url'),
            'project_id': conn.current_project_id,
            'user_id': conn.current_user_id}


def identity_warning(start, now):
    """A warning if the journal was written as someone else, or None."""
    differ = [k for k in ('cloud', 'auth_url', 'project_id', 'user_id')
              if start.get(k) and start.get(k) != now.get(k)]
    if not differ:
        return None
    return ('warning: the journal was written with %s; this rollback runs '
            'with %s' % (
                ', '.join('%s %s' % (k, start.get(k)) for k in differ),
                ', '.join('%s %s' % (k, now.get(k)) for k in differ)))


def current_state(conn, entry):
    """(outcome, found values, reason) of one journaled image, by reading it.

    The outcome is PLANNED (it still holds what the journal set),
    unchanged (already restored), conflict or failed.
    """
    keys = sorted(set(entry['before']) | set(entry['after']))
    try:
        image = glance.get_image(conn, entry['image'])
    except glance.GlanceError as e:
        if e.status in (None, 401):
            raise exceptions.CommandError('cannot read image %s: %s'
                                          % (entry['image'], e))
        return apply.FAILED, None, str(e)
    found = {k: image.properties.get(k) for k in keys}
    before = {k: entry['before'].get(k) for k in keys}
    after = {k: entry['after'].get(k) for k in keys}
    if found == before:
        return apply.UNCHANGED, found, 'already restored'
    if found == after:
        return PLANNED, found, None
    return apply.CONFLICT, found, 'changed by someone else since the ' \
        'journal: %s' % setbus.describe_conflict(found, after)


def plan_row(entry, outcome, found, reason):
    if outcome == PLANNED:
        shown = setbus.ChangesColumn(setbus.changes_of(found,
                                                       entry['before']))
    elif outcome == apply.CONFLICT:
        shown = setbus.ConflictColumn(setbus.conflict_of(found,
                                                         entry['after']))
    else:
        shown = setbus.ChangesColumn({})
    return (entry['image'], entry.get('name') or None, outcome, shown,
            reason)


class Rollback(common.Lister):
    """Restore the before-state of every image a journal changed"""

    command = 'rollback'

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        parser.add_argument('source', metavar='<journal>',
                            help='Journal written by %s'
                                 % common.invoked(self, 'set'))
        setbus.add_apply_options(parser)
        return parser

    def take_action(self, parsed_args):
        args = parsed_args
        setbus.check_journal_option(args)
        try:
            start, touched = journal.load(args.source)
        except OSError as e:
            raise exceptions.CommandError('cannot read journal %s: %s' % (
                args.source, e.strerror or e))
        except ValueError as e:
            raise exceptions.CommandError('cannot roll back: %s' % e)
        config = common.load_conf(self.app)
        conn = common.connection(self.app)
        states = [(t,) + current_state(conn, t) for t in touched]
        warning = identity_warning(start, identity(conn))
        if warning:
            sys.stderr.write(warning + '\n')
        todo = [t for t, outcome, _, _ in states if outcome == PLANNED]
        sys.stderr.write('journal names %s: %d to restore, %d already '
                         'restored, %d in conflict, %d unreadable\n' % (
                             setbus.count(len(touched), 'image'), len(todo),
                             *[sum(1 for s in states if s[1] == kind)
                               for kind in (apply.UNCHANGED, apply.CONFLICT,
                                            apply.FAILED)]))
        rows = [plan_row(*state) for state in states]
        self._exit = common.EXIT_FAILED if any(
            s[1] in apply.NOT_DONE for s in states) else 0
        if args.dry_run or not todo:
            return COLUMNS, common.cells(args, rows)
        if sys.stdin.isatty() and not args.yes:
            for row in rows:
                sys.stderr.write('  %s %s: %s %s\n' % (
                    row[0], row[1] or '', row[2],
                    row[3].human_readable().replace('\n', ', ')))
        question = 'Roll back %s?' % setbus.count(len(todo), 'image')
        if not setbus.confirm(question, args.yes):
            raise exceptions.CommandError('cancelled: nothing changed')
        record = setbus.open_journal(conn, config, args, 'rollback',
                                     rolls_back=args.source)
        writes = [apply.Write(t['image'], t.get('name') or '', t['after'],
                              t['before']) for t in todo]
        outcomes, _, interrupted = setbus.run_writes(
            conn, writes, record,
            args.concurrency or config.policy.concurrency)
        done = dict(zip((t['image'] for t in todo), outcomes))
        rows = [setbus.outcome_row(t['image'], t.get('name') or None,
                                   done[t['image']], t['after'], t['before'])
                if t['image'] in done else row
                for (t, *_), row in zip(states, rows)]
        if interrupted:
            self._exit = 1
        elif any(o is None or o.outcome in apply.NOT_DONE
                 for o in outcomes):
            self._exit = common.EXIT_FAILED
        return COLUMNS, common.cells(args, rows)

    def run(self, parsed_args):
        self._exit = 0
        result = super().run(parsed_args)
        return result or self._exit
