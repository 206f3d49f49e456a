"""Documentation that can go stale: every value documented with `# --`, the README tables
generated from those comments, and the Argo CD health check run against status fixtures."""

from __future__ import annotations

import pytest
from lupa import lua51

import values_doc
from rendering import CRDS, PLATFORM

CHART_DIRS = [PLATFORM, CRDS]


@pytest.mark.parametrize("chart", CHART_DIRS, ids=lambda p: p.name)
def test_every_value_has_a_doc_comment(chart):
    assert values_doc.undocumented((chart / "values.yaml").read_text()) == []


def test_the_doc_check_finds_an_undocumented_key_in_a_section_and_in_a_list_free_map():
    text = """\
# -- Documented.
a: 1
section:
  # -- Documented too.
  b: true
  c: ""
  # A plain comment is not documentation.
  d: {}
# -- A documented map covers its keys.
e:
  f: 1
g:
  - h: not a key of the values, an item of the list
"""
    assert values_doc.undocumented(text) == ["line 6: section.c", "line 8: section.d", "line 12: g"]


def test_the_doc_parser_refuses_a_file_it_reads_differently_from_yaml():
    with pytest.raises(ValueError):
        values_doc.undocumented('a: {b: 1, "c": 2}\nd: 1\n')


@pytest.mark.parametrize("chart", CHART_DIRS, ids=lambda p: p.name)
def test_readme_values_table_is_generated_from_values_yaml(chart):
    readme = (chart / "README.md").read_text()
    expected = values_doc.readme_with_table(readme, (chart / "values.yaml").read_text())
    assert readme == expected, f"{chart.name}/README.md is stale: run charts/tests/run --write-readmes"


def test_readme_table_has_a_row_per_documented_leaf_with_its_default():
    rows = {key: (kind, default) for key, kind, default, _ in values_doc.rows((PLATFORM / "values.yaml").read_text())}
    assert rows["operator.replicas"] == ("int", "2")
    assert rows["dataPlane.relay.autoscaling.enabled"] == ("bool", "false")
    assert rows["image.repository"] == ("string", '"ghcr.io/oblivious-dev/oblivious"')
    assert "dataPlane" not in rows and "dataPlane.relay" not in rows, "sections have no row of their own"


# --- Argo CD health check ---------------------------------------------------------------------

HEALTH = (PLATFORM / "docs" / "argocd-health.lua").read_text()


def health(obj: dict) -> tuple[str, str]:
    """Runs the check the way Argo CD does (gopher-lua is Lua 5.1): `obj` global, returns hs."""
    runtime = lua51.LuaRuntime(unpack_returned_tuples=True)
    runtime.globals().obj = runtime.table_from(obj, recursive=True)
    result = runtime.execute(HEALTH)
    return result["status"], result["message"]


def channel(generation=2, observed=2, ready=None, **spec):
    obj = {"apiVersion": "oblivious.dev/v1alpha1", "kind": "Channel",
           "metadata": {"name": "openai", "namespace": "ai", "generation": generation},
           "spec": {"provider": "openai", **spec}}
    if observed is not None or ready is not None:
        obj["status"] = {}
        if observed is not None:
            obj["status"]["observedGeneration"] = observed
        if ready is not None:
            obj["status"]["conditions"] = [
                {"type": "Accepted", "status": "True", "reason": "Accepted", "message": ""},
                {"type": "Ready", **ready},
            ]
    return obj


@pytest.mark.parametrize(
    "obj, status, message",
    [
        (channel(ready={"status": "True", "reason": "Ready", "message": "serving"}), "Healthy", "serving"),
        (channel(ready={"status": "False", "reason": "SecretNotFound", "message": "Secret ai/openai-key not found"}),
         "Degraded", "SecretNotFound: Secret ai/openai-key not found"),
        (channel(ready={"status": "Unknown", "reason": "AwaitingAcks", "message": "1 of 3 pods run the config"}),
         "Progressing", "AwaitingAcks: 1 of 3 pods run the config"),
        (channel(generation=3, observed=2, ready={"status": "True", "reason": "Ready", "message": "serving"}),
         "Progressing", "Waiting for the operator to observe generation 3"),
        (channel(ready={"status": "True", "reason": "Ready", "message": "", "observedGeneration": 1}),
         "Progressing", "Ready describes generation 1, not 2"),
        (channel(observed=None, ready=None), "Progressing", "Waiting for the operator to report status"),
        (channel(observed=2, ready=None), "Progressing", "No Ready condition yet"),
        (channel(suspend=True, ready={"status": "False", "reason": "Suspended", "message": ""}), "Suspended", "Channel is suspended"),
        ({"kind": "Lane", "metadata": {"generation": 1}, "spec": {"enabled": False}}, "Suspended", "Lane is disabled"),
        ({"kind": "Tenant", "metadata": {"generation": 1, "deletionTimestamp": "2026-01-01T00:00:00Z"},
          "status": {"observedGeneration": 1}}, "Progressing", "Being deleted"),
        ({"kind": "Tenant", "metadata": {"generation": 4},
          "status": {"observedGeneration": 4, "conditions": [{"type": "Ready", "status": "True", "reason": "Ready", "message": ""}]}},
         "Healthy", "Ready"),
    ],
    ids=["ready", "failing", "converging", "stale-status", "stale-condition", "no-status", "no-ready",
         "suspended", "lane-disabled", "deleting", "tenant-ready"],
)
def test_argocd_health_check_reads_ready_and_observed_generation(obj, status, message):
    assert health(obj) == (status, message)


def test_gitops_doc_ships_the_health_check_it_describes():
    doc = (PLATFORM / "docs" / "gitops-health.md").read_text()
    assert "resource.customizations.health.oblivious.dev_*" in doc
    assert "healthCheckExprs" in doc and "observedGeneration" in doc
    # The doc embeds the script, so copying from it gives the tested version.
    code = [line.strip() for line in HEALTH.splitlines() if line.strip() and not line.lstrip().startswith("--")]
    assert [line for line in code if line not in doc] == []
