"""Benchmark: glance-virtio audit and set --dry-run on a realistic catalogue.

Against `openstack image list --long` and the paging floor (bench/floor.py:
the same GET pages, nothing else), in one run, the commands alternating.
The catalogue is bench/catalogue.py's (made by bench/common.py
ensure_catalogue when missing); --images picks the tier (2000, 10000 or
50000 images, each tier a tag).

Run: .venv/bin/python bench/audit.py [--images 2000] [--runs 3] [--no-start]
     [--skip-openstack] [--set-all]
"""

import argparse
import collections
import os
import statistics
import sys
import time

# The repository root replaces bench/ on the path: bench/inspect.py must
# not shadow the standard library's inspect module.
sys.path[0] = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
from bench import catalogue  # noqa: E402
from bench import common  # noqa: E402

CLOUD = ['--os-cloud', 'devcloud-admin']


def commands(args):
    tag = 'bench-catalogue-%d' % args.images
    gv = [os.path.join(common.BIN, 'glance-virtio')] + CLOUD
    select = ['--all'] if args.set_all else ['--tag', tag]
    cmds = {
        'floor': [sys.executable, os.path.join(common.ROOT, 'bench',
                                               'floor.py')] + (
            [] if args.set_all else ['--tag', tag]),
        'sequential': [sys.executable, os.path.join(
            common.ROOT, 'bench', 'floor.py'), '--sequential'] + (
            [] if args.set_all else ['--tag', tag]),
        'audit': gv + ['audit'] + ([] if args.set_all else ['--tag', tag])
        + ['-f', 'json'],
        'set': gv + ['set'] + select + ['--bus', 'scsi', '--dry-run',
                                        '-f', 'json'],
    }
    if not args.skip_openstack:
        cmds['openstack'] = [os.path.join(common.BIN, 'openstack')] + CLOUD \
            + ['image', 'list', '--long'] + (
                [] if args.set_all else ['--tag', tag]) + ['-f', 'json']
    return cmds


def shown(cmd):
    name = os.path.basename(cmd[0])
    if name.startswith('python'):
        return ' '.join(['python'] + [os.path.relpath(cmd[1], common.ROOT)]
                        + cmd[2:])
    return ' '.join([name] + cmd[1:])


def mix(count):
    """The catalogue section: what bench/catalogue.py makes, counted."""
    kinds = collections.Counter(catalogue.kind(n) for n in range(count))
    owners = {catalogue.image(n)[2] for n in range(count)}
    visibility = collections.Counter(catalogue.image(n)[1]
                                     for n in range(count))
    props = [len(catalogue.image(n)[3]) for n in range(count)]
    rows = sorted(kinds.items(), key=lambda kv: -kv[1])
    return """## The realistic catalogue (bench/catalogue.py)

Images as real clients and services write them; the audit benchmarks
above use them. Counts for the largest run so far (%d images):

%s

%d owners; visibility %s; %.1f properties per image on average (at most
%d), names up to 150 characters, descriptions up to 255. Snapshots name
one of the first 40 uploads as their base, or (one in five) one of 8
deleted images, as snapshots outliving their base do.

How they were made (bench/common.py ensure_catalogue): images numbered
below %d by one `POST /v2/images` each with the name, owner, visibility,
tags and the properties the generator gives (the keys and value shapes
openstacksdk's create_image, Nova's snapshot code and the SCS-0102 image
metadata standard write), then one `PUT .../file` of 1 KiB, so every
image is active with checksum, os_hash_value and size; the API makes about
5 a second here, so the rest are inserted into Glance's database as the
same rows (bench/dbfill.py), a sample of them read back through the API
and compared with the generator's.
""" % (count, common.md_table(('kind', 'images'), rows), len(owners),
       ', '.join('%s %d' % kv for kv in sorted(visibility.items())),
       statistics.mean(props), max(props), common.API_IMAGES)


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument('--images', type=int, default=2000,
                        choices=common.CATALOGUE_TIERS)
    parser.add_argument('--runs', type=int, default=3)
    parser.add_argument('--no-start', action='store_true',
                        help='Use the running cloud OS_CLIENT_CONFIG_FILE '
                             'names instead of starting tools/devcloud.sh')
    parser.add_argument('--skip-openstack', action='store_true',
                        help='Leave out openstack image list --long')
    parser.add_argument('--set-all', action='store_true',
                        help='Select with --all (every image of the cloud, '
                             'which must then hold only the catalogue)')
    args = parser.parse_args()
    env = common.cloud_env(start=not args.no_start)
    start = time.perf_counter()
    common.ensure_catalogue(common.connect(), args.images)
    made = time.perf_counter() - start
    cmds = commands(args)
    order = [k for k in ('floor', 'sequential', 'openstack', 'audit', 'set')
             if k in cmds]
    before = common.load()
    samples = {k: [] for k in order}
    for _ in range(args.runs):
        for key in order:
            samples[key].append(common.measured(cmds[key], env))
            print(key, samples[key][-1], flush=True)
    after = common.load()
    listed = int(os.popen(' '.join(cmds['floor'])).read())
    median = {k: [statistics.median(s[i] for s in samples[k])
                  for i in range(3)] for k in order}
    rows = [('`%s`' % shown(cmds[k]), '%.2f' % min(s[0] for s in samples[k]),
             '%.2f' % median[k][0], '%.2f' % median[k][1],
             '%.0f' % median[k][2]) for k in order]
    table = common.md_table(('command', 'best wall (s)', 'median wall (s)',
                             'median CPU (s)', 'peak RSS (MiB)'), rows)
    floor = median['floor'][0]
    ratios = ['`audit` / floor: **%.2fx** (target: at most 1.5x)'
              % (median['audit'][0] / floor),
              '`audit` / the sequential floor: **%.2fx**'
              % (median['audit'][0] / median['sequential'][0]),
              '`set --dry-run` / floor: **%.2fx** (target: at most 1.5x)'
              % (median['set'][0] / floor)]
    if 'openstack' in median:
        ratios.insert(0, '`audit` / `openstack image list --long`: '
                      '**%.2fx** (target: at most 0.5x)'
                      % (median['audit'][0] / median['openstack'][0]))
    ratios.append('peak RSS of `audit`: **%.0f MiB** (target at 10,000: at '
                  'most 150 MB)' % median['audit'][2])
    flags = ''.join(' ' + f for f, on in (
        ('--no-start', args.no_start), ('--skip-openstack',
                                        args.skip_openstack),
        ('--set-all', args.set_all)) if on)
    text = """## Audit of %(images)d realistic images (bench/audit.py)

Command: `.venv/bin/python bench/audit.py --images %(images)d --runs
%(runs)d%(flags)s`, on %(machine)s. The commands alternate, %(runs)d runs
each; medians compared. Load average (1, 5, 15 min) before: %(before)s,
after: %(after)s (other work shared the machine).

The catalogue: %(images)d images of bench/catalogue.py (the mix is
below), %(listed)d of them listed by default (community images are listed
only on request, by all three commands alike).%(made)s

%(table)s

%(ratios)s

The floor (bench/floor.py) sends the GET pages audit sends (limit 1000,
same filters, a walk from each end of the listing at once) and nothing
else; the sequential floor (`bench/floor.py --sequential`) sends one walk,
page after page, as a plain client does. Glance (two worker processes,
tools/devcloud.sh) answers the two walks in parallel; its time to answer
bounds every command. openstack image list pages one walk with Glance's
default page size.
""" % dict(images=args.images, runs=args.runs, flags=flags,
           machine=common.machine(), before=before, after=after,
           listed=listed, table=table,
           ratios='\n'.join('- ' + r for r in ratios),
           made=(' Checking the catalogue (and making what was missing) '
                 'took %.0f s before timing.' % made if made > 60 else ''))
    common.write_section('audit-%d' % args.images, text)
    common.write_section('catalogue', mix(args.images))
    print(text)
    return 0


if __name__ == '__main__':
    sys.exit(main())
