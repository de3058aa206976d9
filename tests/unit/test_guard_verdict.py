"""The import guard's verdict: what it fills, what it refuses."""

from glance_virtio.guard import opts
from glance_virtio.guard import verdict
from glance_virtio import model


def drivers(**states):
    return {d: {'state': states.get(d, 'unknown'), 'evidence': ['seen']}
            for d in ('virtio_blk', 'virtio_scsi', 'virtio_net', 'ide',
                      'sata')}


WIN_VIOSTOR = {'status': 'ok', 'os': {'family': 'windows',
                                      'distro': 'windows',
                                      'version': '10.0'},
               'drivers': drivers(virtio_blk='ready', virtio_scsi='missing',
                                  virtio_net='ready')}
DEBIAN = {'status': 'ok', 'os': {'family': 'linux', 'distro': 'debian',
                                 'version': '12'},
          'drivers': drivers(virtio_blk='ready', virtio_scsi='ready',
                             virtio_net='ready', ide='ready', sata='ready')}
BROKEN = {'status': 'error', 'error': 'corrupt qcow2 image: bad L2'}


def image(**props):
    return model.Image('i1', 'upload', 'p1', 'private', 'importing',
                       disk_format='qcow2', properties=props)


def test_windows_with_viostor_only_on_scsi_is_refused():
    got = verdict.judge(image(hw_disk_bus='scsi',
                              hw_scsi_model='virtio-scsi'), WIN_VIOSTOR)
    assert got.refuse and got.result == 'refused: GV010'
    assert got.message.startswith('glance_virtio_guard refused the image: '
                                  'GV010 Windows on hw_disk_bus=scsi')
    assert 'import again' in got.message
    # What it proved is still filled (the uploader sees it on retry).
    assert got.fill == {'os_type': 'windows', 'os_distro': 'windows',
                        'virtio_drivers': 'viostor,netkvm'}


def test_debian_on_scsi_without_a_model_is_refused():
    got = verdict.judge(image(hw_disk_bus='scsi'), DEBIAN)
    assert got.refuse and got.result == 'refused: GV005'
    assert 'GV005' in got.message


def test_windows_with_viostor_and_no_bus_goes_through_filled():
    got = verdict.judge(image(), WIN_VIOSTOR)
    assert not got.refuse and got.message == ''
    assert got.fill == {'os_type': 'windows', 'os_distro': 'windows',
                        'virtio_drivers': 'viostor,netkvm'}
    assert not any(f.severity == 'error' for f in got.findings)


def test_the_uploaders_properties_are_never_overwritten():
    got = verdict.judge(image(os_distro='win2k22', virtio_drivers='viostor'),
                        WIN_VIOSTOR)
    assert got.fill == {'os_type': 'windows'}


def test_only_the_configured_properties_are_filled_and_the_bus_on_request():
    settings = verdict.Settings(fill=('os_version', 'hw_disk_bus'))
    got = verdict.judge(image(), DEBIAN, settings)
    assert got.fill == {'os_version': '12', 'hw_disk_bus': 'scsi',
                        'hw_scsi_model': 'virtio-scsi'}
    assert got.result == 'ok' and not got.refuse


def test_warn_mode_records_without_refusing():
    got = verdict.judge(image(hw_disk_bus='scsi'), DEBIAN,
                        verdict.Settings(mode='warn'))
    assert not got.refuse and got.result == 'error: GV005'


def test_ignored_rules_are_not_judged():
    got = verdict.judge(image(hw_disk_bus='scsi'), DEBIAN,
                        verdict.Settings(ignore=('gv005',)))
    assert not got.refuse
    assert 'GV005' not in {f.rule for f in got.findings}


def test_an_uninspectable_disk_under_both_settings():
    allowed = verdict.judge(image(os_type='linux'), BROKEN)
    assert not allowed.refuse and allowed.fill == {}
    assert allowed.result == 'uninspected: corrupt qcow2 image: bad L2'
    assert allowed.inspection_error == 'corrupt qcow2 image: bad L2'
    rejected = verdict.judge(image(os_type='linux'), BROKEN,
                             verdict.Settings(on_inspection_error='reject'))
    assert rejected.refuse and rejected.result == 'refused: uninspected'
    assert 'could not be inspected: corrupt qcow2 image' in rejected.message


def test_known_bad_metadata_is_refused_even_uninspected():
    got = verdict.judge(image(os_type='linux', hw_disk_bus='scsi'), BROKEN)
    assert got.refuse and got.result == 'refused: GV005'


def test_the_options_oslo_config_generator_documents():
    (group, options), = opts.list_opts()
    assert group == 'glance_virtio_guard'
    names = {o.name for o in options}
    assert {'mode', 'fill_properties', 'ignore_rules', 'on_inspection_error',
            'result_property', 'max_read_mib', 'max_memory_mib',
            'max_cpu_seconds', 'timeout'} <= names
    assert all(o.help for o in options)
