"""The QEMU devices a canary gets for Nova's disk bus (KNOWLEDGE.md)."""

import json

import pytest

from glance_virtio.verify import devices


def plan_for(props, bus=None, scsi_model=None, machine=None, fw=None):
    state = devices.target(props, bus, scsi_model, machine)
    return devices.plan(state, fw or devices.firmware(props), '/img,1',
                        'qcow2', '/o.qcow2',
                        ('/code.fd', '/vars.fd'))


@pytest.mark.parametrize('props,bus,model,machine,expect', [
    ({}, None, None, None, ['virtio-blk-pci']),
    ({}, 'scsi', 'virtio-scsi', None, ['virtio-scsi-pci', 'scsi-hd']),
    ({'hw_disk_bus': 'scsi'}, None, None, None, ['lsi', 'scsi-hd']),
    ({}, 'ide', None, None, ['ide-hd']),
    ({}, 'sata', None, None, ['ahci', 'ide-hd']),
    ({}, 'sata', None, 'q35', ['ide-hd']),
    ({'hw_disk_bus': 'scsi', 'hw_scsi_model': 'lsisas1068'}, None, None,
     None, ['mptsas1068', 'scsi-hd']),
])
def test_devices_per_bus(props, bus, model, machine, expect):
    assert list(plan_for(props, bus, model, machine).devices) == expect


def test_scsi_without_model_boots_on_libvirts_lsi():
    plan = plan_for({'hw_disk_bus': 'scsi'})
    assert plan.scsi_model == 'lsilogic'
    assert plan.booted_on == 'scsi/lsilogic, pc, bios'


def test_machine_type_and_firmware_as_nova_chooses():
    plan = plan_for({'hw_machine_type': 'q35', 'hw_firmware_type': 'uefi'})
    args = list(plan.args)
    assert args[args.index('-machine') + 1] == 'q35'
    assert 'if=pflash,format=raw,unit=0,readonly=on,file=/code.fd' in args
    assert plan.firmware == 'uefi'


def test_the_image_is_read_only_with_no_backing_chain():
    args = list(plan_for({}).args)
    base = json.loads(args[args.index('-blockdev') + 1])
    assert base == {'driver': 'qcow2', 'node-name': 'base',
                    'read-only': True, 'backing': None,
                    'file': {'driver': 'file', 'filename': '/img,1',
                             'read-only': True}}
    overlay = json.loads(args[args.index(
        '-blockdev', args.index('-blockdev') + 1) + 1])
    assert overlay['backing'] == 'base'
    assert overlay['file']['filename'] == '/o.qcow2'


def test_ide_on_q35_is_refused_as_libvirt_does():
    with pytest.raises(devices.Unbootable) as e:
        plan_for({'hw_machine_type': 'q35'}, 'ide')
    assert 'IDE' in str(e.value)


def test_safety_arguments():
    args = devices.safety_args('/c.log', '/q.sock', 'tcg,tb-size=128')
    for wanted in ('-no-reboot', 'pvpanic', 'none'):
        assert wanted in args
    assert args[args.index('-nic') + 1] == 'none'
    assert args[args.index('-sandbox') + 1].startswith('on,')


def test_what_this_host_cannot_emulate_is_not_a_failure():
    state = devices.target({'hw_architecture': 'aarch64'})
    with pytest.raises(devices.CannotEmulate):
        devices.plan(state, 'uefi', '/i', 'qcow2', '/o', None)
    with pytest.raises(devices.CannotEmulate):
        devices.plan(devices.target({}), 'uefi', '/i', 'qcow2', '/o', None)
