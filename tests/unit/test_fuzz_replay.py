"""Replay every fuzz seed and crash regression input through its target.

A target may return or raise InspectError; anything else fails the test.
"""

import os
import resource
import signal

import pytest

from tests.fuzz import targets

FUZZ_DIR = os.path.join(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))), 'fuzz')
# A hang is a crash too; far above what any input here takes.
INPUT_SECONDS = 20
# Address space one input may add, as tests/fuzz/fuzz.py bounds it: an
# allocation past it is a MemoryError (a crash).
INPUT_MEMORY = 1 << 30


def _inputs(kind):
    found = []
    base = os.path.join(FUZZ_DIR, kind)
    for name in sorted(os.listdir(base)):
        for entry in sorted(os.listdir(os.path.join(base, name))):
            found.append(pytest.param(name, os.path.join(base, name, entry),
                                      id='%s/%s' % (name, entry)))
    return found


class Hang(Exception):
    pass


def _replay(name, path):
    with open(path, 'rb') as handle:
        data = handle.read()

    def alarm(_signum, _frame):
        raise Hang('%s took over %d s on %s' % (name, INPUT_SECONDS, path))
    previous = signal.signal(signal.SIGALRM, alarm)
    limits = resource.getrlimit(resource.RLIMIT_AS)
    with open('/proc/self/statm') as statm:
        in_use = int(statm.read().split()[0]) * resource.getpagesize()
    cap = in_use + INPUT_MEMORY
    if limits[1] != resource.RLIM_INFINITY:
        cap = min(cap, limits[1])
    resource.setrlimit(resource.RLIMIT_AS, (cap, limits[1]))
    signal.alarm(INPUT_SECONDS)
    try:
        targets.run(name, data)
    finally:
        signal.alarm(0)
        resource.setrlimit(resource.RLIMIT_AS, limits)
        signal.signal(signal.SIGALRM, previous)


def test_every_target_has_seeds():
    for name in targets.TARGETS:
        seeds = os.listdir(os.path.join(FUZZ_DIR, 'corpus', name))
        assert seeds, name


@pytest.mark.parametrize('name,path', _inputs('corpus'))
def test_seed(name, path):
    _replay(name, path)


@pytest.mark.parametrize('name,path', _inputs('regressions'))
def test_regression(name, path):
    assert name in targets.TARGETS
    _replay(name, path)
