"""Run one fuzz target under atheris (libFuzzer): fuzz.py TARGET [ARGS].

ARGS are libFuzzer's (corpus directories, -max_total_time=, -timeout=,
-rss_limit_mb=, ...). tests/fuzz/run.py runs every target this way.
"""

import os
import resource
import sys

import atheris

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))))

with atheris.instrument_imports(include=['glance_virtio', 'tests.fuzz']):
    from tests.fuzz import targets

# Address space cap: a parser that allocates without bound gets a
# MemoryError (a crash), before libFuzzer's RSS limit kills the process.
AS_LIMIT = int(os.environ.get('FUZZ_AS_LIMIT_MB', '2048')) << 20


def main():
    name = sys.argv[1]
    if name not in targets.TARGETS:
        sys.exit('unknown target %s; targets: %s'
                 % (name, ', '.join(sorted(targets.TARGETS))))
    resource.setrlimit(resource.RLIMIT_AS, (AS_LIMIT, AS_LIMIT))

    def one_input(data):
        targets.run(name, data)

    atheris.Setup([sys.argv[0]] + sys.argv[2:], one_input)
    atheris.Fuzz()


if __name__ == '__main__':
    main()
