"""Canary boots: wall, CPU and peak memory per verdict, under TCG and KVM.

Boots the bootable Debian fixture images (tests/fixtures/bootable.py,
initramfs-tools) on virtio-scsi: the good initramfs reaches a login prompt
(booted), the one without virtio_scsi gives up waiting for its root
(failed). The floor is a bare QEMU boot of the same disk on the same
devices (-snapshot, serial to a file, nothing else), stopped when the same
console text appears: what the canary machinery (overlay, QMP, sandbox,
classifier, settling) adds. Booting a Nova server cannot be compared here:
the local cloud's Nova runs the fake driver.

    .venv/bin/python bench/verify.py [--runs N] [--accel tcg|kvm|both]
"""

import argparse
import os
import subprocess
import sys
import tempfile
import time

# The repository, not bench/ (bench/inspect.py would hide the stdlib's).
sys.path[0] = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

from bench import common  # noqa: E402
from glance_virtio.verify import canary  # noqa: E402
from glance_virtio.verify import runner  # noqa: E402
from tests.fixtures import bootable  # noqa: E402

TARGET = canary.Target('scsi', 'virtio-scsi')
CASES = (('good', 'booted'), ('no-virtio-scsi', 'failed'))


def boot(variant, accel):
    options = runner.Options(timeout=600, accel=accel)
    return canary.boot_file(bootable.image(variant), {}, TARGET, options,
                            'bench-' + variant)


FLOOR_TEXT = {'good': b'login:', 'no-virtio-scsi': b'Dropping to a shell'}


def floor(variant, accel):
    """Seconds for a bare QEMU to print the deciding text (the floor)."""
    path = bootable.image(variant)
    with tempfile.TemporaryDirectory() as work:
        log = os.path.join(work, 'serial')
        cmd = [runner.qemu_binary(runner.Options()), '-machine', 'pc',
               '-m', '1024', '-display', 'none', '-nodefaults',
               '-vga', 'std', '-snapshot', '-accel',
               runner.accelerator(runner.Options(accel=accel),
                                  runner.QEMU)[1],
               '-drive', 'file=%s,format=qcow2,if=none,id=root' % path,
               '-device', 'virtio-scsi-pci,id=scsi0',
               '-device', 'scsi-hd,bus=scsi0.0,drive=root',
               '-serial', 'file:' + log]
        started = time.monotonic()
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        try:
            while time.monotonic() - started < 600:
                if os.path.exists(log):
                    with open(log, 'rb') as f:
                        if FLOOR_TEXT[variant] in f.read():
                            break
                time.sleep(0.2)
            return time.monotonic() - started
        finally:
            proc.kill()
            proc.wait()


def load():
    """1-minute load average before the run: the machine is shared."""
    return os.getloadavg()[0]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--runs', type=int, default=2)
    parser.add_argument('--accel', choices=('tcg', 'kvm', 'both'),
                        default='both')
    args = parser.parse_args()
    accels = ('tcg', 'kvm') if args.accel == 'both' else (args.accel,)
    rows = []
    before = load()
    for accel in accels:
        if accel == 'kvm' and not runner.kvm_works(runner.qemu_binary(
                runner.Options())):
            rows.append(('kvm', '-', 'KVM does not run guests here '
                         '(boot-sector probe)', '-', '-', '-', '-', '-'))
            continue
        for variant, expected in CASES:
            for run in range(args.runs):
                result = boot(variant, accel)
                v = result.verdict
                print('%s %s run %d: %s (%s) %.1f s wall, %.1f CPU-s, '
                      '%.0f MiB' % (accel, variant, run + 1, v.verdict,
                                    v.marker, result.seconds,
                                    result.cpu_seconds, result.peak_rss_mb),
                      flush=True)
                rows.append((accel, variant, '%s (%s)' % (v.verdict,
                                                          v.marker),
                             'yes' if v.verdict == expected else 'NO',
                             '%.1f' % result.seconds,
                             '%.1f' % result.cpu_seconds,
                             '%.0f' % result.peak_rss_mb, '-'))
            seconds = floor(variant, accel)
            print('%s %s floor: %.1f s' % (accel, variant, seconds),
                  flush=True)
            rows[-1] = rows[-1][:-1] + ('%.1f' % seconds,)
    text = '\n'.join([
        '## Canary boots (bench/verify.py)', '',
        'Debian 12 fixture images (initramfs-tools, GRUB, systemd; '
        'tests/fixtures/bootable.py) booted on virtio-scsi (pc, SeaBIOS, '
        '1 vCPU, 1 GiB) through `canary.boot_file`, the code `verify` runs '
        'per image. Wall seconds are from QEMU start to the console line '
        'that decides the verdict (the %.0f s read after it for more '
        'evidence are not counted; CPU and peak RSS are the whole QEMU '
        'process). Target: <= 60 s under TCG for both outcomes.'
        % runner.SETTLE_SECONDS, '',
        common.md_table(('accel', 'image', 'verdict (marker)', 'expected',
                         'wall (s)', 'CPU (s)', 'peak RSS (MiB)',
                         'floor: bare QEMU (s)'), rows),
        '',
        'A failed initramfs-tools boot cannot be faster than its root '
        'wait: it gives up after 30 s (max(30, rootdelay)) once udev '
        'settles. The machine was shared: 1-minute load average %.1f '
        'before the run. Booting a Nova server is not compared: the local '
        'cloud\'s Nova runs the fake driver (no guest, no console).'
        % before, '',
        'Machine: %s.' % common.machine(), '',
        'Command: `.venv/bin/python bench/verify.py --runs %d --accel %s`'
        % (args.runs, args.accel)])
    common.write_section('verify', text)
    print(text)


if __name__ == '__main__':
    main()
