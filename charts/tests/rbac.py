"""What the rendered RBAC lets a ServiceAccount do, computed the way the API server's RBAC
authorizer would: bindings whose subjects include the account (directly or through a
`system:serviceaccounts...` / `system:authenticated` group), then the rules of their roles."""

from __future__ import annotations

from dataclasses import dataclass

from rendering import Rendered

GROUPS_OF_EVERY_ACCOUNT = ("system:authenticated", "system:serviceaccounts")


@dataclass(frozen=True)
class Grant:
    rule: dict
    namespace: str | None  # None: cluster-wide (a ClusterRoleBinding)
    via: str  # the binding, for messages


def binds(subject: dict, account: str, namespace: str, binding_namespace: str | None) -> bool:
    kind = subject.get("kind")
    if kind == "ServiceAccount":
        return subject.get("name") == account and subject.get("namespace", binding_namespace) == namespace
    if kind == "Group":
        return subject.get("name") in (*GROUPS_OF_EVERY_ACCOUNT, f"system:serviceaccounts:{namespace}")
    if kind == "User":
        return subject.get("name") == f"system:serviceaccount:{namespace}:{account}"
    return False


def grants(rendered: Rendered, account: str, namespace: str) -> list[Grant]:
    found = []
    for binding in rendered.of("RoleBinding") + rendered.of("ClusterRoleBinding"):
        binding_ns = binding["metadata"].get("namespace") if binding.kind == "RoleBinding" else None
        if not any(binds(s, account, namespace, binding_ns) for s in binding.body.get("subjects") or []):
            continue
        ref = binding["roleRef"]
        role = rendered.find(ref["kind"], ref["name"])
        assert role is not None, f"{binding.kind}/{binding.name} refers to {ref['kind']}/{ref['name']}, which is not rendered"
        for rule in role.body.get("rules") or []:
            found.append(Grant(rule, binding_ns, f"{binding.kind}/{binding.name}"))
    return found


def allowed(found: list[Grant], group: str, resource: str, verb: str, namespace: str | None = None, name: str | None = None) -> bool:
    """Whether any grant allows `verb` on `group/resource` (in `namespace`; None asks cluster-wide)."""
    for grant in found:
        if namespace is None and grant.namespace is not None:
            continue
        if grant.namespace is not None and grant.namespace != namespace:
            continue
        rule = grant.rule
        if not (set(rule.get("apiGroups", [])) & {group, "*"}):
            continue
        if not (set(rule.get("resources", [])) & {resource, "*"}):
            continue
        if not (set(rule.get("verbs", [])) & {verb, "*"}):
            continue
        names = rule.get("resourceNames")
        if names and name not in names:
            continue
        return True
    return False
