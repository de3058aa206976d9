import lzma
import os
import struct
import zlib

import pytest

from glance_virtio.inspect import initramfs
from tests.fixtures import linuxtree
from tests.fixtures.disk import run

VERSION = '6.1.0-test'
INCLUDE = ['virtio_blk', 'virtio_pci', 'ahci']


def _build(tmp_path, compression, microcode=False, ext='.ko'):
    path = str(tmp_path / ('initrd-' + compression))
    linuxtree.build_initramfs(path, VERSION, INCLUDE, compression,
                              microcode=microcode, ext=ext)
    return path


def _list(path, want=()):
    with open(path, 'rb') as handle:
        return initramfs.list_members(handle, os.path.getsize(path), want)


def _modules(listing):
    return {initramfs.module_name(m) for m in listing.members} - {None}


@pytest.mark.parametrize('compression', sorted(linuxtree.COMPRESSORS))
def test_each_compression_with_early_microcode(tmp_path, compression):
    listing = _list(_build(tmp_path, compression, microcode=True))
    assert listing.error is None
    assert listing.complete
    assert listing.compression == ['none', compression]
    assert 'kernel/x86/microcode/GenuineIntel.bin' in listing.members
    assert 'usr/lib/modules/%s/kernel/drivers/block/virtio_blk.ko' \
        % VERSION in listing.members
    assert _modules(listing) == set(INCLUDE)


def test_uncompressed_archive(tmp_path):
    listing = _list(_build(tmp_path, 'none', ext='.ko.xz'))
    assert listing.compression == ['none']
    assert _modules(listing) == set(INCLUDE)


def test_stops_early_once_wanted_modules_are_seen(tmp_path):
    listing = _list(_build(tmp_path, 'gzip'), want={'ahci'})
    assert not listing.complete
    assert 'ahci' in _modules(listing)
    full = _list(_build(tmp_path, 'gzip'), want={'virtio_scsi'})
    assert full.complete


def test_truncated_compressed_data_is_reported(tmp_path):
    path = _build(tmp_path, 'xz')
    with open(path, 'rb') as handle:
        data = handle.read()
    cut = str(tmp_path / 'cut')
    with open(cut, 'wb') as out:
        out.write(data[:len(data) // 2])
    listing = _list(cut)
    assert not listing.complete
    assert listing.error


def test_garbage_is_reported(tmp_path):
    path = str(tmp_path / 'garbage')
    with open(path, 'wb') as out:
        out.write(b'\x89PNG' + os.urandom(1000))
    listing = _list(path)
    assert listing.error.startswith('unrecognised data')
    assert listing.members == []


def test_decompression_is_bounded(tmp_path):
    path = _build(tmp_path, 'gzip')
    with open(path, 'rb') as handle:
        listing = initramfs.list_members(handle, os.path.getsize(path),
                                         max_output=1000)
    assert 'over the limit' in listing.error


def test_module_name():
    assert initramfs.module_name('a/b/virtio_blk.ko.xz') == 'virtio_blk'
    assert initramfs.module_name('a/usb-storage.ko.zst') == 'usb_storage'
    assert initramfs.module_name('a/virtio_blk.conf') is None


@pytest.mark.parametrize('first', ['zstd', 'gzip', 'xz', 'bzip2'])
def test_compressed_archive_followed_by_another(tmp_path, first):
    # The decompressor hands back what follows its stream: the next
    # archive (here gzip) is read too. (Legacy lz4 has no end marker: what
    # follows it reads as one more block.)
    one = _build(tmp_path, first)
    other = str(tmp_path / 'other')
    linuxtree.build_initramfs(other, '5.10.0-1', ['virtio_scsi'], 'gzip')
    both = str(tmp_path / 'both')
    with open(both, 'wb') as out:
        for path in (one, other):
            with open(path, 'rb') as handle:
                out.write(handle.read())
    listing = _list(both)
    assert listing.error is None
    assert listing.compression == [first, 'gzip']
    assert _modules(listing) == set(INCLUDE) | {'virtio_scsi'}


def test_early_stop_counts_only_modules_of_the_version(tmp_path):
    path = str(tmp_path / 'initrd')
    linuxtree.build_initramfs(path, '5.10.0-99', INCLUDE, 'zstd')
    with open(path, 'rb') as handle:
        size = os.path.getsize(path)
        stale = initramfs.list_members(handle, size, {'virtio_blk'},
                                       version=VERSION)
        match = initramfs.list_members(handle, size, {'virtio_blk'},
                                       version='5.10.0-99')
    assert stale.complete and not match.complete
    assert initramfs.module_version(
        'usr/lib/modules/5.10.0-99/kernel/drivers/block/virtio_blk.ko') == (
        '5.10.0-99', 'virtio_blk')
    assert initramfs.module_version('lib/modules/x/modules.dep') == (
        None, None)


def test_xz_dictionary_over_the_memory_limit(tmp_path):
    # A real xz stream whose LZMA2 filter asks for a 1 GiB dictionary:
    # refused before any allocation, with a clear reason.
    data = bytearray(lzma.compress(b'070701' + b'0' * 200,
                                   check=lzma.CHECK_CRC32))
    header = 12
    size = (data[header] + 1) * 4
    props = data.index(b'\x21\x01', header) + 2
    data[props] = 36
    crc = zlib.crc32(bytes(data[header:header + size - 4]))
    data[header + size - 4:header + size] = struct.pack('<I', crc)
    path = str(tmp_path / 'big-dict.xz')
    with open(path, 'wb') as out:
        out.write(bytes(data))
    listing = _list(path)
    assert listing.error == 'xz/lzma data needs more than 96 MiB to ' \
        'decompress'


@pytest.mark.parametrize('compression', ['zstd', 'xz', 'gzip', 'bzip2'])
def test_members_after_many_compressed_blocks(tmp_path, compression):
    # 3 MiB of random data spans many zstd blocks (128 KiB each) and many
    # bounded decompression steps; the modules come after it.
    tree = str(tmp_path / 'tree')
    linuxtree.put(tree, 'a/firmware.bin', os.urandom(3 << 20))
    linuxtree.put(tree, 'usr/lib/modules/%s/kernel/drivers/block/'
                  'virtio_blk.ko' % VERSION, b'\0' * 100)
    archive = linuxtree.cpio_archive(tree)
    path = str(tmp_path / 'initrd')
    with open(path, 'wb') as out:
        out.write(run(*linuxtree.COMPRESSORS[compression], input=archive))
    listing = _list(path)
    assert listing.error is None
    assert listing.members[-1] == 'usr/lib/modules/%s/kernel/drivers/' \
        'block/virtio_blk.ko' % VERSION
    assert listing.complete


def test_zstd_window_over_the_limit(tmp_path):
    # zstd --long=28 on a stream of unknown size keeps a 256 MiB window.
    path = str(tmp_path / 'long.zst')
    with open(path, 'wb') as out:
        out.write(run('zstd', '-q', '--long=28', '-c',
                      input=b'070701' + os.urandom(1000)))
    listing = _list(path)
    assert listing.error == 'zstd data needs a window over 128 MiB to ' \
        'decompress'
