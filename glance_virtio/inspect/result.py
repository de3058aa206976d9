"""The inspection result dict: its skeleton and small helpers."""

import logging

LOG = logging.getLogger(__name__)

# Bump when the meaning or shape of a result changes (invalidates caches).
SCHEMA_VERSION = 4

DRIVER_KEYS = ('virtio_blk', 'virtio_scsi', 'virtio_net', 'ide', 'sata')


def new_result():
    return {
        'status': 'ok',
        'error': None,
        'format': None,
        'virtual_size': None,
        'partition_table': 'unknown',
        'firmware': 'unknown',
        'os': {'family': 'unknown', 'distro': None, 'version': None,
               'product_name': None, 'build': None, 'arch': None},
        'drivers': {key: {'state': 'unknown', 'evidence': []}
                    for key in DRIVER_KEYS},
        'linux': None,
        'windows': None,
        'notes': [],
        'bytes_read': 0,
        'seconds': 0.0,
    }


def error_result(message, result=None):
    """Mark ``result`` (or a fresh skeleton) as failed with ``message``."""
    result = result if result is not None else new_result()
    result['status'] = 'error'
    result['error'] = message
    return result


def verdict(state, *evidence):
    return {'state': state, 'evidence': [e for e in evidence if e]}
