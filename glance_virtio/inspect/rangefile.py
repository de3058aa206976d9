"""A seekable, cached, read-ahead file object over a range-fetch function.

In production ``fetch(offset, length)`` performs an HTTP Range GET on the
Glance image data; in tests it slices a bytes buffer.
"""

import collections
import logging

from glance_virtio.inspect.errors import InspectError
from glance_virtio.inspect.errors import ReadLimitExceeded
from glance_virtio.inspect import fileobj

LOG = logging.getLogger(__name__)


class RangeFile(fileobj.Seekable):
    """Read-only file of ``size`` bytes whose data comes from ``fetch``.

    Data is fetched in whole blocks of ``block_size`` bytes and kept in a
    bounded LRU cache of ``cache_blocks`` blocks (default: 32 MiB worth).
    Sequential reads double a read-ahead window up to ``readahead`` blocks
    (default: 4 MiB worth) per fetch; random reads fetch one block. Small
    blocks keep the scattered metadata reads of filesystems cheap: on a
    2 GiB raw Debian image 64 KiB blocks read 2.2 MB where 1 MiB blocks
    read 12.6 MB, in about as many fetches. ``max_read``
    bounds the total number of bytes fetched; passing it raises
    ReadLimitExceeded (and sets ``limit_exceeded``, because C libraries that
    call read() replace the exception by their own error).
    """

    def __init__(self, fetch, size, block_size=64 << 10, readahead=None,
                 max_read=None, cache_blocks=None):
        super().__init__()
        if block_size <= 0 or size < 0:
            raise ValueError('block_size must be positive, size not negative')
        self._fetch = fetch
        self._size = size
        self.block_size = block_size
        if readahead is None:
            readahead = (4 << 20) // block_size
        if cache_blocks is None:
            cache_blocks = (32 << 20) // block_size
        self.readahead = max(1, readahead)
        self.max_read = max_read
        self._cache = collections.OrderedDict()
        self._cache_blocks = max(cache_blocks, self.readahead, 1)
        self._pos = 0
        self._last_end = None
        self._window = 1
        self._span = 1
        self.bytes_fetched = 0
        self.fetch_count = 0
        self.limit_exceeded = False
        # The first fetch that failed, kept because C libraries that call
        # read() replace the exception by their own error.
        self.fetch_error = None
        # Offset of the first read that started at or past the end.
        self.past_end = None

    @property
    def size(self):
        return self._size

    def readinto(self, buf):
        view = memoryview(buf).cast('B')
        want = min(len(view), max(0, self._size - self._pos))
        if want == 0:
            if len(view) and self.past_end is None:
                self.past_end = self._pos
            return 0
        sequential = self._last_end == self._pos
        self._window = min(self._window * 2, self.readahead) if sequential \
            else 1
        first = self._pos // self.block_size
        self._span = (self._pos + want - 1) // self.block_size - first + 1
        done = 0
        while done < want:
            pos = self._pos + done
            index, skip = divmod(pos, self.block_size)
            block = self._block(index)
            chunk = block[skip:skip + want - done]
            if not chunk:
                raise InspectError('short block %d from fetch' % index)
            view[done:done + len(chunk)] = chunk
            done += len(chunk)
        self._pos += done
        self._last_end = self._pos
        return done

    def _block(self, index):
        block = self._cache.get(index)
        if block is not None:
            self._cache.move_to_end(index)
            return block
        count = 1
        last = (self._size - 1) // self.block_size
        limit = min(max(self._window, self._span), self._cache_blocks)
        while count < limit and index + count <= last:
            if index + count in self._cache:
                break
            count += 1
        start = index * self.block_size
        length = min(count * self.block_size, self._size - start)
        if self.max_read is not None:
            room = self.max_read - self.bytes_fetched
            if length > room:
                # Drop the read-ahead before giving up on the block itself.
                length = min(self.block_size, self._size - start)
                count = 1
                if length > room:
                    self.limit_exceeded = True
                    raise ReadLimitExceeded(
                        'read limit of %d bytes reached' % self.max_read)
        try:
            data = bytes(self._fetch(start, length))
        except Exception as exc:
            if self.fetch_error is None:
                self.fetch_error = ('reading bytes %d-%d of the image '
                                    'failed: %s'
                                    % (start, start + length - 1, exc))
            raise InspectError(self.fetch_error) from exc
        self.fetch_count += 1
        self.bytes_fetched += len(data)
        if len(data) != length:
            raise InspectError('fetch(%d, %d) returned %d bytes'
                               % (start, length, len(data)))
        for i in range(count):
            piece = data[i * self.block_size:(i + 1) * self.block_size]
            self._cache[index + i] = piece
            self._cache.move_to_end(index + i)
        while len(self._cache) > self._cache_blocks:
            self._cache.popitem(last=False)
        return data[:self.block_size]

    def read_at(self, offset, length):
        """Read ``length`` bytes at ``offset`` without moving the position."""
        saved = self._pos
        try:
            self.seek(offset)
            return self.read(length)
        finally:
            self._pos = saved


def file_fetch(fobj):
    """A fetch function over an ordinary seekable file object."""
    def fetch(offset, length):
        fobj.seek(offset)
        return fobj.read(length)
    return fetch
