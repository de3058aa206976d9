"""Recognise filesystems by their magic and read files through libyal.

Nothing is mounted: ext2/3/4 through libfsext, XFS through libfsxfs, NTFS
through libfsntfs and FAT through libfsfat, all over Python file objects.
"""

import logging
import stat

from glance_virtio.inspect.errors import InspectError
from glance_virtio.inspect.fileobj import LibyalFile
from glance_virtio.inspect.fileobj import read_at

LOG = logging.getLogger(__name__)

SMALL_FILE_LIMIT = 8 << 20
MAX_DIR_ENTRIES = 20000
MAX_SYMLINK_HOPS = 40
# Parts walked to resolve one path, symlink targets included. PATH_MAX
# (4096) allows about 2048 parts in one path.
MAX_PATH_PARTS = 4096

SUPPORTED = ('ext', 'xfs', 'ntfs', 'fat')

DESCRIPTIONS = {
    'luks': 'LUKS-encrypted volume (cannot be read without the key)',
    'bitlocker': 'BitLocker-encrypted volume (cannot be read without the '
                 'key)',
    'swap': 'Linux swap space',
    'btrfs': 'btrfs filesystem (not supported)',
    'exfat': 'exFAT filesystem (not supported)',
    'lvm': 'LVM physical volume',
    'empty': 'empty (all zero) volume',
    'unknown': 'unrecognised content (unknown filesystem)',
}


def probe(fobj):
    """Name the filesystem or container found at the start of ``fobj``."""
    head = read_at(fobj, 0, 0x10048)
    if not head.strip(b'\0'):
        return 'empty'
    if head[:6] == b'LUKS\xba\xbe':
        return 'luks'
    if head[3:11] == b'-FVE-FS-':
        return 'bitlocker'
    if head[3:11] == b'NTFS    ':
        return 'ntfs'
    if head[3:11] == b'EXFAT   ':
        return 'exfat'
    if head[:4] == b'XFSB':
        return 'xfs'
    if head[1080:1082] == b'\x53\xef':
        return 'ext'
    for sector in range(4):
        label = head[sector * 512:sector * 512 + 32]
        if label[:8] == b'LABELONE' and label[24:32] == b'LVM2 001':
            return 'lvm'
    fat_label = head[54:59] in (b'FAT12', b'FAT16', b'FAT  ') or \
        head[82:87] == b'FAT32'
    if head[510:512] == b'\x55\xaa' and fat_label:
        return 'fat'
    if head[4086:4096] in (b'SWAPSPACE2', b'SWAP-SPACE'):
        return 'swap'
    if head[0x10040:0x10048] == b'_BHRfS_M':
        return 'btrfs'
    return 'unknown'


def open_fs(fobj, kind, name):
    """Open a supported filesystem; raise InspectError when it fails."""
    if kind == 'ext':
        import pyfsext as lib
    elif kind == 'xfs':
        import pyfsxfs as lib
    elif kind == 'ntfs':
        import pyfsntfs as lib
    elif kind == 'fat':
        import pyfsfat as lib
    else:
        raise InspectError('%s: %s' % (name, DESCRIPTIONS.get(kind, kind)))
    volume = lib.volume()
    try:
        volume.open_file_object(fobj)
    except (OSError, IOError) as exc:
        raise InspectError('%s: cannot open %s filesystem: %s'
                           % (name, kind, str(exc).split('. ')[0]))
    fs = FileSystem(kind, volume, name)
    if kind == 'fat':
        fs.serial = fat_serial(read_at(fobj, 0, 90))
    return fs


def fat_serial(boot_sector):
    """The volume serial fstab names as UUID=XXXX-XXXX, or None."""
    offset = 67 if boot_sector[82:87] == b'FAT32' else 39
    raw = boot_sector[offset:offset + 4]
    if len(raw) < 4:
        return None
    serial = int.from_bytes(raw, 'little')
    return '%04X-%04X' % (serial >> 16, serial & 0xffff)


class FileSystem:
    """Read-only path access to one filesystem, following symlinks.

    ``lookups`` counts the library calls made to resolve paths; ``notes``
    says where a cap on the work was reached.
    """

    def __init__(self, kind, volume, name):
        self.kind = kind
        self.volume = volume
        self.name = name
        self._windows = kind in ('ntfs', 'fat')
        self.lookups = 0
        self.parts_looked_up = 0
        self.notes = []
        # The volume serial of a FAT filesystem (fstab's UUID=).
        self.serial = None
        # Directory listings already read: /boot is listed several times.
        self._listings = {}

    def __repr__(self):
        return '<FileSystem %s %s>' % (self.kind, self.name)

    def _note(self, message):
        message = '%s: %s' % (self.name, message)
        if message not in self.notes:
            LOG.debug('%s', message)
            self.notes.append(message)

    def _lookup(self, parts):
        """The entry at the path made of ``parts`` (no symlink followed)."""
        self.lookups += 1
        self.parts_looked_up += len(parts)
        if self._windows:
            path = '\\' + '\\'.join(parts)
        else:
            path = '/' + '/'.join(parts)
        try:
            if not parts:
                if self.kind == 'ntfs':
                    return self.volume.get_root_directory()
                return self.volume.root_directory
            return self.volume.get_file_entry_by_path(path)
        except (OSError, IOError) as exc:
            LOG.debug('%s: lookup of %s failed: %s', self.name, path, exc)
            return None

    def _longest(self, real, run):
        """(entry, n): the deepest entry found at real + run[:n], n >= 1.

        The library follows no symlink, so a path is found only when every
        directory before its last part is a real directory: one lookup
        for the whole run, else a binary search for where it stops.
        (None, 0) when run[0] itself is not in ``real``.
        """
        entry = self._lookup(real + run)
        if entry is not None:
            return entry, len(run)
        found, low, high = None, 0, len(run)
        while high - low > 1:
            middle = (low + high) // 2
            entry = self._lookup(real + run[:middle])
            if entry is None:
                high = middle
            else:
                found, low = entry, middle
        return found, low

    def _is_link(self, entry):
        if self._windows:
            return False
        return stat.S_ISLNK(entry.file_mode or 0)

    def entry(self, path, follow=True):
        """The libyal file entry at ``path`` or None.

        Runs of plain names are looked up in one call, not part by part
        from the root; the parts walked (symlink targets included) are
        capped.
        """
        todo = [p for p in path.replace('\\', '/').split('/') if p]
        todo.reverse()
        real = []
        # The entry at ``real`` once known.
        current = None
        hops = walked = 0
        while todo:
            if walked > MAX_PATH_PARTS:
                self._note('resolving %s took more than %d path parts; '
                           'treated as missing' % (path[:200],
                                                   MAX_PATH_PARTS))
                return None
            name = todo.pop()
            walked += 1
            if name in ('.', '..'):
                if name == '..' and real:
                    real.pop()
                    current = None
                continue
            run = [name]
            while todo and todo[-1] not in ('.', '..') and \
                    walked < MAX_PATH_PARTS:
                run.append(todo.pop())
                walked += 1
            entry, used = self._longest(real, run)
            if entry is None:
                return None
            link = self._is_link(entry)
            if used == len(run) and (not link or not (todo or follow)):
                real.extend(run)
                current = entry
                continue
            if not link:
                return None
            hops += 1
            if hops > MAX_SYMLINK_HOPS:
                return None
            target = entry.symbolic_link_target or ''
            real.extend(run[:used - 1])
            if target.startswith('/'):
                real = []
            current = None
            todo.extend(reversed(run[used:]))
            todo.extend(reversed([p for p in target.split('/') if p]))
        return current if current is not None else self._lookup(real)

    def exists(self, path):
        return self.entry(path) is not None

    def is_dir(self, path):
        entry = self.entry(path)
        return entry is not None and self._entry_is_dir(entry)

    def _entry_is_dir(self, entry):
        if self.kind == 'ntfs':
            return entry.has_directory_entries_index()
        if self.kind == 'fat':
            return bool(entry.file_attribute_flags & 0x10)
        return stat.S_ISDIR(entry.file_mode or 0)

    def readlink(self, path):
        """The target of the symlink at ``path`` or None."""
        entry = self.entry(path, follow=False)
        if entry is None or not self._is_link(entry):
            return None
        return entry.symbolic_link_target

    def listdir(self, path):
        """Names in the directory at ``path`` (empty when not a dir)."""
        if path not in self._listings:
            self._listings[path] = self._list(path)
        return list(self._listings[path])

    def _list(self, path):
        entry = self.entry(path)
        if entry is None or not self._entry_is_dir(entry):
            return []
        names = []
        seen = set()
        try:
            for index, sub in enumerate(entry.sub_file_entries):
                if index >= MAX_DIR_ENTRIES:
                    self._note('%s has more than %d entries; only the '
                               'first %d are read' % (
                                   path, MAX_DIR_ENTRIES, MAX_DIR_ENTRIES))
                    break
                name = sub.name
                if name and name not in ('.', '..') and name not in seen:
                    seen.add(name)
                    names.append(name)
        except (OSError, IOError) as exc:
            LOG.debug('%s: listing %s failed: %s', self.name, path, exc)
        return names

    def find(self, path, name):
        """The real spelling of ``name`` in directory ``path``, any case."""
        lowered = name.lower()
        for candidate in self.listdir(path):
            if candidate.lower() == lowered:
                return candidate
        return None

    def size(self, path):
        entry = self.entry(path)
        return None if entry is None else entry.size

    def open(self, path):
        """A file object for the regular file at ``path`` or None."""
        entry = self.entry(path)
        if entry is None or self._entry_is_dir(entry):
            return None
        return LibyalFile(entry, entry.size or 0)

    def read(self, path, limit=SMALL_FILE_LIMIT):
        """The first ``limit`` bytes of the file at ``path`` or None."""
        fobj = self.open(path)
        if fobj is None:
            return None
        try:
            return fobj.read_at(0, min(fobj.size, limit))
        except (OSError, IOError) as exc:
            LOG.debug('%s: reading %s failed: %s', self.name, path, exc)
            return None

    def read_text(self, path, limit=SMALL_FILE_LIMIT):
        data = self.read(path, limit)
        return None if data is None else data.decode('utf-8', 'replace')
