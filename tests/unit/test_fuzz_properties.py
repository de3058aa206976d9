"""Property tests (hypothesis) of the parsers the fuzz targets cover.

Where the inverse exists as a real tool (cpio and the compressors, sfdisk),
hypothesis draws the content, the tool writes the file and the parser
must read back what was written.
"""

import io
import os
import subprocess

from hypothesis import example
from hypothesis import HealthCheck
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st

from glance_virtio.inspect import bootconfig
from glance_virtio.inspect import initramfs
from glance_virtio.inspect import linux
from glance_virtio.inspect import volumes
from glance_virtio.inspect.fileobj import SubFile
from tests.fuzz import targets

# Runs of real tools per example: keep the example count modest.
TOOL_SETTINGS = settings(max_examples=30, deadline=None,
                         suppress_health_check=[HealthCheck.too_slow])
COMPRESSORS = {'none': None, 'gzip': ['gzip', '-n'],
               'xz': ['xz', '--check=crc32'], 'lzma': ['lzma'],
               'bzip2': ['bzip2'], 'zstd': ['zstd', '-q'],
               'lz4': ['lz4', '-q', '-l']}

member_names = st.lists(
    st.text(st.characters(blacklist_categories=('Cs',),
                          blacklist_characters='\0/\n'),
            min_size=1, max_size=40).filter(lambda n: n not in ('.', '..')),
    min_size=1, max_size=8, unique=True)


@TOOL_SETTINGS
@given(names=member_names, compression=st.sampled_from(sorted(COMPRESSORS)),
       sizes=st.lists(st.integers(0, 3000), min_size=8, max_size=8))
def test_cpio_members_written_by_cpio_are_listed(tmp_path_factory, names,
                                                 compression, sizes):
    top = tmp_path_factory.mktemp('cpio')
    for name, size in zip(names, sizes):
        (top / name).write_bytes(os.urandom(size))
    archive = subprocess.run(
        ['cpio', '--quiet', '-o', '-H', 'newc'], cwd=top, check=True,
        input=b''.join(n.encode() + b'\n' for n in names),
        capture_output=True).stdout
    if COMPRESSORS[compression]:
        archive = subprocess.run(COMPRESSORS[compression], input=archive,
                                 check=True, capture_output=True).stdout
    listing = initramfs.list_members(io.BytesIO(archive), len(archive))
    assert listing.error is None
    assert listing.complete
    assert listing.compression == [compression]
    assert listing.members == names


@st.composite
def dos_layouts(draw):
    """(primaries, logicals) as (start, size) in sectors, non-overlapping."""
    cursor = 1
    primaries, logicals = [], []
    for _ in range(draw(st.integers(0, 3))):
        cursor += draw(st.integers(0, 4))
        size = draw(st.integers(1, 16))
        primaries.append((cursor, size))
        cursor += size
    extended = None
    if draw(st.booleans()):
        ext_start = cursor + draw(st.integers(0, 4))
        cursor = ext_start
        for _ in range(draw(st.integers(1, 5))):
            # Each logical partition follows its EBR (at least one sector).
            cursor += draw(st.integers(1, 4))
            size = draw(st.integers(1, 16))
            logicals.append((cursor, size))
            cursor += size
        extended = (ext_start, cursor - ext_start)
    return primaries, extended, logicals, cursor + draw(st.integers(0, 8))


@TOOL_SETTINGS
@given(layout=dos_layouts())
def test_mbr_partitions_written_by_sfdisk_are_read(tmp_path_factory, layout):
    primaries, extended, logicals, sectors = layout
    path = tmp_path_factory.mktemp('mbr') / 'disk.img'
    with open(path, 'wb') as handle:
        handle.truncate(sectors * 512)
    script = ['label: dos']
    script += ['start=%d, size=%d, type=83' % p for p in primaries]
    if extended:
        script.append('start=%d, size=%d, type=5' % extended)
        script += ['start=%d, size=%d, type=82' % p for p in logicals]
    subprocess.run(['sfdisk', '--quiet', '--no-reread', '--wipe', 'never',
                    str(path)], input='\n'.join(script) + '\n', text=True,
                   check=True, capture_output=True)
    data = path.read_bytes()
    notes = []
    parts = volumes._mbr(SubFile(io.BytesIO(data), 0, len(data)), len(data),
                         notes) or []
    expected = [('p%d' % (i + 1), s, n) for i, (s, n) in
                enumerate(primaries)]
    expected += [('p%d' % (i + 5), s, n) for i, (s, n) in
                 enumerate(logicals)]
    assert [(p.name, p.offset // 512, p.size // 512) for p in parts] == \
        expected
    assert notes == []


@given(st.text())
@example('1\u00b2')  # '²'.isdigit() but int('²') fails
@example('6.1.0-' + '9' * 5000)  # over int()'s 4,300-digit limit
def test_version_key_takes_any_text(text):
    bootconfig.version_key(text)


@given(st.lists(st.integers(0, 10 ** 6), min_size=1, max_size=5),
       st.lists(st.integers(0, 10 ** 6), min_size=1, max_size=5))
def test_version_key_orders_numbers_by_value(left, right):
    def text(numbers):
        return '.'.join(map(str, numbers[:-1] or [0])) + '-%d' % numbers[-1]
    key = bootconfig.version_key
    padded = (left[:-1] or [0], [left[-1]]), (right[:-1] or [0], [right[-1]])
    assert (key(text(left)) < key(text(right))) == (padded[0] < padded[1])


@given(st.text(), st.one_of(st.none(), st.text()))
@example('\u00b2', None)
@example('9' * 5000, None)
@example('saved', '1>' + '9' * 5000)
def test_select_entry_takes_any_default(default, saved):
    _default, items, _ = bootconfig.parse_grub_cfg(
        "menuentry 'Debian' --id deb { linux /vmlinuz-6.1 }\n"
        "submenu 'Advanced' { menuentry 'old' { linux /vmlinuz-5.10 } }\n")
    entry = bootconfig.select_entry(default, items, saved)
    assert entry is None or isinstance(entry, bootconfig.MenuEntry)


bls_keys = st.text(st.characters(whitelist_categories=('Ll', 'Lu', 'Nd'),
                                 whitelist_characters='_'),
                   min_size=1, max_size=12)
bls_values = st.text(st.characters(blacklist_categories=('Cs', 'Zl', 'Zp',
                                                         'Cc')),
                     min_size=1, max_size=60).map(str.strip).filter(bool)


@given(st.dictionaries(bls_keys, bls_values, max_size=8))
def test_bls_entry_keys_are_read_back(entry):
    text = ''.join('%s %s\n' % item for item in entry.items())
    assert bootconfig.parse_bls(text) == entry


@given(st.dictionaries(st.sampled_from(['ID', 'VERSION_ID', 'NAME',
                                        'PRETTY_NAME', 'HOME_URL']),
                       st.from_regex(r'[A-Za-z0-9 ._()-]{1,30}',
                                     fullmatch=True).map(str.strip)
                       .filter(bool)),
       st.booleans())
def test_os_release_values_are_read_back(values, quote):
    text = ''.join('%s=%s\n' % (k, '"%s"' % v if quote else v)
                   for k, v in values.items())
    info = linux.release(targets.MemoryTree({'/etc/os-release':
                                             text.encode()}))
    assert info['distro'] == values.get('ID')
    assert info['version'] == values.get('VERSION_ID')
    assert info['product_name'] == (values.get('PRETTY_NAME')
                                    or values.get('NAME'))


@given(st.binary(max_size=4096))
def test_text_targets_take_any_bytes(data):
    for name in ('os_release', 'fstab', 'grub_cfg', 'grubenv', 'bls',
                 'kernel_config', 'modules_builtin'):
        targets.run(name, data)
