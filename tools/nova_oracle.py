"""Nova's own answer: run inside the Nova virtualenv (tools/nova-oracle.sh).

Reads a JSON list of cases on stdin; prints, per case, the disk mapping
from nova.virt.libvirt.blockinfo and the libvirt XML Nova's own config
classes write for the root disk, the config drive and the SCSI controller.
"""

import json
import sys
import warnings

warnings.simplefilter('ignore')

from nova import conf  # noqa: E402
from nova import objects  # noqa: E402
from nova.virt.libvirt import blockinfo  # noqa: E402
from nova.virt.libvirt import driver  # noqa: E402
from nova.virt.libvirt import imagebackend  # noqa: E402

CONF = conf.CONF
INSTANCE = '00000000-0000-4000-8000-000000000000'
DIR = '/var/lib/nova/instances/%s/' % INSTANCE


class Disk(imagebackend.Image):
    """A backend image that is only ever asked for its libvirt XML."""

    def create_image(self, *args, **kwargs):
        raise NotImplementedError

    def resize_image(self, size):
        raise NotImplementedError

    def get_model(self, connection):
        raise NotImplementedError

    def snapshot_extract(self, target, out_format):
        raise NotImplementedError


def xml(name, info, driver_format, unit):
    disk = Disk(DIR + name, 'file', driver_format, disk_info_mapping=info)
    return disk.libvirt_info('none', {}, disk_unit=unit).to_xml()


def one(case):
    CONF.set_override('hw_machine_type', case['machine_type'], 'libvirt')
    CONF.set_override('virt_type', 'kvm', 'libvirt')
    meta = {'properties': case['properties']}
    if case.get('disk_format'):
        meta['disk_format'] = case['disk_format']
    image_meta = objects.ImageMeta.from_dict(meta)
    flavor = objects.Flavor(swap=case.get('swap_mb', 0),
                            ephemeral_gb=case.get('ephemeral_gb', 0),
                            root_gb=10, extra_specs={})
    instance = objects.Instance(
        uuid=INSTANCE, config_drive='True' if case['config_drive'] else '',
        ephemeral_gb=flavor.ephemeral_gb, flavor=flavor, image_ref='',
        system_metadata={})
    disk_bus = blockinfo.get_disk_bus_for_device_type(
        instance, 'kvm', image_meta, 'disk')
    cdrom_bus = blockinfo.get_disk_bus_for_device_type(
        instance, 'kvm', image_meta, 'cdrom')
    mapping = blockinfo.get_disk_mapping('kvm', instance, disk_bus,
                                         cdrom_bus, image_meta)
    controller = driver.LibvirtDriver._get_scsi_controller(image_meta)
    virtio_scsi = controller is not None and \
        controller.model == 'virtio-scsi'
    unit = 0
    out = {'disk_bus': disk_bus, 'cdrom_bus': cdrom_bus,
           'mapping': mapping, 'xml': {}}
    for name, fmt in (('disk', 'qcow2'), ('disk.local', 'qcow2'),
                      ('disk.swap', 'qcow2'), ('disk.config', 'raw')):
        if name in mapping:
            scsi = virtio_scsi and mapping[name]['bus'] == 'scsi'
            out['xml'][name] = xml(name, mapping[name], fmt,
                                   unit if scsi else None)
            unit += 1 if scsi else 0
    if controller is not None:
        out['xml']['controller'] = controller.to_xml()
    return out


def main():
    objects.register_all()
    results = []
    for case in json.load(sys.stdin):
        try:
            results.append(one(case))
        except Exception as e:
            results.append({'error': '%s: %s' % (type(e).__name__, e)})
    json.dump(results, sys.stdout, indent=1, sort_keys=True)


if __name__ == '__main__':
    main()
