"""The real local cloud (tools/devcloud.sh) and the CLIs, as users run them."""

import json
import os
import signal
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

from tests.functional import devcloud  # noqa: E402

BIN = os.path.dirname(sys.executable)
# How long a wait may last before the test calls the run hung.
DEADLINE = 900


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


def records(path):
    """The journal's records so far, without a torn (half-written) line."""
    found = []
    if os.path.exists(path):
        with open(path) as f:
            for line in f:
                try:
                    found.append(json.loads(line))
                except ValueError:
                    pass
    return found


def intents(path):
    """Ids of the images with an intent record in the journal at path."""
    return {r['image'] for r in records(path) if r['type'] == 'intent'}


def in_flight(path):
    """Images with an intent but no result yet: writes under way."""
    done = {r['image'] for r in records(path) if r['type'] == 'result'}
    return intents(path) - done


def _stopped(pid):
    """True once every thread of pid is stopped (state T)."""
    task = '/proc/%d/task' % pid
    for tid in os.listdir(task):
        try:
            with open('%s/%s/stat' % (task, tid)) as f:
                state = f.read().rsplit(')', 1)[1].split()[0]
        except FileNotFoundError:
            continue
        if state not in 'Tt':
            return False
    return True


def stop(proc):
    """SIGSTOP proc and wait until it is stopped: the journal holds still."""
    os.kill(proc.pid, signal.SIGSTOP)
    while not _stopped(proc.pid):
        time.sleep(0.001)


def pause_when(proc, done, what, deadline=DEADLINE):
    """Leave proc stopped (SIGSTOP) at the first check where done() holds.

    The run goes on only in short slices between checks, each made with
    the run stopped. Fails if the run ends first, or after deadline
    seconds: a limit for a hung run, not an expectation of speed.
    """
    end = time.monotonic() + deadline
    while True:
        if proc.poll() is not None:
            raise AssertionError('the run ended before %s' % what)
        stop(proc)
        if done():
            return
        if time.monotonic() > end:
            os.kill(proc.pid, signal.SIGCONT)
            raise AssertionError('no %s after %d s' % (what, deadline))
        os.kill(proc.pid, signal.SIGCONT)
        time.sleep(0.02)


def pause_after_intents(proc, path, count):
    """Leave proc stopped once the journal holds count intent records."""
    pause_when(proc, lambda: len(intents(path)) >= count,
               '%d intents in %s' % (count, path))


def wait_until(done, what, deadline=DEADLINE):
    """Poll done() until it holds; fails only after deadline seconds."""
    end = time.monotonic() + deadline
    while not done():
        if time.monotonic() > end:
            raise AssertionError('no %s after %d s' % (what, deadline))
        time.sleep(0.1)
