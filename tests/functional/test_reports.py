"""audit --prometheus, --scs-0102 and --since against the real local cloud."""

import time

from prometheus_client import parser

import load_samples
from tests.functional.conftest import run
from tests.functional.conftest import run_json

DEBIAN = {'os_type': 'linux', 'os_distro': 'debian', 'os_version': '12'}


def make(admin, tag, name, visibility, **props):
    return load_samples.create(admin, name, [tag], dict(DEBIAN, **props),
                               visibility=visibility)


def families(path):
    with open(path) as f:
        return {fam.name: fam for fam in
                parser.text_string_to_metric_families(f.read())}


def values(family):
    return {tuple(sorted((k, v) for k, v in s.labels.items()
                         if k != 'command')): s.value
            for s in family.samples}


def test_scs_0102_verdicts(admin, tag):
    make(admin, tag, 'scs-virtio-scsi', 'public', hw_disk_bus='scsi',
         hw_scsi_model='virtio-scsi')
    make(admin, tag, 'scs-lsi', 'community', hw_disk_bus='scsi')
    make(admin, tag, 'scs-private-ide', 'private', hw_disk_bus='ide')
    try:
        result = run('audit', '--tag', tag, '--scs-0102', check=0)
        assert result.stdout.splitlines() == [
            'scs-0102-prop-hw_disk_bus: PASS',
            'glance-virtio-strict-hw_disk_bus: FAIL']
        assert 'scs-lsi' in result.stderr
        assert 'scs-private-ide' not in result.stderr
        make(admin, tag, 'scs-public-ide', 'public', hw_disk_bus='ide')
        result = run('audit', '--tag', tag, '--scs-0102', check=3)
        assert result.stdout.splitlines() == [
            'scs-0102-prop-hw_disk_bus: FAIL',
            'glance-virtio-strict-hw_disk_bus: FAIL']
        assert 'hw_disk_bus not correct for image(s): scs-public-ide' in \
            result.stderr
        # The same through OpenStackClient.
        result = run('image', 'virtio-audit', '--tag', tag, '--scs-0102',
                     tool='openstack', check=3)
        assert 'scs-0102-prop-hw_disk_bus: FAIL' in result.stdout
    finally:
        load_samples.delete_tagged(admin, tag)


def test_prometheus_textfile(admin, tag, tmp_path):
    path = str(tmp_path / 'glance_virtio.prom')
    make(admin, tag, 'prom-good', 'public', hw_disk_bus='scsi',
         hw_scsi_model='virtio-scsi')
    make(admin, tag, 'prom-lsi', 'private', hw_disk_bus='scsi')
    make(admin, tag, 'prom-ide', 'private', hw_disk_bus='ide')
    try:
        run('audit', '--tag', tag, '--prometheus', path, check=0)
        found = families(path)
        assert values(found['glance_virtio_images']) == {
            (('severity', 'ok'), ('visibility', 'public')): 1,
            (('severity', 'error'), ('visibility', 'private')): 1,
            (('severity', 'warning'), ('visibility', 'private')): 1}
        assert values(found['glance_virtio_images_by_bus']) == {
            (('hw_disk_bus', 'ide'), ('hw_scsi_model', '')): 1,
            (('hw_disk_bus', 'scsi'), ('hw_scsi_model', '')): 1,
            (('hw_disk_bus', 'scsi'), ('hw_scsi_model', 'virtio-scsi')): 1}
        rules = values(found['glance_virtio_findings'])
        assert rules[(('rule', 'GV005'), ('severity', 'error'))] == 1
        assert rules[(('rule', 'GV004'), ('severity', 'warning'))] == 1
        assert values(found['glance_virtio_last_run_success']) == {(): 1}
        assert 'glance_virtio_image_info' not in found
        run('audit', '--tag', tag, '--prometheus', path,
            '--prometheus-images', '--fail-on', 'error', check=3)
        info = families(path)['glance_virtio_image_info']
        assert sorted(s.labels['name'] for s in info.samples) == [
            'prom-good', 'prom-ide', 'prom-lsi']
        # A run that fails still says so, for an alert to fire.
        run('audit', 'no-such-image-%s' % tag, '--prometheus', path,
            check=1)
        found = families(path)
        assert values(found['glance_virtio_last_run_success']) == {(): 0}
        assert not found['glance_virtio_images'].samples
    finally:
        load_samples.delete_tagged(admin, tag)


def test_since_lists_only_later_changes(admin, tag):
    old = make(admin, tag, 'since-old', 'private', hw_disk_bus='ide')
    # Glance stamps updated_at to the second: let one go by.
    time.sleep(1.5)
    new = make(admin, tag, 'since-new', 'private', hw_disk_bus='ide')
    mark = admin.image.get('/images/%s' % new['id']).json()['updated_at']
    try:
        rows, _ = run_json('audit', '--tag', tag, '--since', mark, check=0)
        assert [r['ID'] for r in rows] == [new['id']]
        rows, _ = run_json('audit', '--tag', tag, '--since', '1d', check=0)
        assert {r['ID'] for r in rows} == {old['id'], new['id']}
        result = run('audit', new['id'], '--since', '1h', check=2)
        assert 'name no image' in result.stderr
        result = run('audit', '--since', 'yesterday', check=2)
        assert 'ISO 8601' in result.stderr
    finally:
        load_samples.delete_tagged(admin, tag)
