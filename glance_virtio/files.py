"""Files written whole or not at all."""

import os
import tempfile


def replace(path, text, mode=None):
    """Write text to path atomically: a temporary file, then a rename.

    A reader sees the old file or the new one, never half of one; mode,
    when given, is set before the rename.
    """
    path = os.path.abspath(path)
    fd, tmp = tempfile.mkstemp(prefix='.%s.' % os.path.basename(path),
                               dir=os.path.dirname(path))
    try:
        with os.fdopen(fd, 'w', encoding='utf-8') as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        if mode is not None:
            os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
