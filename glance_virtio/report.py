"""Reports other systems read: a Prometheus textfile and SCS-0102 verdicts.

Both take audit rows (audit.row) and return plain text; nothing here
talks to a cloud.
"""

import collections
import time

from glance_virtio import audit
from glance_virtio import files


PREFIX = 'glance_virtio'
EXIT_FINDINGS = 3
# SCS standard scs-0102 (Tests/iaas/scs_0102_image_metadata in
# SovereignCloudStack/standards): hw_disk_bus of every public and community
# image is virtio, scsi or unset; hw_scsi_model is not looked at.
SCS_TESTCASE = 'scs-0102-prop-hw_disk_bus'
SCS_BUSES = ('virtio', 'scsi', None)
SCS_VISIBILITIES = ('public', 'community')
STRICT_TESTCASE = 'glance-virtio-strict-hw_disk_bus'
SCSI_WITHOUT_MODEL = 'GV005'


def _escape(value):
    return str(value).replace('\\', '\\\\').replace('\n', '\\n').replace(
        '"', '\\"')


def _labels(pairs):
    if not pairs:
        return ''
    return '{%s}' % ','.join('%s="%s"' % (k, _escape(v)) for k, v in pairs)


def _family(lines, name, help_text, samples):
    """Append one gauge family: HELP, TYPE, then (labels, value) samples."""
    name = '%s_%s' % (PREFIX, name)
    lines.append('# HELP %s %s' % (name, help_text))
    lines.append('# TYPE %s gauge' % name)
    for labels, value in samples:
        lines.append('%s%s %s' % (name, _labels(labels), _number(value)))


def _number(value):
    if isinstance(value, bool):
        return '1' if value else '0'
    if isinstance(value, float):
        return repr(value)
    return str(value)


def prometheus(rows, command, started, duration, success, per_image=False,
               extra=()):
    """The node-exporter textfile for one run of command over rows.

    started is the run's start (Unix seconds), duration its length in
    seconds; extra are more (name, help, samples) gauge families.
    """
    job = (('command', command),)
    by_severity = collections.Counter(
        (r['severity'], r['visibility'] or '') for r in rows)
    by_bus = collections.Counter(
        (r['hw_disk_bus'] or '', r['hw_scsi_model'] or '') for r in rows)
    findings = collections.Counter(
        (f['rule'], f['severity']) for r in rows for f in r['findings'])
    lines = []
    _family(lines, 'images', 'Images judged, by the most severe finding '
            '(ok: none) and visibility.',
            [(job + (('severity', s), ('visibility', v)), n)
             for (s, v), n in sorted(by_severity.items())])
    _family(lines, 'images_by_bus', 'Images judged, by hw_disk_bus and '
            'hw_scsi_model (empty: unset).',
            [(job + (('hw_disk_bus', b), ('hw_scsi_model', m)), n)
             for (b, m), n in sorted(by_bus.items())])
    _family(lines, 'findings', 'Findings on the images judged, by rule and '
            'severity.',
            [(job + (('rule', r), ('severity', s)), n)
             for (r, s), n in sorted(findings.items())])
    for name, help_text, samples in extra:
        _family(lines, name, help_text,
                [(job + tuple(labels), value) for labels, value in samples])
    _family(lines, 'last_run_timestamp_seconds', 'When the last run started '
            '(Unix time).', [(job, float(started))])
    _family(lines, 'last_run_duration_seconds', 'How long the last run '
            'took.', [(job, round(float(duration), 3))])
    _family(lines, 'last_run_success', 'Whether the last run read the '
            'catalogue and judged it (1) or failed (0).', [(job, success)])
    if per_image:
        _family(lines, 'image_info', 'One series per image judged: its '
                'bus, most severe finding and recommended bus.',
                [(job + (('id', r['id']), ('name', r['name'] or ''),
                         ('owner', r['owner'] or ''),
                         ('visibility', r['visibility'] or ''),
                         ('hw_disk_bus', r['hw_disk_bus'] or ''),
                         ('hw_scsi_model', r['hw_scsi_model'] or ''),
                         ('severity', r['severity']),
                         ('recommended_bus', r['recommended_bus'] or '')), 1)
                 for r in sorted(rows, key=lambda r: r['id'])])
    return '\n'.join(lines) + '\n'


def exit_code(rows, fail_on=None, drifted=None, scs=None):
    """3 (EXIT_FINDINGS) for an audit that fails, else 0.

    It fails on a finding at or above fail_on, on a row drifted(row) says
    drifted, or when the SCS-0102 testcase (scs_0102's results) fails.
    """
    failed = (scs and not scs[0][1]) or (
        fail_on and audit.failing(rows, fail_on)) or (
        drifted and any(drifted(r) for r in rows))
    return EXIT_FINDINGS if failed else 0


class TextfileError(Exception):
    """The Prometheus textfile cannot be written."""


class Run:
    """An audit run's clock and result, for the Prometheus textfile.

    As a context: the textfile is written at the end, if a path was given
    (TextfileError if it cannot be); a run that raised has no rows and failed.
    """

    def __init__(self, path, command, per_image=False):
        self.path, self.command, self.per_image = path, command, per_image
        self.rows, self.success = [], False

    def __enter__(self):
        self.started, self.clock = time.time(), time.monotonic()
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc_type is not None:
            self.rows, self.success = [], False
        if not self.path:
            return
        try:
            write_textfile(self.path, prometheus(
                self.rows, self.command, self.started,
                time.monotonic() - self.clock, self.success,
                per_image=self.per_image))
        except OSError as e:
            raise TextfileError('cannot write %s: %s' % (self.path, e))


def write_scs(rows, out, err):
    """Print the SCS-0102 verdicts on out, the offenders on err; results."""
    results = scs_0102(rows)
    lines, offenders = scs_lines(results)
    for line in offenders:
        err.write(line + '\n')
    for line in lines:
        out.write(line + '\n')
    return results


def write_textfile(path, text):
    """Write text to path atomically: a temporary file, then a rename.

    The collector never reads half a file; the file is world-readable
    (node-exporter usually runs as another user).
    """
    files.replace(path, text, 0o644)


def scs_0102(rows):
    """(testcase, passed, offending rows) for SCS and the stricter check.

    SCS's own verdict first, as its tooling computes it; then
    glance-virtio's: scsi without hw_scsi_model passes SCS, but libvirt
    gives such a disk an LSI controller (GV005).
    """
    judged = [r for r in rows if r['visibility'] in SCS_VISIBILITIES]
    scs = [r for r in judged if r['hw_disk_bus'] not in SCS_BUSES]
    strict = scs + [r for r in judged if r not in scs and any(
        f['rule'] == SCSI_WITHOUT_MODEL for f in r['findings'])]
    return [(SCS_TESTCASE, not scs, scs), (STRICT_TESTCASE, not strict,
                                           strict)]


def scs_lines(results):
    """(stdout, stderr) lines: verdicts and offenders as SCS tooling prints.

    SCS's scripts print "<testcase>: PASS|FAIL" and log the offending
    image names as errors on stderr.
    """
    out, err = [], []
    for testcase, passed, offenders in results:
        if offenders:
            err.append('ERROR: property hw_disk_bus not correct%s for '
                       'image(s): %s' % (
                           '' if testcase == SCS_TESTCASE else
                           ' (scsi without hw_scsi_model)',
                           ', '.join(r['name'] or r['id'] for r in offenders)))
        out.append('%s: %s' % (testcase, ('FAIL', 'PASS')[bool(passed)]))
    return out, err
