"""devcloud: a real local OpenStack on 127.0.0.1 (see commands.USAGE).

base: state paths and helpers; install: the servers' venv; server: the
Service base class (one process, one port); services/: one module per
service, found by commands.services(); commands: the subcommands.
"""
