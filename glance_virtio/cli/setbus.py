"""virtio-set: move images to a disk bus, safely, with a journal."""

import logging

from glance_virtio.cli import common
from glance_virtio.kinds import images
from glance_virtio.knowledge import rules
from glance_virtio import plan
from glance_virtio import runbook
from glance_virtio.verify import afterset

LOG = logging.getLogger(__name__)


class SetBus(common.Change):
    """Set the disk bus of images in bulk, blocking known-bad combinations"""

    kind_module = images
    snapshots_default = False
    selection_hint = 'name the images, give a filter, or use --all'

    def add_options(self, parser):
        common.add_bus(parser, machine_type=None)
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
        common.add_allow(parser, self)
        common.add_deep(parser)
        common.add_apply_options(parser)
        parser.add_argument('--runbook', metavar='<file.md>',
                            help='Also write the change as an operator '
                                 'runbook in Markdown (with or without '
                                 '--dry-run)')
        afterset.add_options(parser)

    def selected(self, args):
        return args.images or images.filters(args) or args.name_pattern

    def plan(self, conn, args, config, policy):
        found = images.select(conn, args)
        inspections = common.inspections(self.app, conn, found, args,
                                         config)
        target = plan.Target(args.bus, args.scsi_model, args.vif_model,
                             args.machine_type, args.fill_os_type)
        changes = plan.make_plan(found, target, policy,
                                 images.base_images(conn, found),
                                 inspections)
        runbook.write_for(self.app.options, config, args, changes,
                          inspections, policy)
        if not afterset.wanted(args):
            return images.KIND, target, changes, None
        self.extra = ((afterset.COLUMN, 'after', None),)
        return (images.KIND, target, changes,
                afterset.after(conn, policy, args))
