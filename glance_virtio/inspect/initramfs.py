"""List the members of an initramfs without unpacking it to disk.

An initramfs is one or more concatenated cpio "newc" (070701/070702)
archives: usually an uncompressed early-microcode archive first, then one
compressed with gzip, xz/lzma, zstd, lz4 (the kernel's legacy lz4 frame) or
bzip2. The data is streamed: only member names are kept, and each
decompression step yields a bounded amount of output, so the output budget
is checked while inflating and a small bomb cannot fill the memory.
"""

import bz2
import collections
import logging
import lzma
import posixpath
import re
import struct
import zlib

LOG = logging.getLogger(__name__)

READ_CHUNK = 256 << 10
INPUT_CHUNK = 64 << 10
# The most output one decompression step may add to the buffer.
STEP_OUTPUT = 1 << 20
MAX_OUTPUT = 1 << 30
MAX_MEMBERS = 200000
MAX_NAME = 4096
# xz -9 needs 65 MiB to decompress; a larger dictionary is refused.
LZMA_MEMLIMIT = 96 << 20
ZSTD_MAX_WINDOW = 1 << 27
# zstd blocks inflate to at most 128 KiB each: feed a few at a time.
ZSTD_BLOCKS_PER_STEP = 8
LZ4_LEGACY_MAGIC = 0x184c2102
LZ4_LEGACY_BLOCK = 8 << 20
MODULE_PATH = re.compile(r'(?:usr/)?lib/modules/([^/]+)/(.+)')
NON_ZERO = re.compile(b'[^\0]')

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


def module_version(path):
    """(kernel version, module name) of a member under lib/modules/VER/.

    (None, None) when ``path`` is not a kernel module there.
    """
    match = MODULE_PATH.fullmatch(path)
    if not match:
        return None, None
    name = module_name(match.group(2))
    return (match.group(1), name) if name else (None, None)


def list_members(fobj, size, want=(), max_output=MAX_OUTPUT, version=None):
    """Return a Listing of the archive in ``fobj`` (``size`` bytes).

    Reading stops early, with complete=False, once every module named in
    ``want`` has been seen (under lib/modules/``version``/ when a version
    is given).
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
            done = _read_cpio(stream, members, found, want, version)
            if done:
                return Listing(members, compression, False, None)
            if stream is not source:
                stream.finish()
    except InitramfsError as exc:
        error = str(exc)
    except lzma.LZMAError as exc:
        error = 'corrupt data: %s' % exc
        if 'memory usage limit' in str(exc).lower():
            error = 'xz/lzma data needs more than %d MiB to decompress' % (
                LZMA_MEMLIMIT >> 20)
    except (zlib.error, OSError, ValueError,
            EOFError) as exc:
        error = 'corrupt data: %s' % exc
    except Exception as exc:
        # zstandard.ZstdError and lz4's errors are not OSError.
        if type(exc).__name__ not in ('ZstdError', 'LZ4BlockError'):
            raise
        error = 'corrupt data: %s' % exc
        if 'too much memory' in str(exc):
            error = 'zstd data needs a window over %d MiB to decompress' % (
                ZSTD_MAX_WINDOW >> 20)
    return Listing(members, compression, error is None, error)


def _read_cpio(stream, members, found, want, version):
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
        if not want:
            continue
        if version is None:
            module = module_name(name)
        else:
            member_version, module = module_version(name)
            if member_version != version:
                continue
        if module in want:
            found.add(module)
            if found >= want:
                return True


def _pad4(length):
    return (4 - length % 4) % 4


class _Buffered:
    """A byte buffer read from a position: no copy of what remains."""

    def __init__(self):
        self._buffer = b''
        self._pos = 0

    def _available(self):
        return len(self._buffer) - self._pos

    def _append(self, data):
        if self._pos:
            # What remains is shorter than one read (a header or a name).
            self._buffer = self._buffer[self._pos:] + data
            self._pos = 0
        else:
            self._buffer += data

    def _drop(self):
        self._buffer = b''
        self._pos = 0

    def _take(self, length):
        data = self._buffer[self._pos:self._pos + length]
        self._pos += len(data)
        return data

    def _skip_buffered_zeros(self):
        """Skip NULs in the buffer; True if a non-NUL byte is next."""
        match = NON_ZERO.search(self._buffer, self._pos)
        if match:
            self._pos = match.start()
            return True
        self._drop()
        return False


class _FileSource(_Buffered):
    """Sequential reads over a file object, with peek and push-back."""

    is_file = True

    def __init__(self, fobj, size):
        super().__init__()
        self._fobj = fobj
        self._size = size
        self._offset = 0

    def _fill(self, want):
        while self._available() < want and self._offset < self._size:
            length = min(READ_CHUNK, self._size - self._offset)
            self._fobj.seek(self._offset)
            chunk = self._fobj.read(length)
            if not chunk:
                break
            self._offset += len(chunk)
            self._append(chunk)

    def read(self, length):
        self._fill(length)
        return self._take(length)

    def peek(self, length):
        self._fill(length)
        return self._buffer[self._pos:self._pos + length]

    def unread(self, data):
        self._buffer = data + self._buffer[self._pos:]
        self._pos = 0

    def skip(self, length):
        if length <= self._available():
            self._pos += length
            return
        length -= self._available()
        self._drop()
        if self._offset + length > self._size:
            raise InitramfsError('member runs past the end of the file')
        self._offset += length

    def skip_zeros(self):
        """Skip NUL padding; False at the end of the data."""
        while True:
            self._fill(1)
            if not self._available():
                return False
            if self._skip_buffered_zeros():
                return True


def _decompressor(magic, source, budget):
    if magic[:2] == b'\x1f\x8b':
        return 'gzip', _Decompressed(source, _Zlib(), budget)
    if magic[:6] == b'\xfd7zXZ\x00' or magic[:3] == b'\x5d\x00\x00':
        name = 'xz' if magic[:1] == b'\xfd' else 'lzma'
        return name, _Decompressed(
            source, lzma.LZMADecompressor(memlimit=LZMA_MEMLIMIT), budget)
    if magic[:3] == b'BZh':
        return 'bzip2', _Decompressed(source, bz2.BZ2Decompressor(), budget)
    if magic[:4] == b'\x28\xb5\x2f\xfd':
        return 'zstd', _Decompressed(source, _Zstd(), budget)
    if magic[:4] == struct.pack('<I', LZ4_LEGACY_MAGIC):
        return 'lz4', _Decompressed(source, _Lz4Legacy(), budget)
    if magic[:4] == b'\x89LZO':
        raise InitramfsError('lzo-compressed initramfs is not supported')
    raise InitramfsError('unrecognised data %r in initramfs' % magic[:4])


class _Decompressed(_Buffered):
    """A read/skip stream over a decompressor fed from a _FileSource.

    The decompressor follows bz2/lzma: decompress(data, max_length),
    needs_input, eof and unused_data.
    """

    is_file = False

    def __init__(self, source, decompressor, budget, chunk=INPUT_CHUNK):
        super().__init__()
        self._source = source
        self._dec = decompressor
        self._budget = budget
        self._chunk = chunk
        self._eof = False

    def _more(self):
        """Add at most STEP_OUTPUT bytes to the buffer; False at the end."""
        while not self._eof:
            if self._dec.eof:
                self._end()
                return False
            data = b''
            if self._dec.needs_input:
                data = self._source.read(self._chunk)
                if not data:
                    if getattr(self._dec, 'ends_at_eof', False):
                        self._dec.flush_end()
                        self._eof = True
                        return False
                    raise InitramfsError('compressed data is truncated')
            out = self._dec.decompress(data, STEP_OUTPUT)
            self._budget[0] -= len(out)
            if self._budget[0] < 0:
                raise InitramfsError('decompressed size is over the limit')
            if out:
                self._append(out)
                return True
        return False

    def _end(self):
        self._eof = True
        unused = self._dec.unused_data
        if unused:
            self._source.unread(unused)

    def read(self, length):
        while self._available() < length and self._more():
            pass
        return self._take(length)

    def peek(self, length):
        while self._available() < length and self._more():
            pass
        return self._buffer[self._pos:self._pos + length]

    def skip(self, length):
        while self._available() < length:
            length -= self._available()
            self._drop()
            if not self._more():
                raise InitramfsError('member runs past the end of the '
                                     'compressed data')
        self._pos += length

    def skip_zeros(self):
        while True:
            if self._available() and self._skip_buffered_zeros():
                return True
            self._drop()
            if not self._more():
                return False

    def finish(self):
        """Consume the rest of the compressed stream (trailing padding)."""
        while self._more():
            self._drop()


class _Zlib:
    """gzip through zlib, with the bz2/lzma decompressor interface."""

    def __init__(self):
        self._dec = zlib.decompressobj(16 + zlib.MAX_WBITS)
        self.needs_input = True

    @property
    def eof(self):
        return self._dec.eof

    @property
    def unused_data(self):
        return self._dec.unused_data

    def decompress(self, data, max_length):
        out = self._dec.decompress(self._dec.unconsumed_tail + data,
                                   max_length)
        self.needs_input = not self._dec.unconsumed_tail and \
            len(out) < max_length
        return out


class _Zstd:
    """One zstd frame, fed a few blocks at a time.

    python-zstandard's decompressobj has no output limit, but each zstd
    block inflates to at most 128 KiB: walking the block headers bounds
    the output of each step.
    """

    def __init__(self):
        import zstandard
        self._dec = zstandard.ZstdDecompressor(
            max_window_size=ZSTD_MAX_WINDOW).decompressobj()
        self._input = b''
        # Offset in _input of the next structure not yet walked over.
        self._next = 0
        self._state = 'header'
        self._checksum = False
        self.eof = False
        self.unused_data = b''
        self.needs_input = True

    def _walk(self):
        """The length of _input that covers a bounded number of blocks."""
        blocks = 0
        while blocks < ZSTD_BLOCKS_PER_STEP and self._state != 'end':
            data, at = self._input, self._next
            if self._state == 'header':
                if len(data) < at + 5:
                    break
                flags = data[at + 4]
                fcs = (0, 2, 4, 8)[flags >> 6]
                single = flags & 0x20
                if single and not fcs:
                    fcs = 1
                if flags & 0x08:
                    raise InitramfsError('bad zstd frame header')
                self._checksum = bool(flags & 0x04)
                self._next += 5 + (0 if single else 1) + \
                    (0, 1, 2, 4)[flags & 3] + fcs
                self._state = 'block'
            elif self._state == 'block':
                if len(data) < at + 3:
                    break
                header = int.from_bytes(data[at:at + 3], 'little')
                kind, size = (header >> 1) & 3, header >> 3
                if kind == 3:
                    raise InitramfsError('bad zstd block type')
                self._next += 3 + (1 if kind == 1 else size)
                blocks += 1
                if header & 1:
                    self._state = 'checksum' if self._checksum else 'end'
            else:
                self._next += 4
                self._state = 'end'
        return min(self._next, len(self._input))

    def decompress(self, data, max_length):
        self._input += data
        length = self._walk()
        chunk, self._input = self._input[:length], self._input[length:]
        self._next -= length
        out = self._dec.decompress(chunk) if chunk else b''
        if self._state == 'end' and self._next <= 0:
            if not self._dec.eof:
                raise InitramfsError('zstd frame is corrupt')
            self.eof = True
            self.unused_data = self._input
            self._input = b''
        self.needs_input = not self.eof and (
            self._next >= len(self._input) or not length)
        return out


class _Lz4Legacy:
    """The kernel's legacy lz4 format: magic, then (le32 size, block)*."""

    ends_at_eof = True

    def __init__(self):
        self.eof = False
        self.unused_data = b''
        self.needs_input = True
        self._pending = b''
        self._started = False

    def decompress(self, data, max_length):
        import lz4.block
        self._pending += data
        out = []
        produced = 0
        self.needs_input = False
        while not self.eof and produced < max_length:
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
            produced += len(out[-1])
        else:
            return b''.join(out)
        # The loop stopped for want of input (or at the end).
        self.needs_input = not self.eof
        return b''.join(out)

    def flush_end(self):
        """The input ended: legal only between blocks."""
        if self._pending.strip(b'\0'):
            raise InitramfsError('lz4 data is truncated')
        self.eof = True
