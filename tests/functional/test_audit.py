"""virtio-audit against the real local cloud, through both CLIs."""

from glance_virtio.services import glance
from tests.functional.conftest import run
from tests.functional.conftest import run_json


def by_id(rows):
    return {r['ID']: r for r in rows}


def test_audit_finds_what_each_sample_deserves(catalogue):
    tag, loaded = catalogue
    rows, result = run_json('audit', '--tag', tag, check=0)
    rows = by_id(rows)
    assert len(rows) == len(loaded)
    for name, (image_id, expect) in loaded.items():
        got = sorted({f['rule'] for f in rows[image_id]['Findings']})
        assert got == expect, name


def test_openstack_plugin_gives_the_same_json(catalogue):
    tag, loaded = catalogue
    rows, _ = run_json('image', 'virtio-audit', '--tag', tag,
                       tool='openstack', check=0)
    rows = by_id(rows)
    image_id = loaded['CentOS-6.10-x86_64'][0]
    row = rows[image_id]
    assert row['OS'] == 'centos 6.10' and row['OS Source'] == 'property'
    assert row['Readiness']['virtio_scsi'] == 'not-ready'
    assert row['Recommended Bus'] == 'virtio'
    assert row['Severity'] == 'error'
    win = rows[loaded['Windows Server 2019 Datacenter'][0]]
    assert win['OS Source'] == 'name' and win['Disk Bus'] is None


def test_fail_on_gives_its_exit_code(catalogue):
    tag, loaded = catalogue
    run('audit', '--tag', tag, '--fail-on', 'error', check=3)
    good = loaded['ubuntu-22.04-scsi'][0]
    run('audit', good, '--fail-on', 'info', check=0)


def test_selection_filters(catalogue):
    tag, loaded = catalogue
    rows, _ = run_json('audit', '--tag', tag, '--os-type', 'windows', check=0)
    assert {r['Name'] for r in rows} == {
        'windows-2022-virtio-win', 'windows-2016-virtio-without-viostor'}
    rows, _ = run_json('audit', '--tag', tag, '--name', 'debian-*', check=0)
    assert {r['Name'] for r in rows} == {
        'debian-12-ide', 'debian-11-xen-bus', 'debian-11-bad-enum'}
    rows, _ = run_json('audit', '--tag', tag, '--property',
                       'hw_disk_bus=ide', check=0)
    assert {r['Name'] for r in rows} == {'debian-12-ide', 'rocky-9-ide-q35'}
    rows, _ = run_json('audit', '--tag', tag, '--exclude-snapshots', check=0)
    assert 'ubuntu-22.04-snapshot' not in {r['Name'] for r in rows}
    assert len(rows) == len(loaded) - 1
    rows, _ = run_json('audit', '--tag', tag, '--only-findings', check=0)
    assert all(r['Findings'] for r in rows)


def test_every_cliff_format(catalogue):
    tag, loaded = catalogue
    image_id = loaded['debian-12-ide'][0]
    for fmt in ('table', 'csv', 'value', 'yaml'):
        result = run('audit', image_id, '-f', fmt, check=0)
        assert 'GV004' in result.stdout, fmt
    table = run('audit', image_id, '--long', check=0).stdout
    assert 'hw_disk_bus=ide allows 4 devices' in table


def test_member_cannot_name_images_it_cannot_see(catalogue, admin):
    tag, loaded = catalogue
    private = loaded['ubuntu-22.04-scsi'][0]
    # An image the project cannot see is an error, never an invented row.
    result = run('audit', private, 'no-such-image', '-f', 'json',
                 cloud='devcloud-member', check=1)
    assert result.stdout == ''
    assert result.stderr.strip() == (
        'no image with id or name %s is visible to this project; no image '
        'named no-such-image is visible to this project' % private)
    run('audit', private, '--fail-on', 'error', cloud='devcloud-member',
        check=1)
    rows, _ = run_json('audit', '--tag', tag, cloud='devcloud-member',
                       check=0)
    assert rows == []


def test_unreachable_cloud_is_a_clear_error(cloud, tmp_path):
    bad = tmp_path / 'clouds.yaml'
    bad.write_text('clouds:\n  dead:\n    auth:\n      auth_url: '
                   'http://127.0.0.1:9/v3\n      username: u\n      '
                   'password: secret-pw\n      project_name: p\n      '
                   'user_domain_name: Default\n      project_domain_name: '
                   'Default\n')
    result = run('audit', cloud='dead', check=1,
                 env={'OS_CLIENT_CONFIG_FILE': str(bad)})
    assert 'cannot reach the cloud' in result.stderr
    assert 'secret-pw' not in result.stderr + result.stdout
    result = run('audit', cloud='no-such-cloud', check=1)
    assert 'no-such-cloud' in result.stderr


def test_bad_credentials(cloud, tmp_path):
    import yaml
    with open(cloud) as f:
        config = yaml.safe_load(f)
    config['clouds']['devcloud-admin']['auth']['password'] = 'wrong-pw'
    bad = tmp_path / 'clouds.yaml'
    bad.write_text(yaml.safe_dump(config))
    result = run('audit', check=1, env={'OS_CLIENT_CONFIG_FILE': str(bad)})
    assert 'authentication failed' in result.stderr.lower() or \
        '401' in result.stderr
    assert 'wrong-pw' not in result.stderr


def test_rules_command_both_ways(cloud):
    rows, _ = run_json('rules', check=0)
    assert {'GV001', 'GV011', 'GV023'} <= {r['ID'] for r in rows}
    rows, _ = run_json('image', 'virtio-rules', tool='openstack', check=0)
    assert len(rows) > 20


def test_both_ends_list_what_one_walk_lists(catalogue, admin):
    tag, loaded = catalogue
    query = {'tag': [tag]}
    one_walk = [b['id'] for b in glance.list_image_bodies(admin, query)]
    assert sorted(one_walk) == sorted(i for i, _ in loaded.values())
    count = len(one_walk)
    # Pages that meet in the middle, only touch, overlap, or hold it all.
    for size in (1, 2, 3, count // 2, count // 2 + 1, count - 1, count,
                 count + 5):
        both = [b['id'] for b in glance.list_image_bodies(
            admin, query, both_ends=True, page_size=size)]
        assert both == one_walk, size
    rows, _ = run_json('audit', '--tag', tag, check=0)
    assert [r['ID'] for r in rows] == one_walk
