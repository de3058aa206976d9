"""The runbook's verify step: a canary of each image the change touches."""

from tests.unit.test_runbook import block
from tests.unit.test_runbook import DONE
from tests.unit.test_runbook import LINUX
from tests.unit.test_runbook import OLD
from tests.unit.test_runbook import render


def test_verify_step_boots_a_canary_of_each_change():
    _, text = render([LINUX, OLD, DONE])
    assert block(text, '## Verify after the change') == [
        'glance-virtio', '--os-cloud', 'prod', 'verify', LINUX.id,
        '--console', 'canary-consoles']
    assert 'set --verify' in text


def test_no_verify_command_when_nothing_changes():
    _, text = render([DONE])
    assert ' verify ' not in text.split('## Verify after the change')[1]
