"""explain: what the guest sees, from properties (nova blockinfo rules)."""

from glance_virtio.knowledge import explain as ex

ALL = ex.Options(config_drive=True, ephemeral=True, swap=True)


def devs(state):
    return [(d.name, d.dev, d.bus, d.type) for d in state.devices]


def test_virtio_on_pc_config_drive_is_ide_hda():
    """blockinfo.get_disk_bus_for_device_type: cdrom is ide unless q35."""
    s = ex.state({'hw_disk_bus': 'virtio'}, 'pc')
    assert devs(s) == [('disk', 'vda', 'virtio', 'disk'),
                       ('disk.config', 'hda', 'ide', 'cdrom')]
    assert [c.pci_id for c in s.controllers] == ['1af4:1001', '8086:7010']
    assert s.errors == ()


def test_scsi_on_q35_config_drive_sata_shares_sd_names():
    """find_disk_dev_for_disk_bus checks every device already mapped."""
    s = ex.state({'hw_disk_bus': 'scsi', 'hw_scsi_model': 'virtio-scsi'},
                 'x86_64=q35', ALL)
    assert devs(s) == [('disk', 'sda', 'scsi', 'disk'),
                       ('disk.local', 'sdb', 'scsi', 'disk'),
                       ('disk.swap', 'sdc', 'scsi', 'disk'),
                       ('disk.config', 'sdd', 'sata', 'cdrom')]
    assert [c.pci_id for c in s.controllers] == ['1af4:1048', '8086:2922']
    assert '<address type="drive" controller="0" unit="2"/>' in s.xml[2]
    assert s.xml[-1] == '<controller type="scsi" index="0" ' \
                        'model="virtio-scsi"/>'
    assert 'up to 256 disks on one controller' in s.traits


def test_no_bus_defaults_to_virtio():
    s = ex.state({}, 'pc', ex.Options(config_drive=False))
    assert devs(s) == [('disk', 'vda', 'virtio', 'disk')]


def test_ide_holds_four_devices_config_drive_included():
    s = ex.state({'hw_disk_bus': 'ide'}, 'pc', ALL)
    assert [d.dev for d in s.devices] == ['hda', 'hdb', 'hdc', 'hdd']
    assert 'no volume hot-plug' in s.traits
    assert any('4 used' in line for line in s.limits)


def test_ide_on_q35_is_refused_by_libvirt():
    s = ex.state({'hw_disk_bus': 'ide', 'hw_machine_type': 'pc-q35-8.2'},
                 'pc')
    assert s.machine_type == 'pc-q35-8.2'
    assert any('has no IDE' in e for e in s.errors)
    assert ex.state({'hw_disk_bus': 'ide'}, 'pc-i440fx-8.2').errors == ()


def test_bad_buses_are_errors_not_devices():
    assert 'not a bus Nova knows' in ex.state(
        {'hw_disk_bus': 'virtio-blk'}).errors[0]
    assert 'UnsupportedHardware' in ex.state({'hw_disk_bus': 'xen'}).errors[0]
    assert ex.state({'hw_disk_bus': 'xen'}).devices == ()


def test_machine_type_per_architecture():
    """libvirt/utils.py get_default_machine_type."""
    policy = 'x86_64=q35,aarch64=virt'
    assert ex.state({}, policy).machine_type == 'q35'
    arm = ex.state({'architecture': 'aarch64'}, 'x86_64=q35')
    assert (arm.machine_type, arm.cdrom_bus) == ('virt', 'scsi')
    assert ex.state({}, '').machine_type == 'pc'
    assert ex.state({}, {'x86_64': 'q35'}).machine_type == 'q35'
    assert ex.state({}, ['aarch64=virt']).machine_type == 'pc'
    policy = {'x86_64': 'q35', 'aarch64': 'virt-8.2'}  # Policy.machine_types
    arm = ex.state({'hw_architecture': 'aarch64'}, policy)
    assert (arm.machine_type, arm.machine_type_source) == (
        'virt-8.2', 'site policy (aarch64=virt-8.2)')


def test_legacy_vmware_adaptertype_is_scsi_with_that_model():
    """image_meta.py _set_attr_from_legacy_names; current names win."""
    s = ex.state({'vmware_adaptertype': 'lsiLogic'})
    assert (s.disk_bus, s.scsi_model) == ('scsi', 'lsilogic')
    assert ex.state({'vmware_adaptertype': 'ide'}).disk_bus == 'ide'
    assert ex.state({'vmware_adaptertype': 'ide',
                     'hw_disk_bus': 'virtio'}).disk_bus == 'virtio'


def test_scsi_without_model_gets_lsilogic_from_libvirt():
    s = ex.state({'hw_disk_bus': 'scsi'}, 'pc')
    assert s.controllers[0].pci_id == '1000:0012'
    assert s.controllers[0].linux == 'sym53c8xx'
    assert any('lsilogic' in x for x in s.implicit_xml)
    assert not any('<controller' in x for x in s.xml)
    assert '<address' not in s.xml[0]


def test_iso_boots_from_the_cdrom_bus():
    s = ex.state({}, 'q35', disk_format='iso')
    assert devs(s)[0] == ('disk', 'sda', 'sata', 'cdrom')


def test_change_names_shift_and_traits():
    x = ex.explain({'hw_disk_bus': 'virtio'}, 'q35', bus='scsi')
    out = x.to_dict()
    assert ['/dev/vda1', '/dev/sda1'] in out['renames']
    assert 'up to 256 disks on one controller' in out['gains']
    assert 'one pcie-root-port per disk' in out['loses']
    assert x.after.scsi_model == 'virtio-scsi'
    x = ex.explain({'hw_disk_bus': 'scsi', 'hw_scsi_model': 'virtio-scsi'},
                   'pc', bus='sata')
    assert 'no volume hot-plug' in x.to_dict()['gains']
    assert x.after.scsi_model is None


def linux_report(fstab, boot, state='ready'):
    return {'status': 'ok', 'os': {'family': 'linux'},
            'linux': {'fstab_devices': fstab, 'boot_devices': boot},
            'drivers': {'virtio_scsi': {'state': state,
                                        'evidence': ['in initramfs']}}}


def test_linux_device_paths_that_change_break_uuid_survives():
    report = linux_report(['/dev/vda1', 'UUID=abcd', '/dev/vg0/home'],
                          ['/dev/vda1'])
    guest = ex.explain({'hw_disk_bus': 'virtio'}, bus='scsi',
                       inspection=report).guest
    assert guest['state'] == 'breaks'
    text = '\n'.join(guest['lines'])
    assert 'fstab /dev/vda1: becomes /dev/sda1' in text
    assert 'root= /dev/vda1: becomes /dev/sda1' in text
    assert 'UUID=abcd: survives' in text
    assert '/dev/vg0/home: survives' in text


def test_linux_initramfs_verdict_decides():
    ok = ex.explain({'hw_disk_bus': 'virtio'}, bus='scsi',
                    inspection=linux_report(['UUID=x'], [])).guest
    assert ok['state'] == 'ok'
    missing = ex.explain({'hw_disk_bus': 'virtio'}, bus='scsi',
                         inspection=linux_report(['UUID=x'], [],
                                                 'missing')).guest
    assert missing['state'] == 'breaks'
    assert ex.explain({}, bus='scsi').guest['state'] == 'unknown'


def windows_report(state, start, override=None):
    return {'status': 'ok', 'os': {'family': 'windows'},
            'windows': {'drivers': {'vioscsi': {
                'service': True, 'file': True, 'start': start,
                'start_override': override}}},
            'drivers': {'virtio_scsi': {'state': state,
                                        'evidence': ['Start=%s' % start]}}}


def test_windows_installed_not_boot_start_gets_staged_procedure():
    guest = ex.explain({'hw_disk_bus': 'ide'}, bus='scsi',
                       inspection=windows_report('missing', 3)).guest
    assert guest['state'] == 'staged'
    text = '\n'.join(guest['lines'])
    assert 'Start = 0, and no StartOverride' in text
    assert 'vioscsi' in text


def test_windows_boot_start_is_ok():
    guest = ex.explain({'hw_disk_bus': 'ide'}, bus='scsi',
                       inspection=windows_report('ready', 0)).guest
    assert guest['state'] == 'ok'


def test_device_letters_follow_nova():
    assert [ex.device_letters(i) for i in (0, 25, 26, 27)] == \
        ['a', 'z', 'aa', 'ab']


def test_aarch64_virt_is_pcie_and_its_default_scsi_model_unknown():
    """virt is PCIe (modern ids); libvirt's SCSI default is not assumed."""
    s = ex.state({'architecture': 'aarch64',
                  'hw_cdrom_bus': 'scsi'}, '')
    assert s.machine_type == 'virt'
    assert [c.pci_id for c in s.controllers] == ['1af4:1042']
    assert s.implicit_xml[-1] == \
        '<controller type="scsi" index="0"/> (model: libvirt default)'
    s = ex.state({'architecture': 'aarch64', 'hw_disk_bus': 'scsi',
                  'hw_scsi_model': 'virtio-scsi'}, '')
    assert [c.pci_id for c in s.controllers] == ['1af4:1048']


def test_machine_type_alone_keeps_the_bus():
    x = ex.explain({'hw_disk_bus': 'ide'}, 'pc', machine='q35')
    assert (x.after.disk_bus, x.after.machine_type) == ('ide', 'q35')
    assert any('has no IDE' in e for e in x.after.errors)
    assert x.before.errors == ()
    virtio = ex.explain({}, 'pc', machine='q35').to_dict()
    assert 'one pcie-root-port per disk' in virtio['gains']
