"""What the watcher does on a failure a real Glance cannot be made to show.

A 500 on reading one image: the fake stands in only for
conn.image.request (the one call glance.py makes); everything else is the
real watcher and state. The normal paths run against the local cloud in
tests/functional/test_watch.py.
"""

import io
import json

from glance_virtio import changes
from glance_virtio import model
from glance_virtio import watch

BODY = {'id': 'i1', 'name': 'debian', 'owner': 'p1', 'status': 'active',
        'visibility': 'private', 'checksum': 'c1', 'os_type': 'linux',
        'os_distro': 'debian', 'os_version': '12', 'hw_disk_bus': 'scsi',
        'updated_at': '2026-12-05T07:00:00Z'}


class Response:
    def __init__(self, status, body):
        self.status_code = status
        self._body = body
        self.text = json.dumps(body)
        self.reason = 'fake'

    def json(self):
        return self._body


class Conn:
    """Answers each request with the next queued (status, body) pair."""

    def __init__(self, *answers):
        self.answers = list(answers)
        self.image = self

    def request(self, url, method, **kwargs):
        return Response(*self.answers.pop(0))


def watcher(conn, tmp_path):
    out = io.StringIO()
    state = changes.State('2026-12-05T06:00:00Z')
    return watch.Watcher(conn, model.Policy(), state, out,
                         state_path=str(tmp_path / 'state.json')), out


def test_a_failed_read_keeps_the_mark_and_asks_for_a_reconcile(tmp_path):
    w, out = watcher(Conn((500, {'error': 'boom'})), tmp_path)
    w.last_reconcile = 1e12
    w.handle('image.update', BODY)
    assert out.getvalue() == ''
    assert w.state.mark == '2026-12-05T06:00:00Z'
    assert w.last_reconcile == 0.0
    assert w.state.is_new(model.Image('i1'))
