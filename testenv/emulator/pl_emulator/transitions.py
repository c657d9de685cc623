"""Transitional states (creating, modifying, switching-over, ...) that end by themselves.

Instead of timers, a resource remembers when its transition ends and what to
do then, and settle_due() applies every ending that is due. It runs at the
start of each request of the service (see rds_global, dynamodb_replicas), so a whole response
sees one consistent state, no background thread is needed, and the duration
is the one in effect when the operation was issued.
"""

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

#: Guards transitions and the state of the services that use them (RDS, DynamoDB, EC2, Auto Scaling, ELBv2).
LOCK = threading.RLock()

_ATTRIBUTE = "_pl_transition"
_pending: list[object] = []


@dataclass
class Transition:
    status: str
    ends_at: float
    finish: Callable[[], None] | None
    details: dict | None


def begin(
    resource: object,
    status: str,
    seconds: float,
    finish: Callable[[], None] | None = None,
    details: dict | None = None,
) -> None:
    """Puts ``resource`` in ``status`` for ``seconds``, then runs ``finish``.

    A transition still running is superseded: its ending is applied at once.
    """
    with LOCK:
        _end(resource)
        if seconds <= 0:
            if finish:
                finish()
            return
        setattr(resource, _ATTRIBUTE, Transition(status, time.time() + seconds, finish, details))
        _pending.append(resource)


def settle_due() -> None:
    """Applies the ending of every transition whose time has come."""
    with LOCK:
        now = time.time()
        for resource in list(_pending):
            if active(resource).ends_at <= now:
                _end(resource)


def active(resource: object) -> Transition | None:
    return getattr(resource, _ATTRIBUTE, None)


def status(resource: object) -> str | None:
    transition = active(resource)
    return transition.status if transition else None


def _end(resource: object) -> None:
    transition = active(resource)
    if transition is None:
        return
    setattr(resource, _ATTRIBUTE, None)
    _pending.remove(resource)
    if transition.finish:
        transition.finish()
