"""OpenStackClient plugin: adds the `openstack image virtio-*` commands."""

import logging
import os

LOG = logging.getLogger(__name__)

DEFAULT_API_VERSION = '1'
API_VERSION_OPTION = 'os_glance_virtio_api_version'
API_NAME = 'glance_virtio'
API_VERSIONS = ('1',)


def make_client(instance):
    """The commands use the SDK connection OSC already holds."""
    return instance.sdk_connection


def build_option_parser(parser):
    """Global options of the plugin."""
    parser.add_argument(
        '--os-glance-virtio-api-version',
        metavar='<glance-virtio-api-version>',
        default=os.environ.get('OS_GLANCE_VIRTIO_API_VERSION'),
        help='glance-virtio command set version, default=%s'
             % DEFAULT_API_VERSION)
    parser.add_argument(
        '--virtio-config-file', metavar='<path>',
        default=os.environ.get('GLANCE_VIRTIO_CONFIG_FILE'),
        help='glance-virtio site policy file (env GLANCE_VIRTIO_CONFIG_FILE; '
             'default: /etc/glance-virtio/glance-virtio.conf when present)')
    return parser
