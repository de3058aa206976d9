"""virtio-rules: list the rules the audit and the planner apply."""

import logging

from glance_virtio.cli import common
from glance_virtio.knowledge import rules

LOG = logging.getLogger(__name__)


class ListRules(common.Lister):
    """List the rules glance-virtio checks, with the site policy applied"""

    command = 'rules'

    def take_action(self, parsed_args):
        policy = common.load_policy(self.app)
        columns = ('ID', 'Severity', 'Enabled', 'Summary', 'Source')
        data = [(r.id, rules.severity_for(r, policy),
                 r.id not in policy.disabled_rules, r.summary, r.source)
                for r in rules.RULES]
        return columns, data
