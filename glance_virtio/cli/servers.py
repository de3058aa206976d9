"""server virtio-audit/-set/-rollback: the bus each server was booted with."""

import argparse
import concurrent.futures
import dataclasses
import logging
import sys
import types

from osc_lib import exceptions

from glance_virtio import apply
from glance_virtio import audit
from glance_virtio import cinder
from glance_virtio.cli import common
from glance_virtio.cli import progress
from glance_virtio.cli import setbus
from glance_virtio import glance
from glance_virtio import journal
from glance_virtio import model
from glance_virtio import nova
from glance_virtio import novamanage
from glance_virtio import plan
from glance_virtio import serverapply
from glance_virtio import servers

LOG = logging.getLogger(__name__)


class DriftColumn(common.ListColumn):
    """The keys that drift; 'unknown' stays a word."""

    def human_readable(self):
        if isinstance(self._value, str):
            return self._value
        return super().human_readable() or 'none'

    def machine_readable(self):
        if isinstance(self._value, str):
            return self._value
        return super().machine_readable()


COLUMNS = (
    ('ID', 'id', None), ('Name', 'name', None),
    ('Project', 'project_id', None), ('Status', 'status', None),
    ('Boot', 'boot', None), ('Image', 'image_id', None),
    ('Volume', 'volume_id', None),
    ('Booted Bus', 'booted_hw_disk_bus', None),
    ('Booted SCSI Model', 'booted_hw_scsi_model', None),
    ('Image Bus', 'image_hw_disk_bus', None),
    ('Drift', 'drift', DriftColumn), ('Known From', 'known_from', None),
    ('Findings', 'findings', common.FindingsColumn),
)
LONG_COLUMNS = (
    ('Volume Bus', 'volume_hw_disk_bus', None), ('OS', 'os', None),
    ('Readiness', 'readiness', common.DictColumn),
    ('Recommended Bus', 'recommended_bus', None),
    ('Severity', 'severity', None), ('Notes', 'notes', common.ListColumn),
    ('Details', 'findings', common.MessagesColumn),
)
EPILOGS = {
    'audit': ('{cmd}\n'
              '{cmd} --nova-manage "docker exec nova_api nova-manage"\n'
              '{cmd} web-1 --long -f json',
              '  0  success (with --fail-on: no finding at or above it)\n'
              '  1  runtime error: login or connection failed, a name '
              'matching no\n     server or several, nova-manage cannot run\n'
              '  2  usage error\n'
              '  3  a finding at or above --fail-on, or drift with '
              '--fail-on-drift'),
    'set': ('{cmd} web-1 --bus scsi --nova-manage /usr/bin/nova-manage '
            '--dry-run\n'
            '{cmd} --all --bus scsi --nova-manage "kubectl -n openstack exec '
            'deploy/nova-api -- nova-manage" --yes',
            '  0  every selected server has the target properties\n'
            '  1  runtime error, a Nova without the fix for bug 2078999, a '
            'cancelled run\n'
            '  2  usage error\n'
            '  4  a server failed, was in conflict or is uncertain, or did '
            'not start\n'
            '  5  nothing failed, but a server was blocked or skipped'),
    'rollback': ('{cmd} server-set.jsonl --nova-manage /usr/bin/nova-manage '
                 '--dry-run',
                 '  0  every server is back to its journalled state\n'
                 '  1  runtime error, an unreadable journal\n'
                 '  2  usage error\n'
                 '  4  a server failed, could not be fully restored, or did '
                 'not start'),
}


def short(cmd):
    name = (getattr(cmd, 'cmd_name', None) or cmd.command).split(' ')[-1]
    for prefix in ('virtio-', 'server-'):
        if name.startswith(prefix):
            name = name[len(prefix):]
    return name


def invoked(cmd):
    if (getattr(cmd, 'cmd_name', None) or '').startswith('server virtio-'):
        return 'openstack server virtio-%s' % short(cmd)
    return 'glance-virtio server-%s' % short(cmd)


class Lister(common.Lister):

    def get_epilog(self):
        examples, codes = EPILOGS[short(self)]
        return common.epilog(examples.format(cmd=invoked(self)), codes)


def timeout_arg(text):
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError('must be a whole number of '
                                         'seconds, 1 or more')
    return value


def add_common(parser, required):
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
                        type=timeout_arg, default=novamanage.TIMEOUT,
                        help='Seconds one nova-manage run may take '
                             '(default: %d)' % novamanage.TIMEOUT)


def nova_manage(parsed_args):
    if not parsed_args.nova_manage:
        return None
    try:
        return novamanage.NovaManage(parsed_args.nova_manage,
                                     parsed_args.nova_manage_timeout)
    except ValueError as e:
        raise exceptions.CommandError(str(e))


def select(conn, parsed_args):
    """The selected servers; a member sees its own project's."""
    try:
        if parsed_args.servers:
            return nova.find_servers(conn, parsed_args.servers, True)
        try:
            return nova.list_servers(conn, True, parsed_args.project)
        except nova.NovaError as e:
            if e.status != 403 or parsed_args.project:
                raise
            sys.stderr.write('not an admin: listing the servers of this '
                             'project only\n')
            return nova.list_servers(conn)
    except (glance.CloudError, glance.SelectionError) as e:
        raise exceptions.CommandError(str(e))
    except glance.GlanceError as e:
        raise exceptions.CommandError('cannot list servers: %s' % e)


def volumes_of(conn, found):
    if not any(s.volume_backed for s in found):
        return {}
    try:
        return {v.id: v for v in cinder.list_volumes(conn)}
    except glance.CloudError as e:
        raise exceptions.CommandError(str(e))
    except glance.GlanceError as e:
        raise exceptions.CommandError('cannot list volumes: %s' % e)


def images_of(conn, image_ids):
    found = {}
    for image_id in sorted(i for i in image_ids if i):
        try:
            found[image_id] = glance.get_image(conn, image_id)
        except glance.CloudError as e:
            raise exceptions.CommandError(str(e))
        except glance.GlanceError as e:
            found[image_id] = model.Image(id=image_id, error=str(e))
    return found


def read_recorded(manage, found, concurrency):
    """found, with the recorded keys read by nova-manage where unknown."""

    def read(server):
        if server.recorded is not None:
            return server
        try:
            values = {k: manage.show(server.id, k)
                      for k in servers.READ_KEYS}
        except novamanage.NovaManageError as e:
            return dataclasses.replace(server, error=str(e))
        return servers.with_recorded(server, values, 'nova-manage')
    with concurrent.futures.ThreadPoolExecutor(concurrency) as pool:
        return list(pool.map(read, found))


def check_runs(manage):
    """nova-manage's version or None; an error if it cannot run at all."""
    try:
        return manage.version()
    except novamanage.NovaManageError as e:
        if e.code is None:
            raise exceptions.CommandError(str(e))
        LOG.info('no nova-manage version: %s', e)
        return None


def gather(app, parsed_args, manage, concurrency):
    """(conn, servers, volumes by id, images by id, boot volume per id)."""
    conn = common.connection(app)
    found = select(conn, parsed_args)
    if manage is not None:
        found = read_recorded(manage, found, concurrency)
    volumes = volumes_of(conn, found)
    boots = {s.id: servers.boot_volume(s, volumes) for s in found}
    images = images_of(conn, {servers.source_image_id(s, boots[s.id][0])
                              for s in found})
    return conn, found, volumes, images, boots


def audit_rows(found, images, boots, policy):
    rows = []
    for server in found:
        volume, why = boots[server.id]
        image = images.get(servers.source_image_id(server, volume))
        rows.append(servers.row(server, policy, image, volume,
                                why if server.volume_backed else ''))
    return rows


def table(rows, long):
    spec = COLUMNS + (LONG_COLUMNS if long else ())
    return tuple(n for n, _, _ in spec), [
        tuple(kind(row[key]) if kind else row[key] for _, key, kind in spec)
        for row in rows]


class AuditServers(Lister):
    """Audit the disk bus each server was booted with, and its drift"""

    command = 'audit'

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        add_common(parser, required=False)
        parser.add_argument('--long', action='store_true',
                            help='List additional fields in output')
        parser.add_argument('--only-drift', action='store_true',
                            help='List only servers whose booted bus '
                                 'differs from their image, or is unknown')
        common.severity_choice(parser, 'none')
        parser.add_argument('--fail-on-drift', action='store_true',
                            help='Exit with code %d when a server drifts '
                                 'from its image' % common.EXIT_FINDINGS)
        parser.add_argument('--concurrency', metavar='<count>',
                            type=setbus.concurrency_arg, default=4,
                            help='nova-manage runs at the same time '
                                 '(default: 4)')
        return parser

    def take_action(self, parsed_args):
        policy = common.load_policy(self.app)
        manage = nova_manage(parsed_args)
        if manage is not None:
            check_runs(manage)
        _, found, _, images, boots = gather(self.app, parsed_args, manage,
                                            parsed_args.concurrency)
        rows = audit_rows(found, images, boots, policy)
        self._rows = rows
        if parsed_args.only_drift:
            rows = [r for r in rows if r['drift']]
        columns, data = table(rows, parsed_args.long
                              or common.wants_everything(parsed_args))
        return columns, common.cells(parsed_args, data)

    def run(self, parsed_args):
        self._rows = []
        result = super().run(parsed_args)
        if result:
            return result
        if parsed_args.fail_on and audit.failing(self._rows,
                                                 parsed_args.fail_on):
            return common.EXIT_FINDINGS
        if parsed_args.fail_on_drift and any(
                r['drift'] and r['drift'] != servers.UNKNOWN
                for r in self._rows):
            return common.EXIT_FINDINGS
        return 0


def add_apply(parser):
    parser.add_argument('--dry-run', action='store_true',
                        help='Print the plan and change nothing')
    parser.add_argument('--yes', action='store_true',
                        help='Do not ask for confirmation on a terminal')
    parser.add_argument('--journal', metavar='<path>',
                        help='Journal file (default: a new file in the site '
                             'policy [journal] directory)')
    parser.add_argument('--concurrency', metavar='<count>',
                        type=setbus.concurrency_arg, default=4,
                        help='Servers changed at the same time (default: 4)')
    parser.add_argument('--no-restart', action='store_true',
                        help='Leave the servers this command stopped '
                             'SHUTOFF')


def release_check(conn, version):
    """Refuse a Nova without the fix for bug 2078999, saying why."""
    try:
        top = nova.microversions(conn)[1]
    except glance.GlanceError as e:
        LOG.info('no compute microversions: %s', e)
        top = None
    ok, why = servers.check_release(version, top)
    if not ok:
        raise exceptions.CommandError('refusing to change servers: %s' % why)
    sys.stderr.write('nova: %s (fix for bug 2078999 present)\n' % why)


def outcome_rows(changes, outcomes):
    rows = []
    for change in changes:
        done = outcomes.get(change.image.id)
        outcome = done.outcome if done else (
            change.action if change.action in (plan.BLOCKED, plan.SKIPPED)
            else 'planned')
        reason = '; '.join(r for r in (
            (done.error or change.reason) if done else change.reason,
            done.power_error if done else '') if r)
        rows.append((change.image.id, change.image.name, change.action,
                     outcome, done.power if done else '',
                     setbus.ChangesColumn(setbus.changes_of(change.before,
                                                            change.after)),
                     common.FindingsColumn([f.to_dict()
                                            for f in change.findings]),
                     reason))
    return rows


def run_writes(conn, manage, writes, record, parsed_args):
    bar = progress.Progress(len(writes))
    try:
        outcomes = serverapply.run(conn, manage, writes, record,
                                   parsed_args.concurrency,
                                   not parsed_args.no_restart, bar.update)
    except apply.Interrupted as e:
        bar.done()
        counts = setbus.tally(e.outcomes)
        record.write('end', summary=counts, interrupted=True)
        record.close()
        raise exceptions.CommandError(
            'interrupted: %s. The journal %s records every step taken; '
            'check the servers, then run again or roll back'
            % (setbus.describe(counts), record.path))
    bar.done()
    counts = setbus.tally(outcomes)
    record.write('end', summary=counts)
    record.close()
    sys.stderr.write('done: %s\n' % setbus.describe(counts))
    return outcomes


def exit_code(changes, outcomes):
    if any(o.failed for o in outcomes):
        return common.EXIT_FAILED
    if any(c.action in (plan.BLOCKED, plan.SKIPPED) for c in changes) or \
            any(o.outcome == serverapply.SKIPPED for o in outcomes):
        return common.EXIT_BLOCKED
    return 0


SET_COLUMNS = ('ID', 'Name', 'Action', 'Outcome', 'Power', 'Changes',
               'Findings', 'Reason')


class SetServers(Lister):
    """Set the disk bus Nova recorded for servers: stop, nova-manage, start"""

    command = 'set'

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        add_common(parser, required=True)
        parser.add_argument('--all', action='store_true',
                            help='Select every visible server (required '
                                 'when none is named)')
        parser.add_argument('--follow-images', metavar='<journal>',
                            help='Only servers booted from the images this '
                                 'image set journal changed (from them or '
                                 'from volumes made of them)')
        parser.add_argument('--bus', metavar='<bus>', required=True,
                            type=common.lower,
                            choices=['virtio', 'scsi', 'sata', 'ide'],
                            help='Target hw_disk_bus: virtio, scsi, sata, ide')
        common.add_scsi_model(parser)
        parser.add_argument('--allow', metavar='<rule-id>', action='append',
                            type=common.rule_id(self), default=[],
                            help='Accept findings of this rule knowingly '
                                 '(repeatable)')
        add_apply(parser)
        return parser

    def take_action(self, parsed_args):
        args = parsed_args
        if not (args.servers or args.all or args.project
                or args.follow_images):
            common.usage_error(self, 'name the servers, give --project or '
                                     '--follow-images, or use --all')
        if args.scsi_model and args.bus != 'scsi':
            common.usage_error(self, '--scsi-model needs --bus scsi')
        config = common.load_conf(self.app)
        policy = common.load_policy(self.app, args.allow)
        manage = nova_manage(args)
        version = check_runs(manage)
        conn, found, _, images, boots = gather(self.app, args, manage,
                                               args.concurrency)
        origin = {s.id: servers.source_image_id(s, boots[s.id][0])
                  for s in found}
        follow = common.followed(args.follow_images) \
            if args.follow_images else None
        if follow is not None:
            sys.stderr.write('--follow-images: %d images changed in %s\n'
                             % (len(follow), args.follow_images))
            found = [s for s in found if s.error or origin[s.id] in follow]
        if not args.dry_run:
            release_check(conn, version)
        target = plan.Target(args.bus, args.scsi_model)
        changes = []
        for server in found:
            volume = boots[server.id][0]
            image = images.get(servers.source_image_id(server, volume))
            if server.volume_backed:
                source = volume.image_metadata if volume else None
            else:
                source = image.properties if image and not image.error \
                    else {}
            changes.append(servers.plan_server(server, target, policy,
                                               source))
        if follow is not None and not args.servers:
            changes = plan.skip_hand_changed(changes, follow,
                                             lambda c: origin[c.image.id])
        counts = plan.summary(changes)
        sys.stderr.write('plan: %(change)d to change, %(unchanged)d '
                         'unchanged, %(blocked)d blocked, %(skipped)d '
                         'skipped\n' % counts)
        todo = [c for c in changes if c.action == plan.CHANGE]
        outcomes = []
        if todo and not args.dry_run:
            active = sum(1 for s in found if s.status == 'ACTIVE' and
                         s.id in {c.image.id for c in todo})
            if not (args.yes or setbus.confirm(
                    'Change %d servers (%d running will be stopped)?'
                    % (len(todo), active))):
                raise exceptions.CommandError('cancelled: nothing changed')
            record = setbus.open_journal(conn, config, args, 'server-set',
                                         target=vars(target), planned=counts)
            writes = [serverapply.Write(
                c.image.id, c.image.name,
                {k: c.image.properties.get(k) for k in c.set},
                dict(c.set)) for c in todo]
            outcomes = run_writes(conn, manage, writes, record, args)
        self._exit = exit_code(changes, [o for o in outcomes if o])
        return SET_COLUMNS, common.cells(args, outcome_rows(
            changes, {o.server_id: o for o in outcomes if o}))

    def run(self, parsed_args):
        self._exit = 0
        result = super().run(parsed_args)
        return result or self._exit


class RollbackServers(Lister):
    """Restore the recorded bus of the servers a server-set journal changed"""

    command = 'rollback'

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        parser.add_argument('source', metavar='<journal>',
                            help='Journal written by the server set command')
        add_nova_manage(parser, required=True)
        add_apply(parser)
        return parser

    def take_action(self, parsed_args):
        try:
            touched = serverapply.touched(journal.read(parsed_args.source))
        except (OSError, ValueError) as e:
            raise exceptions.CommandError('cannot read journal: %s' % e)
        writes = [serverapply.Write(t['server'], t.get('name') or '',
                                    t['after'], t['before'])
                  for t in touched]
        sys.stderr.write('journal names %d servers\n' % len(writes))
        columns = ('ID', 'Name', 'Outcome', 'Power', 'Changes', 'Reason')
        if parsed_args.dry_run or not writes:
            return columns, common.cells(parsed_args, [
                (w.server_id, w.name, 'planned', '', setbus.ChangesColumn(
                    setbus.changes_of(w.expected, w.desired)), '')
                for w in writes])
        if not (parsed_args.yes or setbus.confirm(
                'Roll back %d servers?' % len(writes))):
            raise exceptions.CommandError('cancelled: nothing changed')
        manage = nova_manage(parsed_args)
        check_runs(manage)
        config = common.load_conf(self.app)
        conn = common.connection(self.app)
        record = setbus.open_journal(conn, config, parsed_args,
                                     'server-rollback',
                                     rolls_back=parsed_args.source)
        outcomes = run_writes(conn, manage, writes, record, parsed_args)
        self._exit = common.EXIT_FAILED if any(
            o is None or o.failed for o in outcomes) else 0
        return columns, common.cells(parsed_args, [
            (o.server_id, o.name, o.outcome, o.power,
             setbus.ChangesColumn(setbus.changes_of(o.before, o.after)),
             '; '.join(r for r in (o.error, o.power_error) if r))
            for o in outcomes if o])

    def run(self, parsed_args):
        self._exit = 0
        result = super().run(parsed_args)
        return result or self._exit


IMPACT_COLUMNS = (('Volumes', 'volumes'), ('Volumes Differ', 'volumes_differ'),
                  ('Servers', 'servers'), ('Servers Differ', 'servers_differ'),
                  ('Servers Unknown', 'servers_unknown'))


def impact(app, conn, images, policy, manage=None):
    """Per image id: the copies volumes and servers carry (image --impact).

    A server whose booted bus neither the API nor nova-manage (when given)
    shows counts as unknown.
    """
    found = select(conn, types.SimpleNamespace(servers=(), project=None))
    try:
        volumes = list(cinder.list_volumes(conn))
    except glance.CloudError as e:
        raise exceptions.CommandError(str(e))
    except glance.GlanceError as e:
        raise exceptions.CommandError('cannot list volumes: %s' % e)
    by_id = {v.id: v for v in volumes}
    boots = {s.id: servers.boot_volume(s, by_id) for s in found}
    known = {i.id: i for i in images}
    if manage is not None:
        check_runs(manage)
        # Only the servers whose copy concerns these images.
        ours = [s for s in found if servers.source_image_id(
            s, boots[s.id][0]) in known]
        read = {s.id: s for s in read_recorded(manage, ours, 4)}
        found = [read.get(s.id, s) for s in found]
    rows = audit_rows(found, known, boots, policy)
    return servers.impact(images, volumes, rows)
