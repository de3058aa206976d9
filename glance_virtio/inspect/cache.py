"""Cache of inspection results, keyed by the image's checksum."""

import hashlib
import json
import logging
import os

from glance_virtio import files
from glance_virtio.inspect.result import SCHEMA_VERSION

LOG = logging.getLogger(__name__)

DEFAULT_DIR = os.path.join('~', '.cache', 'glance-virtio', 'inspect')


class ResultCache:
    """JSON files named after sha256(schema version + checksum)."""

    def __init__(self, directory=None):
        self.directory = os.path.expanduser(directory or DEFAULT_DIR)

    def _path(self, checksum):
        digest = hashlib.sha256(
            ('%d:%s' % (SCHEMA_VERSION, checksum)).encode()).hexdigest()
        return os.path.join(self.directory, digest + '.json')

    def get(self, checksum):
        """The cached result for ``checksum`` or None."""
        if not checksum:
            return None
        try:
            with open(self._path(checksum), encoding='utf-8') as handle:
                entry = json.load(handle)
        except (OSError, ValueError):
            return None
        if not isinstance(entry, dict):
            return None
        if (entry.get('schema'), entry.get('checksum')) != (SCHEMA_VERSION,
                                                            checksum):
            return None
        return entry.get('result')

    def put(self, checksum, result):
        """Store ``result`` for ``checksum`` atomically; False if it cannot."""
        if not checksum:
            return False
        try:
            self._put(checksum, result)
        except OSError as exc:
            LOG.warning('cannot write the inspection cache in %s: %s',
                        self.directory, exc)
            return False
        return True

    def _put(self, checksum, result):
        os.makedirs(self.directory, exist_ok=True)
        entry = {'schema': SCHEMA_VERSION, 'checksum': checksum,
                 'result': result}
        files.replace(self._path(checksum), json.dumps(entry, sort_keys=True))
