"""Command output reaches stdout in few large writes, unchanged."""

import io
import json

from glance_virtio import output


class Counting(io.StringIO):
    writes = 0

    def write(self, text):
        self.writes += 1
        return super().write(text)


def test_a_json_document_is_written_in_chunks_unchanged():
    rows = [{'ID': str(n), 'Readiness': {'virtio_scsi': 'ready'},
             'Findings': [{'rule': 'GV020', 'message': 'x' * 50}]}
            for n in range(2000)]
    direct, out = Counting(), Counting()
    json.dump(rows, direct, indent=2)
    chunked = output.Chunked(out)
    json.dump(rows, chunked, indent=2)
    chunked.flush()
    assert out.getvalue() == direct.getvalue()
    assert direct.writes > 20000
    assert out.writes <= len(out.getvalue()) // output.Chunked.SIZE + 2
