"""Servers: the image properties Nova recorded when each was booted.

Pure parts build model.Image values from what Nova, Cinder and Glance say
of a server, so that detect, rules and plan judge a server exactly as an
image. A change is stop, nova-manage image_property set, start; each step
is journalled before it is taken.
"""

import concurrent.futures
import dataclasses
import logging
import sys
import types

from osc_lib import exceptions

from glance_virtio import audit
from glance_virtio.knowledge import detect
from glance_virtio import columns
from glance_virtio import engine
from glance_virtio import journal
from glance_virtio import model
from glance_virtio import plan
from glance_virtio.knowledge import rules
from glance_virtio.services import cinder
from glance_virtio.services import glance
from glance_virtio.services import nova
from glance_virtio.services import novamanage

LOG = logging.getLogger(__name__)

# The keys virtio-set changes and drift compares.
BUS_KEYS = ('hw_disk_bus', 'hw_scsi_model')
# The recorded keys read with nova-manage when the API does not give them:
# the bus keys and the machine type the bus rules depend on.
READ_KEYS = BUS_KEYS + ('hw_machine_type',)
# nova-manage image_property set refuses any other vm_state (manage.py
# _update_image_properties); virtio-set stops ACTIVE servers first.
CHANGEABLE = ('ACTIVE', 'SHUTOFF')
UNKNOWN = model.UNKNOWN
# Keys the rules read that are not Nova ImageMetaProps fields.
GUEST_KEYS = ('os_version', detect.ASSERT_PROPERTY)

# Bug 2078999 (image properties set with nova-manage reverted on
# migration) is fixed in these releases and later ones of each series.
FIXED_IN = {28: (28, 3, 1), 29: (29, 2, 1), 30: (30, 0, 0)}
# Microversion 2.96 came with the 2024.1 series (29.x; python-novaclient
# 18.6.0 release notes): a Nova offering 2.97 or later is 30.0.0 or later.
FIXED_MICROVERSION = (2, 97)


Server = nova.Server
to_server = nova.to_server

CHANGED = engine.CHANGED
UNCHANGED = engine.UNCHANGED
CONFLICT = engine.CONFLICT
FAILED = engine.FAILED
UNCERTAIN = engine.UNCERTAIN
SKIPPED = engine.SKIPPED
PARTIAL = engine.PARTIAL
NOT_DONE = engine.NOT_DONE + (PARTIAL,)
# nova-manage set exit codes that prove nothing was saved (manage.py).
REFUSED = (2, 3, 4, 5, 6)
Write = engine.Write
Outcome = engine.Outcome


def with_recorded(server, values, source):
    """server with the recorded values read elsewhere (None: absent)."""
    return dataclasses.replace(
        server, recorded={k: v for k, v in values.items() if v is not None},
        recorded_from=source)


def boot_volume(server, volumes):
    """(volume, why): the bootable volume a volume-backed server boots from.

    volumes maps ids to volume.Volume; None with the reason when it
    cannot be told.
    """
    if not server.volume_backed:
        return None, 'booted from an image'
    attached = [volumes[v] for v in server.volume_ids if v in volumes]
    bootable = [v for v in attached if v.bootable]
    if server.root_device:
        rooted = [v for v in bootable
                  if (server.id, server.root_device) in v.devices]
        if len(rooted) == 1:
            return rooted[0], ''
    if len(bootable) == 1:
        return bootable[0], ''
    if not bootable:
        return None, 'no bootable volume attached is visible'
    return None, ('%d bootable volumes attached; the root device is not '
                  'visible to this user' % len(bootable))


def source_image_id(server, volume):
    if not server.volume_backed:
        return server.image_id
    if volume:
        return volume.image_id
    return None


def booted_properties(server, source_props):
    """The properties the server was booted with, or None if unknown.

    From the API (2.98) every recorded key is known; from nova-manage only
    READ_KEYS are, the others are the source's current values.
    """
    if server.recorded is None:
        return None
    if server.recorded_from == 'api':
        # Nova shows only its own fields (ImageMetaProps); the guest facts
        # outside them are the source's.
        props = {k: v for k, v in (source_props or {}).items()
                 if k in GUEST_KEYS}
        props.update(server.recorded)
        return props
    props = {k: v for k, v in (source_props or {}).items()
             if k not in READ_KEYS}
    props.update(server.recorded)
    return props


def as_image(server, props):
    """A model.Image the rules judge: the server under its booted values."""
    return model.Image(id=server.id, name=server.name,
                       owner=server.project_id, status=server.status,
                       properties=dict(props))


def drift(booted, image):
    """Bus keys whose booted value differs from the image's, or None."""
    if booted is None or image is None or image.error:
        return None
    return tuple(k for k in BUS_KEYS
                 if booted.get(k) != image.properties.get(k))


def row(server, policy, image=None, volume=None, volume_why=''):
    """One audit row: plain, JSON-ready values with stable keys."""
    volume_props = dict(volume.image_metadata or {}) if volume else {}
    source = volume_props if server.volume_backed else (
        image.properties if image and not image.error else {})
    booted = booted_properties(server, source)
    base = {
        'id': server.id, 'name': server.name,
        'project_id': server.project_id, 'status': server.status,
        'boot': 'volume' if server.volume_backed else 'image',
        'image_id': source_image_id(server, volume),
        'volume_id': volume.id if volume else None,
        'image_hw_disk_bus': (image.properties.get('hw_disk_bus')
                              if image and not image.error else None),
        'volume_hw_disk_bus': volume_props.get('hw_disk_bus'),
        'known_from': server.recorded_from or UNKNOWN,
    }
    notes = [n for n in (server.error, volume_why) if n]
    if image is not None and image.error:
        notes.append('image: %s' % image.error)
    if booted is None:
        notes.append('booted bus unknown: the API does not show it for '
                     'this server; give --nova-manage')
        base.update({
            'booted_hw_disk_bus': UNKNOWN, 'booted_hw_scsi_model': UNKNOWN,
            'drift': UNKNOWN, 'os': UNKNOWN, 'readiness': {},
            'recommended_bus': UNKNOWN, 'severity': UNKNOWN,
            'findings': [], 'notes': notes})
        return base
    facts = detect.facts(as_image(server, booted))
    findings = rules.evaluate(facts, rules.Context(policy=policy))
    changed = drift(booted, image)
    base.update({
        'booted_hw_disk_bus': booted.get('hw_disk_bus'),
        'booted_hw_scsi_model': booted.get('hw_scsi_model'),
        'drift': UNKNOWN if changed is None else list(changed),
        'os': facts.os.describe(),
        'readiness': {d: facts.readiness[d].state for d in model.DRIVERS
                      if d in facts.readiness},
        'recommended_bus': audit.recommend(facts, policy)[0],
        'severity': audit.worst(findings),
        'findings': [f.to_dict() for f in findings],
        'notes': notes,
    })
    return base


def plan_server(server, target, policy, source_props=None):
    """The model.Change for one server (its Image is the server)."""
    if server.error:
        return model.Change(as_image(server, {}), {}, (), plan.SKIPPED,
                            reason=server.error)
    if server.status not in CHANGEABLE:
        return model.Change(as_image(server, {}), {}, (), plan.SKIPPED,
                            reason='status %s: only ACTIVE and SHUTOFF '
                                   'servers are changed' % server.status)
    booted = booted_properties(server, source_props)
    if booted is None:
        return model.Change(as_image(server, {}), {}, (), plan.SKIPPED,
                            reason='booted properties unknown')
    change = plan.plan_one(as_image(server, booted), target, policy)
    if change.action == plan.CHANGE and change.remove:
        return dataclasses.replace(
            change, action=plan.BLOCKED,
            reason='nova-manage image_property set cannot remove %s'
                   % ', '.join(change.remove))
    return change


def make_plan(found, boots, images, target, policy):
    """A Change per server, judged under the values it was booted with."""
    changes = []
    for server in found:
        volume = boots[server.id][0]
        image = images.get(source_image_id(server, volume))
        if server.volume_backed:
            source = volume.image_metadata if volume else None
        else:
            source = image.properties if image and not image.error else {}
        changes.append(plan_server(server, target, policy, source))
    return changes


def check_release(version=None, max_microversion=None):
    """(ok, why): whether this Nova has the fix for bug 2078999.

    version is nova-manage's (major, minor, patch); without it the API's
    maximum microversion can only prove a release new enough.
    """
    fixed = 'fixed in 30.0.0, 29.2.1 and 28.3.1'
    if version is not None:
        text = '.'.join(str(n) for n in version)
        need = FIXED_IN.get(version[0])
        if version[0] > max(FIXED_IN) or (need and tuple(version) >= need):
            return True, 'nova-manage --version says %s' % text
        return False, ('Nova %s lacks the fix for bug 2078999 (image '
                       'properties set by nova-manage are reverted on '
                       'migration; %s)' % (text, fixed))
    if max_microversion and tuple(max_microversion) >= FIXED_MICROVERSION:
        return True, ('the compute API offers microversion %d.%d: Nova '
                      '30.0.0 or later' % tuple(max_microversion))
    return False, ('cannot tell whether this Nova has the fix for bug '
                   '2078999 (%s): nova-manage --version gave no version and '
                   'the compute API offers no microversion past 2.96'
                   % fixed)


def impact(images, volumes, server_rows):
    """Per image id: copies in volumes and servers, and how many differ."""
    counts = {i.id: {'volumes': 0, 'volumes_differ': 0, 'servers': 0,
                     'servers_differ': 0, 'servers_unknown': 0}
              for i in images}
    by_id = {i.id: i for i in images}
    for volume in volumes:
        meta = volume.image_metadata or {}
        entry = counts.get(meta.get('image_id'))
        if entry is None:
            continue
        entry['volumes'] += 1
        props = by_id[meta['image_id']].properties
        if any(meta.get(k) != props.get(k) for k in BUS_KEYS):
            entry['volumes_differ'] += 1
    for server_row in server_rows:
        entry = counts.get(server_row['image_id'])
        if entry is None:
            continue
        entry['servers'] += 1
        if server_row['drift'] == UNKNOWN:
            entry['servers_unknown'] += 1
        elif server_row['drift']:
            entry['servers_differ'] += 1
    return counts


def _read(manage, server_id, keys):
    return {k: manage.show(server_id, k) for k in keys}


class _Step:
    """Journals intent and result around one step of one server."""

    def __init__(self, journal, write):
        self.journal, self.write = journal, write

    def intent(self, step, **fields):
        self.journal.write('intent', step=step, server=self.write.server_id,
                           name=self.write.name, **fields)

    def result(self, step, outcome, **fields):
        self.journal.write('result', step=step, server=self.write.server_id,
                           outcome=outcome, **fields)


def write_one(conn, manage, write, journal, restart=True,
              wait=nova.wait_for):
    """Apply one Write; never raises for a per-server failure."""
    keys = list(write.desired)
    wanted = {k: v for k, v in write.desired.items() if v is not None}
    unremovable = [k for k, v in write.desired.items() if v is None]
    step = _Step(journal, write)

    def done(outcome, observed, error='', power='', power_error=''):
        return engine.Outcome(write.server_id, write.name, outcome,
                              dict(write.expected), observed, error, power,
                              power_error)
    try:
        server = nova.get_server(conn, write.server_id)
        if server.status not in CHANGEABLE:
            return done(SKIPPED, dict(write.expected),
                        'status %s: only ACTIVE and SHUTOFF servers are '
                        'changed' % server.status)
        current = _read(manage, write.server_id, keys)
    except glance.CloudError:
        raise
    except (glance.GlanceError, novamanage.NovaManageError) as e:
        return done(FAILED, dict(write.expected), str(e))
    if all(current.get(k) == v for k, v in wanted.items()):
        left = [k for k in unremovable if current.get(k) is not None]
        if not left:
            return done(UNCHANGED, current)
        return done(PARTIAL, current, 'nova-manage cannot remove %s: left '
                    'at %s' % (', '.join(left), ', '.join(
                        str(current[k]) for k in left)))
    if current != dict(write.expected):
        return done(CONFLICT, current, 'changed by someone else since the '
                    'plan: %s' % ', '.join(
                        k for k in keys if current[k] != write.expected[k]))
    stopped = False
    if server.status == 'ACTIVE':
        step.intent('stop', status=server.status)
        try:
            nova.action(conn, write.server_id, 'os-stop')
            wait(conn, write.server_id, 'SHUTOFF')
        except glance.GlanceError as e:
            step.result('stop', FAILED, error=str(e))
            return done(FAILED, current, 'stop failed: %s; check the '
                        'server, it may be stopping' % e)
        step.result('stop', 'stopped')
        stopped = True
    outcome = _set(manage, write, step, current, wanted, unremovable)
    if not stopped:
        return dataclasses.replace(outcome, power='was SHUTOFF: left so')
    if not restart:
        return dataclasses.replace(outcome, power='stopped: left SHUTOFF '
                                   '(--no-restart)')
    step.intent('start')
    try:
        nova.action(conn, write.server_id, 'os-start')
        wait(conn, write.server_id, 'ACTIVE')
    except glance.GlanceError as e:
        step.result('start', FAILED, error=str(e))
        return dataclasses.replace(outcome, power='stopped',
                                   power_error='start failed: %s' % e)
    step.result('start', 'started')
    return dataclasses.replace(outcome, power='stopped and started again')


def _set(manage, write, step, current, wanted, unremovable):
    keys = list(write.desired)
    step.intent('set', before=current, after=dict(write.desired))

    def finish(outcome, observed, error=''):
        step.result('set', outcome, observed=observed, error=error)
        return engine.Outcome(write.server_id, write.name, outcome,
                              dict(write.expected), observed, error)
    try:
        manage.set(write.server_id, wanted)
    except novamanage.NovaManageError as e:
        if e.code in REFUSED:
            return finish(FAILED, current, str(e))
        return finish(UNCERTAIN, current, '%s: the change may have been '
                      'saved; run again or roll back' % e)
    try:
        observed = _read(manage, write.server_id, keys)
    except novamanage.NovaManageError as e:
        return finish(UNCERTAIN, current, 'set, but the re-read failed: %s'
                      % e)
    if any(observed.get(k) != v for k, v in wanted.items()):
        return finish(CONFLICT, observed, 'verification read shows %s: a '
                      'concurrent writer' % observed)
    left = [k for k in unremovable if observed.get(k) is not None]
    if left:
        return finish(PARTIAL, observed, 'nova-manage cannot remove %s: '
                      'left at %s' % (', '.join(left), ', '.join(
                          str(observed[k]) for k in left)))
    return finish(CHANGED, observed)


def run(conn, manage, writes, journal, concurrency=4, restart=True,
        progress=None):
    """Apply writes with bounded concurrency; outcomes in input order."""
    return engine.run(writes, lambda w: write_one(conn, manage, w, journal,
                                                  restart),
                      concurrency, progress)


def touched(records):
    """Per server: first before, last after of each key, last outcome.

    An intent without a result: the process died around the step.
    """
    found = {}
    for number, record in enumerate(records, 1):
        server_id = record.get('server')
        if not server_id or record.get('step') != 'set':
            continue
        if record.get('type') == 'intent':
            before, after = record.get('before'), record.get('after')
            if not (isinstance(before, dict) and isinstance(after, dict)):
                raise ValueError('record %d is a set intent without before '
                                 'and after' % number)
            entry = found.setdefault(server_id, {
                'server': server_id, 'name': record.get('name'),
                'before': {}, 'after': {}})
            for key, value in before.items():
                entry['before'].setdefault(key, value)
            entry['after'].update(after)
            entry['outcome'] = UNCERTAIN
        elif record.get('type') == 'result' and server_id in found:
            found[server_id]['outcome'] = record.get('outcome', UNCERTAIN)
    return list(found.values())


def nova_manage(command, timeout):
    """The deployment's NovaManage, or None without --nova-manage."""
    if not command:
        return None
    try:
        return novamanage.NovaManage(command, timeout)
    except ValueError as e:
        raise exceptions.CommandError(str(e))


def select(conn, parsed_args):
    """The selected servers; a member sees its own project's."""
    try:
        if parsed_args.servers:
            return nova.find_servers(conn, parsed_args.servers, True)
        try:
            return nova.list_servers(conn, True, parsed_args.project)
        except nova.NovaError as e:
            if e.status != 403 or parsed_args.project:
                raise
            sys.stderr.write('not an admin: listing the servers of this '
                             'project only\n')
            return nova.list_servers(conn)
    except (glance.CloudError, glance.SelectionError) as e:
        raise exceptions.CommandError(str(e))
    except glance.GlanceError as e:
        raise exceptions.CommandError('cannot list servers: %s' % e)


def volumes_of(conn, found):
    if not any(s.volume_backed for s in found):
        return {}
    try:
        return {v.id: v for v in cinder.list_volumes(conn)}
    except glance.CloudError as e:
        raise exceptions.CommandError(str(e))
    except glance.GlanceError as e:
        raise exceptions.CommandError('cannot list volumes: %s' % e)


def images_of(conn, image_ids):
    found = {}
    for image_id in sorted(i for i in image_ids if i):
        try:
            found[image_id] = glance.get_image(conn, image_id)
        except glance.CloudError as e:
            raise exceptions.CommandError(str(e))
        except glance.GlanceError as e:
            found[image_id] = model.Image(id=image_id, error=str(e))
    return found


def read_recorded(manage, found, concurrency):
    """found, with the recorded keys read by nova-manage where unknown."""

    def read(server):
        if server.recorded is not None:
            return server
        try:
            values = {k: manage.show(server.id, k)
                      for k in READ_KEYS}
        except novamanage.NovaManageError as e:
            return dataclasses.replace(server, error=str(e))
        return with_recorded(server, values, 'nova-manage')
    with concurrent.futures.ThreadPoolExecutor(concurrency) as pool:
        return list(pool.map(read, found))


def check_runs(manage):
    """nova-manage's version or None; an error if it cannot run at all."""
    try:
        return manage.version()
    except novamanage.NovaManageError as e:
        if e.code is None:
            raise exceptions.CommandError(str(e))
        LOG.info('no nova-manage version: %s', e)
        return None


def gather(conn, parsed_args, manage, concurrency):
    """(servers, volumes by id, images by id, boot volume per id)."""
    found = select(conn, parsed_args)
    if manage is not None:
        found = read_recorded(manage, found, concurrency)
    volumes = volumes_of(conn, found)
    boots = {s.id: boot_volume(s, volumes) for s in found}
    images = images_of(conn, {source_image_id(s, boots[s.id][0])
                              for s in found})
    return found, volumes, images, boots


def audit_rows(found, images, boots, policy):
    rows = []
    for server in found:
        volume, why = boots[server.id]
        image = images.get(source_image_id(server, volume))
        rows.append(row(server, policy, image, volume,
                        why if server.volume_backed else ''))
    return rows


def audit_selected(conn, args, manage, policy):
    """The audit rows of the selected servers."""
    found, _, images, boots = gather(conn, args, manage, args.concurrency)
    return audit_rows(found, images, boots, policy)


def drifted(row):
    """Whether an audit row's server drifts from its image, for certain."""
    return bool(row['drift']) and row['drift'] != UNKNOWN


def release_check(conn, version):
    """Refuse a Nova without the fix for bug 2078999, saying why."""
    try:
        top = nova.microversions(conn)[1]
    except glance.GlanceError as e:
        LOG.info('no compute microversions: %s', e)
        top = None
    ok, why = check_release(version, top)
    if not ok:
        raise exceptions.CommandError('refusing to change servers: %s' % why)
    sys.stderr.write('nova: %s (fix for bug 2078999 present)\n' % why)


def copies(conn, images, policy, manage=None):
    """Per image id: the copies volumes and servers carry (image --impact).

    A server whose booted bus neither the API nor nova-manage (when given)
    shows counts as unknown.
    """
    found = select(conn, types.SimpleNamespace(servers=(), project=None))
    try:
        volumes = list(cinder.list_volumes(conn))
    except glance.CloudError as e:
        raise exceptions.CommandError(str(e))
    except glance.GlanceError as e:
        raise exceptions.CommandError('cannot list volumes: %s' % e)
    by_id = {v.id: v for v in volumes}
    boots = {s.id: boot_volume(s, by_id) for s in found}
    known = {i.id: i for i in images}
    if manage is not None:
        check_runs(manage)
        # Only the servers whose copy concerns these images.
        ours = [s for s in found if source_image_id(
            s, boots[s.id][0]) in known]
        read = {s.id: s for s in read_recorded(manage, ours, 4)}
        found = [read.get(s.id, s) for s in found]
    rows = audit_rows(found, known, boots, policy)
    return impact(images, volumes, rows)


def plan_for(conn, args, manage, target, policy, version):
    """The plan of the selected servers, after the release check.

    Following an image journal (--follow-images): only the servers booted
    from its images, directly or from a volume made of one; one changed
    by hand since is skipped unless named (plan.skip_hand_changed).
    """
    found, _, images, boots = gather(conn, args, manage, args.concurrency)
    origin = {s.id: source_image_id(s, boots[s.id][0]) for s in found}
    follow = engine.followed(args.follow_images) \
        if args.follow_images else None
    if follow is not None:
        sys.stderr.write('--follow-images: %d images changed in %s\n'
                         % (len(follow), args.follow_images))
        found = [s for s in found if s.error or origin[s.id] in follow]
    if not args.dry_run:
        release_check(conn, version)
    changes = make_plan(found, boots, images, target, policy)
    if follow is not None and not args.servers:
        changes = plan.skip_hand_changed(changes, follow,
                                         lambda c: origin[c.image.id])
    return changes


def rollback_entries(path):
    """(start record, entries) of a server set journal to roll back."""
    records = journal.read(path)
    start = records[0] if records else {}
    return start, [dict(t, id=t['server']) for t in touched(records)]


class Servers(engine.Kind):
    noun = family = 'server'

    def __init__(self, manage=None, restart=True):
        self.manage, self.restart = manage, restart

    def question(self, todo):
        running = sum(1 for c in todo if c.image.status == 'ACTIVE')
        return 'Apply to %s (%d running will be stopped)?' % (
            engine.count(len(todo), self.noun), running)

    def run(self, conn, writes, record, concurrency, progress):
        return run(conn, self.manage, writes, record, concurrency,
                   self.restart, progress)

    def read(self, conn, server_id, keys):
        try:
            return _read(self.manage, server_id, keys)
        except novamanage.NovaManageError as e:
            raise engine.Unreadable(str(e))


# The columns of its commands: (name, row key, column class or None).
AUDIT_COLUMNS = (
    ('ID', 'id', None), ('Name', 'name', None),
    ('Project', 'project_id', None), ('Status', 'status', None),
    ('Boot', 'boot', None), ('Image', 'image_id', None),
    ('Volume', 'volume_id', None),
    ('Booted Bus', 'booted_hw_disk_bus', None),
    ('Booted SCSI Model', 'booted_hw_scsi_model', None),
    ('Image Bus', 'image_hw_disk_bus', None),
    ('Drift', 'drift', columns.ServerDriftColumn),
    ('Known From', 'known_from', None),
    ('Findings', 'findings', columns.FindingsColumn),
)
AUDIT_LONG = (
    ('Volume Bus', 'volume_hw_disk_bus', None), ('OS', 'os', None),
    ('Readiness', 'readiness', columns.DictColumn),
    ('Recommended Bus', 'recommended_bus', None),
    ('Severity', 'severity', None), ('Notes', 'notes', columns.ListColumn),
    ('Details', 'findings', columns.MessagesColumn),
)
SET_COLUMNS = (
    ('ID', 'id', None), ('Name', 'name', None), ('Action', 'action', None),
    ('Outcome', 'outcome', None), ('Power', 'power', None),
    ('Changes', 'changes', columns.ChangesColumn),
    ('Findings', 'findings', columns.FindingsColumn),
    ('Reason', 'reason', None),
)
ROLLBACK_COLUMNS = (
    ('ID', 'id', None), ('Name', 'name', None), ('Outcome', 'outcome', None),
    ('Power', 'power', None), ('Changes', 'changes', columns.ChangesColumn),
    ('Reason', 'reason', None),
)
