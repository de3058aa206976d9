"""The Prometheus textfile parses as Prometheus does; SCS-0102 verdicts."""

import os

from prometheus_client import parser

from glance_virtio import audit
from glance_virtio import model
from glance_virtio import report

DEBIAN = {'os_type': 'linux', 'os_distro': 'debian', 'os_version': '12'}


def rows():
    images = [
        model.Image('a', 'debian-good', 'p1', 'public', 'active',
                    properties=dict(DEBIAN, hw_disk_bus='scsi',
                                    hw_scsi_model='virtio-scsi')),
        model.Image('b', 'debian "lsi"\nx', 'p1', 'community', 'active',
                    properties=dict(DEBIAN, hw_disk_bus='scsi')),
        model.Image('c', 'debian-ide', 'p2', 'public', 'active',
                    properties=dict(DEBIAN, hw_disk_bus='ide')),
        model.Image('d', 'private-xen', 'p2', 'private', 'active',
                    properties=dict(DEBIAN, hw_disk_bus='xen')),
    ]
    return audit.audit(images, model.Policy())


def families(text):
    return {f.name: f for f in parser.text_string_to_metric_families(text)}


def samples(family):
    return {tuple(sorted(s.labels.items())): s.value
            for s in family.samples}


def test_textfile_parses_and_counts():
    text = report.prometheus(rows(), 'audit', 1700000000.5, 2.25, True)
    found = families(text)
    assert set(found) == {
        'glance_virtio_images', 'glance_virtio_images_by_bus',
        'glance_virtio_findings', 'glance_virtio_last_run_timestamp_seconds',
        'glance_virtio_last_run_duration_seconds',
        'glance_virtio_last_run_success'}
    for family in found.values():
        assert family.type == 'gauge'
        assert family.documentation
    images = samples(found['glance_virtio_images'])
    assert sum(images.values()) == 4
    assert images[(('command', 'audit'), ('severity', 'error'),
                   ('visibility', 'community'))] == 1
    assert images[(('command', 'audit'), ('severity', 'error'),
                   ('visibility', 'private'))] == 1
    buses = samples(found['glance_virtio_images_by_bus'])
    assert buses[(('command', 'audit'), ('hw_disk_bus', 'scsi'),
                  ('hw_scsi_model', ''))] == 1
    assert buses[(('command', 'audit'), ('hw_disk_bus', 'scsi'),
                  ('hw_scsi_model', 'virtio-scsi'))] == 1
    rules = samples(found['glance_virtio_findings'])
    assert rules[(('command', 'audit'), ('rule', 'GV005'),
                  ('severity', 'error'))] == 1
    assert rules[(('command', 'audit'), ('rule', 'GV002'),
                  ('severity', 'error'))] == 1
    assert samples(found['glance_virtio_last_run_success']) == {
        (('command', 'audit'),): 1}
    assert samples(found['glance_virtio_last_run_timestamp_seconds']) == {
        (('command', 'audit'),): 1700000000.5}
    assert samples(found['glance_virtio_last_run_duration_seconds']) == {
        (('command', 'audit'),): 2.25}


def test_per_image_series_only_on_request():
    assert 'image_info' not in report.prometheus(rows(), 'audit', 0, 0, True)
    text = report.prometheus(rows(), 'watch', 0, 0, False, per_image=True)
    info = families(text)['glance_virtio_image_info']
    names = {s.labels['name']: s for s in info.samples}
    # Quotes and newlines in a name survive the escaping.
    assert set(names) == {'debian-good', 'debian "lsi"\nx', 'debian-ide',
                          'private-xen'}
    assert names['debian "lsi"\nx'].labels['severity'] == 'error'
    assert names['debian-good'].labels['recommended_bus'] == 'scsi'
    assert all(s.value == 1 for s in info.samples)
    assert samples(families(text)['glance_virtio_last_run_success']) == {
        (('command', 'watch'),): 0}


def test_textfile_written_atomically(tmp_path):
    path = tmp_path / 'glance_virtio.prom'
    path.write_text('old\n')
    report.write_textfile(str(path), 'new 1\n')
    assert path.read_text() == 'new 1\n'
    assert os.listdir(tmp_path) == ['glance_virtio.prom']
    assert oct(path.stat().st_mode & 0o777) == '0o644'


def test_scs_0102_and_stricter_verdict():
    results = report.scs_0102(rows())
    (scs, scs_ok, scs_bad), (strict, strict_ok, strict_bad) = results
    assert (scs, strict) == ('scs-0102-prop-hw_disk_bus',
                             'glance-virtio-strict-hw_disk_bus')
    # ide is public: SCS fails; the private xen image is not SCS's business.
    assert not scs_ok and [r['id'] for r in scs_bad] == ['c']
    assert not strict_ok and sorted(r['id'] for r in strict_bad) == ['b', 'c']
    out, err = report.scs_lines(results)
    assert out == ['scs-0102-prop-hw_disk_bus: FAIL',
                   'glance-virtio-strict-hw_disk_bus: FAIL']
    assert 'debian-ide' in err[0] and 'private-xen' not in ''.join(err)


def test_scs_passes_where_only_the_strict_check_fails():
    good = [r for r in rows() if r['id'] in ('a', 'b')]
    out, err = report.scs_lines(report.scs_0102(good))
    assert out == ['scs-0102-prop-hw_disk_bus: PASS',
                   'glance-virtio-strict-hw_disk_bus: FAIL']
    assert len(err) == 1 and 'scsi without hw_scsi_model' in err[0]
