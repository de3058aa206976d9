"""A token revoked in the middle of a bulk set: the run re-authenticates.

The proof is what happened, not how long it took: the run is paused, every
token of its user is revoked, Glance is seen refusing a token it validated
after the run's own last request, and only then does the run go on. Every
image it changes after that was changed with a token it got anew.
"""

import json
import os
import signal
import time

import openstack
import openstack.config
import requests

from glance_virtio.services import glance
from tests.functional import conftest
import load_samples

COUNT = 80
UBUNTU = {'os_type': 'linux', 'os_distro': 'ubuntu', 'os_version': '22.04',
          'hw_disk_bus': 'virtio'}


def intents(path):
    """Intent records in the journal so far (a torn last line ignored)."""
    count = 0
    with open(path) as f:
        for line in f:
            try:
                count += json.loads(line).get('type') == 'intent'
            except ValueError:
                pass
    return count


def glance_answer(conn, token):
    glance = conn.session.get_endpoint(service_type='image',
                                       interface='public').rstrip('/')
    return requests.get(glance + '/v2/images?limit=1', timeout=30,
                        headers={'X-Auth-Token': token}).status_code


def wait_for_refusal(conn, token):
    """Poll Glance with token until it answers 401 (its cache expires)."""
    deadline = time.monotonic() + conftest.DEADLINE
    while time.monotonic() < deadline:
        status = glance_answer(conn, token)
        if status == 401:
            return
        assert status == 200, status
        time.sleep(0.2)
    raise AssertionError('Glance still takes a revoked token after %d s'
                         % conftest.DEADLINE)


def test_token_revoked_mid_run(admin, member, tag, tmp_path):
    for n in range(COUNT):
        load_samples.create(member, 'reauth-%02d' % n, [tag], UBUNTU,
                            data=None)
    path = str(tmp_path / 'reauth.jsonl')
    proc = conftest.start_set(tag, path, 1, cloud='devcloud-member')
    conftest.pause_after_intents(proc, path, 5)
    try:
        intents_when_paused = intents(path)
        assert intents_when_paused < COUNT, \
            'the run ended before it could be paused'
        # A new token, first shown to Glance now: Glance caches it after
        # every token the paused run sent, so it leaves the cache last.
        probe = openstack.connect(cloud='devcloud-member')
        token = probe.session.get_token()
        assert glance_answer(probe, token) == 200
        # Setting a user's password, even to the same value, revokes every
        # token the user holds, the running command's among them.
        password = openstack.config.OpenStackConfig().get_one(
            'devcloud-member').auth['password']
        admin.identity.update_user(member.current_user_id,
                                   password=password)
        wait_for_refusal(probe, token)
        assert proc.poll() is None
    finally:
        os.kill(proc.pid, signal.SIGCONT)
    out, err = proc.communicate(timeout=conftest.DEADLINE)

    assert proc.returncode == 0, err
    rows = json.loads(out)
    assert len(rows) == COUNT
    assert {r['Outcome'] for r in rows} == {'changed'}
    # Images were changed after the run's first token was refused.
    assert intents(path) == COUNT > intents_when_paused
    now = list(glance.list_images(member, {'tag': [tag]}))
    assert len(now) == COUNT
    assert {i.properties.get('hw_disk_bus') for i in now} == {'scsi'}
    load_samples.delete_tagged(admin, tag)
