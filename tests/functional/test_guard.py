"""glance_virtio_guard inside the devcloud's Glance 33, on real imports.

glance-direct (stage, then import) and web-download (from a loopback HTTP
server) of real disk images built by tests/fixtures: Glance runs the
plugin, and the uploader reads its verdict in GET /v2/images/{id}/tasks.
"""

import functools
import http.server
import os
import threading
import time

import pytest

import load_samples
from tests.fixtures import images
from tests.functional import devcloud
from tests.functional.conftest import DEADLINE

VIRTIO_SCSI = {'hw_disk_bus': 'scsi', 'hw_scsi_model': 'virtio-scsi'}
STORE = 'local'


@pytest.fixture(scope='module')
def glance(cloud):
    """The devcloud's facts about its Glance: staging dir, plugins."""
    info = devcloud.info()
    assert 'glance_virtio_guard' in info['glance_import_plugins'], info
    return info


@pytest.fixture(scope='module')
def disks(tmp_path_factory):
    work = str(tmp_path_factory.mktemp('guard-images'))
    return {'win-viostor': images.windows_qcow2(work, 'viostor'),
            'debian': images.debian_qcow2(work),
            'corrupt': images.corrupt_compressed_qcow2(work, 'zlib')}


@pytest.fixture(scope='module')
def web(disks):
    """A loopback HTTP server serving the fixture disks by name."""
    directory = os.path.dirname(os.path.dirname(disks['debian']))
    handler = functools.partial(http.server.SimpleHTTPRequestHandler,
                                directory=directory)
    handler.log_message = lambda *args: None
    server = http.server.ThreadingHTTPServer(('127.0.0.1', 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    port = server.server_address[1]

    def url(name):
        rel = os.path.relpath(disks[name], directory)
        return 'http://127.0.0.1:%d/%s' % (port, rel)
    yield url
    server.shutdown()


@pytest.fixture
def made(admin):
    ids = []
    yield ids
    for image_id in ids:
        admin.image.delete_image(image_id, ignore_missing=True)


def create(admin, made, name, props):
    body = dict(props, name=name, disk_format='qcow2',
                container_format='bare', tags=['gvguard'])
    image = admin.image.post('/images', json=body, raise_exc=True).json()
    made.append(image['id'])
    return image['id']


def stage(admin, image_id, path):
    with open(path, 'rb') as data:
        admin.image.put('/images/%s/stage' % image_id, data=data,
                        headers={'Content-Type':
                                 'application/octet-stream'},
                        raise_exc=True)


def start_import(admin, image_id, method, uri=None):
    body = {'method': {'name': method}, 'stores': [STORE]}
    if uri:
        body['method']['uri'] = uri
    resp = admin.image.post('/images/%s/import' % image_id, json=body,
                            raise_exc=True)
    assert resp.status_code == 202, resp.text


def finished(admin, image_id, count=1):
    """The image and its count-th import task, once that task has ended."""
    end = time.monotonic() + DEADLINE
    while True:
        tasks = admin.image.get('/images/%s/tasks' % image_id).json()[
            'tasks']
        done = [t for t in tasks if t['status'] in ('success', 'failure')]
        if len(done) >= count:
            done.sort(key=lambda t: t['created_at'])
            image = admin.image.get('/images/%s' % image_id).json()
            # The task ends before the last image save of the flow.
            if image['status'] not in ('importing', 'saving'):
                return image, done[count - 1]
        assert time.monotonic() < end, (image_id, tasks)
        time.sleep(0.2)


def direct(admin, made, name, props, path):
    image_id = create(admin, made, name, props)
    stage(admin, image_id, path)
    start_import(admin, image_id, 'glance-direct')
    return image_id


def assert_refused(image, task, rule, glance):
    assert task['status'] == 'failure'
    assert task['message'].startswith(
        'glance_virtio_guard refused the image: '), task['message']
    assert rule in task['message']
    assert image['status'] == 'queued'
    assert image['os_glance_failed_import'] == STORE
    assert not image.get('os_glance_importing_to_stores')
    staged = os.path.join(glance['state_dir'], 'data', 'staging',
                          image['id'])
    assert not os.path.exists(staged)


def test_glance_direct_refusal_then_a_fixed_retry(admin, made, glance,
                                                  disks):
    image_id = direct(admin, made, 'gvguard-win-scsi', VIRTIO_SCSI,
                      disks['win-viostor'])
    image, task = finished(admin, image_id)
    assert_refused(image, task, 'GV010', glance)
    assert 'INACCESSIBLE_BOOT_DEVICE' in task['message']
    assert image['glance_virtio_guard'] == 'refused: GV010'

    # The uploader moves it to virtio-blk (viostor is there) and retries.
    admin.image.patch(
        '/images/%s' % image_id, json=[
            {'op': 'replace', 'path': '/hw_disk_bus', 'value': 'virtio'},
            {'op': 'remove', 'path': '/hw_scsi_model'}],
        headers={'Content-Type': load_samples.PATCH_TYPE}, raise_exc=True)
    stage(admin, image_id, disks['win-viostor'])
    start_import(admin, image_id, 'glance-direct')
    image, task = finished(admin, image_id, 2)
    assert task['status'] == 'success', task
    assert image['status'] == 'active'
    assert not image['glance_virtio_guard'].startswith(
        ('error', 'refused', 'uninspected')), image['glance_virtio_guard']
    assert image['virtio_drivers'] == 'viostor,netkvm'


def test_web_download_refusal(admin, made, glance, web):
    image_id = create(admin, made, 'gvguard-debian-lsi',
                      {'hw_disk_bus': 'scsi'})
    start_import(admin, image_id, 'web-download', web('debian'))
    image, task = finished(admin, image_id)
    assert_refused(image, task, 'GV005', glance)


def test_web_download_fills_what_it_proved(admin, made, web):
    image_id = create(admin, made, 'gvguard-win-nobus', {})
    start_import(admin, image_id, 'web-download', web('win-viostor'))
    image, task = finished(admin, image_id)
    assert task['status'] == 'success', task
    assert image['status'] == 'active'
    assert (image['os_type'], image['os_distro'], image['virtio_drivers']) \
        == ('windows', 'windows', 'viostor,netkvm')
    assert 'hw_disk_bus' not in image
    assert not image['glance_virtio_guard'].startswith(('error', 'refused'))


@pytest.fixture
def reject_uninspectable(glance):
    """Glance restarted with on_inspection_error = reject; then as before."""
    path = os.path.join(glance['state_dir'], 'etc', 'glance',
                        'glance-image-import.conf')
    with open(path) as f:
        text = f.read()
    assert 'on_inspection_error = allow' in text
    with open(path, 'w') as f:
        f.write(text.replace('on_inspection_error = allow',
                             'on_inspection_error = reject'))
    devcloud.stop_glance()
    try:
        devcloud.start_glance()
        yield
    finally:
        devcloud.stop_glance()
        devcloud.ensure_running()  # rewrites the configuration


def test_a_corrupt_disk_is_allowed_uninspected(admin, made, disks):
    image_id = direct(admin, made, 'gvguard-corrupt-allow',
                      {'os_type': 'linux'}, disks['corrupt'])
    image, task = finished(admin, image_id)
    assert task['status'] == 'success', task
    assert image['status'] == 'active'
    assert image['glance_virtio_guard'].startswith(
        'uninspected: corrupt qcow2 image')


def test_a_corrupt_disk_is_refused_when_so_configured(
        admin, made, glance, disks, reject_uninspectable):
    image_id = direct(admin, made, 'gvguard-corrupt-reject',
                      {'os_type': 'linux'}, disks['corrupt'])
    image, task = finished(admin, image_id)
    assert_refused(image, task, 'could not be inspected: corrupt qcow2 '
                   'image', glance)


PROTECTIONS = '''\
[^virtio_drivers$]
create = admin
read = @
update = admin
delete = admin

[.*]
create = @
read = @
update = @
delete = @
'''


@pytest.fixture
def protected(glance, tmp_path):
    """Glance restarted with property protections (virtio_drivers: admin)."""
    rules = tmp_path / 'property-protections-roles.conf'
    rules.write_text(PROTECTIONS)
    path = os.path.join(glance['state_dir'], 'etc', 'glance',
                        'glance-api.conf')
    with open(path) as f:
        text = f.read()
    with open(path, 'w') as f:
        f.write(text.replace('[DEFAULT]\n', '[DEFAULT]\nproperty_protection_'
                             'file = %s\nproperty_protection_rule_format = '
                             'roles\n' % rules, 1))
    devcloud.stop_glance()
    try:
        devcloud.start_glance()
        yield
    finally:
        devcloud.stop_glance()
        devcloud.ensure_running()  # rewrites the configuration


def test_protected_properties_are_skipped_not_fatal(member, made, web,
                                                    protected):
    image_id = create(member, made, 'gvguard-member-win', {})
    start_import(member, image_id, 'web-download', web('win-viostor'))
    image, task = finished(member, image_id)
    assert task['status'] == 'success', task
    assert image['status'] == 'active'
    # The member may not write virtio_drivers: the guard did not either.
    assert 'virtio_drivers' not in image
    assert (image['os_type'], image['os_distro']) == ('windows', 'windows')
