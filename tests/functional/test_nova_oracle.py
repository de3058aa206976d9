"""Nova is the oracle: explain's devices and XML against Nova's own code.

tools/nova-oracle.sh installs Nova into its own virtualenv (its pins fight
ours) on first use and runs nova.virt.libvirt.blockinfo.get_disk_mapping and
Nova's libvirt config classes on the same properties.
"""

import itertools
import json
import os
import subprocess
from xml.etree import ElementTree

import pytest

from glance_virtio.knowledge import explain

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
SAMPLES = os.path.join(ROOT, 'tools', 'sample-images.json')
ORACLE = os.path.join(ROOT, 'tools', 'nova-oracle.sh')
NAMES = ('disk', 'disk.local', 'disk.swap', 'disk.config')
INSTANCE = '00000000-0000-4000-8000-000000000000'
EXTRA = [  # not in the sample catalogue, but explain must agree on them too
    {'name': 'legacy-vmware-lsilogic',
     'properties': {'vmware_adaptertype': 'lsiLogic'}},
    {'name': 'legacy-vmware-ide', 'properties': {'vmware_adaptertype': 'ide'}},
    {'name': 'aarch64', 'properties': {'architecture': 'aarch64'}},
    {'name': 'cdrom-scsi', 'properties': {'hw_cdrom_bus': 'scsi',
                                          'hw_scsi_model': 'virtio-scsi'}},
    {'name': 'iso', 'disk_format': 'iso', 'properties': {}},
]


def cases():
    with open(SAMPLES) as f:
        images = json.load(f) + EXTRA
    out = []
    for image, machine, drive, bus in itertools.product(
            images, ('pc', 'q35'), (True, False),
            (None, 'virtio', 'scsi', 'sata', 'ide')):
        props = image['properties']
        if bus:
            props = explain.target_properties(props, bus)
        extra = drive and bus in (None, 'scsi')
        label = '%s %s drive=%s bus=%s' % (image['name'], machine, drive,
                                           bus)
        out.append({'label': label,
                    'properties': props, 'disk_format': image.get(
                        'disk_format'),
                    'machine_type': ['x86_64=%s' % machine],
                    'config_drive': drive, 'ephemeral_gb': int(extra),
                    'swap_mb': 512 * extra})
    return out


@pytest.fixture(scope='module')
def oracle():
    todo = cases()
    result = subprocess.run(['bash', ORACLE], input=json.dumps(todo),
                            capture_output=True, text=True, timeout=1800)
    assert result.returncode == 0, 'nova oracle failed:\n' + result.stderr
    answers = json.loads(result.stdout)
    assert len(answers) == len(todo)
    return list(zip(todo, answers))


def canonical(text):
    text = text.replace(INSTANCE, 'INSTANCE-UUID')
    return ElementTree.canonicalize(text, strip_text=True)


def explained(case):
    options = explain.Options(config_drive=case['config_drive'],
                              ephemeral=bool(case['ephemeral_gb']),
                              swap=bool(case['swap_mb']))
    return explain.state(case['properties'], case['machine_type'], options,
                         case['disk_format'])


def test_mapping_matches_nova_blockinfo(oracle):
    compared = refused = 0
    for case, nova in oracle:
        mine = explained(case)
        if 'error' in nova:
            assert mine.errors and not mine.devices, (case['label'], nova)
            refused += 1
            continue
        assert (mine.disk_bus, mine.cdrom_bus) == (
            nova['disk_bus'], nova['cdrom_bus']), case['label']
        want = {name: (info['dev'], info['bus'], info['type'])
                for name, info in nova['mapping'].items() if name in NAMES}
        got = {d.name: (d.dev, d.bus, d.type) for d in mine.devices}
        assert got == want, case['label']
        assert nova['mapping']['root']['dev'] == mine.root.dev
        compared += 1
    assert compared > 200 and refused >= 8, (compared, refused)


def test_xml_matches_nova_config_classes(oracle):
    compared = 0
    for case, nova in oracle:
        if 'error' in nova or case['disk_format'] == 'iso':
            continue
        mine = explained(case)
        want = [nova['xml'][n] for n in NAMES if n in nova['xml']]
        if 'controller' in nova['xml']:
            want.append(nova['xml']['controller'])
        assert [canonical(x) for x in mine.xml] == \
            [canonical(x) for x in want], case['label']
        compared += 1
    assert compared > 200


def test_nova_refuses_what_explain_calls_an_error(oracle):
    labels = {case['label']: nova for case, nova in oracle}
    assert 'ValueError' in labels[
        'debian-11-bad-enum pc drive=True bus=None']['error']
    assert 'UnsupportedHardware' in labels[
        'debian-11-xen-bus q35 drive=False bus=None']['error']
    assert 'error' not in labels['rocky-9-ide-q35 q35 drive=True bus=None']
