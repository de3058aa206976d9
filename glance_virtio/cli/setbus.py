"""virtio-set: move images to a disk bus, safely, with a journal."""

import argparse
import logging
import os
import sys

from osc_lib import exceptions

from glance_virtio import apply
from glance_virtio.cli import common
from glance_virtio.cli import progress
from glance_virtio.cli import runbook
from glance_virtio import conf
from glance_virtio import journal
from glance_virtio import plan
from glance_virtio import rules
from glance_virtio.verify import afterset

LOG = logging.getLogger(__name__)

COLUMNS = ('ID', 'Name', 'Action', 'Outcome', 'Changes', 'Findings', 'Reason')


def changes_of(before, after):
    """{key: {before, after}} for the keys whose value changes."""
    return {k: {'before': before.get(k), 'after': after.get(k)}
            for k in after if before.get(k) != after.get(k)}


def conflict_of(found, expected):
    """{key: {found, expected}} for the keys someone else changed."""
    return {k: {'found': found.get(k), 'expected': expected.get(k)}
            for k in expected if found.get(k) != expected.get(k)}


def describe_conflict(found, expected):
    return ', '.join('%s is %s, expected %s' % (
        k, _shown(v['found']), _shown(v['expected']))
        for k, v in conflict_of(found, expected).items())


def _shown(value):
    return 'unset' if value is None else value


NOT_ATTEMPTED = 'not attempted'


def outcome_row(image_id, name, outcome, expected, desired, reason=None):
    """(ID, Name, Outcome, Changes, Reason) of one write, done or not."""
    if outcome is None:
        return (image_id, name, NOT_ATTEMPTED, ChangesColumn({}), reason)
    if outcome.outcome == apply.CONFLICT:
        return (image_id, name, outcome.outcome,
                ConflictColumn(conflict_of(outcome.after, expected)),
                outcome.error or reason)
    if outcome.outcome == apply.CHANGED:
        changes = changes_of(outcome.before, outcome.after)
    elif outcome.outcome == apply.UNCHANGED:
        changes = {}
    else:
        changes = changes_of(expected, desired)
    return (image_id, name, outcome.outcome, ChangesColumn(changes),
            outcome.error or reason)


def plan_rows(changes, outcomes=None, applied=False):
    """Rows of the plan; with applied, what each row's write did."""
    outcomes = outcomes or {}
    rows = []
    for change in changes:
        if change.action == plan.CHANGE and applied:
            image_id, name, outcome, shown, reason = outcome_row(
                change.image.id, change.image.name,
                outcomes.get(change.image.id), change.before, change.after,
                change.reason or None)
        else:
            image_id, name = change.image.id, change.image.name
            outcome = 'planned' if change.action == plan.CHANGE \
                else change.action
            shown = ChangesColumn(changes_of(change.before, change.after))
            reason = change.reason or None
        rows.append((image_id, name, change.action, outcome, shown,
                     common.FindingsColumn([f.to_dict()
                                            for f in change.findings]),
                     reason))
    return rows


class ChangesColumn(common.DictColumn):
    def human_readable(self):
        lines = ['%s: %s -> %s' % (key, _shown(value['before']),
                                   _shown(value['after']))
                 for key, value in self._value.items()]
        return '\n'.join(lines)


class ConflictColumn(common.DictColumn):
    def human_readable(self):
        lines = ['%s: found %s, expected %s' % (
            key, _shown(value['found']), _shown(value['expected']))
            for key, value in self._value.items()]
        return '\n'.join(lines)


def exit_code(changes, outcomes):
    if any(o is None or o.outcome in apply.NOT_DONE for o in outcomes):
        return common.EXIT_FAILED
    if any(c.action in (plan.BLOCKED, plan.SKIPPED) for c in changes):
        return common.EXIT_BLOCKED
    return 0


def confirm(question, yes=False):
    """True to go on; without a terminal only --yes goes on."""
    if yes:
        return True
    if not sys.stdin.isatty():
        raise exceptions.CommandError(
            'no terminal to confirm on: give --yes to apply without asking '
            '(nothing changed)')
    sys.stderr.write(question + ' [y/N] ')
    sys.stderr.flush()
    return sys.stdin.readline().strip().lower() in ('y', 'yes')


def count(n, noun):
    return '%d %s%s' % (n, noun, '' if n == 1 else 's')


def journal_arg(text):
    if not text.strip():
        raise argparse.ArgumentTypeError('give a file name')
    return text


def check_journal_option(parsed_args):
    """Refuse --journal on an existing file unless --append is given."""
    path = parsed_args.journal
    if path and os.path.exists(path) and not parsed_args.append:
        raise exceptions.CommandError(
            'journal %s exists: give --append to add this run to it, or '
            'another file' % path)


def add_apply_options(parser):
    parser.add_argument('--dry-run', action='store_true',
                        help='Print the plan and change nothing')
    parser.add_argument('--yes', action='store_true',
                        help='Apply without asking; without a terminal '
                             'nothing is applied unless --yes is given')
    parser.add_argument('--journal', metavar='<path>', type=journal_arg,
                        help='Journal file, new unless --append is given '
                             '(default: a new file in the site policy '
                             '[journal] directory)')
    parser.add_argument('--append', action='store_true',
                        help='Add this run to the existing --journal file')
    parser.add_argument('--concurrency', metavar='<count>',
                        type=concurrency_arg,
                        help='Images changed at the same time, 1 to %d '
                             '(default: site policy, 8)'
                             % conf.MAX_CONCURRENCY)


def concurrency_arg(text):
    try:
        value = int(text)
    except ValueError:
        value = 0
    if not 1 <= value <= conf.MAX_CONCURRENCY:
        raise argparse.ArgumentTypeError(
            'must be a whole number from 1 to %d' % conf.MAX_CONCURRENCY)
    return value


def open_journal(conn, config, parsed_args, kind, **header):
    path = parsed_args.journal or journal.default_path(
        config.journal.directory, kind)
    try:
        record = journal.Journal(path)
    except OSError as e:
        raise exceptions.CommandError('cannot write journal %s: %s'
                                      % (path, e))
    record.write('start', command=kind, cloud=conn.config.name,
                 auth_url=conn.config.get_auth_args().get('auth_url'),
                 user_id=conn.current_user_id,
                 project_id=conn.current_project_id, **header)
    sys.stderr.write('journal: %s\n' % path)
    return record


def tally(outcomes):
    counts = {}
    for outcome in outcomes:
        key = outcome.outcome if outcome else 'not attempted'
        counts[key] = counts.get(key, 0) + 1
    return counts


def run_writes(conn, writes, record, concurrency):
    """(outcomes, counts, interrupted); an outcome is None if not attempted.

    After Ctrl-C the writes in flight finish, the journal is ended and the
    outcomes so far are returned, so that the table can still be printed.
    """
    bar = progress.Progress(len(writes))
    interrupted = False
    try:
        outcomes = apply.run(conn, writes, record, concurrency, bar.update)
    except apply.Interrupted as e:
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
            'interrupted: %s. The journal %s records every image changed; '
            'run the same command again to finish, or roll it back\n'
            % (describe(counts), record.path))
    else:
        sys.stderr.write('done: %s\n' % describe(counts))
    return outcomes, counts, interrupted


def describe(counts):
    return ', '.join('%d %s' % (n, k) for k, n in sorted(counts.items()))


def show_plan(changes):
    """Write the changes about to be made, and the blocked, to stderr."""
    for change in changes:
        if change.action == plan.CHANGE:
            shown = ChangesColumn(changes_of(change.before, change.after))
            sys.stderr.write('  %s %s: %s\n' % (
                change.image.id, change.image.name,
                shown.human_readable().replace('\n', ', ')))
        elif change.action in (plan.BLOCKED, plan.SKIPPED):
            sys.stderr.write('  %s %s: %s, not changed: %s\n' % (
                change.image.id, change.image.name, change.action,
                change.reason))


class SetBus(common.Lister):
    """Set the disk bus of images in bulk, blocking known-bad combinations"""

    command = 'set'

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        common.add_selection(parser, snapshots_default=False)
        parser.add_argument('--bus', metavar='<bus>', required=True,
                            type=common.lower,
                            choices=['virtio', 'scsi', 'sata', 'ide'],
                            help='Target hw_disk_bus: virtio, scsi, sata, ide')
        common.add_scsi_model(parser)
        parser.add_argument('--vif-model', metavar='<model>',
                            type=common.lower,
                            choices=rules.ENUMS['hw_vif_model'],
                            help='Also set hw_vif_model: %s, any case '
                                 '(default: left as it is)'
                                 % ', '.join(rules.ENUMS['hw_vif_model']))
        parser.add_argument('--machine-type', metavar='<type>',
                            help='Also set hw_machine_type, e.g. q35')
        parser.add_argument('--fill-os-type', action='store_true',
                            help='Add os_type/os_distro where the guest OS is '
                                 'known for certain')
        parser.add_argument('--allow', metavar='<rule-id>', action='append',
                            type=common.rule_id(self), default=[],
                            help='Accept findings of this rule knowingly '
                                 '(repeatable), e.g. GV011')
        common.add_deep(parser)
        add_apply_options(parser)
        runbook.add_option(parser)
        afterset.add_options(parser)
        return parser

    def take_action(self, parsed_args):
        args = parsed_args
        check_journal_option(args)
        if not (args.images or args.all or common.filters(args)
                or args.name_pattern):
            common.usage_error(self, 'name the images, give a filter, or use '
                                     '--all')
        if args.scsi_model and args.bus != 'scsi':
            common.usage_error(self, '--scsi-model needs --bus scsi')
        config = common.load_conf(self.app)
        policy = common.load_policy(self.app, args.allow)
        conn = common.connection(self.app)
        images = common.select(conn, args)
        inspections = common.inspections(self.app, conn, images, args, config)
        target = plan.Target(args.bus, args.scsi_model, args.vif_model,
                             args.machine_type, args.fill_os_type)
        changes = plan.make_plan(images, target, policy,
                                 common.base_images(conn, images),
                                 inspections)
        counts = plan.summary(changes)
        runbook.write(self.app, config, args, changes, inspections)
        sys.stderr.write('plan: %(change)d to change, %(unchanged)d '
                         'unchanged, %(blocked)d blocked, %(skipped)d '
                         'skipped\n' % counts)
        todo = [c for c in changes if c.action == plan.CHANGE]
        outcomes, interrupted = [], False
        if todo and not args.dry_run:
            if sys.stdin.isatty() and not args.yes:
                show_plan(changes)
            if not confirm('Apply to %s?' % count(len(todo), 'image'),
                           args.yes):
                raise exceptions.CommandError('cancelled: nothing changed')
            record = open_journal(conn, config, args, 'set',
                                  target=vars(target),
                                  planned=counts)
            writes = [apply.Write(c.image.id, c.image.name, c.before,
                                  c.after) for c in todo]
            outcomes, _, interrupted = run_writes(
                conn, writes, record,
                args.concurrency or config.policy.concurrency)
        self._exit = 1 if interrupted else exit_code(changes, outcomes)
        verified = None
        if afterset.wanted(args) and outcomes and not interrupted:
            verified, code = afterset.run(conn, policy, args, outcomes,
                                          record.path)
            self._exit = code if code == 4 or not self._exit else self._exit
        rows = plan_rows(changes, {o.image_id: o for o in outcomes if o},
                         applied=bool(outcomes))
        if verified is not None:
            return COLUMNS + (afterset.COLUMN,), common.cells(args, [
                r + (verified.get(r[0]),) for r in rows])
        return COLUMNS, common.cells(args, rows)

    def run(self, parsed_args):
        self._exit = 0
        result = super().run(parsed_args)
        return result or self._exit
