"""Session fixtures: real disk images built once per test session.

A missing tool makes the image fixture raise, so the tests that need it
fail (they are not skipped): run tools/install-test-deps.sh.
"""

import os
import sys

import pytest

sys.path.insert(0, os.path.abspath(os.path.join(os.path.dirname(__file__),
                                                '..', '..', '..')))

from tests.fixtures import bootloaders  # noqa: E402
from tests.fixtures import images  # noqa: E402


@pytest.fixture(scope='session')
def workdir(tmp_path_factory):
    return str(tmp_path_factory.mktemp('inspect-images'))


def _image(builder, *args):
    @pytest.fixture(scope='session')
    def fixture(workdir):
        return builder(workdir, *args)
    return fixture


debian_image = _image(images.debian_qcow2)
debian_raw_image = _image(images.debian_raw)
rhel_image = _image(images.rhel_qcow2)
builtin_image = _image(images.builtin_raw)
centos_image = _image(images.centos_ext4_raw)
vmdk_image = _image(images.converted, 'vmdk', 'subformat=streamOptimized')
vhdx_image = _image(images.converted, 'vhdx', '')
vhd_image = _image(images.converted, 'vpc', '')
windows_viostor = _image(images.windows_qcow2, 'viostor')
windows_vioscsi = _image(images.windows_qcow2, 'vioscsi')
windows_both = _image(images.windows_qcow2, 'both')
windows_none = _image(images.windows_qcow2, 'none')
windows_demand = _image(images.windows_qcow2, 'demand')
truncated_image = _image(images.truncated_qcow2)
zero_image = _image(images.zero_raw)
luks_image = _image(images.luks_raw)
luks_partition_image = _image(images.luks_partition_raw)
bitlocker_image = _image(images.bitlocker_raw)
unknown_fs_image = _image(images.unknown_fs_raw)
backing_image = _image(images.backing_qcow2)
data_file_image = _image(images.data_file_qcow2)
huge_image = _image(images.huge_qcow2)
bls_long_version_image = _image(images.bls_long_version_raw)
lvm_missing_extents_image = _image(images.lvm_missing_extents_raw)
vhd_block_past_end_image = _image(images.vhd_block_past_end)
vmdk_sparse_descriptor_image = _image(images.vmdk_sparse_descriptor)
corrupt_zlib_image = _image(images.corrupt_compressed_qcow2, 'zlib')
corrupt_zstd_image = _image(images.corrupt_compressed_qcow2, 'zstd')
lvm_segmented_root_image = _image(images.lvm_segmented_root_raw)
rhel8_uefi_image = _image(bootloaders.rhel8_uefi_qcow2, 'esp')
rhel8_uefi_stub_image = _image(bootloaders.rhel8_uefi_qcow2, 'stub')
rhel8_uefi_by_type_image = _image(bootloaders.rhel8_uefi_qcow2, 'by-type')
centos6_image = _image(bootloaders.centos6_legacy_raw, '2')
centos6_saved_image = _image(bootloaders.centos6_legacy_raw, 'saved')
sdboot_image = _image(bootloaders.debian_sdboot_qcow2, '%s-%s.conf' % (
    images.MACHINE_ID, bootloaders.DEBIAN_OLD))
sdboot_no_default_image = _image(bootloaders.debian_sdboot_qcow2, '')
sdboot_glob_image = _image(bootloaders.debian_sdboot_qcow2,
                           images.MACHINE_ID + '-*')
