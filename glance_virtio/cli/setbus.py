"""virtio-set: move images to a disk bus, safely, with a journal."""

import logging

from glance_virtio.cli import common
from glance_virtio.cli import runbook
from glance_virtio import engine
from glance_virtio.kinds import images
from glance_virtio import plan
from glance_virtio.knowledge import rules
from glance_virtio.verify import afterset

LOG = logging.getLogger(__name__)

COLUMNS = (
    ('ID', 'id', None), ('Name', 'name', None), ('Action', 'action', None),
    ('Outcome', 'outcome', None), ('Changes', 'changes', common.ChangesColumn),
    ('Findings', 'findings', common.FindingsColumn),
    ('Reason', 'reason', None),
)


class SetBus(common.ChangeLister):
    """Set the disk bus of images in bulk, blocking known-bad combinations"""

    command = 'set'

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        common.add_selection(parser, snapshots_default=False)
        parser.add_argument('--bus', metavar='<bus>', required=True,
                            type=common.lower,
                            choices=['virtio', 'scsi', 'sata', 'ide'],
                            help='Target hw_disk_bus: virtio, scsi, sata, ide')
        common.add_scsi_model(parser)
        parser.add_argument('--vif-model', metavar='<model>',
                            type=common.lower,
                            choices=rules.ENUMS['hw_vif_model'],
                            help='Also set hw_vif_model: %s, any case '
                                 '(default: left as it is)'
                                 % ', '.join(rules.ENUMS['hw_vif_model']))
        parser.add_argument('--machine-type', metavar='<type>',
                            help='Also set hw_machine_type, e.g. q35')
        parser.add_argument('--fill-os-type', action='store_true',
                            help='Add os_type/os_distro where the guest OS is '
                                 'known for certain')
        parser.add_argument('--allow', metavar='<rule-id>', action='append',
                            type=common.rule_id(self), default=[],
                            help='Accept findings of this rule knowingly '
                                 '(repeatable), e.g. GV011')
        common.add_deep(parser)
        common.add_apply_options(parser)
        runbook.add_option(parser)
        afterset.add_options(parser)
        return parser

    def take_action(self, parsed_args):
        args = parsed_args
        common.check_journal_option(args)
        if not (args.images or args.all or common.filters(args)
                or args.name_pattern):
            common.usage_error(self, 'name the images, give a filter, or use '
                                     '--all')
        if args.scsi_model and args.bus != 'scsi':
            common.usage_error(self, '--scsi-model needs --bus scsi')
        config = common.load_conf(self.app)
        policy = common.load_policy(self.app, args.allow)
        conn = common.connection(self.app)
        found = images.select(conn, args)
        inspections = common.inspections(self.app, conn, found, args, config)
        target = plan.Target(args.bus, args.scsi_model, args.vif_model,
                             args.machine_type, args.fill_os_type)
        changes = plan.make_plan(found, target, policy,
                                 images.base_images(conn, found),
                                 inspections)
        runbook.write(self.app, config, args, changes, inspections)
        after = afterset.after(conn, policy, args) \
            if afterset.wanted(args) else None
        rows, self._exit = engine.change(
            images.KIND, conn, changes, args,
            common.opener(conn, config, args, 'set', target=vars(target)),
            common.concurrency(args, config), after)
        columns = COLUMNS + ((afterset.COLUMN, 'after', None),) \
            if after else COLUMNS
        return common.table(columns, rows, args)
