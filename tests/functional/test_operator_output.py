"""What an operator sees: command names, --debug, empty cells, bad config."""

import json

import pytest

from glance_virtio.knowledge import rules
from tests.fixtures import images
from tests.functional.conftest import run

BOTH = (('glance-virtio', [], 'glance-virtio set'),
        ('openstack', ['image', 'virtio-'], 'openstack image virtio-set'))


def words(text):
    return ' '.join(text.split())


@pytest.mark.parametrize('tool,prefix,set_command', BOTH)
def test_each_binary_names_its_own_commands(cloud, tmp_path, tool, prefix,
                                            set_command):
    def command(name):
        return prefix[:-1] + [prefix[-1] + name] if prefix else [name]

    result = run(*command('rollback') + ['--help'], cloud=None, tool=tool,
                 check=0)
    assert 'Journal written by %s' % set_command in words(result.stdout)
    other = 'virtio-set' if tool == 'glance-virtio' else 'glance-virtio set'
    assert other not in result.stdout
    empty = tmp_path / 'empty.jsonl'
    empty.write_text('')
    result = run(*command('rollback') + [str(empty), '--yes'], cloud=None,
                 tool=tool, check=1)
    assert 'is empty' in result.stderr
    assert 'virtio-set' not in result.stderr
    assert 'glance-virtio set' not in result.stderr


def test_set_help_lists_model_choices_and_defaults(cloud):
    text = words(run('set', '--help', cloud=None, check=0).stdout)
    text = text[text.index('options:'):]
    scsi = text[text.index('--scsi-model <model>'):]
    assert ', '.join(rules.SCSI_MODELS) in scsi.split('--vif-model')[0]
    assert 'default: site policy [policy] default_scsi_model, virtio-scsi' \
        in scsi
    vif = text[text.index('--vif-model <model>'):]
    assert ', '.join(rules.ENUMS['hw_vif_model']) in vif.split(
        '--machine-type')[0]
    assert '(default: left as it is)' in vif


@pytest.fixture(scope='module')
def hostile(tmp_path_factory):
    """A VMDK descriptor oslo.utils' inspector fails on (an internal error)."""
    return images.vmdk_sparse_descriptor(tmp_path_factory.mktemp('vmdk'))


@pytest.mark.parametrize('options', [[], ['-v', '-v'], ['--debug']])
def test_traceback_of_an_inspector_failure_only_with_debug(
        cloud, hostile, options):
    result = run(*options + ['inspect', '--file', hostile, '-f', 'value',
                             '-c', 'Status', '-c', 'Error'],
                 cloud=None, check=4)
    assert result.stdout.startswith('error ')
    assert 'cannot parse (KeyError' in result.stdout
    debug = options == ['--debug']
    assert ('Traceback' in result.stderr) == debug, result.stderr
    # --debug logs at debug level, as -v -v does.
    assert ('format inspector failed' in result.stderr) == bool(options)


@pytest.mark.parametrize('options', [[], ['-v', '-v'], ['--debug']])
def test_traceback_of_a_command_error_only_with_debug(cloud, tmp_path,
                                                      options):
    empty = tmp_path / 'empty.jsonl'
    empty.write_text('')
    result = run(*options + ['rollback', str(empty)], cloud=None, check=1)
    debug = options == ['--debug']
    assert ('Traceback' in result.stderr) == debug, result.stderr
    assert ('CommandError' in result.stderr) == debug, result.stderr
    if not options:
        assert result.stderr == ('cannot roll back: %s is empty or holds no '
                                 'journal record (a journal is the JSON '
                                 'Lines file a set run writes)\n' % empty)


def test_inspect_empty_cells_are_blank_in_tables_and_null_in_json(
        cloud, tmp_path):
    raw = tmp_path / 'zeros.img'
    raw.write_bytes(bytes(1 << 20))
    shown = ['-c', 'Status', '-c', 'Version', '-c', 'Arch', '-c', 'Error',
             '-c', 'Product']
    table = run('inspect', '--file', str(raw), '--long', *shown,
                cloud=None, check=0).stdout
    assert 'None' not in table
    row = [line for line in table.splitlines() if line.startswith('| ok')]
    assert [c.strip() for c in row[0].strip('|').split('|')] == [
        'ok', '', '', '', '']
    for fmt in ('json', 'yaml'):
        out = run('inspect', '--file', str(raw), '--long', *shown, '-f',
                  fmt, cloud=None, check=0).stdout
        if fmt == 'json':
            found = json.loads(out)[0]
        else:
            import yaml
            found = yaml.safe_load(out)[0]
        assert found == {'Status': 'ok', 'Version': None, 'Arch': None,
                         'Error': None, 'Product': None}


def test_malformed_clouds_yaml_is_one_line_naming_file_and_cause(
        cloud, tmp_path):
    bad = tmp_path / 'clouds.yaml'
    bad.write_text('clouds:\n  mine: [\n')
    env = {'OS_CLIENT_CONFIG_FILE': str(bad)}
    for args in (['audit', '--all'], ['set', '--all', '--bus', 'scsi',
                                      '--yes']):
        result = run(*args, cloud='mine', env=env, check=1)
        lines = result.stderr.splitlines()
        assert len(lines) == 1, result.stderr
        assert str(bad) in lines[0] and 'not valid YAML' in lines[0]
        assert 'line 3, column 1' in lines[0]
        assert 'Skipping' not in result.stderr
        assert result.stdout == ''
    # A command that needs no cloud is not stopped by it.
    result = run('rules', '-f', 'value', '-c', 'ID', cloud=None, env=env,
                 check=0)
    assert 'GV001' in result.stdout and result.stderr == ''
