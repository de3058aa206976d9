import os

import pytest
from oslo_config import cfg

from glance_virtio import conf


def test_defaults():
    policy = conf.policy(conf.load())
    assert policy.default_machine_type == 'pc'
    assert policy.default_scsi_model == 'virtio-scsi'


def test_site_file(tmp_path):
    path = tmp_path / 'gv.conf'
    path.write_text('[policy]\ndefault_machine_type = q35\n'
                    'severity_overrides = gv004:error\n'
                    'disabled_rules = GV015\nconcurrency = 4\n')
    loaded = conf.load(str(path))
    policy = conf.policy(loaded, allowed=('GV011',))
    assert policy.default_machine_type == 'q35'
    assert policy.severity_overrides == {'GV004': 'error'}
    assert policy.disabled_rules == ('GV015',)
    assert policy.allowed_rules == ('GV011',)
    assert loaded.policy.concurrency == 4


def test_bad_values_are_refused(tmp_path):
    path = tmp_path / 'gv.conf'
    path.write_text('[policy]\nseverity_overrides = GV004:fatal\n')
    with pytest.raises(ValueError, match='GV004:fatal'):
        conf.policy(conf.load(str(path)))
    with pytest.raises(cfg.ConfigFilesNotFoundError):
        conf.load(str(tmp_path / 'missing.conf'))


@pytest.mark.parametrize('text, named', [
    ('[policy]\nconcurrency = lots\n',
     '[policy] concurrency = lots: not a whole number from 1 to 64'),
    ('[policy]\nconcurrency = 65\n', '[policy] concurrency = 65'),
    ('[policy]\ndisabled_rules = GV015,GV999\n',
     '[policy] disabled_rules = GV015,GV999: unknown rule GV999'),
    ('[policy]\nseverity_overrides = GV999:error\n', 'unknown rule GV999'),
    ('[policy]\nseverity_overrides = GV004:fatal\n',
     '[policy] severity_overrides = GV004:fatal: severity fatal'),
    ('[polcy]\nconcurrency = 4\n', 'unknown section [polcy]'),
    ('[policy]\nconcurency = 4\n', "[policy] unknown option 'concurency'"),
    ('[DEFAULT]\ndebug = true\n', "[DEFAULT] unknown option 'debug'"),
    ('[inspect]\nmax_read_mib = 0\n', '[inspect] max_read_mib = 0'),
    ('[policy]\npreferred_bus = virtio  # fastest\n',
     'put the comment on a line of its own'),
    ('[policy]\ndefault_machine_type = q35  # as nova.conf says\n',
     '[policy] default_machine_type = q35  # as nova.conf says: oslo'),
    ('[policy]\nhw_machine_type = x86_64=\n',
     "[policy] hw_machine_type = x86_64=: hw_machine_type: 'x86_64='"),
])
def test_every_option_is_checked_when_loaded(tmp_path, text, named):
    path = tmp_path / 'gv.conf'
    path.write_text(text)
    with pytest.raises(conf.PolicyFileError) as error:
        conf.load(str(path))
    message = str(error.value)
    assert message.startswith(str(path) + ': ') and named in message
    assert '\n' not in message


def test_an_empty_default_section_is_fine(tmp_path):
    path = tmp_path / 'gv.conf'
    path.write_text('[DEFAULT]\n[journal]\ndirectory = /tmp/j\n')
    assert conf.load(str(path)).journal.directory == '/tmp/j'


README = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))), 'README.md')


def test_the_readme_example_policy_works_as_pasted(tmp_path):
    with open(README, encoding='utf-8') as f:
        text = f.read()
    section = text[text.index('\n## Site policy'):]
    block = section[section.index('```ini\n') + 7:]
    block = block[:block.index('```')]
    path = tmp_path / 'gv.conf'
    path.write_text(block)
    loaded = conf.load(str(path))
    policy = conf.policy(loaded)
    assert policy.machine_types == {'x86_64': 'q35', 'aarch64': 'virt'}
    assert policy.severity_overrides == {'GV004': 'info'}
    assert policy.disabled_rules == ('GV015',)
    assert loaded.policy.concurrency == 8
    assert loaded.journal.directory.endswith('glance-virtio/journal')
    # Each section the README documents has an example there.
    for group, _ in conf.list_opts():
        assert '[%s]' % group in block
