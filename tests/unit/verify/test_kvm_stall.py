"""A KVM guest that stops writing before a verdict is booted again on TCG.

Seen here: with /dev/kvm under nested virtualisation the probe sector
can run and GRUB print "Booting", and then the kernel never writes a
line. A KVM hang cannot be made on demand, so the console and QEMU are
stand-ins: a real console file that stops growing, a QEMU still running.
"""

import queue
import time

from glance_virtio.verify import console
from glance_virtio.verify import runner


class Running:
    def poll(self):
        return None


class NoEvents:
    events = queue.Queue()


def watch(tmp_path, text, monkeypatch, silence=runner.KVM_SILENCE_SECONDS):
    monkeypatch.setattr(runner, 'KVM_STALL_SECONDS', 0.5)
    log = tmp_path / 'console.log'
    log.write_bytes(text)
    return runner._watch(Running(), str(log), NoEvents(), time.monotonic(),
                         60, silence)


def test_output_then_nothing_under_kvm_is_a_kvm_hang(tmp_path, monkeypatch):
    verdict, reason, decided = watch(
        tmp_path, b"\x1b[H\x1b[J  Booting `Debian canary'\n\n", monkeypatch)
    assert reason == runner.KVM_SILENT
    assert verdict.verdict == console.UNKNOWN and decided is None


def test_a_verdict_before_the_stall_is_kept(tmp_path, monkeypatch):
    verdict, reason, _ = watch(
        tmp_path, b'ALERT!  UUID=1234 does not exist.  Dropping to a '
        b'shell!\n', monkeypatch)
    assert reason == 'verdict' and verdict.verdict == console.FAILED


def test_tcg_waits_for_its_own_timeout(tmp_path, monkeypatch):
    monkeypatch.setattr(runner, 'KVM_STALL_SECONDS', 0.5)
    log = tmp_path / 'console.log'
    log.write_bytes(b"  Booting `Debian canary'\n")
    verdict, reason, _ = runner._watch(Running(), str(log), NoEvents(),
                                       time.monotonic(), 1.5, None)
    assert reason.startswith('timeout') and verdict.verdict == console.UNKNOWN
