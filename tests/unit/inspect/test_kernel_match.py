"""A "ready" rests on the initramfs of the kernel the boot loader boots."""

import os

from tests.fixtures import linuxtree
from tests.unit.inspect.helpers import inspect_path
from tests.unit.inspect.helpers import own_evidence
from tests.unit.inspect.helpers import states

NEW = '6.1.0-13-amd64'
OLD = '5.10.0-99-amd64'
ALL = ('virtio_blk', 'virtio_scsi', 'virtio_net', 'virtio_pci', 'ahci',
       'ata_piix')
MODULES = dict.fromkeys(ALL, 'm')


def _grub(boot, default, *versions):
    entries = ''.join(
        "menuentry 'Linux %s' --id 'linux-%s' {\n"
        "  linux /boot/vmlinuz-%s root=LABEL=root ro\n"
        "  initrd /boot/initrd.img-%s\n}\n" % (v, v, v, v)
        for v in versions)
    linuxtree.put(boot, 'grub/grub.cfg',
                  'set default="%s"\n%s' % (default, entries))


def _kernel(root, version, initramfs_version=None, include=ALL,
            modules=MODULES):
    """A kernel whose initramfs holds modules for ``initramfs_version``."""
    boot = os.path.join(root, 'boot')
    linuxtree.add_kernel(root, boot, version, modules)
    linuxtree.build_initramfs(
        os.path.join(boot, 'initrd.img-%s' % version),
        initramfs_version or version, list(include), 'gzip')


def _inspect(tmp_path, root):
    return inspect_path(linuxtree.ext4_image(root, str(tmp_path / 'disk')))


def test_initramfs_built_for_another_kernel_is_not_ready(tmp_path):
    root = linuxtree.minimal_root(str(tmp_path))
    # The default kernel's initramfs holds the modules of 5.10.0-99.
    _kernel(root, NEW, initramfs_version=OLD)
    _kernel(root, OLD)
    _grub(os.path.join(root, 'boot'), '0', NEW, OLD)
    result = _inspect(tmp_path, root)
    assert result['status'] == 'ok', result['error']
    assert states(result) == {'virtio_blk': 'missing',
                              'virtio_scsi': 'missing',
                              'virtio_net': 'ready', 'ide': 'missing',
                              'sata': 'missing'}
    assert own_evidence(result, 'virtio_blk') == [
        'virtio_blk.ko in /boot/initrd.img-%s is for kernel %s, not for '
        'the kernel %s it boots' % (NEW, OLD, NEW)]
    assert 'default kernel %s (grub.cfg default entry)' % NEW in \
        result['notes']
    assert '/boot/initrd.img-%s holds modules for kernel %s, not for ' \
        'kernel %s' % (NEW, OLD, NEW) in result['notes']


def test_grub_default_entry_picks_the_kernel_and_its_initrd(tmp_path):
    root = linuxtree.minimal_root(str(tmp_path))
    boot = os.path.join(root, 'boot')
    _kernel(root, NEW, include=['virtio_pci'])
    _kernel(root, OLD)
    # The older kernel is the default (by id); the newer lacks virtio_blk.
    _grub(boot, 'linux-%s' % OLD, NEW, OLD)
    result = _inspect(tmp_path, root)
    assert states(result)['virtio_blk'] == 'ready'
    assert result['drivers']['virtio_blk']['evidence'][0] == \
        'virtio_blk.ko for kernel %s is in initramfs ' \
        '/boot/initrd.img-%s' % (OLD, OLD)
    # The entry's initrd line names the initramfs, not the file name.
    _grub(boot, 'linux-%s' % OLD, NEW, OLD)
    cfg = os.path.join(boot, 'grub', 'grub.cfg')
    with open(cfg) as handle:
        text = handle.read()
    with open(cfg, 'w') as out:
        out.write(text.replace('initrd /boot/initrd.img-%s' % OLD,
                               'initrd /boot/initrd.img-%s' % NEW))
    result = _inspect(tmp_path, root)
    assert states(result)['virtio_blk'] == 'missing'
    assert own_evidence(result, 'virtio_blk') == [
        'virtio_blk.ko for kernel %s is not in initramfs '
        '/boot/initrd.img-%s' % (OLD, NEW)]
    assert own_evidence(result, 'virtio_net') == [
        'virtio_net.ko present for kernel %s' % OLD]


def test_bls_saved_entry_with_a_stale_initramfs(tmp_path):
    root = linuxtree.minimal_root(str(tmp_path), 'rhel', '9.0')
    boot = os.path.join(root, 'boot')
    _kernel(root, NEW)
    _kernel(root, OLD, initramfs_version=NEW)
    for version in (NEW, OLD):
        linuxtree.put(boot, 'loader/entries/m-%s.conf' % version,
                      'title Linux %s\nversion %s\nlinux /vmlinuz-%s\n'
                      'initrd /initrd.img-%s $tuned_initrd\n'
                      'options root=LABEL=root\n'
                      % (version, version, version, version))
    linuxtree.put(boot, 'grub2/grub.cfg', 'set default="${saved_entry}"\n'
                  'insmod blscfg\nblscfg\n')
    linuxtree.put(boot, 'grub2/grubenv', '# GRUB Environment Block\n'
                  'saved_entry=m-%s\n' % OLD)
    result = _inspect(tmp_path, root)
    assert 'default kernel %s (grubenv saved_entry)' % OLD in \
        result['notes']
    assert states(result)['virtio_blk'] == 'missing'
    assert own_evidence(result, 'virtio_scsi') == [
        'virtio_scsi.ko in /boot/initrd.img-%s is for kernel %s, not for '
        'the kernel %s it boots' % (OLD, NEW, OLD)]


def test_vmlinuz_symlink_names_the_default(tmp_path):
    root = linuxtree.minimal_root(str(tmp_path))
    _kernel(root, NEW, initramfs_version=OLD)
    _kernel(root, OLD)
    linuxtree.link(root, 'boot/vmlinuz', 'vmlinuz-%s' % OLD)
    result = _inspect(tmp_path, root)
    assert 'default kernel %s (/boot/vmlinuz symlink)' % OLD in \
        result['notes']
    assert states(result)['virtio_blk'] == 'ready'


def test_undetermined_default_and_disagreeing_kernels(tmp_path):
    root = linuxtree.minimal_root(str(tmp_path))
    _kernel(root, NEW, initramfs_version=OLD)
    _kernel(root, OLD)
    result = _inspect(tmp_path, root)
    assert not any(k['default'] for k in result['linux']['kernels'])
    assert states(result) == {'virtio_blk': 'unknown',
                              'virtio_scsi': 'unknown',
                              'virtio_net': 'ready', 'ide': 'unknown',
                              'sata': 'unknown'}
    reason = 'no boot loader entry or /vmlinuz symlink names one of the ' \
        '2 kernels'
    assert result['drivers']['virtio_blk']['evidence'] == [
        'default kernel unknown (%s) and the kernels disagree: %s missing, '
        '%s ready' % (reason, NEW, OLD)]
    assert result['drivers']['virtio_net']['evidence'][0] == \
        'default kernel unknown (%s); all 2 kernels agree' % reason


def test_undetermined_default_and_agreeing_kernels(tmp_path):
    root = linuxtree.minimal_root(str(tmp_path))
    _kernel(root, NEW)
    _kernel(root, OLD)
    result = _inspect(tmp_path, root)
    assert states(result)['virtio_blk'] == 'ready'
    evidence = result['drivers']['virtio_blk']['evidence']
    assert evidence[0].endswith('all 2 kernels agree')
    assert 'virtio_blk.ko for kernel %s is in initramfs ' \
        '/boot/initrd.img-%s' % (OLD, OLD) in evidence
    assert 'virtio_blk.ko for kernel %s is in initramfs ' \
        '/boot/initrd.img-%s' % (NEW, NEW) in evidence


def test_builtin_list_of_another_kernel_does_not_count(tmp_path):
    root = linuxtree.minimal_root(str(tmp_path))
    # 5.10 builds virtio_blk in; the default 6.1 has it as a module that
    # its initramfs lacks.
    builtin = dict(MODULES, virtio_blk='y', virtio_pci='y')
    _kernel(root, OLD, modules=builtin, include=())
    _kernel(root, NEW, include=['virtio_pci'])
    _grub(os.path.join(root, 'boot'), '0', NEW, OLD)
    result = _inspect(tmp_path, root)
    assert states(result)['virtio_blk'] == 'missing'
    assert own_evidence(result, 'virtio_blk') == [
        'virtio_blk.ko for kernel %s is not in initramfs '
        '/boot/initrd.img-%s' % (NEW, NEW)]


def test_boot_loader_naming_a_missing_kernel(tmp_path):
    root = linuxtree.minimal_root(str(tmp_path))
    boot = os.path.join(root, 'boot')
    _kernel(root, NEW, initramfs_version=OLD)
    _kernel(root, OLD)
    _grub(boot, '0', '7.0.0-1-amd64', NEW, OLD)
    result = _inspect(tmp_path, root)
    assert 'the grub.cfg default entry boots kernel 7.0.0-1-amd64, which ' \
        'is not in /boot' in result['notes']
    assert states(result)['virtio_blk'] == 'unknown'


def test_grub_cfg_read_in_part_names_no_default(tmp_path):
    root = linuxtree.minimal_root(str(tmp_path))
    boot = os.path.join(root, 'boot')
    _kernel(root, NEW, initramfs_version=OLD)
    _kernel(root, OLD)
    _grub(boot, '1', NEW, OLD)
    cfg = os.path.join(boot, 'grub', 'grub.cfg')
    with open(cfg, 'a') as out:
        out.write('echo %s\n' % ('x' * 10000))
    result = _inspect(tmp_path, root)
    assert '/boot/grub/grub.cfg: 1 line longer than 8192 characters not ' \
        'read; its default entry is not used' in result['notes']
    assert not any(k['default'] for k in result['linux']['kernels'])
    assert states(result)['virtio_blk'] == 'unknown'
