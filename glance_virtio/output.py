"""Command output to stdout."""


class Chunked:
    """Passes writes on to out 64 KiB at a time.

    cliff's formatters write a token at a time: json.dump of 2,000 audit
    rows took 0.4 s into a pipe, against 0.05 s as one write.
    """

    SIZE = 1 << 16

    def __init__(self, out):
        self.out, self.parts, self.size = out, [], 0

    def write(self, text):
        self.parts.append(text)
        self.size += len(text)
        if self.size >= self.SIZE:
            self.flush()

    def flush(self):
        self.out.write(''.join(self.parts))
        self.parts, self.size = [], 0
        self.out.flush()

    def __getattr__(self, name):
        return getattr(self.out, name)
