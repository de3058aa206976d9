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
