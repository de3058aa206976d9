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


def test_words_as_grub_reads_them():
    assert bootconfig.split_words(
        "menuentry 'Debian GNU/Linux' --class debian "
        "$menuentry_id_option 'gnulinux-simple-U' {") == [
        'menuentry', 'Debian GNU/Linux', '--class', 'debian',
        '$menuentry_id_option', 'gnulinux-simple-U', '{']
    assert bootconfig.split_words('set default="${saved_entry}"') == [
        'set', 'default=${saved_entry}']
    assert bootconfig.split_words(
        'linux /vmlinuz-1 root=UUID=x ro # a comment') == [
        'linux', '/vmlinuz-1', 'root=UUID=x', 'ro']
    assert bootconfig.split_words(r'echo "a \" b" c\ d a#b') == [
        'echo', 'a " b', 'c d', 'a#b']


def test_long_lines_and_many_entries_are_capped():
    # A 1.6 MB line took shlex 23-31 s of CPU.
    text = 'set default=1\necho %s\n%s' % ('a "b ' * 320000, CFG)
    notes = []
    default, items, blscfg = bootconfig.parse_grub_cfg(text, notes)
    assert notes == ['1 line longer than 8192 characters not read']
    assert default == '0' and len(items) == 2
    many = "menuentry 'x' {\n  linux /vmlinuz-1\n}\n" * 5000
    notes = []
    default, items, blscfg = bootconfig.parse_grub_cfg(many, notes)
    assert len(items) == 1024
    assert notes == ['more than 1024 menu entries; the rest are not read']


def test_version_key_takes_any_number_of_digits():
    # int() refuses more than 4,300 digits.
    huge = '9' * 5000
    versions = ['6.1.0-' + huge, '6.1.0-18', '6.1.0-0' + huge[:-1]]
    assert sorted(versions, key=bootconfig.version_key) == [
        '6.1.0-18', '6.1.0-0' + huge[:-1], '6.1.0-' + huge]


def test_grub_cfg_defaults_with_their_if_blocks():
    cfg = bootconfig.read_grub_cfg(images.GRUB_BLS)
    assert cfg.defaults == [
        (8, '${next_entry}', (('if [ "${next_entry}" ] ; then', False),)),
        (13, '${saved_entry}', (('if [ "${next_entry}" ] ; then', True),))]
    assert cfg.blscfg_at == 0
    one_line = bootconfig.read_grub_cfg(
        'if [ x ]; then set timeout=1; fi\nset default=2\n')
    assert one_line.defaults == [(2, '2', ())]


def test_grub_legacy_menu_lst():
    default, blocks = bootconfig.parse_menu_lst(
        '# comment\ndefault=1\ntimeout 5\ntitle First one\n'
        '\troot (hd0,0)\n\tkernel /vmlinuz-1 ro root=/dev/sda2\n'
        '\tinitrd /initrd-1.img\ntitle Second\n'
        '\tkernel=(hd0,0)/vmlinuz-2 root=LABEL=r\n')
    assert default == (2, '1')
    assert [(b.title, b.line, b.kernel, b.kernel_line, b.initrd, b.root)
            for b in blocks] == [
        ('First one', 4, '/vmlinuz-1', 6, '/initrd-1.img', '/dev/sda2'),
        ('Second', 8, '(hd0,0)/vmlinuz-2', 9, None, 'LABEL=r')]


def test_extlinux_conf():
    defaults, blocks = bootconfig.parse_extlinux(
        'default linux\nONTIMEOUT rescue\nlabel linux\n  kernel /vmlinuz\n'
        '  append root=/dev/vda1 initrd=/ucode.img,/initrd.img\n'
        'LABEL rescue\n  MENU DEFAULT\n  LINUX vmlinuz-r\n  INITRD i-r\n')
    assert defaults == {'default': (1, 'linux'), 'ontimeout': (2, 'rescue')}
    assert [(b.title, b.kernel, b.initrd, b.root, b.menu_default)
            for b in blocks] == [
        ('linux', '/vmlinuz', '/initrd.img', '/dev/vda1', False),
        ('rescue', 'vmlinuz-r', 'i-r', None, True)]


def test_loader_conf_grubenv_lines_and_bls_initrds():
    assert bootconfig.parse_loader_conf(
        '#timeout 3\ndefault  arch-*\ntimeout 0\n') == {
        'default': (2, 'arch-*'), 'timeout': (3, '0')}
    assert bootconfig.grubenv_lines(
        '# GRUB Environment Block\nsaved_entry=a\nnext_entry=\n###') == {
        'saved_entry': (2, 'a'), 'next_entry': (3, '')}
    entry = bootconfig.parse_bls('initrd /intel-ucode.img\n'
                                 'initrd /initramfs-linux.img\n')
    assert bootconfig.last_path(entry['initrd'].split()) == \
        '/initramfs-linux.img'


def test_nesting_and_defaults_are_capped():
    notes = []
    cfg = bootconfig.read_grub_cfg('if a; then\n' * 100 + 'set default=1\n',
                                   notes)
    assert cfg.defaults == []
    assert notes == ['if blocks nested more than 64 deep; the rest is not '
                     'read']
    notes = []
    cfg = bootconfig.read_grub_cfg('set default=1\n' * 2000, notes)
    assert len(cfg.defaults) == 1024
    assert notes == ['more than 1024 set default= lines; the rest are not '
                     'read']
