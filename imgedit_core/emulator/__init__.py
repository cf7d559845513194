"""An emulator of CometAPI's ``POST /v1/images/edits``, for tests, demos and benchmarks.

It accepts what the route accepts and refuses what it refuses, with the route's statuses and
error envelopes; it answers with a visible, deterministic edit (it is an emulator, not a model);
and it injects faults on demand. One callable, three ways to use it:

- in-process: ``offline_http_client()`` or ``EmulatorTransport`` (sync and async);
- in respx: ``respx.post(url).mock(side_effect=Emulator())``;
- on loopback: ``with EmulatorServer() as server: ... server.base_url``, or ``imgedit emulator``.

See docs/emulator.md.
"""

from .app import EDITS_PATH, FILES_PREFIX, Emulator
from .faults import FAULT_HEADER, GRAMMAR, Fault, FaultPlan, FaultSpecError, parse_fault
from .records import RequestLog, RequestRecord
from .reply import Reply
from .rules import MODELS, lookup_model
from .server import EmulatorServer
from .transport import EmulatorTransport, offline_async_http_client, offline_http_client

__all__ = [
    "EDITS_PATH",
    "FAULT_HEADER",
    "FILES_PREFIX",
    "GRAMMAR",
    "MODELS",
    "Emulator",
    "EmulatorServer",
    "EmulatorTransport",
    "Fault",
    "FaultPlan",
    "FaultSpecError",
    "Reply",
    "RequestLog",
    "RequestRecord",
    "lookup_model",
    "offline_async_http_client",
    "offline_http_client",
    "parse_fault",
]
