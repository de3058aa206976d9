"""virtio-watch against the real local cloud: Glance notifies on RabbitMQ.

An upload with PUT /file, a Nova snapshot and a PATCH after activation each
show up exactly once, across a watcher killed and restarted in between,
and a change whose notification is lost is found by the reconcile.
"""

import json
import os
import signal
import subprocess
import uuid

import amqp
from prometheus_client import parser
import pytest

import load_samples
from tests.fixtures import images
from tests.functional import devcloud
from tests.functional.conftest import BIN
from tests.functional.conftest import run
from tests.functional.conftest import wait_until
from tests.functional.test_servers import boot
from tests.functional.test_servers import wait

DEBIAN = {'os_type': 'linux', 'os_distro': 'debian', 'os_version': '12'}
SCSI_NO_MODEL = dict(DEBIAN, hw_disk_bus='scsi')
GOOD = dict(DEBIAN, hw_disk_bus='scsi', hw_scsi_model='virtio-scsi')


@pytest.fixture(scope='module')
def bus(cloud):
    """The transport URL of the devcloud's RabbitMQ, and Glance's topic."""
    info = devcloud.info()
    if not info['glance_notifications']['enabled']:
        # A Glance started by `start --minimal` stays silent until it is
        # started again with the full cloud's configuration.
        devcloud.stop_glance()
        devcloud.start_glance()
        info = devcloud.info()
    notify = info['glance_notifications']
    assert notify['enabled'], info
    with open(os.path.join(info['state_dir'], 'secrets.json')) as f:
        password = json.load(f)['rabbitmq']
    return ('rabbit://devcloud:%s@127.0.0.1:%d/' % (
        password, info['rabbitmq_port']), notify['topic'])


class Watcher:
    """One `glance-virtio watch` run on a state file and an output file."""

    def __init__(self, tmp_path, bus, *extra):
        self.state = str(tmp_path / 'state.json')
        self.output = str(tmp_path / 'watch.jsonl')
        self.log = open(str(tmp_path / 'watch.log'), 'a')
        before = self.reconciles()
        url, topic = bus
        self.proc = subprocess.Popen(
            [os.path.join(BIN, 'glance-virtio'), '--os-cloud',
             'devcloud-admin', 'watch', '--state', self.state, '--output',
             self.output, '--topic', topic,
             '--reconcile-interval', '3600'] + list(extra),
            stdout=subprocess.DEVNULL, stderr=self.log,
            stdin=subprocess.DEVNULL,
            env=dict(os.environ, GLANCE_VIRTIO_TRANSPORT_URL=url))
        # It listens before its first reconcile, which it logs.
        wait_until(lambda: self.up() and self.reconciles() > before,
                   'the watcher listening and reconciled')

    def reconciles(self):
        with open(self.log.name) as f:
            return f.read().count('reconciled in')

    def up(self):
        assert self.proc.poll() is None, open(self.log.name).read()
        return os.path.exists(self.state)

    def seen(self):
        with open(self.state) as f:
            return json.load(f)['seen']

    def kill(self):
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()


def lines(path, ids):
    """The watcher's lines about the images in ids, in order."""
    found = []
    with open(path) as f:
        for line in f:
            record = json.loads(line)
            if record['id'] in ids:
                found.append(record)
    return found


def rules(record):
    return {f['rule'] for f in record['findings']}


def purge(bus):
    """Drop the watcher's queued notifications: as if they were lost."""
    url, topic = bus
    creds, _, hostport = url[len('rabbit://'):].rstrip('/').partition('@')
    user, _, password = creds.partition(':')
    with amqp.Connection(hostport, userid=user, password=password) as conn:
        conn.channel().queue_purge(topic + '.info')


def test_each_change_shows_up_exactly_once(admin, bus, tmp_path):
    tag = 'gvwatch-' + uuid.uuid4().hex[:8]
    mine = set()
    server = None

    def judged(image_id, count=1):
        wait_until(lambda: len(lines(out, {image_id})) >= count,
                   '%d line(s) about %s' % (count, image_id))
        return lines(out, {image_id})[count - 1]

    watcher = Watcher(tmp_path, bus)
    out = watcher.output
    try:
        # 1. A user uploads with PUT /file: no import plugin runs.
        bad = load_samples.create(admin, tag + '-lsi', [tag], SCSI_NO_MODEL,
                                  data=b'\0' * 4096)['id']
        good = load_samples.create(admin, tag + '-good', [tag], GOOD,
                                   data=b'\0' * 4096)['id']
        mine |= {bad, good}
        first = judged(bad)
        assert first['event'].startswith('image.')
        assert 'GV005' in rules(first) and first['severity'] == 'error'
        assert first['name'] == tag + '-lsi' and first['owner']
        assert first['recommended_bus']
        assert 'GV005' not in rules(judged(good))

        # 2. Killed; meanwhile automation PATCHes the active image to a
        # bad bus and the notification is lost (the queue is purged).
        wait_until(lambda: {bad, good} <= set(watcher.seen()),
                   'the state file holding both images')
        watcher.kill()
        admin.image.patch(
            '/images/%s' % good, json=[{'op': 'replace',
                                        'path': '/hw_disk_bus',
                                        'value': 'xen'}],
            headers={'Content-Type': load_samples.PATCH_TYPE},
            raise_exc=True)
        purge(bus)
        watcher = Watcher(tmp_path, bus)
        patched = judged(good, 2)
        assert patched['event'] == 'reconcile'
        assert 'GV002' in rules(patched) and patched['hw_disk_bus'] == 'xen'

        # 3. Nova snapshots a server booted from the bad image.
        server = boot(admin, tag + '-server', image_id=bad)
        resp = admin.compute.post(
            '/servers/%s/action' % server.id,
            json={'createImage': {'name': tag + '-snap'}},
            microversion='2.45')
        assert resp.status_code == 202, resp.text
        snap = resp.json()['image_id']
        mine.add(snap)
        # The fake driver stops before the upload libvirt's driver makes
        # (nova/virt/libvirt/driver.py snapshot: formats, then data): the
        # test makes them on the image Nova made, as that would.
        wait(lambda: admin.compute.get_server(server.id), 'ACTIVE')
        admin.image.patch(
            '/images/%s' % snap, json=[
                {'op': 'add', 'path': '/disk_format', 'value': 'raw'},
                {'op': 'add', 'path': '/container_format', 'value': 'bare'}],
            headers={'Content-Type': load_samples.PATCH_TYPE},
            raise_exc=True)
        admin.image.put('/images/%s/file' % snap, data=b'\0' * 4096,
                        headers={'Content-Type':
                                 'application/octet-stream'},
                        raise_exc=True)
        shot = judged(snap)
        assert shot['event'].startswith('image.')
        assert 'GV005' in rules(shot)

        # 4. Killed and restarted once more: the queue still holds the
        # notifications it had not acknowledged, the reconcile lists them
        # all again; none is reported twice.
        wait_until(lambda: snap in watcher.seen(), 'the snapshot in state')
        watcher.kill()
        watcher = Watcher(tmp_path, bus)
        later = load_samples.create(admin, tag + '-later', [tag],
                                    SCSI_NO_MODEL, data=b'\0' * 4096)['id']
        mine.add(later)
        judged(later)
        counts = {i: len(lines(out, {i})) for i in mine}
        assert counts == {bad: 1, good: 2, snap: 1, later: 1}
    finally:
        watcher.kill()
        if server is not None:
            admin.compute.delete_server(server.id)
        for image_id in mine:
            admin.image.delete_image(image_id, ignore_missing=True)
        load_samples.delete_tagged(admin, tag)


def test_fail_on_stops_at_the_first_finding(admin, bus, tmp_path):
    tag = 'gvwatch-' + uuid.uuid4().hex[:8]
    watcher = Watcher(tmp_path, bus, '--fail-on', 'error')
    try:
        image = load_samples.create(admin, tag, [tag], SCSI_NO_MODEL,
                                    data=b'\0' * 4096)['id']
        assert watcher.proc.wait(timeout=600) == 3
        found = lines(watcher.output, {image})
        assert len(found) == 1 and 'GV005' in rules(found[0])
    finally:
        if watcher.proc.poll() is None:
            watcher.kill()
        load_samples.delete_tagged(admin, tag)


def test_without_a_bus_it_says_so(cloud):
    result = run('watch', env={'GLANCE_VIRTIO_TRANSPORT_URL': ''}, check=1)
    assert 'no transport URL' in result.stderr


def test_prometheus_and_deep(admin, bus, tmp_path):
    tag = 'gvwatch-' + uuid.uuid4().hex[:8]
    prom = str(tmp_path / 'gv.prom')
    disk = images.debian_qcow2(str(tmp_path / 'images'))
    watcher = Watcher(tmp_path, bus, '--prometheus', prom,
                      '--prometheus-images', '--deep')
    try:
        # The seed judged the catalogue before the first reconcile.
        seeded = families(prom)
        assert values(seeded, 'glance_virtio_last_run_success') == [1]
        with open(disk, 'rb') as data:
            image = load_samples.create(
                admin, tag, [tag], {'hw_disk_bus': 'scsi',
                                    'hw_scsi_model': 'virtio-scsi'},
                data=data, disk_format='qcow2')['id']
        wait_until(lambda: lines(watcher.output, {image}), 'a line')
        line, = lines(watcher.output, {image})
        # Nothing in the metadata says Debian: the disk does.
        assert line['inspected'] and line['os'] == 'debian 12'
        assert line['severity'] in ('ok', 'info'), line
        wait_until(lambda: image in info_ids(prom), 'the image in %s' % prom)
        assert sum(values(families(prom), 'glance_virtio_images')) >= 1
    finally:
        watcher.kill()
        load_samples.delete_tagged(admin, tag)


def families(path):
    with open(path) as f:
        return {fam.name: fam for fam in
                parser.text_string_to_metric_families(f.read())}


def values(found, name):
    return [s.value for s in found[name].samples]


def info_ids(path):
    return {s.labels['id'] for s in
            families(path)['glance_virtio_image_info'].samples}


def test_a_reconnection_reconciles(bus, tmp_path):
    watcher = Watcher(tmp_path, bus)
    try:
        before = watcher.reconciles()
        devcloud.stop_service('rabbitmq')
        devcloud.start_service('rabbitmq')
        wait_until(lambda: watcher.reconciles() > before,
                   'a reconcile after the reconnection')
        with open(watcher.log.name) as f:
            text = f.read()
        assert 'Reconnected to AMQP server' in text
        assert text.rindex('reconciled in') > text.index(
            'Reconnected to AMQP server')
    finally:
        watcher.kill()


def test_sigterm_stops_it_cleanly(bus, tmp_path):
    watcher = Watcher(tmp_path, bus)
    watcher.proc.send_signal(signal.SIGTERM)
    assert watcher.proc.wait(timeout=600) == 0
    with open(watcher.state) as f:
        assert json.load(f)['mark']


def test_an_import_is_reported_once(admin, bus, tmp_path):
    """Import bookkeeping (os_glance_*) after activation is no new state."""
    tag = 'gvwatch-' + uuid.uuid4().hex[:8]
    disk = images.windows_qcow2(str(tmp_path / 'images'), 'viostor')
    watcher = Watcher(tmp_path, bus)
    try:
        image = admin.image.post('/images', json={
            'name': tag, 'disk_format': 'qcow2', 'container_format': 'bare',
            'tags': [tag]}, raise_exc=True).json()['id']
        with open(disk, 'rb') as data:
            admin.image.put('/images/%s/stage' % image, data=data,
                            headers={'Content-Type':
                                     'application/octet-stream'},
                            raise_exc=True)
        admin.image.post('/images/%s/import' % image, json={
            'method': {'name': 'glance-direct'}}, raise_exc=True)
        wait_until(lambda: lines(watcher.output, {image}), 'a line')

        def settled():
            tasks = admin.image.get('/images/%s/tasks' % image).json()
            body = admin.image.get('/images/%s' % image).json()
            return tasks['tasks'][0]['status'] == 'success' and \
                'os_glance_import_task' not in body
        wait_until(settled, 'the import lock dropped')
        # Dropping the lock notifies nothing; a restart's reconcile lists
        # the image again, with the bookkeeping changed and nothing else.
        wait_until(lambda: image in watcher.seen(), 'the image in state')
        watcher.kill()
        watcher = Watcher(tmp_path, bus)
        # A later change shows the watcher is past the import's events.
        admin.image.patch(
            '/images/%s' % image, json=[{'op': 'add', 'path': '/hw_disk_bus',
                                         'value': 'virtio'}],
            headers={'Content-Type': load_samples.PATCH_TYPE},
            raise_exc=True)
        wait_until(lambda: len(lines(watcher.output, {image})) >= 2,
                   'the line of the PATCH')
        first, second = lines(watcher.output, {image})
        assert first['hw_disk_bus'] is None and first['os'] == 'windows'
        assert second['hw_disk_bus'] == 'virtio'
    finally:
        watcher.kill()
        load_samples.delete_tagged(admin, tag)
