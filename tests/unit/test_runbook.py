"""runbook: a plan rendered as an operator's Markdown runbook."""

import shlex

from glance_virtio.knowledge import explain
from glance_virtio import model
from glance_virtio import plan
from glance_virtio import runbook

LINUX = model.Image('11111111-aaaa', 'ubuntu-22.04', properties={
    'os_type': 'linux', 'os_distro': 'ubuntu', 'os_version': '22.04',
    'hw_disk_bus': 'virtio'})
OLD = model.Image('22222222-bbbb', 'centos-6', properties={
    'os_type': 'linux', 'os_distro': 'centos', 'os_version': '6.10',
    'hw_disk_bus': 'virtio'})
DONE = model.Image('33333333-cccc', 'already', properties={
    'os_type': 'linux', 'os_distro': 'ubuntu', 'os_version': '22.04',
    'hw_disk_bus': 'scsi', 'hw_scsi_model': 'virtio-scsi'})
WIN = model.Image('44444444-dddd', 'win-2019', properties={
    'os_type': 'windows', 'hw_disk_bus': 'ide'})
WIN_REPORT = {'status': 'ok', 'os': {'family': 'windows'},
              'windows': {'drivers': {'vioscsi': {
                  'service': True, 'file': True, 'start': 3,
                  'start_override': None}}},
              'drivers': {'virtio_scsi': {'state': 'missing', 'evidence': [
                  'vioscsi service exists (Start=3)']}}}
CTX = runbook.Context(bus='scsi', scsi_model='virtio-scsi',
                      journal='/var/tmp/my journal.jsonl',
                      cloud='prod', allow=('GV024',), generated='now')


def render(images, inspections=None, ctx=CTX):
    inspections = inspections or {}
    changes = plan.make_plan(images, plan.Target('scsi', 'virtio-scsi'),
                             model.Policy(allowed_rules=ctx.allow),
                             inspections=inspections)
    explained = {i.id: explain.explain(i.properties, 'pc', 'scsi',
                                       'virtio-scsi', None,
                                       inspections.get(i.id)).to_dict()
                 for i in images}
    return changes, runbook.render(changes, explained, inspections, ctx)


def block(text, heading):
    """The first ```sh block after a heading, as argv."""
    rest = text.split(heading, 1)[1]
    body = rest.split('```sh\n', 1)[1].split('\n```', 1)[0]
    return shlex.split(body)


def test_sections_in_order():
    changes, text = render([LINUX, OLD, DONE])
    headings = [line for line in text.splitlines() if line.startswith('## ')]
    assert headings == ['## What changes', '## Pre-checks', '## Apply',
                        '## Roll back', '## What the change does not reach',
                        '## Verify after the change']
    assert text.startswith('# Runbook: move 1 images to hw_disk_bus=scsi '
                           '(hw_scsi_model=virtio-scsi)')
    assert [c.action for c in changes] == ['change', 'blocked', 'unchanged']


def test_apply_command_names_only_the_changes_and_the_journal():
    _, text = render([LINUX, OLD, DONE])
    argv = block(text, '## Apply')
    assert argv == ['glance-virtio', '--os-cloud', 'prod', 'set', LINUX.id,
                    '--bus', 'scsi', '--scsi-model', 'virtio-scsi',
                    '--allow', 'GV024', '--journal',
                    '/var/tmp/my journal.jsonl', '--yes']
    assert block(text, '## Roll back') == [
        'glance-virtio', '--os-cloud', 'prod', 'rollback',
        '/var/tmp/my journal.jsonl', '--yes']


def test_blocked_images_say_why_and_the_explain_summary():
    _, text = render([LINUX, OLD])
    old = text.split('### centos-6', 1)[1].split('###', 1)[0]
    assert '- Action: **blocked**' in old
    assert '- Why: GV012' in old
    assert '- guest name /dev/vda1 becomes /dev/sda1' in old
    assert '| `hw_disk_bus` | `virtio` | `scsi` |' in old


def test_pre_checks_give_the_deep_command_when_not_inspected():
    _, text = render([LINUX])
    argv = block(text, '## Pre-checks')
    assert argv == ['glance-virtio', '--os-cloud', 'prod', 'explain',
                    LINUX.id, '--bus', 'scsi', '--deep']


def test_windows_staged_cut_over_names_start_and_start_override():
    _, text = render([WIN], {WIN.id: WIN_REPORT})
    staged = text.split('## Windows: staged cut-over', 1)[1].split(
        '\n## ', 1)[0]
    assert 'extra small volume on the scsi bus' in staged
    assert 'Start = 0, and no StartOverride' in staged
    assert 'win-2019' in staged


def test_no_staged_section_when_the_driver_is_boot_start():
    report = dict(WIN_REPORT, drivers={'virtio_scsi': {'state': 'ready',
                                                       'evidence': []}})
    _, text = render([WIN], {WIN.id: report})
    assert '## Windows: staged cut-over' not in text


def test_what_it_does_not_reach_and_how_to_verify():
    _, text = render([LINUX])
    assert 'cannot be known from Glance' in text
    assert 'volume_image_metadata' in text
    assert 'INACCESSIBLE_BOOT_DEVICE' in text
    assert 'Gave up waiting for root file system device' in text
    assert 'ALERT! /dev/... does not exist. Dropping to a shell!' in text
    assert 'openstack server create --image %s' % LINUX.id in text


def test_nothing_to_apply():
    _, text = render([DONE])
    assert 'Nothing to apply' in text and '## Roll back' not in text
