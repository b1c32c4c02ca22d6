"""What every in-process request to the emulator costs, cut to what the request needs.

Upstream (moto 5), each request the functions of the local stack make in this process pays, on
top of its own work, for steps whose answer never changes between requests:
- the stubber matches the request's URL against every service's URL patterns (about 180
  regular expressions) and then against the service's own, to find the same handler again;
- each handler lists its class's methods (`inspect.getmembers`, hundreds of attributes) to check
  that the action exists;
- botocore signs the request (SigV4: a canonical request, two hashes, four HMACs), which the
  emulator never checks: it reads only the access key, and without one it uses its default
  account, the one the local stack deploys into.
Together that was about a third of the CPU of an empty `ReceiveMessage`.

The replacements remember the handler per URL and the method names per class, and leave
unsigned the requests that the stubber answers in this process (those for `*.amazonaws.com`);
S3 requests (the emulator checks who reads a private object), requests that go out over HTTP and
presigned links are signed as before. What the emulator answers is unchanged.

`install()` replaces them once per process; `serve_in_process` calls it.
"""

from __future__ import annotations

import functools
import re
from typing import Any
from urllib.parse import urlsplit

from botocore.signers import RequestSigner
from moto.core import responses
from moto.core.botocore_stubber import BotocoreStubber
from moto.core.request import normalize_request
from moto.moto_api import recorder
from werkzeug.exceptions import HTTPException

upstream_method_names = responses.method_names_from_class  # type: ignore[attr-defined]
upstream_process_request = BotocoreStubber.process_request
upstream_sign_handler = RequestSigner.handler
_IN_PROCESS = re.compile(r"https?://[^/]+\.amazonaws\.com(/|$)")


@functools.lru_cache(maxsize=256)
def method_names_once(clazz: object) -> list[str]:
    return upstream_method_names(clazz)


@functools.lru_cache(maxsize=1024)
def handler_for(url: str) -> Any:
    """The emulator's handler of requests to `url` (scheme, host and path), as the stubber finds
    it, or None for a URL it does not answer (or whose handler depends on more than the URL)."""
    import moto.backend_index as backend_index
    import moto.backends as backends
    from moto.core import DEFAULT_ACCOUNT_ID  # type: ignore[attr-defined]
    from moto.core.base_backend import BackendDict
    from moto.core.config import passthrough_service, passthrough_url, service_whitelisted

    if passthrough_url(url):
        return None
    for service, pattern in backend_index.backend_url_patterns:
        if pattern.match(url):
            if service.startswith("s3") or passthrough_service(service) or not service_whitelisted(service):
                return None  # S3 routes by bucket and key; the others the stubber answers itself
            backend_dict = backends.get_backend(service)  # type: ignore[call-overload]
            if isinstance(backend_dict, BackendDict):
                regions = backend_dict[DEFAULT_ACCOUNT_ID]
                backend = regions["us-east-1"] if "us-east-1" in regions else regions["aws"]
            else:
                backend = backend_dict["global"]
            for handler_url, handler in backend.urls.items():
                if re.compile(handler_url).match(url):
                    return handler
            return None
    return None


def process_request(self: BotocoreStubber, request: Any) -> Any:
    parts = urlsplit(request.url)
    handler = handler_for(f"{parts.scheme}://{parts.netloc}{parts.path}")
    if handler is None:
        return upstream_process_request(self, request)
    normalized = normalize_request(request)
    try:
        recorder._record_request(normalized)
        status, headers, body = handler(normalized, normalized.raw_url, normalized.headers)
    except HTTPException as error:
        return error.code, error.get_headers(), error.get_body()
    return status, headers, body


def sign_unless_in_process(
    self: RequestSigner, operation_name: Any = None, request: Any = None, **kwargs: Any
) -> Any:
    in_process = request is not None and _IN_PROCESS.match(request.url or "")
    if in_process and self.signing_name != "s3":  # S3 checks a signature for private objects
        return None
    return upstream_sign_handler(self, operation_name=operation_name, request=request, **kwargs)


def install() -> None:
    responses.method_names_from_class = method_names_once  # type: ignore[attr-defined]
    BotocoreStubber.process_request = process_request  # type: ignore[method-assign]
    RequestSigner.handler = sign_unless_in_process
