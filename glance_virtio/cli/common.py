"""Pieces the commands share: selection options, config, columns."""

import argparse
import logging
import os

from cliff import _argparse
from cliff import lister
from keystoneauth1 import exceptions as ks_exc
from openstack import exceptions as sdk_exc
from osc_lib import exceptions
from oslo_config import cfg

from glance_virtio import columns
from glance_virtio import conf
from glance_virtio import engine
from glance_virtio.kinds import images
from glance_virtio import model
from glance_virtio.knowledge import rules
from glance_virtio.services import glance

LOG = logging.getLogger(__name__)

CONFIG_ENV = 'GLANCE_VIRTIO_CONFIG_FILE'

EXIT_FINDINGS = engine.EXIT_FINDINGS
EXIT_FAILED = engine.EXIT_FAILED
EXIT_BLOCKED = engine.EXIT_BLOCKED
VISIBILITIES = ('public', 'private', 'shared', 'community', 'all')


def _codes(ok, *more, failed=''):
    return '\n'.join(
        ['  0  ' + ok,
         '  1  runtime error: login or connection failed, a name matching '
         'no image\n     or several, an unreadable policy file' + failed,
         '  2  usage error'] + ['  ' + line for line in more])


EPILOGS = {
    'audit': ('{cmd} --tag golden\n'
              '{cmd} --all --fail-on error -f value -c ID\n'
              '{cmd} ubuntu-22.04 --deep --long',
              _codes('no finding at or above --fail-on (always, without it)',
                     '3  a finding at or above --fail-on exists')),
    'set': ('{cmd} --tag golden --bus scsi --dry-run\n'
            '{cmd} ubuntu-22.04 --bus virtio --yes\n'
            '{cmd} --all --bus scsi --allow GV011 --journal set.jsonl',
            _codes('every selected image has the target properties',
                   '4  an image failed, was in conflict or is uncertain',
                   '5  nothing failed, but an image was blocked or skipped',
                   failed=',\n     a cancelled or interrupted run')),
    'rollback': ('{cmd} set.jsonl --dry-run\n'
                 '{cmd} set.jsonl --yes',
                 _codes('every image is back to its journalled state',
                        '4  an image failed, was in conflict or is uncertain',
                        failed=', an unreadable journal,\n     a cancelled or '
                        'interrupted run')),
    'inspect': ('{cmd} --file disk.qcow2\n'
                '{cmd} ubuntu-22.04 --long\n'
                '{cmd} 0b6e8c5f-5c2e-4d38-9d8a-8f0c0b2a8e11 --max-read 64',
                _codes('every image was inspected',
                       '4  an image could not be inspected')),
    'explain': ('{cmd} ubuntu-22.04 --bus scsi\n'
                '{cmd} --tag golden --bus virtio --machine-type q35 --long\n'
                '{cmd} win2019 --bus scsi --deep -f json',
                _codes('no error in the current or the target state',
                       '3  the current or the target state has an error',
                       '4  an image could not be read')),
    'rules': ('{cmd}\n'
              '{cmd} -f json -c ID -c Severity',
              _codes('success')),
}


class EpilogFormatter(_argparse.SmartHelpFormatter):
    """Keeps the lines of an epilog that has several."""

    def _fill_text(self, text, width, indent):
        if '\n' not in text:
            return super()._fill_text(text, width, indent)
        return ''.join(indent + line + '\n' for line in text.splitlines())


class Lister(lister.Lister):
    """A glance-virtio command; it logs in only when it needs the cloud."""

    # OpenStackClient would log in before parsing; connection() does.
    auth_required = False
    command = ''
    # '' for images, else volume or server: `openstack volume virtio-set`.
    family = ''
    epilogs = EPILOGS

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        parser.formatter_class = EpilogFormatter
        return parser

    def get_epilog(self):
        if short_name(self) not in self.epilogs:
            return super().get_epilog()
        examples, codes = self.epilogs[short_name(self)]
        text = epilog(examples.format(cmd=invoked(self)), codes)
        return '\n\n'.join(t for t in (text, super().get_epilog()) if t)


def epilog(examples, codes):
    """A help epilog: examples, one a line, and the exit codes."""
    # Literal blocks: the help reads the same, and the docs build (cliff's
    # sphinx extension renders the epilog as rST) keeps the lines.
    return 'examples::\n\n%s\n\nexit codes::\n\n%s' % (
        '\n'.join('  ' + line for line in examples.splitlines()), codes)


def short_name(cmd):
    """'set' for `glance-virtio set`, `volume-set`, `image virtio-set`."""
    # cliff's sphinx extension makes commands without a cmd_name.
    name = (getattr(cmd, 'cmd_name', None) or cmd.command).split(' ')[-1]
    for prefix in ('virtio-', getattr(cmd, 'family', '') + '-'):
        if prefix != '-' and name.startswith(prefix):
            name = name[len(prefix):]
    return name


def invoked(cmd, name=None):
    """How to run command name (default: cmd itself) in the app running cmd.

    `glance-virtio set` in the standalone app, `openstack image virtio-set`
    in OpenStackClient; likewise `glance-virtio volume-set` and `openstack
    volume virtio-set`.
    """
    name = name or short_name(cmd)
    family = getattr(cmd, 'family', '')
    group = family or 'image'
    if (getattr(cmd, 'cmd_name', None) or '').startswith(group + ' virtio-'):
        return 'openstack %s virtio-%s' % (group, name)
    return 'glance-virtio %s%s' % (family + '-' if family else '', name)


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


def positive_int(text):
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError('must be a whole number of 1 or '
                                         'more, got %r' % text)
    return value


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
             % (EXIT_FINDINGS, ', '.join(model.SEVERITIES), default_text))


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


def connection(app):
    """The SDK connection, logged in with an image endpoint.

    Any failure is one line naming the cause (exit 1), before any image is
    read: a 401 or an unreachable cloud never becomes a per-image result.
    """
    # A failed login is the one line below: not keystoneauth's warnings too.
    quiet = logging.getLogger('keystoneauth')
    level = quiet.level
    if getattr(app.options, 'verbose_level', 1) <= 1 and not getattr(
            app.options, 'debug', False):
        quiet.setLevel(logging.ERROR)
    try:
        # OpenStackClient logs in here; the standalone app does nothing.
        app.prepare_to_run_command(_NeedsCloud())
        conn = app.client_manager.sdk_connection
        glance.login(conn)
    except glance.CloudError as e:
        raise exceptions.CommandError(str(e))
    except (sdk_exc.ConfigException, exceptions.AuthorizationFailure,
            ks_exc.AuthPluginException) as e:
        raise exceptions.CommandError(
            'cloud configuration: %s (check --os-cloud, clouds.yaml or the '
            'OS_* variables)' % glance.one_line(e))
    except ks_exc.ClientException as e:
        raise exceptions.CommandError(str(glance.cloud_error(e)))
    finally:
        quiet.setLevel(level)
    return conn


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


def add_scsi_model(parser):
    """--scsi-model, as virtio-set and virtio-explain take it."""
    parser.add_argument('--scsi-model', metavar='<model>', type=lower,
                        choices=rules.SCSI_MODELS,
                        help='hw_scsi_model with --bus scsi: %s, any case '
                             '(default: site policy [policy] '
                             'default_scsi_model, virtio-scsi)'
                             % ', '.join(rules.SCSI_MODELS))


def add_target(parser, cmd, machine_type=True, example=', e.g. GV011'):
    """--bus, --scsi-model, --machine-type and --allow of a set command."""
    parser.add_argument('--bus', metavar='<bus>', required=True, type=lower,
                        choices=['virtio', 'scsi', 'sata', 'ide'],
                        help='Target hw_disk_bus: virtio, scsi, sata, ide')
    add_scsi_model(parser)
    if machine_type:
        parser.add_argument('--machine-type', metavar='<type>',
                            help='Also set hw_machine_type, e.g. q35')
    parser.add_argument('--allow', metavar='<rule-id>', action='append',
                        type=rule_id(cmd), default=[],
                        help='Accept findings of this rule knowingly '
                             '(repeatable)' + example)


def check_target(cmd, parsed_args):
    """Usage errors of the target options, and of an existing journal."""
    check_journal_option(parsed_args)
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


# Image selection lives with the kind; the image commands use it here.
filters = images.filters
find = images.find
select = images.select
base_images = images.base_images


# The columns every command shows (glance_virtio.columns).
ListColumn = columns.ListColumn
FindingsColumn = columns.FindingsColumn
MessagesColumn = columns.MessagesColumn
DictColumn = columns.DictColumn
ChangesColumn = columns.ChangesColumn
wants_everything = columns.wants_everything
wants_long = columns.wants_long
cells = columns.cells
table = columns.table


def journal_arg(text):
    if not text.strip():
        raise argparse.ArgumentTypeError('give a file name')
    return text


def concurrency_arg(text):
    try:
        value = int(text)
    except ValueError:
        value = 0
    if not 1 <= value <= conf.MAX_CONCURRENCY:
        raise argparse.ArgumentTypeError(
            'must be a whole number from 1 to %d' % conf.MAX_CONCURRENCY)
    return value


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


def check_journal_option(parsed_args):
    """Refuse --journal on an existing file unless --append is given."""
    path = parsed_args.journal
    if path and os.path.exists(path) and not parsed_args.append:
        raise exceptions.CommandError(
            'journal %s exists: give --append to add this run to it, or '
            'another file' % path)


def identity(conn):
    """Who runs this command, as a journal's start record names it."""
    return {'cloud': conn.config.name,
            'auth_url': conn.config.get_auth_args().get('auth_url'),
            'user_id': conn.current_user_id,
            'project_id': conn.current_project_id}


def opener(conn, config, parsed_args, command, **header):
    """open_record(**more) for the engine: the journal of this run."""
    def open_record(**more):
        return engine.open_journal(parsed_args, config.journal.directory,
                                   command, identity(conn),
                                   **dict(header, **more))
    return open_record


def concurrency(parsed_args, config):
    return parsed_args.concurrency or config.policy.concurrency


class ChangeLister(Lister):
    """A command whose exit code take_action sets in self._exit."""

    def run(self, parsed_args):
        self._exit = 0
        result = super().run(parsed_args)
        return result or self._exit
