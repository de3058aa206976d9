"""Fuzz every target for a bounded time; exit 1 if any target crashed.

Usage: python tests/fuzz/run.py [--seconds N] [--target NAME ...]
                                [--work DIR] [--timeout S] [--rss-limit-mb M]

Each target runs in its own process (tests/fuzz/fuzz.py, niced) over a
copy of its seed corpus and its regression inputs; new inputs stay in the
work directory, crash inputs are written to WORK/crashes/<target>/.
"""

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(os.path.dirname(HERE)))

from tests.fuzz import targets  # noqa: E402

# Longest input per target: enough for a 5,000-digit version or a long
# grub.cfg line, small enough to keep mutations fast.
MAX_LEN = {'mbr': 65536, 'hive': 32768, 'initramfs': 16384}
DEFAULT_MAX_LEN = 16384


def corpus_dirs(name):
    """The committed seed and regression directories of target ``name``."""
    dirs = []
    for kind in ('corpus', 'regressions'):
        path = os.path.join(HERE, kind, name)
        if os.path.isdir(path):
            dirs.append(path)
    return dirs


def fuzz_one(name, seconds, work, timeout, rss_limit_mb):
    crashes = os.path.join(work, 'crashes', name) + '/'
    corpus = os.path.join(work, 'corpus', name)
    os.makedirs(crashes, exist_ok=True)
    os.makedirs(corpus, exist_ok=True)
    earlier = set(os.listdir(crashes))
    command = ['nice', '-n', '19', sys.executable,
               os.path.join(HERE, 'fuzz.py'), name,
               '-max_total_time=%d' % seconds, '-timeout=%d' % timeout,
               '-rss_limit_mb=%d' % rss_limit_mb,
               '-max_len=%d' % MAX_LEN.get(name, DEFAULT_MAX_LEN),
               '-print_final_stats=1', '-artifact_prefix=' + crashes,
               corpus] + corpus_dirs(name)
    log_path = os.path.join(work, '%s.log' % name)
    with open(log_path, 'wb') as log:
        code = subprocess.call(command, stdout=log, stderr=subprocess.STDOUT)
    with open(log_path, errors='replace') as log:
        text = log.read()
    runs = re.search(r'stat::number_of_executed_units: (\d+)', text)
    found = sorted(set(os.listdir(crashes)) - earlier)
    return {'target': name, 'code': code, 'log': log_path,
            'executions': int(runs.group(1)) if runs else 0,
            'crashes': [os.path.join(crashes, f) for f in found]}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--seconds', type=int, default=30,
                        help='fuzzing time per target')
    parser.add_argument('--target', action='append',
                        choices=sorted(targets.TARGETS),
                        help='target to run (repeatable; default all)')
    parser.add_argument('--work', help='directory for the grown corpus, '
                        'logs and crash inputs (default: a new temporary '
                        'directory, kept)')
    parser.add_argument('--timeout', type=int, default=10,
                        help='seconds one input may take before it is a '
                        'crash (hang)')
    parser.add_argument('--rss-limit-mb', type=int, default=1024,
                        help='memory one fuzzing process may use')
    args = parser.parse_args(argv)
    work = args.work or tempfile.mkdtemp(prefix='glance-virtio-fuzz-')
    names = args.target or sorted(targets.TARGETS)
    failed = False
    print('%-16s %12s %8s  %s' % ('target', 'executions', 'crashes', 'log'))
    for name in names:
        outcome = fuzz_one(name, args.seconds, work, args.timeout,
                           args.rss_limit_mb)
        print('%-16s %12d %8d  %s' % (name, outcome['executions'],
                                      len(outcome['crashes']),
                                      outcome['log']), flush=True)
        for path in outcome['crashes']:
            print('    crash input: %s' % path)
        if outcome['crashes'] or outcome['code'] != 0:
            failed = True
    if failed:
        print('a target crashed: copy each crash input into '
              'tests/fuzz/regressions/<target>/ and fix the parser')
    else:
        shutil.rmtree(os.path.join(work, 'crashes'), ignore_errors=True)
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main())
