"""The import guard inspects a staged file in a process of its own."""

import os

from glance_virtio.guard import inspector


def test_a_staged_windows_disk(windows_viostor):
    report = inspector.inspect_staged(windows_viostor)
    assert report['status'] == 'ok', report
    assert report['os']['family'] == 'windows'
    assert report['drivers']['virtio_blk']['state'] == 'ready'
    assert report['drivers']['virtio_scsi']['state'] == 'missing'


def test_a_truncated_disk_is_an_error_not_an_exception(truncated_image):
    report = inspector.inspect_staged(truncated_image)
    assert report['status'] == 'error'
    assert 'truncated qcow2 image' in report['error']


def test_the_read_limit_is_passed_on(debian_image):
    report = inspector.inspect_staged(debian_image, max_read_mib=1)
    assert report['status'] == 'error'
    assert report['bytes_read'] <= 1 << 20


def test_a_missing_interpreter_is_an_error(debian_image, tmp_path):
    report = inspector.inspect_staged(
        debian_image, python=os.path.join(str(tmp_path), 'no-python'))
    assert report['status'] == 'error'
    assert report['error'].startswith('cannot start the inspection process')
