"""Resolve CloudFormation intrinsic functions against the local stand-ins of resources.

Supported: ``Ref`` (parameters, pseudo parameters, resources), ``Fn::GetAtt``, ``Fn::Sub``,
``Fn::Join``, ``Fn::Select``, ``Fn::Split``, ``Fn::If`` with ``Conditions`` (``Fn::Equals``,
``Fn::Not``, ``Fn::And``, ``Fn::Or``, ``Condition``), ``Fn::FindInMap`` and ``Fn::Base64``.
Anything else raises :class:`UnresolvableError`, naming what was asked for.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from .template import Template, TemplateError

if TYPE_CHECKING:
    from .resources import LocalResource


class UnresolvableError(TemplateError):
    """A value of the template cannot be computed locally."""


class _NoValue:
    def __repr__(self) -> str:
        return "AWS::NoValue"


NO_VALUE: Any = _NoValue()
"""What ``!Ref AWS::NoValue`` resolves to: the enclosing key or list item is dropped."""

ACCOUNT_ID = "123456789012"
REGION = "us-east-1"

_SUB_VARIABLE = re.compile(r"\$\{([^}]+)\}")


def references(value: Any) -> set[str]:
    """Logical ids (and parameter names) that ``value`` refers to through intrinsics."""
    found: set[str] = set()
    if isinstance(value, dict):
        for key, argument in value.items():
            if key == "Ref" and isinstance(argument, str):
                found.add(argument)
            elif key == "Fn::GetAtt" and isinstance(argument, list) and argument:
                found.add(str(argument[0]))
            elif key == "Fn::Sub":
                text, variables = argument if isinstance(argument, list) else (argument, {})
                own_names = set(variables) if isinstance(variables, dict) else set()
                for name in _SUB_VARIABLE.findall(text if isinstance(text, str) else ""):
                    head = name.split(".")[0]
                    if not name.startswith("!") and head not in own_names:
                        found.add(head)
                found |= references(variables)
            else:
                found |= references(argument)
    elif isinstance(value, list):
        for item in value:
            found |= references(item)
    return found


class Resolver:
    """Evaluates intrinsic functions of one template.

    ``resources`` maps logical ids to their local stand-ins and may grow while resources are
    being provisioned (a queue's dead-letter queue is created before the queue).
    """

    def __init__(
        self,
        template: Template,
        *,
        resources: Mapping[str, LocalResource],
        parameter_overrides: Mapping[str, str] | None = None,
        stack_name: str = "progimage-local",
        region: str = REGION,
        account_id: str = ACCOUNT_ID,
    ) -> None:
        self.template = template
        self.resources = resources
        self.parameter_overrides = dict(parameter_overrides or {})
        unknown = set(self.parameter_overrides) - set(template.parameters)
        if unknown:
            raise TemplateError(f"parameter overrides for unknown parameters: {sorted(unknown)}")
        self.pseudo: dict[str, Any] = {
            "AWS::AccountId": account_id,
            "AWS::Region": region,
            "AWS::StackName": stack_name,
            "AWS::StackId": (
                f"arn:aws:cloudformation:{region}:{account_id}:stack/{stack_name}/local"
            ),
            "AWS::Partition": "aws",
            "AWS::URLSuffix": "amazonaws.com",
            "AWS::NotificationARNs": [],
            "AWS::NoValue": NO_VALUE,
        }
        self._conditions: dict[str, bool] = {}

    # -- public -------------------------------------------------------------------------

    def resolve(self, value: Any) -> Any:
        """Resolve every intrinsic inside ``value``; ``AWS::NoValue`` entries disappear."""
        if isinstance(value, dict):
            if len(value) == 1:
                ((key, argument),) = value.items()
                if key == "Ref" or key.startswith("Fn::"):
                    return self._function(key, argument)
            resolved = {k: self.resolve(v) for k, v in value.items()}
            return {k: v for k, v in resolved.items() if v is not NO_VALUE}
        if isinstance(value, list):
            return [item for item in map(self.resolve, value) if item is not NO_VALUE]
        return value

    def resolve_string(self, value: Any) -> str:
        """Resolve ``value`` and render it as CloudFormation would in a string property."""
        return to_string(self.resolve(value))

    def condition(self, name: str) -> bool:
        """The value of one entry of the template's Conditions."""
        if name not in self._conditions:
            if name not in self.template.conditions:
                raise UnresolvableError(f"unknown condition {name!r}")
            self._conditions[name] = bool(self._evaluate(self.template.conditions[name]))
        return self._conditions[name]

    def parameter(self, name: str) -> Any:
        if name in self.parameter_overrides:
            raw: Any = self.parameter_overrides[name]
        elif name in LOCAL_DEFAULTS:
            raw = LOCAL_DEFAULTS[name]
        elif "Default" in self.template.parameters[name]:
            raw = self.template.parameters[name]["Default"]
        else:
            raise UnresolvableError(
                f"parameter {name!r} has no Default; pass --parameter {name}=VALUE"
            )
        if str(self.template.parameters[name].get("Type", "")).startswith("CommaDelimitedList"):
            return [item.strip() for item in to_string(raw).split(",")] if raw != "" else []
        return to_string(raw)

    # -- intrinsic functions ------------------------------------------------------------

    def _function(self, key: str, argument: Any) -> Any:
        if key == "Ref":
            return self._ref(argument)
        if key == "Fn::GetAtt":
            return self._get_att(argument)
        if key == "Fn::Sub":
            return self._sub(argument)
        if key == "Fn::Join":
            delimiter, items = argument
            return to_string(delimiter).join(to_string(i) for i in self.resolve(items))
        if key == "Fn::Select":
            index, items = argument
            return self.resolve(items)[int(self.resolve(index))]
        if key == "Fn::Split":
            delimiter, text = argument
            return self.resolve_string(text).split(to_string(delimiter))
        if key == "Fn::If":
            name, if_true, if_false = argument
            return self.resolve(if_true if self.condition(name) else if_false)
        if key == "Fn::FindInMap":
            map_name, top, second = (self.resolve_string(a) for a in argument)
            try:
                return self.resolve(self.template.mappings[map_name][top][second])
            except KeyError:
                raise UnresolvableError(
                    f"Fn::FindInMap: no {map_name}/{top}/{second} in Mappings"
                ) from None
        if key == "Fn::Base64":
            return base64.b64encode(self.resolve_string(argument).encode()).decode()
        if key in ("Fn::Equals", "Fn::Not", "Fn::And", "Fn::Or"):
            return self._evaluate({key: argument})
        raise UnresolvableError(f"{key} is not supported by the local server")

    def _ref(self, name: Any) -> Any:
        if not isinstance(name, str):
            raise UnresolvableError(f"Ref needs a name, got {name!r}")
        if name in self.pseudo:
            return self.pseudo[name]
        if name in self.template.parameters:
            return self.parameter(name)
        return self._resource(name).ref

    def _get_att(self, argument: Any) -> Any:
        if not (isinstance(argument, list) and len(argument) == 2):
            raise UnresolvableError(f"Fn::GetAtt needs [LogicalId, Attribute], got {argument!r}")
        logical_id, attribute = (self.resolve_string(a) for a in argument)
        resource = self._resource(logical_id)
        if attribute not in resource.attributes:
            raise UnresolvableError(
                f"Fn::GetAtt {logical_id}.{attribute}: the local {resource.type} has only "
                f"{sorted(resource.attributes)}"
            )
        return resource.attributes[attribute]

    def _sub(self, argument: Any) -> str:
        if isinstance(argument, list):
            text, variables = argument[0], self.resolve(argument[1])
        else:
            text, variables = argument, {}

        def replace(match: re.Match[str]) -> str:
            name = match.group(1)
            if name.startswith("!"):
                return "${" + name[1:] + "}"
            if name in variables:
                return to_string(variables[name])
            if "." in name and not name.startswith("AWS::"):
                logical_id, _, attribute = name.partition(".")
                return to_string(self._get_att([logical_id, attribute]))
            return to_string(self._ref(name))

        return _SUB_VARIABLE.sub(replace, to_string(text))

    def _evaluate(self, value: Any) -> Any:
        """Evaluate a condition expression (or any value inside one)."""
        if isinstance(value, dict) and len(value) == 1:
            ((key, argument),) = value.items()
            if key == "Condition":
                return self.condition(argument)
            if key == "Fn::Equals":
                left, right = (to_string(self.resolve(a)) for a in argument)
                return left == right
            if key == "Fn::Not":
                return not self._evaluate(argument[0])
            if key == "Fn::And":
                return all(self._evaluate(a) for a in argument)
            if key == "Fn::Or":
                return any(self._evaluate(a) for a in argument)
        return self.resolve(value)

    def _resource(self, logical_id: str) -> LocalResource:
        if logical_id in self.resources:
            return self.resources[logical_id]
        spec = self.template.resources.get(logical_id)
        if spec is None:
            raise UnresolvableError(f"{logical_id!r} is neither a parameter nor a resource")
        if spec.condition and not self.condition(spec.condition):
            raise UnresolvableError(
                f"resource {logical_id} is not created (condition {spec.condition} is false)"
            )
        raise UnresolvableError(
            f"resource {logical_id} ({spec.type}) has no local stand-in; add a provisioner "
            "in localserver/resources.py"
        )


# Parameters whose template default asks for what has no local stand-in: locally there is no
# CloudFront in front of the API, so the CDN is off unless asked for (--parameter Cdn=Enabled,
# which then fails, naming the distribution).
LOCAL_DEFAULTS = {"Cdn": "Disabled"}


def to_string(value: Any) -> str:
    """Render a resolved value the way CloudFormation does in a string property."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, list):
        return ",".join(to_string(item) for item in value)
    raise UnresolvableError(f"cannot use {value!r} as a string")
