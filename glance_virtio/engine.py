"""The change engine, written once for images, volumes and servers.

plan -> confirm -> journal -> bounded concurrent apply -> outcomes -> exit
code, and rollback of a journal. A kind (glance_virtio.kinds) supplies only
what differs: how one write is made, how a thing is read back, its noun
and the names of its journals. Rows come out as plain dicts; the commands
turn them into columns.
"""

import concurrent.futures
import dataclasses
import logging
import os
import sys
import time
from typing import Mapping, Optional

from osc_lib import exceptions

from glance_virtio import journal
from glance_virtio import plan
from glance_virtio import progress
from glance_virtio.services import glance

LOG = logging.getLogger(__name__)

CHANGED = 'changed'
UNCHANGED = 'unchanged'
CONFLICT = 'conflict'
FAILED = 'failed'
# The write may or may not have landed: the journal says which to check.
UNCERTAIN = 'uncertain'
SKIPPED = 'skipped'
# Restored what the service can, not all (nova-manage cannot remove a key).
PARTIAL = 'partial'
NOT_DONE = (FAILED, CONFLICT, UNCERTAIN)
PLANNED = 'planned'
NOT_ATTEMPTED = 'not attempted'
ATTEMPTS = 4

# Exit codes, the same for every command.
EXIT_ERROR = 1
EXIT_FINDINGS = 3
EXIT_FAILED = 4
EXIT_BLOCKED = 5


class _Named:
    """The thing's id under the names the kinds' code reads it by."""

    @property
    def image_id(self):
        return self.id

    @property
    def server_id(self):
        return self.id


@dataclasses.dataclass(frozen=True)
class Write(_Named):
    """Take the keys of one thing from expected to desired (None: absent)."""

    id: str
    name: str
    expected: Mapping[str, Optional[str]]
    desired: Mapping[str, Optional[str]]


@dataclasses.dataclass(frozen=True)
class Outcome(_Named):
    """What one write did; power is what happened to a server's power."""

    id: str
    name: str
    outcome: str
    before: Mapping[str, Optional[str]]
    after: Mapping[str, Optional[str]]
    error: str = ''
    power: str = ''
    power_error: str = ''

    @property
    def failed(self):
        return self.outcome in NOT_DONE + (PARTIAL,) or bool(
            self.power_error)


class Interrupted(Exception):
    """The run was stopped; outcomes holds the writes that finished."""

    def __init__(self, outcomes):
        super().__init__('interrupted')
        self.outcomes = outcomes


class Unreadable(Exception):
    """One thing could not be read back (a per-thing failure)."""


class Kind:
    """What a kind of thing supplies; see glance_virtio.kinds."""

    noun = 'thing'
    # '' for images, else as the commands name it: volume-set.
    family = ''
    # Keys of a journal intent naming the thing.
    journal_key = 'image'

    @property
    def set_command(self):
        return self.family + '-set' if self.family else 'set'

    @property
    def rollback_command(self):
        return self.family + '-rollback' if self.family else 'rollback'

    def run(self, conn, writes, record, concurrency, progress):
        """Outcomes of writes, in order; Interrupted on Ctrl-C."""
        raise NotImplementedError

    def get(self, conn, thing_id):
        """The thing as its service has it now, with its properties."""
        raise NotImplementedError

    def read(self, conn, thing_id, keys):
        """The current values of keys; Unreadable if it cannot be read.

        A failed login or connection, or a 401, ends the run instead.
        """
        try:
            found = self.get(conn, thing_id)
        except glance.GlanceError as e:
            if isinstance(e, glance.CloudError) or e.status in (None, 401):
                raise exceptions.CommandError('cannot read %s %s: %s'
                                              % (self.noun, thing_id, e))
            raise Unreadable(str(e))
        return {k: found.properties.get(k) for k in keys}

    def question(self, todo):
        return 'Apply to %s?' % count(len(todo), self.noun)

    def writes(self, todo):
        return [Write(c.image.id, c.image.name, c.before, c.after)
                for c in todo]


def retry(func, *args, errors=(), sleep=time.sleep, backoff=0.5):
    """func(*args), again after a retriable error of errors, ATTEMPTS times."""
    for attempt in range(1, ATTEMPTS + 1):
        try:
            return func(*args)
        except errors as e:
            if not e.retriable or attempt == ATTEMPTS:
                raise
            LOG.info('retrying after %s (attempt %d)', e, attempt)
            sleep(backoff * 2 ** (attempt - 1))


def run(writes, writer, concurrency=8, progress=None):
    """writer(write) for each write, concurrency at a time; in input order.

    On KeyboardInterrupt no new write starts; the writes in flight finish
    and Interrupted carries the outcomes so far (None: not attempted).
    """
    outcomes = [None] * len(writes)
    pool = concurrent.futures.ThreadPoolExecutor(concurrency)
    futures = {}
    try:
        for n, w in enumerate(writes):
            futures[pool.submit(writer, w)] = n
        for future in concurrent.futures.as_completed(futures):
            outcomes[futures[future]] = future.result()
            if progress:
                progress(outcomes[futures[future]])
    except KeyboardInterrupt:
        pool.shutdown(wait=True, cancel_futures=True)
        for future, n in futures.items():
            if future.done() and not future.cancelled():
                outcomes[n] = future.result()
        raise Interrupted(outcomes)
    pool.shutdown(wait=True)
    return outcomes


def count(n, noun):
    return '%d %s%s' % (n, noun, '' if n == 1 else 's')


def shown(value):
    return 'unset' if value is None else value


def changes_of(before, after):
    """{key: {before, after}} for the keys whose value changes."""
    return {k: {'before': before.get(k), 'after': after.get(k)}
            for k in after if before.get(k) != after.get(k)}


def conflict_of(found, expected):
    """{key: {found, expected}} for the keys someone else changed."""
    return {k: {'found': found.get(k), 'expected': expected.get(k)}
            for k in expected if found.get(k) != expected.get(k)}


def differences(found, expected):
    """'key is X, expected Y' for each key whose value differs."""
    return ', '.join('%s is %s, expected %s' % (k, shown(found.get(k)),
                                                shown(v))
                     for k, v in expected.items() if found.get(k) != v)


def tally(outcomes):
    counts = {}
    for outcome in outcomes:
        key = outcome.outcome if outcome else NOT_ATTEMPTED
        counts[key] = counts.get(key, 0) + 1
    return counts


def describe(counts):
    return ', '.join('%d %s' % (n, k) for k, n in sorted(counts.items()))


def confirm(question, yes=False, stdin=None, stderr=None):
    """True to go on; without a terminal only --yes goes on."""
    stdin, stderr = stdin or sys.stdin, stderr or sys.stderr
    if yes:
        return True
    if not stdin.isatty():
        raise exceptions.CommandError(
            'no terminal to confirm on: give --yes to apply without asking '
            '(nothing changed)')
    stderr.write(question + ' [y/N] ')
    stderr.flush()
    return stdin.readline().strip().lower() in ('y', 'yes')


def check_journal(options):
    """Refuse --journal on an existing file unless --append is given."""
    path = options.journal
    if path and os.path.exists(path) and not options.append:
        raise exceptions.CommandError(
            'journal %s exists: give --append to add this run to it, or '
            'another file' % path)


def open_journal(options, directory, command, identity, **header):
    """A journal, its start record written; --journal or a new default."""
    path = options.journal or journal.default_path(directory, command)
    try:
        record = journal.Journal(path)
    except OSError as e:
        raise exceptions.CommandError('cannot write journal %s: %s'
                                      % (path, e))
    record.write('start', command=command, **dict(identity, **header))
    sys.stderr.write('journal: %s\n' % path)
    return record


def identity(conn):
    """Who runs this command, as a journal's start record names it."""
    return {'cloud': conn.config.name,
            'auth_url': conn.config.get_auth_args().get('auth_url'),
            'user_id': conn.current_user_id,
            'project_id': conn.current_project_id}


def opener(conn, directory, options, command, **header):
    """open_record(**more) for change and rollback: this run's journal."""
    def open_record(**more):
        return open_journal(options, directory, command, identity(conn),
                            **dict(header, **more))
    return open_record


def run_writes(kind, conn, writes, record, concurrency):
    """(outcomes, interrupted); an outcome is None if not attempted.

    After Ctrl-C the writes in flight finish, the journal is ended and the
    outcomes so far are returned, so that the table can still be printed.
    """
    bar = progress.Progress(len(writes))
    interrupted = False
    try:
        outcomes = kind.run(conn, writes, record, concurrency, bar.update)
    except Interrupted as e:
        outcomes, interrupted = e.outcomes, True
    bar.done()
    counts = tally(outcomes)
    if interrupted:
        record.write('end', summary=counts, interrupted=True)
    else:
        record.write('end', summary=counts)
    record.close()
    if interrupted:
        sys.stderr.write(
            'interrupted: %s. The journal %s records every %s changed; '
            'run the same command again to finish, or roll it back\n'
            % (describe(counts), record.path, kind.noun))
    else:
        sys.stderr.write('done: %s\n' % describe(counts))
    return outcomes, interrupted


def show(rows):
    """Write what is about to be done, and what is not, to stderr."""
    for row in rows:
        if row.get('action') in (plan.BLOCKED, plan.SKIPPED):
            sys.stderr.write('  %s %s: %s, not changed: %s\n' % (
                row['id'], row['name'], row['action'], row['reason']))
        elif row['outcome'] == PLANNED:
            sys.stderr.write('  %s %s: %s\n' % (
                row['id'], row['name'] or '', ', '.join(
                    '%s: %s -> %s' % (k, shown(v['before']),
                                      shown(v['after']))
                    for k, v in row['changes'].items())))


def outcome_cells(done, expected, desired, reason=None):
    """outcome, changes and reason of one write, done or (None) not."""
    if done is None:
        return NOT_ATTEMPTED, {}, reason
    if done.outcome == CONFLICT:
        changes = conflict_of(done.after, expected)
    elif done.outcome == CHANGED:
        changes = changes_of(done.before, done.after)
    elif done.outcome == UNCHANGED:
        changes = {}
    else:
        changes = changes_of(expected, desired)
    why = '; '.join(r for r in (done.error or reason, done.power_error)
                    if r)
    return done.outcome, changes, why or None


def plan_row(change, done=None, applied=False):
    """The row of one planned change; with applied, what its write did."""
    row = {'id': change.image.id, 'name': change.image.name,
           'action': change.action, 'power': done.power if done else '',
           'findings': [f.to_dict() for f in change.findings]}
    if change.action == plan.CHANGE and applied:
        row['outcome'], row['changes'], row['reason'] = outcome_cells(
            done, change.before, change.after, change.reason or None)
    else:
        row['outcome'] = PLANNED if change.action == plan.CHANGE \
            else change.action
        row['changes'] = changes_of(change.before, change.after)
        row['reason'] = change.reason or None
    return row


def exit_code(changes, outcomes, interrupted=False):
    """1 interrupted, 4 a write not done, 5 blocked or skipped only, 0."""
    if interrupted:
        return EXIT_ERROR
    if any(o is None or o.failed for o in outcomes):
        return EXIT_FAILED
    if any(c.action in (plan.BLOCKED, plan.SKIPPED) for c in changes) or \
            any(o.outcome == SKIPPED for o in outcomes):
        return EXIT_BLOCKED
    return 0


def change(kind, conn, changes, options, open_record, concurrency,
           after=None):
    """Confirm, journal and apply the planned changes.

    (rows, exit code); nothing is written with --dry-run or nothing to do.
    open_record(**header) opens the journal once the run is confirmed.
    after(outcomes, journal path), when given, runs once the writes are
    done and not interrupted: ({id: cell}, exit code); the cells go into
    each row as 'after', and an exit code of 4 wins over the writes' own.
    """
    counts = plan.summary(changes)
    sys.stderr.write('plan: %(change)d to change, %(unchanged)d unchanged, '
                     '%(blocked)d blocked, %(skipped)d skipped\n' % counts)
    todo = [c for c in changes if c.action == plan.CHANGE]
    if not todo or options.dry_run:
        return ([plan_row(c) for c in changes],
                exit_code(changes, []))
    if sys.stdin.isatty() and not options.yes:
        show([plan_row(c) for c in changes])
    if not confirm(kind.question(todo), options.yes):
        raise exceptions.CommandError('cancelled: nothing changed')
    record = open_record(planned=counts)
    writes = kind.writes(todo)
    outcomes, interrupted = run_writes(kind, conn, writes, record,
                                       concurrency)
    done = {w.id: o for w, o in zip(writes, outcomes) if o is not None}
    rows = [plan_row(c, done.get(c.image.id), True) for c in changes]
    code = exit_code(changes, outcomes, interrupted)
    if after is not None and not interrupted:
        cells, after_code = after([o for o in outcomes if o], record.path)
        for row in rows:
            row['after'] = cells.get(row['id'])
        if after_code == EXIT_FAILED or not code:
            code = after_code
    return rows, code


def state(kind, conn, entry):
    """(outcome, found values, reason) of one journalled thing, read now.

    PLANNED: it still holds what the journal set; unchanged: already
    restored; conflict; failed: it cannot be read.
    """
    keys = sorted(set(entry['before']) | set(entry['after']))
    try:
        found = kind.read(conn, entry['id'], keys)
    except Unreadable as e:
        return FAILED, None, str(e)
    found = {k: found.get(k) for k in keys}
    before = {k: entry['before'].get(k) for k in keys}
    after = {k: entry['after'].get(k) for k in keys}
    if found == before:
        return UNCHANGED, found, 'already restored'
    if found == after:
        return PLANNED, found, None
    return CONFLICT, found, 'changed by someone else since the journal: ' \
        '%s' % differences(found, after)


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


def read_journal(entries, path):
    """entries(path): (start record, entries); a CommandError if it fails."""
    try:
        return entries(path)
    except OSError as e:
        raise exceptions.CommandError('cannot read journal %s: %s' % (
            path, e.strerror or e))
    except ValueError as e:
        raise exceptions.CommandError('cannot roll back: %s' % e)


def rollback(kind, conn, start, entries, options, open_record, concurrency,
             identity):
    """Restore the before-state of each journalled thing: (rows, exit code).

    entries: {'id', 'name', 'before', 'after'} per thing the journal
    changed. Each is read first: only one still holding what the journal
    set is written back; the others are shown as they are.
    """
    states = [(e,) + state(kind, conn, e) for e in entries]
    warning = identity_warning(start, identity)
    if warning:
        sys.stderr.write(warning + '\n')
    todo = [e for e, outcome, _, _ in states if outcome == PLANNED]
    sys.stderr.write('journal names %s: %d to restore, %d already restored, '
                     '%d in conflict, %d unreadable\n' % (
                         count(len(entries), kind.noun), len(todo),
                         *[sum(1 for s in states if s[1] == outcome)
                           for outcome in (UNCHANGED, CONFLICT, FAILED)]))
    rows = [_state_row(*s) for s in states]
    code = EXIT_FAILED if any(s[1] in NOT_DONE for s in states) else 0
    if options.dry_run or not todo:
        return rows, code
    if sys.stdin.isatty() and not options.yes:
        show(rows)
    if not confirm('Roll back %s?' % count(len(todo), kind.noun),
                   options.yes):
        raise exceptions.CommandError('cancelled: nothing changed')
    record = open_record(rolls_back=options.source)
    writes = [Write(e['id'], e.get('name') or '', e['after'], e['before'])
              for e in todo]
    outcomes, interrupted = run_writes(kind, conn, writes, record,
                                       concurrency)
    done = dict(zip((w.id for w in writes), outcomes))
    for row, (entry, *_) in zip(rows, states):
        if entry['id'] in done:
            row['outcome'], row['changes'], row['reason'] = outcome_cells(
                done[entry['id']], entry['after'], entry['before'])
            row['power'] = getattr(done[entry['id']], 'power', '')
    if interrupted:
        return rows, EXIT_ERROR
    if any(o is None or o.failed for o in outcomes):
        code = EXIT_FAILED
    return rows, code


def _state_row(entry, outcome, found, reason):
    if outcome == PLANNED:
        changes = changes_of(found, entry['before'])
    elif outcome == CONFLICT:
        changes = conflict_of(found, entry['after'])
    else:
        changes = {}
    return {'id': entry['id'], 'name': entry.get('name') or None,
            'outcome': outcome, 'changes': changes, 'reason': reason,
            'power': ''}


def followed(path):
    """journal.followed of the image set journal at path (--follow-images)."""
    try:
        return journal.followed(journal.read(path))
    except OSError as e:
        raise exceptions.CommandError('cannot read journal %s: %s' % (
            path, e.strerror or e))
    except ValueError as e:
        raise exceptions.CommandError('--follow-images %s: %s' % (path, e))
