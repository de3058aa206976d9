"""The real local cloud (tools/devcloud.sh) and the CLIs, as users run them."""

import json
import os
import subprocess
import sys
import time
import uuid

import openstack
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, 'tools'))
import load_samples  # noqa: E402

from glance_virtio import journal  # noqa: E402
from tests.functional import devcloud  # noqa: E402

BIN = os.path.dirname(sys.executable)


@pytest.fixture(scope='session')
def cloud():
    """Start the local Keystone and Glance once per test run."""
    os.environ['OS_CLIENT_CONFIG_FILE'] = devcloud.ensure_running()[
        'clouds_yaml']
    for key in [k for k in os.environ if k.startswith('OS_')
                and k != 'OS_CLIENT_CONFIG_FILE']:
        del os.environ[key]
    return os.environ['OS_CLIENT_CONFIG_FILE']


@pytest.fixture(scope='session')
def admin(cloud):
    return openstack.connect(cloud='devcloud-admin')


@pytest.fixture(scope='session')
def member(cloud):
    return openstack.connect(cloud='devcloud-member')


def run(*args, cloud='devcloud-admin', tool='glance-virtio', check=None,
        stdin=None, env=None):
    """Run a CLI from this virtualenv; the CompletedProcess."""
    cmd = [os.path.join(BIN, tool)] + (['--os-cloud', cloud] if cloud
                                       else []) + list(args)
    result = subprocess.run(cmd, capture_output=True, text=True,
                            timeout=600, input=stdin,
                            env=dict(os.environ, **(env or {})))
    if check is not None:
        assert result.returncode == check, (cmd, result.stdout,
                                            result.stderr)
    return result


def run_json(*args, **kwargs):
    result = run(*(list(args) + ['-f', 'json']), **kwargs)
    return json.loads(result.stdout), result


@pytest.fixture(scope='session')
def catalogue(admin):
    """The sample images, tagged for this run: (tag, {name: (id, expect)})."""
    tag = 'gvtest-' + uuid.uuid4().hex[:8]
    loaded = load_samples.load(admin, tag)
    yield tag, loaded
    load_samples.delete_tagged(admin, tag)


@pytest.fixture
def tag():
    return 'gvtest-' + uuid.uuid4().hex[:8]


def start_set(tag, path, concurrency, cloud='devcloud-admin'):
    """Start `glance-virtio set --bus scsi` on the tagged images; the Popen."""
    cmd = [os.path.join(BIN, 'glance-virtio'), '--os-cloud', cloud, 'set',
           '--tag', tag, '--bus', 'scsi', '--concurrency', str(concurrency),
           '--journal', path, '--yes', '-f', 'json']
    return subprocess.Popen(cmd, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True,
                            stdin=subprocess.DEVNULL)


def wait_for_intents(path, count):
    """Wait until the journal at path holds count intent records."""
    deadline = time.time() + 120
    while time.time() < deadline:
        if os.path.exists(path) and sum(
                r['type'] == 'intent' for r in journal.read(path)) >= count:
            return
        time.sleep(0.05)
    raise AssertionError('no %d intents in %s after 120 s' % (count, path))
