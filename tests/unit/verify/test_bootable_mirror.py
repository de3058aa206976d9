"""The bootable fixtures take debootstrap's mirror from apt's own sources."""

from tests.fixtures import bootable

DEB822 = '''Types: deb
# a comment
URIs: http://mirror.invalid/debian
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: http://mirror.invalid/debian-security
Suites: bookworm-security
Components: main
'''
ONE_LINE = '''# deb http://old.invalid/debian buster main
deb [arch=amd64 signed-by=/k.gpg] http://mirror.invalid/debian bookworm main
'''


def test_deb822_sources(tmp_path):
    path = tmp_path / 'debian.sources'
    path.write_text(DEB822)
    assert bootable.apt_mirror([str(path)]) == (
        'http://mirror.invalid/debian', 'bookworm')


def test_one_line_sources_skip_comments_and_options(tmp_path):
    path = tmp_path / 'sources.list'
    path.write_text(ONE_LINE)
    assert bootable.apt_mirror([str(path)]) == (
        'http://mirror.invalid/debian', 'bookworm')


def test_security_only_is_not_a_mirror(tmp_path):
    path = tmp_path / 'security.sources'
    path.write_text(DEB822.split('\n\n')[1])
    try:
        bootable.apt_mirror([str(path)])
    except RuntimeError as e:
        assert 'no Debian source' in str(e)
    else:
        raise AssertionError('a security-only source was taken')
