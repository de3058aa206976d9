"""The rules against what Nova 34.0.0 and libvirt do (issue 8).

Each test names the Nova or libvirt source it was checked against.
"""

import pytest

from glance_virtio import audit
from glance_virtio import conf
from glance_virtio.knowledge import detect
from glance_virtio import model
from glance_virtio import plan
from glance_virtio.knowledge import rules

UBUNTU = {'os_type': 'linux', 'os_distro': 'ubuntu', 'os_version': '22.04'}
GOOD = dict(UBUNTU, hw_disk_bus='scsi', hw_scsi_model='virtio-scsi')


def policy_for(x86_64):
    """The site policy stating the computes' x86_64 machine type."""
    return model.Policy(machine_types={'x86_64': x86_64})


def facts(props, name='', **kwargs):
    return detect.facts(model.Image('img', name, properties=props, **kwargs))


def found(props, policy=model.Policy(), **kwargs):
    return rules.evaluate(facts(props, **kwargs),
                          rules.Context(policy=policy))


def by_rule(props, rule_id, **kwargs):
    return [f.message for f in found(props, **kwargs) if f.rule == rule_id]


@pytest.mark.parametrize('arch,expected', [
    ('x86_64', 'pc'), ('i686', 'pc'), ('aarch64', 'virt'),
    ('armv7l', 'virt'), ('ppc64le', 'pseries'), ('s390x', 's390-ccw-virtio'),
    ('AMD64', 'pc')])
def test_default_machine_type_per_architecture(arch, expected):
    """Default machine type per architecture.

    nova/virt/libvirt/utils.py get_default_machine_type (l.657-685) and
    Architecture.canonicalize (nova/objects/fields.py l.193).
    """
    assert rules.machine_type(facts({'hw_architecture': arch}),
                              model.Policy()) == expected


def test_policy_machine_type_picked_by_image_architecture():
    """Policy machine type picked by image architecture.

    get_default_machine_type: [libvirt]hw_machine_type entries host-arch=
    machine-type, matched against get_arch(image) (hw_architecture, or the
    legacy 'architecture' via image_meta.py _legacy_property_map).
    """
    policy = model.Policy(machine_types=conf.machine_types(
        ['x86_64=q35', 'aarch64=virt-9.2']))
    assert rules.machine_type(facts({}), policy) == 'q35'
    assert rules.machine_type(facts({'architecture': 'aarch64'}),
                              policy) == 'virt-9.2'
    assert rules.machine_type(facts({'hw_architecture': 'ppc64le'}),
                              policy) == 'pseries'
    assert rules.machine_type(facts({'hw_machine_type': 'pc'}),
                              policy) == 'pc'


def test_policy_file_takes_nova_conf_format(tmp_path):
    """Policy file takes nova conf format.

    nova/conf/libvirt.py hw_machine_type (l.764): a ListOpt of
    host-arch=machine-type; a bare value still means x86_64 here.
    """
    path = tmp_path / 'gv.conf'
    path.write_text('[policy]\nhw_machine_type = x86_64=q35,aarch64=virt\n')
    policy = conf.policy(conf.load(str(path)))
    assert policy.machine_types == {'x86_64': 'q35', 'aarch64': 'virt'}
    path.write_text('[policy]\ndefault_machine_type = q35\n')
    assert conf.policy(conf.load(str(path))).machine_types == {
        'x86_64': 'q35'}
    assert conf.policy(conf.load()).machine_types == {}
    with pytest.raises(ValueError, match='x86_64='):
        conf.machine_types(['x86_64='])


@pytest.mark.parametrize('props', [
    dict(UBUNTU, hw_disk_bus='ide'),
    dict(GOOD, hw_cdrom_bus='ide'),
    dict(GOOD, hw_rescue_bus='ide')])
def test_ide_without_machine_type_is_an_assumption(props):
    """Ide without machine type is an assumption.

    utils.py get_machine_type: no hw_machine_type means the compute's
    [libvirt]hw_machine_type; libvirt qemu_validate.c refuses IDE on q35.
    """
    warned = by_rule(props, 'GV031')
    assert warned and 'pc' in warned[0] and 'site policy' in warned[0]
    assert 'x86_64 compute is assumed' in warned[0]
    assert not by_rule(props, 'GV003')
    assert by_rule(props, 'GV003', policy=policy_for('q35'))
    assert not by_rule(props, 'GV031', policy=policy_for('q35'))
    assert not by_rule(props, 'GV031', policy=policy_for('pc'))
    explicit = dict(props, hw_machine_type='pc-i440fx-8.2')
    assert not by_rule(explicit, 'GV031') and not by_rule(explicit, 'GV003')


@pytest.mark.parametrize('extra', [
    {'hw_machine_type': 'q35'}, {'hw_machine_type': 'pc-q35-rhel9.4.0'},
    {'hw_architecture': 'aarch64'}, {'hw_architecture': 'ppc64le'},
    {'hw_architecture': 's390x'},
    {'hw_architecture': 'aarch64', 'hw_machine_type': 'virt-8.2'}])
def test_machine_types_without_ide(extra):
    """Machine types without ide.

    libvirt qemu_validate.c: "IDE controllers are unsupported for this QEMU
    binary or machine type" (q35, virt, pseries, s390-ccw-virtio); the
    non-x86 defaults from get_default_machine_type (utils.py l.676).
    """
    messages = by_rule(dict(UBUNTU, hw_disk_bus='ide', **extra), 'GV003')
    assert messages
    assert messages[0].index('virtio') < messages[0].index('sata')


@pytest.mark.parametrize('value', ['q53', 'bogus', 'pc_q35'])
def test_unknown_machine_type_warns(value):
    """Unknown machine type warns.

    nova/virt/libvirt/host.py Host._check_machine_type (l.1300) raises
    InvalidMachineType for a machine type the host does not offer.
    """
    messages = by_rule(dict(GOOD, hw_machine_type=value), 'GV032')
    assert messages and value in messages[0]


@pytest.mark.parametrize('value', [
    'pc', 'q35', 'pc-q35-9.0', 'pc-i440fx-jammy', 'pc-q35-rhel9.4.0',
    'virt', 'virt-9.2', 'pseries-8.2', 's390-ccw-virtio-9.0'])
def test_known_machine_types_pass(value):
    """Known machine types pass.

    QEMU's machine type families (pc/i440fx, q35, virt, pseries,
    s390-ccw-virtio) and their versioned names.
    """
    assert not by_rule(dict(GOOD, hw_machine_type=value), 'GV032')


def test_set_machine_type_is_validated_the_same_way():
    """Set machine type is validated the same way.

    Host._check_machine_type (host.py l.1300): set --machine-type q53
    carries the same GV032 warning in its plan.
    """
    change = plan.plan_one(model.Image('i', properties=dict(UBUNTU)),
                           plan.Target('virtio', machine_type='q53'),
                           model.Policy())
    assert 'GV032' in {f.rule for f in change.findings}


def test_viommu_needs_q35_or_virt():
    """Viommu needs q35 or virt.

    nova/virt/libvirt/driver.py _get_iommu_model (l.8238):
    InvalidVIOMMUMachineType off q35 (x86) or virt (aarch64).
    """
    props = dict(GOOD, hw_viommu_model='virtio')
    assert by_rule(dict(props, hw_machine_type='pc'), 'GV033')
    assert by_rule(props, 'GV033', policy=policy_for('pc'))
    assert not by_rule(props, 'GV033', policy=policy_for('q35'))
    assert by_rule(props, 'GV031') and not by_rule(props, 'GV033')
    assert not by_rule(dict(props, hw_architecture='aarch64'), 'GV033')
    assert by_rule(dict(props, hw_architecture='s390x'), 'GV033')


def test_sev_needs_uefi_q35_and_a_boot_bus_it_supports():
    """Sev needs uefi q35 and a boot bus it supports.

    nova/virt/hardware.py MemEncryptionConfig.check_constraints (l.157):
    hw_firmware_type=uefi, a q35 machine type; Nova docs admin/sev.rst: boot
    disk on virtio, scsi with virtio-scsi, or sata.
    """
    sev = dict(UBUNTU, hw_mem_encryption='True', hw_firmware_type='uefi',
               hw_machine_type='q35')
    assert not by_rule(dict(sev, hw_disk_bus='virtio'), 'GV034')
    assert not by_rule(dict(sev, hw_disk_bus='sata'), 'GV034')
    assert not by_rule(dict(sev, hw_disk_bus='scsi',
                            hw_scsi_model='virtio-scsi'), 'GV034')
    assert by_rule(dict(sev, hw_disk_bus='scsi', hw_scsi_model='lsilogic'),
                   'GV034')
    assert by_rule(dict(sev, hw_disk_bus='ide'), 'GV034')
    assert by_rule(dict(sev, hw_firmware_type='bios'), 'GV034')
    assert by_rule(dict(sev, hw_machine_type='pc'), 'GV034')
    assert not by_rule(dict(sev, hw_mem_encryption='no'), 'GV034')


def test_vmware_adaptertype_is_judged_as_nova_reads_it():
    """Vmware adaptertype is judged as nova reads it.

    nova/objects/image_meta.py _set_attr_from_legacy_names (l.688-702):
    vmware_adaptertype ide -> hw_disk_bus=ide, else hw_disk_bus=scsi and
    hw_scsi_model=<value>; current names override key by key (from_dict).
    """
    eff = detect.effective_properties
    assert eff({'vmware_adaptertype': 'lsiLogic'}) == {
        'vmware_adaptertype': 'lsiLogic', 'hw_disk_bus': 'scsi',
        'hw_scsi_model': 'lsiLogic'}
    assert eff({'vmware_adaptertype': 'ide'})['hw_disk_bus'] == 'ide'
    mixed = eff({'vmware_adaptertype': 'lsiLogic', 'hw_disk_bus': 'virtio'})
    assert mixed['hw_disk_bus'] == 'virtio'
    assert mixed['hw_scsi_model'] == 'lsiLogic'
    win = {'os_type': 'windows', 'vmware_adaptertype': 'lsiLogic',
           'virtio_drivers': 'viostor,netkvm'}
    results = found(win)
    assert any(f.rule == 'GV011' and 'lsilogic controller' in f.message
               for f in results)
    assert any(f.rule == 'GV007' and 'vmware_adaptertype' in f.message
               for f in results)
    assert by_rule(dict(UBUNTU, vmware_adaptertype='IDE'), 'GV001')


def test_vmware_ostype_is_os_distro():
    """Vmware ostype is os distro.

    image_meta.py _legacy_property_map (l.660): vmware_ostype ->
    os_distro.
    """
    guest = facts({'vmware_ostype': 'windows9Server64Guest'}).os
    assert guest.family == 'windows' and guest.source == 'property'


@pytest.mark.parametrize('target', ['virtio', 'scsi', 'sata'])
def test_set_removes_vmware_adaptertype(target):
    """Set removes vmware adaptertype.

    image_meta.py _set_attr_from_legacy_names: left behind, the legacy
    property still gives Nova a scsi bus and its controller.
    """
    image = model.Image('i', properties=dict(
        UBUNTU, vmware_adaptertype='lsiLogic'))
    change = plan.plan_one(image, plan.Target(target), model.Policy())
    assert 'vmware_adaptertype' in change.remove
    after = detect.effective_properties(
        plan.apply_to(image, change.set, change.remove).properties)
    assert after['hw_disk_bus'] == target
    assert after.get('hw_scsi_model') == (
        'virtio-scsi' if target == 'scsi' else None)


def test_iso_boots_from_the_cdrom_bus():
    """Iso boots from the cdrom bus.

    nova/virt/libvirt/blockinfo.py get_root_info (l.427): disk_format=iso
    boots from a cdrom on the cdrom bus.
    """
    win = {'os_type': 'windows'}
    assert not by_rule(win, 'GV011', disk_format='iso')
    assert by_rule(win, 'GV011')
    assert by_rule(dict(win, hw_cdrom_bus='scsi',
                        hw_scsi_model='virtio-scsi'), 'GV011',
                   disk_format='iso')
    assert by_rule(dict(UBUNTU, hw_cdrom_bus='ide'), 'GV003',
                   policy=policy_for('q35'),
                   disk_format='iso')


@pytest.mark.parametrize('props,expected', [
    ({}, 'ide'), ({'hw_machine_type': 'q35'}, 'sata'),
    ({'hw_architecture': 'aarch64'}, 'scsi'),
    ({'hw_architecture': 'ppc64le'}, 'scsi'),
    ({'hw_architecture': 's390x'}, 'scsi'),
    ({'hw_cdrom_bus': 'usb'}, 'usb')])
def test_config_drive_bus(props, expected):
    """Config drive bus.

    blockinfo.py get_disk_bus_for_device_type (l.219-276): the config
    drive is a cdrom on hw_cdrom_bus, else scsi on ppc/s390/aarch64, sata on
    q35, ide otherwise.
    """
    assert rules.cdrom_bus(facts(props), model.Policy()) == expected


def test_ide_count_includes_the_config_drive():
    """Ide count includes the config drive.

    blockinfo.py get_dev_count_for_disk_bus (l.160: ide holds 4) and
    _get_disk_mapping (config drive last, on the cdrom bus).
    """
    on_ide = by_rule(dict(UBUNTU, hw_disk_bus='ide'), 'GV004')[0]
    assert 'config drive' in on_ide and 'leave 2' in on_ide
    on_sata = by_rule(dict(UBUNTU, hw_disk_bus='ide', hw_cdrom_bus='sata'),
                      'GV004')[0]
    assert 'leaves 3' in on_sata


@pytest.mark.parametrize('bus', ['ide', 'sata'])
def test_emulated_buses_cannot_hotplug(bus):
    """Emulated buses cannot hotplug.

    libvirt src/qemu/qemu_hotplug.c: "disk bus '%s' cannot be hotplugged"
    for ide, sata and fdc.
    """
    message = by_rule(dict(UBUNTU, hw_disk_bus=bus), 'GV004')[0]
    assert "disk bus '%s' cannot be hotplugged" % bus in message


def test_q35_virtio_mentions_pcie_ports():
    """Q35 virtio mentions pcie ports.

    nova/conf/libvirt.py num_pcie_ports (l.843): "By default we have just
    1-2 free ports which limits hotplug".
    """
    message = by_rule(dict(UBUNTU, hw_disk_bus='virtio'), 'GV036',
                      policy=policy_for('q35'))[0]
    assert '[libvirt]num_pcie_ports' in message
    assert not by_rule(dict(UBUNTU, hw_disk_bus='virtio'), 'GV036')


@pytest.mark.parametrize('props', [
    dict(UBUNTU, hw_disk_bus='fdc'),
    dict(GOOD, hw_cdrom_bus='virtio'), dict(GOOD, hw_cdrom_bus='fdc'),
    dict(GOOD, hw_rescue_bus='fdc'),
    dict(GOOD, hw_rescue_bus='virtio', hw_rescue_device='cdrom')])
def test_buses_that_cannot_carry_the_device(props):
    """Buses that cannot carry the device.

    libvirt: "cdrom device with virtio bus isn't supported"
    (qemu_hotplug.c); fdc carries floppies only; blockinfo.py get_rescue_bus
    (l.763) applies hw_rescue_bus to the rescue device.
    """
    assert by_rule(props, 'GV030')


def test_rescue_bus_ide_is_checked_like_the_others():
    """blockinfo.py get_rescue_bus (l.763): hw_rescue_bus is used as is."""
    assert by_rule(dict(GOOD, hw_rescue_bus='ide'), 'GV003',
                   policy=policy_for('q35'))
    assert not by_rule(dict(GOOD, hw_rescue_bus='virtio'), 'GV030')


def test_rescue_bus_scsi_takes_the_instance_controller():
    """Rescue bus scsi takes the instance controller.

    driver.py _get_scsi_controller (l.6318) reads the instance's image:
    a rescue image's hw_rescue_bus=scsi asks for no model of its own.
    """
    assert not by_rule(dict(UBUNTU, hw_disk_bus='virtio',
                            hw_rescue_bus='scsi'), 'GV005')


def test_ibmvscsi_is_an_error_only_off_ppc64():
    """Ibmvscsi is an error only off ppc64.

    libvirt qemuDomainDefaultSCSIControllerModel: ibmvscsi is the pseries
    controller; QEMU has it only for POWER.
    """
    props = dict(UBUNTU, hw_disk_bus='scsi', hw_scsi_model='ibmvscsi')
    assert by_rule(props, 'GV002')
    assert not by_rule(dict(props, hw_architecture='ppc64le'), 'GV002')
    assert not by_rule(dict(props, hw_architecture='ppc64le'), 'GV007')


def test_spapr_vlan_only_on_ppc():
    """Spapr vlan only on ppc.

    nova/virt/libvirt/vif.py SUPPORTED_VIF_MODELS (l.52) lists spapr-vlan;
    QEMU has it only for pseries.
    """
    props = dict(GOOD, hw_vif_model='spapr-vlan')
    assert by_rule(props, 'GV002')
    assert not by_rule(dict(props, hw_architecture='ppc64'), 'GV002')


def test_secure_boot_is_architecture_aware():
    """Secure boot is architecture aware.

    driver.py _configure_guest_by_virt_type (l.7343: aarch64 defaults to
    uefi) and _check_secure_boot_support (l.7221: q35 only on x86_64).
    """
    arm = dict(GOOD, hw_architecture='aarch64', os_secure_boot='required')
    assert not by_rule(arm, 'GV022')
    x86 = dict(GOOD, os_secure_boot='required', hw_firmware_type='uefi')
    assert by_rule(dict(x86, hw_machine_type='pc'), 'GV022')
    assert not by_rule(dict(x86, hw_machine_type='q35'), 'GV022')
    assert by_rule(x86, 'GV031') and not by_rule(x86, 'GV022')


@pytest.mark.parametrize('props,fires', [
    ({'hw_scsi_model': 'lsilogic'}, True), ({}, True),
    ({'hw_scsi_model': 'virtio-scsi'}, False)])
def test_uefi_cannot_boot_from_lsi(props, fires):
    """Uefi cannot boot from lsi.

    edk2 OvmfPkg/OvmfPkgX64.dsc LSI_SCSI_ENABLE = FALSE; with no model
    libvirt picks lsilogic (qemuDomainDefaultSCSIControllerModel).
    """
    image = dict(UBUNTU, hw_disk_bus='scsi', hw_firmware_type='uefi', **props)
    assert bool(by_rule(image, 'GV035')) == fires
    assert not by_rule(dict(image, hw_firmware_type='bios'), 'GV035')


def test_gv014_does_not_claim_an_unset_vif_model():
    """Gv014 does not claim an unset vif model.

    vif.py LibvirtGenericVIFDriver.get_vif_model (l.164): virtio when
    hw_vif_model is unset.
    """
    unset = by_rule({'os_type': 'windows', 'hw_disk_bus': 'ide'}, 'GV014')[0]
    assert unset.startswith('hw_vif_model unset: Nova defaults to virtio')
    explicit = by_rule({'os_type': 'windows', 'hw_disk_bus': 'ide',
                        'hw_vif_model': 'virtio'}, 'GV014')[0]
    assert explicit.startswith('hw_vif_model=virtio needs netkvm')


def test_recommended_bus_is_one_set_accepts():
    """Recommended bus is one set accepts.

    Issue 7: the Recommended Bus must pass `set --bus` (plan.plan_one);
    libvirt qemu_validate.c refuses IDE on q35.
    """
    win_ide = model.Image('w', properties={'os_type': 'windows',
                                           'hw_disk_bus': 'ide'})
    win = detect.facts(win_ide)
    assert audit.recommend(win, policy_for('pc')) == ('ide', '')
    bus, why = audit.recommend(win, policy_for('q35'))
    assert bus == audit.NONE_PROVEN and 'ide: GV003' in why
    unset = detect.facts(model.Image('u', properties={'os_type': 'windows'}))
    bus, why = audit.recommend(unset, model.Policy())
    assert bus == audit.NONE_PROVEN and 'GV027' in why
    for policy in (policy_for('pc'), policy_for('q35'), model.Policy()):
        for image in (win_ide, model.Image('x', properties=dict(
                UBUNTU, hw_disk_bus='ide'))):
            bus, _ = audit.recommend(detect.facts(image), policy)
            if bus not in (audit.NONE_PROVEN, model.UNKNOWN):
                change = plan.plan_one(image, plan.Target(bus), policy)
                assert change.action != plan.BLOCKED, (bus, change.reason)


def test_sources_are_public():
    """Sources are public.

    Issue 7: every Source names a public file or document, never a file
    the project does not ship.
    """
    for rule in rules.RULES:
        assert 'KNOWLEDGE' not in rule.source, rule.id
        if 'nova/' in rule.source:
            assert 'Nova 34.0.0' in rule.source, rule.id


def test_recommendation_ignores_errors_the_bus_does_not_cause():
    """A secure-boot error does not disqualify a bus.

    driver.py _check_secure_boot_support (l.7221): the error blocks `set`
    whatever the bus; the recommendation says so.
    """
    image = model.Image('s', properties=dict(
        UBUNTU, hw_disk_bus='virtio', os_secure_boot='required',
        hw_machine_type='pc'))
    bus, why = audit.recommend(detect.facts(image), model.Policy())
    assert bus == 'scsi' and 'GV022' in why and 'not a bus' in why


def test_iso_on_a_virtio_cdrom_is_gv030_only():
    """No driver verdict for a bus the cdrom cannot use.

    libvirt qemu_hotplug.c: "cdrom device with virtio bus isn't supported".
    """
    results = found({'os_type': 'windows', 'hw_cdrom_bus': 'virtio'},
                    disk_format='iso')
    assert {'GV030'} <= {f.rule for f in results}
    assert not {'GV010', 'GV011'} & {f.rule for f in results}


def test_pcie_ports_follow_the_volume_bus_of_an_iso():
    """Volumes attach on hw_disk_bus, not the cdrom bus.

    blockinfo.py get_info_from_bdm (l.364) and get_disk_bus_for_device_type:
    a volume without a bus takes the image's disk bus.
    """
    iso = {'os_type': 'linux', 'hw_cdrom_bus': 'sata',
           'hw_machine_type': 'q35'}
    assert by_rule(iso, 'GV036', disk_format='iso')
    assert not by_rule(dict(iso, hw_disk_bus='scsi',
                            hw_scsi_model='virtio-scsi'), 'GV036',
                       disk_format='iso')
