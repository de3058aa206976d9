from glance_virtio.inspect import bootconfig
from tests.fixtures import images

CFG = images.GRUB_DEBIAN % {'uuid': 'U', 'new': '6.1.0-18-amd64',
                            'old': '6.1.0-17-amd64'}


def test_grub_cfg_default_and_entries():
    default, items, blscfg = bootconfig.parse_grub_cfg(CFG)
    assert default == '0'
    assert not blscfg
    assert isinstance(items[1], list) and len(items[1]) == 2
    entry = bootconfig.select_entry(default, items)
    assert entry.kernel == '/boot/vmlinuz-6.1.0-18-amd64'
    assert entry.root == 'UUID=U'
    old = bootconfig.select_entry('1>1', items)
    assert bootconfig.kernel_version(old.kernel) == '6.1.0-17-amd64'
    by_id = bootconfig.select_entry(
        '${saved_entry}', items,
        'gnulinux-advanced-U>gnulinux-6.1.0-17-amd64-advanced-U')
    assert bootconfig.kernel_version(by_id.kernel) == '6.1.0-17-amd64'


def test_bls_grub_cfg():
    default, items, blscfg = bootconfig.parse_grub_cfg(images.GRUB_BLS)
    assert blscfg and items == []
    assert default == '${saved_entry}'


def test_version_order():
    versions = ['5.14.0-70.el9.x86_64', '5.14.0-162.el9.x86_64',
                '5.4.0-1', '6.1.0-9-amd64', '6.1.0-18-amd64']
    assert sorted(versions, key=bootconfig.version_key) == [
        '5.4.0-1', '5.14.0-70.el9.x86_64', '5.14.0-162.el9.x86_64',
        '6.1.0-9-amd64', '6.1.0-18-amd64']


def test_grubenv_and_bls_entry():
    env = bootconfig.parse_grubenv('# GRUB Environment Block\n'
                                   'saved_entry=abc-5.14\n####')
    assert env == {'saved_entry': 'abc-5.14'}
    entry = bootconfig.parse_bls('title X\nversion 5.14\n'
                                 'linux /vmlinuz-5.14\noptions root=/dev/x')
    assert entry['options'] == 'root=/dev/x'
