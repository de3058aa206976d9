"""Windows inspection on real NTFS images holding real registry hives.

Boot start: learn.microsoft.com/en-us/previous-versions/windows/it-pro/
windows-2000-server/cc959920(v=technet.10) (Start=0 is loaded by the kernel
loader, the only start type that serves the boot disk); StartOverride:
awsdocs/amazon-ec2-user-guide-windows doc_source/
pvdrivers-troubleshooting.md (its values override Start).
"""

import json
import os
import subprocess
import sys

import pyregf
import pytest

from glance_virtio.engine import EXIT_FAILED
from glance_virtio.knowledge import detect
from glance_virtio import model
from glance_virtio.inspect import windows

from tests.fixtures import disk
from tests.fixtures import regf
from tests.fixtures import wintree
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
        'viostor service in ControlSet001 has Start=0 (boot start) and its '
        'file /Windows/System32/drivers/viostor.sys is present',
        'CriticalDeviceDatabase maps '
        'pci#ven_1af4&dev_1001&subsys_00021af4&rev_00 to viostor',
        'PCI ids mapped to viostor: 1af4:1001 (CriticalDeviceDatabase); '
        'not mapped: 1af4:1042']
    windows = result['windows']
    assert windows['control_set'] == 'ControlSet001'
    assert windows['edition'] == 'ServerDatacenter'
    assert windows['installation_type'] == 'Server'
    assert windows['drivers']['viostor'] == {
        'file': True, 'service': True, 'start': 0, 'pci_mapping': True,
        'file_path': '/Windows/System32/drivers/viostor.sys',
        'image_path': 'System32\\drivers\\viostor.sys',
        'start_override': None, 'pci_ids': ['1af4:1001'], 'bus_type': None,
        'stale_sets': []}
    assert windows['drivers']['vioscsi'] == {
        'file': False, 'service': False, 'start': None,
        'pci_mapping': False, 'file_path': None, 'image_path': None,
        'start_override': None, 'pci_ids': [], 'bus_type': None,
        'stale_sets': []}
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
        'no viostor service in the current control set ControlSet001 and '
        'no /Windows/System32/drivers/viostor.sys',
        'PCI ids mapped to viostor: none; not mapped: 1af4:1001, '
        '1af4:1042']


def test_both_on_gpt_uefi_with_driver_store_image_path(windows_both):
    result = _windows(windows_both)
    assert result['partition_table'] == 'gpt'
    assert result['firmware'] == 'uefi'
    assert states(result) == {'virtio_blk': 'ready', 'virtio_scsi': 'ready',
                              'virtio_net': 'ready', 'ide': 'ready',
                              'sata': 'unknown'}
    drivers = result['windows']['drivers']
    # vioscsi.sys lives only in the DriverStore, where ImagePath points.
    assert {k: drivers['vioscsi'][k] for k in (
        'file', 'service', 'start', 'pci_mapping', 'pci_ids')} == {
        'file': True, 'service': True, 'start': 0, 'pci_mapping': True,
        'pci_ids': ['1af4:1004', '1af4:1048']}
    assert drivers['vioscsi']['file_path'] == (
        '/Windows/System32/DriverStore/FileRepository/'
        'vioscsi.inf_amd64_5d2f1c3b/vioscsi.sys')
    assert 'PCI ids mapped to vioscsi: 1af4:1004 (CriticalDeviceDatabase), '\
        '1af4:1048 (DriverDatabase)' in \
        result['drivers']['virtio_scsi']['evidence']
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
        '(Start=0 (boot start))']
    assert any('SYSTEM hive is dirty' in note for note in result['notes'])


def test_viostor_demand_start_is_missing(windows_demand):
    """Start=3 (demand) is never loaded by the kernel loader: missing."""
    result = _windows(windows_demand)
    assert result['drivers']['virtio_blk'] == {
        'state': 'missing', 'evidence': [
            'viostor service in ControlSet001 has Start=3 (demand start): '
            'a boot disk driver must be boot-start (0)']}


# One real NTFS image per case, built from hives written in the test.

def _image(tmp_path, services, damage=None, **kwargs):
    tree = wintree.stage_windows(str(tmp_path / 'tree'), services, **kwargs)
    if damage is not None:
        damage(os.path.join(tree, 'Windows', 'System32', 'config'))
    return wintree.windows_disk(str(tmp_path), tree)


def _inspect(tmp_path, services, **kwargs):
    return _windows(_image(tmp_path, services, **kwargs))


def _blk(result):
    return result['drivers']['virtio_blk']


def test_disabled_start_is_missing(tmp_path):
    result = _inspect(tmp_path, {'viostor': 4})
    assert _blk(result) == {'state': 'missing', 'evidence': [
        'viostor service in ControlSet001 has Start=4 (disabled start): a '
        'boot disk driver must be boot-start (0)']}


def test_start_override_demand_beats_boot_start(tmp_path):
    result = _inspect(tmp_path, {'viostor': {'start': 0,
                                             'override': {'0': 3}}})
    assert _blk(result) == {'state': 'missing', 'evidence': [
        'viostor service in ControlSet001 has Start=0 (boot start) '
        'overridden by StartOverride\\0=3 (demand start): a boot disk '
        'driver must be boot-start (0)']}
    assert result['windows']['drivers']['viostor']['start_override'] == \
        {'0': 3}
    hive = os.path.join(str(tmp_path), 'tree', 'Windows', 'System32',
                        'config', 'SYSTEM')
    out = subprocess.run(['hivexget', hive, 'ControlSet001\\Services\\'
                          'viostor\\StartOverride', '0'], check=True,
                         capture_output=True).stdout
    assert out.strip() == b'3'  # hivex reads the same override


def test_start_override_boot_makes_demand_start_ready(tmp_path):
    result = _inspect(tmp_path, {'viostor': {'start': 3,
                                             'override': {'0': 0}}})
    assert _blk(result)['state'] == 'ready'
    assert _blk(result)['evidence'][0] == (
        'viostor service in ControlSet001 has Start=3 (demand start) '
        'overridden by StartOverride\\0=0 (boot start) and its file '
        '/Windows/System32/drivers/viostor.sys is present')


def test_start_overrides_that_disagree_are_unknown(tmp_path):
    result = _inspect(tmp_path, {'viostor': {'start': 0, 'override': {
        '0': 0, '1': 3}}})
    assert _blk(result)['state'] == 'unknown'
    assert 'StartOverride\\0=0, StartOverride\\1=3 disagree' in \
        _blk(result)['evidence'][0]


def test_storahci_start_override_is_honoured(tmp_path):
    """Windows 8+ leaves storahci Start=0 with StartOverride\\0=3."""
    result = _inspect(tmp_path, {'storahci': {'start': 0,
                                              'override': {'0': 3}}})
    assert result['drivers']['sata'] == {'state': 'unknown', 'evidence': [
        'no AHCI (SATA) driver is boot-start (storahci Start=0 (boot '
        'start) overridden by StartOverride\\0=3 (demand start))']}


def test_build_in_other_digits_is_no_internal_error(tmp_path):
    """Found by fuzzing: '\u00b90348'.isdigit() is true, int() fails."""
    result = _inspect(tmp_path, {'viostor': 0}, build='\u00b90348')
    assert result['os']['build'] == '\u00b90348'
    assert _blk(result)['state'] == 'ready'


def test_image_path_file_not_on_the_volume_is_missing(tmp_path):
    result = _inspect(tmp_path, {'viostor': {
        'start': 0, 'file': None,
        'image_path': '\\SystemRoot\\System32\\drivers\\viostor.sys'}})
    assert _blk(result) == {'state': 'missing', 'evidence': [
        'viostor service in ControlSet001 has ImagePath '
        '\\SystemRoot\\System32\\drivers\\viostor.sys, and '
        '/Windows/System32/drivers/viostor.sys is not on the volume']}


def test_image_path_names_the_file_that_counts(tmp_path):
    """viostor.sys in drivers does not help when ImagePath names another."""
    result = _inspect(tmp_path, {'viostor': {
        'start': 0, 'image_path': 'System32\\drivers\\viostor2.sys'}})
    assert _blk(result)['state'] == 'missing'
    assert '/Windows/System32/drivers/viostor2.sys is not on the volume' \
        in _blk(result)['evidence'][0]


def test_image_path_absent_means_the_default_file(tmp_path):
    ready = _inspect(tmp_path / 'a', {'viostor': {'start': 0,
                                                  'image_path': None}})
    assert _blk(ready)['state'] == 'ready'
    assert 'its file /Windows/System32/drivers/viostor.sys is present' in \
        _blk(ready)['evidence'][0]
    missing = _inspect(tmp_path / 'b', {'viostor': {
        'start': 0, 'image_path': None, 'file': None}})
    assert _blk(missing)['evidence'][0] == (
        'viostor service in ControlSet001 has ImagePath (none: default '
        '/Windows/System32/drivers/viostor.sys), and '
        '/Windows/System32/drivers/viostor.sys is not on the volume')


def test_image_path_in_another_case_is_found(tmp_path):
    result = _inspect(tmp_path, {'viostor': {
        'start': 0,
        'image_path': '\\SYSTEMROOT\\SYSTEM32\\DRIVERS\\VIOSTOR.SYS'}})
    assert _blk(result)['state'] == 'ready'


def test_driver_only_in_a_stale_control_set_does_not_count(tmp_path):
    def viostor_file(config):
        wintree.put(str(tmp_path / 'tree'),
                    'Windows/System32/drivers/viostor.sys',
                    wintree.sys_file('viostor'))
    result = _inspect(tmp_path, {'storahci': 0}, damage=viostor_file,
                      stale_sets={2: {'viostor': 0}})
    assert _blk(result) == {'state': 'missing', 'evidence': [
        'no viostor service in the current control set ControlSet001; only '
        'ControlSet002 has one, and a control set that is not current does '
        'not count']}
    assert result['windows']['drivers']['viostor']['stale_sets'] == \
        ['ControlSet002']


def test_select_current_picks_the_control_set(tmp_path):
    result = _inspect(tmp_path, {'viostor': 0}, current=2,
                      stale_sets={1: {'storahci': 0}})
    assert result['windows']['control_set'] == 'ControlSet002'
    assert _blk(result)['state'] == 'ready'


def test_vioscsi_bus_type_and_pci_ids(tmp_path):
    result = _inspect(
        tmp_path, {'vioscsi': {'start': 0, 'bus_type': 10}},
        cdd=[('pci#ven_1af4&dev_1004&subsys_00081af4&rev_00', 'vioscsi')],
        ddb=['VEN_1AF4&DEV_1048&SUBSYS_11001AF4&REV_01',
             'VEN_1AF4&DEV_10480&SUBSYS_11001AF4&REV_01'])
    evidence = result['drivers']['virtio_scsi']['evidence']
    assert evidence[1:] == [
        'CriticalDeviceDatabase maps '
        'pci#ven_1af4&dev_1004&subsys_00081af4&rev_00 to vioscsi',
        'DriverDatabase has PCI\\VEN_1AF4&DEV_1048&SUBSYS_11001AF4&REV_01',
        'PCI ids mapped to vioscsi: 1af4:1004 (CriticalDeviceDatabase), '
        '1af4:1048 (DriverDatabase)',
        'vioscsi Parameters\\BusType=10 (SAS)']
    assert result['windows']['drivers']['vioscsi']['bus_type'] == 10


# A hive that cannot be walked: the drivers are unknown, the image an error.

def _damaged(tmp_path, **kwargs):
    result = inspect_path(_image(
        tmp_path, {'viostor': 0, 'vioscsi': 0, 'storahci': 0},
        product='Windows Server 2019 Datacenter', build='17763', **kwargs))
    assert result['status'] == 'error'
    assert result['os']['family'] == 'windows'
    assert result['os']['product_name'] == 'Windows Server 2019 Datacenter'
    assert set(states(result).values()) == {'unknown'}
    assert result['error'] in result['notes']
    for state in result['drivers'].values():
        assert state['evidence'] == ['the drivers cannot be read: %s'
                                     % result['error']]
    return result


def _truncate(name, size):
    def damage(config):
        disk.run('truncate', '-s', str(size), os.path.join(config, name))
    return damage


def test_truncated_system_hive_is_an_error(tmp_path):
    result = _damaged(tmp_path, damage=_truncate('SYSTEM', 4812))
    assert result['error'] == (
        'SYSTEM hive is truncated: its header gives 4096 bytes of hive '
        'bins, the file holds 4812 bytes in all')


def test_system_hive_whose_subkey_index_loops_is_an_error(tmp_path):
    path = str(tmp_path / 'SYSTEM')

    def loop(system):
        system.key('ControlSet001\\Services').loop_index()
        regf.write_hive(path, system)
    result = _damaged(tmp_path, edit_system=loop)
    assert result['error'].startswith(
        'SYSTEM hive is damaged: reading \\ControlSet001\\Services failed')
    proc = subprocess.run(['hivexml', path], capture_output=True)
    assert proc.returncode != 0  # hivex agrees the hive is damaged


def test_system_hive_whose_keys_loop_is_an_error(tmp_path):
    path = str(tmp_path / 'SYSTEM')

    def loop(system):
        control = system.key('ControlSet001\\Control')
        control.key('CriticalDeviceDatabase').link(
            system.key('ControlSet001'))
        regf.write_hive(path, system)
    result = _damaged(tmp_path, edit_system=loop)
    assert result['error'] == (
        'SYSTEM hive is damaged: its subkey lists loop (\\ControlSet001\\'
        'Control\\CriticalDeviceDatabase\\ControlSet001 is a key above it)')
    proc = subprocess.run(['hivexml', path], capture_output=True)
    assert b'Too many levels' in proc.stderr


def test_select_current_naming_no_control_set_is_an_error(tmp_path):
    def bad_select(system):
        system.key('Select').set('Current', regf.REG_DWORD, 7)
    result = _damaged(tmp_path, edit_system=bad_select)
    assert 'Select\\Current=7 but there is no ControlSet007' in \
        result['error']


def test_truncated_software_hive_loses_only_the_version(tmp_path):
    result = _windows(_image(tmp_path, {'viostor': 0},
                             damage=_truncate('SOFTWARE', 4700)))
    assert result['os']['version'] is None
    assert result['os']['product_name'] is None
    assert _blk(result)['state'] == 'ready'
    assert any(note.startswith('SOFTWARE hive is truncated') and
               note.endswith('the Windows version is unknown')
               for note in result['notes'])


@pytest.mark.parametrize('size', [0, 100, 4096, 4200, 6000, 8000])
def test_cut_hives_never_raise(tmp_path, size):
    result = _damaged(tmp_path, damage=_truncate('SYSTEM', size))
    assert result['error'].startswith('SYSTEM hive is')


def _cli(*args):
    exe = os.path.join(os.path.dirname(sys.executable), 'glance-virtio')
    return subprocess.run([exe, 'inspect', '-f', 'json', '--long'] +
                          list(args), capture_output=True, text=True,
                          env=dict(os.environ,
                                   OS_CLIENT_CONFIG_FILE='/nonexistent'))


def test_cli_inspect_file_reports_override_and_damage(tmp_path):
    override = _image(tmp_path / 'o', {'viostor': {
        'start': 0, 'override': {'0': 3}}})
    cut = _image(tmp_path / 'c', {'viostor': 0},
                 damage=_truncate('SYSTEM', 4812))
    proc = _cli('--file', override, '--file', cut)
    assert proc.returncode == EXIT_FAILED, proc.stderr
    assert 'Traceback' not in proc.stderr
    rows = json.loads(proc.stdout)
    assert rows[0]['Status'] == 'ok'
    assert rows[0]['Drivers']['virtio_blk'] == 'missing'
    assert 'StartOverride\\0=3' in rows[0]['Evidence']['virtio_blk'][0]
    assert rows[1]['Status'] == 'error'
    assert rows[1]['Error'].startswith('SYSTEM hive is truncated')
    assert set(rows[1]['Drivers'].values()) == {'unknown'}


def test_detect_maps_the_states_and_ignores_a_damaged_hive(tmp_path):
    result = _inspect(tmp_path / 'o', {
        'viostor': {'start': 0, 'override': {'0': 3}}, 'vioscsi': 0})
    guest, ready = detect.from_inspection(result)
    assert (guest.family, guest.source) == ('windows', 'inspection')
    assert ready['virtio_blk'].state == model.NOT_READY
    assert 'StartOverride\\0=3' in ready['virtio_blk'].reason
    assert ready['virtio_scsi'].state == model.READY
    assert ready['ide'].state == model.NOT_READY  # no IDE driver at all
    cut = inspect_path(_image(tmp_path / 'c', {'viostor': 0},
                              damage=_truncate('SYSTEM', 4812)))
    assert detect.from_inspection(cut) == (None, {})


def test_select_missing_with_one_control_set_uses_it(tmp_path):
    def no_select(system):
        del system.subkeys['select']
    result = _inspect(tmp_path, {'viostor': 0}, edit_system=no_select)
    assert _blk(result)['state'] == 'ready'
    assert 'Select\\Current missing; the only control set is ' \
        'ControlSet001' in result['notes']


def test_select_missing_with_two_control_sets_is_an_error(tmp_path):
    def no_select(system):
        del system.subkeys['select']
    result = _damaged(tmp_path, edit_system=no_select,
                      stale_sets={2: {'viostor': 0}})
    assert result['error'] == (
        'SYSTEM hive has no Select\\Current and 2 control sets '
        '(ControlSet001, ControlSet002): which one boots is unknown')


def test_select_default_other_than_current_is_noted(tmp_path):
    def default_two(system):
        system.key('Select').set('Default', regf.REG_DWORD, 2)
    result = _inspect(tmp_path, {'viostor': 0}, edit_system=default_two,
                      stale_sets={2: {'storahci': 0}})
    assert _blk(result)['state'] == 'ready'
    assert 'Select\\Default=2 differs from Select\\Current=1; the verdicts ' \
        'rest on ControlSet001' in result['notes']


class _CappedVolume:
    """A volume whose path lookups already hit a cap (too many parts)."""

    kind = 'ntfs'
    notes = ['path lookup stopped after 4096 parts']

    def open(self, path):
        return None


def test_filesystem_cap_notes_reach_the_result():
    result = {'os': {}, 'notes': [], 'drivers': {'virtio_blk': None}}
    windows.inspect_windows(_CappedVolume(), result)
    assert 'path lookup stopped after 4096 parts' in result['notes']
    assert result['drivers']['virtio_blk']['state'] == 'unknown'
