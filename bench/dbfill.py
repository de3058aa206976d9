"""Fill the local cloud's Glance database with catalogue images, fast.

For the large tiers only (the API makes about 5 images a second on this
machine): the rows Glance itself writes for an image created by POST and
uploaded by PUT (images, image_properties, image_tags, image_locations,
and the 1 KiB file of the local store), with the catalogue's properties.
ensure_catalogue checks a sample read back through the API.
"""

import datetime
import hashlib
import os
import sqlite3
import uuid

from bench import catalogue


def fill(state, numbers, base_ids, tags_for):
    """Insert images numbered numbers; {n: id}."""
    db = sqlite3.connect(os.path.join(state, 'data', 'glance.db'),
                         timeout=600)
    store = os.path.join(state, 'data', 'images')
    made = {}
    now = datetime.datetime.utcnow()
    with db:
        for n in numbers:
            name, visibility, owner, props = catalogue.image(n, base_ids)
            image_id = str(uuid.uuid4())
            data = catalogue.data(n)
            path = os.path.join(store, image_id)
            with open(path, 'wb') as f:
                f.write(data)
            stamp = str(now + datetime.timedelta(microseconds=n))
            db.execute(
                'INSERT INTO images (id, name, size, status, created_at, '
                'updated_at, deleted, disk_format, container_format, '
                'checksum, owner, min_disk, min_ram, protected, '
                'virtual_size, visibility, os_hidden, os_hash_algo, '
                'os_hash_value) VALUES (?, ?, ?, ?, ?, ?, 0, ?, ?, ?, ?, 0, '
                '0, 0, ?, ?, 0, ?, ?)',
                (image_id, name, len(data), 'active', stamp, stamp, 'raw',
                 'bare', hashlib.md5(data).hexdigest(), owner, len(data),
                 visibility, 'sha512', hashlib.sha512(data).hexdigest()))
            db.executemany(
                'INSERT INTO image_properties (image_id, name, value, '
                'created_at, updated_at, deleted) VALUES (?, ?, ?, ?, ?, 0)',
                [(image_id, k, v, stamp, stamp) for k, v in props.items()])
            db.executemany(
                'INSERT INTO image_tags (image_id, value, created_at, '
                'updated_at, deleted) VALUES (?, ?, ?, ?, 0)',
                [(image_id, t, stamp, stamp) for t in tags_for(n)])
            db.execute(
                'INSERT INTO image_locations (image_id, value, created_at, '
                'updated_at, deleted, meta_data, status) VALUES (?, ?, ?, ?, '
                "0, '{\"store\": \"local\"}', 'active')",
                (image_id, 'file://' + path, stamp, stamp))
            made[n] = image_id
    db.close()
    return made
