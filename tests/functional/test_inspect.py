"""Guest inspection of real disk images in Glance, through Range reads."""

import json
import os
import uuid

import pytest

from tests.fixtures import bootloaders
from tests.fixtures import images
from tests.functional.conftest import run
from tests.functional.conftest import run_json
import load_samples

WIN_SCSI = {'os_type': 'windows', 'hw_disk_bus': 'scsi',
            'hw_scsi_model': 'virtio-scsi', 'hw_vif_model': 'e1000'}


@pytest.fixture(scope='session')
def uploaded(admin, tmp_path_factory):
    """Real fixture images uploaded to Glance: {name: (id, path)}."""
    work = str(tmp_path_factory.mktemp('functional-images'))
    # A tag of its own: other runs on the same cloud keep their images.
    tag = 'gvtest-inspect-' + uuid.uuid4().hex[:8]
    specs = [
        ('debian', images.debian_qcow2(work), 'qcow2', {'os_type': 'linux'}),
        ('rhel', images.rhel_qcow2(work), 'qcow2',
         {'hw_disk_bus': 'virtio'}),
        ('win-both', images.windows_qcow2(work, 'both'), 'qcow2', WIN_SCSI),
        ('win-viostor', images.windows_qcow2(work, 'viostor'), 'qcow2',
         WIN_SCSI),
        ('zeroed', images.zero_raw(work), 'raw', {}),
    ]
    loaded = {}
    for name, path, fmt, props in specs:
        with open(path, 'rb') as data:
            image = load_samples.create(admin, 'inspect-' + name, [tag],
                                        props, data=data, disk_format=fmt)
        loaded[name] = (image['id'], path)
    yield tag, loaded
    load_samples.delete_tagged(admin, tag)


@pytest.fixture
def policy_file(tmp_path):
    path = tmp_path / 'glance-virtio.conf'
    path.write_text('[inspect]\ncache_dir = %s\n' % (tmp_path / 'cache'))
    return str(path)


def rows_by_name(rows):
    return {r['Name']: r for r in rows}


def test_inspect_through_range_reads(uploaded, policy_file):
    tag, loaded = uploaded
    ids = [loaded[n][0] for n in ('debian', 'rhel', 'win-both', 'zeroed')]
    rows, result = run_json('--config-file', policy_file, 'inspect', *ids,
                            '--long', check=0)
    rows = rows_by_name(rows)
    debian = rows['inspect-debian']
    assert debian['Status'] == 'ok' and debian['Format'] == 'qcow2'
    assert debian['Drivers']['virtio_scsi'] == 'ready'
    # The image holds a 2 GiB disk: well under 1% of it is read.
    assert debian['Bytes Read'] < (2 << 30) / 100
    assert any('virtio_blk' in k['modules'] for k in debian['Kernels'])
    rhel = rows['inspect-rhel']
    assert rhel['OS'] == 'linux' and rhel['Version'].startswith('rhel')
    assert rhel['Drivers']['virtio_scsi'] == 'missing' or \
        rhel['Drivers']['virtio_scsi'] == 'unknown'
    assert 'not in initramfs' in json.dumps(rhel['Evidence'])
    win = rows['inspect-win-both']
    assert win['OS'] == 'windows'
    assert win['Drivers']['virtio_blk'] == 'ready'
    assert win['Drivers']['virtio_scsi'] == 'ready'
    assert win['Windows Drivers']['vioscsi']['start'] == 0
    zeroed = rows['inspect-zeroed']
    assert zeroed['OS'] == 'unknown'
    assert 'all zeros' in ' '.join(zeroed['Notes'])
    assert set(zeroed['Drivers'].values()) == {'unknown'}


def test_inspect_local_file_needs_no_cloud(uploaded, policy_file):
    path = uploaded[1]['win-viostor'][1]
    rows, _ = run_json('--config-file', policy_file, 'inspect', '--file',
                       path, cloud=None, check=0,
                       env={'OS_CLIENT_CONFIG_FILE': '/nonexistent'})
    assert rows[0]['Drivers']['virtio_blk'] == 'ready'
    assert rows[0]['Drivers']['virtio_scsi'] == 'missing'


def test_deep_audit_replaces_metadata_guesses_and_caches(uploaded,
                                                         policy_file):
    tag, loaded = uploaded
    rows, _ = run_json('audit', '--tag', tag, check=0)
    plain = rows_by_name(rows)
    assert 'GV011' in {f['rule'] for f in plain['inspect-win-both']
                       ['Findings']}
    rows, _ = run_json('--config-file', policy_file, 'audit', '--tag', tag,
                       '--deep', check=0)
    deep = rows_by_name(rows)
    both = {f['rule'] for f in deep['inspect-win-both']['Findings']}
    assert not both & {'GV010', 'GV011'}
    assert deep['inspect-win-both']['OS Source'] == 'inspection'
    viostor = {f['rule'] for f in deep['inspect-win-viostor']['Findings']}
    assert 'GV010' in viostor
    assert deep['inspect-debian']['Readiness']['virtio_scsi'] == 'ready'
    cache = os.path.join(os.path.dirname(policy_file), 'cache')
    assert len(os.listdir(cache)) >= 3
    rows, _ = run_json('--config-file', policy_file, 'inspect',
                       loaded['debian'][0], '--long', check=0)
    assert rows[0]['Cached'] is True


def test_deep_set_judges_by_what_the_disk_holds(uploaded, policy_file):
    tag, loaded = uploaded
    rows, _ = run_json('--config-file', policy_file, 'set', '--tag', tag,
                       '--bus', 'virtio', '--deep', '--dry-run', check=0)
    actions = {r['Name']: r['Action'] for r in rows}
    assert actions['inspect-win-both'] == 'change'
    assert actions['inspect-win-viostor'] == 'change'
    rows, _ = run_json('set', '--tag', tag, '--bus', 'virtio', '--dry-run',
                       check=5)
    actions = {r['Name']: r['Action'] for r in rows}
    assert actions['inspect-win-both'] == 'blocked'
    rows, _ = run_json('--config-file', policy_file, 'set',
                       loaded['rhel'][0], '--bus', 'scsi', '--deep',
                       '--dry-run', check=5)
    assert rows[0]['Action'] == 'blocked' and 'GV012' in rows[0]['Reason']
    run('--config-file', policy_file, 'audit', loaded['win-viostor'][0],
        '--deep', '--fail-on', 'error', check=3)


@pytest.fixture(scope='session')
def boot_layouts(admin, tmp_path_factory):
    """RHEL 8 UEFI and CentOS 6 images in Glance: {name: (id, path)}."""
    work = str(tmp_path_factory.mktemp('boot-layout-images'))
    tag = 'gvtest-boot-' + uuid.uuid4().hex[:8]
    specs = [('rhel8-uefi', bootloaders.rhel8_uefi_qcow2(work, 'esp'),
              'qcow2'),
             ('centos6', bootloaders.centos6_legacy_raw(work, '2'), 'raw')]
    loaded = {}
    for name, path, fmt in specs:
        with open(path, 'rb') as data:
            image = load_samples.create(admin, 'inspect-' + name, [tag],
                                        {'hw_disk_bus': 'virtio'},
                                        data=data, disk_format=fmt)
        loaded[name] = (image['id'], path)
    yield loaded
    load_samples.delete_tagged(admin, tag)


BOOT_CHOICE = {
    'rhel8-uefi': '/boot/efi/EFI/redhat/grubenv line 2: saved_entry=%s-%s'
                  % (images.MACHINE_ID, bootloaders.RHEL8_OLD),
    'centos6': '/boot/grub/grub.conf line 10: default 2; title "CentOS 6 '
               '(%s)"' % bootloaders.CENTOS6_OLD,
}


def test_the_kernel_the_boot_loader_boots_is_judged(boot_layouts,
                                                    policy_file):
    ids = {name: image_id for name, (image_id, _p) in boot_layouts.items()}
    rows, _ = run_json('--config-file', policy_file, 'inspect',
                       *ids.values(), '--long', check=0)
    rows = rows_by_name(rows)
    for name, expected in BOOT_CHOICE.items():
        row = rows['inspect-' + name]
        assert row['Status'] == 'ok', row['Error']
        assert row['Drivers']['virtio_scsi'] == 'missing'
        assert row['Drivers']['virtio_blk'] == 'ready'
        assert expected in row['Evidence']['virtio_scsi'][-1]
        # The same verdict from the local file, no cloud needed.
        local, _ = run_json('--config-file', policy_file, 'inspect',
                            '--file', boot_layouts[name][1], cloud=None,
                            check=0,
                            env={'OS_CLIENT_CONFIG_FILE': '/nonexistent'})
        assert local[0]['Drivers'] == row['Drivers']
    # Moving them to virtio-scsi would leave them at the initramfs shell.
    rows, _ = run_json('--config-file', policy_file, 'set', *ids.values(),
                       '--bus', 'scsi', '--deep', '--dry-run', check=5)
    assert {r['Action'] for r in rows} == {'blocked'}
    assert all('GV012' in r['Reason'] for r in rows)
