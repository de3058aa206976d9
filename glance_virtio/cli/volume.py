"""volume virtio-audit, virtio-set, virtio-rollback: Cinder's copies."""

import logging
import sys

from osc_lib import exceptions

from glance_virtio import apply
from glance_virtio import audit
from glance_virtio import cinder
from glance_virtio.cli import common
from glance_virtio.cli import progress
from glance_virtio.cli import setbus
from glance_virtio import glance
from glance_virtio import journal
from glance_virtio import plan
from glance_virtio import volume
from glance_virtio import volume_apply

LOG = logging.getLogger(__name__)

EXIT_CODES = {
    'audit': ['0  no finding at or above --fail-on, no drift with '
              '--fail-on-drift',
              '3  a finding at or above --fail-on, or drift with '
              '--fail-on-drift'],
    'set': ['0  every selected volume has the target properties',
            '4  a volume failed, was in conflict or is uncertain',
            '5  nothing failed, but a volume was blocked or skipped'],
    'rollback': ['0  every volume is back to its journalled state',
                 '4  a volume failed, was in conflict or is uncertain'],
}
EXAMPLES = {
    'audit': ['{cmd}', '{cmd} --project demo --fail-on error',
              '{cmd} --follow-images set.jsonl --only-drift'],
    'set': ['{cmd} --follow-images set.jsonl --bus scsi --dry-run',
            '{cmd} boot-vol-1 --bus scsi --yes'],
    'rollback': ['{cmd} volume-set.jsonl --dry-run',
                 '{cmd} volume-set.jsonl --yes'],
}


def volume_command(cmd, name):
    """How to run volume command name in the app running cmd."""
    if (getattr(cmd, 'cmd_name', None) or '').startswith('volume virtio-'):
        return 'openstack volume virtio-%s' % name
    return 'glance-virtio volume-%s' % name


class Lister(common.Lister):

    kind = None

    def get_epilog(self):
        cmd = volume_command(self, self.kind)
        codes = EXIT_CODES[self.kind]
        lines = [codes[0], '1  runtime error: login or connection failed, a '
                 'name matching no volume\n     or several, an unreadable '
                 'journal or policy file', '2  usage error'] + codes[1:]
        return common.epilog(
            '\n'.join(e.format(cmd=cmd) for e in EXAMPLES[self.kind]),
            '\n'.join('  ' + line for line in lines))

    def run(self, parsed_args):
        self._exit = 0
        result = super().run(parsed_args)
        return result or self._exit


def connection(app):
    """The SDK connection, logged in with image and volume endpoints."""
    conn = common.connection(app)
    try:
        cinder.login(conn)
    except cinder.CloudError as e:
        raise exceptions.CommandError(str(e))
    return conn


def add_selection(parser):
    parser.add_argument('volumes', metavar='<volume>', nargs='*',
                        help='Volume ids or names, each matching exactly one '
                             'volume, else nothing is done (exit 1); '
                             'default: every bootable volume visible (all '
                             'projects for an admin)')
    parser.add_argument('--project', metavar='<project>',
                        help='Only volumes of this project (id, or name '
                             'where the user may look projects up)')
    parser.add_argument('--follow-images', metavar='<journal>',
                        help='Only volumes made from the images this '
                             'image set journal changed')


def project_id(conn, ref):
    if not ref:
        return None
    if ref in (conn.current_project_id,
               conn.config.get_auth_args().get('project_name')):
        return conn.current_project_id
    try:
        found = conn.identity.find_project(ref, ignore_missing=True)
    except Exception as e:  # a member may not look projects up
        LOG.debug('project lookup of %s failed: %s', ref, e)
        found = None
    if found is not None:
        return found.id
    if glance.UUID.match(ref):
        return ref
    raise exceptions.CommandError('no project named %s is visible to this '
                                  'user: give its id' % ref)


def followed(path):
    try:
        return volume.followed_images(journal.read(path))
    except OSError as e:
        raise exceptions.CommandError('cannot read journal %s: %s' % (
            path, e.strerror or e))
    except ValueError as e:
        raise exceptions.CommandError('--follow-images %s: %s' % (path, e))


def select(conn, args):
    """The selected volumes; a volume Cinder refuses to show is an error row.

    Without names: bootable volumes, and any other carrying image metadata.
    """
    images = followed(args.follow_images) if args.follow_images else None
    try:
        if args.volumes:
            vols = cinder.find_volumes(conn, args.volumes)
            project = project_id(conn, args.project)
            vols = [v for v in vols if v.error or not project
                    or v.project in ('', project)]
        else:
            vols = [v for v in cinder.list_volumes(
                conn, project_id(conn, args.project))
                if v.bootable or v.image_metadata is not None]
    except (cinder.CloudError, glance.SelectionError) as e:
        raise exceptions.CommandError(str(e))
    except cinder.CinderError as e:
        raise exceptions.CommandError('cannot list volumes: %s' % e)
    if images is not None:
        wanted = set(images)
        sys.stderr.write('--follow-images: %d images changed in %s\n'
                         % (len(wanted), args.follow_images))
        vols = [v for v in vols if v.error or v.image_id in wanted]
    return vols


def sources(conn, vols):
    """The current image each volume was made from, by id, or why not."""
    try:
        return glance.read_images(conn, {v.image_id for v in vols
                                         if v.image_id})
    except glance.CloudError as e:
        raise exceptions.CommandError(str(e))
    except glance.GlanceError as e:
        raise exceptions.CommandError('cannot list images: %s' % e)


def snapshots(conn, args):
    try:
        return list(cinder.list_snapshots(conn,
                                          project_id(conn, args.project)))
    except cinder.CloudError as e:
        raise exceptions.CommandError(str(e))
    except cinder.CinderError as e:
        raise exceptions.CommandError('cannot list snapshots: %s' % e)


class DriftColumn(common.DictColumn):
    def human_readable(self):
        return '\n'.join('%s: volume %s, image %s' % (
            k, v['volume'] or '-', v['image'] or '-')
            for k, v in (self._value or {}).items())


AUDIT_COLUMNS = (
    ('Kind', 'kind', None), ('ID', 'id', None), ('Name', 'name', None),
    ('Project', 'project', None), ('Status', 'status', None),
    ('Source Image', 'source_image', None),
    ('Disk Bus', 'hw_disk_bus', None), ('SCSI Model', 'hw_scsi_model', None),
    ('Drift', 'drift', None), ('Attached To', 'attached_to',
                               common.ListColumn),
    ('Recommended Bus', 'recommended_bus', None),
    ('Findings', 'findings', common.FindingsColumn), ('Note', 'note', None),
)
AUDIT_LONG = (
    ('Source Image Name', 'source_image_name', None),
    ('Image Bus', 'image_bus', common.DictColumn),
    ('Drift Keys', 'drift_keys', DriftColumn),
    ('Drift Why', 'drift_why', None), ('Bootable', 'bootable', None),
    ('Changeable', 'changeable', None), ('OS', 'os', None),
    ('OS Source', 'os_source', None), ('Machine Type', 'machine_type', None),
    ('Readiness', 'readiness', common.DictColumn),
    ('Recommended Why', 'recommended_why', None),
    ('Severity', 'severity', None),
    ('Details', 'findings', common.MessagesColumn),
)


def table(spec, rows):
    return (tuple(name for name, _, _ in spec),
            [tuple(kind(row[key]) if kind and row.get(key) is not None
                   else row.get(key) for _, key, kind in spec)
             for row in rows])


class AuditVolumes(Lister):
    """Audit bootable volumes' image metadata and its drift from the image"""

    kind = 'audit'

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        add_selection(parser)
        parser.add_argument('--long', action='store_true',
                            help='List additional fields in output')
        parser.add_argument('--no-snapshots', dest='snapshots',
                            action='store_false', default=True,
                            help='Leave out the snapshots that carry a copy')
        common.severity_choice(parser, 'none: findings never change the '
                                       'exit code')
        parser.add_argument('--fail-on-drift', action='store_true',
                            help='Exit with code %d when a volume differs '
                                 'from its image' % common.EXIT_FINDINGS)
        parser.add_argument('--only-drift', action='store_true',
                            help='List only volumes that differ from their '
                                 'image')
        return parser

    def take_action(self, parsed_args):
        args = parsed_args
        policy = common.load_policy(self.app)
        conn = connection(self.app)
        vols = select(conn, args)
        if args.volumes and not vols:
            raise exceptions.CommandError('none of the volumes matched')
        snaps = snapshots(conn, args) if args.snapshots else ()
        rows = volume.audit_rows(vols, sources(conn, vols), policy, snaps)
        failing = []
        if args.fail_on:
            failing += audit.failing(rows, args.fail_on)
        if args.fail_on_drift:
            failing += [r for r in rows if r['drift'] == volume.DRIFTED]
        if failing:
            self._exit = common.EXIT_FINDINGS
        if args.only_drift:
            rows = [r for r in rows if r['drift'] == volume.DRIFTED]
        long = args.long or common.wants_everything(args)
        columns, data = table(AUDIT_COLUMNS + (AUDIT_LONG if long else ()),
                              rows)
        return columns, common.cells(args, data)


SET_COLUMNS = ('ID', 'Name', 'Status', 'Action', 'Outcome', 'Changes',
               'Findings', 'Reason', 'Note')


def set_rows(changes, vols, outcomes):
    by_id = {v.id: v for v in vols}
    rows = []
    for change in changes:
        vol = by_id[change.image.id]
        done = outcomes.get(vol.id)
        if done is not None:
            outcome, reason = done.outcome, done.error or change.reason
            shown = setbus.changes_of(done.before, done.after) \
                if done.outcome == apply.CHANGED else {}
        else:
            outcome = ('planned' if change.action == plan.CHANGE
                       else change.action)
            if change.action == plan.CHANGE and outcomes:
                outcome = 'not attempted'
            reason = change.reason
            shown = setbus.changes_of(change.before, change.after)
        rows.append((vol.id, vol.name, vol.status, change.action, outcome,
                     setbus.ChangesColumn(shown),
                     common.FindingsColumn([f.to_dict()
                                            for f in change.findings]),
                     reason or None, volume.attached_note(vol)))
    return rows


def exit_code(changes, outcomes):
    if any(o is None or o.outcome in apply.NOT_DONE for o in outcomes):
        return common.EXIT_FAILED
    if any(c.action in (plan.BLOCKED, plan.SKIPPED) for c in changes):
        return common.EXIT_BLOCKED
    return 0


def open_journal(conn, config, args, kind, **header):
    check = getattr(setbus, 'check_journal_option', None)
    if check is not None:
        check(args)
    return setbus.open_journal(conn, config, args, kind, **header)


def run_writes(conn, writes, record, concurrency):
    """(outcomes, interrupted): outcome None for a write not attempted."""
    bar = progress.Progress(len(writes))
    interrupted = False
    try:
        outcomes = volume_apply.run(conn, writes, record, concurrency,
                                    bar.update)
    except apply.Interrupted as e:
        outcomes, interrupted = e.outcomes, True
    bar.done()
    counts = setbus.tally(outcomes)
    if interrupted:
        record.write('end', summary=counts, interrupted=True)
    else:
        record.write('end', summary=counts)
    record.close()
    sys.stderr.write('%s: %s\n' % ('interrupted' if interrupted else 'done',
                                   setbus.describe(counts)))
    if interrupted:
        sys.stderr.write('the journal %s records every volume changed; run '
                         'the same command again to finish, or roll it '
                         'back\n' % record.path)
    return outcomes, interrupted


class SetVolumes(Lister):
    """Set the disk bus in bootable volumes' image metadata, journaled"""

    kind = 'set'

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        add_selection(parser)
        parser.add_argument('--all', action='store_true',
                            help='Select every visible bootable volume '
                                 '(required when none is named and no '
                                 'filter is given)')
        parser.add_argument('--bus', metavar='<bus>', required=True,
                            type=common.lower,
                            choices=['virtio', 'scsi', 'sata', 'ide'],
                            help='Target hw_disk_bus: virtio, scsi, sata, ide')
        common.add_scsi_model(parser)
        parser.add_argument('--machine-type', metavar='<type>',
                            help='Also set hw_machine_type, e.g. q35')
        parser.add_argument('--allow', metavar='<rule-id>', action='append',
                            type=common.rule_id(self), default=[],
                            help='Accept findings of this rule knowingly '
                                 '(repeatable), e.g. GV011')
        setbus.add_apply_options(parser)
        return parser

    def take_action(self, parsed_args):
        args = parsed_args
        if not (args.volumes or args.all or args.project
                or args.follow_images):
            common.usage_error(self, 'name the volumes, give --project or '
                                     '--follow-images, or use --all')
        if args.scsi_model and args.bus != 'scsi':
            common.usage_error(self, '--scsi-model needs --bus scsi')
        config = common.load_conf(self.app)
        policy = common.load_policy(self.app, args.allow)
        conn = connection(self.app)
        vols = select(conn, args)
        if args.volumes and not vols:
            raise exceptions.CommandError('none of the volumes matched')
        target = plan.Target(args.bus, args.scsi_model, None,
                             args.machine_type)
        changes = volume.make_plan(vols, target, policy, sources(conn, vols))
        counts = plan.summary(changes)
        sys.stderr.write('plan: %(change)d to change, %(unchanged)d '
                         'unchanged, %(blocked)d blocked, %(skipped)d '
                         'skipped\n' % counts)
        todo = [c for c in changes if c.action == plan.CHANGE]
        outcomes = []
        if todo and not args.dry_run:
            if sys.stdin.isatty() and not args.yes:
                setbus.show_plan(todo)
            if not (args.yes or setbus.confirm(
                    'Apply to %d volumes?' % len(todo))):
                raise exceptions.CommandError('cancelled: nothing changed')
            record = open_journal(conn, config, args, 'volume-set',
                                  target=vars(target), planned=counts)
            writes = [apply.Write(c.image.id, c.image.name, c.before,
                                  c.after) for c in todo]
            outcomes, interrupted = run_writes(
                conn, writes, record,
                args.concurrency or config.policy.concurrency)
            if interrupted:
                self._exit = 1
        done = {c.image.id: o for c, o in zip(todo, outcomes)
                if o is not None}
        self._exit = self._exit or exit_code(changes, outcomes)
        return SET_COLUMNS, common.cells(args, set_rows(changes, vols, done))


ROLLBACK_COLUMNS = ('ID', 'Name', 'Outcome', 'Changes', 'Reason')


def current_state(conn, entry):
    """(outcome, found, reason) of one journaled volume, by reading it."""
    keys = sorted(set(entry['before']) | set(entry['after']))
    try:
        vol = cinder.get_volume(conn, entry['volume'])
    except cinder.CloudError as e:
        raise exceptions.CommandError(str(e))
    except cinder.CinderError as e:
        return apply.FAILED, None, str(e)
    found = {k: vol.properties.get(k) for k in keys}
    before = {k: entry['before'].get(k) for k in keys}
    after = {k: entry['after'].get(k) for k in keys}
    if found == before:
        return apply.UNCHANGED, found, 'already restored'
    if found == after:
        return 'planned', found, None
    return apply.CONFLICT, found, ('changed by someone else since the '
                                   'journal: %s' % volume_apply
                                   .apply_differences(found, after))


class RollbackVolumes(Lister):
    """Restore the image metadata of every volume a volume journal changed"""

    kind = 'rollback'

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        parser.add_argument('source', metavar='<journal>',
                            help='Journal written by the volume set command')
        setbus.add_apply_options(parser)
        return parser

    def take_action(self, parsed_args):
        args = parsed_args
        try:
            records = journal.read(args.source)
        except OSError as e:
            raise exceptions.CommandError('cannot read journal %s: %s' % (
                args.source, e.strerror or e))
        except ValueError as e:
            raise exceptions.CommandError('cannot roll back: %s' % e)
        start = records[0] if records else {}
        if start.get('command') not in ('volume-set', 'volume-rollback'):
            raise exceptions.CommandError(
                'cannot roll back: %s is not a journal of the volume set '
                'command (image journals: the image rollback command)'
                % args.source)
        try:
            entries = volume.touched(records)
        except ValueError as e:
            raise exceptions.CommandError('cannot roll back: %s' % e)
        config = common.load_conf(self.app)
        conn = connection(self.app)
        states = [(e,) + current_state(conn, e) for e in entries]
        todo = [e for e, outcome, _, _ in states if outcome == 'planned']
        sys.stderr.write('journal names %d volumes: %d to restore\n'
                         % (len(entries), len(todo)))
        if any(s[1] in apply.NOT_DONE for s in states):
            self._exit = common.EXIT_FAILED
        rows = {e['volume']: (e['volume'], e.get('name'), outcome,
                              setbus.ChangesColumn(setbus.changes_of(
                                  found or {}, e['before'])
                                  if outcome == 'planned' else {}), reason)
                for e, outcome, found, reason in states}
        if args.dry_run or not todo:
            return ROLLBACK_COLUMNS, common.cells(args, list(rows.values()))
        if not (args.yes or setbus.confirm(
                'Roll back %d volumes?' % len(todo))):
            raise exceptions.CommandError('cancelled: nothing changed')
        record = open_journal(conn, config, args, 'volume-rollback',
                              rolls_back=args.source)
        writes = [apply.Write(e['volume'], e.get('name') or '', e['after'],
                              e['before']) for e in todo]
        outcomes, interrupted = run_writes(
            conn, writes, record,
            args.concurrency or config.policy.concurrency)
        for write, o in zip(writes, outcomes):
            rows[write.image_id] = (
                write.image_id, write.name,
                o.outcome if o else 'not attempted',
                setbus.ChangesColumn(setbus.changes_of(o.before, o.after)
                                     if o and o.outcome == apply.CHANGED
                                     else {}), o.error if o else None)
        if interrupted:
            self._exit = 1
        elif any(o is None or o.outcome in apply.NOT_DONE for o in outcomes):
            self._exit = common.EXIT_FAILED
        return ROLLBACK_COLUMNS, common.cells(args, list(rows.values()))
