"""Process environment for the functions: AWS settings and the template's variables.

All functions run in this one process, so they share one ``os.environ``: the variables of
every function are merged, and two functions giving one name different values is an error.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping

from .intrinsics import NO_VALUE, Resolver, UnresolvableError, to_string
from .resources import LOCAL_CREDENTIALS
from .template import FunctionSpec, TemplateError


def local_aws_environment(endpoint_url: str, region: str) -> dict[str, str | None]:
    """Variables that point every boto3 client at the local endpoint (None: unset).

    Shared config files, profiles and per-service endpoints are switched off so nothing on
    the developer's machine can send a request to a real AWS account.
    """
    changes: dict[str, str | None] = {
        "AWS_ENDPOINT_URL": endpoint_url,
        "AWS_ACCESS_KEY_ID": LOCAL_CREDENTIALS["aws_access_key_id"],
        "AWS_SECRET_ACCESS_KEY": LOCAL_CREDENTIALS["aws_secret_access_key"],
        "AWS_SESSION_TOKEN": LOCAL_CREDENTIALS["aws_session_token"],
        "AWS_SECURITY_TOKEN": LOCAL_CREDENTIALS["aws_session_token"],
        "AWS_DEFAULT_REGION": region,
        "AWS_REGION": region,
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
        "AWS_PROFILE": None,
        "AWS_DEFAULT_PROFILE": None,
        "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS": None,
    }
    for name in os.environ:
        if name.startswith("AWS_ENDPOINT_URL_"):
            changes[name] = None
    return changes


def function_environment(
    functions: Iterable[FunctionSpec],
    resolver: Resolver,
    *,
    overrides: Mapping[str, str] | None = None,
    prefer_process_environment: bool = False,
) -> dict[str, str]:
    """The merged, resolved Environment.Variables of ``functions``.

    ``overrides`` win over the template (and are not resolved). With
    ``prefer_process_environment`` (the ``--aws`` mode, where nothing is created locally) a
    variable already set in the process environment wins too, and a variable that refers
    to a resource must be set there.
    """
    overrides = dict(overrides or {})
    values: dict[str, str] = {}
    defined_by: dict[str, str] = {}
    for function in functions:
        for name, raw in function.environment.items():
            if name in overrides:
                value = overrides[name]
            elif prefer_process_environment and name in os.environ:
                value = os.environ[name]
            else:
                try:
                    resolved = resolver.resolve(raw)
                    if resolved is NO_VALUE:
                        continue
                    value = to_string(resolved)
                except UnresolvableError as error:
                    hint = (
                        f"; set {name} in the environment"
                        if prefer_process_environment
                        else f"; or pass --env {name}=VALUE"
                    )
                    raise TemplateError(
                        f"function {function.logical_id}: environment variable {name}: "
                        f"{error}{hint}"
                    ) from None
            if name in values and values[name] != value:
                raise TemplateError(
                    f"environment variable {name} is {values[name]!r} for "
                    f"{defined_by[name]} but {value!r} for {function.logical_id}; the local "
                    "server runs all functions in one process and needs one value"
                )
            values[name] = value
            defined_by[name] = function.logical_id
    for name, value in overrides.items():
        values.setdefault(name, value)
    return values


class EnvironmentPatch:
    """Changes to ``os.environ`` that can be undone."""

    def __init__(self) -> None:
        self._saved: dict[str, str | None] = {}

    def apply(self, changes: Mapping[str, str | None]) -> None:
        for name, value in changes.items():
            self._saved.setdefault(name, os.environ.get(name))
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value

    def restore(self) -> None:
        for name, value in self._saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        self._saved.clear()
