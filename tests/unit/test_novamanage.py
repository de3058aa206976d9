import os
import shlex
import sys

import pytest

from glance_virtio.services import novamanage

FIXTURES = os.path.join(os.path.dirname(__file__), '..', 'fixtures', 'data',
                        'nova-manage')


def fake_nova_manage(tmp_path, code, stdout='', stderr=''):
    """A real executable answering like nova-manage, for one exit code."""
    script = tmp_path / 'nova-manage'
    script.write_text(
        '#!%s\nimport sys\nopen(%r, "w").write(repr(sys.argv[1:]))\n'
        'sys.stdout.write(%r)\nsys.stderr.write(%r)\nsys.exit(%d)\n'
        % (sys.executable, str(tmp_path / 'argv'), stdout, stderr, code))
    script.chmod(0o755)
    return str(script)


def captured(name):
    """(exit code, stdout) nova-manage 34.0.0 gave (see capture.sh)."""
    with open(os.path.join(FIXTURES, name + '.rc')) as f:
        code = int(f.read())
    with open(os.path.join(FIXTURES, name + '.stdout')) as f:
        return code, f.read()


def test_captured_show_value():
    assert novamanage.parse_show(*captured('show-value')) == 'virtio'
    assert novamanage.parse_show(*captured('show-after-set')) == \
        'virtio-scsi'


def test_captured_show_absent_is_none():
    assert novamanage.parse_show(*captured('show-absent')) is None


def test_captured_show_no_instance_is_an_error():
    with pytest.raises(novamanage.NovaManageError) as e:
        novamanage.parse_show(*captured('show-no-instance'))
    assert e.value.code == 2 and 'has no mapping to a cell' in str(e.value)


def test_captured_set_ok():
    assert novamanage.parse_set(*captured('set-ok')) is None


@pytest.mark.parametrize('name,code,words', [
    ('set-active', 3, 'vm_state active'),
    ('set-bad-name', 5, 'hw_disk_buss'),
    ('set-bad-value', 6, 'floppy'),
    ('set-bad-format', 4, 'key=value'),
    ('set-no-instance', 2, 'no mapping to a cell'),
])
def test_captured_set_failures(name, code, words):
    with pytest.raises(novamanage.NovaManageError) as e:
        novamanage.parse_set(*captured(name))
    assert e.value.code == code and words in str(e.value)


def test_captured_version():
    code, out = captured('version')
    assert code == 0 and novamanage.parse_version(out) == (34, 0, 0)


def test_show_returns_the_printed_value():
    assert novamanage.parse_show(0, 'virtio\n') == 'virtio'


def test_show_not_found_is_none():
    text = ('Image property hw_disk_bus not found for instance '
            '3c6f1c9e-0000-4000-8000-000000000001.\n')
    assert novamanage.parse_show(3, text) is None


def test_show_instance_not_found_is_an_error():
    with pytest.raises(novamanage.NovaManageError) as e:
        novamanage.parse_show(2, 'Instance x could not be found.\n')
    assert e.value.code == 2 and 'could not be found' in str(e.value)


def test_show_exit_3_without_the_message_is_an_error():
    # Fail closed: only nova-manage's own "not found" means absent.
    with pytest.raises(novamanage.NovaManageError):
        novamanage.parse_show(3, 'something else\n')


def test_show_empty_success_is_an_error():
    with pytest.raises(novamanage.NovaManageError):
        novamanage.parse_show(0, '\n')


@pytest.mark.parametrize('code,words', [
    (3, 'stopped or shelved'), (5, 'property name'), (6, 'property value'),
    (1, 'unexpected'), (9, 'unknown')])
def test_set_errors_name_the_cause(code, words):
    with pytest.raises(novamanage.NovaManageError) as e:
        novamanage.parse_set(code, 'detail\n')
    assert words in str(e.value) and e.value.code == code


def test_version_parsed():
    assert novamanage.parse_version('34.0.0\n') == (34, 0, 0)
    assert novamanage.parse_version('29.2.1.dev12\n') == (29, 2, 1)
    with pytest.raises(novamanage.NovaManageError):
        novamanage.parse_version('usage: nova-manage\n')


def test_secrets_are_masked():
    text = ('OperationalError: mysql+pymysql://nova:s3cr3t@db/nova '
            'password=hunter2 token: abc')
    masked = novamanage.mask(text)
    for secret in ('s3cr3t', 'hunter2', 'abc'):
        assert secret not in masked
    assert 'mysql+pymysql://nova:***@db/nova' in masked


def test_command_split_like_a_shell_line():
    assert novamanage.split_command(
        'kubectl -n openstack exec deploy/nova-api -- nova-manage') == [
        'kubectl', '-n', 'openstack', 'exec', 'deploy/nova-api', '--',
        'nova-manage']
    with pytest.raises(ValueError):
        novamanage.split_command('   ')
    with pytest.raises(ValueError):
        novamanage.split_command('docker exec "nova_api')


def test_no_shell_is_involved(tmp_path):
    marker = tmp_path / 'pwned'
    manage = novamanage.NovaManage(
        '%s -c "import sys; print(sys.argv[1:])" ; touch %s'
        % (shlex.quote(sys.executable), marker))
    code, out, _ = manage.run('--version')
    assert code == 0 and not marker.exists()
    assert "';'" in out and "'touch'" in out


def test_show_and_set_send_nova_manage_arguments(tmp_path):
    path = fake_nova_manage(tmp_path, 0, 'scsi\n')
    manage = novamanage.NovaManage(path)
    assert manage.show('uuid-1', 'hw_disk_bus') == 'scsi'
    assert (tmp_path / 'argv').read_text() == repr(
        ['image_property', 'show', 'uuid-1', 'hw_disk_bus'])
    manage.set('uuid-1', {'hw_scsi_model': 'virtio-scsi',
                          'hw_disk_bus': 'scsi'})
    assert (tmp_path / 'argv').read_text() == repr(
        ['image_property', 'set', 'uuid-1', '--property', 'hw_disk_bus=scsi',
         '--property', 'hw_scsi_model=virtio-scsi'])


def test_set_refuses_a_value_nova_manage_would_split():
    manage = novamanage.NovaManage(sys.executable)
    with pytest.raises(novamanage.NovaManageError):
        manage.set('uuid-1', {'hw_disk_bus': 'a=b'})


def test_warnings_on_stderr_do_not_become_the_value(tmp_path):
    path = fake_nova_manage(tmp_path, 0, 'virtio\n',
                            'DeprecationWarning: something\n')
    assert novamanage.NovaManage(path).show('u', 'hw_disk_bus') == 'virtio'


def test_set_failure_message_is_masked(tmp_path):
    path = fake_nova_manage(
        tmp_path, 1, 'Unexpected error, see nova-manage.log for the full '
        'trace: (pymysql.err) mysql+pymysql://nova:pw123@db/nova \n')
    with pytest.raises(novamanage.NovaManageError) as e:
        novamanage.NovaManage(path).set('u', {'hw_disk_bus': 'scsi'})
    assert 'pw123' not in str(e.value) and e.value.code == 1


def test_missing_command_is_a_clear_error(tmp_path):
    manage = novamanage.NovaManage(str(tmp_path / 'no-such-nova-manage'))
    with pytest.raises(novamanage.NovaManageError) as e:
        manage.version()
    assert 'not found' in str(e.value)


def test_timeout_is_a_clear_error():
    manage = novamanage.NovaManage(
        '%s -c "import time; time.sleep(30)"' % shlex.quote(sys.executable),
        timeout=1)
    with pytest.raises(novamanage.NovaManageError) as e:
        manage.show('u', 'hw_disk_bus')
    assert 'did not finish within 1s' in str(e.value)
