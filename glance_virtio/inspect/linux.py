"""Find a Linux guest's release, kernels and virtio driver readiness."""

import logging
import re

from glance_virtio.inspect import bootconfig
from glance_virtio.inspect import kernels as kernel_info
from glance_virtio.inspect.filesystems import SMALL_FILE_LIMIT
from glance_virtio.inspect.result import verdict

LOG = logging.getLogger(__name__)

ESP_MOUNTS = ('/boot/efi', '/boot/efi/', '/efi', '/boot')
FAT_TYPES = ('vfat', 'msdos', 'fat', 'umsdos', 'auto')

ELF_MACHINES = {0x03: 'i686', 0x3e: 'x86_64', 0xb7: 'aarch64',
                0x28: 'armv7l', 0x15: 'ppc64le', 0x16: 's390x',
                0xf3: 'riscv64'}


def find_root(filesystems):
    """The filesystem that holds a Linux root, or None."""
    for fs in filesystems:
        if fs.kind not in ('ext', 'xfs') or not fs.is_dir('/etc'):
            continue
        if any(fs.exists(path) for path in ('/etc/os-release', '/etc/fstab',
                                            '/etc/redhat-release')):
            return fs
    return None


def find_boot(root, filesystems):
    """The filesystem mounted on /boot: the root itself or a separate one."""
    if _kernels_in(root, '/boot'):
        return None
    for fs in filesystems:
        if fs is not root and fs.kind in ('ext', 'xfs') and (
                _kernels_in(fs, '/') or fs.is_dir('/loader/entries')):
            return fs
    return None


def _kernels_in(fs, path):
    return any(bootconfig.kernel_version(name) for name in fs.listdir(path))


def find_esp(tree, filesystems, esp_names, notes):
    """(mount point, filesystem) of the EFI system partition, or None.

    fstab's /boot/efi (or /efi, or a FAT /boot) entry names it: its
    UUID= is the FAT volume serial. Without a match, the one FAT
    filesystem on a partition of the ESP type, mounted where fstab says
    (else /boot/efi).
    """
    fat = [fs for fs in filesystems if fs.kind == 'fat']
    if not fat:
        return None
    mount, device = None, None
    for line in (tree.read_text('/etc/fstab') or '').splitlines():
        fields = line.split()
        if len(fields) >= 3 and not fields[0].startswith('#') and \
                fields[1] in ESP_MOUNTS and fields[2] in FAT_TYPES:
            mount, device = fields[1].rstrip('/'), fields[0]
            break
    if device and device.upper().startswith('UUID='):
        serial = device[5:].strip('"').upper()
        found = [fs for fs in fat if fs.serial == serial]
        if len(found) == 1:
            return mount, found[0]
    esp = [fs for fs in fat if fs.name in esp_names]
    if len(esp) == 1:
        return mount or '/boot/efi', esp[0]
    if len(esp) > 1:
        notes.append('%d EFI system partitions and none named by fstab: '
                     'their boot loader files are not read' % len(esp))
    return None


class Tree:
    """The guest's directory tree: root filesystem plus mounts.

    A separate /boot and the EFI system partition (``esp_mount``) are
    mounted where the guest mounts them.
    """

    def __init__(self, root, boot=None):
        self.root = root
        self.boot = boot
        self.esp_mount = None
        self.mounts = [('/boot', boot)] if boot is not None else []

    def mount(self, point, fs):
        self.mounts.append((point, fs))
        self.mounts.sort(key=lambda item: len(item[0]), reverse=True)

    def mount_of(self, path):
        """The mount point of the filesystem holding ``path`` ('' for /)."""
        for point, _fs in self.mounts:
            if path == point or path.startswith(point + '/'):
                return point
        return ''

    def _map(self, path):
        for point, fs in self.mounts:
            if path == point or path.startswith(point + '/'):
                return fs, path[len(point):] or '/'
        return self.root, path

    def exists(self, path):
        fs, real = self._map(path)
        return fs.exists(real)

    def is_dir(self, path):
        fs, real = self._map(path)
        return fs.is_dir(real)

    def listdir(self, path):
        fs, real = self._map(path)
        return fs.listdir(real)

    def readlink(self, path):
        fs, real = self._map(path)
        return fs.readlink(real)

    def open(self, path):
        fs, real = self._map(path)
        return fs.open(real)

    def size(self, path):
        fs, real = self._map(path)
        return fs.size(real)

    def read(self, path, limit=SMALL_FILE_LIMIT):
        fs, real = self._map(path)
        return fs.read(real, limit)

    def read_text(self, path, limit=SMALL_FILE_LIMIT):
        fs, real = self._map(path)
        return fs.read_text(real, limit)


def inspect_linux(root, filesystems, result, max_initramfs_read,
                  esp_names=()):
    boot = find_boot(root, filesystems)
    tree = Tree(root, boot)
    notes = result['notes']
    if boot is not None:
        notes.append('/boot is the separate filesystem %s' % boot.name)
    esp = find_esp(tree, filesystems, esp_names, notes)
    if esp is not None and not (esp[0] == '/boot' and boot is not None):
        tree.mount(*esp)
        tree.esp_mount = esp[0]
    result['os'].update(release(tree))
    result['os']['family'] = 'linux'
    result['os']['arch'] = elf_arch(tree)

    fstab = fstab_devices(tree.read_text('/etc/fstab') or '')
    kernels, default_source, boot_devices = kernel_info.kernel_list(
        tree, notes)
    linux = {'kernels': kernels, 'fstab_devices': fstab,
             'boot_devices': boot_devices}
    names = fstab + boot_devices
    linux['uses_vd_names'] = any(re.match(r'/dev/vd[a-z]', n) for n in names)
    linux['uses_sd_names'] = any(re.match(r'/dev/sd[a-z]', n) for n in names)
    result['linux'] = linux
    default = next((k for k in kernels if k['default']), None)
    if default is None:
        _undetermined(tree, kernels, default_source, result,
                      max_initramfs_read)
    else:
        notes.append('default kernel %s (%s)'
                     % (default['version'], default_source))
        if result['os']['arch'] is None:
            result['os']['arch'] = _arch_from_version(default['version'])
        result['drivers'].update(_verdicts(tree, default,
                                           max_initramfs_read, notes))
    for kernel in kernels:
        kernel.pop('_evidence', None)
    for fs in (root, boot):
        if fs is not None:
            notes.extend(fs.notes)


def _verdicts(tree, kernel, max_read, notes):
    kernel_info.read_initramfs(tree, kernel, max_read, notes)
    drivers = {}
    for key, (module, extra) in kernel_info.BOOT_DRIVERS.items():
        drivers[key] = kernel_info.boot_verdict(kernel, module, extra)
    drivers['virtio_net'] = kernel_info.net_verdict(kernel)
    # What made this kernel the one that boots: the boot loader's files.
    chosen_by = kernel['_evidence'].get('boot') or []
    for found in drivers.values():
        found['evidence'].extend(chosen_by)
    return drivers


def _undetermined(tree, kernels, reason, result, max_read):
    """Verdicts when the default kernel cannot be told (fail closed)."""
    notes = result['notes']
    notes.append(reason)
    candidates = kernels[:kernel_info.MAX_CANDIDATES]
    if not candidates or len(kernels) > len(candidates):
        if kernels:
            reason = 'default kernel unknown (%s) and more than %d kernels' \
                % (reason, len(candidates))
        for key in result['drivers']:
            result['drivers'][key] = verdict('unknown', reason)
        return
    found = []
    for kernel in candidates:
        remaining = None
        if max_read is not None:
            remaining = max_read // len(candidates)
        found.append(_verdicts(tree, kernel, remaining, notes))
    result['drivers'].update(kernel_info.undetermined_verdicts(
        candidates, reason, found))


def release(tree):
    """distro, version and product name from the release files."""
    info = {'distro': None, 'version': None, 'product_name': None}
    text = tree.read_text('/etc/os-release') or \
        tree.read_text('/usr/lib/os-release')
    if text:
        values = {}
        for line in text.splitlines():
            if '=' in line and not line.lstrip().startswith('#'):
                key, value = line.split('=', 1)
                values[key.strip()] = value.strip().strip('"\'')
        info['distro'] = values.get('ID') or None
        info['version'] = values.get('VERSION_ID') or None
        info['product_name'] = values.get('PRETTY_NAME') or \
            values.get('NAME') or None
        return info
    for path, distro in (('/etc/redhat-release', None),
                         ('/etc/SuSE-release', 'sles')):
        text = tree.read_text(path)
        if text:
            first = text.strip().splitlines()[0] if text.strip() else ''
            match = re.search(r'(\d+(\.\d+)*)', first)
            info['product_name'] = first or None
            info['version'] = match.group(1) if match else None
            lowered = first.lower()
            info['distro'] = distro or (
                'centos' if 'centos' in lowered else
                'fedora' if 'fedora' in lowered else
                'rhel' if 'red hat' in lowered else None)
            if 'opensuse' in lowered:
                info['distro'] = 'opensuse'
            return info
    text = tree.read_text('/etc/debian_version')
    if text:
        info.update(distro='debian', version=text.strip() or None,
                    product_name='Debian GNU/Linux %s' % text.strip())
    return info


def elf_arch(tree):
    """The architecture of /bin/sh's ELF header, if readable."""
    for path in ('/bin/sh', '/usr/bin/sh', '/bin/bash', '/usr/bin/bash'):
        head = tree.read(path, 20)
        if head and head[:4] == b'\x7fELF' and len(head) >= 20:
            order = 'little' if head[5] == 1 else 'big'
            machine = int.from_bytes(head[18:20], order)
            arch = ELF_MACHINES.get(machine)
            if arch == 'ppc64le' and order == 'big':
                arch = 'ppc64'
            if arch == 'x86_64' and head[4] == 1:
                arch = 'i686'
            return arch
    return None


def _arch_from_version(version):
    for arch in ('x86_64', 'aarch64', 'ppc64le', 's390x', 'i686'):
        if version.endswith(arch):
            return arch
    if version.endswith('amd64'):
        return 'x86_64'
    if version.endswith('arm64'):
        return 'aarch64'
    return None


def fstab_devices(text):
    devices = []
    for line in text.splitlines():
        fields = line.split()
        if not fields or fields[0].startswith('#'):
            continue
        if fields[0].startswith('/') or '=' in fields[0]:
            devices.append(fields[0])
    return devices
