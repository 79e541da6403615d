"""Print COUNT distinct TCP ports that are free on 127.0.0.1 now, one a line.

Used by the stack scripts when a default port is taken by something this checkout did not start.
Ports are drawn at random from 20000-32767, below Linux's ephemeral range (32768-60999) so that
they are not also handed out to outgoing connections, and at random so that two checkouts starting
at the same moment rarely draw the same one; a server that still loses the race to bind is
restarted by the scripts on newly drawn ports. Standard library only: it runs before the venv.
"""

import secrets
import socket
import sys

LOW, HIGH = 20000, 32767


def is_free(port: int) -> bool:
    """True when nothing listens on the port and it can be bound on 127.0.0.1."""
    with socket.socket() as probe:
        probe.settimeout(0.5)
        if probe.connect_ex(("127.0.0.1", port)) == 0:
            return False
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_ports(count: int) -> list[int]:
    """COUNT distinct free ports in random order, or SystemExit when too few are free."""
    candidates = list(range(LOW, HIGH + 1))
    secrets.SystemRandom().shuffle(candidates)
    found: list[int] = []
    for port in candidates:
        if is_free(port):
            found.append(port)
            if len(found) == count:
                return found
    raise SystemExit(f"fewer than {count} free ports in {LOW}-{HIGH} on 127.0.0.1")


if __name__ == "__main__":
    print("\n".join(str(port) for port in free_ports(int(sys.argv[1]))))
