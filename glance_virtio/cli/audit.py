"""virtio-audit: report each image's driver readiness and findings."""

import logging

from osc_lib import exceptions

from glance_virtio import audit
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
        return parser

    def take_action(self, parsed_args):
        if parsed_args.nova_manage and not parsed_args.impact:
            common.usage_error(self, '--nova-manage needs --impact')
        manage = servers.nova_manage(parsed_args)
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

    def run(self, parsed_args):
        self._rows = []
        result = super().run(parsed_args)
        if result == 0 and parsed_args.fail_on and audit.failing(
                self._rows, parsed_args.fail_on):
            return common.EXIT_FINDINGS
        return result
