"""Helpers for functional tests that need the local cloud (tools/devcloud).

    info = ensure_running()      # installs + starts on first use (slow once)
    os.environ['OS_CLIENT_CONFIG_FILE'] = info['clouds_yaml']
    openstack.connect(cloud=info['admin_cloud'])   # or info['member_cloud']

stop_glance(kill=True) / start_glance() crash and revive Glance only.
nova_manage('image_property', 'show', server_id, 'hw_disk_bus') runs the
cloud's own nova-manage.  DEVCLOUD_DIR and DEVCLOUD_<SERVICE>_PORT are
honoured.
"""

import json
import shlex
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / 'tools' / 'devcloud'


class DevcloudError(RuntimeError):
    pass


def _run(*args, timeout=900):
    proc = subprocess.run([sys.executable, str(SCRIPT)] + list(args),
                          capture_output=True, text=True, timeout=timeout,
                          stdin=subprocess.DEVNULL)
    if proc.returncode != 0:
        raise DevcloudError('devcloud %s failed (exit %d):\n%s%s' % (
            ' '.join(args), proc.returncode, proc.stdout, proc.stderr))
    return proc.stdout


def info():
    """Paths and URLs of the local cloud, without secrets.

    Keys: state_dir, clouds_yaml, admin_cloud, member_cloud, logs_dir, venv,
    services (those `start` runs), <service>_url (keystone, glance,
    placement, nova, cinder, ...), image_dir, region, nova_manage (the
    command prefix), nova_conf, flavors, cinder_backend, rabbitmq_port.
    """
    return json.loads(_run('info'))


def ensure_running():
    """Start the cloud unless it is already up; return info()."""
    _run('start')
    return info()


def is_running():
    proc = subprocess.run([sys.executable, str(SCRIPT), 'status'],
                          capture_output=True, stdin=subprocess.DEVNULL)
    return proc.returncode == 0


def stop_glance(kill=False):
    """Stop Glance; kill=True sends SIGKILL at once (a crash)."""
    _run('stop-glance', *(['--kill'] if kill else []))


def start_glance():
    _run('start-glance')


def stop_service(name):
    _run('stop-' + name)


def start_service(name):
    _run('start-' + name)


def nova_manage(*args, timeout=300):
    """Run the cloud's nova-manage with args; its stdout (raises on error)."""
    cmd = shlex.split(info()['nova_manage']) + list(args)
    proc = subprocess.run(cmd, capture_output=True, text=True,
                          timeout=timeout, stdin=subprocess.DEVNULL)
    if proc.returncode != 0:
        raise DevcloudError('nova-manage %s failed (exit %d):\n%s%s' % (
            ' '.join(args), proc.returncode, proc.stdout, proc.stderr))
    return proc.stdout
