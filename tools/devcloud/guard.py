"""glance-virtio's import plugin in the devcloud's Glance.

This repository is installed (editable) into the servers' venv, and
glance-image-import.conf enables glance_virtio_guard, so that imports
(glance-direct, web-download) run it as a real Glance 33 would.
"""

import hashlib

from devcloud.base import LOGS, REPO, VENV, ini, start_job, write_private

# What decides the installed entry points and dependencies.
SOURCES = ('setup.cfg', 'requirements.txt',
           'tools/devcloud-requirements.txt')
PLUGINS = ['glance_virtio_guard']


def import_conf(path):
    """Write glance-image-import.conf next to glance-api.conf."""
    write_private(path, ini({
        'image_import_opts': {'image_import_plugins': repr(PLUGINS)},
        'glance_virtio_guard': {
            'mode': 'enforce',
            'fill_properties': 'os_type,os_distro,virtio_drivers',
            'on_inspection_error': 'allow',
        },
        # web-download from a test's loopback HTTP server on any port:
        # Glance refuses loopback hosts unless they are allowed, and
        # allows only ports 80 and 443 by default (an empty list: all;
        # these lists are written in brackets).
        'import_filtering_opts': {'allowed_hosts': '[127.0.0.1]',
                                  'allowed_ports': '[]'},
    }))


def fingerprint():
    digest = hashlib.sha256()
    for name in SOURCES:
        digest.update((REPO / name).read_bytes())
    return digest.hexdigest()


def install(done):
    """Start installing the plugin unless this version is in; a job or None."""
    if done.get('glance_virtio_guard') == fingerprint():
        return None
    # The servers' pins hold (-c): the plugin's requirements only add.
    return start_job([VENV / 'bin' / 'python', '-m', 'pip', 'install',
                      '--disable-pip-version-check', '-q', '-c',
                      REPO / 'tools' / 'devcloud-requirements.txt', '-e',
                      REPO], LOGS / 'setup-glance-virtio-guard.log')
