from tests.fixtures import images
from tests.unit.inspect.helpers import inspect_path
from tests.unit.inspect.helpers import own_evidence
from tests.unit.inspect.helpers import states


def _kernel(result, version):
    return next(k for k in result['linux']['kernels']
                if k['version'] == version)


def test_debian_gpt_ext4_gzip_initramfs(debian_image):
    result = inspect_path(debian_image)
    assert result['status'] == 'ok', result['error']
    assert result['format'] == 'qcow2'
    assert result['virtual_size'] == 2 << 30
    assert result['partition_table'] == 'gpt'
    assert result['firmware'] == 'uefi'
    assert result['os'] == {
        'family': 'linux', 'distro': 'debian', 'version': '12',
        'product_name': 'Debian GNU/Linux 12 (bookworm)', 'build': None,
        'arch': 'x86_64'}
    assert states(result) == {'virtio_blk': 'ready', 'virtio_scsi': 'ready',
                              'virtio_net': 'ready', 'ide': 'ready',
                              'sata': 'ready'}
    assert own_evidence(result, 'virtio_blk') == [
        'virtio_blk.ko for kernel 6.1.0-18-amd64 is in initramfs '
        '/boot/initrd.img-6.1.0-18-amd64',
        'virtio_pci.ko for kernel 6.1.0-18-amd64 is in initramfs '
        '/boot/initrd.img-6.1.0-18-amd64']
    assert 'default kernel 6.1.0-18-amd64 (grub.cfg default entry)' in \
        result['notes']
    linux = result['linux']
    assert [k['version'] for k in linux['kernels']] == [
        images.DEBIAN_KERNEL, images.DEBIAN_OLD_KERNEL]
    default = _kernel(result, images.DEBIAN_KERNEL)
    assert default['default']
    assert default['modules']['virtio_scsi'] == 'module'
    assert default['initramfs']['path'] == \
        '/boot/initrd.img-' + images.DEBIAN_KERNEL
    assert default['initramfs']['compression'] == ['gzip']
    assert default['initramfs']['virtio_scsi'] is True
    assert not _kernel(result, images.DEBIAN_OLD_KERNEL)['default']
    assert linux['fstab_devices'] == ['UUID=' + images.ROOT_UUID,
                                      'UUID=' + images.ESP_UUID]
    assert linux['boot_devices'] == ['UUID=' + images.ROOT_UUID]
    assert not linux['uses_vd_names'] and not linux['uses_sd_names']


def test_debian_reads_far_less_than_the_image(debian_image,
                                              debian_raw_image):
    qcow2 = inspect_path(debian_image)
    raw = inspect_path(debian_raw_image)
    assert raw['format'] == 'raw'
    assert raw['drivers'] == qcow2['drivers']
    for result in (qcow2, raw):
        # Well under 1% of the 2 GiB disk.
        assert result['bytes_read'] < result['virtual_size'] // 500


def test_rhel_mbr_lvm_xfs_separate_boot(rhel_image):
    result = inspect_path(rhel_image)
    assert result['status'] == 'ok', result['error']
    assert result['partition_table'] == 'mbr'
    assert result['firmware'] == 'bios'
    assert result['os']['distro'] == 'rhel'
    assert result['os']['version'] == '9.0'
    assert result['os']['arch'] == 'x86_64'
    assert states(result) == {'virtio_blk': 'ready',
                              'virtio_scsi': 'missing',
                              'virtio_net': 'ready', 'ide': 'missing',
                              'sata': 'missing'}
    assert own_evidence(result, 'virtio_scsi') == [
        'virtio_scsi.ko for kernel 5.14.0-70.el9.x86_64 is not in '
        'initramfs /boot/initramfs-5.14.0-70.el9.x86_64.img']
    assert own_evidence(result, 'virtio_blk') == [
        'virtio_blk.ko for kernel 5.14.0-70.el9.x86_64 is in initramfs '
        '/boot/initramfs-5.14.0-70.el9.x86_64.img',
        'virtio_pci is built into kernel 5.14.0-70.el9.x86_64']
    # grubenv's saved_entry picks the older kernel, not the newest.
    default = _kernel(result, images.RHEL_KERNEL)
    assert default['default']
    assert not _kernel(result, images.RHEL_NEW_KERNEL)['default']
    assert [k['version'] for k in result['linux']['kernels']] == [
        images.RHEL_NEW_KERNEL, images.RHEL_KERNEL]
    assert default['initramfs'] == {
        'path': '/boot/initramfs-%s.img' % images.RHEL_KERNEL,
        'compression': ['none', 'zstd'], 'virtio_blk': True,
        'virtio_scsi': False, 'virtio_net': True, 'virtio_pci': False,
        'ahci': False, 'ata_piix': False}
    assert default['modules']['virtio_pci'] == 'builtin'
    assert result['linux']['boot_devices'] == ['/dev/mapper/rhel-root']
    assert '/dev/mapper/rhel-root' in result['linux']['fstab_devices']
    assert '/boot is the separate filesystem p1' in result['notes']
    assert 'default kernel %s (grubenv saved_entry)' % images.RHEL_KERNEL \
        in result['notes']


def test_builtin_virtio_no_initramfs_vd_names(builtin_image):
    result = inspect_path(builtin_image)
    assert result['status'] == 'ok', result['error']
    assert result['format'] == 'raw'
    assert result['partition_table'] == 'mbr'
    assert result['os']['distro'] == 'ubuntu'
    assert states(result) == {'virtio_blk': 'ready',
                              'virtio_scsi': 'missing',
                              'virtio_net': 'ready', 'ide': 'missing',
                              'sata': 'ready'}
    assert own_evidence(result, 'virtio_blk') == [
        'virtio_blk is built into kernel %s' % images.BUILTIN_KERNEL,
        'virtio_pci is built into kernel %s' % images.BUILTIN_KERNEL]
    assert own_evidence(result, 'virtio_scsi') == [
        'virtio_scsi.ko is not in /lib/modules/%s and not built in'
        % images.BUILTIN_KERNEL]
    assert own_evidence(result, 'ide') == [
        'ata_piix.ko is not in /lib/modules/%s and not built in'
        % images.BUILTIN_KERNEL]
    kernel = result['linux']['kernels'][0]
    assert kernel['initramfs']['path'] is None
    assert kernel['modules']['virtio_blk'] == 'builtin'
    assert result['linux']['fstab_devices'] == ['/dev/vda5']
    assert result['linux']['boot_devices'] == ['/dev/vda5']
    assert result['linux']['uses_vd_names'] is True
    assert result['linux']['uses_sd_names'] is False


def test_other_formats_of_the_same_disk(builtin_image, vmdk_image,
                                        vhdx_image, vhd_image):
    expected = inspect_path(builtin_image)
    for path, fmt in ((vmdk_image, 'vmdk'), (vhdx_image, 'vhdx'),
                      (vhd_image, 'vhd')):
        result = inspect_path(path)
        assert result['status'] == 'ok', (fmt, result['error'])
        assert result['format'] == fmt
        assert result['virtual_size'] >= expected['virtual_size']
        assert result['drivers'] == expected['drivers']
        assert result['linux'] == expected['linux']


def test_unpartitioned_ext4_old_release_file(centos_image):
    result = inspect_path(centos_image)
    assert result['status'] == 'ok', result['error']
    assert result['partition_table'] == 'none'
    assert result['firmware'] == 'unknown'
    assert result['os']['distro'] == 'centos'
    assert result['os']['version'] == '7.9.2009'
    # No modules.builtin, modules.dep or config: only what the
    # initramfs proves counts.
    assert states(result) == {'virtio_blk': 'ready',
                              'virtio_scsi': 'unknown',
                              'virtio_net': 'unknown', 'ide': 'unknown',
                              'sata': 'unknown'}
    kernel = result['linux']['kernels'][0]
    assert kernel['initramfs']['compression'] == ['xz']
    assert kernel['modules']['virtio_scsi'] == 'unknown'
    assert 'default kernel %s (the only kernel)' % images.CENTOS_KERNEL \
        in result['notes']


def test_read_limit_gives_an_error(debian_image):
    result = inspect_path(debian_image, max_read=1 << 20)
    assert result['status'] == 'error'
    assert 'read limit of 1048576 bytes' in result['error']
    assert result['bytes_read'] <= 1 << 20
