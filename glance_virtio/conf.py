"""The operator's site policy file, read with oslo.config."""

import os

from oslo_config import cfg

from glance_virtio import model

PROJECT = 'glance-virtio'
MAX_CONCURRENCY = 64

policy_opts = [
    cfg.ListOpt('hw_machine_type', default=[],
                deprecated_name='default_machine_type',
                help='The [libvirt]hw_machine_type of your computes, in '
                     'nova.conf format: x86_64=q35,aarch64=virt. A bare '
                     'value (q35) means x86_64. Unset: the tool does not '
                     'know, and warns where an image depends on it.'),
    cfg.StrOpt('default_scsi_model', default='virtio-scsi',
               choices=['virtio-scsi', 'lsilogic', 'lsisas1068', 'lsisas1078',
                        'vmpvscsi', 'ibmvscsi'],
               help='hw_scsi_model set together with hw_disk_bus=scsi.'),
    cfg.StrOpt('preferred_bus', default='scsi', choices=['scsi', 'virtio'],
               help='Bus recommended for guests ready for both paravirtual '
                    'buses.'),
    cfg.DictOpt('severity_overrides', default={},
                help='Severity per rule id, e.g. GV004:info,GV020:error.'),
    cfg.ListOpt('disabled_rules', default=[],
                help='Rule ids never evaluated, e.g. GV015,GV025.'),
    cfg.IntOpt('concurrency', default=8, min=1, max=MAX_CONCURRENCY,
               help='Images changed or inspected at the same time.'),
]

inspect_opts = [
    cfg.IntOpt('max_read_mib', default=256, min=1,
               help='Most image data read to inspect one image (MiB).'),
    cfg.IntOpt('max_memory_mib', default=1024, min=64,
               help='Address space limit of an inspection process (MiB).'),
    cfg.IntOpt('max_cpu_seconds', default=120, min=1,
               help='CPU time limit of an inspection process.'),
    cfg.IntOpt('timeout', default=600, min=1,
               help='Wall time limit of one inspection (seconds).'),
    cfg.StrOpt('cache_dir',
               default=os.path.join('~', '.cache', PROJECT, 'inspect'),
               help='Directory of cached inspection results, keyed by image '
                    'checksum.'),
]

journal_opts = [
    cfg.StrOpt('directory',
               default=os.path.join('~', '.local', 'state', PROJECT,
                                    'journal'),
               help='Directory of virtio-set journals when --journal is not '
                    'given.'),
]


def register(conf):
    conf.register_opts(policy_opts, group='policy')
    conf.register_opts(inspect_opts, group='inspect')
    conf.register_opts(journal_opts, group='journal')


def load(config_file=None):
    """A ConfigOpts read from config_file, or from the standard places."""
    conf = cfg.ConfigOpts()
    register(conf)
    files = [config_file] if config_file else None
    if config_file and not os.path.exists(config_file):
        raise cfg.ConfigFilesNotFoundError([config_file])
    conf([], project=PROJECT, default_config_files=files,
         validate_default_values=True)
    return conf


def policy(conf, allowed=()):
    """The site policy as a plain model.Policy."""
    severities = {}
    for rule_id, severity in conf.policy.severity_overrides.items():
        if severity not in model.SEVERITIES:
            raise ValueError('severity_overrides: %s:%s is not one of %s' % (
                rule_id, severity, ', '.join(model.SEVERITIES)))
        severities[rule_id.upper()] = severity
    return model.Policy(
        machine_types=machine_types(conf.policy.hw_machine_type),
        default_scsi_model=conf.policy.default_scsi_model,
        preferred_bus=conf.policy.preferred_bus,
        severity_overrides=severities,
        disabled_rules=tuple(r.upper() for r in conf.policy.disabled_rules),
        allowed_rules=tuple(allowed))


def machine_types(entries):
    """{arch: machine type} from nova.conf's host-arch=machine-type list."""
    result = {}
    for entry in entries:
        arch, sep, value = (s.strip() for s in entry.partition('='))
        if not sep:
            arch, value = 'x86_64', arch
        if not arch or not value:
            raise ValueError('hw_machine_type: %r is not host-arch=machine-'
                             'type (e.g. x86_64=q35)' % entry)
        result[arch.lower()] = value
    return result


def list_opts():
    """Options for oslo-config-generator."""
    return [('policy', policy_opts), ('inspect', inspect_opts),
            ('journal', journal_opts)]
