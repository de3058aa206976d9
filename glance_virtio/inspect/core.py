"""Inspect a disk image given as a seekable file object."""

import logging
import os
import time

from glance_virtio.inspect import blockdev
from glance_virtio.inspect import filesystems
from glance_virtio.inspect import linux
from glance_virtio.inspect import volumes
from glance_virtio.inspect import windows
from glance_virtio.inspect.errors import InspectError
from glance_virtio.inspect.errors import ReadLimitExceeded
from glance_virtio.inspect.fileobj import ReadError
from glance_virtio.inspect.qcow2 import Qcow2File
from glance_virtio.inspect.rangefile import RangeFile
from glance_virtio.inspect.rangefile import file_fetch
from glance_virtio.inspect.result import error_result
from glance_virtio.inspect.result import new_result
from glance_virtio.inspect.result import verdict

LOG = logging.getLogger(__name__)

# Volumes whose content is expected not to be a filesystem: no note.
QUIET_KINDS = ('swap', 'empty')
QUIET_HINTS = (volumes.GPT_BIOS_BOOT,
               'e3c9e316-0b5c-4db8-817d-f92df00215ae',  # Microsoft reserved
               'de94bba4-06d1-4d40-a16a-bfd50179d6ac')  # Windows recovery


def inspect_file(fobj, max_read=None,
                 max_virtual_size=blockdev.MAX_VIRTUAL_SIZE):
    """Inspect the disk image in ``fobj``; return the result dict.

    ``fobj`` is a RangeFile or any seekable binary file. Errors are reported
    in the result (status "error"), never raised.
    """
    started = time.monotonic()
    result = new_result()
    source = None
    state = {}
    try:
        source = _as_rangefile(fobj, max_read)
        _inspect(source, result, max_virtual_size, state)
    except ReadLimitExceeded as exc:
        error_result(str(exc), result)
    except InspectError as exc:
        error_result(str(exc), result)
        if isinstance(exc, ReadError):
            state['read_error'] = str(exc)
    except MemoryError:
        error_result('out of memory while inspecting', result)
    except Exception as exc:  # a bug or a library error: report, not raise
        # The traceback is for --debug; the operator gets the message.
        LOG.debug('inspection failed', exc_info=True)
        error_result('internal error: %s: %s' % (type(exc).__name__, exc),
                     result)
    fetch_error = getattr(source, 'fetch_error', None)
    if fetch_error and fetch_error != result['error']:
        # The root cause: what a library made of the failed read is a note.
        if result['error']:
            result['notes'].append(result['error'])
        error_result(fetch_error, result)
    disk_error = _disk_error(state.get('disk'), result['format']) or \
        _volume_error(state.get('volumes', ()))
    if disk_error and disk_error != result['error'] and not fetch_error \
            and source is not None and not source.limit_exceeded:
        # The root cause: what a library made of the failed read is a note.
        if result['error'] and result['error'] != state.get('read_error'):
            result['notes'].append(result['error'])
        error_result(disk_error, result)
    if source is not None:
        truncated = source.past_end is not None and \
            result['format'] not in (None, 'raw')
        if truncated and result['status'] == 'ok':
            error_result('the %s image is truncated: a read at offset %d is '
                         'past its end (%d bytes)' % (
                             result['format'], source.past_end, source.size),
                         result)
        if source.limit_exceeded and result['status'] == 'ok':
            error_result('read limit of %d bytes reached; the result is '
                         'incomplete' % source.max_read, result)
        elif source.limit_exceeded:
            result['notes'].append('read limit of %d bytes reached'
                                   % source.max_read)
        result['bytes_read'] = source.bytes_fetched
    if result['status'] == 'error':
        for entry in result['drivers'].values():
            if not entry['evidence']:
                entry['evidence'].append('not inspected: %s'
                                         % result['error'])
    result['seconds'] = round(time.monotonic() - started, 3)
    return result


def _disk_error(disk, fmt):
    """The first failed read of the guest disk, as an error message."""
    error = getattr(disk, 'error', None)
    if error is None:
        return None
    offset, message = error
    if isinstance(disk, Qcow2File):
        return message
    return ('the %s image is corrupt or truncated: reading guest offset %d '
            'failed (%s)' % (fmt, offset, message))


def _volume_error(opened):
    """The first failed read of a volume whose filesystem was inspected."""
    for volume in opened:
        error = getattr(volume.fobj, 'error', None)
        if error is not None:
            return ('%s: reading the volume at offset %d failed (%s): what '
                    'was found on it cannot be trusted'
                    % (volume.name, error[0], error[1]))
    return None


def _first_line(exc):
    return str(exc).split('. ')[0]


def _as_rangefile(fobj, max_read):
    if isinstance(fobj, RangeFile):
        if max_read is not None:
            fobj.max_read = max_read
        return fobj
    size = fobj.seek(0, os.SEEK_END)
    return RangeFile(file_fetch(fobj), size, max_read=max_read)


def _inspect(source, result, max_virtual_size, state):
    notes = result['notes']
    disk = blockdev.open_disk(source, source.size, max_virtual_size)
    state['disk'] = disk.fobj
    result['format'] = disk.format
    result['virtual_size'] = disk.virtual_size
    notes.extend(disk.notes)
    layout = volumes.scan(disk.fobj, disk.virtual_size, notes)
    result['partition_table'] = layout.partition_table
    opened, blocked = [], []
    state['volumes'] = []
    for volume in layout.volumes:
        try:
            kind = filesystems.probe(volume.fobj)
        except (OSError, IOError) as exc:
            # A library volume (an LVM LV) whose data cannot be read: this
            # volume is lost, the others are still inspected.
            notes.append('%s: unreadable volume: %s'
                         % (volume.name, _first_line(exc)))
            continue
        if kind in filesystems.SUPPORTED:
            try:
                opened.append(filesystems.open_fs(volume.fobj, kind,
                                                  volume.name))
                state['volumes'].append(volume)
            except InspectError as exc:
                notes.append(str(exc))
            continue
        if kind in ('luks', 'bitlocker'):
            blocked.append(volume.name)
        if kind not in QUIET_KINDS and volume.hint not in QUIET_HINTS:
            notes.append('%s: %s' % (volume.name,
                                     filesystems.DESCRIPTIONS[kind]))
    remaining = None
    if source.max_read is not None:
        remaining = source.max_read - source.bytes_fetched

    system = next((fs for fs in opened if windows.is_windows(fs)), None)
    if system is not None:
        windows.inspect_windows(system, result)
        result['firmware'] = _firmware_windows(layout)
        return
    root = linux.find_root(opened)
    if root is not None:
        esp_names = [v.name for v in layout.volumes
                     if v.hint in (volumes.GPT_ESP, volumes.MBR_ESP)]
        linux.inspect_linux(root, opened, result, remaining, esp_names)
        result['firmware'] = _firmware_linux(layout, notes)
        return
    reason = 'no operating system found'
    if blocked:
        reason += ' (encrypted volumes: %s)' % ', '.join(blocked)
    notes.append(reason)
    for key in result['drivers']:
        result['drivers'][key] = verdict('unknown', reason)


def _firmware_windows(layout):
    firmware = {'gpt': 'uefi', 'mbr': 'bios'}
    return firmware.get(layout.partition_table, 'unknown')


def _firmware_linux(layout, notes):
    if layout.partition_table == 'gpt':
        if layout.bios_boot:
            if layout.esp:
                notes.append('the disk has both a BIOS boot partition and '
                             'an EFI system partition: BIOS and UEFI boot')
            return 'bios'
        return 'uefi' if layout.esp else 'unknown'
    if layout.partition_table == 'mbr':
        return 'uefi' if layout.esp else 'bios'
    return 'unknown'
