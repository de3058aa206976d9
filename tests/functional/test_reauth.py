"""A token revoked in the middle of a bulk set: the run re-authenticates."""

import json
import time

import openstack.config
import requests

from tests.functional import conftest
import load_samples

UBUNTU = {'os_type': 'linux', 'os_distro': 'ubuntu', 'os_version': '22.04',
          'hw_disk_bus': 'virtio'}


def test_token_revoked_mid_run(admin, member, tag, tmp_path):
    for n in range(80):
        load_samples.create(member, 'reauth-%02d' % n, [tag], UBUNTU,
                            data=None)
    old_token = member.session.get_token()
    path = str(tmp_path / 'reauth.jsonl')
    proc = conftest.start_set(tag, path, 1, cloud='devcloud-member')
    conftest.wait_for_intents(path, 5)
    # Setting a user's password, even to the same value, revokes every
    # token the user holds, the running command's among them.
    password = openstack.config.OpenStackConfig().get_one(
        'devcloud-member').auth['password']
    admin.identity.update_user(member.current_user_id, password=password)
    revoked_at = time.time()
    out, err = proc.communicate(timeout=300)
    finished_at = time.time()

    assert proc.returncode == 0, err
    rows = json.loads(out)
    assert len(rows) == 80
    assert {r['Outcome'] for r in rows} == {'changed'}
    # The revocation took effect while the run went on (Glance caches a
    # validated token for 2 s): a token from before it is refused now.
    assert finished_at - revoked_at > 3
    glance = member.image.get_endpoint().rstrip('/')
    answer = requests.get(glance + '/v2/images', timeout=10,
                          headers={'X-Auth-Token': old_token})
    assert answer.status_code == 401
    load_samples.delete_tagged(admin, tag)
