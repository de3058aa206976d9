"""Verdict of a canary boot from its serial console and QMP events (pure).

``booted`` needs a line only a booted system prints: a login prompt, the
multi-user target, SAC's CMD channel. The real root's systemd "Welcome to
...!" proves the initramfs found the root disk on that bus, but a boot can
still fail after it (an fstab entry naming the old device ends in
emergency mode): alone at the deadline it is ``unknown``, with the line as
evidence. ``failed`` needs a line or an event that means the boot cannot go
on. Anything else is ``unknown``: a boot that shows nothing recognisable is
never a success.
"""

import dataclasses
import re
from typing import Optional, Tuple

BOOTED, FAILED, UNKNOWN = 'booted', 'failed', 'unknown'
VERDICTS = (BOOTED, FAILED, UNKNOWN)
ANSI = re.compile(r'\x1b\[[0-9;?=]*[ -/]*[@-~]|\x1b[()][0-9A-Za-z]|\x1b[=>]')
# The kernel echoes its command line (root=, console=): never evidence.
ECHO = re.compile(r'(Kernel )?[Cc]ommand line:|BOOT_IMAGE=')


@dataclasses.dataclass(frozen=True)
class Marker:
    name: str
    verdict: str
    pattern: str
    # Progress, not proof: recorded, never decides alone.
    weak: bool = False

    def match(self, line):
        return re.search(self.pattern, line)


MARKERS = (
    # Failures first: a line that matches both is a failure.
    Marker('root device not found', FAILED,
           r'Gave up waiting for root (file system )?device'),
    Marker('dropped to initramfs shell', FAILED,
           r'ALERT!.*does not exist\.\s*Dropping to a shell'),
    Marker('initramfs shell', FAILED, r'^\(initramfs\)\s*$'),
    Marker('dracut timeout', FAILED,
           r'dracut-initqueue(\[\d+\])?: (Warning: )?(dracut-initqueue: )?'
           r'timeout'),
    Marker('sysroot not mounted', FAILED,
           r'Dependency failed for .*(sysroot\.mount|/sysroot)'),
    Marker('emergency mode', FAILED,
           r'Reached target .*(emergency\.target|Emergency Mode)|'
           r'You are in emergency mode|'
           r'Give root password for maintenance'),
    Marker('root fs not mountable', FAILED,
           r'VFS: Unable to mount root fs|VFS: Cannot open root device'),
    Marker('kernel panic', FAILED, r'Kernel panic - not syncing'),
    Marker('grub rescue', FAILED, r'grub rescue>|Entering rescue mode'),
    Marker('grub: no such device', FAILED, r'error: no such device'),
    Marker('grub: file not found', FAILED,
           r"error: (file `[^']*' not found|unknown filesystem)"),
    Marker('no bootable device', FAILED,
           r'No bootable device|Boot failed: not a bootable disk|'
           r'BdsDxe: No bootable option or device was found'),
    Marker('uefi shell: no disk', FAILED, r'map: No mapping found'),
    Marker('uefi shell', FAILED, r'UEFI Interactive Shell'),
    Marker('windows bug check', FAILED,
           r'<INSTANCE CLASSNAME="BLUESCREEN">|INACCESSIBLE_BOOT_DEVICE|'
           r'STOP: 0x0*7B\b|"0x0*7B"'),
    # Successes.
    # A kernel message may land on the prompt's line before any input.
    Marker('login prompt', BOOTED,
           r'^\S+ login:\s*(\[\s*\d+\.\d+\].*)?$'),
    Marker('multi-user target', BOOTED,
           r'Reached target .*(multi-user\.target|Multi-User System|'
           r'graphical\.target|Graphical Interface)'),
    Marker('windows SAC ready', BOOTED,
           r'EVENT: The CMD command is now available'),
    Marker('root welcome', BOOTED,
           r'^Welcome to (?!GRUB)(?!.*\(Initramfs\)).+!\s*$', weak=True),
)
# QMP events: a panic, or the guest resetting or powering off before any
# success line (-no-reboot turns a reset into an exit).
EVENTS = {
    'GUEST_PANICKED': 'guest panicked (pvpanic)',
    'GUEST_CRASHLOADED': 'guest panicked (pvpanic)',
    'RESET': 'reset before boot',
    'SHUTDOWN': 'reset before boot',
}
EVIDENCE_LINES = 6


@dataclasses.dataclass(frozen=True)
class Verdict:
    verdict: str
    marker: Optional[str] = None
    evidence: Tuple[str, ...] = ()
    reason: Optional[str] = None

    def to_dict(self):
        return dataclasses.asdict(self)


def clean(line):
    """A console line without ANSI escapes, carriage returns or NULs."""
    line = ANSI.sub('', line).replace('\x00', '').rstrip('\r\n')
    # What a carriage return overwrote is gone from the screen too.
    return line.split('\r')[-1]


def match(line):
    """The first Marker the (cleaned) line shows, or None."""
    line = clean(line).rstrip('\n')
    if not line.strip() or ECHO.search(line):
        return None
    # systemd's status prefix: "[  OK  ] Reached target ...".
    body = re.sub(r'^\s*\[\s*[A-Z ]+\]\s*', '', line)
    for marker in MARKERS:
        if marker.match(body) or marker.match(line):
            return marker
    return None


class Classifier:
    """Feed console lines and QMP events in order; read ``verdict``."""

    def __init__(self):
        self.decided = None
        self.weak = None
        self.evidence = []
        self._recent = []

    def feed_line(self, line):
        """Returns the Verdict once one is decided."""
        text = clean(line).rstrip('\n')
        if self.decided:
            if match(text) and len(self.evidence) < EVIDENCE_LINES:
                self.evidence.append(text.strip())
            return self.decided
        marker = match(text)
        if marker is None:
            if text.strip():
                self._recent = (self._recent + [text.strip()])[-2:]
            return None
        if marker.weak:
            self.weak = (marker, text.strip())
            return None
        if marker.verdict == BOOTED or marker.verdict == FAILED:
            lines = [text.strip()]
            if marker.verdict == FAILED:
                lines = self._recent[-1:] + lines
            self.evidence = lines
            self.decided = Verdict(marker.verdict, marker.name)
        return self.decided

    def feed_event(self, event, data=None):
        if self.decided:
            return self.decided
        name = EVENTS.get(event)
        if not name:
            return None
        if event == 'SHUTDOWN' and (data or {}).get('reason') in (
                'host-qmp-quit', 'host-signal', 'host-qmp-system-reset',
                'host-error'):
            return None
        detail = '%s %s' % (event, (data or {}).get('reason') or
                            (data or {}).get('action') or '')
        self.evidence = self._recent[-2:] + ['QMP event: ' + detail.strip()]
        self.decided = Verdict(FAILED, name)
        return self.decided

    def result(self, reason=None):
        """The final Verdict: decided, else unknown (with any progress)."""
        if self.decided:
            return Verdict(self.decided.verdict, self.decided.marker,
                           tuple(self.evidence), reason)
        if self.weak:
            return Verdict(UNKNOWN, self.weak[0].name, (self.weak[1],),
                           '%s: the real root started, but no login prompt '
                           'or multi-user target followed' % (
                               reason or 'the console ended'))
        return Verdict(UNKNOWN, None, tuple(self._recent[-2:]),
                       reason or 'no line that decides the boot')


def classify(lines, events=(), reason=None):
    """Verdict of a whole console (and events, as (name, data) pairs)."""
    classifier = Classifier()
    for line in lines:
        classifier.feed_line(line)
    for event, data in events:
        classifier.feed_event(event, data)
    return classifier.result(reason)
