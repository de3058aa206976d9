"""virtio-set: move images to a disk bus, safely, with a journal."""

import argparse
import logging
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

LOG = logging.getLogger(__name__)

COLUMNS = ('ID', 'Name', 'Action', 'Outcome', 'Changes', 'Findings', 'Reason')


def changes_of(before, after):
    return {k: {'before': before.get(k), 'after': after.get(k)}
            for k in after}


def plan_rows(changes, outcomes=None):
    outcomes = outcomes or {}
    rows = []
    for change in changes:
        done = outcomes.get(change.image.id)
        outcome = done.outcome if done else (
            change.action if change.action in (plan.BLOCKED, plan.SKIPPED)
            else 'planned')
        reason = done.error if done and done.error else change.reason
        rows.append((change.image.id, change.image.name, change.action,
                     outcome,
                     ChangesColumn(changes_of(change.before, change.after)),
                     common.FindingsColumn([f.to_dict()
                                            for f in change.findings]),
                     reason))
    return rows


class ChangesColumn(common.DictColumn):
    def human_readable(self):
        lines = ['%s: %s -> %s' % (key, value['before'] or '-',
                                   value['after'] or '-')
                 for key, value in self._value.items()]
        return '\n'.join(lines)


def exit_code(changes, outcomes):
    if any(o.outcome in apply.NOT_DONE for o in outcomes):
        return common.EXIT_FAILED
    if any(c.action in (plan.BLOCKED, plan.SKIPPED) for c in changes):
        return common.EXIT_BLOCKED
    return 0


def confirm(question):
    if not sys.stdin.isatty():
        return True
    sys.stderr.write(question + ' [y/N] ')
    sys.stderr.flush()
    return sys.stdin.readline().strip().lower() in ('y', 'yes')


def add_apply_options(parser):
    parser.add_argument('--dry-run', action='store_true',
                        help='Print the plan and change nothing')
    parser.add_argument('--yes', action='store_true',
                        help='Do not ask for confirmation on a terminal')
    parser.add_argument('--journal', metavar='<path>',
                        help='Journal file (default: a new file in the site '
                             'policy [journal] directory)')
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
    bar = progress.Progress(len(writes))
    try:
        outcomes = apply.run(conn, writes, record, concurrency, bar.update)
    except apply.Interrupted as e:
        bar.done()
        counts = tally(e.outcomes)
        record.write('end', summary=counts, interrupted=True)
        record.close()
        raise exceptions.CommandError(
            'interrupted: %s. The journal %s records every image changed; '
            'run the same command again to finish, or virtio-rollback it'
            % (describe(counts), record.path))
    bar.done()
    counts = tally(outcomes)
    record.write('end', summary=counts)
    record.close()
    return outcomes, counts


def describe(counts):
    return ', '.join('%d %s' % (n, k) for k, n in sorted(counts.items()))


def show_plan(changes):
    """Write the changes about to be made to stderr, before the prompt."""
    for change in changes:
        shown = ChangesColumn(changes_of(change.before, change.after))
        sys.stderr.write('  %s %s: %s\n' % (
            change.image.id, change.image.name,
            shown.human_readable().replace('\n', ', ')))


class SetBus(common.Lister):
    """Set the disk bus of images in bulk, blocking known-bad combinations"""

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        common.add_selection(parser, snapshots_default=False)
        parser.add_argument('--bus', metavar='<bus>', required=True,
                            type=common.lower,
                            choices=['virtio', 'scsi', 'sata', 'ide'],
                            help='Target hw_disk_bus: virtio, scsi, sata, ide')
        parser.add_argument('--scsi-model', metavar='<model>',
                            type=common.lower, choices=rules.SCSI_MODELS,
                            help='hw_scsi_model with --bus scsi (default: '
                                 'site policy, virtio-scsi)')
        parser.add_argument('--vif-model', metavar='<model>',
                            type=common.lower,
                            choices=rules.ENUMS['hw_vif_model'],
                            help='Also set hw_vif_model')
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
        return parser

    def take_action(self, parsed_args):
        args = parsed_args
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
        outcomes = []
        if todo and not args.dry_run and not args.yes and \
                sys.stdin.isatty():
            show_plan(todo)
        if todo and not args.dry_run and (args.yes or confirm(
                'Apply to %d images?' % len(todo))):
            record = open_journal(conn, config, args, 'set',
                                  target=vars(target),
                                  planned=counts)
            writes = [apply.Write(c.image.id, c.image.name, c.before,
                                  c.after) for c in todo]
            outcomes, done = run_writes(
                conn, writes, record,
                args.concurrency or config.policy.concurrency)
            sys.stderr.write('done: %s\n' % describe(done))
        elif todo and not args.dry_run:
            raise exceptions.CommandError('cancelled: nothing changed')
        self._exit = exit_code(changes, outcomes)
        return COLUMNS, plan_rows(changes, {o.image_id: o for o in outcomes})

    def run(self, parsed_args):
        self._exit = 0
        result = super().run(parsed_args)
        return result or self._exit
