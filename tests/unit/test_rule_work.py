"""The rules' work per catalogue: counted in calls, and the shortcuts that
save it give the very findings a plain evaluation of every rule gives."""

import itertools
import json
import os

from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st
import pytest

from bench import catalogue
from glance_virtio import audit
from glance_virtio.knowledge import detect
from glance_virtio import model
from glance_virtio import plan
from glance_virtio.knowledge import rules
from tests.unit import test_rules

SAMPLES = os.path.join(os.path.dirname(__file__), '..', '..', 'tools',
                       'sample-images.json')
UNKNOWN_KEYS = ['custom_key_%02d_of_the_operator' % i for i in range(18)] + [
    'owner_specified.openstack.md5', 'owner_specified.openstack.sha256']
SHAPES = [
    {'os_type': 'linux', 'os_distro': 'ubuntu', 'os_version': '22.04',
     'hw_disk_bus': 'virtio'},
    {'os_type': 'windows', 'hw_disk_bus': 'sata'},
    {'os_distro': 'centos', 'os_version': '6.10', 'hw_disk_bus': 'scsi'},
    {'hw_disk_bus': 'ide', 'hw_machine_type': 'q35'},
    {'os_distro': 'rocky', 'os_version': '9', 'hw_dsik_bus': 'virtio'},
]


@pytest.fixture(autouse=True)
def fresh_memo():
    rules.clear_memo()
    yield
    rules.clear_memo()


def shaped(count):
    """count images in len(SHAPES) shapes, every value of their own."""
    images = []
    for n in range(count):
        props = dict(SHAPES[n % len(SHAPES)])
        props.update({k: '%s-%d' % (k, n) for k in UNKNOWN_KEYS})
        props.update({'instance_uuid': 'uuid-%d' % n, 'user_id': 'u%d' % n,
                      'image_type': 'snapshot', 'base_image_ref': 'base'})
        images.append(model.Image('img-%d' % n, 'image %d' % n,
                                  properties=props))
    return images


def counting(monkeypatch, module, name):
    calls = []
    real = getattr(module, name)

    def counted(*args, **kwargs):
        calls.append(args)
        return real(*args, **kwargs)
    monkeypatch.setattr(module, name, counted)
    return calls


def test_shared_unknown_keys_are_judged_once(monkeypatch):
    distances = counting(monkeypatch, rules, '_distance')
    audit.audit(shaped(1000), model.Policy())
    names = set(UNKNOWN_KEYS) | {'hw_dsik_bus'}
    assert rules.misspelling_of.cache_info().misses <= len(names)
    # The length filter: a name is compared only with known names at most
    # two characters longer or shorter.
    bound = sum(1 for key, known in itertools.product(
        names, rules.TYPO_TARGETS) if abs(len(key) - len(known)) <= 2)
    assert len(distances) <= bound


def test_rule_work_does_not_grow_with_images(monkeypatch):
    judged = counting(monkeypatch, rules, '_judge')
    planned = counting(monkeypatch, plan, 'plan_one')
    audit.audit(shaped(100), model.Policy())
    first = len(judged), len(planned)
    rules.clear_memo()
    del judged[:], planned[:]
    rows = audit.audit(shaped(1000), model.Policy())
    assert (len(judged), len(planned)) == first
    # One evaluation per shape and per plan of a candidate bus.
    assert len(judged) <= len(SHAPES) * 4
    assert len(rows) == 1000
    assert sum('GV020' in {f['rule'] for f in r['findings']}
               for r in rows) == 200


def reference(facts, ctx):
    """Every rule run on the facts, as evaluate did before memoising."""
    if facts.image.error:
        return [model.Finding('GV000', model.ERROR, facts.image.error)]
    found = []
    for rule_ in rules.RULES:
        if rule_.id in ctx.policy.disabled_rules:
            continue
        severity = rules.severity_for(rule_, ctx.policy)
        found += [model.Finding(rule_.id, severity, m)
                  for m in rule_.check(facts, ctx)]
    found.sort(key=lambda f: -model.severity_rank(f.severity))
    return found


def corpus():
    """Images from the realistic catalogue, the samples and the rule tests."""
    images = catalogue.images(300)
    images = catalogue.images(300, [i.id for i in images[:40]])
    with open(SAMPLES) as f:
        images += [model.Image('sample-%d' % n, s['name'],
                               properties=s['properties'],
                               disk_format=s.get('disk_format', 'raw'))
                   for n, s in enumerate(json.load(f))]
    images += [test_rules.image(props, name)
               for _, props, name, _, _ in test_rules.BAD]
    return images


POLICIES = [model.Policy(),
            model.Policy(machine_types={'x86_64': 'q35'},
                         preferred_bus='virtio'),
            model.Policy(severity_overrides={'GV020': 'error',
                                             'GV023': 'error'},
                         disabled_rules=('GV004',))]


@pytest.mark.parametrize('policy', POLICIES)
def test_memoised_findings_equal_a_plain_evaluation(policy):
    images = corpus()
    ctx = rules.Context(policy=policy, catalogue={i.id: i for i in images})
    for _ in range(2):  # cold, then from the memo
        for image in images:
            facts = detect.facts(image)
            assert rules.evaluate(facts, ctx) == reference(facts, ctx)
            for bus in ('virtio', 'scsi', 'sata'):
                after = plan.apply_to(image, *plan.desired(
                    image, plan.Target(bus), policy))
                moved = rules.Context(policy=policy, catalogue=ctx.catalogue,
                                      before=facts)
                after_facts = detect.facts(after)
                assert rules.evaluate(after_facts, moved) == reference(
                    after_facts, moved)


@pytest.mark.parametrize('policy', POLICIES)
def test_memoised_recommendation_equals_a_fresh_one(policy):
    images = corpus()
    by_id = {i.id: i for i in images}
    for image in images * 2:
        facts = detect.facts(image)
        assert audit.recommend(facts, policy, by_id) == audit._recommend(
            facts, policy, by_id)


class Recording(dict):
    """Properties that note every key read."""

    def __init__(self, data, seen):
        super().__init__(data)
        self.seen = seen

    def get(self, key, default=None):
        self.seen.add(key)
        return super().get(key, default)

    def __getitem__(self, key):
        self.seen.add(key)
        return super().__getitem__(key)

    def __contains__(self, key):
        self.seen.add(key)
        return super().__contains__(key)


def recorded_facts(image, seen):
    facts = detect.facts(image)
    raw = Recording(image.properties, seen)
    return model.Facts(model.Image(image.id, image.name,
                                   disk_format=image.disk_format,
                                   properties=raw),
                       facts.os, facts.readiness, None,
                       Recording(facts.props, seen))


def keys_read(image, policy=model.Policy(), catalogue=None):
    """The property keys the rules verdict_key covers and plans read."""
    seen = set()
    before = recorded_facts(image, seen)
    catalogue = catalogue or {}
    for bus in ('virtio', 'scsi', 'sata', 'ide'):
        to_set, remove = plan.desired(before.image, plan.Target(bus), policy,
                                      before.os)
        after = recorded_facts(plan.apply_to(image, to_set, remove), seen)
        for facts, ctx in ((before, rules.Context(policy, catalogue)),
                           (after, rules.Context(policy, catalogue,
                                                 before))):
            for rule_ in rules.RULES:
                if rule_.id not in rules.PER_IMAGE_RULES:
                    list(rule_.check(facts, ctx))
    return seen


def covered(key):
    return key in rules.KNOWN_KEYS and key not in rules.PER_IMAGE_KEYS


def test_rules_read_only_keys_the_verdict_key_holds():
    for image in corpus():
        for policy in POLICIES:
            assert {k for k in keys_read(image, policy)
                    if not covered(k)} == set(), image.properties


VALUES = sorted({v for values in rules.ENUMS.values() for v in values} | {
    'q35', 'pc', 'virt', 'pseries', 'aarch64', 'ppc64le', 's390x', 'true',
    'ide', 'lsiLogic', '6.10', '22.04', 'windows', 'ubuntu', 'centos',
    'viostor,vioscsi,netkvm', 'vioscsi', 'snapshot', 'cdrom'})
PROPS = st.dictionaries(
    st.sampled_from(sorted(rules.KNOWN_KEYS | {
        'custom_key', 'hw_dsik_bus', 'img_other', 'os_glance_x'})),
    st.sampled_from(VALUES), max_size=12)


@settings(max_examples=300, deadline=None)
@given(props=PROPS, disk_format=st.sampled_from(['raw', 'iso']),
       name=st.sampled_from(['', 'Windows Server 2019', 'CentOS-6.10']))
def test_random_properties_read_only_covered_keys(props, disk_format, name):
    image = model.Image('img', name, disk_format=disk_format,
                        properties=props)
    for policy in POLICIES:
        assert {k for k in keys_read(image, policy) if not covered(k)} == \
            set()


def test_values_that_are_not_strings_are_judged_unmemoised():
    image = model.Image('img', properties={'hw_cpu_cores': ['2'],
                                           'os_type': 'linux'})
    facts = detect.facts(image)
    assert rules.verdict_key(facts, rules.Context()) is None
    assert rules.evaluate(facts) == reference(facts, rules.Context())
