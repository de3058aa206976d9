import subprocess

import pyregf

from tests.fixtures import regf
from tests.unit.inspect.helpers import inspect_path
from tests.unit.inspect.helpers import states


def test_regf_writer_output_is_read_by_libregf_and_hivex(tmp_path):
    root = regf.Key('ROOT')
    root.key('Select').set('Current', regf.REG_DWORD, 2)
    svc = root.key('ControlSet002\\Services\\viostor')
    svc.set('ImagePath', regf.REG_EXPAND_SZ, 'System32\\drivers\\x.sys')
    svc.set('Tags', regf.REG_MULTI_SZ, ['a', 'b'])
    svc.set('Blob', regf.REG_BINARY, b'\x01' * 5000)
    for index in range(300):
        root.key('ControlSet002\\Enum\\k%03d' % index).set(
            'v', regf.REG_DWORD, index)
    path = str(tmp_path / 'SYSTEM')
    regf.write_hive(path, root)
    hive = pyregf.file()
    hive.open(path)
    assert not hive.is_corrupted()
    key = hive.get_key_by_path('\\ControlSet002\\Services\\VIOSTOR')
    assert key.get_value_by_name('ImagePath').data_as_string == \
        'System32\\drivers\\x.sys'
    assert list(key.get_value_by_name('Tags').data_as_multi_string) == \
        ['a', 'b']
    assert len(key.get_value_by_name('Blob').data) == 5000
    assert hive.get_key_by_path('\\ControlSet002\\Enum').number_of_sub_keys \
        == 300
    xml = subprocess.run(['hivexml', path], check=True,
                         capture_output=True).stdout
    assert b'k299' in xml
    out = subprocess.run(['hivexget', path, 'Select', 'Current'],
                         check=True, capture_output=True).stdout
    assert out.strip() == b'2'


def _windows(path):
    result = inspect_path(path)
    assert result['status'] == 'ok', result['error']
    assert result['os']['family'] == 'windows'
    assert result['linux'] is None
    return result


def test_viostor_only(windows_viostor):
    result = _windows(windows_viostor)
    assert result['partition_table'] == 'mbr'
    assert result['firmware'] == 'bios'
    assert result['os'] == {
        'family': 'windows', 'distro': 'windows', 'version': '10.0',
        'product_name': 'Windows Server 2022 Datacenter', 'build': '20348',
        'arch': 'x86_64'}
    assert states(result) == {'virtio_blk': 'ready',
                              'virtio_scsi': 'missing',
                              'virtio_net': 'ready', 'ide': 'unknown',
                              'sata': 'unknown'}
    assert result['drivers']['virtio_blk']['evidence'] == [
        'viostor.sys present and the viostor service is boot-start '
        '(Start=0)',
        'CriticalDeviceDatabase maps '
        'pci#ven_1af4&dev_1001&subsys_00021af4&rev_00 to viostor']
    windows = result['windows']
    assert windows['control_set'] == 'ControlSet001'
    assert windows['edition'] == 'ServerDatacenter'
    assert windows['installation_type'] == 'Server'
    assert windows['drivers']['viostor'] == {
        'file': True, 'service': True, 'start': 0, 'pci_mapping': True}
    assert windows['drivers']['vioscsi'] == {
        'file': False, 'service': False, 'start': None,
        'pci_mapping': False}
    assert windows['drivers']['storahci']['start'] == 3
    assert result['drivers']['sata']['evidence'] == [
        'no AHCI (SATA) driver is boot-start (storahci Start=3 (demand '
        'start))']


def test_vioscsi_only(windows_vioscsi):
    result = _windows(windows_vioscsi)
    assert states(result) == {'virtio_blk': 'missing',
                              'virtio_scsi': 'ready',
                              'virtio_net': 'missing', 'ide': 'unknown',
                              'sata': 'ready'}
    assert result['drivers']['virtio_scsi']['evidence'][1] == \
        'DriverDatabase has PCI\\VEN_1AF4&DEV_1048&SUBSYS_11001AF4&REV_01'
    assert result['drivers']['virtio_blk']['evidence'] == [
        'no viostor service and no viostor.sys']


def test_both_on_gpt_uefi_with_driver_store_image_path(windows_both):
    result = _windows(windows_both)
    assert result['partition_table'] == 'gpt'
    assert result['firmware'] == 'uefi'
    assert states(result) == {'virtio_blk': 'ready', 'virtio_scsi': 'ready',
                              'virtio_net': 'ready', 'ide': 'ready',
                              'sata': 'unknown'}
    drivers = result['windows']['drivers']
    # vioscsi.sys lives only in the DriverStore, where ImagePath points.
    assert drivers['vioscsi'] == {'file': True, 'service': True, 'start': 0,
                                  'pci_mapping': True}
    assert 'vioscsi driver package is in the DriverStore' in \
        result['drivers']['virtio_scsi']['evidence']
    assert result['os']['product_name'] == 'Windows 11 Pro'
    assert result['os']['build'] == '22621'
    assert result['windows']['installation_type'] == 'Client'


def test_no_virtio_storahci_boot_start(windows_none):
    result = _windows(windows_none)
    assert states(result) == {'virtio_blk': 'missing',
                              'virtio_scsi': 'missing',
                              'virtio_net': 'missing', 'ide': 'unknown',
                              'sata': 'ready'}
    assert result['drivers']['sata']['evidence'] == [
        'storahci.sys present and the storahci service is boot-start '
        '(Start=0)']
    assert any('SYSTEM hive is dirty' in note for note in result['notes'])


def test_viostor_demand_start_is_not_ready(windows_demand):
    result = _windows(windows_demand)
    assert result['drivers']['virtio_blk'] == {
        'state': 'unknown', 'evidence': [
            'viostor service has Start=3 (demand start), not boot-start']}
