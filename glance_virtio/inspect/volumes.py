"""Find the volumes of a disk: GPT (libvsgpt), MBR (by hand), LVM (libvslvm).

Each volume is a file-like window on the disk, so filesystems can be
opened on it without copying anything.
"""

import collections
import logging
import struct

from glance_virtio.inspect import filesystems
from glance_virtio.inspect.fileobj import LibyalFile
from glance_virtio.inspect.fileobj import SubFile
from glance_virtio.inspect.fileobj import read_at

LOG = logging.getLogger(__name__)

SECTOR = 512
MAX_LOGICAL = 128
EXTENDED_TYPES = (0x05, 0x0f, 0x85)

GPT_ESP = 'c12a7328-f81f-11d2-ba4b-00a0c93ec93b'
GPT_BIOS_BOOT = '21686148-6449-6e6f-744e-656564454649'
MBR_ESP = 0xef

# name: human label used in notes ("p1", "p2/vg/root"); kind: "disk",
# "partition" or "lv"; hint: GPT type GUID or MBR type byte.
Volume = collections.namedtuple('Volume', 'name fobj offset size kind hint')
Layout = collections.namedtuple('Layout', 'partition_table volumes esp '
                                          'bios_boot')


def scan(disk, size, notes):
    """Return the Layout of ``disk`` (a file object of ``size`` bytes)."""
    layout = _scan_table(disk, size, notes)
    volumes = []
    for volume in layout.volumes:
        if filesystems.probe(volume.fobj) == 'lvm':
            volumes.extend(_lvm_volumes(volume, notes))
        else:
            volumes.append(volume)
    return layout._replace(volumes=volumes)


def _scan_table(disk, size, notes):
    # The GPT header is in LBA 1: offset 512, or 4096 on 4K-sector disks.
    if b'EFI PART' in (read_at(disk, SECTOR, 8), read_at(disk, 4096, 8)):
        layout = _gpt(disk, size, notes)
        if layout is not None:
            return layout
    whole = Volume('disk', disk, 0, size, 'disk', None)
    kind = filesystems.probe(disk)
    if kind == 'empty':
        notes.append('the start of the disk is all zeros (empty image?)')
        return Layout('none', [], False, False)
    if kind != 'unknown':
        return Layout('none', [whole], False, False)
    parts = _mbr(disk, size, notes)
    if parts is None:
        notes.append('no partition table or filesystem recognised on the '
                     'disk')
        return Layout('unknown', [], False, False)
    if any(p.hint == 0xee for p in parts):
        notes.append('protective MBR found but no readable GPT')
    volumes = [p for p in parts if p.hint != 0xee]
    esp = any(p.hint == MBR_ESP for p in volumes)
    return Layout('mbr', volumes, esp, False)


def _gpt(disk, size, notes):
    import pyvsgpt
    table = pyvsgpt.volume()
    try:
        table.open_file_object(SubFile(disk, 0, size))
    except (OSError, IOError) as exc:
        notes.append('GPT signature found but the table is unreadable: %s'
                     % str(exc).split('. ')[0])
        return None
    volumes = []
    for part in table.partitions:
        hint = (part.type_identifier or '').lower()
        offset, length = part.volume_offset, part.size
        if offset + length > size:
            notes.append('GPT partition %d extends past the end of the '
                         'disk' % (part.entry_index + 1))
            length = max(0, size - offset)
        volumes.append(Volume('p%d' % (part.entry_index + 1),
                              SubFile(disk, offset, length), offset, length,
                              'partition', hint))
    return Layout('gpt', volumes, any(v.hint == GPT_ESP for v in volumes),
                  any(v.hint == GPT_BIOS_BOOT for v in volumes))


def _mbr_entries(sector):
    """The four (boot, type, lba, count) entries or None if not an MBR."""
    if len(sector) < SECTOR or sector[510:512] != b'\x55\xaa':
        return None
    entries = []
    for index in range(4):
        raw = sector[446 + 16 * index:462 + 16 * index]
        boot, ptype = raw[0], raw[4]
        lba, count = struct.unpack_from('<II', raw, 8)
        if boot not in (0, 0x80):
            return None
        entries.append((boot, ptype, lba, count))
    return entries


def _mbr(disk, size, notes):
    entries = _mbr_entries(read_at(disk, 0, SECTOR))
    if entries is None:
        return None
    sectors = size // SECTOR
    parts = []
    for index, (_boot, ptype, lba, count) in enumerate(entries):
        if ptype == 0 or count == 0:
            continue
        if lba == 0 or lba >= sectors:
            notes.append('MBR partition %d starts outside the disk'
                         % (index + 1))
            continue
        if ptype in EXTENDED_TYPES:
            parts.extend(_logical(disk, lba, min(count, sectors - lba),
                                  sectors, notes))
            continue
        parts.append(_part(disk, 'p%d' % (index + 1), lba, count, sectors,
                           ptype, notes))
    return parts if parts or any(e[1] for e in entries) else None


def _logical(disk, ext_start, ext_count, sectors, notes):
    """Walk the chain of extended boot records; number them from p5."""
    parts = []
    ebr = ext_start
    seen = set()
    number = 4
    while ebr and len(seen) < MAX_LOGICAL:
        if ebr in seen or not ext_start <= ebr < ext_start + ext_count:
            notes.append('extended partition chain is broken or loops')
            break
        seen.add(ebr)
        entries = _mbr_entries(read_at(disk, ebr * SECTOR, SECTOR))
        if entries is None:
            notes.append('invalid extended boot record at sector %d' % ebr)
            break
        _b, ptype, lba, count = entries[0]
        if ptype and count:
            number += 1
            if ebr + lba >= sectors:
                notes.append('logical partition p%d starts outside the '
                             'disk' % number)
            else:
                parts.append(_part(disk, 'p%d' % number, ebr + lba, count,
                                   sectors, ptype, notes))
        _b, next_type, next_lba, _c = entries[1]
        ebr = ext_start + next_lba if next_type in EXTENDED_TYPES and \
            next_lba else 0
    return parts


def _part(disk, name, lba, count, sectors, ptype, notes):
    if lba + count > sectors:
        notes.append('partition %s extends past the end of the disk' % name)
        count = sectors - lba
    offset, length = lba * SECTOR, count * SECTOR
    return Volume(name, SubFile(disk, offset, length), offset, length,
                  'partition', ptype)


def _lvm_volumes(pv, notes):
    import pyvslvm
    handle = pyvslvm.handle()
    try:
        handle.open_file_object(SubFile(pv.fobj, 0, pv.size))
        handle.open_physical_volume_files_as_file_objects(
            [SubFile(pv.fobj, 0, pv.size)])
        group = handle.get_volume_group()
    except (OSError, IOError) as exc:
        notes.append('%s: LVM physical volume is unreadable: %s'
                     % (pv.name, str(exc).split('. ')[0]))
        return []
    if group.number_of_physical_volumes > 1:
        notes.append('%s: volume group %s spans %d physical volumes; only '
                     'this disk is read' % (pv.name, group.name,
                                            group.number_of_physical_volumes))
    volumes = []
    for index in range(group.number_of_logical_volumes):
        try:
            lv = group.get_logical_volume(index)
        except (OSError, IOError) as exc:
            # libvslvm cannot open some LVs (several segments on one PV).
            notes.append('%s: volume group %s: logical volume %d cannot be '
                         'opened: %s' % (pv.name, group.name, index + 1,
                                         '. '.join(str(exc).split('. ')[:2])))
            continue
        name = '%s/%s/%s' % (pv.name, group.name, lv.name)
        try:
            size = lv.size
            # Its first and last sectors: an LV mapped to extents that are
            # not on this disk fails here and is left out with a note.
            lv.read_buffer_at_offset(min(size, SECTOR), 0)
            lv.read_buffer_at_offset(min(size, SECTOR),
                                     max(0, size - SECTOR))
            volumes.append(Volume(name, LibyalFile(lv, size), None, size,
                                  'lv', None))
        except (OSError, IOError) as exc:
            notes.append('%s: logical volume unreadable (are its extents '
                         'on another disk?): %s'
                         % (name, str(exc).split('. ')[0]))
    return volumes
