"""The process model: a supervisor that owns the listening sockets, and its workers.

``sockets``    binds the listening sockets once, before any worker starts.
``supervisor`` forks a generation of workers, restarts one that dies (with backoff),
               replaces the generation on SIGHUP, and stops them all on SIGTERM.
``worker``     one aiohttp server on the inherited sockets, with a bounded drain.
"""
