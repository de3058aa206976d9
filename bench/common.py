"""Shared bits of the benchmarks: the local cloud, timing, the report."""

import concurrent.futures
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import time

import openstack

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.dirname(sys.executable)
REPORT = os.path.join(ROOT, 'doc', 'source', 'benchmarks.md')
sys.path.insert(0, os.path.join(ROOT, 'tools'))


def cloud_env(start=True):
    """Start the local cloud; the environment the CLIs need.

    With start False, the running cloud OS_CLIENT_CONFIG_FILE names.
    """
    if start:
        subprocess.run(['bash', os.path.join(ROOT, 'tools', 'devcloud.sh'),
                        'start'], check=True, stdout=subprocess.DEVNULL)
        state = os.environ.get('DEVCLOUD_DIR',
                               os.path.join(ROOT, '.devcloud'))
        os.environ['OS_CLIENT_CONFIG_FILE'] = os.path.join(state,
                                                           'clouds.yaml')
    elif not os.environ.get('OS_CLIENT_CONFIG_FILE'):
        sys.exit('--no-start needs OS_CLIENT_CONFIG_FILE')
    env = {k: v for k, v in os.environ.items() if not k.startswith('OS_')
           or k == 'OS_CLIENT_CONFIG_FILE'}
    env['PATH'] = BIN + os.pathsep + env.get('PATH', '')
    return env


def server_cpu(service='glance'):
    """CPU seconds the local cloud's server process has used so far."""
    state = os.environ.get('DEVCLOUD_DIR', os.path.join(ROOT, '.devcloud'))
    with open(os.path.join(state, 'run', service + '.pid')) as f:
        pid = int(f.read())
    with open('/proc/%d/stat' % pid) as f:
        fields = f.read().rsplit(')', 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf('SC_CLK_TCK')


def connect(cloud='devcloud-admin'):
    return openstack.connect(cloud=cloud)


def ensure_images(conn, tag, count, props_for, workers=8):
    """At least count images tagged tag exist; ids of count of them."""
    import load_samples
    have = [i.id for i in conn.image.images(tag=tag)]
    missing = range(len(have), count)

    def create(n):
        return load_samples.create(conn, '%s-%05d' % (tag, n), [tag],
                                   props_for(n), data=None)['id']
    with concurrent.futures.ThreadPoolExecutor(workers) as pool:
        have += list(pool.map(create, missing))
    return have[:count]


CATALOGUE_TIERS = (2000, 10000, 50000)


def catalogue_tags(n):
    """Image n carries the tag of every tier it belongs to."""
    return ['bench-catalogue-%d' % t for t in CATALOGUE_TIERS if n < t]


# Images numbered below this are made through the API, the rest (the large
# tiers) by bench/dbfill.py.
API_IMAGES = 2000
NUMBER = re.compile(r'-(\d{5})(?:-hardened|$)')


def ensure_catalogue(conn, count, workers=6, api_images=API_IMAGES):
    """The first count images of bench/catalogue.py exist; their ids.

    Those numbered below api_images are made by one POST /v2/images each,
    with the catalogue's name, visibility, owner, tags and properties (what
    the SDK, Nova or the operator would have written), then one PUT of 1 KiB
    of data so that each is active with checksum, os_hash_value and size,
    as an uploaded image is. The others go straight into Glance's database
    (bench/dbfill.py) as the same rows; a sample is read back through the
    API and compared with the catalogue.
    """
    from bench import catalogue
    from bench import dbfill
    have = {}
    # Images of the smallest tier that holds count images carry its tag.
    for image in conn.image.images(tag=catalogue_tags(count - 1)[0],
                                   visibility='all', limit=1000):
        if image.status != 'active':  # left by an interrupted run
            conn.image.delete_image(image)
        else:
            number = int(NUMBER.search(image.name).group(1))
            if number < count:
                have[number] = image.id
    bases = []

    def create(n):
        name, visibility, owner, props = catalogue.image(n, bases)
        body = dict(props, name=name, disk_format='raw',
                    container_format='bare', tags=catalogue_tags(n),
                    visibility=visibility, owner=owner)
        image = conn.image.post('/images', json=body, raise_exc=True).json()
        conn.image.put('/images/%s/file' % image['id'],
                       data=catalogue.data(n), raise_exc=True,
                       headers={'Content-Type': 'application/octet-stream'})
        have[n] = image['id']
    missing = [n for n in range(count) if n not in have]
    with concurrent.futures.ThreadPoolExecutor(workers) as pool:
        # The first 40 are uploads the snapshots name as their base.
        list(pool.map(create, [n for n in missing if n < 40]))
        bases += [have[n] for n in range(min(40, count))]
        list(pool.map(create, [n for n in missing if 40 <= n < api_images]))
    late = [n for n in missing if n >= api_images]
    if late:
        state = os.environ.get('DEVCLOUD_DIR',
                               os.path.join(ROOT, '.devcloud'))
        have.update(dbfill.fill(state, late, bases, catalogue_tags))
        for n in late[::max(1, len(late) // 20)]:
            got = conn.image.get('/images/%s' % have[n]).json()
            name, visibility, owner, props = catalogue.image(n, bases)
            shown = {k: got.get(k) for k in props}
            if shown != props or got['name'] != name or \
                    got['status'] != 'active':
                sys.exit('image %d reads back differently: %s' % (n, got))
    return [have[n] for n in range(count)]


def timed(cmd, env):
    """Wall seconds of one run of cmd; fails loudly if cmd fails."""
    start = time.perf_counter()
    result = subprocess.run(cmd, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)
    seconds = time.perf_counter() - start
    if result.returncode not in (0, 3, 5):
        sys.exit('%s failed (%d): %s'
                 % (cmd, result.returncode, result.stderr[-2000:]))
    return seconds


def measured(cmd, env):
    """(wall s, CPU s, peak RSS MiB) of one run of cmd; fails loudly."""
    with tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL,
                                stderr=err)
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - start
        proc.returncode = code = os.waitstatus_to_exitcode(status)
        if code not in (0, 3, 5):
            err.seek(0)
            sys.exit('%s failed (%d): %s' % (
                cmd, code, err.read().decode(errors='replace')[-2000:]))
    return seconds, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024


def load():
    return ', '.join('%.1f' % x for x in os.getloadavg())


def best_and_median(samples):
    return min(samples), statistics.median(samples)


def compare(ours, theirs, env, runs):
    """(Markdown table, ratio of medians ours/theirs), runs alternating."""
    times = {'ours': [], 'theirs': []}
    for _ in range(runs):
        times['theirs'].append(timed(theirs, env))
        times['ours'].append(timed(ours, env))
    rows = []
    for key, cmd in (('ours', ours), ('theirs', theirs)):
        best, median = best_and_median(times[key])
        rows.append(('`%s`' % ' '.join([os.path.basename(cmd[0])] + cmd[1:]),
                     '%.2f' % best, '%.2f' % median))
    ratio = (best_and_median(times['ours'])[1]
             / best_and_median(times['theirs'])[1])
    return md_table(('command', 'best (s)', 'median (s)'), rows), ratio


def machine():
    return '%s, %d cores, Python %s' % (platform.platform(), os.cpu_count(),
                                        platform.python_version())


def write_section(name, text):
    """Replace this benchmark's section of doc/source/benchmarks.md."""
    begin, end = '<!-- bench:%s -->' % name, '<!-- /bench:%s -->' % name
    try:
        with open(REPORT) as f:
            doc = f.read()
    except FileNotFoundError:
        doc = ('# Benchmarks\n\nEach section is written by the script it '
               'names, run against the local cloud (tools/devcloud.sh) on '
               'the machine it names. Nothing here is asserted by a test.\n')
    block = '%s\n%s\n%s' % (begin, text.strip(), end)
    if begin in doc:
        doc = doc[:doc.index(begin)] + block + doc[doc.index(end) + len(end):]
    else:
        doc = doc.rstrip() + '\n\n' + block + '\n'
    with open(REPORT, 'w') as f:
        f.write(doc)


def md_table(headers, rows):
    """A Markdown table."""
    lines = ['| %s |' % ' | '.join(headers),
             '| %s |' % ' | '.join('---' for _ in headers)]
    lines += ['| %s |' % ' | '.join(str(c) for c in row) for row in rows]
    return '\n'.join(lines)
