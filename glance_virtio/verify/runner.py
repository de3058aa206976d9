"""Boot one canary in QEMU and read its console and QMP events.

The image file is opened read-only with its backing chain cut, and every
write goes to a throwaway qcow2 overlay. The guest gets no network, QEMU a
seccomp sandbox, -no-reboot, a pvpanic device, a bounded memory size, CPU
time (RLIMIT_CPU) and wall time. KVM is used only when a probe boot shows
it runs guest code; otherwise TCG with a bounded translation cache.
"""

import dataclasses
import json
import logging
import os
import queue
import resource
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from typing import Optional

from glance_virtio.verify import console
from glance_virtio.verify import devices

LOG = logging.getLogger(__name__)

QEMU = 'qemu-system-x86_64'
OVMF = (('/usr/share/OVMF/OVMF_CODE_4M.fd', '/usr/share/OVMF/OVMF_VARS_4M.fd'),
        ('/usr/share/OVMF/OVMF_CODE.fd', '/usr/share/OVMF/OVMF_VARS.fd'),
        ('/usr/share/edk2/ovmf/OVMF_CODE.fd',
         '/usr/share/edk2/ovmf/OVMF_VARS.fd'))
TB_SIZE_MB = 128
# The probe sector runs in well under a second under TCG; a KVM that needs
# longer is one that hangs now and then (seen here).
KVM_PROBE_SECONDS = 5
# A KVM canary whose console stays empty this long is given up and booted
# again under TCG (and KVM is not used again in this process).
KVM_SILENCE_SECONDS = 30
# A KVM guest that printed something (GRUB) and then nothing for this long,
# with no verdict yet, is taken as KVM hanging (seen here: GRUB ran, the
# kernel never printed); longer than initramfs-tools' 30 s root wait.
KVM_STALL_SECONDS = 60
# After the verdict, read a little longer for more evidence lines.
SETTLE_SECONDS = 2.0
POLL_SECONDS = 0.2

_kvm_lock = threading.Lock()
_kvm_answer = {}


@dataclasses.dataclass
class Options:
    timeout: float = 300.0
    memory_mb: int = 1024
    accel: str = 'auto'  # auto, kvm or tcg
    console_dir: Optional[str] = None
    qemu: Optional[str] = None


@dataclasses.dataclass
class Result:
    verdict: console.Verdict
    seconds: float
    accel: str
    plan: Optional[devices.Plan] = None
    cpu_seconds: Optional[float] = None
    peak_rss_mb: Optional[float] = None
    console_log: Optional[str] = None


class QemuMissing(Exception):
    pass


def qemu_binary(options):
    found = shutil.which(options.qemu or QEMU)
    if not found:
        raise QemuMissing('%s not found: install QEMU (Debian: qemu-system-'
                          'x86) to boot canaries' % (options.qemu or QEMU))
    return found


def ovmf():
    for code, variables in OVMF:
        if os.path.exists(code) and os.path.exists(variables):
            return code, variables
    return None


def kvm_works(qemu):
    """True when a KVM guest runs real-mode boot code here (cached).

    /dev/kvm can exist and still hang (seen here under nested
    virtualisation: SeaBIOS runs, the boot sector never does). The probe
    boots a boot sector that writes PROBE_OK to the debug port, with a
    deadline; anything else means TCG.
    """
    with _kvm_lock:
        if qemu not in _kvm_answer:
            _kvm_answer[qemu] = _probe_kvm(qemu)
        return _kvm_answer[qemu]


PROBE_OK = b'GVPROBE-OK'
# xor ax,ax; mov ds,ax; mov dx,0x402; mov si,0x7c17; cld;
# 1: lodsb; test al,al; jz 2f; out dx,al; jmp 1b; 2: cli; hlt; jmp 2b
PROBE_CODE = bytes.fromhex('31c08ed8ba0204be177cfcac84c07403eeebf8faf4ebfd')


def probe_sector():
    """A 4 KiB raw disk whose boot sector says PROBE_OK on port 0x402."""
    code = PROBE_CODE + PROBE_OK + b'\n\0'
    return code + bytes(510 - len(code)) + b'\x55\xaa' + bytes(3584)


def probe(qemu, accel, seconds=KVM_PROBE_SECONDS):
    """True when ``accel`` boots the probe sector within ``seconds``."""
    work = tempfile.mkdtemp(prefix='gv-kvm-probe-')
    log = os.path.join(work, 'debugcon')
    disk = os.path.join(work, 'probe.img')
    with open(disk, 'wb') as f:
        f.write(probe_sector())
    try:
        proc = subprocess.Popen(
            [qemu, '-accel', accel, '-machine', 'pc', '-nodefaults',
             '-no-user-config', '-display', 'none', '-m', '64',
             '-no-reboot', '-nic', 'none',
             '-drive', 'file=%s,format=raw,if=ide' % disk,
             '-chardev', 'file,id=dbg,path=' + log,
             '-device', 'isa-debugcon,iobase=0x402,chardev=dbg'],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL, start_new_session=True)
        deadline = time.monotonic() + seconds
        works = False
        while time.monotonic() < deadline and proc.poll() is None:
            if os.path.exists(log) and PROBE_OK in _read(log):
                works = True
                break
            time.sleep(POLL_SECONDS)
        _kill(proc)
        LOG.debug('%s probe: %s', accel, 'boots' if works else 'no output')
        return works
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _probe_kvm(qemu):
    if not os.access('/dev/kvm', os.R_OK | os.W_OK):
        return False
    return probe(qemu, 'kvm')


def accelerator(options, qemu):
    """('kvm' | 'tcg', the -accel value)."""
    if options.accel == 'tcg' or (options.accel == 'auto' and
                                  not kvm_works(qemu)):
        return 'tcg', 'tcg,tb-size=%d' % TB_SIZE_MB
    return 'kvm', 'kvm'


def _read(path, offset=0):
    with open(path, 'rb') as f:
        f.seek(offset)
        return f.read()


def _kill(proc):
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    proc.wait()


class _Child:
    """A QEMU process reaped with wait4, for its CPU time and peak RSS."""

    def __init__(self, proc):
        self.proc = proc
        self.usage = None
        self.returncode = None

    def poll(self):
        if self.usage is None:
            pid, status, usage = os.wait4(self.proc.pid, os.WNOHANG)
            if pid:
                self.usage = usage
                self.returncode = os.waitstatus_to_exitcode(status)
                self.proc.returncode = self.returncode
        return self.returncode

    def kill(self):
        if self.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            _, status, self.usage = os.wait4(self.proc.pid, 0)
            self.returncode = os.waitstatus_to_exitcode(status)
            self.proc.returncode = self.returncode


class _Qmp(threading.Thread):
    """Reads QMP events into a queue; the socket is QEMU's server."""

    def __init__(self, path):
        super().__init__(daemon=True)
        self.path = path
        self.events = queue.Queue()
        self.sock = None

    def connect(self, proc, deadline):
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                sock.connect(self.path)
                self.sock = sock
                sock.sendall(b'{"execute": "qmp_capabilities"}\n')
                self.start()
                return True
            except OSError:
                sock.close()
                time.sleep(0.05)
        return False

    def run(self):
        buf = b''
        try:
            while True:
                data = self.sock.recv(65536)
                if not data:
                    return
                buf += data
                while b'\n' in buf:
                    line, buf = buf.split(b'\n', 1)
                    try:
                        message = json.loads(line)
                    except ValueError:
                        continue
                    if 'event' in message:
                        self.events.put((message['event'],
                                         message.get('data') or {}))
        except OSError:
            return

    def close(self):
        if self.sock:
            try:
                self.sock.close()
            except OSError:
                pass


def _limits(cpu_seconds):
    def apply():
        resource.setrlimit(resource.RLIMIT_CPU, (cpu_seconds,
                                                 cpu_seconds + 5))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    return apply


def boot(image_path, image_format, virtual_size, state, firmware_type,
         options, name='canary'):
    """Boot ``image_path`` on ``state``'s devices; a Result."""
    qemu = qemu_binary(options)
    work = tempfile.mkdtemp(prefix='gv-canary-')
    try:
        result = _boot(qemu, work, image_path, image_format, virtual_size,
                       state, firmware_type, options, name)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    if result.verdict.reason != KVM_SILENT:
        return result
    LOG.warning('KVM canary %s wrote nothing in its first %d s, or '
                'nothing more for %d s before a verdict: KVM hangs here, '
                'booting again under TCG', name, KVM_SILENCE_SECONDS,
                KVM_STALL_SECONDS)
    with _kvm_lock:
        _kvm_answer[qemu] = False
    return boot(image_path, image_format, virtual_size, state,
                firmware_type, options, name)


KVM_SILENT = 'KVM wrote nothing'


def _boot(qemu, work, image_path, image_format, virtual_size, state,
          firmware_type, options, name):
    overlay = os.path.join(work, 'overlay.qcow2')
    subprocess.run(['qemu-img', 'create', '-q', '-f', 'qcow2', overlay,
                    str(virtual_size)], check=True)
    firmware = None
    if firmware_type == 'uefi' and ovmf():
        code, variables = ovmf()
        firmware = (code, os.path.join(work, 'OVMF_VARS.fd'))
        shutil.copyfile(variables, firmware[1])
    try:
        plan = devices.plan(state, firmware_type, os.path.abspath(image_path),
                            image_format, overlay, firmware,
                            options.memory_mb)
    except devices.Unbootable as e:
        return Result(console.Verdict(console.FAILED, 'not bootable by Nova',
                                      (str(e),)), 0.0, 'none')
    except devices.CannotEmulate as e:
        return Result(console.Verdict(console.UNKNOWN, None, (), str(e)),
                      0.0, 'none')
    kind, accel = accelerator(options, qemu)
    if options.console_dir:
        os.makedirs(options.console_dir, exist_ok=True)
        log = os.path.join(options.console_dir, '%s.log' % name)
    else:
        log = os.path.join(work, 'console.log')
    open(log, 'wb').close()
    qmp_path = os.path.join(work, 'qmp.sock')
    args = [qemu] + list(plan.args) + devices.safety_args(log, qmp_path,
                                                          accel)
    LOG.debug('canary %s: %s', name, ' '.join(args))
    started = time.monotonic()
    with open(os.path.join(work, 'qemu.stderr'), 'wb') as err:
        proc = subprocess.Popen(
            args, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=err, start_new_session=True,
            preexec_fn=_limits(int(options.timeout) + 30))
    child = _Child(proc)
    qmp = _Qmp(qmp_path)
    decided = None
    try:
        qmp.connect(child, started + 30)
        verdict, reason, decided = _watch(child, log, qmp, started,
                                          options.timeout,
                                          KVM_SILENCE_SECONDS
                                          if kind == 'kvm' and
                                          options.accel == 'auto' else None)
    finally:
        # Seconds to the verdict: not the settling after it.
        seconds = (decided or time.monotonic()) - started
        child.kill()
        qmp.close()
    usage = child.usage
    if reason == 'qemu exited' and verdict.verdict == console.UNKNOWN:
        stderr = _read(os.path.join(work, 'qemu.stderr')).decode(
            'utf-8', 'replace').strip().splitlines()
        verdict = console.Verdict(
            console.UNKNOWN, None, verdict.evidence,
            'QEMU exited (%s) with no verdict%s' % (
                child.returncode, ': ' + stderr[-1] if stderr else ''))
    return Result(verdict, round(seconds, 1), kind, plan,
                  round(usage.ru_utime + usage.ru_stime, 1),
                  round(usage.ru_maxrss / 1024.0, 1),
                  log if options.console_dir else None)


def _watch(proc, log, qmp, started, timeout, silence=None):
    """(Verdict, why it ended, when it was decided or None)."""
    classifier = console.Classifier()
    offset, pending = 0, b''
    decided_at, reason = None, None
    last_output = started
    while True:
        data = _read(log, offset)
        offset += len(data)
        if data:
            last_output = time.monotonic()
        pending += data
        lines = pending.split(b'\n')
        pending = lines.pop()
        for line in lines:
            if classifier.feed_line(line.decode('utf-8', 'replace')):
                decided_at = decided_at or time.monotonic()
        # A login prompt waits without a newline.
        partial = pending.decode('utf-8', 'replace')
        marker = console.match(partial)
        if marker and marker.verdict == console.BOOTED and not marker.weak:
            classifier.feed_line(partial)
            pending = b''
            decided_at = decided_at or time.monotonic()
        while not qmp.events.empty():
            event, data = qmp.events.get()
            LOG.debug('QMP event %s %s', event, data)
            if classifier.feed_event(event, data):
                decided_at = decided_at or time.monotonic()
        now = time.monotonic()
        if decided_at and now - decided_at >= SETTLE_SECONDS:
            reason = 'verdict'
            break
        if proc.poll() is not None:
            if reason == 'qemu exited':
                break
            # One more pass to read what was written before the exit.
            reason = 'qemu exited'
            time.sleep(POLL_SECONDS)
            continue
        if now - started > timeout:
            reason = 'timeout after %d s' % timeout
            break
        if silence and not decided_at and (
                (not offset and now - started > silence) or
                now - last_output > KVM_STALL_SECONDS):
            return console.Verdict(console.UNKNOWN, None, (),
                                   KVM_SILENT), KVM_SILENT, None
        time.sleep(POLL_SECONDS)
    if reason == 'verdict':
        return classifier.result(), reason, decided_at
    return classifier.result(reason if reason != 'qemu exited' else None), \
        reason, decided_at
