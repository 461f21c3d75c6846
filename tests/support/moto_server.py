"""moto_server with every DynamoDB request serialized (SQS and its long polls stay concurrent) and its backend lookup cached.

moto's TransactWriteItems deep-copies each table it touches and, when the transaction is
cancelled, puts that copy back, erasing whatever other request threads wrote meanwhile; its
UpdateItem is an unlocked read-modify-write. Real DynamoDB isolates both per item, so under the
threaded server concurrent units of one run lost each other's records and counts (a run then
never reached its total). One lock around the DynamoDB handler restores DynamoDB's isolation.
"""

import sys
import threading

from moto.dynamodb.responses import DynamoHandler
from moto.moto_server.werkzeug_app import DomainDispatcherApplication
from moto.server import main

# DynamoDB's consumed capacity as documented, not moto's fixed figures (ADR 0038).
sys.path.insert(0, __import__("os").path.dirname(__file__))
import ddb_capacity  # noqa: E402

ddb_capacity.install()

_lock = threading.RLock()
_call_action = DynamoHandler.call_action


def _serialized(self):
    with _lock:
        return _call_action(self)


DynamoHandler.call_action = _serialized

# moto finds each request's backend by listing its package directory and trying some hundred URL
# patterns, under one global lock: about a third of its time in the test suite. A host always
# maps to the same backend, so the answer is kept.
_backend_for_host = DomainDispatcherApplication.get_backend_for_host
_backends: dict = {}


def _cached_backend(self, host):
    if host not in _backends:
        _backends[host] = _backend_for_host(self, host)
    return _backends[host]


DomainDispatcherApplication.get_backend_for_host = _cached_backend

if __name__ == "__main__":
    sys.exit(main())
