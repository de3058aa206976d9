"""Reading a marker-paged listing from both ends: order, cover, work."""

import threading

import pytest

from glance_virtio.services import paging


class Listing:
    """A listing paged as Glance pages: by marker, `next` on a full page.

    Counts the requests and the items it returns.
    """

    def __init__(self, count):
        # Newest first, as Glance lists; ids that sort in no useful order.
        self.items = [{'id': '%04x' % (n * 7919 % 65536)}
                      for n in range(count)]
        self.requests = 0
        self.returned = 0
        self.lock = threading.Lock()

    def fetch(self, oldest, marker, limit):
        order = self.items[::-1] if oldest else self.items
        start = 0
        if marker is not None:
            start = [i['id'] for i in order].index(marker) + 1
        page = order[start:start + limit]
        with self.lock:
            self.requests += 1
            self.returned += len(page)
        return page, len(page) == limit


@pytest.mark.parametrize('count', [0, 1, 2, 9, 10, 11, 19, 20, 21, 39, 40,
                                   41, 60, 101, 1000])
def test_every_item_once_in_the_listings_order(count):
    listing = Listing(count)
    assert list(paging.both_ends(listing.fetch, 10)) == listing.items


@pytest.mark.parametrize('count', [0, 5, 10, 11, 20, 25, 40, 41, 60, 1000])
def test_less_than_two_pages_are_read_twice(count):
    listing = Listing(count)
    list(paging.both_ends(listing.fetch, 10))
    # The two pages of the round in which the walks meet hold what was
    # left unread (at least one item) and what the other walk has read;
    # each probe past a walk's marker reads one item.
    probes = max(listing.requests - 2, 0) // 3
    assert listing.returned <= count + 2 * 10 - 1 + probes


def test_two_walks_halve_the_rounds_of_a_sequential_read():
    listing = Listing(1000)
    list(paging.both_ends(listing.fetch, 10))
    # 50 rounds of two pages, a one-item probe after each but the last
    # (the sequential read takes 101 requests: 100 pages and an empty one).
    assert listing.requests == 50 * 2 + 49 + 1


def test_walks_that_only_touch_stop_after_a_one_item_probe():
    listing = Listing(20)
    list(paging.both_ends(listing.fetch, 10))
    assert listing.requests == 3
    assert listing.returned == 21


def test_the_first_page_holds_everything():
    listing = Listing(7)
    assert list(paging.both_ends(listing.fetch, 10)) == listing.items
    assert listing.requests == 2
