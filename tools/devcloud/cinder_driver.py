"""Cinder's fake volume driver, with each volume kept as a sparse file.

Imported by cinder-volume only (the devcloud puts tools/ on its path).
cinder.tests.fake_driver.FakeLoggingVolumeDriver keeps no data: it says
a volume lives at /dev/mapper/..., which does not exist here (no
device-mapper), so making a volume from an image fails.  This subclass
only gives each volume a real file under <state_path>/volumes; the rest
(and the whole API, database and metadata) is Cinder's own.
"""

import os

from oslo_config import cfg

from cinder.tests.fake_driver import FakeLoggingVolumeDriver


class FileVolumeDriver(FakeLoggingVolumeDriver):
    """FakeLoggingVolumeDriver whose volumes are sparse files."""

    def local_path(self, volume, vg=None):
        return os.path.join(cfg.CONF.state_path, 'volumes', volume['name'])

    def create_volume(self, volume):
        update = super().create_volume(volume)
        os.makedirs(os.path.dirname(self.local_path(volume)), exist_ok=True)
        with open(self.local_path(volume), 'wb') as f:
            f.truncate(volume['size'] << 30)
        return update

    def delete_volume(self, volume):
        super().delete_volume(volume)
        try:
            os.unlink(self.local_path(volume))
        except FileNotFoundError:
            pass
