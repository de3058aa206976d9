"""verify's canaries: booted in a local QEMU or as a server through Nova."""

import logging

from glance_virtio.verify import canary
from glance_virtio.verify import runner

LOG = logging.getLogger(__name__)


def verify(conn, images, args, policy):
    """Outcomes of verify's canaries, booted --via local or nova.

    Locally, runner.QemuMissing before any boot when there is no QEMU.
    """
    if args.via == 'nova':
        from glance_virtio.verify import viaserver
        return viaserver.verify_images(
            conn, images, args.flavor, args.network or 'none',
            args.boot_timeout, canary.progress)
    options = runner.Options(timeout=args.boot_timeout,
                             memory_mb=args.memory, accel=args.accel,
                             console_dir=args.console_dir)
    runner.qemu_binary(options)
    target = canary.Target(args.bus, args.scsi_model, args.machine_type)
    return canary.verify_images(conn, images, target, options, policy,
                                args.canary_cache, args.concurrency,
                                canary.progress)
