"""A catalogue shaped like a real cloud's, with the properties real clients
and services write (no cloud needed: tests use it too).

Per 100 images (by position, so every count keeps the mix):

- 55 uploads by openstacksdk / `openstack image create`: the SDK adds
  owner_specified.openstack.md5, .sha256 and .object to every upload
  (openstack/image/v2/_proxy.py create_image), plus os_* and hw_* keys;
- 25 of them also carry the SCS-0102 image metadata set (image_build_date,
  image_original_user, image_source, image_description, replace_frequency,
  provided_until, uuid_validity, hotfix_hours, patchlevel, os_purpose,
  hypervisor_type, architecture);
- 25 Nova instance snapshots: image_type=snapshot, instance_uuid, user_id,
  owner_id, owner_project_name, owner_user_name, base_image_ref,
  boot_roles, image_location, image_state and every property of the base
  image copied from the instance's system metadata (owner_specified.* and
  the SCS keys included); 10 of the 25 are volume-backed snapshots
  (bdm_v2, block_device_mapping as JSON text, root_device_name);
- 10 images of an operator with 36 custom keys of its own;
- 3 with a misspelt key (hw_dsik_bus, os-distro, hw_scsi_modle...);
- 4 Windows images, 3 converted from VMware (vmware_adaptertype /
  vmware_ostype);
- names up to 150 characters, descriptions up to 255 (Glance's limit);
  eight owners; visibilities public, private, shared and community.
"""

import hashlib
import json
import uuid

OWNERS = ['%032x' % (0x5ca1ab1e0000 + i) for i in range(8)]
VISIBILITIES = ('private', 'private', 'public', 'shared', 'private',
                'public', 'private', 'community')
GUESTS = [
    ('ubuntu', '22.04', 'linux', 'ubuntu-22.04-server-cloudimg-amd64'),
    ('ubuntu', '24.04', 'linux', 'ubuntu-24.04-server-cloudimg-amd64'),
    ('debian', '12', 'linux', 'debian-12-genericcloud-amd64'),
    ('rocky', '9.4', 'linux', 'Rocky-9-GenericCloud-Base-9.4'),
    ('centos', '7', 'linux', 'CentOS-7-x86_64-GenericCloud-2211'),
    ('almalinux', '9', 'linux', 'AlmaLinux-9-GenericCloud-latest'),
    ('fedora', '40', 'linux', 'Fedora-Cloud-Base-Generic-40-1.14'),
    ('centos', '6.10', 'linux', 'CentOS-6-x86_64-GenericCloud-1907'),
    ('opensuse', '15.5', 'linux', 'openSUSE-Leap-15.5-Minimal-VM'),
]
BUSES = [{'hw_disk_bus': 'virtio'},
         {'hw_disk_bus': 'scsi', 'hw_scsi_model': 'virtio-scsi'},
         {},
         {'hw_disk_bus': 'virtio', 'hw_vif_model': 'virtio'},
         {'hw_disk_bus': 'sata'},
         {'hw_disk_bus': 'scsi'}]
MISSPELT = [('hw_dsik_bus', 'virtio'), ('os-distro', 'ubuntu'),
            ('hw_scsi_modle', 'virtio-scsi'), ('hw_vif_mdoel', 'virtio'),
            ('os_typ', 'linux'), ('hw_machine_typ', 'q35')]
# An operator's own keys (CMDB, billing, backup, build pipeline...).
CUSTOM_KEYS = [
    'cmdb_ci_id', 'cost_center', 'billing_product', 'sla_tier',
    'backup_policy', 'monitoring_profile', 'patch_window', 'compliance',
    'cis_level', 'security_scan_date', 'security_scan_result',
    'build_pipeline', 'build_job_id', 'build_commit', 'build_host',
    'packer_version', 'ansible_role_version', 'base_os_channel',
    'support_contact', 'support_team', 'department', 'environment',
    'data_classification', 'retention_days', 'license_model',
    'license_server', 'marketplace_listing', 'release_train',
    'deprecation_date', 'successor_image', 'company.example:owner',
    'company.example:approved', 'ci:pipeline_url', 'ci:artifact',
    'x_vendor_tuning', 'custom_boot_timeout']
LOREM = ('Golden image maintained by the platform team. Built nightly from '
         'the upstream cloud image, hardened to CIS level 2, with the '
         'monitoring agent, the backup agent and cloud-init configured for '
         'this region. Report problems to the platform team; do not use '
         'for production after the provided_until date. ')


def _hex(n, salt, length):
    return hashlib.sha256(('%s-%d' % (salt, n)).encode()).hexdigest()[
        :length]


def _uuid(n, salt):
    return str(uuid.UUID(_hex(n, salt, 32)))


def _name(n, stem, kind):
    name = '%s-%s-%05d' % (stem, kind, n)
    if n % 7 == 0:
        name += ('-hardened-cis-level2-with-docker-ce-and-monitoring-agent'
                 '-and-backup-agent-region-eu-west-1-build-%s'
                 % _hex(n, 'b', 12))
    return name[:150]


def _sdk(n, name):
    """What openstacksdk's create_image writes on an upload."""
    return {'owner_specified.openstack.md5': _hex(n, 'md5', 32),
            'owner_specified.openstack.sha256': _hex(n, 'sha256', 64),
            'owner_specified.openstack.object': 'images/' + name}


def _guest(n):
    distro, version, family, stem = GUESTS[n % len(GUESTS)]
    props = {'os_type': family, 'os_distro': distro, 'os_version': version}
    if n % 3:
        props.update({'hw_qemu_guest_agent': 'yes', 'hw_rng_model': 'virtio',
                      'os_require_quiesce': 'yes'})
    props.update(BUSES[n % len(BUSES)])
    return props, stem


def _scs(n, distro):
    """SCS-0102 image metadata (scs-0102-v1-image-metadata)."""
    return {
        'image_build_date': '2026-%02d-%02d 04:%02d:00' % (
            1 + n % 12, 1 + n % 28, n % 60),
        'image_original_user': distro if distro != 'rocky' else 'rocky',
        'image_source': 'https://cloud-images.example.org/%s/%s.qcow2'
                        % (distro, _hex(n, 'src', 16)),
        'image_description': 'https://docs.example.org/images/%s' % distro,
        'replace_frequency': ('monthly', 'weekly', 'quarterly')[n % 3],
        'provided_until': 'none' if n % 2 else '2027-06-30',
        'uuid_validity': ('last-3', 'forever', 'none')[n % 3],
        'hotfix_hours': str(n % 72),
        'patchlevel': '2026%04d' % (n % 1300),
        'os_purpose': ('generic', 'k8snode', 'gpu')[n % 3],
        'hypervisor_type': 'qemu',
        'architecture': 'x86_64',
    }


def _custom(n):
    values = ['CI%07d' % n, 'CC-%d' % (n % 40), 'compute-standard', 'gold',
              'daily-30d', 'linux-default', 'sun 02:00-04:00', 'pci-dss',
              '2', '2026-11-%02d' % (1 + n % 28), 'passed',
              'https://ci.example.org/images/%d' % n, str(100000 + n),
              _hex(n, 'commit', 40), 'builder-%02d' % (n % 9), '1.11.2',
              '3.%d.0' % (n % 20), 'stable', 'platform@example.org',
              'platform', 'IT-OPS', ('prod', 'staging', 'dev')[n % 3],
              'internal', '365', 'byol', 'license.example.org:27000',
              'none', '2026.%d' % (n % 12), '2027-12-31', 'next-gen',
              'team-%d' % (n % 5), 'true', 'https://ci.example.org/p/%d' % n,
              'images/%d.qcow2' % n, 'none', '300']
    return dict(zip(CUSTOM_KEYS, values))


def _upload(n, scs=False, custom=False):
    props, stem = _guest(n)
    name = _name(n, stem, 'upload')
    props.update(_sdk(n, name))
    if scs:
        props.update(_scs(n, props['os_distro']))
    if custom:
        props.update(_custom(n))
    if n % 5 == 0:
        props['description'] = (LOREM * 2)[:255]
    return name, props


def _snapshot(n, base_ids):
    """A Nova snapshot of an instance of image base_n.

    As nova/compute/api.py snapshot and snapshot_volume_backed and the
    libvirt driver's _create_snapshot_metadata write it.
    """
    base_n = n - 25 if n >= 25 else n + 1
    _, base = _upload(base_n, scs=base_n % 100 in range(40, 55))
    props = dict(base)
    props.pop('description', None)
    project = OWNERS[n % len(OWNERS)]
    if base_ids and n % 5:
        ref = base_ids[base_n % len(base_ids)]
    else:
        ref = _uuid(n % 8, 'deleted-base')
    props.update({
        'image_type': 'snapshot', 'instance_uuid': _uuid(n, 'instance'),
        'user_id': _hex(n % 50, 'user', 32), 'owner_id': project,
        'owner_project_name': 'project-%d' % (n % len(OWNERS)),
        'owner_user_name': 'user-%d' % (n % 50),
        'base_image_ref': ref, 'boot_roles': 'member,reader',
        'image_location': 'snapshot', 'image_state': 'available',
    })
    if n % 5 < 2:
        props.update({
            'bdm_v2': 'True', 'root_device_name': '/dev/vda',
            'block_device_mapping': json.dumps([{
                'boot_index': 0, 'device_name': '/dev/vda',
                'source_type': 'snapshot', 'destination_type': 'volume',
                'snapshot_id': _uuid(n, 'snap'), 'volume_size': 20,
                'delete_on_termination': False, 'tag': None,
                'volume_type': None, 'disk_bus': None,
                'device_type': 'disk', 'guest_format': None,
                'encrypted': None, 'encryption_format': None,
                'no_device': None, 'image_id': None, 'volume_id': None,
                'encryption_secret_uuid': None, 'encryption_options': None,
            }])})
    return 'snap-%s' % _name(n, 'instance', 'snapshot'), props


def _windows(n):
    name = _name(n, 'Windows-Server-2022-Datacenter', 'upload')
    props = {'os_type': 'windows', 'os_distro': 'windows',
             'os_version': '2022', 'hw_disk_bus': ('sata', 'virtio')[n % 2],
             'hw_firmware_type': 'uefi', 'hw_machine_type': 'q35'}
    if n % 2:
        props['virtio_drivers'] = 'viostor,vioscsi,netkvm'
    props.update(_sdk(n, name))
    return name, props


def _vmware(n):
    name = _name(n, 'imported-from-vsphere', 'v2v')
    return name, {'vmware_adaptertype': 'lsiLogic',
                  'vmware_ostype': 'rhel7_64Guest',
                  'hw_vif_model': 'e1000'}


KINDS = [(40, 'upload (openstacksdk: owner_specified.*)'),
         (65, 'Nova snapshot (two in five volume-backed)'),
         (75, 'upload with 36 operator keys'),
         (78, 'upload with a misspelt key'),
         (82, 'Windows upload'),
         (85, 'converted from VMware (vmware_* keys)'),
         (100, 'upload (openstacksdk: owner_specified.*)')]
SCS = range(0, 15), range(85, 95)


def kind(n):
    """What image n of the catalogue is, in words."""
    slot = n % 100
    words = next(k for end, k in KINDS if slot < end)
    if any(slot in r for r in SCS):
        words += ' with the SCS-0102 keys'
    return words


def image(n, base_ids=()):
    """(name, visibility, owner, properties) of image n of the catalogue.

    base_ids are ids of images that exist, for snapshots to name as their
    base; without them snapshots name bases that were deleted.
    """
    slot = n % 100
    if slot < 40:
        name, props = _upload(n, scs=slot < 15)
    elif slot < 65:
        name, props = _snapshot(n, base_ids)
    elif slot < 75:
        name, props = _upload(n, custom=True)
    elif slot < 78:
        name, props = _upload(n)
        key, value = MISSPELT[n % len(MISSPELT)]
        props[key] = value
    elif slot < 82:
        name, props = _windows(n)
    elif slot < 85:
        name, props = _vmware(n)
    else:
        name, props = _upload(n, scs=slot < 95)
    return (name, VISIBILITIES[n % len(VISIBILITIES)],
            OWNERS[n % len(OWNERS)], props)


def data(n):
    """1 KiB of image data, different for every image."""
    return (_hex(n, 'data', 64) * 16).encode()


def images(count, base_ids=()):
    """count model.Image objects of the catalogue, as Glance lists them."""
    from glance_virtio import model
    result = []
    for n in range(count):
        name, visibility, owner, props = image(n, base_ids)
        result.append(model.Image(
            id=_uuid(n, 'image'), name=name, owner=owner,
            visibility=visibility, status='active', disk_format='raw',
            checksum=_hex(n, 'md5', 32), size=20 * 2 ** 30,
            properties=props, tags=('bench',)))
    return result
