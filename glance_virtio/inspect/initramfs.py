"""List the members of an initramfs without unpacking it to disk.

An initramfs is one or more concatenated cpio "newc" (070701/070702)
archives: usually an uncompressed early-microcode archive first, then one
compressed with gzip, xz/lzma, zstd, lz4 (the kernel's legacy lz4 frame) or
bzip2. The data is streamed: only member names are kept.
"""

import bz2
import collections
import logging
import lzma
import posixpath
import struct
import zlib

LOG = logging.getLogger(__name__)

READ_CHUNK = 256 << 10
INPUT_CHUNK = 64 << 10
ZSTD_CHUNK = 4 << 10
MAX_OUTPUT = 1 << 30
MAX_MEMBERS = 200000
MAX_NAME = 4096
# xz -9 needs 65 MiB to decompress; a larger dictionary is refused.
LZMA_MEMLIMIT = 96 << 20
LZ4_LEGACY_MAGIC = 0x184c2102
LZ4_LEGACY_BLOCK = 8 << 20

Listing = collections.namedtuple('Listing', 'members compression complete '
                                            'error')


class InitramfsError(Exception):
    pass


def module_name(path):
    """'virtio_blk' for '.../virtio_blk.ko.xz', else None."""
    base = posixpath.basename(path)
    for suffix in ('.ko', '.ko.xz', '.ko.zst', '.ko.gz'):
        if base.endswith(suffix):
            return base[:-len(suffix)].replace('-', '_')
    return None


def list_members(fobj, size, want=(), max_output=MAX_OUTPUT):
    """Return a Listing of the archive in ``fobj`` (``size`` bytes).

    Reading stops early, with complete=False, once every module named in
    ``want`` has been seen.
    """
    want = set(want)
    source = _FileSource(fobj, size)
    members, compression = [], []
    found = set()
    budget = [max_output]
    error = None
    try:
        while True:
            if not source.skip_zeros():
                break
            magic = source.peek(6)
            if magic in (b'070701', b'070702'):
                if not compression or compression[-1] != 'none':
                    compression.append('none')
                stream = source
            else:
                name, stream = _decompressor(magic, source, budget)
                compression.append(name)
            done = _read_cpio(stream, members, found, want)
            if done:
                return Listing(members, compression, False, None)
            if stream is not source:
                stream.finish()
    except InitramfsError as exc:
        error = str(exc)
    except (zlib.error, lzma.LZMAError, OSError, ValueError,
            EOFError) as exc:
        error = 'corrupt data: %s' % exc
    except Exception as exc:
        # zstandard.ZstdError and lz4's errors are not OSError.
        if type(exc).__name__ not in ('ZstdError', 'LZ4BlockError'):
            raise
        error = 'corrupt data: %s' % exc
    return Listing(members, compression, error is None, error)


def _read_cpio(stream, members, found, want):
    """Read archives from ``stream`` until it ends; True when all wanted."""
    while True:
        if not stream.skip_zeros():
            return False
        magic = stream.peek(6)
        if magic not in (b'070701', b'070702'):
            if stream.is_file:
                # The next, compressed, archive: the caller handles it.
                return False
            raise InitramfsError('bad cpio magic %r' % magic)
        header = stream.read(110)
        if len(header) < 110:
            raise InitramfsError('truncated cpio header')
        try:
            fields = [int(header[6 + 8 * i:14 + 8 * i], 16)
                      for i in range(13)]
        except ValueError:
            raise InitramfsError('bad cpio header')
        file_size, name_size = fields[6], fields[11]
        if not 0 < name_size <= MAX_NAME:
            raise InitramfsError('bad cpio name size %d' % name_size)
        name = stream.read(name_size)
        stream.skip(_pad4(110 + name_size))
        name = name.rstrip(b'\0').decode('utf-8', 'replace')
        if name == 'TRAILER!!!':
            continue
        stream.skip(file_size + _pad4(file_size))
        while name.startswith('./'):
            name = name[2:]
        name = name.lstrip('/')
        members.append(name)
        if len(members) > MAX_MEMBERS:
            raise InitramfsError('more than %d members' % MAX_MEMBERS)
        module = module_name(name)
        if module in want:
            found.add(module)
            if found >= want:
                return True


def _pad4(length):
    return (4 - length % 4) % 4


class _FileSource:
    """Sequential reads over a file object, with peek and push-back."""

    is_file = True

    def __init__(self, fobj, size):
        self._fobj = fobj
        self._size = size
        self._offset = 0
        self._buffer = b''

    def _fill(self, want):
        while len(self._buffer) < want and self._offset < self._size:
            length = min(READ_CHUNK, self._size - self._offset)
            self._fobj.seek(self._offset)
            chunk = self._fobj.read(length)
            if not chunk:
                break
            self._offset += len(chunk)
            self._buffer += chunk

    def read(self, length):
        self._fill(length)
        data, self._buffer = self._buffer[:length], self._buffer[length:]
        return data

    def peek(self, length):
        self._fill(length)
        return self._buffer[:length]

    def unread(self, data):
        self._buffer = data + self._buffer

    def skip(self, length):
        if length <= len(self._buffer):
            self._buffer = self._buffer[length:]
            return
        length -= len(self._buffer)
        self._buffer = b''
        if self._offset + length > self._size:
            raise InitramfsError('member runs past the end of the file')
        self._offset += length

    def skip_zeros(self):
        """Skip NUL padding; False at the end of the data."""
        while True:
            self._fill(1)
            if not self._buffer:
                return False
            stripped = self._buffer.lstrip(b'\0')
            if stripped:
                self._buffer = stripped
                return True
            self._buffer = b''


def _decompressor(magic, source, budget):
    if magic[:2] == b'\x1f\x8b':
        return 'gzip', _Decompressed(
            source, zlib.decompressobj(16 + zlib.MAX_WBITS), budget)
    if magic[:6] == b'\xfd7zXZ\x00' or magic[:3] == b'\x5d\x00\x00':
        name = 'xz' if magic[:1] == b'\xfd' else 'lzma'
        return name, _Decompressed(
            source, lzma.LZMADecompressor(memlimit=LZMA_MEMLIMIT), budget)
    if magic[:3] == b'BZh':
        return 'bzip2', _Decompressed(source, bz2.BZ2Decompressor(), budget)
    if magic[:4] == b'\x28\xb5\x2f\xfd':
        import zstandard
        return 'zstd', _Decompressed(
            source, zstandard.ZstdDecompressor().decompressobj(), budget,
            chunk=ZSTD_CHUNK)
    if magic[:4] == struct.pack('<I', LZ4_LEGACY_MAGIC):
        return 'lz4', _Decompressed(source, _Lz4Legacy(), budget)
    if magic[:4] == b'\x89LZO':
        raise InitramfsError('lzo-compressed initramfs is not supported')
    raise InitramfsError('unrecognised data %r in initramfs' % magic[:4])


class _Decompressed:
    """A read/skip stream over a decompressor fed from a _FileSource."""

    is_file = False

    def __init__(self, source, decompressor, budget, chunk=INPUT_CHUNK):
        self._source = source
        self._dec = decompressor
        self._budget = budget
        self._chunk = chunk
        self._buffer = b''
        self._eof = False

    def _more(self):
        if self._eof:
            return False
        if getattr(self._dec, 'eof', False):
            self._end()
            return False
        data = self._source.read(self._chunk)
        if not data:
            if getattr(self._dec, 'ends_at_eof', False):
                self._buffer += self._dec.flush_end()
                self._eof = True
                return bool(self._buffer)
            raise InitramfsError('compressed data is truncated')
        out = self._dec.decompress(data)
        self._budget[0] -= len(out)
        if self._budget[0] < 0:
            raise InitramfsError('decompressed size is over the limit')
        self._buffer += out
        if getattr(self._dec, 'eof', False):
            self._end()
        return True

    def _end(self):
        self._eof = True
        unused = getattr(self._dec, 'unused_data', b'')
        if unused:
            self._source.unread(unused)

    def read(self, length):
        while len(self._buffer) < length and self._more():
            pass
        data, self._buffer = self._buffer[:length], self._buffer[length:]
        return data

    def peek(self, length):
        while len(self._buffer) < length and self._more():
            pass
        return self._buffer[:length]

    def skip(self, length):
        while len(self._buffer) < length:
            length -= len(self._buffer)
            self._buffer = b''
            if not self._more():
                raise InitramfsError('member runs past the end of the '
                                     'compressed data')
        self._buffer = self._buffer[length:]

    def skip_zeros(self):
        while True:
            stripped = self._buffer.lstrip(b'\0')
            if stripped:
                self._buffer = stripped
                return True
            self._buffer = b''
            if not self._more():
                return False

    def finish(self):
        """Consume the rest of the compressed stream (trailing padding)."""
        while self._more():
            self._buffer = b''


class _Lz4Legacy:
    """The kernel's legacy lz4 format: magic, then (le32 size, block)*."""

    ends_at_eof = True

    def __init__(self):
        self.eof = False
        self.unused_data = b''
        self._pending = b''
        self._started = False

    def decompress(self, data):
        import lz4.block
        self._pending += data
        out = []
        while not self.eof:
            if not self._started:
                if len(self._pending) < 4:
                    break
                self._pending = self._pending[4:]
                self._started = True
                continue
            if len(self._pending) < 4:
                break
            size = struct.unpack_from('<I', self._pending)[0]
            if size == LZ4_LEGACY_MAGIC:
                self._pending = self._pending[4:]
                continue
            if size == 0 or size > LZ4_LEGACY_BLOCK + (LZ4_LEGACY_BLOCK >> 6):
                # Not a block: the end of the lz4 data.
                self.eof = True
                self.unused_data = self._pending
                break
            if len(self._pending) < 4 + size:
                break
            block = self._pending[4:4 + size]
            self._pending = self._pending[4 + size:]
            out.append(lz4.block.decompress(
                block, uncompressed_size=LZ4_LEGACY_BLOCK))
        return b''.join(out)

    def flush_end(self):
        """The input ended: legal only between blocks."""
        if self._pending.strip(b'\0'):
            raise InitramfsError('lz4 data is truncated')
        self.eof = True
        return b''
