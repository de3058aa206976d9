"""Append-only JSON Lines record of every change, and what rollback needs."""

import datetime
import json
import os
import threading

VERSION = 1


def now():
    return datetime.datetime.now(datetime.timezone.utc).isoformat()


def default_path(directory, kind='set'):
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime(
        '%Y%m%dT%H%M%S.%fZ')
    return os.path.join(os.path.expanduser(directory),
                        '%s-%s.jsonl' % (kind, stamp))


class Journal:
    """Each record is flushed and fsynced before the call returns."""

    def __init__(self, path):
        self.path = path
        parent = os.path.dirname(os.path.abspath(path))
        os.makedirs(parent, mode=0o700, exist_ok=True)
        created = not os.path.exists(path)
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o600)
        self._file = os.fdopen(fd, 'a+', encoding='utf-8')
        self._lock = threading.Lock()
        if not created:
            self._end_torn_line(fd)
        else:
            _fsync_dir(parent)

    def _end_torn_line(self, fd):
        # A run killed mid-record leaves a torn last line: end it, so that
        # the records appended now start on a line of their own.
        size = os.fstat(fd).st_size
        if size and os.pread(fd, 1, size - 1) != b'\n':
            self._file.write('\n')
            self._file.flush()
            os.fsync(fd)

    def write(self, record_type, **fields):
        record = {'type': record_type, 'time': now()}
        record.update(fields)
        line = json.dumps(record, sort_keys=True) + '\n'
        with self._lock:
            self._file.write(line)
            self._file.flush()
            os.fsync(self._file.fileno())

    def close(self):
        with self._lock:
            self._file.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def _fsync_dir(path):
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _parse(line):
    try:
        record = json.loads(line)
    except ValueError:
        return None
    return record if isinstance(record, dict) else None


def read(path):
    """Records of a journal.

    A torn line, which a crash leaves as the last line of a run, is
    skipped; any other line that is not a record is an error.
    """
    with open(path, 'rb') as f:
        data = f.read()
    try:
        text = data.decode('utf-8')
    except UnicodeDecodeError:
        text = None
    if text is None or '\0' in text:
        raise ValueError('%s is a binary file, not a journal (JSON Lines)'
                         % path)
    records = []
    lines = [(n, line) for n, line in enumerate(text.split('\n'), 1)
             if line.strip()]
    for index, (number, line) in enumerate(lines):
        record = _parse(line)
        if record is not None:
            records.append(record)
            continue
        following = lines[index + 1][1] if index + 1 < len(lines) else None
        if following is not None and (_parse(following) or {}).get(
                'type') != 'start':
            raise ValueError('%s line %d is not a journal record'
                             % (path, number))
    return records


def load(path):
    """(start record, touched images) of a journal to roll back.

    Refuses, with a message naming the file, anything that is not a journal
    of a run that wrote at least one image.
    """
    records = read(path)
    if not records:
        raise ValueError('%s is empty or holds no journal record (a journal '
                         'is the JSON Lines file a set run writes)' % path)
    start = records[0]
    if start.get('type') != 'start':
        raise ValueError('%s does not begin with a start record: not a '
                         'journal written by a set run' % path)
    images = touched(records)
    if not images:
        raise ValueError('%s names no image: the run it records wrote '
                         'nothing, so there is nothing to roll back' % path)
    return start, images


def touched(records):
    """Per image: before, after and last outcome of every write attempted.

    An intent without a result means the process died around the PATCH:
    the image may or may not have changed.
    """
    images = {}
    for number, record in enumerate(records, 1):
        image_id = record.get('image')
        if record.get('type') == 'intent':
            before, after = record.get('before'), record.get('after')
            if not (image_id and isinstance(before, dict)
                    and isinstance(after, dict)):
                raise ValueError('record %d is an intent without image, '
                                 'before and after' % number)
            entry = images.setdefault(image_id, {
                'image': image_id, 'name': record.get('name'),
                'before': {}, 'after': {}})
            # Runs appended to one journal may touch different keys: the
            # first before and the last after of each key.
            for key, value in before.items():
                entry['before'].setdefault(key, value)
            entry['after'].update(after)
            entry['outcome'] = 'uncertain'
        elif record.get('type') == 'result' and image_id in images:
            images[image_id]['outcome'] = record.get('outcome', 'uncertain')
    return list(images.values())


def followed(records):
    """Per image a set journal changed, or may have: its touched entry.

    Failed and conflicting writes changed nothing; an uncertain one may
    have. ValueError unless records are an image set journal.
    """
    start = records[0] if records else {}
    if start.get('type') != 'start' or start.get('command') != 'set':
        raise ValueError('not a journal of the image set command (its first '
                         'record must be a start of command set)')
    return {t['image']: t for t in touched(records)
            if t.get('outcome') in ('changed', 'uncertain')}


def hand_changed(copy, entry):
    """Why a copy of an image's properties no longer follows it, or None.

    Following an image means following its journalled change: a copy whose
    values still equal what the image had before it (or already what it
    has after) follows; any other value was set by someone else.
    """
    shown = {None: 'unset'}
    differ = [k for k in sorted(entry['before'])
              if copy.get(k) not in (entry['before'].get(k),
                                     entry['after'].get(k))]
    if not differ:
        return None
    return ('changed by someone else: %s; name it on the command line to '
            'change it anyway' % ', '.join(
                '%s is %s here, the image had %s before the journalled '
                'change' % (k, shown.get(copy.get(k), copy.get(k)),
                            shown.get(entry['before'][k],
                                      entry['before'][k]))
                for k in differ))
