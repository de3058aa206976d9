"""Helpers shared by the inspection tests."""

import json
import os

from glance_virtio.inspect import RangeFile
from glance_virtio.inspect import inspect_file


def range_file(path, block_size=64 << 10, max_read=None):
    """A RangeFile over a local file, as production wraps Glance."""
    handle = open(path, 'rb')

    def fetch(offset, length):
        handle.seek(offset)
        return handle.read(length)
    return RangeFile(fetch, os.path.getsize(path), block_size=block_size,
                     max_read=max_read)


def inspect_path(path, **kwargs):
    result = inspect_file(range_file(path), **kwargs)
    json.dumps(result)  # must be JSON-serialisable
    return result


def states(result):
    return {key: value['state'] for key, value in result['drivers'].items()}


def boot_evidence(result):
    """The boot loader line all driver verdicts end with (one line)."""
    lines = {value['evidence'][-1] for value in result['drivers'].values()}
    assert len(lines) == 1, lines
    line = lines.pop()
    assert ' is the boot loader\'s default: ' in line or \
        ' is the default: ' in line, line
    return line


def own_evidence(result, key):
    """A driver's evidence without the boot loader line that ends it."""
    boot_evidence(result)
    return result['drivers'][key]['evidence'][:-1]
