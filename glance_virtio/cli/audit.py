"""virtio-audit: report each image's driver readiness and findings."""

import logging
import sys

from osc_lib import exceptions

from glance_virtio import changes
from glance_virtio.cli import common
from glance_virtio.cli import servers
from glance_virtio import columns
from glance_virtio.kinds import images
from glance_virtio.kinds import servers as server_kind
from glance_virtio import report

LOG = logging.getLogger(__name__)


class AuditImages(common.Lister):
    """Audit images for virtio disk bus readiness and known-bad properties"""

    snapshots_default = True
    command = 'audit'

    def add_options(self, parser):
        common.add_long(parser)
        common.add_deep(parser)
        common.severity_choice(parser, 'none: findings never change the '
                                       'exit code')
        parser.add_argument('--only-findings', action='store_true',
                            help='List only images with findings')
        parser.add_argument('--impact', action='store_true',
                            help='Count the volumes and servers carrying a '
                                 'copy of each image, and those differing')
        servers.add_nova_manage(parser)
        parser.add_argument('--since', metavar='<time|duration>',
                            help='Only images changed since then: an ISO 8601 '
                                 'time (2026-12-05T07:00:00Z) or a duration '
                                 'ago (90m, 6h, 1d12h); Glance filters on '
                                 'updated_at')
        add_prometheus(parser)
        parser.add_argument('--scs-0102', action='store_true',
                            help='Print the SCS-0102 testcase %s PASS/FAIL '
                                 'over the public and community images as '
                                 'SCS tooling does, and beside it %s '
                                 '(scsi without hw_scsi_model fails), '
                                 'instead of the table; exit %d when the '
                                 'SCS testcase fails'
                            % (report.SCS_TESTCASE, report.STRICT_TESTCASE,
                               report.EXIT_FINDINGS))

    def take_action(self, parsed_args):
        args = parsed_args
        if args.nova_manage and not args.impact:
            common.usage_error(self, '--nova-manage needs --impact')
        manage = servers.nova_manage(args)
        if args.since and args.images:
            common.usage_error(self, '--since filters the listing: name no '
                                     'image')
        if args.since:
            try:
                args.property = args.property + [
                    changes.since_filter(args.since)]
            except ValueError as e:
                common.usage_error(self, '--since: %s' % e)
        if args.scs_0102 and not args.visibility:
            args.visibility = 'all'  # community images too
        policy = common.load_policy(self.app)
        conn = common.connection(self.app)
        found, rows = images.audit_selected(
            conn, args, policy,
            lambda found: common.inspections(self.app, conn, found, args))
        self._rows = rows
        if args.only_findings:
            rows = [r for r in rows if r['findings']]
        long = columns.wants_long(args, images.AUDIT_LONG)
        spec = images.AUDIT_COLUMNS + (images.AUDIT_LONG if long else ())
        if args.impact:
            counts = server_kind.copies(conn, found, policy, manage)
            rows = [dict(r, **counts[r['id']]) for r in rows]
            spec += images.IMPACT_COLUMNS
        return columns.table(spec, rows, args)

    def produce_output(self, parsed_args, column_names, data):
        if not parsed_args.scs_0102:
            return super().produce_output(parsed_args, column_names, data)
        self._scs = report.write_scs(self._rows, self.app.stdout, sys.stderr)
        return 0

    def run(self, parsed_args):
        self._rows, self._scs = [], None
        try:
            with report.Run(parsed_args.prometheus, 'audit',
                            parsed_args.prometheus_images) as run:
                result = super().run(parsed_args)
                run.rows, run.success = self._rows, result == 0
        except report.TextfileError as e:
            raise exceptions.CommandError(str(e))
        return result or report.exit_code(self._rows, parsed_args.fail_on,
                                          scs=self._scs)


def add_prometheus(parser):
    parser.add_argument('--prometheus', metavar='<file>',
                        help='Also write the counts as a node-exporter '
                             'textfile (a temporary file, then renamed)')
    parser.add_argument('--prometheus-images', action='store_true',
                        help='With --prometheus: one info series per image '
                             '(one series for each image: mind the '
                             'cardinality)')
