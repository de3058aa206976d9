"""The kernel judged is the one the boot loader boots, on real layouts.

Each image (tests/fixtures/bootloaders.py) boots an older kernel whose
initramfs lacks virtio_scsi while the newest kernel has it: judging the
newest gave a false "ready".
"""

from tests.fixtures import bootloaders
from tests.fixtures import images
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
