"""The SAM CLI, with two local-only adjustments for machines whose containers may use no bridge.

Run it with the SAM CLI's own interpreter, exactly like ``sam``::

    .venv-sam/bin/python lambda-image/sam_local.py local invoke UploadFunction \\
        -e events/post-images-raw.json --docker-network host --skip-pull-image

1. ``--docker-network host`` puts the function containers on the host's network. The SAM CLI
   accepts that option but (since 1.7x) still creates the container on Docker's default bridge
   and publishes the emulator's port there; on a daemon started with ``--bridge=none`` that
   cannot work, and a bridge means private-range addresses. Here the container gets the host's
   network instead, the runtime interface emulator listens on the loopback port the SAM CLI
   calls, and its Runtime API on a free loopback port of its own, so several containers
   (``--warm-containers``) can run at once.
2. ``SAM_CONTAINER_ENV``, if set, is a JSON object of variables added to every function
   container. ``--env-vars`` only overrides variables the template declares, and a deployed
   function has no use for ``AWS_ENDPOINT_URL``: this is where a local endpoint goes.

Nothing else changes: the code, the layers, the handler and the template's environment are
what ``sam build`` produced, run by the runtime image as Lambda runs them.
"""

from __future__ import annotations

import json
import os
import socket
import sys
import threading
from typing import Any

import docker.models.containers
from samcli.local.docker import container as sam_container
from samcli.local.docker.lambda_container import LambdaContainer

RIE = "/var/rapid/aws-lambda-rie"
RIE_PORT = sam_container.Container.RAPID_PORT_CONTAINER

_state = threading.local()


def _free_loopback_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _extra_environment() -> dict[str, str]:
    raw = os.environ.get("SAM_CONTAINER_ENV", "").strip()
    if not raw:
        return {}
    values = json.loads(raw)
    if not isinstance(values, dict):
        raise SystemExit("SAM_CONTAINER_ENV must be a JSON object of variable names to values")
    return {str(name): str(value) for name, value in values.items()}


def _host_network(kwargs: dict[str, Any]) -> dict[str, Any]:
    """Docker's create arguments for the same container on the host's network."""
    ports = kwargs.pop("ports", None) or {}
    kwargs["network_mode"] = "host"
    entrypoint = list(kwargs.get("entrypoint") or [])
    binding = ports.get(RIE_PORT) or ports.get(f"{RIE_PORT}/tcp")
    if entrypoint and entrypoint[0] == RIE and binding:
        interface, port = binding if isinstance(binding, tuple) else ("127.0.0.1", binding)
        interface = interface or "127.0.0.1"
        kwargs["entrypoint"] = [
            *entrypoint,
            "--runtime-interface-emulator-address",
            f"{interface}:{port}",
            "--runtime-api-address",
            f"127.0.0.1:{_free_loopback_port()}",
        ]
    # Debugger ports were published on the same numbers: on the host's network they already are.
    return kwargs


_docker_create = docker.models.containers.ContainerCollection.create


def _create_container(self: Any, image: str, command: Any = None, **kwargs: Any) -> Any:
    if getattr(_state, "lambda_container", False):
        extra = _extra_environment()
        if extra:
            environment = kwargs.get("environment") or {}
            if isinstance(environment, list):
                environment = dict(item.split("=", 1) for item in environment)
            kwargs["environment"] = {**environment, **extra}
        if getattr(_state, "host_network", False):
            kwargs = _host_network(kwargs)
    return _docker_create(self, image, command, **kwargs)


_sam_create = sam_container.Container.create


def _create_lambda_container(self: Any, context: Any) -> Any:
    _state.lambda_container = isinstance(self, LambdaContainer)
    _state.host_network = self.network_id == "host"
    try:
        return _sam_create(self, context)
    finally:
        _state.lambda_container = False
        _state.host_network = False


docker.models.containers.ContainerCollection.create = _create_container
sam_container.Container.create = _create_lambda_container


def main() -> int:
    from samcli.cli.main import cli

    _extra_environment()  # a malformed value fails before any container starts
    sys.argv[0] = "sam"
    return cli()


if __name__ == "__main__":
    sys.exit(main())
