"""Step events as plain dicts, so a worker can publish them through Dask's event log
(msgpack: no pickled objects cross it) and the controller can rebuild them."""

from __future__ import annotations

from dataclasses import asdict

from fleet.events import Event, HostFinished, StepFinished, StepStarted
from fleet.results import HostStatus

Wire = dict[str, object]


def encode(event: Event) -> Wire:
    """Return ``event`` as a dict of strings, numbers, booleans and None.

    Raises:
        TypeError: not one of the events a host's steps emit.
    """
    if not isinstance(event, StepStarted | StepFinished | HostFinished):
        raise TypeError(f"{type(event).__name__} is not a host's event")
    data: Wire = asdict(event)
    if isinstance(event, HostFinished):
        data["status"] = event.status.value
    return {"kind": type(event).__name__, **data}


def decode(wire: Wire) -> Event:
    """Rebuild the event :func:`encode` made.

    Raises:
        ValueError: an unknown kind or a field that does not fit.
    """
    fields = {k: v for k, v in wire.items() if k != "kind"}
    try:
        match wire.get("kind"):
            case "StepStarted":
                return StepStarted(str(fields["host"]), str(fields["step"]))
            case "StepFinished":
                return StepFinished(
                    str(fields["host"]), str(fields["step"]), bool(fields["ok"]),
                    float(str(fields["duration"])), _text(fields.get("detail")),
                    _text(fields.get("error")))
            case "HostFinished":
                return HostFinished(str(fields["host"]), HostStatus(str(fields["status"])),
                                    float(str(fields["duration"])), _text(fields.get("error")))
    except (KeyError, TypeError) as exc:
        raise ValueError(f"a malformed event: {wire!r}") from exc
    raise ValueError(f"an unknown event kind: {wire.get('kind')!r}")


def _text(value: object) -> str | None:
    return None if value is None else str(value)
