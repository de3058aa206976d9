"""Detect and vet the image format, then expose the guest disk as a file.

The header is vetted with oslo.utils' format inspector and by reading the
qcow2 header here as well; backing files and external data files are
refused and never followed. qcow2 is read by qcow2.py, VMDK and VHD(X) by
libyal.
"""

import collections
import logging

from oslo_utils.imageutils import format_inspector

from glance_virtio.inspect import qcow2
from glance_virtio.inspect.errors import InspectError
from glance_virtio.inspect.errors import UnsupportedImage
from glance_virtio.inspect.fileobj import LibyalFile
from glance_virtio.inspect.fileobj import SubFile
from glance_virtio.inspect.fileobj import read_at

LOG = logging.getLogger(__name__)

HEAD_SIZE = 1 << 20
VET_LIMIT = 8 << 20
CHUNK = 64 << 10
MAX_VIRTUAL_SIZE = 64 << 40

Disk = collections.namedtuple('Disk', 'format virtual_size fobj notes')


def open_disk(fobj, size, max_virtual_size=MAX_VIRTUAL_SIZE):
    """Return a Disk whose ``fobj`` reads the guest's virtual disk."""
    if size <= 0:
        raise UnsupportedImage('empty image')
    head = read_at(fobj, 0, min(size, HEAD_SIZE))
    header = None
    if head[:4] == qcow2.MAGIC:
        header = check_qcow2_header(head, size, max_virtual_size)
    name = detect_format(head)
    LOG.debug('format inspector says %s', name)
    if name in ('raw', 'gpt'):
        return _open_raw(fobj, size)
    if name == 'luks':
        raise UnsupportedImage('LUKS-encrypted image: cannot inspect it '
                               'without the key')
    if name not in ('qcow2', 'vmdk', 'vhd', 'vhdx'):
        raise UnsupportedImage('unsupported image format %s' % name)
    virtual_size = vet(fobj, size, name)
    if virtual_size > max_virtual_size:
        raise UnsupportedImage('virtual size %d bytes is above the limit of '
                               '%d' % (virtual_size, max_virtual_size))
    if name == 'qcow2':
        return _open_qcow2(fobj, size, header)
    opener = {'vmdk': _open_vmdk, 'vhd': _open_vhdi, 'vhdx': _open_vhdi}[name]
    return opener(fobj, size, name)


def detect_format(head):
    """Name of the format oslo.utils recognises in the image's head."""
    wrapper = format_inspector.InspectWrapper(_BytesSource(head))
    try:
        for start in range(0, len(head), CHUNK):
            wrapper.read(CHUNK)
            if wrapper.format is not None:
                break
        else:
            wrapper.close()
        found = wrapper.format
    except format_inspector.ImageFormatError as exc:
        raise UnsupportedImage('format detection failed: %s' % exc)
    except Exception as exc:  # the inspector's own bug: refuse the image
        raise _inspector_failed('format detection', exc)
    return str(found) if found is not None else 'raw'


def vet(fobj, size, name):
    """Run oslo.utils' safety checks for ``name``; return the virtual size."""
    inspector = format_inspector.get_inspector(name)()
    offset = 0
    try:
        while not inspector.complete and offset < min(size, VET_LIMIT):
            chunk = read_at(fobj, offset, min(CHUNK, size - offset))
            if not chunk:
                break
            inspector.eat_chunk(chunk)
            offset += len(chunk)
        if inspector.has_region('footer'):
            # streamOptimized VMDK: the footer is the last 1536 bytes.
            inspector.eat_chunk(read_at(fobj, max(0, size - 1536), 1536))
        inspector.finish()
        inspector.safety_check()
        return inspector.virtual_size
    except format_inspector.SafetyCheckFailed as exc:
        reasons = '; '.join('%s: %s' % (key, val)
                            for key, val in sorted(exc.failures.items()))
        raise UnsupportedImage('%s image refused by safety check (%s)'
                               % (name, reasons))
    except format_inspector.ImageFormatError as exc:
        raise UnsupportedImage('%s header could not be vetted: %s'
                               % (name, exc))
    except InspectError:
        raise
    except Exception as exc:  # the inspector's own bug: refuse the image
        raise _inspector_failed('%s header check' % name, exc)


def _inspector_failed(what, exc):
    LOG.debug('format inspector failed', exc_info=True)
    return UnsupportedImage('%s failed: the image is malformed in a way '
                            "oslo.utils' format inspector cannot parse "
                            '(%s: %s)' % (what, type(exc).__name__, exc))


def check_qcow2_header(head, size, max_virtual_size):
    """Refuse qcow2 features that could make us read outside the image."""
    return qcow2.parse_header(head, size, max_virtual_size)


def _open_raw(fobj, size):
    tail = read_at(fobj, size - 512, 512) if size >= 1024 else b''
    if tail[:8] == b'conectix':
        # A fixed VHD is raw data followed by a 512-byte footer.
        return Disk('vhd', size - 512, SubFile(fobj, 0, size - 512), [])
    return Disk('raw', size, fobj, [])


def _open_qcow2(fobj, size, header):
    if header is None:
        raise UnsupportedImage('qcow2 image without the qcow2 magic')
    qcow2.check_l1(fobj, size, header)
    notes = []
    if header.incompatible & qcow2.INCOMPAT_DIRTY:
        notes.append('the qcow2 image is marked dirty (it was not closed '
                     'cleanly); its data is read as it stands')
    return Disk('qcow2', header.virtual_size,
                qcow2.Qcow2File(fobj, size, header), notes)


def _open_vmdk(fobj, size, name):
    import pyvmdk
    handle = pyvmdk.handle()
    _libyal_open(handle, SubFile(fobj, 0, size), name)
    if handle.parent_filename or handle.parent_content_identifier not in (
            None, 0xffffffff):
        raise UnsupportedImage('vmdk image has a parent; refusing it')
    if handle.number_of_extents != 1:
        raise UnsupportedImage('vmdk image with %d extents is not supported'
                               % handle.number_of_extents)
    try:
        handle.open_extent_data_files_as_file_objects(
            [SubFile(fobj, 0, size)])
    except (OSError, IOError) as exc:
        raise UnsupportedImage('cannot open vmdk extent: %s' % exc)
    return Disk(name, handle.media_size,
                LibyalFile(handle, handle.media_size), [])


def _open_vhdi(fobj, size, name):
    import pyvhdi
    image = pyvhdi.file()
    _libyal_open(image, SubFile(fobj, 0, size), name)
    if image.disk_type == pyvhdi.disk_types.DIFFERENTIAL or \
            image.parent_filename:
        raise UnsupportedImage('differencing %s image has a parent; refusing '
                               'it' % name)
    return Disk(name, image.media_size, LibyalFile(image, image.media_size),
                [])


def _libyal_open(obj, fobj, name):
    try:
        obj.open_file_object(fobj)
    except (OSError, IOError) as exc:
        raise UnsupportedImage('cannot open %s image: %s'
                               % (name, _first_line(exc)))


def _first_line(exc):
    return str(exc).split('. ')[0]


class _BytesSource:
    """Minimal read() source for InspectWrapper over an in-memory head."""

    def __init__(self, data):
        self._data = data
        self._pos = 0

    def read(self, size):
        chunk = self._data[self._pos:self._pos + size]
        self._pos += len(chunk)
        return chunk
