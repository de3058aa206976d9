"""The operator's site policy file, read with oslo.config."""

import os
import re

from oslo_config import cfg
from oslo_config import types

from glance_virtio.knowledge import machine
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


def limit_opts(read_help, process, cpu_seconds, timeout):
    """The limits of one inspection, here and in the Glance guard."""
    return [
        cfg.IntOpt('max_read_mib', default=256, min=1, help=read_help),
        cfg.IntOpt('max_memory_mib', default=1024, min=64,
                   help='Address space limit of %s inspection process '
                        '(MiB).' % process),
        cfg.IntOpt('max_cpu_seconds', default=cpu_seconds, min=1,
                   help='CPU time limit of %s inspection process.'
                   % process),
        cfg.IntOpt('timeout', default=timeout, min=1,
                   help='Wall time limit of one inspection (seconds).'),
    ]


inspect_opts = limit_opts(
    'Most image data read to inspect one image (MiB).', 'an', 120, 600) + [
    cfg.StrOpt('cache_dir',
               default=os.path.join('~', '.cache', PROJECT, 'inspect'),
               help='Directory of cached inspection results, keyed by image '
                    'checksum.'),
]

journal_opts = [
    cfg.StrOpt('directory',
               default=os.path.join('~', '.local', 'state', PROJECT,
                                    'journal'),
               help='Directory of the journals of bus changes and rollbacks '
                    'when --journal is not given.'),
]


watch_opts = [
    cfg.StrOpt('transport_url', secret=True,
               help='The oslo.messaging URL of the bus Glance sends its '
                    'notifications to (rabbit://user:password@host:5672/); '
                    'env GLANCE_VIRTIO_TRANSPORT_URL overrides it.'),
    cfg.StrOpt('topic', default='glance_virtio',
               help='Notification topic the watcher reads: one of Glance\'s '
                    '[oslo_messaging_notifications] topics, its own so '
                    'that no other consumer takes its messages.'),
    cfg.StrOpt('exchange', default='glance',
               help='The exchange Glance sends notifications to.'),
    cfg.IntOpt('reconcile_interval', default=300, min=10,
               help='Seconds between two listings of the images changed '
                    'since the last one (besides start and reconnects).'),
]


def register(conf):
    conf.register_opts(policy_opts, group='policy')
    conf.register_opts(inspect_opts, group='inspect')
    conf.register_opts(journal_opts, group='journal')
    conf.register_opts(watch_opts, group='watch')


def load(config_file=None):
    """A ConfigOpts read from config_file, or from the standard places."""
    conf = cfg.ConfigOpts()
    register(conf)
    files = [config_file] if config_file else None
    if config_file and not os.path.exists(config_file):
        raise cfg.ConfigFilesNotFoundError([config_file])
    conf([], project=PROJECT, default_config_files=files,
         validate_default_values=True)
    for path in conf.config_file:
        validate_file(path)
    return conf


class PolicyFileError(ValueError):
    """One line naming the file, section, option and value at fault."""


def validate_file(path):
    """Check every section, option and value of a site policy file.

    oslo.config ignores unknown sections and options and checks a value
    only when it is used: check them all now, before anything happens.
    """
    sections = {}
    try:
        cfg.ConfigParser(path, sections).parse()
    except cfg.ParseError as e:
        raise PolicyFileError('%s: %s' % (path, e))
    known = {group: _names(opts) for group, opts in list_opts()}
    groups = ', '.join('[%s]' % g for g in known)
    known['DEFAULT'] = {}
    for section, options in sections.items():
        if section not in known:
            raise PolicyFileError('%s: unknown section [%s] (sections: %s)' % (
                path, section, groups))
        for name, values in options.items():
            opt = known[section].get(name)
            if opt is None:
                raise PolicyFileError(
                    '%s: [%s] unknown option %r (options: %s)' % (
                        path, section, name, ', '.join(sorted(
                            known[section])) or 'none'))
            for value in values:
                problem = _check(opt, value)
                if problem:
                    raise PolicyFileError('%s: [%s] %s = %s: %s' % (
                        path, section, name, value, problem))


def _names(opts):
    """Each option by its name and by its deprecated names."""
    names = {}
    for opt in opts:
        names[opt.dest] = opt
        for old in opt.deprecated_opts:
            names[old.name] = opt
    return names


def _check(opt, value):
    """Why value is not valid for opt, or None."""
    if re.search(r'\s#', value):
        return 'oslo.config reads a trailing # comment as part of the ' \
            'value: put the comment on a line of its own'
    try:
        parsed = opt.type(value)
    except ValueError as e:
        if isinstance(opt.type, types.Integer):
            return 'not a whole number%s' % _bounds(opt.type)
        return str(e)
    check = CHECKS.get(opt.dest)
    return check(parsed) if check else None


def _bounds(kind):
    if kind.min is not None and kind.max is not None:
        return ' from %d to %d' % (kind.min, kind.max)
    if kind.min is not None:
        return ' of at least %d' % kind.min
    return ''


def _rule_ids(ids):
    from glance_virtio.knowledge import rules
    unknown = sorted(set(i.upper() for i in ids) - set(rules.by_id()))
    if unknown:
        return 'unknown rule %s (see the rules command)' % ', '.join(unknown)


def _machine_types(entries):
    try:
        machine_types(entries)
    except ValueError as e:
        return str(e)


def _severities(overrides):
    unknown = _rule_ids(overrides)
    if unknown:
        return unknown
    wrong = sorted(set(overrides.values()) - set(model.SEVERITIES))
    if wrong:
        return 'severity %s is not one of %s' % (
            ', '.join(wrong), ', '.join(model.SEVERITIES))


# Checks beyond the option's type, by option name.
CHECKS = {
    'hw_machine_type': _machine_types,
    'disabled_rules': _rule_ids,
    'severity_overrides': _severities,
}


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
    return machine.parse_machine_types(entries)


def list_opts():
    """Options for oslo-config-generator."""
    return [('policy', policy_opts), ('inspect', inspect_opts),
            ('journal', journal_opts), ('watch', watch_opts)]
