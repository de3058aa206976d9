"""tools/devcloud.sh says clearly what it did, or why it could not."""

import json
import os
import subprocess
from pathlib import Path

from tests.functional import devcloud

SCRIPT = str(devcloud.SCRIPT.with_suffix('.sh'))


def devcloud_sh(*args, state=None):
    env = dict(os.environ)
    if state is not None:
        env['DEVCLOUD_DIR'] = str(state)
    return subprocess.run(['bash', SCRIPT] + list(args), capture_output=True,
                          text=True, timeout=120, env=env,
                          stdin=subprocess.DEVNULL)


def test_starting_twice_says_it_is_running(cloud):
    result = devcloud_sh('start')
    assert result.returncode == 0, result.stderr
    assert 'already running' in result.stdout + result.stderr


def test_status_of_a_running_cloud(cloud):
    result = devcloud_sh('status')
    assert result.returncode == 0
    assert 'glance   running' in result.stdout
    assert 'answering' in result.stdout


def test_a_taken_port_is_a_clear_error_before_installing(cloud, tmp_path):
    # A second cloud in another state directory wants the same ports.
    result = devcloud_sh('start', state=tmp_path)
    assert result.returncode == 1
    assert 'is already in use by another program' in result.stderr
    assert 'DEVCLOUD_KEYSTONE_PORT=<port>' in result.stderr
    assert not (tmp_path / 'venv').exists()


def test_stop_and_status_of_a_cloud_that_is_not_running(tmp_path):
    stop = devcloud_sh('stop', state=tmp_path)
    assert stop.returncode == 0 and 'not running' in stop.stdout + stop.stderr
    status = devcloud_sh('status', state=tmp_path)
    assert status.returncode == 3
    assert 'keystone stopped' in status.stdout


def test_info_names_every_service_and_no_password(cloud):
    result = devcloud_sh('info')
    assert result.returncode == 0, result.stderr
    info = json.loads(result.stdout)
    assert info['keystone_url'].endswith('/v3')
    assert info['glance_url'].startswith('http://127.0.0.1:')
    passwords = json.loads(
        (Path(info['state_dir']) / 'secrets.json').read_text())
    assert set(passwords) >= {'admin', 'demo', 'glance'}
    for password in passwords.values():
        assert password not in result.stdout + result.stderr


def test_usage_names_the_commands_of_each_service():
    result = devcloud_sh()
    assert result.returncode == 2
    assert 'stop-SERVICE [--kill]|start-SERVICE' in result.stderr
    assert 'keystone, glance' in result.stderr
