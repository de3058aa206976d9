"""Load the sample catalogue (tools/sample-images.json) into a cloud."""

import argparse
import json
import os
import struct
import sys

import openstack

SAMPLES = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                       'sample-images.json')
DATA = b'\0' * 65536
PATCH_TYPE = 'application/openstack-images-v2.1-json-patch'
SECTOR = 2048


def iso_data(sectors=32):
    """An empty ISO 9660 volume: Glance checks an iso upload's format.

    System area, a primary volume descriptor (ECMA-119 8.4: type 1,
    "CD001", volume space size at byte 80, block size at byte 128, both
    byte orders) and the set terminator (type 255).
    """
    pvd = bytearray(SECTOR)
    pvd[0:7] = b'\x01CD001\x01'
    pvd[80:88] = struct.pack('<L', sectors) + struct.pack('>L', sectors)
    pvd[128:132] = struct.pack('<H', SECTOR) + struct.pack('>H', SECTOR)
    terminator = bytearray(SECTOR)
    terminator[0:7] = b'\xffCD001\x01'
    data = bytes(16 * SECTOR) + bytes(pvd) + bytes(terminator)
    return data + bytes(sectors * SECTOR - len(data))


def samples():
    with open(SAMPLES) as f:
        return json.load(f)


def create(conn, name, tags, properties, visibility='private', data=DATA,
           disk_format='raw'):
    """Create one image with properties and data; its JSON body.

    data is bytes or a file object to upload, or None for a queued image.
    """
    body = dict(properties, name=name, disk_format=disk_format,
                container_format='bare', tags=list(tags),
                visibility=visibility)
    image = conn.image.post('/images', json=body,
                            raise_exc=True).json()
    if data is not None:
        conn.image.put('/images/%s/file' % image['id'], data=data,
                       headers={'Content-Type': 'application/octet-stream'},
                       raise_exc=True)
    return image


def delete_tagged(conn, tag):
    for image in conn.image.images(tag=tag):
        conn.image.delete_image(image, ignore_missing=True)


def load(conn, tag, visibility='private'):
    """Create every sample image tagged tag; {name: (id, expected ids)}."""
    loaded = {}
    for sample in samples():
        props = dict(sample['properties'])
        for key, value in props.items():
            if value.startswith('@'):
                props[key] = loaded[value[1:]][0]
        disk_format = sample.get('disk_format', 'raw')
        data = iso_data() if disk_format == 'iso' else DATA
        image = create(conn, sample['name'], [tag], props, visibility,
                       data=data, disk_format=disk_format)
        loaded[sample['name']] = (image['id'], sorted(sample['expect']))
    return loaded


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument('--os-cloud', default=os.environ.get('OS_CLOUD'))
    parser.add_argument('--tag', default='glance-virtio-demo')
    parser.add_argument('--replace', action='store_true',
                        help='Delete images with the tag first')
    args = parser.parse_args()
    conn = openstack.connect(cloud=args.os_cloud)
    if args.replace:
        delete_tagged(conn, args.tag)
    loaded = load(conn, args.tag)
    print('loaded %d sample images tagged %s' % (len(loaded), args.tag))
    return 0


if __name__ == '__main__':
    sys.exit(main())
