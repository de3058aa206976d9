"""Kernels of a Linux guest: default kernel, modules, initramfs, verdicts."""

import logging
import posixpath
import re

from glance_virtio.inspect import bootconfig
from glance_virtio.inspect import initramfs
from glance_virtio.inspect.result import verdict

LOG = logging.getLogger(__name__)

# driver -> (module path under /lib/modules/VER, kernel config option)
MODULES = {
    'virtio_blk': ('kernel/drivers/block/virtio_blk', 'CONFIG_VIRTIO_BLK'),
    'virtio_scsi': ('kernel/drivers/scsi/virtio_scsi', 'CONFIG_SCSI_VIRTIO'),
    'virtio_net': ('kernel/drivers/net/virtio_net', 'CONFIG_VIRTIO_NET'),
    'virtio_pci': ('kernel/drivers/virtio/virtio_pci', 'CONFIG_VIRTIO_PCI'),
    'ahci': ('kernel/drivers/ata/ahci', 'CONFIG_SATA_AHCI'),
    'ata_piix': ('kernel/drivers/ata/ata_piix', 'CONFIG_ATA_PIIX'),
}
# result driver key -> (module needed at boot, extra module needed at boot)
BOOT_DRIVERS = {
    'virtio_blk': ('virtio_blk', 'virtio_pci'),
    'virtio_scsi': ('virtio_scsi', 'virtio_pci'),
    'ide': ('ata_piix', None),
    'sata': ('ahci', None),
}
EARLY_STOP_MODULES = ('virtio_blk', 'virtio_scsi', 'virtio_pci')
MODULE_SUFFIXES = ('.ko', '.ko.xz', '.ko.zst', '.ko.gz')
INITRD_PATTERNS = ('initrd.img-%s', 'initramfs-%s.img', 'initrd-%s',
                   'initrd-%s.img')
MODULE_DIRS = ('/lib/modules', '/usr/lib/modules')
GRUB_CFGS = ('/boot/grub2/grub.cfg', '/boot/grub/grub.cfg')
GRUBENVS = ('/boot/grub2/grubenv', '/boot/grub/grubenv')


def kernel_list(tree, notes):
    """Kernels as result dicts, how the default was chosen, root= values."""
    versions = {}
    for name in tree.listdir('/boot'):
        version = bootconfig.kernel_version(name)
        if version and 'rescue' not in version:
            versions[version] = {'kernel': '/boot/' + name, 'initrd': None}
    module_dirs = {}
    for base in MODULE_DIRS:
        for version in tree.listdir(base):
            module_dirs.setdefault(version, '%s/%s' % (base, version))
    if not versions:
        for version in module_dirs:
            versions[version] = {'kernel': None, 'initrd': None}
        if versions:
            notes.append('no kernel image in /boot; using /lib/modules')

    bls = _bls_entries(tree)
    for entry in bls:
        version = entry.get('version') or bootconfig.kernel_version(
            entry.get('linux'))
        if version in versions and entry.get('initrd'):
            initrd = entry['initrd'].split()[0]
            versions[version]['initrd'] = '/boot/' + posixpath.basename(
                initrd)
    default, source, boot_devices = _default_kernel(tree, versions, bls)

    kernels = []
    for version in sorted(versions, key=bootconfig.version_key,
                          reverse=True):
        info = versions[version]
        initrd = info['initrd'] or _find_initrd(tree, version)
        kernels.append({
            'version': version,
            'default': version == default,
            'modules': module_states(tree, version,
                                     module_dirs.get(version)),
            'initramfs': {'path': initrd, 'compression': None,
                          **{m: None for m in MODULES}},
            '_evidence': {'module_dir': module_dirs.get(version)},
        })
    return kernels, source, boot_devices


def _bls_entries(tree):
    entries = []
    for name in sorted(tree.listdir('/boot/loader/entries')):
        if name.endswith('.conf'):
            text = tree.read_text('/boot/loader/entries/' + name, 65536)
            entry = bootconfig.parse_bls(text or '')
            entry['id'] = name[:-len('.conf')]
            entries.append(entry)
    return entries


def _default_kernel(tree, versions, bls):
    """(version, how it was found, root= devices) of the default kernel."""
    env = {}
    for path in GRUBENVS:
        text = tree.read_text(path, 65536)
        if text:
            env = bootconfig.parse_grubenv(text)
            break
    saved = env.get('saved_entry')
    boot_devices = []
    root = bootconfig.root_option(env.get('kernelopts', '').split())
    if root:
        boot_devices.append(root)
    for entry in bls:
        root = bootconfig.root_option(entry.get('options', '').split())
        if root and root not in boot_devices:
            boot_devices.append(root)

    chosen, source = None, None
    grub_default, items, blscfg = None, [], False
    for path in GRUB_CFGS:
        text = tree.read_text(path)
        if text:
            grub_default, items, blscfg = bootconfig.parse_grub_cfg(text)
            for entry in bootconfig.all_entries(items):
                if entry.root and entry.root not in boot_devices:
                    boot_devices.append(entry.root)
            break
    if bls and (blscfg or not items):
        by_id = {entry['id']: entry for entry in bls}
        entry = by_id.get(saved) if saved else None
        source = 'grubenv saved_entry'
        if entry is None:
            entry = max(bls, key=lambda e: bootconfig.version_key(
                e.get('version') or bootconfig.kernel_version(
                    e.get('linux')) or ''))
            source = 'newest boot loader entry'
        chosen = entry.get('version') or bootconfig.kernel_version(
            entry.get('linux'))
    elif items:
        entry = bootconfig.select_entry(grub_default, items, saved)
        if entry is not None:
            chosen = bootconfig.kernel_version(entry.kernel)
            source = 'grub.cfg default entry'
    if chosen not in versions:
        link = tree.readlink('/vmlinuz') or tree.readlink('/boot/vmlinuz')
        chosen = bootconfig.kernel_version(link)
        source = '/vmlinuz symlink'
    if chosen not in versions and versions:
        chosen = max(versions, key=bootconfig.version_key)
        source = 'newest kernel in /boot'
    return chosen, source, boot_devices


def _find_initrd(tree, version):
    for pattern in INITRD_PATTERNS:
        path = '/boot/' + pattern % version
        if tree.exists(path):
            return path
    return None


def module_states(tree, version, module_dir):
    """builtin / module / missing / unknown for each driver in MODULES."""
    builtin_text = tree.read_text(module_dir + '/modules.builtin') \
        if module_dir else None
    dep_text = tree.read_text(module_dir + '/modules.dep') \
        if module_dir else None
    config = tree.read_text('/boot/config-%s' % version) or ''
    builtin = set()
    for line in (builtin_text or '').splitlines():
        name = initramfs.module_name(line.strip())
        if name:
            builtin.add(name)
    deps = set()
    for line in (dep_text or '').splitlines():
        name = initramfs.module_name(line.split(':', 1)[0].strip())
        if name:
            deps.add(name)
    states = {}
    for driver, (path, option) in MODULES.items():
        setting = re.search(r'^%s=(\w)' % option, config, re.M)
        not_set = re.search(r'^# %s is not set' % option, config, re.M)
        if driver in builtin or (setting and setting.group(1) == 'y'):
            states[driver] = 'builtin'
        elif driver in deps or (module_dir and any(
                tree.exists('%s/%s%s' % (module_dir, path, suffix))
                for suffix in MODULE_SUFFIXES)):
            states[driver] = 'module'
        elif not_set or (builtin_text is not None and dep_text is not None):
            states[driver] = 'missing'
        else:
            states[driver] = 'unknown'
    return states


def read_initramfs(tree, kernel, max_read, notes):
    info = kernel['initramfs']
    path = info['path']
    if path is None:
        return
    fobj = tree.open(path)
    if fobj is None:
        notes.append('%s is not a regular file' % path)
        return
    if max_read is not None and fobj.size > max_read:
        notes.append('%s is %d bytes, above the limit of %d; not read'
                     % (path, fobj.size, max_read))
        return
    # Reading stops once the virtio boot modules are seen: the initramfs is
    # the largest read of an inspection. ahci and ata_piix usually come
    # earlier in the (sorted) archive; if not, ide/sata stay unknown.
    want = {m for m in EARLY_STOP_MODULES
            if kernel['modules'][m] in ('module', 'unknown')}
    listing = initramfs.list_members(fobj, fobj.size, want)
    info['compression'] = listing.compression
    if listing.error:
        kernel['_evidence']['initramfs'] = '%s could not be read: %s' % (
            posixpath.basename(path), listing.error)
        notes.append(kernel['_evidence']['initramfs'])
        if not listing.members:
            return
    present = set()
    for member in listing.members:
        name = initramfs.module_name(member)
        if name and '/modules/' in '/' + member:
            present.add(name)
    for module in MODULES:
        if module in present:
            info[module] = True
            if kernel['modules'][module] == 'unknown':
                kernel['modules'][module] = 'module'
        elif listing.complete:
            info[module] = False


def boot_verdict(kernel, module, extra):
    """The verdict for a disk driver the kernel needs to mount its root."""
    version = kernel['version']
    state = verdict(*_module_verdict(kernel, module))
    if state['state'] == 'ready' and extra:
        needed = verdict(*_module_verdict(kernel, extra))
        if needed['state'] != 'ready':
            return verdict('unknown', *state['evidence'],
                           *needed['evidence'])
        state['evidence'].extend(needed['evidence'])
    LOG.debug('kernel %s driver %s: %s', version, module, state)
    return state


def _module_verdict(kernel, module):
    version = kernel['version']
    state = kernel['modules'][module]
    initrd = kernel['initramfs']
    initrd_name = posixpath.basename(initrd['path'] or '') or None
    if state == 'builtin':
        return 'ready', '%s is built into kernel %s' % (module, version)
    if state == 'missing':
        return 'missing', '%s.ko is not in /lib/modules/%s and not built in' \
            % (module, version)
    if state == 'unknown':
        if not kernel['_evidence'].get('module_dir'):
            return 'unknown', 'kernel %s has no /lib/modules/%s and its ' \
                'config does not build %s in' % (version, version, module)
        return 'unknown', 'no modules.builtin/modules.dep or config for ' \
            'kernel %s to tell whether %s exists' % (version, module)
    if initrd_name is None:
        return 'unknown', '%s.ko present but no initramfs found for kernel ' \
            '%s' % (module, version)
    if initrd[module] is True:
        return 'ready', '%s.ko present and in %s' % (module, initrd_name)
    if initrd[module] is False:
        # The whole archive was listed: the root disk is unreachable at boot
        # until the initramfs is rebuilt with the module.
        return 'missing', '%s.ko present but not in %s' % (module,
                                                           initrd_name)
    reason = kernel['_evidence'].get('initramfs') or \
        '%s was not fully read' % initrd_name
    return 'unknown', '%s.ko present; %s' % (module, reason)


def net_verdict(kernel):
    state = kernel['modules']['virtio_net']
    version = kernel['version']
    if state == 'unknown':
        return verdict(*_module_verdict(kernel, 'virtio_net'))
    if state == 'builtin':
        return verdict('ready', 'virtio_net is built into kernel %s'
                       % version)
    if state == 'module':
        return verdict('ready', 'virtio_net.ko present for kernel %s'
                       % version)
    if state == 'missing':
        return verdict('missing', 'virtio_net.ko is not in /lib/modules/%s '
                       'and not built in' % version)
    raise ValueError('unexpected module state %r' % state)
