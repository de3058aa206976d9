"""A bus change as an operator's runbook in Markdown (render is pure)."""

import dataclasses
import datetime
import shlex
import sys
from typing import Optional, Tuple

from osc_lib import exceptions

from glance_virtio import journal
from glance_virtio.knowledge import detect
from glance_virtio.knowledge import explain
from glance_virtio import plan

CHANGE, UNCHANGED, BLOCKED, SKIPPED = (plan.CHANGE, plan.UNCHANGED,
                                       plan.BLOCKED, plan.SKIPPED)
FAILURES = {
    'windows': 'INACCESSIBLE_BOOT_DEVICE (stop code 0x7B) on the console: '
               'the boot disk driver is not boot-start',
    'linux': 'dracut: "Gave up waiting for root file system device" '
             '(RHEL family), or initramfs-tools: "ALERT! /dev/... does not '
             'exist. Dropping to a shell!" (Debian/Ubuntu): the initramfs '
             'lacks the driver or fstab/root= names the old device',
}


@dataclasses.dataclass(frozen=True)
class Context(plan.Target):
    """How the change was asked for, to write commands that repeat it."""

    allow: Tuple[str, ...] = ()
    deep: bool = False
    journal: str = ''
    cloud: Optional[str] = None
    config_file: Optional[str] = None
    dry_run: bool = True
    generated: str = ''


def _cmd(args):
    return ' '.join(shlex.quote(a) for a in args)


def _global(ctx):
    out = ['glance-virtio']
    if ctx.cloud:
        out += ['--os-cloud', ctx.cloud]
    if ctx.config_file:
        out += ['--config-file', ctx.config_file]
    return out


def apply_command(changes, ctx):
    """The virtio-set command that applies exactly the planned changes."""
    todo = [c for c in changes if c.action == CHANGE]
    args = _global(ctx) + ['set'] + [c.image.id for c in todo]
    args += ['--bus', ctx.bus]
    for flag, value in (('--scsi-model', ctx.scsi_model),
                        ('--vif-model', ctx.vif_model),
                        ('--machine-type', ctx.machine_type)):
        if value:
            args += [flag, value]
    if ctx.fill_os_type:
        args.append('--fill-os-type')
    for rule in ctx.allow:
        args += ['--allow', rule]
    if any(c.image.is_snapshot for c in todo):
        args.append('--include-snapshots')
    if ctx.deep:
        args.append('--deep')
    return _cmd(args + ['--journal', ctx.journal, '--yes'])


def verify_command(todo, ctx):
    """The verify command that boots a canary of each changed image."""
    return _cmd(_global(ctx) + ['verify'] + [c.image.id for c in todo] +
                ['--console', 'canary-consoles'])


def rollback_command(ctx):
    return _cmd(_global(ctx) + ['rollback', ctx.journal, '--yes'])


def _value(value):
    return '`%s`' % value if value is not None else '(unset)'


def _image_section(change, explained):
    image = change.image
    lines = ['### %s (`%s`)' % (image.name or '(no name)', image.id), '',
             '- Action: **%s**' % change.action]
    if change.action in (BLOCKED, SKIPPED):
        lines.append('- Why: %s' % change.reason)
    elif change.reason:
        lines.append('- Note: %s' % change.reason)
    if change.set or change.remove:
        lines += ['', '| Property | Before | After |', '|---|---|---|']
        for key, after in change.after.items():
            lines.append('| `%s` | %s | %s |' % (key, _value(
                change.before.get(key)), _value(after)))
    if change.findings:
        lines += ['', 'Findings:']
        lines += ['- %s %s: %s' % (f.rule, f.severity, f.message)
                  for f in change.findings]
    if explained:
        lines += [''] + _explain_summary(explained)
    return lines + ['']


def _devices(state):
    return ', '.join('%s %s (%s, %s)' % (d['role'], d['dev'], d['bus'],
                                         d['guest'])
                     for d in state['devices']) or 'none'


def _controllers(state):
    return ', '.join('%s %s' % (c['pci_id'], c['linux'])
                     for c in state['controllers']) or 'none'


def _explain_summary(data):
    now, then = data['current'], data['target']
    lines = ['What the guest sees (machine type %s):' % now['machine_type'],
             '- now: %s; controllers %s' % (_devices(now),
                                            _controllers(now))]
    if then:
        lines.append('- after: %s; controllers %s' % (_devices(then),
                                                      _controllers(then)))
        for old, new in data.get('renames') or ():
            lines.append('- guest name %s becomes %s' % (old, new))
        if data.get('gains'):
            lines.append('- gains: %s' % ', '.join(data['gains']))
        if data.get('loses'):
            lines.append('- loses: %s' % ', '.join(data['loses']))
        for error in then['errors']:
            lines.append('- after the change: %s' % error)
    guest = data.get('guest')
    if guest:
        lines.append('- inside the guest: **%s**' % guest['state'])
        lines += ['  - %s' % line for line in guest['lines']]
    return lines


def _counts(changes):
    counts = {CHANGE: 0, UNCHANGED: 0, BLOCKED: 0, SKIPPED: 0}
    for change in changes:
        counts[change.action] = counts.get(change.action, 0) + 1
    return counts


def _staged(changes, explanations):
    out = []
    for change in changes:
        guest = (explanations.get(change.image.id) or {}).get('guest') or {}
        if guest.get('state') == 'staged':
            out.append((change, guest))
    return out


def _families(changes, inspections):
    """One changed image per OS family, to boot after the change."""
    picked = {}
    for change in changes:
        if change.action != CHANGE:
            continue
        family = detect.facts(change.image,
                              inspections.get(change.image.id)).os.family
        picked.setdefault(family, change.image)
    return picked


def render(changes, explanations, inspections, ctx):
    """The runbook text for a plan: changes from plan.make_plan."""
    inspections = inspections or {}
    counts = _counts(changes)
    target = 'hw_disk_bus=%s' % ctx.bus + (
        ' (hw_scsi_model=%s)' % ctx.scsi_model if ctx.scsi_model else '')
    todo = [c for c in changes if c.action == CHANGE]
    out = ['# Runbook: move %d images to %s' % (counts[CHANGE], target), '',
           'Written %s by a set --runbook run%s. %d to change, %d unchanged, '
           '%d blocked, %d skipped.' % (
               ctx.generated, ' --dry-run: nothing was changed'
               if ctx.dry_run else ', which applies the change itself',
               counts[CHANGE], counts[UNCHANGED], counts[BLOCKED],
               counts[SKIPPED]), '']
    out += ['## What changes', '']
    for action in (CHANGE, BLOCKED, UNCHANGED, SKIPPED):
        for change in changes:
            if change.action == action:
                out += _image_section(change, explanations.get(
                    change.image.id))
    out += ['## Pre-checks', '']
    missing = [c.image.id for c in todo if c.image.id not in inspections]
    if missing:
        out += ['- [ ] Deep-inspect the images that were judged from '
                'metadata alone (fstab, boot loader, initramfs, Windows '
                'registry):', '', '```sh',
                _cmd(_global(ctx) + ['explain'] + missing +
                     ['--bus', ctx.bus, '--deep']), '```', '']
    if todo and not missing:
        out += ['- [x] Every image to change was deep-inspected '
                '(evidence above, per image).']
    out += ['- [ ] Read the findings and "inside the guest" lines above; '
            'blocked images are not touched.',
            '- [ ] Make sure nobody else edits these images while the '
            'change runs (Glance has no If-Match).', '']
    staged = _staged(changes, explanations)
    if staged:
        out += ['## Windows: staged cut-over', '',
                'These images have the target driver installed but not '
                'boot-start. Do this before changing them:', '']
        for change, guest in staged:
            out.append('### %s (`%s`)' % (change.image.name, change.image.id))
            out += ['1. %s' % line for line in guest['lines'][1:]]
            out.append('')
    out += ['## Apply', '']
    if todo:
        out += ['Run exactly this (it re-checks every image and changes only '
                'these %d):' % len(todo), '', '```sh',
                apply_command(changes, ctx), '```', '',
                'Journal: `%s`' % ctx.journal, '',
                '## Roll back', '', '```sh', rollback_command(ctx), '```', '']
    else:
        out += ['Nothing to apply: no image is in the "change" state.', '']
    out += ['## What the change does not reach', '',
            '- Servers already booted keep the properties they booted with '
            '(image_* in their system metadata) until a rebuild, or '
            '`nova-manage image_property set` on a stopped server.',
            '- Bootable volumes keep their own copy in '
            '`volume_image_metadata`, and Nova boots volume-backed servers '
            'from it; instance snapshots copy the old values too.',
            '- How many: this cannot be known from Glance. Count them with '
            '`openstack server list --all-projects --image IMAGE_ID` and, '
            'for volumes, `openstack volume list --all-projects --long` '
            '(look for the image id in volume_image_metadata).', '']
    out += ['## Verify after the change', '']
    if todo:
        out += ['Boot a canary of each changed image in a local QEMU, on the '
                'devices Nova now gives it, and read its console (`set '
                '--verify` does this itself and rolls back, through the '
                'journal, each image whose canary failed). Exit 4 means a '
                'canary failed: roll back (above).', '', '```sh',
                verify_command(todo, ctx), '```', '']
    picked = _families(changes, inspections)
    if picked:
        out.append('Then, on the real computes, boot one test server per OS '
                   'family from a changed image and read its console:')
        out.append('')
        for family, image in sorted(picked.items()):
            name = 'verify-%s' % (image.name or image.id)
            out += ['- %s: `%s` (%s)' % (family, image.name, image.id), '',
                    '  ```sh',
                    '  ' + _cmd(['openstack', 'server', 'create', '--image',
                                 image.id, '--flavor', 'FLAVOR', '--network',
                                 'NETWORK', '--config-drive', 'true',
                                 '--wait', name]),
                    '  ' + _cmd(['openstack', 'console', 'log', 'show',
                                 name]),
                    '  ```', '']
    out += ['A failed boot looks like this in the console log:', '']
    out += ['- %s: %s' % item for item in sorted(FAILURES.items())]
    out += ['', 'If a test server fails, roll back (above) and read the '
            '"inside the guest" lines for that image.', '']
    return '\n'.join(out)


def write_for(app_options, config, args, changes, inspections, policy):
    """Write the runbook set --runbook names, if any.

    Without --journal, picks the journal path now and sets it on args, so
    the journal this run writes is the one the runbook names.
    """
    if not getattr(args, 'runbook', None):
        return
    if not args.journal:
        args.journal = journal.default_path(config.journal.directory, 'set')
    inspections = inspections or {}
    scsi_model = args.scsi_model or (
        policy.default_scsi_model if args.bus == 'scsi' else None)
    explanations = {
        c.image.id: explain.explain(
            c.image.properties, policy.default_machine_type, args.bus,
            scsi_model, args.machine_type, inspections.get(c.image.id),
            disk_format=c.image.disk_format).to_dict()
        for c in changes if not c.image.error}
    cloud = getattr(app_options, 'os_cloud', None) or \
        getattr(app_options, 'cloud', None)
    ctx = Context(
        bus=args.bus, scsi_model=scsi_model,
        vif_model=args.vif_model, machine_type=args.machine_type,
        fill_os_type=args.fill_os_type,
        allow=tuple(a.upper() for a in args.allow), deep=args.deep,
        journal=args.journal, cloud=cloud,
        config_file=getattr(app_options, 'virtio_config_file', None),
        dry_run=args.dry_run,
        generated=datetime.datetime.now(datetime.timezone.utc).strftime(
            '%Y-%m-%d %H:%M UTC'))
    text = render(changes, explanations, inspections, ctx)
    try:
        with open(args.runbook, 'w') as out:
            out.write(text)
    except OSError as e:
        raise exceptions.CommandError('cannot write runbook %s: %s'
                                      % (args.runbook, e))
    sys.stderr.write('runbook: %s\n' % args.runbook)
