"""set --verify: boot a canary of each changed image, undo the failed ones.

After set has applied its changes, each changed image is read again from
Glance and booted on its new properties. An image whose canary failed is
rolled back through the same journal (its verify record, then the
rollback's intent and result records); an unknown verdict is reported and
left changed, unless --verify-strict.
"""

import logging
import sys

from glance_virtio import engine
from glance_virtio import journal
from glance_virtio.kinds import images as image_kind
from glance_virtio import model
from glance_virtio.services import glance
from glance_virtio.verify import canary
from glance_virtio.verify import console
from glance_virtio.verify import runner

LOG = logging.getLogger(__name__)

COLUMN = 'Verify'


def add_options(parser):
    parser.add_argument('--verify', action='store_true',
                        help='Boot a canary of each changed image on its new '
                             'properties (as verify does) and roll back, '
                             'through the journal, each one that fails')
    parser.add_argument('--verify-strict', action='store_true',
                        help='With --verify: also roll back an image whose '
                             'verdict is unknown')
    parser.add_argument('--verify-timeout', metavar='<seconds>', type=float,
                        default=300.0,
                        help='Wall time per canary (default: 300)')
    parser.add_argument('--verify-console', metavar='<dir>',
                        help='Keep the canaries\' console logs here')


def wanted(args):
    return bool(getattr(args, 'verify', False) or
                getattr(args, 'verify_strict', False))


def after(conn, policy, args):
    """The engine's after hook for set: verify what the writes changed."""
    return lambda outcomes, path: run(conn, policy, args, outcomes, path)


def run(conn, policy, args, outcomes, journal_path, concurrency=None):
    """({image id: Verify cell text}, exit code: 0, 4 or 5)."""
    changed = [o for o in outcomes if o and o.outcome == engine.CHANGED]
    if not changed:
        return {}, 0
    by_id = glance.get_images(conn, [o.image_id for o in changed])
    images = [by_id.get(o.image_id) or _read(conn, o.image_id)
              for o in changed]
    options = runner.Options(timeout=args.verify_timeout,
                             console_dir=args.verify_console)
    sys.stderr.write('verify: booting %d canaries\n' % len(images))
    verdicts = canary.verify_images(
        conn, images, canary.Target(), options, policy,
        canary.DEFAULT_CACHE, concurrency, _progress)
    undo = (console.FAILED, console.UNKNOWN) if args.verify_strict \
        else (console.FAILED,)
    set_outcomes = {o.image_id: o for o in changed}
    record = journal.Journal(journal_path)
    try:
        for v in verdicts:
            record.write('verify', **v.to_record())
        writes = [engine.Write(v.image_id, v.name,
                               set_outcomes[v.image_id].after,
                               set_outcomes[v.image_id].before)
                  for v in verdicts if v.verdict in undo]
        undone = image_kind.run(conn, writes, record) if writes else []
        record.write('verify-end', summary={
            k: sum(1 for v in verdicts if v.verdict == k)
            for k in console.VERDICTS},
            rolled_back=[o.image_id for o in undone
                         if o and o.outcome in (engine.CHANGED,
                                                engine.UNCHANGED)])
    finally:
        record.close()
    rolled = {o.image_id: o for o in undone if o}
    cells = {v.image_id: cell(v, rolled.get(v.image_id)) for v in verdicts}
    code = 0
    if any(v.verdict == console.UNKNOWN for v in verdicts):
        code = canary.exit_code(verdicts, args.verify_strict)
    if any(v.verdict == console.FAILED for v in verdicts) or any(
            o.outcome in engine.NOT_DONE for o in rolled.values()):
        code = 4
    return cells, code


def _read(conn, image_id):
    try:
        return glance.get_image(conn, image_id)
    except glance.GlanceError as e:
        return model.Image(id=image_id, error=str(e))


def cell(verdict, rollback):
    v = verdict.result.verdict
    text = v.verdict + (' (%s)' % v.marker if v.marker else '')
    if v.evidence:
        text += ': ' + v.evidence[-1]
    elif v.reason:
        text += ': ' + v.reason
    if rollback is not None:
        if rollback.outcome in (engine.CHANGED, engine.UNCHANGED):
            text += '; rolled back'
        else:
            text += '; ROLLBACK %s: %s' % (rollback.outcome, rollback.error)
    return text


def _progress(outcome):
    sys.stderr.write('canary %s %s: %s\n' % (outcome.image_id, outcome.name,
                                             outcome.verdict))
