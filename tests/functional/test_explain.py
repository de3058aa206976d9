"""virtio-explain against the real local cloud, through both CLIs."""

import csv
import io
import json

import pytest
import yaml

from tests.fixtures import images
from tests.functional.conftest import run
from tests.functional.conftest import run_json
import load_samples

# vioscsi installed (service and file) but demand-start: the staged case.
images.WINDOWS_VARIANTS.setdefault('vioscsi-demand', dict(
    services={'viostor': 0, 'vioscsi': 3, 'netkvm': 3, 'storahci': 3,
              'intelide': 3, 'pciide': 3, 'atapi': 3},
    cdd=[('pci#ven_1af4&dev_1001&subsys_00021af4&rev_00', 'viostor')]))


def by_name(rows):
    return {r['Name']: r for r in rows}


@pytest.fixture
def policy_file(tmp_path):
    path = tmp_path / 'glance-virtio.conf'
    path.write_text('[inspect]\ncache_dir = %s\n' % (tmp_path / 'cache'))
    return str(path)


def test_explain_every_sample_image(catalogue):
    tag, loaded = catalogue
    rows, result = run_json('explain', '--tag', tag, check=3)
    rows = by_name(rows)
    assert set(rows) == set(loaded)
    for name, row in rows.items():
        current = row['Disk Bus']['current']
        assert row['Devices']['current'] or row['Errors'], name
        assert row['Disk Bus']['target'] is None, name
        assert current, name
    virtio = rows['ubuntu-20.04-virtio']
    assert virtio['Root Disk']['current'] == 'vda (virtio, /dev/vda)'
    assert virtio['Config Drive']['current'] == 'hda (ide)'
    assert virtio['Controllers']['current'] == [
        '1af4:1001 Virtio block device (virtio_blk / viostor)',
        '8086:7010 82371SB PIIX3 IDE [Natoma/Triton II] (ata_piix / '
        'intelide (with pciide, atapi))']
    assert virtio['Errors'] == []
    q35 = rows['rocky-9-ide-q35']
    assert q35['Machine Type']['current'] == 'q35'
    assert q35['Config Drive']['current'] == 'sda (sata)'
    assert any('has no IDE' in e for e in q35['Errors'])
    assert 'not a bus Nova knows' in rows['debian-11-bad-enum']['Errors'][0]
    assert 'UnsupportedHardware' in rows['debian-11-xen-bus']['Errors'][0]
    lsi = rows['rhel-8-scsi-no-model']
    assert lsi['Libvirt Adds']['current'] == [
        '<controller type="scsi" index="0" model="lsilogic"/>',
        '<controller type="ide" index="0"/>']
    assert 'Traceback' not in result.stderr


def test_bus_side_by_side_through_the_openstack_plugin(catalogue):
    tag, loaded = catalogue
    image_id = loaded['ubuntu-20.04-virtio'][0]
    rows, _ = run_json('image', 'virtio-explain', image_id, '--bus', 'scsi',
                       '--machine-type', 'q35', tool='openstack', check=0)
    row = rows[0]
    assert row['Disk Bus'] == {'current': 'virtio',
                               'target': 'scsi/virtio-scsi'}
    assert row['Machine Type'] == {'current': 'pc', 'target': 'q35'}
    assert '/dev/vda1 -> /dev/sda1' in row['Renames']
    assert 'up to 256 disks on one controller' in row['Gains']
    assert 'one PCI slot per disk' in row['Loses']
    target_xml = row['XML']['target']
    assert '<target dev="sda" bus="scsi"/>' in target_xml[0]
    assert target_xml[-1] == \
        '<controller type="scsi" index="0" model="virtio-scsi"/>'
    assert [d['dev'] for d in row['Devices']['target']] == ['sda', 'sdb']
    assert row['Devices']['target'][1]['bus'] == 'sata'
    assert row['Controllers']['target'][0].startswith('1af4:1048')


def test_every_format_and_the_flavor_disks(catalogue):
    tag, loaded = catalogue
    image_id = loaded['debian-12-ide'][0]
    base = ['explain', image_id, '--bus', 'virtio', '--ephemeral', '--swap']
    table = run(*base, check=0).stdout
    assert 'hda (ide, /dev/sda) -> vda (virtio, /dev/vda)' in table
    assert 'at most 4 ide devices' in table  # lost by the change
    value = run(*base, '-f', 'value', '-c', 'Root Disk', check=0).stdout
    assert value.strip() == "{'current': 'hda (ide, /dev/sda)', " \
        "'target': 'vda (virtio, /dev/vda)'}"
    rows = list(csv.DictReader(io.StringIO(run(*base, '-f', 'csv',
                                               check=0).stdout)))
    assert rows[0]['Config Drive'].startswith("{'current': 'hdd (ide)'")
    loaded_yaml = yaml.safe_load(run(*base, '-f', 'yaml', check=0).stdout)
    assert [d['dev'] for d in loaded_yaml[0]['Devices']['target']] == \
        ['vda', 'vdb', 'vdc', 'hda']
    data = json.loads(run(*base, '-f', 'json', check=0).stdout)[0]
    assert data['Limits']['current'][0].startswith(
        'ide holds at most 4 devices, the config drive included: 4 used')
    none = json.loads(run(*base, '--no-config-drive', '-f', 'json',
                          check=0).stdout)[0]
    assert none['Config Drive'] == {'current': None, 'target': None}


def test_bad_input_is_a_clear_error(catalogue):
    tag, loaded = catalogue
    image_id = loaded['debian-12-ide'][0]
    result = run('explain', image_id, '--scsi-model', 'virtio-scsi',
                 check=2)
    assert '--scsi-model needs --bus scsi' in result.stderr
    assert 'Traceback' not in result.stderr
    result = run('explain', 'no-such-image-gvtest', '-f', 'json', check=1)
    assert result.stdout == ''
    assert result.stderr.strip() == ('no image named no-such-image-gvtest '
                                     'is visible to this project')


def _table_cells(text, name):
    """The cells of the table row naming name."""
    line = next(x for x in text.splitlines() if ' %s ' % name in x)
    return [c.strip() for c in line.split('|')[1:-1]]


def test_site_machine_type_per_architecture(admin, tag, tmp_path):
    """[policy] hw_machine_type per architecture, as Nova reads nova.conf.

    An aarch64 image gets the aarch64 entry (and its scsi cdrom), an
    x86_64 one the x86_64 entry; -c on a --long column shows it; empty
    cells are empty, as in audit, inspect and set.
    """
    path = tmp_path / 'glance-virtio.conf'
    path.write_text('[policy]\nhw_machine_type = x86_64=q35,'
                    'aarch64=virt-8.2\n')
    config = ['--config-file', str(path)]
    try:
        arm = load_samples.create(admin, 'explain-arm', [tag],
                                  {'hw_architecture': 'aarch64'})
        x86 = load_samples.create(admin, 'explain-x86', [tag], {})
        rows, _ = run_json(*config, 'explain', '--tag', tag, check=0)
        rows = by_name(rows)
        assert rows['explain-arm']['Machine Type'] == {
            'current': 'virt-8.2', 'target': None}
        assert rows['explain-arm']['Config Drive']['current'] == 'sda (scsi)'
        assert rows['explain-x86']['Machine Type']['current'] == 'q35'
        table = run(*config, 'explain', arm['id'], '-c', 'Name', '-c',
                    'Machine Type', '-c', 'Devices', check=0).stdout
        assert 'Devices' in table.splitlines()[1], table
        assert 'virt-8.2' in table and 'vda' in table, table
        table = run(*config, 'explain', x86['id'], '-c', 'Name', '-c',
                    'Renames', '-c', 'Guest', check=0).stdout
        assert _table_cells(table, 'explain-x86') == ['explain-x86', '', '']
    finally:
        load_samples.delete_tagged(admin, tag)


@pytest.fixture(scope='module')
def uploaded(admin, tmp_path_factory):
    """Real guest images in Glance: {name: id}."""
    work = str(tmp_path_factory.mktemp('explain-images'))
    tag = 'gvtest-explain'
    load_samples.delete_tagged(admin, tag)
    specs = [('vda-names', images.builtin_raw(work), 'raw',
              {'hw_disk_bus': 'virtio', 'os_type': 'linux'}),
             ('uuid-names', images.debian_qcow2(work), 'qcow2',
              {'hw_disk_bus': 'virtio', 'os_type': 'linux'}),
             ('win-viostor', images.windows_qcow2(work, 'viostor'), 'qcow2',
              {'hw_disk_bus': 'virtio', 'os_type': 'windows'}),
             ('win-demand', images.windows_qcow2(work, 'vioscsi-demand'),
              'qcow2', {'hw_disk_bus': 'virtio', 'os_type': 'windows'})]
    loaded = {}
    for name, path, fmt, props in specs:
        with open(path, 'rb') as data:
            image = load_samples.create(admin, 'explain-' + name, [tag],
                                        props, data=data, disk_format=fmt)
        loaded[name] = image['id']
    yield loaded
    load_samples.delete_tagged(admin, tag)


def test_deep_reads_what_the_guest_names(uploaded, policy_file):
    ids = [uploaded[n] for n in ('vda-names', 'uuid-names', 'win-viostor')]
    rows, _ = run_json('--config-file', policy_file, 'explain', *ids,
                       '--bus', 'scsi', '--deep', check=0)
    rows = by_name(rows)
    vda = rows['explain-vda-names']['Guest']
    assert vda[0] == 'breaks'
    assert 'fstab /dev/vda5: becomes /dev/sda5: the boot breaks (use UUID= '\
        'or LABEL=)' in vda
    assert 'boot loader root= /dev/vda5: becomes /dev/sda5: the boot breaks '\
        '(use UUID= or LABEL=)' in vda
    assert any(line.startswith('initramfs virtio_scsi: missing')
               for line in vda)
    uuid = rows['explain-uuid-names']['Guest']
    assert uuid[0] == 'ok', uuid
    assert any('survives' in line for line in uuid)
    win = rows['explain-win-viostor']['Guest']
    assert win[0] == 'breaks' and win[1].startswith('vioscsi boot-start: '
                                                    'missing'), win


def test_deep_windows_installed_but_demand_start_is_staged(
        uploaded, policy_file, tmp_path):
    image_id = uploaded['win-demand']
    rows, _ = run_json('--config-file', policy_file, 'explain', image_id,
                       '--bus', 'scsi', '--deep', check=0)
    guest = rows[0]['Guest']
    assert guest[0] == 'staged', guest
    assert any('Start = 0, and no StartOverride' in line for line in guest)
    path = str(tmp_path / 'win.md')
    run('--config-file', policy_file, 'set', image_id, '--bus', 'scsi',
        '--deep', '--dry-run', '--runbook', path, check=5)
    with open(path) as f:
        text = f.read()
    staged = text.split('## Windows: staged cut-over', 1)[1].split(
        '\n## ', 1)[0]
    assert '(`%s`)' % image_id in staged
    assert 'extra small volume on the scsi bus' in staged
    assert '- Action: **blocked**' in text
