"""A one-line progress bar on stderr, only when stderr is a terminal."""

import logging
import sys

LOG = logging.getLogger(__name__)


class Progress:

    def __init__(self, total, stream=None):
        self.total = total
        self.stream = stream or sys.stderr
        self.enabled = self.stream.isatty() and total > 0
        self.count = 0
        self.counts = {}

    def update(self, outcome):
        self.count += 1
        self.counts[outcome.outcome] = self.counts.get(outcome.outcome, 0) + 1
        if self.enabled:
            width = 30
            filled = width * self.count // self.total
            detail = ' '.join('%s=%d' % kv for kv in sorted(
                self.counts.items()))
            self.stream.write('\r[%s%s] %d/%d %s' % (
                '#' * filled, '.' * (width - filled), self.count, self.total,
                detail))
            self.stream.flush()

    def done(self):
        if self.enabled:
            self.stream.write('\n')
