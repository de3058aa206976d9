"""How commands are named, and the examples and exit codes of their help.

EPILOGS is keyed by (family, command), family '' for images, 'volume' or
'server'; ``{cmd}`` is how the command is run in the app running it.
"""


def short_name(cmd_name, family=''):
    """'set' for `glance-virtio set`, `volume-set`, `image virtio-set`."""
    name = cmd_name.split(' ')[-1]
    for prefix in ('virtio-', family + '-'):
        if prefix != '-' and name.startswith(prefix):
            name = name[len(prefix):]
    return name


def invoked(cmd_name, family, name):
    """How to run command name of family in the app that runs cmd_name.

    `glance-virtio set` in the standalone app, `openstack image virtio-set`
    in OpenStackClient; likewise `glance-virtio volume-set` and `openstack
    volume virtio-set`.
    """
    group = family or 'image'
    if (cmd_name or '').startswith(group + ' virtio-'):
        return 'openstack %s virtio-%s' % (group, name)
    return 'glance-virtio %s%s' % (family + '-' if family else '', name)


def codes(ok, *more, failed='', noun='image', unreadable='an unreadable '
          'policy file'):
    """Exit code lines: 0 ok, 1 runtime error, 2 usage, then more."""
    return '\n'.join(
        ['  0  ' + ok,
         '  1  runtime error: login or connection failed, a name matching '
         'no %s\n     or several, %s%s' % (noun, unreadable, failed),
         '  2  usage error'] + ['  ' + line for line in more])


def _volume(ok, *more):
    return codes(ok, *more, noun='volume',
                 unreadable='an unreadable journal or policy file')


EPILOGS = {
    ('', 'audit'): (
        '{cmd} --tag golden\n'
        '{cmd} --all --fail-on error -f value -c ID\n'
        '{cmd} ubuntu-22.04 --deep --long',
        codes('no finding at or above --fail-on (always, without it)',
              '3  a finding at or above --fail-on exists')),
    ('', 'set'): (
        '{cmd} --tag golden --bus scsi --dry-run\n'
        '{cmd} ubuntu-22.04 --bus virtio --yes\n'
        '{cmd} --all --bus scsi --allow GV011 --journal set.jsonl',
        codes('every selected image has the target properties',
              '4  an image failed, was in conflict or is uncertain',
              '5  nothing failed, but an image was blocked or skipped',
              failed=',\n     a cancelled or interrupted run')),
    ('', 'rollback'): (
        '{cmd} set.jsonl --dry-run\n'
        '{cmd} set.jsonl --yes',
        codes('every image is back to its journalled state',
              '4  an image failed, was in conflict or is uncertain',
              failed=', an unreadable journal,\n     a cancelled or '
              'interrupted run')),
    ('', 'inspect'): (
        '{cmd} --file disk.qcow2\n'
        '{cmd} ubuntu-22.04 --long\n'
        '{cmd} 0b6e8c5f-5c2e-4d38-9d8a-8f0c0b2a8e11 --max-read 64',
        codes('every image was inspected',
              '4  an image could not be inspected')),
    ('', 'explain'): (
        '{cmd} ubuntu-22.04 --bus scsi\n'
        '{cmd} --tag golden --bus virtio --machine-type q35 --long\n'
        '{cmd} win2019 --bus scsi --deep -f json',
        codes('no error in the current or the target state',
              '3  the current or the target state has an error',
              '4  an image could not be read')),
    ('', 'rules'): (
        '{cmd}\n'
        '{cmd} -f json -c ID -c Severity',
        codes('success')),
    ('', 'verify'): (
        '{cmd} debian-12 --bus scsi\n'
        '{cmd} --tag golden --console /var/tmp/canary --concurrency 2\n'
        '{cmd} win2019 --bus virtio --strict\n'
        '{cmd} debian-12 --via nova --flavor m1.small --network none',
        codes('every canary booted',
              '4  a canary failed to boot, or an image could not be booted',
              '5  nothing failed, but a verdict is unknown (4 with --strict)',
              unreadable='QEMU missing, an unreadable policy file')),
    ('', 'watch'): (
        '{cmd} --state /var/lib/glance-virtio/watch.json\n'
        '{cmd} --output findings.jsonl --prometheus '
        '/var/lib/node_exporter/gv.prom\n'
        '{cmd} --since 1d --fail-on error',
        codes('stopped by SIGTERM or SIGINT',
              '3  a finding at or above --fail-on (its line is the last '
              'one)')),
    ('volume', 'audit'): (
        '{cmd}\n'
        '{cmd} --project demo --fail-on error\n'
        '{cmd} --follow-images set.jsonl --only-drift',
        _volume('no finding at or above --fail-on, no drift with '
                '--fail-on-drift',
                '3  a finding at or above --fail-on, or drift with '
                '--fail-on-drift')),
    ('volume', 'set'): (
        '{cmd} --follow-images set.jsonl --bus scsi --dry-run\n'
        '{cmd} boot-vol-1 --bus scsi --yes',
        _volume('every selected volume has the target properties',
                '4  a volume failed, was in conflict or is uncertain',
                '5  nothing failed, but a volume was blocked or skipped')),
    ('volume', 'rollback'): (
        '{cmd} volume-set.jsonl --dry-run\n'
        '{cmd} volume-set.jsonl --yes',
        _volume('every volume is back to its journalled state',
                '4  a volume failed, was in conflict or is uncertain')),
    ('server', 'audit'): (
        '{cmd}\n'
        '{cmd} --nova-manage "docker exec nova_api nova-manage"\n'
        '{cmd} web-1 --long -f json',
        '  0  success (with --fail-on: no finding at or above it)\n'
        '  1  runtime error: login or connection failed, a name '
        'matching no\n     server or several, nova-manage cannot run\n'
        '  2  usage error\n'
        '  3  a finding at or above --fail-on, or drift with '
        '--fail-on-drift'),
    ('server', 'set'): (
        '{cmd} web-1 --bus scsi --nova-manage /usr/bin/nova-manage '
        '--dry-run\n'
        '{cmd} --all --bus scsi --nova-manage "kubectl -n openstack exec '
        'deploy/nova-api -- nova-manage" --yes',
        '  0  every selected server has the target properties\n'
        '  1  runtime error, a Nova without the fix for bug 2078999, a '
        'cancelled run\n'
        '  2  usage error\n'
        '  4  a server failed, was in conflict or is uncertain, or did '
        'not start\n'
        '  5  nothing failed, but a server was blocked or skipped'),
    ('server', 'rollback'): (
        '{cmd} server-set.jsonl --nova-manage /usr/bin/nova-manage '
        '--dry-run',
        '  0  every server is back to its journalled state\n'
        '  1  runtime error, an unreadable journal\n'
        '  2  usage error\n'
        '  4  a server failed, could not be fully restored, or did '
        'not start'),
}


def epilog(examples, exit_codes):
    """A help epilog: examples, one a line, and the exit codes."""
    # Literal blocks: the help reads the same, and the docs build (cliff's
    # sphinx extension renders the epilog as rST) keeps the lines.
    return 'examples::\n\n%s\n\nexit codes::\n\n%s' % (
        '\n'.join('  ' + line for line in examples.splitlines()), exit_codes)
