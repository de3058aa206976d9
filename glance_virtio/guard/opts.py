"""The [glance_virtio_guard] options, in Glance's configuration."""

from oslo_config import cfg

from glance_virtio import conf as site

GROUP = 'glance_virtio_guard'
FILLABLE = ('os_type', 'os_distro', 'os_version', 'virtio_drivers',
            'hw_disk_bus')

guard_opts = [
    cfg.StrOpt('mode', default='enforce', choices=['enforce', 'warn'],
               help='enforce: refuse an import whose properties and disk '
                    'make a known-bad combination (a finding of severity '
                    'error), with a message in the import task; warn: '
                    'import it and record the verdict only.'),
    cfg.ListOpt('fill_properties',
                default=['os_type', 'os_distro', 'virtio_drivers'],
                item_type=cfg.types.String(choices=FILLABLE),
                help='Properties set from what the inspection proved, when '
                     'the uploader left them unset (never overwritten): '
                     'os_type, os_distro, os_version, virtio_drivers '
                     '(Windows: the virtio drivers installed boot-start), '
                     'hw_disk_bus (the bus glance-virtio recommends, with '
                     'hw_scsi_model for scsi).'),
    cfg.ListOpt('ignore_rules', default=[],
                help='Rule ids (as the rules command lists them) never '
                     'judged here, '
                     'e.g. GV013,GV020.'),
    cfg.StrOpt('on_inspection_error', default='allow',
               choices=['allow', 'reject'],
               help='When the staged disk cannot be inspected (corrupt, '
                    'encrypted, an unknown layout, a limit hit): allow '
                    'judges the properties alone and records the failure in '
                    'the result property; reject refuses the import.'),
    cfg.StrOpt('result_property', default='glance_virtio_guard',
               help='Image property that receives the verdict: ok, '
                    'warning: <rules>, error: <rules> (warn mode), '
                    'refused: <rules>, or uninspected: <why>. Empty: none.'),
] + site.limit_opts(
    'Most data read from the staged disk (MiB).', 'the', 60, 120) + [
    cfg.StrOpt('site_policy_file',
               help='A glance-virtio site policy file ([policy] '
                    'hw_machine_type, default_scsi_model, '
                    'severity_overrides, disabled_rules); unset: the '
                    'defaults.'),
]


def register(conf):
    conf.register_opts(guard_opts, group=GROUP)


def list_opts():
    """Options for oslo-config-generator (namespace glance_virtio_guard)."""
    return [(GROUP, guard_opts)]
