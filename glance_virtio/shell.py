"""The standalone `glance-virtio` command."""

import argparse
import importlib.metadata
import logging
import os
import sys

from cliff import app
from cliff import commandmanager
from openstack import connection
from openstack import exceptions as os_exceptions
from openstack import config as os_config

import glance_virtio

LOG = logging.getLogger(__name__)


class SkippedFiles(logging.Filter):
    """Holds openstacksdk's "Skipping config file" warnings, unprinted.

    A clouds.yaml that does not parse is reported as one error line when
    a command needs the cloud (ClientManager), not as the SDK's warning.
    """

    def __init__(self):
        super().__init__()
        self.skipped = {}

    def filter(self, record):
        if str(record.msg).startswith('Skipping config file') and \
                isinstance(record.args, tuple) and len(record.args) == 2:
            path, cause = record.args
            self.skipped[path] = ' '.join(str(cause).split())
            return False
        return True


SKIPPED = SkippedFiles()


class ClientManager:
    """Holds the SDK connection, made on first use, like OSC's."""

    def __init__(self, options):
        self._options = options
        self._conn = None

    @property
    def sdk_connection(self):
        if self._conn is None:
            for path, cause in SKIPPED.skipped.items():
                raise os_exceptions.ConfigException(
                    '%s is not valid YAML or JSON: %s' % (path, cause))
            region = os_config.OpenStackConfig(
                app_name='glance-virtio',
                app_version=glance_virtio.version()).get_one(
                    argparse=self._options)
            self._conn = connection.Connection(config=region)
        return self._conn


class CommandManager(commandmanager.CommandManager):
    """Imports a command's module only when that command runs.

    stevedore would import every command module at start-up, and with
    them the code of commands that are not run (verify, watch...).
    """

    def load_commands(self, namespace):
        self.group_list.append(namespace)
        for entry in importlib.metadata.entry_points(group=namespace):
            name = entry.name.replace('_', ' ') \
                if self.convert_underscores else entry.name
            self.commands[name] = entry


class GlanceVirtioApp(app.App):

    def __init__(self):
        super().__init__(
            description='Audit and move Glance images to virtio disk buses',
            version=glance_virtio.version(),
            command_manager=CommandManager('glance_virtio.cli'),
            deferred_help=True)
        self.client_manager = None

    def build_option_parser(self, description, version, argparse_kwargs=None):
        parser = super().build_option_parser(description, version,
                                             argparse_kwargs)
        register_cloud_options(parser, sys.argv[1:])
        parser.add_argument(
            '--config-file', '--virtio-config-file', metavar='<path>',
            dest='virtio_config_file',
            default=os.environ.get('GLANCE_VIRTIO_CONFIG_FILE'),
            help='Site policy file (env GLANCE_VIRTIO_CONFIG_FILE; default: '
                 '/etc/glance-virtio/glance-virtio.conf when present)')
        return parser

    def configure_logging(self):
        # --debug logs at debug level; only --debug shows tracebacks.
        if self.options.debug:
            self.options.verbose_level = max(self.options.verbose_level, 2)
        super().configure_logging()
        if not self.options.debug:
            for handler in logging.getLogger('').handlers:
                if type(handler) is logging.StreamHandler:
                    handler.setFormatter(NoTraceback(
                        self.CONSOLE_MESSAGE_FORMAT))

    def initialize_app(self, argv):
        self.client_manager = ClientManager(self.options)

    def interact(self):
        # No command given: a short help, not cliff's interactive shell.
        lines = ['usage: glance-virtio [global options] <command> [options]',
                 '', 'Commands:']
        for name, entry in sorted(self.command_manager):
            doc = (entry.load().__doc__ or '').strip().splitlines()
            lines.append('  %-9s %s' % (name, doc[0] if doc else ''))
        lines += ['', 'glance-virtio --help lists the global options; '
                  'glance-virtio help <command> shows a command.']
        sys.stderr.write('\n'.join(lines) + '\n')

    def run(self, argv):
        result = super().run(argv)
        return 2 if self.interactive_mode else result


class NoTraceback(logging.Formatter):
    """The message of a record without its traceback (no --debug)."""

    def format(self, record):
        record = logging.makeLogRecord(record.__dict__)
        record.exc_info = record.exc_text = record.stack_info = None
        return super().format(record)


def register_cloud_options(parser, argv):
    """The --os-* options; a broken cloud config fails only when used.

    openstacksdk peeks at the named cloud to choose the auth options; when
    that cloud is missing or clouds.yaml is unreadable, register the options
    without it, so that `rules` still works and the commands that need the
    cloud report the configuration error when they connect.
    """
    try:
        os_config.OpenStackConfig().register_argparse_arguments(
            argparse.ArgumentParser(add_help=False), list(argv))
    except os_exceptions.ConfigException as e:
        LOG.debug('cloud configuration not usable yet: %s', e)
        blind = os_config.OpenStackConfig(load_yaml_config=False,
                                          load_envvars=False)
        blind.register_argparse_arguments(parser, _without_cloud(argv))
        parser.set_defaults(os_cloud=os.environ.get('OS_CLOUD'))
        return
    os_config.OpenStackConfig().register_argparse_arguments(parser, argv)


def _without_cloud(argv):
    kept, skip = [], False
    for arg in argv:
        if skip:
            skip = False
        elif arg in ('--os-cloud', '--os_cloud'):
            skip = True
        elif not arg.startswith(('--os-cloud=', '--os_cloud=')):
            kept.append(arg)
    return kept


def main(argv=None):
    logging.getLogger('openstack.config').addFilter(SKIPPED)
    try:
        return GlanceVirtioApp().run(sys.argv[1:] if argv is None else argv)
    except os_exceptions.ConfigException as e:
        sys.stderr.write('glance-virtio: cloud configuration: %s (see '
                         'clouds.yaml, --os-cloud and OS_* variables)\n' % e)
        return 1


if __name__ == '__main__':
    sys.exit(main())
