import io
import json
import os
import subprocess
import sys

import pytest

from glance_virtio.inspect import RangeFile
from glance_virtio.inspect import inspect_file
from tests.unit.inspect.helpers import inspect_path
from tests.unit.inspect.helpers import states

ALL_UNKNOWN = dict.fromkeys(
    ('virtio_blk', 'virtio_scsi', 'virtio_net', 'ide', 'sata'), 'unknown')


def _error(path):
    result = inspect_path(path)
    assert result['status'] == 'error'
    assert states(result) == ALL_UNKNOWN
    for verdict in result['drivers'].values():
        assert verdict['evidence'] == ['not inspected: ' + result['error']]
    return result


def test_truncated_qcow2(truncated_image):
    result = _error(truncated_image)
    assert result['error'].startswith('truncated qcow2 image: an L2 table')


def test_qcow2_truncated_in_the_data_area(debian_image):
    with open(debian_image, 'rb') as handle:
        data = handle.read()
    result = inspect_file(io.BytesIO(data[:len(data) * 99 // 100]))
    assert result['status'] == 'error'
    assert 'corrupt or truncated' in result['error'] or \
        'truncated qcow2' in result['error']


def test_qcow2_with_backing_file(backing_image):
    result = _error(backing_image)
    assert result['error'] == \
        'qcow2 image has a backing file; refusing to follow it'
    assert result['bytes_read'] < 1 << 20


def test_qcow2_with_external_data_file(data_file_image):
    result = _error(data_file_image)
    assert result['error'] == \
        'qcow2 image has an external data file; refusing to follow it'


def test_absurd_virtual_size(huge_image):
    result = _error(huge_image)
    assert result['error'] == ('virtual size 109951162777600 bytes is above '
                               'the limit of 70368744177664')


def test_whole_image_luks(luks_image):
    result = _error(luks_image)
    assert result['error'] == \
        'LUKS-encrypted image: cannot inspect it without the key'


def test_all_zero_raw(zero_image):
    result = inspect_path(zero_image)
    assert result['status'] == 'ok'
    assert result['partition_table'] == 'none'
    assert result['notes'] == [
        'the start of the disk is all zeros (empty image?)',
        'no operating system found']
    assert result['drivers']['virtio_blk'] == {
        'state': 'unknown', 'evidence': ['no operating system found']}


def test_luks_partition(luks_partition_image):
    result = inspect_path(luks_partition_image)
    assert result['status'] == 'ok'
    assert result['partition_table'] == 'gpt'
    assert result['notes'] == [
        'p2: LUKS-encrypted volume (cannot be read without the key)',
        'no operating system found (encrypted volumes: p2)']
    assert states(result) == ALL_UNKNOWN


def test_bitlocker_partition(bitlocker_image):
    result = inspect_path(bitlocker_image)
    assert result['notes'] == [
        'p1: BitLocker-encrypted volume (cannot be read without the key)',
        'no operating system found (encrypted volumes: p1)']
    assert states(result) == ALL_UNKNOWN


def test_unknown_filesystem(unknown_fs_image):
    result = inspect_path(unknown_fs_image)
    assert result['partition_table'] == 'mbr'
    assert result['notes'] == [
        'p1: unrecognised content (unknown filesystem)',
        'no operating system found']


def test_empty_and_tiny_inputs():
    assert inspect_file(io.BytesIO(b''))['error'] == 'empty image'
    result = inspect_file(io.BytesIO(b'QFI\xfb\0\0\0\3'))
    assert result['status'] == 'error'
    assert result['error'] == 'truncated qcow2 header'
    result = inspect_file(io.BytesIO(b'\x01' * 5000))
    assert result['status'] == 'ok'
    assert 'no partition table or filesystem recognised on the disk' in \
        result['notes']


def test_mbr_partition_past_the_end_and_looping_ebr():
    disk = bytearray(64 * 1024)
    disk[510:512] = b'\x55\xaa'
    # p1: Linux, starts in the disk but runs far past its end.
    disk[446:462] = bytes([0, 0, 0, 0, 0x83, 0, 0, 0]) + \
        (2).to_bytes(4, 'little') + (1 << 30).to_bytes(4, 'little')
    # p2: extended at sector 100 whose EBR links to itself.
    disk[462:478] = bytes([0, 0, 0, 0, 0x05, 0, 0, 0]) + \
        (100).to_bytes(4, 'little') + (20).to_bytes(4, 'little')
    ebr = 100 * 512
    disk[ebr + 510:ebr + 512] = b'\x55\xaa'
    disk[ebr + 462:ebr + 478] = bytes([0, 0, 0, 0, 0x05, 0, 0, 0]) + \
        (0).to_bytes(4, 'little') + (20).to_bytes(4, 'little')
    disk[ebr + 446 + 4] = 0
    result = inspect_file(io.BytesIO(bytes(disk)))
    assert result['status'] == 'ok'
    assert result['partition_table'] == 'mbr'
    assert 'partition p1 extends past the end of the disk' in result['notes']


def _failing_fetch(path, fail_at):
    handle = open(path, 'rb')
    calls = []

    def fetch(offset, length):
        calls.append(offset)
        if fail_at is not None and len(calls) >= fail_at:
            raise ConnectionError('connection reset by peer')
        handle.seek(offset)
        return handle.read(length)
    # Small blocks, no read-ahead: many fetches, so a failure can land in
    # every stage (header, partition table, NTFS, hives).
    return RangeFile(fetch, os.path.getsize(path), block_size=4096,
                     readahead=1)


@pytest.mark.parametrize('share', [0, 0.1, 0.3, 0.5, 0.7, 0.9, 1])
def test_a_failed_fetch_is_an_error_never_a_verdict(windows_viostor, share):
    # A network error inside a library callback must not read as "driver
    # missing": that verdict would be cached for good.
    clean = _failing_fetch(windows_viostor, None)
    assert inspect_file(clean)['status'] == 'ok'
    fail_at = max(1, int(clean.fetch_count * share))
    result = inspect_file(_failing_fetch(windows_viostor, fail_at))
    assert result['status'] == 'error'
    assert 'connection reset by peer' in result['error']
    assert 'reading bytes' in result['error']


def test_bls_entry_with_a_5000_digit_version(bls_long_version_image):
    result = inspect_path(bls_long_version_image)
    assert result['status'] == 'ok', result['error']
    assert result['os']['distro'] == 'centos'
    assert result['drivers']['virtio_blk']['state'] != 'unknown'


def test_lv_mapped_to_missing_extents_loses_that_lv_only(
        lvm_missing_extents_image, rhel_image):
    result = inspect_path(lvm_missing_extents_image)
    assert result['status'] == 'ok', result['error']
    assert result['notes'][0].startswith(
        'p2/rhel/swap: logical volume unreadable (are its extents on '
        'another disk?): ')
    # The rest of the guest is inspected as on the intact image.
    intact = inspect_path(rhel_image)
    assert result['os'] == intact['os']
    assert result['drivers'] == intact['drivers']
    assert result['notes'][1:] == intact['notes']


def test_lv_that_libvslvm_cannot_open_is_a_note(lvm_segmented_root_image):
    result = inspect_path(lvm_segmented_root_image)
    assert result['status'] == 'ok', result['error']
    assert result['notes'] == [
        'p2: volume group rhel: logical volume 1 cannot be opened: '
        'pyvslvm_volume_group_get_logical_volume_by_index: unable to '
        'retrieve logical volume: 0. libvslvm_volume_group_get_physical_'
        'volume_by_name: invalid physical volume value already set',
        'no operating system found']
    assert states(result) == ALL_UNKNOWN


def test_vhd_block_table_past_the_end(vhd_block_past_end_image):
    result = _error(vhd_block_past_end_image)
    assert result['error'] == (
        'the vhd image is corrupt or truncated: reading guest offset 512 '
        'failed (pyvhdi_file_read_buffer_at_offset: unable to read data)')
    assert result['notes'] == []


def test_vmdk_descriptor_claiming_a_sparse_extent(
        vmdk_sparse_descriptor_image):
    result = _error(vmdk_sparse_descriptor_image)
    assert result['error'] == (
        "vmdk header check failed: the image is malformed in a way "
        "oslo.utils' format inspector cannot parse (KeyError: 'header')")


@pytest.mark.parametrize('kind', ['zlib', 'zstd'])
def test_corrupt_compressed_qcow2(request, kind):
    result = _error(request.getfixturevalue('corrupt_%s_image' % kind))
    assert result['error'].startswith(
        'corrupt qcow2 image: guest cluster 0 (offset 0): its %s data at '
        'offset ' % kind)


HOSTILE = ('bls_long_version_image', 'lvm_missing_extents_image',
           'lvm_segmented_root_image',
           'vhd_block_past_end_image', 'vmdk_sparse_descriptor_image',
           'corrupt_zlib_image', 'corrupt_zstd_image')


def test_no_traceback_from_the_command(request):
    # The command an operator runs: isolated child, table output.
    paths = [request.getfixturevalue(name) for name in HOSTILE]
    args = [sys.executable, '-m', 'glance_virtio.shell', 'inspect',
            '--format', 'json']
    for path in paths:
        args += ['--file', path]
    proc = subprocess.run(args, capture_output=True, text=True,
                          timeout=600)
    assert 'Traceback' not in proc.stderr
    assert 'internal error' not in proc.stdout
    rows = {row['Name']: row for row in json.loads(proc.stdout)}
    assert [rows[path]['Status'] for path in paths] == [
        'ok', 'ok', 'ok', 'error', 'error', 'error', 'error']
