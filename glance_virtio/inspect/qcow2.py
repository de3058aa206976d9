"""Read the guest disk of a qcow2 image (QEMU docs/interop/qcow2.txt).

libqcow returns zero-filled data without an error for compressed clusters
written by qemu-img 7 (zlib) and cannot open zstd-compressed images, so
the format is read here: versions 2 and 3, zlib and zstd clusters, zero
clusters. Backing files, external data files and encryption are refused
and never followed; so are extended L2 entries, which oslo.utils' format
inspector (the check Glance and Nova run) refuses as well. Whatever the
format says is there but cannot be read (an L2 table or cluster past the
end of the file, a cluster that does not inflate to a whole cluster)
raises Qcow2Error: it never reads as zeros."""

import collections
import io
import logging
import struct
import zlib

from glance_virtio.inspect.errors import UnsupportedImage
from glance_virtio.inspect.fileobj import _ReadOnlyFile
from glance_virtio.inspect.fileobj import read_at

LOG = logging.getLogger(__name__)

MAGIC = b'QFI\xfb'
INCOMPAT_DIRTY = 1 << 0
INCOMPAT_CORRUPT = 1 << 1
INCOMPAT_DATA_FILE = 1 << 2
INCOMPAT_COMPRESSION = 1 << 3
INCOMPAT_EXTENDED_L2 = 1 << 4
INCOMPAT_KNOWN = (1 << 5) - 1
COMPRESSION = {0: 'zlib', 1: 'zstd'}
# qemu refuses L1 tables above 32 MiB (QCOW_MAX_L1_SIZE).
MAX_L1_BYTES = 32 << 20
OFFSET_MASK = 0x00fffffffffffe00
COMPRESSED = 1 << 62
L1_CHUNK = 4096
CACHE_BYTES = 8 << 20
COMPRESSED_CACHE_BYTES = 4 << 20

Header = collections.namedtuple(
    'Header', 'version cluster_bits virtual_size l1_size l1_offset '
              'incompatible compression')


class Qcow2Error(UnsupportedImage):
    """The qcow2 image is refused, corrupt or truncated."""


def parse_header(head, size, max_virtual_size):
    """Vet the qcow2 header in ``head`` (the image's first bytes)."""
    if len(head) < 72 or head[:4] != MAGIC:
        raise Qcow2Error('truncated qcow2 header')
    (version, backing_offset, _backing_len, cluster_bits, virtual_size,
     crypt, l1_size, l1_offset, refcount_offset,
     refcount_clusters) = struct.unpack_from('>IQIIQIIQQI', head, 4)
    if version not in (2, 3):
        raise Qcow2Error('unsupported qcow2 version %d' % version)
    if backing_offset:
        raise Qcow2Error('qcow2 image has a backing file; refusing to '
                         'follow it')
    if not 9 <= cluster_bits <= 21:
        raise Qcow2Error('qcow2 cluster_bits %d out of range' % cluster_bits)
    if crypt:
        raise Qcow2Error('encrypted qcow2 image')
    cluster = 1 << cluster_bits
    refcount_end = refcount_offset + (refcount_clusters << cluster_bits)
    if l1_offset + 8 * l1_size > size or refcount_end > size:
        raise Qcow2Error('truncated qcow2 image: its tables lie past the '
                         'end of the file')
    if virtual_size > max_virtual_size:
        raise Qcow2Error('virtual size %d bytes is above the limit of %d'
                         % (virtual_size, max_virtual_size))
    incompat, compression = 0, 0
    if version == 3:
        if len(head) < 104:
            raise Qcow2Error('truncated qcow2 header')
        incompat, = struct.unpack_from('>Q', head, 72)
        header_length, = struct.unpack_from('>I', head, 100)
        if header_length < 104:
            raise Qcow2Error('qcow2 header length %d is below 104'
                             % header_length)
        if header_length > 104 and len(head) > 104:
            compression = head[104]
    _check_features(incompat, compression, cluster_bits)
    span = cluster // 8 * cluster
    needed = (virtual_size + span - 1) // span
    if l1_size < needed:
        raise Qcow2Error('qcow2 L1 table has %d entries; the virtual size '
                         'needs %d' % (l1_size, needed))
    if 8 * l1_size > MAX_L1_BYTES:
        raise Qcow2Error('qcow2 L1 table of %d entries is above the limit '
                         'of %d bytes' % (l1_size, MAX_L1_BYTES))
    if l1_offset % cluster:
        raise Qcow2Error('qcow2 L1 table offset %d is not cluster aligned'
                         % l1_offset)
    return Header(version, cluster_bits, virtual_size, l1_size, l1_offset,
                  incompat, COMPRESSION[compression])


def _check_features(incompat, compression, cluster_bits):
    if incompat & INCOMPAT_DATA_FILE:
        raise Qcow2Error('qcow2 image has an external data file; refusing '
                         'to follow it')
    if incompat & INCOMPAT_CORRUPT:
        raise Qcow2Error('qcow2 image is marked corrupt')
    unknown = incompat & ~INCOMPAT_KNOWN
    if unknown:
        raise Qcow2Error('qcow2 image has unknown incompatible features '
                         '0x%x' % unknown)
    if bool(incompat & INCOMPAT_COMPRESSION) != bool(compression):
        raise Qcow2Error('qcow2 compression type %d does not match its '
                         'incompatible feature bit' % compression)
    if compression not in COMPRESSION:
        raise Qcow2Error('unknown qcow2 compression type %d' % compression)
    if incompat & INCOMPAT_EXTENDED_L2:
        raise Qcow2Error('qcow2 image has extended L2 entries (subclusters): '
                         'not supported, and Nova refuses them too')


def check_l1(fobj, size, header):
    """Refuse an image whose L2 tables lie past the end of the file."""
    cluster = 1 << header.cluster_bits
    for start in range(0, header.l1_size, L1_CHUNK):
        count = min(L1_CHUNK, header.l1_size - start)
        table = read_at(fobj, header.l1_offset + 8 * start, 8 * count)
        for (entry,) in struct.iter_unpack('>Q', table):
            l2_offset = entry & OFFSET_MASK
            if l2_offset and l2_offset + cluster > size:
                raise Qcow2Error(
                    'truncated qcow2 image: an L2 table at offset %d lies '
                    'past the end of the file (%d bytes)' % (l2_offset, size))


class Qcow2File(_ReadOnlyFile):
    """The guest's virtual disk of a qcow2 image, as a read-only file."""

    def __init__(self, fobj, size, header):
        super().__init__(header.virtual_size)
        self.fobj = fobj
        self.file_size = size
        self.header = header
        self.cluster = 1 << header.cluster_bits
        self.l2_entries = self.cluster // 8
        bits = 62 - (header.cluster_bits - 8)
        self.coffset_mask = (1 << bits) - 1
        self.csize_shift = bits
        self.csize_mask = (1 << (header.cluster_bits - 8)) - 1
        self._l1 = _Lru(16)
        self._l2 = _Lru(max(4, CACHE_BYTES // self.cluster))
        self._inflated = _Lru(max(2, COMPRESSED_CACHE_BYTES // self.cluster))
        # (offset, message) of the first failed read, for the caller:
        # C libraries that read through this file replace the exception.
        self.error = None

    def _pread(self, offset, length):
        try:
            return self._read(offset, length)
        except Qcow2Error as exc:
            if self.error is None:
                self.error = (offset, str(exc))
            raise

    def _read(self, offset, length):
        out = bytearray()
        while len(out) < length:
            index, within = divmod(offset + len(out), self.cluster)
            count = min(self.cluster - within, length - len(out))
            out += self._cluster_bytes(index, within, count)
        return bytes(out)

    def _cluster_bytes(self, index, within, count):
        entry = self._l2_entry(index)
        if entry & COMPRESSED:
            data = self._inflate(index, entry)
            return data[within:within + count]
        host = entry & OFFSET_MASK
        if host % self.cluster:
            raise self._corrupt(index, 'its data offset %d is not cluster '
                                       'aligned' % host)
        if entry & 1:
            if self.header.version == 2:
                raise self._corrupt(index, 'a version 2 image cannot have '
                                           'zero clusters')
            return bytes(count)
        if not host:
            # Unallocated, and there is no backing file: zeros.
            return bytes(count)
        return self._data(index, host + within, count)

    def _l2_entry(self, index):
        """The L2 table entry of guest cluster ``index`` (0: none)."""
        l1_index, l2_index = divmod(index, self.l2_entries)
        l2_offset = self._l1_entry(l1_index) & OFFSET_MASK
        if not l2_offset:
            return 0
        if l2_offset % self.cluster:
            raise self._corrupt(index, 'its L2 table offset %d is not '
                                       'cluster aligned' % l2_offset)
        table = self._l2.get(l2_offset)
        if table is None:
            if l2_offset + self.cluster > self.file_size:
                raise self._corrupt(index, 'its L2 table at offset %d lies '
                                           'past the end of the file'
                                    % l2_offset, truncated=True)
            table = self._exact(l2_offset, self.cluster, index, 'L2 table')
            self._l2.put(l2_offset, table)
        return struct.unpack_from('>Q', table, 8 * l2_index)[0]

    def _l1_entry(self, l1_index):
        chunk_index, slot = divmod(l1_index, L1_CHUNK)
        chunk = self._l1.get(chunk_index)
        if chunk is None:
            start = chunk_index * L1_CHUNK
            count = min(L1_CHUNK, self.header.l1_size - start)
            chunk = self._exact(self.header.l1_offset + 8 * start, 8 * count,
                                start * self.l2_entries, 'L1 table')
            self._l1.put(chunk_index, chunk)
        return struct.unpack_from('>Q', chunk, 8 * slot)[0]

    def _data(self, index, host, count):
        if host + count > self.file_size:
            raise self._corrupt(index, 'its data at offset %d lies past the '
                                       'end of the file' % host,
                                truncated=True)
        return self._exact(host, count, index, 'data')

    def _inflate(self, index, entry):
        data = self._inflated.get(index)
        if data is not None:
            return data
        coffset = entry & self.coffset_mask
        sectors = (entry >> self.csize_shift & self.csize_mask) + 1
        csize = sectors * 512 - (coffset & 511)
        if coffset >= self.file_size:
            raise self._corrupt(index, 'its compressed data at offset %d '
                                       'lies past the end of the file'
                                % coffset, truncated=True)
        # The last sector of the file's last compressed cluster may be cut
        # short: qemu pads it with zeros when reading, and so does inflate.
        csize = min(csize, self.file_size - coffset)
        packed = self._exact(coffset, csize, index, 'compressed data')
        try:
            if self.header.compression == 'zstd':
                data = _unzstd(packed, self.cluster)
            else:
                data = _unzlib(packed, self.cluster)
        except (zlib.error, _ZstdError) as exc:
            raise self._corrupt(index, 'its %s data at offset %d does not '
                                       'decompress (%s)'
                                % (self.header.compression, coffset, exc))
        if len(data) != self.cluster:
            raise self._corrupt(index, 'its %s data at offset %d inflates '
                                       'to %d bytes, not a %d-byte cluster'
                                % (self.header.compression, coffset,
                                   len(data), self.cluster))
        self._inflated.put(index, data)
        return data

    def _exact(self, offset, length, index, what):
        data = read_at(self.fobj, offset, length)
        if len(data) != length:
            raise self._corrupt(index, 'its %s at offset %d is cut short '
                                       '(%d of %d bytes)'
                                % (what, offset, len(data), length),
                                truncated=True)
        return data

    def _corrupt(self, index, message, truncated=False):
        return Qcow2Error('%s qcow2 image: guest cluster %d (offset %d): %s'
                          % ('truncated' if truncated else 'corrupt', index,
                             index * self.cluster, message))


class _ZstdError(Exception):
    pass


def _unzlib(packed, cluster):
    # qemu writes raw deflate (no zlib header) with a 4 KiB window.
    inflater = zlib.decompressobj(-15)
    return inflater.decompress(packed, cluster)


def _unzstd(packed, cluster):
    import zstandard
    # The window cap bounds memory; reading stops at one cluster of output.
    decompressor = zstandard.ZstdDecompressor(
        max_window_size=max(1 << 20, 2 * cluster))
    out = bytearray()
    try:
        # A cluster may be stored as several frames: qemu reads across.
        with decompressor.stream_reader(io.BytesIO(packed),
                                        read_across_frames=True) as reader:
            while len(out) < cluster:
                chunk = reader.read(cluster - len(out))
                if not chunk:
                    break
                out += chunk
    except zstandard.ZstdError as exc:
        raise _ZstdError(str(exc))
    return bytes(out)


class _Lru:
    """A dict that keeps its ``limit`` most recently used entries."""

    def __init__(self, limit):
        self.limit = limit
        self._items = collections.OrderedDict()

    def get(self, key):
        value = self._items.get(key)
        if value is not None:
            self._items.move_to_end(key)
        return value

    def put(self, key, value):
        self._items[key] = value
        self._items.move_to_end(key)
        while len(self._items) > self.limit:
            self._items.popitem(last=False)
