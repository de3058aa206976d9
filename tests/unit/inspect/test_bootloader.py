"""The kernel judged is the one the boot loader boots, on real layouts.

Each image (tests/fixtures/bootloaders.py) boots an older kernel whose
initramfs lacks virtio_scsi while the newest kernel has it: judging the
newest gave a false "ready".
"""

import os

from tests.fixtures import bootloaders
from tests.fixtures import images
from tests.fixtures import linuxtree
from tests.unit.inspect.helpers import boot_evidence
from tests.unit.inspect.helpers import inspect_path
from tests.unit.inspect.helpers import states

MID = images.MACHINE_ID
READY_BUT_SCSI = {'virtio_blk': 'ready', 'virtio_scsi': 'missing',
                  'virtio_net': 'ready', 'ide': 'ready', 'sata': 'ready'}


def _default(result):
    return [k['version'] for k in result['linux']['kernels']
            if k['default']]


def test_rhel8_uefi_grub_cfg_and_grubenv_on_the_esp(rhel8_uefi_image):
    old = bootloaders.RHEL8_OLD
    result = inspect_path(rhel8_uefi_image)
    assert result['status'] == 'ok', result['error']
    assert result['firmware'] == 'uefi'
    assert result['os']['version'] == '8.9'
    assert states(result) == READY_BUT_SCSI
    assert _default(result) == [old]
    assert 'default kernel %s (grubenv saved_entry)' % old in \
        result['notes']
    assert result['drivers']['virtio_scsi']['evidence'] == [
        'virtio_scsi.ko for kernel %s is not in initramfs '
        '/boot/initramfs-%s.img' % (old, old),
        'kernel %s is the boot loader\'s default: '
        '/boot/efi/EFI/redhat/grub.cfg line 22: set '
        'default="${saved_entry}"; /boot/efi/EFI/redhat/grubenv line 2: '
        'saved_entry=%s-%s; entry "Red Hat Enterprise Linux (%s) 8.9 '
        '(Ootpa)" (boot loader entry /boot/loader/entries/%s-%s.conf) '
        'boots kernel %s with initrd /boot/initramfs-%s.img'
        % (old, MID, old, old, MID, old, old, old)]
    # kernelopts is read through /boot/grub2/grubenv -> the ESP.
    assert result['linux']['boot_devices'] == ['UUID=' + images.ROOT_UUID]
    kernels = {k['version']: k for k in result['linux']['kernels']}
    assert kernels[bootloaders.RHEL8_NEW]['initramfs']['virtio_scsi'] \
        is None  # not the default: its initramfs is not read
    assert kernels[old]['initramfs']['compression'] == ['none', 'xz']


def test_rhel_grubenv_symlink_is_followed_into_the_esp(
        rhel8_uefi_stub_image):
    old = bootloaders.RHEL8_OLD
    result = inspect_path(rhel8_uefi_stub_image)
    assert states(result) == READY_BUT_SCSI
    line = boot_evidence(result)
    assert '/boot/grub2/grub.cfg line 22: set default="${saved_entry}"; ' \
        '/boot/grub2/grubenv (-> /boot/efi/EFI/redhat/grubenv) line 2: ' \
        'saved_entry=%s-%s; ' % (MID, old) in line
    # The ESP's grub.cfg only hands over: it chooses nothing.
    assert 'EFI/redhat/grub.cfg' not in line


def test_esp_found_by_partition_type_without_fstab(
        rhel8_uefi_by_type_image, rhel8_uefi_image):
    result = inspect_path(rhel8_uefi_by_type_image)
    assert states(result) == READY_BUT_SCSI
    assert result['drivers'] == inspect_path(rhel8_uefi_image)['drivers']


def test_centos6_grub_legacy_default_index(centos6_image):
    old = bootloaders.CENTOS6_OLD
    result = inspect_path(centos6_image)
    assert result['status'] == 'ok', result['error']
    assert result['partition_table'] == 'mbr'
    assert result['os']['distro'] == 'centos'
    assert result['os']['version'] == '6.10'
    assert states(result) == READY_BUT_SCSI
    assert _default(result) == [old]
    assert result['drivers']['virtio_scsi']['evidence'] == [
        'virtio_scsi.ko for kernel %s is not in initramfs '
        '/boot/initramfs-%s.img' % (old, old),
        'kernel %s is the boot loader\'s default: /boot/grub/grub.conf '
        'line 10: default 2; title "CentOS 6 (%s)" (/boot/grub/grub.conf '
        'line 22, title 3) boots kernel %s (line 24) with initrd '
        '/boot/initramfs-%s.img' % (old, old, old, old)]
    # /vmlinuz points at the newest kernel: not what GRUB boots.
    assert 'default kernel %s (grub.conf default)' % old in result['notes']
    assert result['linux']['boot_devices'] == ['UUID=' + images.ROOT_UUID]


def test_centos6_grub_legacy_default_saved(centos6_saved_image):
    result = inspect_path(centos6_saved_image)
    assert states(result) == READY_BUT_SCSI
    assert '/boot/grub/grub.conf line 10: default saved; ' \
        '/boot/grub/default line 1: 2; title "CentOS 6 (%s)"' % \
        bootloaders.CENTOS6_OLD in boot_evidence(result)


def test_systemd_boot_loader_conf_default(sdboot_image):
    old = bootloaders.DEBIAN_OLD
    result = inspect_path(sdboot_image)
    assert result['status'] == 'ok', result['error']
    assert states(result) == READY_BUT_SCSI
    assert _default(result) == [old]
    esp_initrd = '/boot/efi/%s/%s/initrd.img-%s' % (MID, old, old)
    # The ESP's copy is what systemd-boot loads, not /boot's.
    assert result['drivers']['virtio_scsi']['evidence'] == [
        'virtio_scsi.ko for kernel %s is not in initramfs %s'
        % (old, esp_initrd),
        'kernel %s is the boot loader\'s default: /boot/efi/loader/'
        'loader.conf line 3: default %s-%s.conf; entry /boot/efi/loader/'
        'entries/%s-%s.conf boots kernel %s with initrd %s; %s'
        % (old, MID, old, MID, old, old, esp_initrd,
           'LoaderEntryOneShot and LoaderEntryDefault are EFI variables '
           'in NVRAM, not in the image: a new instance starts without '
           'them')]


def test_systemd_boot_without_a_default_is_unknown(sdboot_no_default_image):
    result = inspect_path(sdboot_no_default_image)
    assert _default(result) == []
    assert states(result)['virtio_scsi'] == 'unknown'
    assert result['drivers']['virtio_scsi']['evidence'] == [
        'default kernel unknown (/boot/efi/loader/loader.conf names no '
        'default: systemd-boot boots the first entry in its sort order, '
        'which depends on its version) and the kernels disagree: %s ready, '
        '%s missing' % (bootloaders.DEBIAN_NEW, bootloaders.DEBIAN_OLD)]
    assert states(result)['virtio_blk'] == 'ready'


def test_systemd_boot_glob_matching_two_kernels_is_unknown(
        sdboot_glob_image):
    result = inspect_path(sdboot_glob_image)
    assert _default(result) == []
    assert states(result)['virtio_scsi'] == 'unknown'
    assert 'the default matches 2 entries that boot different kernels' in \
        result['drivers']['virtio_scsi']['evidence'][0]


# Smaller layouts: one ext4 disk made by mkfs.ext4 -d, two kernels; the
# older one's initramfs lacks virtio_scsi.

NEW = '6.1.0-13-amd64'
OLD = '5.10.0-99-amd64'


def _two_kernels(tmp_path, distro='debian'):
    root = linuxtree.minimal_root(str(tmp_path), distro)
    boot = os.path.join(root, 'boot')
    modules = dict.fromkeys(bootloaders.ALL, 'm')
    for version, include in ((NEW, bootloaders.ALL),
                             (OLD, bootloaders.NO_SCSI)):
        linuxtree.add_kernel(root, boot, version, modules, initramfs={
            'compression': 'gzip', 'include': list(include)})
    return root, boot


def _inspect(tmp_path, root):
    return inspect_path(linuxtree.ext4_image(root, str(tmp_path / 'disk')))


def _bls(boot, grubenv, cfg=images.GRUB_BLS):
    for version in (NEW, OLD):
        linuxtree.put(boot, 'loader/entries/%s-%s.conf' % (MID, version),
                      'title Linux %s\nversion %s\nlinux /boot/vmlinuz-%s\n'
                      'initrd /boot/initrd.img-%s\noptions root=LABEL=root\n'
                      % (version, version, version, version))
    linuxtree.put(boot, 'loader/entries/%s-0-rescue.conf' % MID,
                  'title Rescue\nversion 0-rescue-%s\n'
                  'linux /boot/vmlinuz-0-rescue-%s\n' % (MID, MID))
    linuxtree.put(boot, 'grub2/grub.cfg', cfg)
    linuxtree.put(boot, 'grub2/grubenv', '# GRUB Environment Block\n%s%s'
                  % (grubenv, '#' * 900))


def test_saved_entry_that_no_longer_exists_is_unknown(tmp_path):
    root, boot = _two_kernels(tmp_path, 'rhel')
    _bls(boot, 'saved_entry=%s-5.10.0-98-amd64\n' % MID)
    result = _inspect(tmp_path, root)
    assert _default(result) == []
    assert states(result)['virtio_scsi'] == 'unknown'
    assert result['drivers']['virtio_scsi']['evidence'] == [
        'default kernel unknown (/boot/grub2/grub.cfg: default "%s-5.10.0-'
        '98-amd64" names no menu entry (an entry that no longer exists?)) '
        'and the kernels disagree: %s ready, %s missing' % (MID, NEW, OLD)]


def test_grubenv_in_a_missing_esp_is_unknown(tmp_path):
    # /boot/grub2/grubenv points into the ESP, which this disk lacks.
    root, boot = _two_kernels(tmp_path, 'rhel')
    _bls(boot, 'saved_entry=%s-%s\n' % (MID, OLD))
    os.unlink(os.path.join(boot, 'grub2', 'grubenv'))
    linuxtree.link(boot, 'grub2/grubenv', '../efi/EFI/redhat/grubenv')
    result = _inspect(tmp_path, root)
    assert _default(result) == []
    assert states(result)['virtio_scsi'] == 'unknown'
    assert result['drivers']['virtio_scsi']['evidence'][0].startswith(
        'default kernel unknown (the grubenv /boot/grub2/grubenv (-> '
        '/boot/efi/EFI/redhat/grubenv) cannot be found (is the ESP '
        'missing?)) and the kernels disagree')


def test_next_entry_wins_over_saved_entry(tmp_path):
    root, boot = _two_kernels(tmp_path, 'rhel')
    _bls(boot, 'saved_entry=%s-%s\nnext_entry=%s-%s\n' % (MID, NEW, MID,
                                                          OLD))
    result = _inspect(tmp_path, root)
    assert _default(result) == [OLD]
    assert states(result)['virtio_scsi'] == 'missing'
    assert '/boot/grub2/grub.cfg line 8: set default="${next_entry}"; ' \
        '/boot/grub2/grubenv line 3: next_entry=%s-%s' % (MID, OLD) in \
        boot_evidence(result)


def test_bls_entries_in_blscfg_order(tmp_path):
    # No saved_entry: GRUB boots entry 0, the newest; the rescue entry
    # sorts last.
    root, boot = _two_kernels(tmp_path, 'rhel')
    _bls(boot, '')
    result = _inspect(tmp_path, root)
    assert _default(result) == [NEW]
    assert 'saved_entry is not set in /boot/grub2/grubenv: GRUB boots the ' \
        'first entry' in boot_evidence(result)
    _bls(boot, '', images.GRUB_BLS.replace('${saved_entry}', '1'))
    result = _inspect(tmp_path, root)
    assert _default(result) == [OLD]
    assert states(result)['virtio_scsi'] == 'missing'


def test_boot_counting_in_progress_is_unknown(tmp_path):
    root, boot = _two_kernels(tmp_path, 'rhel')
    cfg = bootloaders.GRUB_RHEL8_EFI % {'boot_uuid': 'B', 'esp_uuid': 'E',
                                        'root_uuid': 'R'}
    _bls(boot, 'saved_entry=%s-%s\n' % (MID, NEW), cfg)
    assert _default(_inspect(tmp_path, root)) == [NEW]
    _bls(boot, 'saved_entry=%s-%s\nboot_counter=0\nboot_success=0\n'
         % (MID, NEW), cfg)
    result = _inspect(tmp_path, root)
    assert _default(result) == []
    assert states(result)['virtio_scsi'] == 'unknown'
    assert '/boot/grub2/grub.cfg line 96: set default="1" depends on the ' \
        'boot counter' in result['drivers']['virtio_scsi']['evidence'][0]


def test_grub_default_saved_by_id_in_a_submenu(tmp_path):
    root, boot = _two_kernels(tmp_path)
    cfg = images.GRUB_DEBIAN.replace('set default="0"',
                                     'set default="${saved_entry}"')
    linuxtree.put(boot, 'grub/grub.cfg', cfg % {
        'uuid': 'U', 'new': NEW, 'old': OLD})
    linuxtree.put(boot, 'grub/grubenv', '# GRUB Environment Block\n'
                  'saved_entry=gnulinux-advanced-U>gnulinux-%s-advanced-U\n'
                  % OLD)
    result = _inspect(tmp_path, root)
    assert _default(result) == [OLD]
    assert states(result)['virtio_scsi'] == 'missing'
    assert 'entry "Debian GNU/Linux, with Linux %s" (/boot/grub/grub.cfg ' \
        'line 34) boots kernel %s with initrd /boot/initrd.img-%s' % (
            OLD, OLD, OLD) in boot_evidence(result)


def test_grub_legacy_default_past_the_last_title_is_unknown(tmp_path):
    root, boot = _two_kernels(tmp_path)
    linuxtree.put(boot, 'grub/menu.lst', 'default 2\ntimeout 5\n' + ''.join(
        'title Debian %s\nroot (hd0,0)\nkernel /boot/vmlinuz-%s ro\n'
        'initrd /boot/initrd.img-%s\n' % (v, v, v) for v in (NEW, OLD)))
    result = _inspect(tmp_path, root)
    assert _default(result) == []
    assert 'default kernel unknown (/boot/grub/menu.lst: default 2 names ' \
        'no title block (2 found))' in \
        result['drivers']['virtio_scsi']['evidence'][0]


EXTLINUX = """\
# Generated by extlinux-update
DEFAULT debian-old
TIMEOUT 50
PROMPT 0

LABEL debian
  MENU LABEL Debian GNU/Linux, kernel %(new)s
  KERNEL ../vmlinuz-%(new)s
  APPEND initrd=../initrd.img-%(new)s root=/dev/vda1 ro

LABEL debian-old
  MENU LABEL Debian GNU/Linux, kernel %(old)s
  LINUX /boot/vmlinuz-%(old)s
  INITRD /boot/initrd.img-%(old)s
  APPEND root=/dev/vda1 ro
"""


def test_extlinux_default_label(tmp_path):
    root, boot = _two_kernels(tmp_path)
    linuxtree.put(boot, 'extlinux/extlinux.conf', EXTLINUX % {
        'new': NEW, 'old': OLD})
    result = _inspect(tmp_path, root)
    assert _default(result) == [OLD]
    assert states(result)['virtio_scsi'] == 'missing'
    assert boot_evidence(result) == (
        'kernel %s is the boot loader\'s default: /boot/extlinux/'
        'extlinux.conf line 2: DEFAULT debian-old; LABEL debian-old '
        '(/boot/extlinux/extlinux.conf line 11) boots kernel %s (line 13) '
        'with initrd /boot/initrd.img-%s' % (OLD, OLD, OLD))
    assert result['linux']['boot_devices'] == ['/dev/vda1']
    assert result['linux']['uses_vd_names'] is True
    # A path relative to the configuration's directory.
    linuxtree.put(boot, 'extlinux/extlinux.conf', (EXTLINUX % {
        'new': NEW, 'old': OLD}).replace('DEFAULT debian-old',
                                         'DEFAULT debian'))
    result = _inspect(tmp_path, root)
    assert _default(result) == [NEW]
    assert states(result)['virtio_scsi'] == 'ready'
    assert 'LABEL debian (/boot/extlinux/extlinux.conf line 6) boots ' \
        'kernel %s (line 8) with initrd /boot/initrd.img-%s' % (NEW, NEW) \
        in boot_evidence(result)


def test_extlinux_menu_default_against_default_is_unknown(tmp_path):
    root, boot = _two_kernels(tmp_path)
    text = (EXTLINUX % {'new': NEW, 'old': OLD}).replace(
        'LABEL debian\n', 'LABEL debian\n  MENU DEFAULT\n')
    linuxtree.put(boot, 'extlinux/extlinux.conf', 'UI menu.c32\n' + text)
    result = _inspect(tmp_path, root)
    assert _default(result) == []
    assert states(result)['virtio_scsi'] == 'unknown'
    assert 'names several default labels (debian, debian-old)' in \
        result['drivers']['virtio_scsi']['evidence'][0]


def test_boot_loaders_that_disagree_are_unknown(tmp_path):
    root, boot = _two_kernels(tmp_path)
    linuxtree.put(boot, 'extlinux/extlinux.conf', EXTLINUX % {
        'new': NEW, 'old': OLD})
    linuxtree.put(boot, 'grub/grub.cfg', images.GRUB_DEBIAN % {
        'uuid': 'U', 'new': NEW, 'old': OLD})
    result = _inspect(tmp_path, root)
    assert _default(result) == []
    assert states(result)['virtio_scsi'] == 'unknown'
    assert 'the boot loader configurations disagree: grub.cfg default ' \
        'entry: kernel %s, initrd /boot/initrd.img-%s; extlinux.conf ' \
        'DEFAULT: kernel %s, initrd /boot/initrd.img-%s' % (
            NEW, NEW, OLD, OLD) in \
        result['drivers']['virtio_scsi']['evidence'][0]


def test_entry_without_an_initrd_line_loads_no_initramfs(tmp_path):
    root, boot = _two_kernels(tmp_path)
    linuxtree.put(boot, 'grub/grub.cfg', "set default=0\nmenuentry 'Linux' "
                  "{\n  linux /boot/vmlinuz-%s root=LABEL=root\n}\n" % NEW)
    result = _inspect(tmp_path, root)
    assert _default(result) == [NEW]
    # /boot/initrd.img-NEW holds virtio_scsi, but GRUB does not load it.
    assert states(result)['virtio_scsi'] == 'unknown'
    assert result['drivers']['virtio_scsi']['evidence'][0] == \
        'virtio_scsi.ko present but no initramfs found for kernel %s' % NEW
    assert boot_evidence(result).endswith(
        'boots kernel %s without an initrd' % NEW)
