"""Rendering the charts with the real Helm v4 engine (PyPI `helm-python-sdk`, no helm binary and
no cluster) and looking at what came out."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import helm_python as helm
import yaml

CHARTS = Path(__file__).resolve().parent.parent
PLATFORM = CHARTS / "oblivious"
CRDS = CHARTS / "oblivious-crds"

RELEASE = "oblivious"
NAMESPACE = "oblivious-system"
# The Kubernetes version Helm v4.2 assumes offline (`.Capabilities.KubeVersion`), and one that
# kubernetes-validate ships strict schemas for. Lint and validation both use it.
KUBE_VERSION = "1.36.0"


@dataclass(frozen=True)
class Obj:
    """One rendered Kubernetes object and the template it came from."""

    template: str
    body: dict

    @property
    def kind(self) -> str:
        return self.body["kind"]

    @property
    def name(self) -> str:
        return self.body["metadata"]["name"]

    @property
    def labels(self) -> dict:
        return self.body["metadata"].get("labels") or {}

    def __getitem__(self, key):
        return self.body[key]


class Rendered(list):
    """Every object one render produced, plus NOTES.txt."""

    notes: str = ""

    def of(self, kind: str) -> list[Obj]:
        return [o for o in self if o.kind == kind]

    def get(self, kind: str, name: str) -> Obj:
        found = [o for o in self if o.kind == kind and o.name == name]
        assert found, f"no {kind}/{name} rendered; have {sorted(f'{o.kind}/{o.name}' for o in self)}"
        assert len(found) == 1, f"{kind}/{name} rendered {len(found)} times"
        return found[0]

    def find(self, kind: str, name: str) -> Obj | None:
        found = [o for o in self if o.kind == kind and o.name == name]
        return found[0] if found else None


def render(chart: Path, values: dict | None = None, *, namespace: str = NAMESPACE, release: str = RELEASE) -> Rendered:
    """Renders `chart` as `helm install` would (schema checked, lookup finds nothing)."""
    with helm.Chart.load(chart) as loaded:
        manifests = loaded.render(values, name=release, namespace=namespace, is_install=True)
    out = Rendered()
    for template, text in sorted(manifests.items()):
        if template.endswith("NOTES.txt"):
            out.notes = text
            continue
        for body in yaml.safe_load_all(text):
            if body:
                out.append(Obj(template, body))
    return out


def lint(chart: Path, values: dict | None = None) -> dict:
    return helm.lint(chart, values, strict=True, namespace=NAMESPACE, kube_version=f"v{KUBE_VERSION}")


def ci_values() -> dict[str, dict]:
    """The values files under ci/, by file name."""
    return {p.name: yaml.safe_load(p.read_text()) or {} for p in sorted((PLATFORM / "ci").glob("*.yaml"))}


def pod_spec(workload: Obj) -> dict:
    return workload["spec"]["template"]["spec"]


def container(workload: Obj) -> dict:
    containers = pod_spec(workload)["containers"]
    assert len(containers) == 1, f"{workload.name} has {len(containers)} containers"
    return containers[0]


def env_of(workload: Obj) -> dict[str, dict]:
    return {e["name"]: e for e in container(workload).get("env", [])}


def selects(selector: dict, labels: dict) -> bool:
    """Whether a LabelSelector (matchLabels + matchExpressions) matches `labels`."""
    for key, value in (selector.get("matchLabels") or {}).items():
        if labels.get(key) != value:
            return False
    for expression in selector.get("matchExpressions") or []:
        key, op, values = expression["key"], expression["operator"], expression.get("values", [])
        if op == "In" and labels.get(key) not in values:
            return False
        if op == "NotIn" and labels.get(key) in values:
            return False
        if op == "Exists" and key not in labels:
            return False
        if op == "DoesNotExist" and key in labels:
            return False
    return True
