"""The qcow2 reader against qemu-img: every byte of real converted images."""

import os
import random
import struct
import zlib

import pytest

from glance_virtio.inspect import blockdev
from glance_virtio.inspect import inspect_file
from glance_virtio.inspect import qcow2
from tests.fixtures import disk
from tests.unit.inspect.helpers import inspect_path
from tests.unit.inspect.helpers import range_file

SIZE = 6 * disk.MiB + 3 * 512


@pytest.fixture(scope='module')
def source(tmp_path_factory):
    """A raw disk of zero, random, hex and text blocks.

    Hex blocks compress to about half a 4 KiB cluster, so that compressed
    data often runs over into the next host cluster.
    """
    path = str(tmp_path_factory.mktemp('qcow2') / 'source.raw')
    rand = random.Random(11)
    text = b''.join(b'line %d of a compressible text block\n' % i
                    for i in range(200))
    with open(path, 'wb') as out:
        for start in range(0, SIZE, 4096):
            kind = rand.choice(('zero', 'random', 'hex', 'hex', 'text'))
            size = min(4096, SIZE - start)
            if kind == 'random':
                block = rand.randbytes(size)
            elif kind == 'hex':
                block = rand.randbytes(size // 2).hex().encode()
            elif kind == 'text':
                cut = rand.randrange(len(text) - size)
                block = text[cut:cut + size]
            else:
                block = bytes(size)
            out.write(block)
    return path


def convert(src, out, *options, compress=True):
    args = ['convert', '-q', '-O', 'qcow2']
    if compress:
        args.append('-c')
    if options:
        args += ['-o', ','.join(options)]
    disk.run('qemu-img', *args, src, out)
    return out


def qemu_raw(image):
    """What qemu-img reads from ``image``: the oracle."""
    raw = image + '.qemu.raw'
    disk.run('qemu-img', 'convert', '-q', '-O', 'raw', image, raw)
    with open(raw, 'rb') as handle:
        return handle.read()


def open_qcow2(path):
    """The guest disk as inspection opens it, over small range reads."""
    return blockdev.open_disk(range_file(path, block_size=4096),
                              os.path.getsize(path)).fobj


def read_all(image, step=100003):
    """The whole virtual disk, read in odd steps that straddle clusters."""
    out = bytearray()
    while len(out) < image.size:
        out += image.read_at(len(out), step)
    return bytes(out)


def compressed_extents(image):
    """(guest index, host offset, byte count) of each compressed cluster."""
    found = []
    for index in range(-(-image.size // image.cluster)):
        entry = image._l2_entry(index)
        if entry & qcow2.COMPRESSED:
            offset = entry & image.coffset_mask
            sectors = (entry >> image.csize_shift & image.csize_mask) + 1
            found.append((index, offset, sectors * 512 - (offset & 511)))
    return found


CASES = {
    'zlib-64k': ('compression_type=zlib',),
    'zstd-64k': ('compression_type=zstd',),
    'zlib-4k': ('cluster_size=4096',),
    'zstd-4k': ('compression_type=zstd', 'cluster_size=4096'),
    'zlib-2m': ('cluster_size=2M',),
    'zstd-2m': ('compression_type=zstd', 'cluster_size=2M'),
    'zlib-v2': ('compat=0.10',),
}


@pytest.mark.parametrize('case', sorted(CASES))
def test_compressed_image_reads_as_qemu_reads_it(source, tmp_path, case):
    image_path = convert(source, str(tmp_path / 'c.qcow2'), *CASES[case])
    image = open_qcow2(image_path)
    assert read_all(image) == qemu_raw(image_path)
    extents = compressed_extents(image)
    assert len(extents) >= min(10, image.size // image.cluster)
    if case.endswith('4k'):
        # Compressed data that runs over into the next host cluster.
        assert any(off // image.cluster != (off + count - 1) // image.cluster
                   for _i, off, count in extents)


@pytest.mark.parametrize('options', [(), ('cluster_size=4096',)])
def test_uncompressed_image_reads_as_qemu_reads_it(source, tmp_path,
                                                   options):
    image_path = convert(source, str(tmp_path / 'u.qcow2'), *options,
                         compress=False)
    assert read_all(open_qcow2(image_path)) == qemu_raw(image_path)


def test_extended_l2_entries_are_refused(source, tmp_path):
    image_path = convert(source, str(tmp_path / 'x.qcow2'), 'extended_l2=on')
    result = inspect_path(image_path)
    assert result['status'] == 'error'
    assert result['error'] == ('qcow2 image has extended L2 entries '
                               '(subclusters): not supported, and Nova '
                               'refuses them too')


def test_zero_clusters_read_as_zeros_not_their_old_data(source, tmp_path):
    image_path = convert(source, str(tmp_path / 'z.qcow2'), compress=False)
    # A zero cluster that keeps its host cluster (write -z without unmap).
    disk.run('qemu-io', '-f', 'qcow2', '-c', 'write -z 0 1M', image_path)
    data = qemu_raw(image_path)
    assert data[:1 << 20] == bytes(1 << 20)
    assert read_all(open_qcow2(image_path)) == data


def test_last_compressed_cluster_cut_at_the_end_of_its_data(source,
                                                            tmp_path):
    # qemu reads the sectors of a compressed cluster past the end of the
    # file as zeros: an image cut right after its last compressed data is
    # still read the same by qemu-img, and must be here.
    image_path = convert(source, str(tmp_path / 'c.qcow2'))
    image = open_qcow2(image_path)
    _index, offset, count = max(compressed_extents(image),
                                key=lambda extent: extent[1])
    with open(image_path, 'rb') as handle:
        handle.seek(offset)
        packed = handle.read(count)
    end = offset + _stream_length(packed, 'zlib')
    assert end % 512
    with open(image_path, 'r+b') as handle:
        handle.truncate(end)
    data = qemu_raw(image_path)
    assert read_all(open_qcow2(image_path)) == data


@pytest.fixture(scope='module')
def compressed_debian(debian_image, tmp_path_factory):
    directory = tmp_path_factory.mktemp('compressed-debian')
    return {
        'zlib': convert(debian_image, str(directory / 'zlib.qcow2')),
        'zstd': convert(debian_image, str(directory / 'zstd.qcow2'),
                        'compression_type=zstd'),
    }


def _verdicts(result):
    return {key: result[key] for key in (
        'status', 'error', 'format', 'virtual_size', 'partition_table',
        'firmware', 'os', 'drivers', 'linux', 'windows', 'notes')}


@pytest.mark.parametrize('kind', ['zlib', 'zstd'])
def test_compressed_debian_gives_the_same_verdicts(debian_image,
                                                   compressed_debian, kind):
    plain = inspect_path(debian_image)
    assert plain['status'] == 'ok'
    assert plain['os']['distro'] == 'debian'
    assert _verdicts(inspect_path(compressed_debian[kind])) == \
        _verdicts(plain)


def _l2_entry_at(data, image, index):
    """(file offset, value) of the L2 entry of guest cluster ``index``."""
    l1_index, l2_index = divmod(index, image.l2_entries)
    l1_offset, = struct.unpack_from('>Q', data, 40)
    l2_offset = struct.unpack_from('>Q', data, l1_offset + 8 * l1_index)[0] \
        & qcow2.OFFSET_MASK
    at = l2_offset + 8 * l2_index
    return at, struct.unpack_from('>Q', data, at)[0]


def _stream_length(packed, kind):
    if kind == 'zstd':
        import zstandard
        inflater = zstandard.ZstdDecompressor().decompressobj()
    else:
        inflater = zlib.decompressobj(-15)
    inflater.decompress(packed)
    return len(packed) - len(inflater.unused_data)


def _corrupt(path, tmp_path, how, kind, guest_index=None):
    """Copy the image with one compressed cluster spoiled by ``how``."""
    image = open_qcow2(path)
    extents = compressed_extents(image)
    index, offset, count = extents[0] if guest_index is None else next(
        e for e in extents if e[0] == guest_index)
    with open(path, 'rb') as handle:
        data = bytearray(handle.read())
    if how == 'garbage':
        # A reserved deflate block type; not a zstd frame magic.
        data[offset:offset + 16] = b'\xff' * 16
    elif how == 'cut':
        # The descriptor counts too few sectors: the stream is cut short.
        entry = _l2_entry_at(data, image, index)
        struct.pack_into('>Q', data, entry[0],
                         entry[1] & ~(image.csize_mask << image.csize_shift))
    elif how == 'past-end':
        at, entry = _l2_entry_at(data, image, index)
        entry = (entry & ~image.coffset_mask) | (len(data) + 4096)
        struct.pack_into('>Q', data, at, entry)
    out = str(tmp_path / ('%s.qcow2' % how))
    with open(out, 'wb') as handle:
        handle.write(data)
    return out, index


@pytest.mark.parametrize('kind', ['zlib', 'zstd'])
@pytest.mark.parametrize('how', ['garbage', 'past-end'])
def test_corrupt_compressed_cluster_is_an_error_never_zeros(
        compressed_debian, tmp_path, kind, how):
    # Guest cluster 0 holds the MBR and the GPT header.
    path, index = _corrupt(compressed_debian[kind], tmp_path, how, kind,
                           0)
    with pytest.raises(qcow2.Qcow2Error) as caught:
        open_qcow2(path).read_at(0, 512)
    word = 'truncated' if how == 'past-end' else 'corrupt'
    assert str(caught.value).startswith(
        '%s qcow2 image: guest cluster 0 (offset 0): ' % word)
    result = inspect_path(path)
    assert result['status'] == 'error'
    assert result['error'] == str(caught.value)
    assert result['os']['family'] == 'unknown'
    assert {v['state'] for v in result['drivers'].values()} == {'unknown'}


@pytest.mark.parametrize('kind', ['zlib', 'zstd'])
def test_compressed_stream_cut_short_is_an_error(compressed_debian, tmp_path,
                                                 kind):
    image = open_qcow2(compressed_debian[kind])
    index = next(i for i, _o, count in compressed_extents(image)
                 if count > 2048)
    path, index = _corrupt(compressed_debian[kind], tmp_path, 'cut', kind,
                           index)
    with pytest.raises(qcow2.Qcow2Error) as caught:
        open_qcow2(path).read_at(index * image.cluster, 512)
    assert str(caught.value).startswith(
        'corrupt qcow2 image: guest cluster %d (offset %d): its %s data at '
        'offset ' % (index, index * image.cluster, kind))
    assert 'inflates to' in str(caught.value) or \
        'does not decompress' in str(caught.value)


def test_file_cut_in_the_last_compressed_cluster(source, tmp_path):
    image_path = convert(source, str(tmp_path / 'c.qcow2'))
    image = open_qcow2(image_path)
    index, offset, count = max(compressed_extents(image),
                               key=lambda extent: extent[1])
    with open(image_path, 'rb') as handle:
        handle.seek(offset)
        end = offset + _stream_length(handle.read(count), 'zlib') // 2
    with open(image_path, 'r+b') as handle:
        handle.truncate(end)
    with pytest.raises(qcow2.Qcow2Error) as caught:
        open_qcow2(image_path).read_at(index * image.cluster, 1)
    assert 'inflates to' in str(caught.value)


@pytest.mark.parametrize('kind', ['zlib', 'zstd'])
def test_corrupt_cluster_deep_in_the_root_filesystem(compressed_debian,
                                                     tmp_path, kind):
    # The ext4 superblock, read through libyal: its error must replace
    # whatever libyal makes of the failed read.
    image = open_qcow2(compressed_debian[kind])
    root_lba, = struct.unpack_from('<Q', image.read_at(1024 + 128, 40), 32)
    superblock = (root_lba * 512 + 1024) // image.cluster
    path, index = _corrupt(compressed_debian[kind], tmp_path, 'garbage',
                           kind, superblock)
    result = inspect_file(range_file(path))
    assert result['status'] == 'error'
    assert 'corrupt qcow2 image: guest cluster %d' % index in \
        result['error']


def test_header_refusals(source, tmp_path):
    image_path = convert(source, str(tmp_path / 'h.qcow2'))
    with open(image_path, 'rb') as handle:
        head = bytearray(handle.read(4096))
    size = os.path.getsize(image_path)

    def refused(**fields):
        spoiled = bytearray(head)
        for offset, (fmt, value) in fields.items():
            struct.pack_into(fmt, spoiled, int(offset[1:]), value)
        with pytest.raises(qcow2.Qcow2Error) as caught:
            qcow2.parse_header(bytes(spoiled), size, 1 << 40)
        return str(caught.value)

    assert refused(o72=('>Q', 1 << 7)) == \
        'qcow2 image has unknown incompatible features 0x80'
    assert refused(o32=('>I', 2)) == 'encrypted qcow2 image'
    assert refused(o72=('>Q', 1 << 3)) == \
        'qcow2 compression type 0 does not match its incompatible feature bit'
    assert refused(o36=('>I', 0)) == \
        'qcow2 L1 table has 0 entries; the virtual size needs 1'
    assert refused(o20=('>I', 22)) == 'qcow2 cluster_bits 22 out of range'


def test_dirty_image_is_read_with_a_note(source, tmp_path):
    image_path = convert(source, str(tmp_path / 'd.qcow2'), compress=False)
    with open(image_path, 'r+b') as handle:
        handle.seek(72)
        handle.write(struct.pack('>Q', 1))
    opened = blockdev.open_disk(range_file(image_path),
                                os.path.getsize(image_path))
    assert opened.notes == ['the qcow2 image is marked dirty (it was not '
                            'closed cleanly); its data is read as it stands']
    assert read_all(opened.fobj) == qemu_raw(image_path)


def test_unaligned_data_cluster_is_an_error(source, tmp_path):
    image_path = convert(source, str(tmp_path / 'u.qcow2'), compress=False)
    image = open_qcow2(image_path)
    index = next(i for i in range(image.size // image.cluster)
                 if image._l2_entry(i) & qcow2.OFFSET_MASK)
    with open(image_path, 'r+b') as handle:
        data = bytearray(handle.read())
        at, entry = _l2_entry_at(data, image, index)
        handle.seek(at)
        handle.write(struct.pack('>Q', entry + 4096))
    with pytest.raises(qcow2.Qcow2Error) as caught:
        open_qcow2(image_path).read_at(index * image.cluster, 1)
    assert str(caught.value) == (
        'corrupt qcow2 image: guest cluster %d (offset %d): its data offset '
        '%d is not cluster aligned' % (index, index * image.cluster,
                                       (entry & qcow2.OFFSET_MASK) + 4096))
