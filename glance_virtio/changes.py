"""What changed in the catalogue: marks, signatures and the watcher's state.

Pure helpers shared by `audit --since` and `watch`; nothing here talks to
a cloud.
"""

import datetime
import hashlib
import json
import os
import re

from glance_virtio import files

UNITS = {'s': 1, 'm': 60, 'h': 3600, 'd': 86400, 'w': 7 * 86400}
DURATION = re.compile(r'^(\d+[smhdw])+$')
PART = re.compile(r'(\d+)([smhdw])')
STATE_VERSION = 1
GLANCE_RESERVED = 'os_glance_'


def utc(moment):
    """An aware datetime in UTC (a naive one is taken as UTC)."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=datetime.timezone.utc)
    return moment.astimezone(datetime.timezone.utc)


def isoformat(moment):
    """The form Glance's updated_at filter and its images show."""
    return utc(moment).strftime('%Y-%m-%dT%H:%M:%SZ')


def parse_time(text):
    """An aware datetime from Glance's or an operator's ISO 8601 text."""
    value = text.strip()
    if value.endswith(('Z', 'z')):
        value = value[:-1] + '+00:00'
    try:
        return utc(datetime.datetime.fromisoformat(value))
    except ValueError:
        raise ValueError('not a time: %r (use ISO 8601 such as '
                         '2026-12-05T07:00:00Z, or a duration such as 90m, '
                         '6h, 1d12h)' % text)


def parse_since(text, now=None):
    """The mark for TIME (ISO 8601) or DURATION (90s, 15m, 6h, 1d, 2w) ago."""
    value = text.strip().lower()
    if DURATION.match(value):
        seconds = sum(int(n) * UNITS[u] for n, u in PART.findall(value))
        now = utc(now or datetime.datetime.now(datetime.timezone.utc))
        return isoformat(now - datetime.timedelta(seconds=seconds))
    return isoformat(parse_time(text))


def since_filter(text, now=None):
    """Glance's list filter for --since: ('updated_at', 'gte:<time>')."""
    return ('updated_at', 'gte:' + parse_since(text, now))


def later(a, b):
    """The later of two marks (either may be None)."""
    if not a or not b:
        return a or b
    return a if parse_time(a) >= parse_time(b) else b


def signature(image):
    """What identifies one state of an image: status, data and properties.

    Two notifications (or a notification and a listing) of the same state
    have the same signature, so it is judged and reported once.
    """
    # os_glance_* is Glance's own bookkeeping (import locks, stores being
    # copied to): it changes the image, not what is judged.
    props = sorted((k, v) for k, v in image.properties.items()
                   if not k.startswith(GLANCE_RESERVED))
    text = json.dumps([image.status, image.content_hash, image.visibility,
                       image.owner, image.name, props],
                      separators=(',', ':'))
    return hashlib.sha256(text.encode()).hexdigest()[:32]


class State:
    """The watcher's memory: the mark and the signature judged per image."""

    def __init__(self, mark=None, seen=None):
        self.mark = mark
        self.seen = dict(seen or {})

    def is_new(self, image):
        return self.seen.get(image.id) != signature(image)

    def judged(self, image):
        self.seen[image.id] = signature(image)

    def forget(self, image_id):
        self.seen.pop(image_id, None)

    def advance(self, updated_at):
        if updated_at:
            self.mark = later(self.mark, isoformat(parse_time(updated_at)))

    def to_dict(self):
        return {'version': STATE_VERSION, 'mark': self.mark,
                'seen': self.seen}


def load_state(path):
    """The State in path; an empty one when the file does not exist."""
    if not path or not os.path.exists(path):
        return State()
    try:
        with open(path) as f:
            data = json.load(f)
        if data.get('version') != STATE_VERSION:
            raise ValueError('unknown version %r' % data.get('version'))
        if data.get('mark'):
            parse_time(data['mark'])
        return State(data.get('mark'), data.get('seen') or {})
    except (OSError, ValueError, AttributeError) as e:
        raise ValueError('state file %s: %s' % (path, e))


def save_state(path, state):
    """Write the state atomically (a temporary file, then a rename)."""
    files.replace(path, json.dumps(state.to_dict(), sort_keys=True))
