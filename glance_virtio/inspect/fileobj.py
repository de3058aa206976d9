"""Small file-object adapters: a window on another file, a libyal object."""

import io
import logging

from glance_virtio.inspect.errors import InspectError

LOG = logging.getLogger(__name__)


class ReadError(InspectError, OSError):
    """A library could not read its object: a corrupt or truncated image.

    An OSError for the code that expects libyal's errors, an InspectError
    (a clear message, no traceback) when nothing else catches it.
    """


class Seekable(io.RawIOBase):
    """Read-only seek/tell over ``self.size`` bytes at ``self._pos``."""

    def readable(self):
        return True

    def seekable(self):
        return True

    def get_size(self):
        return self.size

    def get_offset(self):
        return self._pos

    def tell(self):
        return self._pos

    def seek(self, offset, whence=io.SEEK_SET):
        if whence == io.SEEK_SET:
            pos = offset
        elif whence == io.SEEK_CUR:
            pos = self._pos + offset
        elif whence == io.SEEK_END:
            pos = self.size + offset
        else:
            raise ValueError('invalid whence %r' % whence)
        if pos < 0:
            raise ValueError('negative seek position %d' % pos)
        self._pos = pos
        return pos


class _ReadOnlyFile(Seekable):
    """The bookkeeping shared by the adapters; subclasses give _pread."""

    def __init__(self, size):
        super().__init__()
        self.size = size
        self._pos = 0

    def readinto(self, buf):
        view = memoryview(buf).cast('B')
        want = min(len(view), max(0, self.size - self._pos))
        if want <= 0:
            return 0
        data = self._pread(self._pos, want)
        view[:len(data)] = data
        self._pos += len(data)
        return len(data)

    def read_at(self, offset, length):
        """Read up to ``length`` bytes at ``offset``; position unchanged."""
        length = min(length, max(0, self.size - offset))
        return self._pread(offset, length) if length > 0 else b''


class SubFile(_ReadOnlyFile):
    """The bytes [offset, offset + size) of a seekable parent file."""

    def __init__(self, parent, offset, size):
        super().__init__(size)
        self.parent = parent
        self.offset = offset

    def _pread(self, offset, length):
        self.parent.seek(self.offset + offset)
        out = bytearray()
        while len(out) < length:
            chunk = self.parent.read(length - len(out))
            if not chunk:
                break
            out += chunk
        return bytes(out)


class LibyalFile(_ReadOnlyFile):
    """A Python file over a libyal object that has read_buffer_at_offset."""

    def __init__(self, obj, size):
        super().__init__(size)
        self.obj = obj
        # (offset, message) of the first failed read, for the caller.
        self.error = None

    def _pread(self, offset, length):
        try:
            return self.obj.read_buffer_at_offset(length, offset)
        except (OSError, IOError) as exc:
            if self.error is None:
                self.error = (offset, str(exc).split('. ')[0])
            raise ReadError('reading offset %d failed: %s'
                            % (offset, str(exc).split('. ')[0])) from exc


def read_at(fobj, offset, length):
    """Read up to ``length`` bytes at ``offset`` from any seekable file."""
    if hasattr(fobj, 'read_at'):
        return fobj.read_at(offset, length)
    fobj.seek(offset)
    return fobj.read(length)
