"""Fuzz targets: each feeds one input (bytes) to a parser written here.

A target's contract: the parser returns a result or raises the project's
own error type (InspectError); any other exception, a hang or running out
of memory is a crash. The parsers are reached through the same calls the
inspector makes, over an in-memory guest tree instead of a filesystem.
"""

import io
import json
import posixpath

from glance_virtio.inspect import bootconfig
from glance_virtio.inspect import initramfs
from glance_virtio.inspect import kernels
from glance_virtio.inspect import linux
from glance_virtio.inspect import volumes
from glance_virtio.inspect import windows
from glance_virtio.inspect.errors import InspectError
from glance_virtio.inspect.fileobj import SubFile
from glance_virtio.inspect.result import new_result

# Exceptions a parser may raise by contract.
ALLOWED = (InspectError,)
# Decompressed bytes one initramfs input may produce: bounds the work per
# input; the inspector's own cap is larger.
INITRAMFS_MAX_OUTPUT = 16 << 20
KERNEL = '6.1.0-13-amd64'
OTHER_KERNEL = '5.10.0-26-amd64'


class MemoryTree:
    """A guest directory tree held in a dict: path -> bytes or a link."""

    def __init__(self, files=(), links=()):
        self.files = dict(files)
        self.links = dict(links)
        self.dirs = set()
        for path in list(self.files) + list(self.links):
            while path != '/':
                path = posixpath.dirname(path)
                self.dirs.add(path)

    def exists(self, path):
        return path in self.files or path in self.links or \
            path in self.dirs

    def is_dir(self, path):
        return path in self.dirs

    def listdir(self, path):
        prefix = path.rstrip('/') + '/'
        names = set()
        for entry in list(self.files) + list(self.links):
            if entry.startswith(prefix):
                names.add(entry[len(prefix):].split('/')[0])
        return sorted(names)

    def readlink(self, path):
        return self.links.get(path)

    def find(self, path, name):
        lowered = name.lower()
        return next((n for n in self.listdir(path) if n.lower() == lowered),
                    None)

    def size(self, path):
        data = self.files.get(path)
        return None if data is None else len(data)

    def open(self, path):
        data = self.files.get(path)
        if data is None:
            return None
        return SubFile(io.BytesIO(data), 0, len(data))

    def read(self, path, limit=1 << 20):
        data = self.files.get(path)
        return None if data is None else data[:limit]

    def read_text(self, path, limit=1 << 20):
        data = self.read(path, limit)
        return None if data is None else data.decode('utf-8', 'replace')


class NtfsTree(MemoryTree):
    """A Windows volume: what windows.inspect_windows reads of it."""

    kind = 'ntfs'
    name = 'p1'


def _boot_files(**extra):
    files = {'/boot/vmlinuz-' + KERNEL: b'kernel',
             '/boot/vmlinuz-' + OTHER_KERNEL: b'kernel',
             '/boot/initrd.img-' + KERNEL: b'',
             '/lib/modules/%s/modules.dep' % KERNEL: b''}
    files.update(extra)
    return files


def _kernel_list(tree):
    notes = []
    found, source, devices = kernels.kernel_list(tree, notes)
    assert isinstance(found, list) and isinstance(devices, list)
    return found, source


def target_initramfs(data):
    """cpio newc listing, uncompressed or gzip/xz/lzma/bzip2/zstd/lz4."""
    for want in ((), kernels.EARLY_STOP_MODULES):
        listing = initramfs.list_members(io.BytesIO(data), len(data),
                                         want=want,
                                         max_output=INITRAMFS_MAX_OUTPUT)
        assert isinstance(listing.members, list)
        assert listing.error is None or not listing.complete
        for member in listing.members:
            initramfs.module_name(member)


def target_os_release(data):
    """/etc/os-release, and the same text as redhat-release, debian_version."""
    for path in ('/etc/os-release', '/etc/redhat-release',
                 '/etc/SuSE-release', '/etc/debian_version'):
        info = linux.release(MemoryTree({path: data}))
        assert set(info) == {'distro', 'version', 'product_name'}


def target_fstab(data):
    """/etc/fstab device names."""
    devices = linux.fstab_devices(data.decode('utf-8', 'replace'))
    assert all(isinstance(d, str) for d in devices)


def target_grub_cfg(data):
    """grub.cfg menu parsing, default selection and the kernel it picks."""
    text = data.decode('utf-8', 'replace')
    default, items, _blscfg = bootconfig.parse_grub_cfg(text)
    for saved in (None, '0', '1>0', 'gnulinux-advanced>gnulinux-6.1.0'):
        bootconfig.select_entry(default, items, saved)
    list(bootconfig.all_entries(items))
    _kernel_list(MemoryTree(_boot_files(**{'/boot/grub/grub.cfg': data})))


def target_grubenv(data):
    """grubenv: saved_entry and kernelopts."""
    bootconfig.parse_grubenv(data.decode('utf-8', 'replace'))
    _kernel_list(MemoryTree(_boot_files(**{
        '/boot/grub2/grubenv': data,
        '/boot/loader/entries/a.conf': b'version %s\n' % KERNEL.encode()})))


def target_bls(data):
    """A Boot Loader Specification entry, alone and beside a real one."""
    bootconfig.parse_bls(data.decode('utf-8', 'replace'))
    for other in (None, b'version %s\nlinux /vmlinuz-%s\n' % (
            (OTHER_KERNEL.encode(),) * 2)):
        files = _boot_files(**{'/boot/loader/entries/fuzz.conf': data})
        if other is not None:
            files['/boot/loader/entries/other.conf'] = other
        _kernel_list(MemoryTree(files))


def target_kernel_config(data):
    """/boot/config-VERSION: which drivers are built in."""
    tree = MemoryTree({'/boot/config-' + KERNEL: data})
    kernels.module_states(tree, KERNEL, None)
    kernels.module_states(tree, KERNEL, '/lib/modules/' + KERNEL)


def target_modules_builtin(data):
    """modules.builtin and modules.dep of a kernel's module directory."""
    base = '/lib/modules/' + KERNEL
    for name in ('modules.builtin', 'modules.dep'):
        tree = MemoryTree({'%s/%s' % (base, name): data})
        kernels.module_states(tree, KERNEL, base)


def target_mbr(data):
    """MBR and the chain of extended boot records, on a disk of the input."""
    notes = []
    disk = SubFile(io.BytesIO(data), 0, len(data))
    for volume in volumes._mbr(disk, len(data), notes) or ():
        assert 0 < volume.offset and 0 < volume.size and \
            volume.offset + volume.size <= len(data), volume
    volumes._scan_table(disk, len(data), notes)


def target_hive(data):
    """The SYSTEM/SOFTWARE hive walkers over libregf (same bytes as both)."""
    config = windows.CONFIG_DIR
    fs = NtfsTree({config + '/SYSTEM': data, config + '/SOFTWARE': data,
                   windows.DRIVERS_DIR + '/viostor.sys': b'MZ'})
    result = new_result()
    windows.inspect_windows(fs, result)
    json.dumps(result)


TARGETS = {name[len('target_'):]: func for name, func in globals().items()
           if name.startswith('target_')}


def run(name, data):
    """Run target ``name`` on ``data``; the allowed errors are swallowed."""
    try:
        TARGETS[name](data)
    except ALLOWED:
        pass
