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
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        self._file = os.fdopen(fd, 'a', encoding='utf-8')
        self._lock = threading.Lock()

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


def read(path):
    """Records of a journal; a torn last line from a crash is ignored."""
    records = []
    with open(path, encoding='utf-8') as f:
        lines = f.read().split('\n')
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            records.append(json.loads(line))
        except ValueError:
            if number < len(lines) - 1:
                raise ValueError('%s line %d is not JSON' % (path, number))
    return records


def touched(records):
    """Per image: before, after and last outcome of every write attempted.

    An intent without a result means the process died around the PATCH:
    the image may or may not have changed.
    """
    images = {}
    for record in records:
        image_id = record.get('image')
        if record.get('type') == 'intent':
            entry = images.setdefault(image_id, {
                'image': image_id, 'name': record.get('name'),
                'before': record['before'], 'outcome': 'uncertain'})
            entry['after'] = record['after']
            entry['outcome'] = 'uncertain'
        elif record.get('type') == 'result' and image_id in images:
            images[image_id]['outcome'] = record['outcome']
    return list(images.values())
