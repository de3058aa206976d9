"""Guest inspection: prove OS and virtio driver readiness of a disk image.

Reads the image through a seekable file object (in production a RangeFile
over HTTP Range requests to Glance); nothing is mounted and the image is
not downloaded whole.
"""

from glance_virtio.inspect.cache import ResultCache
from glance_virtio.inspect.core import inspect_file
from glance_virtio.inspect.errors import InspectError
from glance_virtio.inspect.errors import ReadLimitExceeded
from glance_virtio.inspect.errors import UnsupportedImage
from glance_virtio.inspect.isolate import inspect_isolated
from glance_virtio.inspect.rangefile import RangeFile
from glance_virtio.inspect.result import SCHEMA_VERSION

__all__ = ['InspectError', 'RangeFile', 'ReadLimitExceeded', 'ResultCache',
           'SCHEMA_VERSION', 'UnsupportedImage', 'inspect_file',
           'inspect_isolated']
