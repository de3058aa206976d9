"""The standalone `glance-virtio` command."""

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


class ClientManager:
    """Holds the SDK connection, made on first use, like OSC's."""

    def __init__(self, options):
        self._options = options
        self._conn = None

    @property
    def sdk_connection(self):
        if self._conn is None:
            region = os_config.OpenStackConfig(
                app_name='glance-virtio',
                app_version=glance_virtio.version()).get_one(
                    argparse=self._options)
            self._conn = connection.Connection(config=region)
        return self._conn


class GlanceVirtioApp(app.App):

    def __init__(self):
        super().__init__(
            description='Audit and move Glance images to virtio disk buses',
            version=glance_virtio.version(),
            command_manager=commandmanager.CommandManager('glance_virtio.cli'),
            deferred_help=True)
        self.client_manager = None

    def build_option_parser(self, description, version, argparse_kwargs=None):
        parser = super().build_option_parser(description, version,
                                             argparse_kwargs)
        os_config.OpenStackConfig().register_argparse_arguments(
            parser, sys.argv[1:])
        parser.add_argument(
            '--config-file', '--virtio-config-file', metavar='<path>',
            dest='virtio_config_file',
            default=os.environ.get('GLANCE_VIRTIO_CONFIG_FILE'),
            help='Site policy file (env GLANCE_VIRTIO_CONFIG_FILE; default: '
                 '/etc/glance-virtio/glance-virtio.conf when present)')
        return parser

    def initialize_app(self, argv):
        self.client_manager = ClientManager(self.options)


def main(argv=None):
    try:
        return GlanceVirtioApp().run(sys.argv[1:] if argv is None else argv)
    except os_exceptions.ConfigException as e:
        sys.stderr.write('glance-virtio: cloud configuration: %s (see '
                         'clouds.yaml, --os-cloud and OS_* variables)\n' % e)
        return 1


if __name__ == '__main__':
    sys.exit(main())
