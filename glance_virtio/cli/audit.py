"""virtio-audit: report each image's driver readiness and findings."""

import logging
import sys
import time

from osc_lib import exceptions

from glance_virtio import audit
from glance_virtio import changes
from glance_virtio import report
from glance_virtio.cli import common
from glance_virtio.cli import servers

LOG = logging.getLogger(__name__)

COLUMNS = (
    ('ID', 'id', None), ('Name', 'name', None), ('Owner', 'owner', None),
    ('OS', 'os', None), ('OS Source', 'os_source', None),
    ('Disk Bus', 'hw_disk_bus', None), ('SCSI Model', 'hw_scsi_model', None),
    ('VIF Model', 'hw_vif_model', None),
    ('Machine Type', 'machine_type', None),
    ('Readiness', 'readiness', common.DictColumn),
    ('Recommended Bus', 'recommended_bus', None),
    ('Findings', 'findings', common.FindingsColumn),
)
LONG_COLUMNS = (
    ('Visibility', 'visibility', None), ('Status', 'status', None),
    ('Snapshot', 'snapshot', None), ('OS Family', 'os_family', None),
    ('OS Confidence', 'os_confidence', None),
    ('Readiness Reasons', 'readiness_reasons', common.DictColumn),
    ('Recommended Why', 'recommended_why', None),
    ('Severity', 'severity', None), ('Inspected', 'inspected', None),
    ('Details', 'findings', common.MessagesColumn),
)


def table(rows, long):
    spec = COLUMNS + (LONG_COLUMNS if long else ())
    data = [tuple(kind(row[key]) if kind else row[key]
                  for _, key, kind in spec) for row in rows]
    return tuple(name for name, _, _ in spec), data


class AuditImages(common.Lister):
    """Audit images for virtio disk bus readiness and known-bad properties"""

    command = 'audit'

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        common.add_selection(parser, snapshots_default=True)
        parser.add_argument('--long', action='store_true',
                            help='List additional fields in output')
        common.add_deep(parser)
        common.severity_choice(parser, 'none: findings never change the '
                                       'exit code')
        parser.add_argument('--only-findings', action='store_true',
                            help='List only images with findings')
        parser.add_argument('--impact', action='store_true',
                            help='Count the volumes and servers carrying a '
                                 'copy of each image, and those differing')
        servers.add_nova_manage(parser)
        add_since(parser)
        add_prometheus(parser)
        parser.add_argument('--scs-0102', action='store_true',
                            help='Print the SCS-0102 testcase %s PASS/FAIL '
                                 'over the public and community images as '
                                 'SCS tooling does, and beside it %s '
                                 '(scsi without hw_scsi_model fails), '
                                 'instead of the table; exit %d when the '
                                 'SCS testcase fails'
                            % (report.SCS_TESTCASE, report.STRICT_TESTCASE,
                               common.EXIT_FINDINGS))
        return parser

    def take_action(self, parsed_args):
        if parsed_args.nova_manage and not parsed_args.impact:
            common.usage_error(self, '--nova-manage needs --impact')
        manage = servers.nova_manage(parsed_args)
        since_filter(self, parsed_args)
        if parsed_args.scs_0102 and not parsed_args.visibility:
            parsed_args.visibility = 'all'  # community images too
        policy = common.load_policy(self.app)
        conn = common.connection(self.app)
        images = common.select(conn, parsed_args)
        if parsed_args.images and not images:
            raise exceptions.CommandError('none of the images matched')
        catalogue = common.base_images(conn, images)
        inspections = common.inspections(self.app, conn, images, parsed_args)
        rows = audit.audit(images, policy, catalogue, inspections)
        self._rows = rows
        if parsed_args.only_findings:
            rows = [r for r in rows if r['findings']]
        names, data = table(rows, common.wants_long(parsed_args,
                                                    LONG_COLUMNS))
        if parsed_args.impact:
            counts = servers.impact(self.app, conn, images, policy, manage)
            names += tuple(n for n, _ in servers.IMPACT_COLUMNS)
            data = [line + tuple(counts[r['id']][k]
                                 for _, k in servers.IMPACT_COLUMNS)
                    for line, r in zip(data, rows)]
        return names, common.cells(parsed_args, data)

    def produce_output(self, parsed_args, column_names, data):
        if not parsed_args.scs_0102:
            return super().produce_output(parsed_args, column_names, data)
        self._scs = report.scs_0102(self._rows)
        out, err = report.scs_lines(self._scs)
        for line in err:
            sys.stderr.write(line + '\n')
        for line in out:
            self.app.stdout.write(line + '\n')
        return 0

    def run(self, parsed_args):
        self._rows = []
        self._scs = None
        started, clock = time.time(), time.monotonic()
        try:
            result = super().run(parsed_args)
        except BaseException:
            write_prometheus(parsed_args, [], 'audit', started, clock, False)
            raise
        write_prometheus(parsed_args, self._rows, 'audit', started, clock,
                         result == 0)
        if result == 0 and self._scs and not self._scs[0][1]:
            return common.EXIT_FINDINGS
        if result == 0 and parsed_args.fail_on and audit.failing(
                self._rows, parsed_args.fail_on):
            return common.EXIT_FINDINGS
        return result


def add_since(parser):
    parser.add_argument('--since', metavar='<time|duration>',
                        help='Only images changed since then: an ISO 8601 '
                             'time (2026-12-05T07:00:00Z) or a duration '
                             'ago (90m, 6h, 1d12h); Glance filters on '
                             'updated_at')


def since_filter(cmd, parsed_args):
    """Turn --since into Glance's updated_at=gte: list filter."""
    if not parsed_args.since:
        return
    if parsed_args.images:
        common.usage_error(cmd, '--since filters the listing: name no image')
    try:
        mark = changes.parse_since(parsed_args.since)
    except ValueError as e:
        common.usage_error(cmd, '--since: %s' % e)
    parsed_args.property = list(parsed_args.property) + [
        ('updated_at', 'gte:' + mark)]


def add_prometheus(parser):
    parser.add_argument('--prometheus', metavar='<file>',
                        help='Also write the counts as a node-exporter '
                             'textfile (a temporary file, then renamed)')
    parser.add_argument('--prometheus-images', action='store_true',
                        help='With --prometheus: one info series per image '
                             '(one series for each image: mind the '
                             'cardinality)')


def write_prometheus(parsed_args, rows, command, started, clock, success):
    if not parsed_args.prometheus:
        return
    text = report.prometheus(rows, command, started,
                             time.monotonic() - clock, success,
                             per_image=parsed_args.prometheus_images)
    try:
        report.write_textfile(parsed_args.prometheus, text)
    except OSError as e:
        raise exceptions.CommandError('cannot write %s: %s'
                                      % (parsed_args.prometheus, e))
