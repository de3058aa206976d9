"""Kernels of a Linux guest: default kernel, modules, initramfs, verdicts."""

import logging
import re

from glance_virtio.inspect import bootconfig
from glance_virtio.inspect import bootloader
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
GRUBENVS = ('/boot/grub2/grubenv', '/boot/grub/grubenv')
BLS_LIMIT = bootloader.BLS_LIMIT
MAX_KERNELS = 32
# Kernels compared when the default cannot be told.
MAX_CANDIDATES = 4


def kernel_list(tree, notes):
    """Kernels as result dicts, how the default was chosen, root= values.

    When the default kernel cannot be told, no kernel is marked default
    and the second value says why.
    """
    versions = {}
    boot_names = tree.listdir('/boot')
    for name in boot_names:
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

    bls = bootloader.bls_entries(tree, notes)
    base = bootloader.mount_of(tree, bootloader.BLS_DIR)
    for entry in bls:
        version = bootloader.bls_version(entry)
        if version in versions and entry.get('initrd'):
            versions[version]['initrd'] = bootloader.boot_file(
                tree, base, bootconfig.last_path(entry['initrd'].split()))
    default, source, boot_devices, initrd, chosen_by = _default_kernel(
        tree, versions, bls, notes)
    if default is not None and initrd is not None:
        # False: the boot loader entry has no initrd line and loads none.
        versions[default]['initrd'] = initrd or None
        versions[default]['entry'] = True

    boot_names = set(boot_names)
    ordered = sorted(versions, key=bootconfig.version_key, reverse=True)
    if len(ordered) > MAX_KERNELS:
        notes.append('%d kernels found; only the %d newest%s are examined'
                     % (len(ordered), MAX_KERNELS,
                        ' and the default' if default else ''))
        kept = ordered[:MAX_KERNELS]
        if default is not None and default not in kept:
            kept[-1] = default
        ordered = sorted(kept, key=bootconfig.version_key, reverse=True)
    kernels = []
    for version in ordered:
        info = versions[version]
        initrd = info['initrd']
        if not initrd and not info.get('entry'):
            initrd = _find_initrd(boot_names, version)
        kernels.append({
            'version': version,
            'default': version == default,
            'modules': module_states(tree, version,
                                     module_dirs.get(version)),
            'initramfs': {'path': initrd, 'compression': None,
                          **{m: None for m in MODULES}},
            '_evidence': {'module_dir': module_dirs.get(version),
                          'boot': chosen_by if version == default else []},
        })
    return kernels, source, boot_devices


def _default_kernel(tree, versions, bls, notes):
    """(version, source, root= devices, initrd, evidence) of the default.

    version is None when it cannot be told; source then says why. initrd
    is the path the boot entry names, False when the entry names none, or
    None; evidence names the boot loader files and lines that chose the
    kernel.
    """
    env = {}
    for path in GRUBENVS:
        real = bootloader.resolve(tree, path)
        text = tree.read_text(real, BLS_LIMIT) if real else None
        if text:
            env = bootconfig.parse_grubenv(text)
            break
    boot_devices = []
    root = bootconfig.root_option(env.get('kernelopts', '').split())
    if root:
        boot_devices.append(root)
    for entry in bls:
        root = bootconfig.root_option(entry.get('options', '').split())
        if root and root not in boot_devices:
            boot_devices.append(root)
    roots = []
    initrds = {}
    found = bootloader.choices(tree, bls, notes, roots, initrds)
    for version, initrd in initrds.items():
        if version in versions:
            versions[version]['initrd'] = initrd
    for root in roots:
        if root not in boot_devices:
            boot_devices.append(root)
    if found:
        version, source, initrd, evidence = _agreed(found, versions)
        return version, source, boot_devices, initrd, evidence
    # No boot loader configuration: what the distribution links to.
    for link in ('/vmlinuz', '/boot/vmlinuz'):
        target = tree.readlink(link)
        if target:
            version = bootconfig.kernel_version(target)
            if version in versions:
                return version, '%s symlink' % link, boot_devices, None, \
                    ['kernel %s is the default: no boot loader '
                     'configuration found, %s -> %s'
                     % (version, link, target)]
            if version:
                notes.append('the %s symlink boots kernel %s, which is not '
                             'in /boot' % (link, version))
    if len(versions) == 1:
        return next(iter(versions)), 'the only kernel', boot_devices, \
            None, []
    if versions:
        return None, 'no boot loader entry or /vmlinuz symlink names ' \
            'one of the %d kernels' % len(versions), boot_devices, None, []
    return None, 'no kernel found in /boot', boot_devices, None, []


def _agreed(found, versions):
    """(version, source, initrd, evidence) all boot loaders agree on.

    version is None, and source says why, when one of them cannot be
    told, boots a kernel that is not in /boot, or they disagree.
    """
    for choice in found:
        if choice.unknown:
            return None, choice.unknown, None, choice.evidence
        if choice.version not in versions:
            return None, 'the %s boots kernel %s, which is not in /boot' % (
                choice.how, choice.version), None, choice.evidence
    picks = {(c.version, c.initrd) for c in found}
    if len(picks) > 1:
        return None, 'the boot loader configurations disagree: %s' % (
            '; '.join('%s: kernel %s, initrd %s' % (c.how, c.version,
                                                    c.initrd)
                      for c in found)), None, []
    evidence = ['kernel %s is the boot loader\'s default: %s' % (
        found[0].version, '; '.join(line for choice in found
                                    for line in choice.evidence))]
    return found[0].version, found[0].how, found[0].initrd or False, \
        evidence


def _find_initrd(boot_names, version):
    """The initramfs of ``version`` among the names in /boot, or None."""
    for pattern in INITRD_PATTERNS:
        if pattern % version in boot_names:
            return '/boot/' + pattern % version
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
    """List the kernel's initramfs: which modules it holds for that kernel.

    Only modules under lib/modules/VERSION/ of this very kernel count: an
    initramfs built for another kernel cannot load them.
    """
    info = kernel['initramfs']
    path = info['path']
    version = kernel['version']
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
    listing = initramfs.list_members(fobj, fobj.size, want, version=version)
    info['compression'] = listing.compression
    if listing.error:
        kernel['_evidence']['initramfs'] = '%s could not be read: %s' % (
            path, listing.error)
        notes.append(kernel['_evidence']['initramfs'])
        if not listing.members:
            return
    present = set()
    others = {}
    for member in listing.members:
        member_version, name = initramfs.module_version(member)
        if member_version == version:
            present.add(name)
        elif member_version is not None:
            others.setdefault(name, set()).add(member_version)
    if others and not present:
        stale = sorted({v for found in others.values() for v in found},
                       key=bootconfig.version_key)
        notes.append('%s holds modules for kernel %s, not for kernel %s'
                     % (path, ', '.join(stale), version))
    kernel['_evidence']['other_versions'] = others
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
    path = initrd['path']
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
    if path is None:
        return 'unknown', '%s.ko present but no initramfs found for kernel ' \
            '%s' % (module, version)
    if initrd[module] is True:
        return 'ready', '%s.ko for kernel %s is in initramfs %s' % (
            module, version, path)
    other = sorted(kernel['_evidence'].get('other_versions', {}).get(
        module, ()), key=bootconfig.version_key)
    if initrd[module] is False:
        # The whole archive was listed: the root disk is unreachable at boot
        # until the initramfs is rebuilt with the module.
        if other:
            return 'missing', '%s.ko in %s is for kernel %s, not for the ' \
                'kernel %s it boots' % (module, path, ', '.join(other),
                                        version)
        return 'missing', '%s.ko for kernel %s is not in initramfs %s' \
            % (module, version, path)
    reason = kernel['_evidence'].get('initramfs') or \
        '%s was not fully read' % path
    return 'unknown', '%s.ko present for kernel %s; %s' % (
        module, version, reason)


def undetermined_verdicts(kernels, reason, drivers):
    """Verdicts when the default kernel is unknown: all must agree.

    ``drivers`` maps driver key -> verdict for each kernel in ``kernels``
    (a list of dicts in the same order). A driver all kernels agree on
    keeps that state; otherwise it is unknown, with each kernel's state.
    """
    combined = {}
    for key in drivers[0]:
        states = [d[key]['state'] for d in drivers]
        if len(set(states)) == 1:
            evidence = ['default kernel unknown (%s); all %d kernels agree'
                        % (reason, len(kernels))]
            for kernel, found in zip(kernels, drivers):
                evidence.extend(found[key]['evidence'])
            combined[key] = verdict(states[0], *evidence)
        else:
            combined[key] = verdict('unknown', 'default kernel unknown (%s) '
                                    'and the kernels disagree: %s' % (
                                        reason, ', '.join(
                                            '%s %s' % (k['version'], s)
                                            for k, s in zip(kernels,
                                                            states))))
    return combined


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
