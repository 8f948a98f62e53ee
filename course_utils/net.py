"""Network plumbing: a free local port for a server the course starts (JupyterLab, the Hub mirror, ``MASTER_PORT``)."""

from __future__ import annotations

import socket


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port on ``host`` that nothing listens on now (the system picks it; it is free when asked).

    For a local server (JupyterLab, the Hub mirror) or a process group's ``MASTER_PORT``. Another
    process could take the port between this call and its use, so start the server soon after.

    Course plumbing: not taught.
    """
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]
