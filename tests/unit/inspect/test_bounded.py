"""Bounded work: no decompression bomb, no quadratic path.

Memory is the child's peak RSS (os.wait4). Work is bounded by counted
library calls where the code counts them, and otherwise by running the
inspection in a child under RLIMIT_CPU (tests/fixtures/measure.py,
CPU_LIMIT = 20 s): CPU seconds do not depend on the machine's load, the
limit is ten times the 2 s target, and the quadratic code took 23-31 s on
the smaller inputs this file makes larger. No assertion is on wall time.
"""

import os
import subprocess
import tempfile

import pytest

from glance_virtio.inspect import filesystems
from tests.fixtures import bombs
from tests.fixtures import disk
from tests.fixtures import images
from tests.fixtures import linuxtree
from tests.fixtures import measure
from tests.fixtures.disk import run
from tests.unit.inspect.helpers import states

MAX_RSS = 256 << 20
VERSION = '6.1.0-13-amd64'


def _child(mode, path):
    done = measure.run_child(mode, path)
    assert done.killed_by is None, '%s on %s: %s after %.1f CPU seconds' % (
        mode, path, done.killed_by, done.cpu_seconds)
    return done


@pytest.mark.parametrize('name', sorted(bombs.COMPRESSORS))
def test_initramfs_bomb_stays_small(name):
    path = bombs.path(name)
    assert os.path.getsize(path) < 200 << 10
    done = _child('initramfs', path)
    assert done.output['error'] == 'decompressed size is over the limit'
    assert not done.output['complete']
    assert done.max_rss < MAX_RSS, done.max_rss


def test_bomb_in_a_guest_is_unknown_and_small(tmp_path):
    root = linuxtree.minimal_root(str(tmp_path))
    boot = os.path.join(root, 'boot')
    linuxtree.add_kernel(root, boot, VERSION,
                         dict.fromkeys(linuxtree.MODULE_PATHS, 'm'))
    with open(bombs.path('bomb.cpio.bz2'), 'rb') as handle:
        linuxtree.put(boot, 'initrd.img-%s' % VERSION, handle.read())
    image = linuxtree.ext4_image(root, str(tmp_path / 'disk'))
    done = _child('inspect', image)
    result = done.output
    assert result['status'] == 'ok', result['error']
    assert states(result)['virtio_blk'] == 'unknown'
    assert result['drivers']['virtio_blk']['evidence'] == [
        'virtio_blk.ko present for kernel %s; /boot/initrd.img-%s could not '
        'be read: decompressed size is over the limit' % (VERSION, VERSION)]
    assert done.max_rss < MAX_RSS, done.max_rss


def test_many_cpio_members(tmp_path):
    # 150,000 members of a real cpio archive in about 57 KB of gzip: the
    # old parser copied the rest of the buffer on every read.
    work = tmp_path / 'tree'
    work.mkdir()
    (work / 'a').write_bytes(b'')
    archive = run('cpio', '--quiet', '-o', '-H', 'newc', cwd=str(work),
                  input=b'a\n' * 150000)
    path = str(tmp_path / 'many.cpio.gz')
    with open(path, 'wb') as out:
        out.write(run('gzip', '-9', '-n', '-c', input=archive))
    assert os.path.getsize(path) < 64 << 10
    done = _child('initramfs', path)
    assert done.output == {'members': 150000, 'error': None,
                           'complete': True, 'compression': ['gzip']}
    assert done.max_rss < MAX_RSS


def _xfs_with_big_boot(tmp_path, count):
    root = linuxtree.minimal_root(str(tmp_path))
    boot = os.path.join(root, 'boot')
    linuxtree.add_kernel(root, boot, VERSION,
                         dict.fromkeys(linuxtree.MODULE_PATHS, 'm'))
    for index in range(count):
        open(os.path.join(boot, 'vmlinuz-1.0.%d' % index), 'wb').close()
    return disk.mkfs_xfs(str(tmp_path / 'disk'), 512 << 20, root, 'root',
                         images.ROOT_UUID)


def test_boot_directory_with_60000_entries(tmp_path):
    # XFS: mkfs.ext4 -d takes minutes to fill one huge directory.
    image = _xfs_with_big_boot(tmp_path, 60000)
    done = _child('inspect', image)
    result = done.output
    assert result['status'] == 'ok', result['error']
    assert 'disk: /boot has more than 20000 entries; only the first 20000 ' \
        'are read' in result['notes']
    assert any(note.endswith('kernels found; only the 32 newest are '
                             'examined') for note in result['notes'])
    assert len(result['linux']['kernels']) == 32
    assert states(result) == dict.fromkeys(
        ('virtio_blk', 'virtio_scsi', 'virtio_net', 'ide', 'sata'),
        'unknown')


def _deep(root, parts, name, data=None, target=None):
    """Make root/parts.../name (a file or a symlink) with os.* *at calls."""
    fd = os.open(root, os.O_RDONLY)
    try:
        for part in parts:
            try:
                os.mkdir(part, dir_fd=fd)
            except FileExistsError:
                pass
            sub = os.open(part, os.O_RDONLY, dir_fd=fd)
            os.close(fd)
            fd = sub
        if target is not None:
            os.symlink(target, name, dir_fd=fd)
        else:
            out = os.open(name, os.O_WRONLY | os.O_CREAT, 0o644, dir_fd=fd)
            os.write(out, data)
            os.close(out)
    finally:
        os.close(fd)


def _deep_image(tmp_path):
    """An ext4 disk with a deep os-release and a long /etc/fstab chain.

    os-release is 1,000 directories deep (mkfs.ext4 -d fails deeper);
    fstab is a chain of 38 symlinks whose targets are 1,562 parts each.
    The tree is removed here: pytest's clean-up recurses too deep for it.
    """
    work = tempfile.mkdtemp(dir=str(tmp_path))
    try:
        return _make_deep_image(work, str(tmp_path / 'disk'))
    finally:
        subprocess.run(['rm', '-rf', work], check=True)


def _make_deep_image(work, path):
    root = os.path.join(work, 'root')
    linuxtree.usr_merge(root)
    os.makedirs(os.path.join(root, 'etc'))
    nested = ['d'] * 1000
    _deep(os.path.join(root, 'etc'), nested, 'os-release',
          data=b'ID=debian\nVERSION_ID="12"\n')
    os.symlink('/'.join(nested + ['os-release']),
               os.path.join(root, 'etc', 'os-release'))
    os.makedirs(os.path.join(root, 'x'))
    for hop in range(1, 39):
        os.symlink('/' + '/'.join(['x', '..'] * 780 + ['x', 'l%d' % (
            hop + 1)]), os.path.join(root, 'x', 'l%d' % hop))
    os.symlink('/x/l1', os.path.join(root, 'etc', 'fstab'))
    return linuxtree.ext4_image(root, path)


def test_deep_paths_and_long_symlink_chains(tmp_path):
    image = _deep_image(tmp_path)
    done = _child('inspect', image)
    result = done.output
    assert result['status'] == 'ok', result['error']
    assert result['os']['distro'] == 'debian'
    assert result['os']['version'] == '12'
    assert 'disk: resolving /etc/fstab took more than 4096 path parts; ' \
        'treated as missing' in result['notes']
    # Counted work, in this process: a deep path is one lookup, not one
    # per part from the root; a long chain stops at 4096 parts, not
    # 38 x 1,562.
    with open(image, 'rb') as handle:
        fs = filesystems.open_fs(handle, 'ext', 'disk')
        assert fs.read_text('/etc/os-release') == \
            'ID=debian\nVERSION_ID="12"\n'
        assert fs.lookups <= 3
        assert fs.parts_looked_up <= 3 * 1002
        fs.lookups = fs.parts_looked_up = 0
        assert not fs.exists('/etc/fstab')
        assert fs.lookups <= 4096
