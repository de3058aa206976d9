"""Read a marker-paged listing from both ends at once, in its own order.

An API that pages by marker (Glance's images) can only be read one page
after another from one end.  A cloud runs its API in several worker
processes (Glance's default: one per CPU), so one walk from the newest
item and one from the oldest, run at the same time, read the listing in
about half the time, and meet in the middle.
"""

import concurrent.futures


def both_ends(fetch, page_size, key=lambda item: item['id']):
    """Yield every item in the listing's own order (newest first).

    fetch(oldest, marker, limit) returns (items, more): the page after
    marker (None: the first page) of the listing in its own order, or,
    with oldest True, in the reverse order; more is False when the
    listing says there is no next page.  The walks meet when one of them
    ends, or when they have read an item in common; when their pages only
    touch, a one-item read past the oldest walk's marker says so.  What
    is read twice is less than two pages: the pages of the round in
    which they meet hold what was left (an item at least) and what the
    other walk has read already.
    """
    newest_ids, oldest_ids, oldest = set(), set(), []
    markers = {False: None, True: None}
    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        while True:
            jobs = [pool.submit(fetch, side, markers[side], page_size)
                    for side in (False, True)]
            (top, top_more), (bottom, bottom_more) = [j.result()
                                                      for j in jobs]
            met = not (top_more and bottom_more and top and bottom)
            for item in top:
                met = met or key(item) in oldest_ids
                newest_ids.add(key(item))
                yield item
            for item in bottom:
                met = met or key(item) in newest_ids
                oldest_ids.add(key(item))
            oldest.extend(bottom)
            if not met:
                markers = {False: key(top[-1]), True: key(bottom[-1])}
                after, _ = fetch(True, markers[True], 1)
                met = not after or key(after[0]) in newest_ids
            if met:
                break
    for item in reversed(oldest):
        if key(item) not in newest_ids:
            yield item
