"""The console classifier on captured and documented console output."""

import os

from glance_virtio.verify import console

DATA = os.path.join(os.path.dirname(__file__), 'data')


def lines_of(name):
    with open(os.path.join(DATA, name), encoding='utf-8') as f:
        return f.read().splitlines()


def test_false_successes_are_not_booted():
    lines = [
        'Welcome to GRUB!',
        '[    0.000000] Command line: BOOT_IMAGE=/boot/vmlinuz root=UUID=x '
        'ro console=ttyS0 login: ',
        '[    0.010000] Kernel command line: BOOT_IMAGE=/vmlinuz ro '
        'systemd.unit=multi-user.target',
        'Welcome to \x1b[0;31mRed Hat Enterprise Linux 9.2 (Plow) dracut-057'
        '-21.git20230214.el9 (Initramfs)\x1b[0m!',
    ]
    verdict = console.classify(lines, reason='timeout after 300 s')
    assert verdict.verdict == console.UNKNOWN
    assert verdict.marker is None
    assert verdict.reason == 'timeout after 300 s'


def test_emergency_target_is_a_failure():
    verdict = console.classify([
        'Welcome to Debian GNU/Linux 12 (bookworm)!',
        '[  OK  ] Reached target \x1b[0;1;39memergency.target\x1b[0m - '
        'Emergency Mode.'])
    assert verdict.verdict == console.FAILED
    assert verdict.marker == 'emergency mode'


def test_root_welcome_alone_is_unknown_with_the_line():
    verdict = console.classify(
        ['Welcome to \x1b[1mDebian GNU/Linux 12 (bookworm)\x1b[0m!'],
        reason='timeout after 300 s')
    assert verdict.verdict == console.UNKNOWN
    assert verdict.marker == 'root welcome'
    assert verdict.evidence == ('Welcome to Debian GNU/Linux 12 '
                                '(bookworm)!',)
    assert 'no login prompt' in verdict.reason


def test_dracut_timeout_then_sysroot():
    verdict = console.classify([
        '[  180.1] dracut-initqueue[312]: Warning: dracut-initqueue: '
        'timeout, still waiting for following initqueue hooks:',
        '[  180.2] dracut-initqueue[312]: Warning: /lib/dracut/hooks/'
        'initqueue/finished/devexists-\\x2fdev\\x2fmapper\\x2frhel-root.sh',
        '[FAILED] Failed to start dracut-initqueue.service',
        '[DEPEND] Dependency failed for /sysroot.',
        '[  OK  ] Reached target emergency.target - Emergency Mode.'])
    assert verdict.verdict == console.FAILED
    assert verdict.marker == 'dracut timeout'
    assert any('Dependency failed for /sysroot' in e
               for e in verdict.evidence)


def test_kernel_panic_and_vfs():
    verdict = console.classify([
        '[    2.1] VFS: Cannot open root device "vda1" or unknown-block(0,0)',
        '[    2.1] Kernel panic - not syncing: VFS: Unable to mount root fs '
        'on unknown-block(0,0)'])
    assert verdict.verdict == console.FAILED
    assert verdict.marker == 'root fs not mountable'


def test_grub_rescue():
    verdict = console.classify([
        'error: no such device: 3f0e6a52-7c1d-4b8e-9d2a-5e6f7a8b9c0d.',
        'Entering rescue mode...', 'grub rescue> '])
    assert verdict.verdict == console.FAILED
    assert verdict.marker == 'grub: no such device'


def test_windows_sac_bluescreen_is_failed():
    verdict = console.classify(lines_of('windows-sac-bluescreen.txt'))
    assert verdict.verdict == console.FAILED
    assert verdict.marker == 'windows bug check'


def test_windows_sac_ready_is_booted():
    verdict = console.classify(lines_of('windows-sac-booted.txt'))
    assert verdict.verdict == console.BOOTED
    assert verdict.marker == 'windows SAC ready'


def test_windows_without_ems_is_unknown():
    # Windows writes nothing to COM1 without EMS: only the firmware speaks.
    verdict = console.classify(['SeaBIOS (version 1.16.2)', 'Booting from '
                                'Hard Disk...'], reason='timeout after 300 s')
    assert verdict.verdict == console.UNKNOWN


def test_panic_event():
    verdict = console.classify(['Booting from Hard Disk...'],
                               [('GUEST_PANICKED', {'action': 'pause'})])
    assert verdict.verdict == console.FAILED
    assert verdict.marker == 'guest panicked (pvpanic)'
    assert verdict.evidence[-1] == 'QMP event: GUEST_PANICKED pause'


def test_reset_before_success_is_failed_but_not_after():
    reset = [('SHUTDOWN', {'guest': True, 'reason': 'guest-reset'})]
    assert console.classify(['Booting from Hard Disk...'],
                            reset).verdict == console.FAILED
    assert console.classify(['canary login: '],
                            reset).verdict == console.BOOTED


def test_our_own_kill_is_not_a_reset():
    verdict = console.classify(
        ['Booting'], [('SHUTDOWN', {'guest': False, 'reason': 'host-signal'})],
        reason='timeout after 30 s')
    assert verdict.verdict == console.UNKNOWN


def test_login_prompt_needs_a_line_of_its_own():
    assert console.match('canary login: ').name == 'login prompt'
    assert console.match('Last login: Mon Dec  1') is None
    # Captured: the kernel wrote on the prompt's line 0.3 s later.
    assert console.match('canary login: [   91.059979] powernow_k8: Power '
                         'state transitions not supported\r').name == \
        'login prompt'
    assert console.match('[    0.0] Kernel command line: x login: ') is None


def raw_lines(name):
    """A captured console as the runner reads it: \\r\\n, escapes and all."""
    with open(os.path.join(DATA, name), 'rb') as f:
        return f.read().decode('utf-8', 'replace').split('\n')


def test_captured_debian_login_with_grub_and_welcome_before_it():
    verdict = console.classify(raw_lines(
        'debian-uefi-virtio-scsi-booted.log'))
    assert verdict.verdict == console.BOOTED
    assert verdict.marker == 'login prompt'
    assert verdict.evidence[0] == 'canary login:'


def test_captured_debian_up_to_the_real_root_is_not_yet_booted():
    lines = raw_lines('debian-uefi-virtio-scsi-booted.log')
    welcome = next(n for n, line in enumerate(lines)
                   if 'Welcome to \x1b[1mDebian' in line)
    verdict = console.classify(lines[:welcome + 1], reason='timeout')
    assert verdict.verdict == console.UNKNOWN
    assert verdict.marker == 'root welcome'


def test_captured_initramfs_without_virtio_scsi():
    verdict = console.classify(raw_lines('debian-no-virtio-scsi-failed.log'))
    assert verdict.verdict == console.FAILED
    assert verdict.marker == 'root device not found'
    assert ('ALERT!  UUID=3f0e6a52-7c1d-4b8e-9d2a-5e6f7a8b9c0d does not '
            'exist.  Dropping to a shell!') in verdict.evidence


def test_captured_ovmf_on_lsi():
    verdict = console.classify(raw_lines('ovmf-lsi-failed.log'))
    assert verdict.verdict == console.FAILED
    assert verdict.marker == 'uefi shell'
    assert 'map: No mapping found.' in verdict.evidence


def test_carriage_return_line_ends_are_not_lost():
    assert console.clean('canary login: \r') == 'canary login: '
    assert console.clean('\x1b[2J\x1b[01;01H\x1b[=3hUEFI Interactive '
                         'Shell v2.2\r') == 'UEFI Interactive Shell v2.2'
