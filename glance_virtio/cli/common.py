"""Pieces the commands share: options, config, login, the change commands."""

import argparse
import logging
import os

from cliff import _argparse
from cliff import lister
from osc_lib import exceptions
from oslo_config import cfg

from glance_virtio import columns
from glance_virtio import conf
from glance_virtio import engine
from glance_virtio.knowledge import rules
from glance_virtio import model
from glance_virtio import output
from glance_virtio import report
from glance_virtio.services import glance
from glance_virtio.services import session
from glance_virtio import usage

LOG = logging.getLogger(__name__)

CONFIG_ENV = 'GLANCE_VIRTIO_CONFIG_FILE'
VISIBILITIES = ('public', 'private', 'shared', 'community', 'all')
BUSES = ['virtio', 'scsi', 'sata', 'ide']


class EpilogFormatter(_argparse.SmartHelpFormatter):
    """Keeps the lines of an epilog that has several."""

    def _fill_text(self, text, width, indent):
        if '\n' not in text:
            return super()._fill_text(text, width, indent)
        return ''.join(indent + line + '\n' for line in text.splitlines())


class Help:
    """Help that ends with the command's examples and exit codes."""

    # OpenStackClient would log in before parsing; connection() does.
    auth_required = False
    command = ''
    # '' for images, else volume or server: `openstack volume virtio-set`.
    family = ''

    # A command that selects images: the --include-snapshots default.
    snapshots_default = None

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        parser.formatter_class = EpilogFormatter
        if self.snapshots_default is not None:
            add_selection(parser, self.snapshots_default)
        self.add_options(parser)
        return parser

    def add_options(self, parser):
        """The command's own options."""

    def get_epilog(self):
        found = usage.EPILOGS.get((self.family, short_name(self)))
        if not found:
            return super().get_epilog()
        text = usage.epilog(found[0].format(cmd=invoked(self)), found[1])
        return '\n\n'.join(t for t in (text, super().get_epilog()) if t)


class Lister(Help, lister.Lister):
    """A glance-virtio command; it logs in only when it needs the cloud.

    take_action may set self._exit, the exit code of a run that printed.
    """

    def run(self, parsed_args):
        self._exit = 0
        result = super().run(parsed_args)
        return result or self._exit

    def produce_output(self, parsed_args, column_names, data):
        stdout = self.app.stdout
        self.app.stdout = output.Chunked(stdout)
        try:
            return super().produce_output(parsed_args, column_names, data)
        finally:
            self.app.stdout.flush()
            self.app.stdout = stdout


def short_name(cmd):
    """'set' for `glance-virtio set`, `volume-set`, `image virtio-set`."""
    # cliff's sphinx extension makes commands without a cmd_name.
    return usage.short_name(getattr(cmd, 'cmd_name', None) or cmd.command,
                            cmd.family)


def invoked(cmd, name=None):
    """How to run command name (default: cmd itself) in the app running cmd."""
    return usage.invoked(getattr(cmd, 'cmd_name', None), cmd.family,
                         name or short_name(cmd))


def usage_error(cmd, message):
    """Exit 2 with the command's usage and message, as argparse does."""
    cmd.get_parser('%s %s' % (cmd.app.NAME, cmd.cmd_name)).error(message)


def lower(text):
    return text.lower()


def key_value(text):
    key, sep, value = text.partition('=')
    if not sep or not key:
        raise argparse.ArgumentTypeError('use KEY=VALUE, got %r' % text)
    return key, value


def number(low, high, message, kind=int):
    """An argparse type: a number from low to high (None: no bound)."""
    def check(text):
        try:
            value = kind(text)
        except ValueError:
            value = 0
        if value < low or (high is not None and value > high):
            raise argparse.ArgumentTypeError(message.replace('%r',
                                                             repr(text)))
        return value
    return check


positive_int = number(1, None, 'must be a whole number of 1 or more, got %r')
concurrency_arg = number(1, conf.MAX_CONCURRENCY, 'must be a whole number '
                         'from 1 to %d' % conf.MAX_CONCURRENCY)


def rule_id(cmd):
    """An argparse type: a known rule id, in any case."""
    known = rules.by_id()

    def check(text):
        if text.upper() not in known:
            raise argparse.ArgumentTypeError(
                'unknown rule %s (%s lists them)' % (text, invoked(cmd,
                                                                   'rules')))
        return text.upper()
    return check


def severity_choice(parser, default_text):
    parser.add_argument(
        '--fail-on', metavar='<severity>', type=lower,
        choices=model.SEVERITIES,
        help='Exit with code %d when a finding of this severity or worse '
             'exists; one of %s, any case (default: %s)'
             % (engine.EXIT_FINDINGS, ', '.join(model.SEVERITIES),
                default_text))


def add_long(parser, help='List additional fields in output'):
    parser.add_argument('--long', action='store_true', help=help)


def load_conf(app):
    path = getattr(app.options, 'virtio_config_file', None) or \
        os.environ.get(CONFIG_ENV)
    try:
        return conf.load(path)
    except (cfg.Error, ValueError) as e:
        raise exceptions.CommandError('site policy file: %s' % e)


def load_policy(app, allowed=()):
    try:
        return conf.policy(load_conf(app), allowed)
    except ValueError as e:
        raise exceptions.CommandError('site policy file: %s' % e)


class _NeedsCloud:
    """Tells OpenStackClient's prepare_to_run_command to log in now."""

    auth_required = True


def connection(app, login=None):
    """The SDK connection, logged in with an image endpoint (and login's)."""
    def connect():
        # OpenStackClient logs in here; the standalone app does nothing.
        app.prepare_to_run_command(_NeedsCloud())
        return app.client_manager.sdk_connection
    quiet = getattr(app.options, 'verbose_level', 1) <= 1 and not getattr(
        app.options, 'debug', False)
    try:
        return session.log_in(connect, [login] if login else (), quiet)
    except glance.CloudError as e:
        raise exceptions.CommandError(str(e))


def add_selection(parser, snapshots_default):
    """Image selection options shared by audit, set and inspect."""
    parser.add_argument('images', metavar='<image>', nargs='*',
                        help='Image ids or names, each matching exactly one '
                             'image, else nothing is done (exit 1); '
                             'default: the images the filters select')
    parser.add_argument('--all', action='store_true',
                        help='Select every visible image (required to change '
                             'images when none is named and no filter is '
                             'given)')
    parser.add_argument('--owner', metavar='<project-id>',
                        help='Only images owned by this project')
    parser.add_argument('--visibility', metavar='<visibility>', type=lower,
                        choices=VISIBILITIES,
                        help='Only images of this visibility: %s (default: '
                             'what Glance lists by default)'
                             % ', '.join(VISIBILITIES))
    parser.add_argument('--tag', metavar='<tag>', action='append',
                        default=[], help='Only images with this tag '
                        '(repeat for several; all must match)')
    parser.add_argument('--property', metavar='<key=value>', action='append',
                        type=key_value, default=[],
                        help='Only images whose property KEY has exactly '
                             'VALUE (repeatable)')
    parser.add_argument('--os-type', metavar='<os-type>',
                        help='Only images with this os_type property')
    parser.add_argument('--name', metavar='<pattern>', dest='name_pattern',
                        help='Only images whose name matches this shell '
                             'glob pattern (fnmatch rules)')
    group = parser.add_mutually_exclusive_group()
    group.add_argument('--include-snapshots', dest='snapshots',
                       action='store_true', default=snapshots_default,
                       help='Include instance snapshots'
                       + (' (default)' if snapshots_default else ''))
    group.add_argument('--exclude-snapshots', dest='snapshots',
                       action='store_false',
                       help='Leave out instance snapshots'
                       + ('' if snapshots_default else ' (default)'))


def add_bus(parser, help='Target hw_disk_bus: virtio, scsi, sata, ide',
            required=True, machine_type='Also set hw_machine_type, e.g. q35'):
    """--bus, --scsi-model and (unless None) --machine-type."""
    parser.add_argument('--bus', metavar='<bus>', required=required,
                        type=lower, choices=BUSES, help=help)
    add_scsi_model(parser)
    if machine_type:
        parser.add_argument('--machine-type', metavar='<type>',
                            help=machine_type)


def add_scsi_model(parser):
    """--scsi-model, as virtio-set and virtio-explain take it."""
    parser.add_argument('--scsi-model', metavar='<model>', type=lower,
                        choices=rules.SCSI_MODELS,
                        help='hw_scsi_model with --bus scsi: %s, any case '
                             '(default: site policy [policy] '
                             'default_scsi_model, virtio-scsi)'
                             % ', '.join(rules.SCSI_MODELS))


def add_allow(parser, cmd, example=', e.g. GV011'):
    parser.add_argument('--allow', metavar='<rule-id>', action='append',
                        type=rule_id(cmd), default=[],
                        help='Accept findings of this rule knowingly '
                             '(repeatable)' + example)


def check_scsi_model(cmd, parsed_args):
    if parsed_args.scsi_model and parsed_args.bus != 'scsi':
        usage_error(cmd, '--scsi-model needs --bus scsi')


def add_deep(parser):
    parser.add_argument('--deep', action='store_true',
                        help='Inspect the disk images themselves (Range '
                             'reads, cached by checksum)')
    parser.add_argument('--no-cache', action='store_true',
                        help='With --deep: inspect again even when a cached '
                             'result exists for the image checksum')


def inspections(app, conn, images, parsed_args, config=None):
    """Inspection reports by image id with --deep, else None."""
    if not parsed_args.deep:
        return None
    from glance_virtio import inspection
    return inspection.inspect_images(conn, images, config or load_conf(app),
                                     use_cache=not parsed_args.no_cache)


def journal_arg(text):
    if not text.strip():
        raise argparse.ArgumentTypeError('give a file name')
    return text


def add_apply_options(parser, noun='Images', concurrency=None):
    """--dry-run, --yes, --journal, --append, --concurrency."""
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
                        type=concurrency_arg, default=concurrency,
                        help='%s changed at the same time, 1 to %d '
                             '(default: %s)' % (
                                 noun, conf.MAX_CONCURRENCY,
                                 concurrency or 'site policy, 8'))


class Change(Lister):
    """A command that changes things through the engine, journalled.

    A subclass gives the options, check() of the usage, plan() and the
    columns; the engine confirms, journals, applies and sets the exit code.
    """

    command = 'set'
    # The kinds module of the things changed: SET_COLUMNS, the table.
    kind_module = None
    extra = ()
    login = None
    # The usage error when nothing is selected: 'name the images, ...'.
    selection_hint = ''

    def selected(self, args):
        """Whether things are named or a filter is given."""
        raise NotImplementedError

    def check(self, args):
        """Usage errors: nothing selected, target options, the journal."""
        if not (self.selected(args) or args.all):
            usage_error(self, self.selection_hint)
        engine.check_journal(args)
        check_scsi_model(self, args)

    def prepare(self, args):
        """What to check before logging in."""

    def rows(self, rows):
        """The engine's rows, as the table shows them."""
        return rows

    def plan(self, conn, args, config, policy):
        """(engine.Kind, plan.Target, changes, engine after hook or None)."""
        raise NotImplementedError

    def take_action(self, parsed_args):
        args = parsed_args
        self.check(args)
        config = load_conf(self.app)
        policy = load_policy(self.app, args.allow)
        self.prepare(args)
        conn = connection(self.app, self.login)
        kind, target, changes, after = self.plan(conn, args, config, policy)
        open_record = engine.opener(conn, config.journal.directory, args,
                                    kind.set_command, target=vars(target))
        rows, self._exit = engine.change(
            kind, conn, changes, args, open_record,
            args.concurrency or config.policy.concurrency, after)
        return columns.table(self.kind_module.SET_COLUMNS + self.extra,
                             self.rows(rows), args)


class Audit(Lister):
    """An audit of copies (volumes, servers): drift from the image.

    A subclass gives the options, rows() and the kinds module; exit code
    3 on --fail-on or, with --fail-on-drift, on a row drifted() says drifts.
    """

    command = 'audit'
    # The kinds module of the things audited: AUDIT_COLUMNS, AUDIT_LONG.
    kind_module = None

    def add_drift_options(self, parser, listed, drifts, fail_on_default,
                          only_drift_last=False):
        """--only-drift (first or last), --fail-on and --fail-on-drift."""
        only = ['--only-drift', dict(action='store_true',
                                     help='List only %s' % listed)]
        if not only_drift_last:
            parser.add_argument(only[0], **only[1])
        severity_choice(parser, fail_on_default)
        parser.add_argument('--fail-on-drift', action='store_true',
                            help='Exit with code %d when a %s'
                            % (engine.EXIT_FINDINGS, drifts))
        if only_drift_last:
            parser.add_argument(only[0], **only[1])

    def rows(self, args):
        raise NotImplementedError

    def drifted(self, row):
        raise NotImplementedError

    def listed(self, row):
        """Whether --only-drift lists the row."""
        return self.drifted(row)

    def take_action(self, parsed_args):
        rows = self._rows = self.rows(parsed_args)
        if parsed_args.only_drift:
            rows = [r for r in rows if self.listed(r)]
        long = parsed_args.long or columns.wants_everything(parsed_args)
        return columns.table(
            self.kind_module.AUDIT_COLUMNS + (
                self.kind_module.AUDIT_LONG if long else ()), rows,
            parsed_args)

    def run(self, parsed_args):
        self._rows = []
        return super().run(parsed_args) or report.exit_code(
            self._rows, parsed_args.fail_on,
            self.drifted if parsed_args.fail_on_drift else None)
