"""Pure parts of the canary runs: exit codes, checksums, the probe sector."""

from glance_virtio import model
from glance_virtio.verify import canary
from glance_virtio.verify import console
from glance_virtio.verify import runner
from glance_virtio.verify import viaserver


def outcome(verdict, error=None):
    return canary.Outcome('id', 'name', runner.Result(
        console.Verdict(verdict), 1.0, 'tcg'), error)


def test_exit_codes():
    booted, failed, unknown = (outcome(v) for v in console.VERDICTS)
    assert canary.exit_code([booted]) == 0
    assert canary.exit_code([booted, unknown]) == 5
    assert canary.exit_code([booted, unknown], strict=True) == 4
    assert canary.exit_code([unknown, failed]) == 4
    assert canary.exit_code([outcome('unknown', 'cannot fetch')]) == 4


def test_the_local_copy_is_named_by_the_strongest_hash():
    image = model.Image('i', checksum='abc', properties={
        'os_hash_algo': 'sha512', 'os_hash_value': 'f00'})
    assert canary.hash_of(image) == ('sha512', 'f00')
    assert canary.hash_of(model.Image('i', checksum='abc')) == ('md5', 'abc')
    assert canary.hash_of(model.Image('i')) == (None, None)


def test_probe_sector_is_a_boot_sector_that_names_itself():
    sector = runner.probe_sector()
    assert sector[510:512] == b'\x55\xaa'
    # mov si, 0x7c17: the message right after the code, loaded at 0x7c00.
    assert sector[0x17:0x17 + len(runner.PROBE_OK)] == runner.PROBE_OK


def test_nova_fake_driver_console_is_unknown():
    # The fake driver's get_console_output (nova 34.0.0 nova/virt/fake.py
    # l.480), which the local cloud's Nova runs.
    classifier = viaserver.classify_output(
        'FAKE CONSOLE OUTPUT\nANOTHER\nLAST LINE')
    assert classifier.decided is None
    assert classifier.result('timeout').verdict == console.UNKNOWN
