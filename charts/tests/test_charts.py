"""The platform chart (charts/oblivious), rendered by the real Helm v4 engine for the default
values and every file in ci/, linted, and validated against the Kubernetes schemas."""

from __future__ import annotations

import base64
import copy
import json
from urllib.parse import urlparse

import helm_python as helm
import kubernetes_validate
import promql_parser
import pytest
import yaml

from rbac import allowed, grants
from rendering import (
    KUBE_VERSION,
    NAMESPACE,
    PLATFORM,
    RELEASE,
    Obj,
    ci_values,
    container,
    env_of,
    lint,
    pod_spec,
    render,
    selects,
)

ROLES = ("gateway", "chat", "relay", "rag")
# The roles that serve requests (rag, the ingestion worker, serves only probes and metrics).
API_ROLES = ("gateway", "chat", "relay")
# The roles that read users' files from the object store.
FILE_ROLES = ("gateway", "chat", "rag")
KINDS = ("channels", "modelpricings", "agents", "toolservers", "lanes", "tenants")
OPERATOR = f"{RELEASE}-operator"
# Kinds kubernetes-validate has no schema for, because they come from someone else's CRD.
NOT_OURS_TO_VALIDATE = {
    ("monitoring.coreos.com/v1", "ServiceMonitor"): "Prometheus Operator CRD; checked structurally below",
    ("monitoring.coreos.com/v1", "PrometheusRule"): "Prometheus Operator CRD; its PromQL is parsed below",
}
CLUSTER_SCOPED = {"ClusterRole", "ClusterRoleBinding", "CustomResourceDefinition", "Namespace"}

VALUES = {"defaults": {}, **ci_values()}


def values_with(base: dict | None = None, **paths) -> dict:
    """A copy of `base` (default: nothing) with dotted paths set: values_with(**{"dataPlane.chat.enabled": False})."""
    values = copy.deepcopy(base or {})
    for path, value in paths.items():
        node = values
        *parents, leaf = path.split(".")
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = value
    return values


@pytest.fixture(scope="module")
def defaults():
    return render(PLATFORM)


@pytest.fixture(scope="module")
def ha():
    return render(PLATFORM, VALUES["ha-values.yaml"])


# --- every render: lint, schemas, names ---------------------------------------------------


def test_ci_values_files_exist_for_ha_a_minimal_install_an_external_relay_and_a_lane_fleet():
    assert {"ha-values.yaml", "relay-only-values.yaml", "external-relay-values.yaml", "lane-values.yaml"} <= set(VALUES)


@pytest.mark.parametrize("case", VALUES)
def test_chart_lints_clean_in_strict_mode(case):
    report = lint(PLATFORM, VALUES[case] or None)
    serious = [m for m in report["messages"] if m["severity"] >= 2]
    assert report["errors"] == [] and serious == [], report


@pytest.mark.parametrize("case", VALUES)
def test_every_rendered_object_is_valid_against_the_strict_kubernetes_schema(case):
    rendered = render(PLATFORM, VALUES[case] or None)
    assert len(rendered) > 5
    invalid, unvalidated = [], []
    for obj in rendered:
        key = (obj["apiVersion"], obj.kind)
        if key in NOT_OURS_TO_VALIDATE:
            unvalidated.append(key)
            continue
        try:
            kubernetes_validate.validate(obj.body, KUBE_VERSION, strict=True)
        except kubernetes_validate.ValidationError as error:
            path = ".".join(str(p) for p in error.absolute_path)
            invalid.append(f"{obj.template} {obj.kind}/{obj.name} at {path}: {error.message}")
        except kubernetes_validate.SchemaNotFoundError as error:
            invalid.append(f"{obj.template}: {error.message}")
    assert invalid == []


def test_a_typo_inside_a_kubernetes_passthrough_value_is_caught_by_strict_validation():
    # The schema lists Affinity's fields but not their contents; the strict Kubernetes schema
    # is what catches the rest, so it must really run strict.
    rendered = render(PLATFORM, values_with(**{"operator.affinity": {"podAntiAffinity": {"preferred": []}}}))
    with pytest.raises(kubernetes_validate.ValidationError, match="preferred"):
        kubernetes_validate.validate(rendered.get("Deployment", OPERATOR).body, KUBE_VERSION, strict=True)


@pytest.mark.parametrize("case", VALUES)
def test_namespaced_objects_name_the_release_namespace_and_names_are_unique(case):
    rendered = render(PLATFORM, VALUES[case] or None)
    seen = set()
    for obj in rendered:
        namespace = obj["metadata"].get("namespace")
        if obj.kind in CLUSTER_SCOPED:
            assert namespace is None, f"{obj.kind}/{obj.name} is cluster-scoped"
        else:
            assert namespace == NAMESPACE, f"{obj.kind}/{obj.name} has namespace {namespace!r}"
        key = (obj["apiVersion"].split("/")[0], obj.kind, obj.name)
        assert key not in seen, f"{key} rendered twice"
        seen.add(key)
        assert len(obj.name) <= 63 or obj.kind in CLUSTER_SCOPED
        assert obj.labels.get("app.kubernetes.io/part-of") == "oblivious"


def test_two_releases_in_two_namespaces_share_no_cluster_scoped_name():
    first = render(PLATFORM, namespace="team-a")
    second = render(PLATFORM, namespace="team-b")
    names = lambda r: {(o.kind, o.name) for o in r if o.kind in CLUSTER_SCOPED}  # noqa: E731
    assert names(first) and not names(first) & names(second)


# --- values.schema.json ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "bogus",
    [
        {"bogus": True},
        {"operator": {"replica": 3}},
        {"operator": {"resources": {"request": {"cpu": "1"}}}},
        {"dataPlane": {"relay": {"enable": False}}},
        {"dataPlane": {"gateway": {"autoscaling": {"target": 5}}}},
        {"dataPlane": {"rag": {"autoscaling": {"inFlightPerPod": 5}}}},
        {"dataPlane": {"rag": {"service": {"type": "LoadBalancer"}}}},
        {"dataPlane": {"ingest": {"enabled": True}}},
        {"objectStore": {"bucket": "files"}},
        {"networkPolicy": {"objectStore": {"port": 9000}}},
        {"networkPolicy": {"providers": {"cidr": ["0.0.0.0/0"]}}},
        {"ingress": {"hosts": [{"host": "x", "paths": [{"path": "/", "pathType": "Prefix", "port": 80}]}]}},
        {"operator": {"securityContext": {"readOnlyRootFileSystem": True}}},
    ],
    ids=lambda v: json.dumps(v, separators=(",", ":"))[:60],
)
def test_schema_refuses_a_key_it_does_not_know_at_any_level(bogus):
    with pytest.raises(helm.HelmValuesError, match="additional properties"):
        render(PLATFORM, bogus)


@pytest.mark.parametrize(
    "bad",
    [
        {"operator": {"replicas": 0}},
        {"operator": {"logFormat": "yaml"}},
        {"image": {"pullPolicy": "Sometimes"}},
        {"dataPlane": {"chat": {"replicas": "2"}}},
        {"secrets": {"databaseUrl": "mysql://x"}},
        {"objectStore": {"url": "https://files.example.com/bucket"}},
        {"objectStore": {"url": "s3://"}},
        {"objectStore": {"endpoint": "minio.storage.svc:9000"}},
        {"objectStore": {"maxFileBytes": -1}},
        {"dataPlane": {"rag": {"autoscaling": {"pendingJobsMetric": ""}}}},
        {"networkPolicy": {"objectStore": {"ports": [0]}}},
    ],
    ids=lambda v: json.dumps(v, separators=(",", ":"))[:60],
)
def test_schema_refuses_wrongly_typed_or_out_of_range_values(bad):
    with pytest.raises(helm.HelmValuesError):
        render(PLATFORM, bad)


def test_every_object_in_the_schema_closes_its_properties():
    schema = json.loads((PLATFORM / "values.schema.json").read_text())
    open_objects = []

    def walk(node, path):
        if isinstance(node, dict):
            is_object = node.get("type") == "object" or "properties" in node
            if is_object:
                extra = node.get("additionalProperties")
                if "properties" in node and extra is not False:
                    open_objects.append(f"{path}: lists properties but additionalProperties is {extra!r}")
                if "properties" not in node and not isinstance(extra, dict):
                    open_objects.append(f"{path}: a map must type its values, not {extra!r}")
            for key, child in node.items():
                walk(child, f"{path}/{key}")
        elif isinstance(node, list):
            for index, child in enumerate(node):
                walk(child, f"{path}/{index}")

    walk(schema, "#")
    # List items that pass a Kubernetes type through are the one allowed exception.
    passthrough_items = [p for p in open_objects if p.endswith("/items: a map must type its values, not True")]
    assert [p for p in open_objects if p not in passthrough_items] == []


def test_schema_and_values_yaml_describe_the_same_keys():
    schema = json.loads((PLATFORM / "values.schema.json").read_text())
    values = yaml.safe_load((PLATFORM / "values.yaml").read_text())

    def resolve(node):
        ref = node.get("$ref")
        return resolve(schema["$defs"][ref.split("/")[-1]]) if ref else node

    def walk(schema_node, value, path, missing):
        schema_node = resolve(schema_node)
        props = schema_node.get("properties")
        if not isinstance(value, dict) or props is None or not any(props.values()):
            return
        for key in set(props) | set(value):
            if key not in value and props.get(key) != {}:
                missing.append(f"{path}.{key} is in the schema but not in values.yaml")
            elif key in value:
                walk(props.get(key, {}), value[key], f"{path}.{key}", missing)

    missing: list[str] = []
    walk(schema, values, "", missing)
    assert missing == []


# --- the operator ----------------------------------------------------------------------------


def test_operator_runs_two_replicas_with_a_disruption_budget_by_default(defaults):
    deployment = defaults.get("Deployment", OPERATOR)
    assert deployment["spec"]["replicas"] == 2
    budget = defaults.get("PodDisruptionBudget", OPERATOR)
    assert budget["spec"]["maxUnavailable"] == 1
    assert selects(budget["spec"]["selector"], deployment["spec"]["template"]["metadata"]["labels"])
    # A rollout never drops below the configured replicas.
    assert deployment["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"] == 0


def test_operator_replicas_spread_across_nodes_unless_told_otherwise(defaults):
    affinity = pod_spec(defaults.get("Deployment", OPERATOR))["affinity"]
    term = affinity["podAntiAffinity"]["preferredDuringSchedulingIgnoredDuringExecution"][0]["podAffinityTerm"]
    assert term["topologyKey"] == "kubernetes.io/hostname"
    assert term["labelSelector"]["matchLabels"]["app.kubernetes.io/component"] == "operator"


def test_operator_pod_runs_non_root_with_a_read_only_root_and_no_capabilities(defaults):
    deployment = defaults.get("Deployment", OPERATOR)
    pod = pod_spec(deployment)["securityContext"]
    assert pod["runAsNonRoot"] is True and pod["runAsUser"] != 0
    assert pod["seccompProfile"] == {"type": "RuntimeDefault"}
    c = container(deployment)["securityContext"]
    assert c["readOnlyRootFilesystem"] is True
    assert c["allowPrivilegeEscalation"] is False
    assert c["capabilities"]["drop"] == ["ALL"]
    mounts = {m["mountPath"]: m["name"] for m in container(deployment)["volumeMounts"]}
    volumes = {v["name"]: v for v in pod_spec(deployment)["volumes"]}
    assert "emptyDir" in volumes[mounts["/tmp"]]


def test_operator_runs_the_contracted_command_with_probes_and_resources(defaults):
    c = container(defaults.get("Deployment", OPERATOR))
    assert c["command"] + c["args"] == ["oblivious-operator", "run", "--listen", "0.0.0.0:8081"]
    assert c["image"] == "ghcr.io/oblivious-dev/oblivious:" + helm.Chart.load(PLATFORM).metadata["appVersion"]
    assert c["ports"] == [{"name": "http", "containerPort": 8081, "protocol": "TCP"}]
    assert c["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
    assert c["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}
    assert c["resources"]["requests"]["memory"] and c["resources"]["limits"]["memory"]


def test_operator_environment_follows_the_runtime_contract(defaults):
    env = env_of(defaults.get("Deployment", OPERATOR))
    assert env["POD_NAME"]["valueFrom"]["fieldRef"]["fieldPath"] == "metadata.name"
    assert env["POD_NAMESPACE"]["valueFrom"]["fieldRef"]["fieldPath"] == "metadata.namespace"
    assert env["POD_UID"]["valueFrom"]["fieldRef"]["fieldPath"] == "metadata.uid", "owns the replica's sync report"
    assert env["OBLIVIOUS_LEADER_LEASE"]["value"] == "oblivious-operator"
    assert env["OBLIVIOUS_LOG_FORMAT"]["value"] == "json"
    assert env["RUST_LOG"]["value"] == "info"
    assert "OBLIVIOUS_WATCH_NAMESPACE" not in env, "unset means every namespace"
    assert env["OBLIVIOUS_CONFIG_SERVER"]["value"] == f"http://{OPERATOR}.{NAMESPACE}.svc:8081"
    assert env["OBLIVIOUS_DATA_PLANE_IMAGE"]["value"] == container(defaults.get("Deployment", f"{RELEASE}-relay"))["image"]
    assert env["OBLIVIOUS_DATABASE_SECRET"]["value"] == defaults.of("Secret")[0].name


def test_watch_namespace_and_lease_name_reach_the_operator():
    rendered = render(PLATFORM, values_with(**{"operator.watchNamespace": "ai", "operator.leaseName": "ob-lead"}))
    env = env_of(rendered.get("Deployment", OPERATOR))
    assert env["OBLIVIOUS_WATCH_NAMESPACE"]["value"] == "ai"
    assert env["OBLIVIOUS_LEADER_LEASE"]["value"] == "ob-lead"
    found = grants(rendered, OPERATOR, NAMESPACE)
    assert allowed(found, "coordination.k8s.io", "leases", "update", NAMESPACE, name="ob-lead")
    assert not allowed(found, "coordination.k8s.io", "leases", "update", NAMESPACE, name="oblivious-operator")


def test_config_stream_service_selects_the_operator_pods_on_its_named_port(defaults):
    service = defaults.get("Service", OPERATOR)
    pods = defaults.get("Deployment", OPERATOR)["spec"]["template"]["metadata"]["labels"]
    assert selects({"matchLabels": service["spec"]["selector"]}, pods)
    assert service["spec"]["ports"] == [{"name": "http", "port": 8081, "targetPort": "http", "protocol": "TCP"}]
    for role in ROLES:
        assert not selects({"matchLabels": service["spec"]["selector"]},
                           defaults.get("Deployment", f"{RELEASE}-{role}")["spec"]["template"]["metadata"]["labels"])


def test_image_digest_wins_over_the_tag():
    digest = "sha256:" + "a" * 64
    rendered = render(PLATFORM, values_with(**{"image.digest": digest, "image.tag": "ignored"}))
    for deployment in rendered.of("Deployment"):
        assert container(deployment)["image"] == f"ghcr.io/oblivious-dev/oblivious@{digest}"


# --- RBAC ------------------------------------------------------------------------------------


@pytest.mark.parametrize("case", VALUES)
def test_data_plane_service_accounts_have_no_rbac_and_cannot_read_secrets(case):
    rendered = render(PLATFORM, VALUES[case] or None)
    accounts = [sa.name for sa in rendered.of("ServiceAccount") if sa.name != OPERATOR]
    assert accounts, "the data plane has ServiceAccounts of its own"
    for account in accounts:
        found = grants(rendered, account, NAMESPACE)
        assert found == [], f"{account} is granted {found}"
        for verb in ("get", "list", "watch"):
            assert not allowed(found, "", "secrets", verb, NAMESPACE)


@pytest.mark.parametrize("case", VALUES)
def test_only_the_operator_service_account_is_bound_to_a_role_that_reads_secrets(case):
    rendered = render(PLATFORM, VALUES[case] or None)
    for binding in rendered.of("RoleBinding") + rendered.of("ClusterRoleBinding"):
        role = rendered.get(binding["roleRef"]["kind"], binding["roleRef"]["name"])
        reads_secrets = any(
            set(r.get("apiGroups", [])) & {"", "*"} and set(r.get("resources", [])) & {"secrets", "*"}
            and set(r.get("verbs", [])) & {"get", "list", "watch", "*"}
            for r in role.body.get("rules", [])
        )
        if reads_secrets:
            assert binding["subjects"] == [{"kind": "ServiceAccount", "name": OPERATOR, "namespace": NAMESPACE}]


def test_data_plane_service_accounts_and_pods_mount_no_token(defaults):
    for role in ROLES:
        name = f"{RELEASE}-{role}"
        assert defaults.get("ServiceAccount", name)["automountServiceAccountToken"] is False
        deployment = defaults.get("Deployment", name)
        assert pod_spec(deployment)["serviceAccountName"] == name
        assert pod_spec(deployment)["automountServiceAccountToken"] is False


def test_operator_may_do_what_its_controllers_do(defaults):
    found = grants(defaults, OPERATOR, NAMESPACE)
    for kind in KINDS:
        for verb in ("get", "list", "watch"):
            assert allowed(found, "oblivious.dev", kind, verb), (kind, verb)
        assert allowed(found, "oblivious.dev", f"{kind}/status", "patch"), kind
    assert allowed(found, "oblivious.dev", "tenants", "patch"), "finalizers for preventDeletion"
    assert allowed(found, "oblivious.dev", "tenants/finalizers", "update"), "blockOwnerDeletion on children"
    assert allowed(found, "events.k8s.io", "events", "create") and allowed(found, "events.k8s.io", "events", "patch")
    for verb in ("get", "list", "watch", "create", "patch"):
        assert allowed(found, "", "secrets", verb)
    assert allowed(found, "discovery.k8s.io", "endpointslices", "watch")
    children = [("", "namespaces"), ("", "resourcequotas"), ("", "limitranges"), ("", "services"),
                ("rbac.authorization.k8s.io", "rolebindings"), ("networking.k8s.io", "networkpolicies"),
                ("apps", "deployments"), ("autoscaling", "horizontalpodautoscalers"), ("policy", "poddisruptionbudgets")]
    for group, resource in children:
        for verb in ("get", "list", "watch", "create", "patch"):
            assert allowed(found, group, resource, verb), (group, resource, verb)
    for role in ("admin", "edit", "view"):
        assert allowed(found, "rbac.authorization.k8s.io", "clusterroles", "bind", name=role)
    # Each replica's sync report (operator/NOTES.md "HA"): applied by its replica, watched by the leader.
    for verb in ("get", "list", "watch", "create", "patch"):
        assert allowed(found, "", "configmaps", verb, NAMESPACE, name="oblivious-sync-oblivious-operator-7d9f-abcde"), verb


def test_operator_rbac_is_least_privilege(defaults):
    found = grants(defaults, OPERATOR, NAMESPACE)
    for grant in found:
        for field in ("apiGroups", "resources", "verbs"):
            assert "*" not in grant.rule.get(field, []), f"wildcard {field} in {grant.via}: {grant.rule}"
    assert not allowed(found, "", "secrets", "delete"), "a Tenant's Secrets go with their owner"
    assert not allowed(found, "", "namespaces", "delete"), "a Tenant's namespace goes with its owner"
    assert not allowed(found, "", "pods", "get") and not allowed(found, "", "pods", "create", NAMESPACE)
    assert not allowed(found, "rbac.authorization.k8s.io", "clusterroles", "bind", name="cluster-admin")
    assert not allowed(found, "rbac.authorization.k8s.io", "clusterroles", "escalate", name="admin")
    assert not allowed(found, "rbac.authorization.k8s.io", "clusterrolebindings", "create")
    # Leader election: only in its own namespace, and only its own Lease beyond create.
    assert not allowed(found, "coordination.k8s.io", "leases", "create"), "no cluster-wide Lease access"
    assert not allowed(found, "coordination.k8s.io", "leases", "update", "kube-system", name="oblivious-operator")
    assert allowed(found, "coordination.k8s.io", "leases", "create", NAMESPACE)
    assert allowed(found, "coordination.k8s.io", "leases", "update", NAMESPACE, name="oblivious-operator")
    assert not allowed(found, "coordination.k8s.io", "leases", "update", NAMESPACE, name="kube-controller-manager")
    # Sync reports: the release namespace only, and never deleted or replaced wholesale.
    assert not allowed(found, "", "configmaps", "get"), "no cluster-wide ConfigMap access"
    assert not allowed(found, "", "configmaps", "patch", "kube-system")
    for verb in ("delete", "deletecollection", "update"):
        assert not allowed(found, "", "configmaps", verb, NAMESPACE), verb


def test_the_sync_report_rule_grants_configmaps_and_nothing_else(defaults):
    role = defaults.get("Role", f"{OPERATOR}-leader-election")
    rules = [r for r in role["rules"] if "configmaps" in r["resources"]]
    assert rules == [{"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get", "list", "watch", "create", "patch"]}]


def test_rbac_can_be_left_to_the_cluster_admin():
    rendered = render(PLATFORM, values_with(**{"rbac.create": False}))
    assert not [o for o in rendered if o.kind in {"Role", "RoleBinding", "ClusterRole", "ClusterRoleBinding"}]
    assert rendered.get("ServiceAccount", OPERATOR)


# --- the data plane --------------------------------------------------------------------------


def test_each_role_runs_the_contracted_command_against_the_operator_service(defaults):
    service = defaults.get("Service", OPERATOR)
    for role in ROLES:
        c = container(defaults.get("Deployment", f"{RELEASE}-{role}"))
        args = c["args"]
        assert c["command"] == ["oblivious"] and args[0] == role
        flags = dict(zip(args[1::2], args[2::2]))
        assert flags["--listen"] == "0.0.0.0:8080"
        assert flags["--state-dir"] == "/var/lib/oblivious/config"
        server = urlparse(flags["--config-server"])
        assert server.scheme == "http"
        assert server.hostname == f"{service.name}.{NAMESPACE}.svc"
        assert server.port == service["spec"]["ports"][0]["port"]


def test_each_role_gets_the_contracted_environment(defaults):
    secret = defaults.of("Secret")[0]
    for role in ROLES:
        deployment = defaults.get("Deployment", f"{RELEASE}-{role}")
        env = env_of(deployment)
        assert env["OBLIVIOUS_TENANT"]["value"] == "default"
        assert env["OBLIVIOUS_POD_NAME"]["valueFrom"]["fieldRef"]["fieldPath"] == "metadata.name"
        assert env["OBLIVIOUS_LANE"]["value"] == ""
        assert env["OBLIVIOUS_BUILTIN_MOCK"]["value"] == "false"
        assert env["OBLIVIOUS_REPLICAS"]["value"] == str(deployment["spec"]["replicas"])
        for key in ("DATABASE_URL", "REDIS_URL", "OBLIVIOUS_JWT_SECRET", "OBLIVIOUS_BOOTSTRAP_KEY"):
            ref = env[key]["valueFrom"]["secretKeyRef"]
            assert (ref["name"], ref["key"], ref["optional"]) == (secret.name, key, True)
        ref = env["OBLIVIOUS_INTERNAL_TOKEN"]["valueFrom"]["secretKeyRef"]
        assert (ref["name"], ref["key"], ref["optional"]) == (secret.name, "OBLIVIOUS_INTERNAL_TOKEN", False)
        assert ("OBLIVIOUS_RELAY_URL" in env) == (role != "relay")


def test_each_role_pod_is_non_root_read_only_with_writable_state_and_probes(defaults):
    for role in ROLES:
        deployment = defaults.get("Deployment", f"{RELEASE}-{role}")
        pod, c = pod_spec(deployment), container(deployment)
        assert pod["securityContext"]["runAsNonRoot"] is True
        assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
        assert c["securityContext"]["readOnlyRootFilesystem"] is True
        assert c["securityContext"]["capabilities"]["drop"] == ["ALL"]
        assert c["securityContext"]["allowPrivilegeEscalation"] is False
        volumes = {v["name"]: v for v in pod["volumes"]}
        mounts = {m["mountPath"]: m for m in c["volumeMounts"]}
        state = mounts["/var/lib/oblivious"]
        assert "emptyDir" in volumes[state["name"]] and not state.get("readOnly")
        assert c["workingDir"] == "/var/lib/oblivious", "the embedded store lands on the emptyDir"
        assert c["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
        assert c["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}
        assert c["ports"] == [{"name": "http", "containerPort": 8080, "protocol": "TCP"}]
        assert c["resources"]["requests"] and c["resources"]["limits"]["memory"]
        assert c["lifecycle"]["preStop"]["sleep"]["seconds"] == 5
        assert deployment["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"] == 0


@pytest.mark.parametrize("case", VALUES)
def test_services_and_budgets_select_exactly_their_own_role(case):
    rendered = render(PLATFORM, VALUES[case] or None)
    deployments = rendered.of("Deployment")
    for service in rendered.of("Service"):
        chosen = [d.name for d in deployments
                  if selects({"matchLabels": service["spec"]["selector"]}, d["spec"]["template"]["metadata"]["labels"])]
        assert chosen == [service.name], f"Service {service.name} selects {chosen}"
        target = service["spec"]["ports"][0]["targetPort"]
        assert target in {p["name"] for p in container(rendered.get("Deployment", service.name))["ports"]}
    for budget in rendered.of("PodDisruptionBudget"):
        chosen = [d.name for d in deployments if selects(budget["spec"]["selector"], d["spec"]["template"]["metadata"]["labels"])]
        assert chosen == [budget.name]
    for deployment in deployments:
        assert selects(deployment["spec"]["selector"], deployment["spec"]["template"]["metadata"]["labels"])


@pytest.mark.parametrize("role", ROLES)
def test_turning_a_role_off_removes_everything_it_had(role):
    full = render(PLATFORM, VALUES["ha-values.yaml"])
    values = copy.deepcopy(VALUES["ha-values.yaml"])
    values["dataPlane"][role]["enabled"] = False
    if role == "gateway":
        values["ingress"]["enabled"] = False
    if role == "relay":
        values["dataPlane"]["relayUrl"] = "http://relay.elsewhere.svc:8080"
    rendered = render(PLATFORM, values)
    name = f"{RELEASE}-{role}"
    for kind in ("Deployment", "Service", "ServiceAccount", "PodDisruptionBudget", "HorizontalPodAutoscaler", "NetworkPolicy"):
        assert full.find(kind, name), f"{kind}/{name} exists while the role is on"
        assert rendered.find(kind, name) is None, f"{kind}/{name} is left behind"
    others = [r for r in ROLES if r != role]
    assert {d.name for d in rendered.of("Deployment")} == {OPERATOR, *(f"{RELEASE}-{r}" for r in others)}
    monitor = rendered.get("ServiceMonitor", f"{RELEASE}-data-plane")
    assert monitor["spec"]["selector"]["matchExpressions"][0]["values"] == others


def test_with_every_role_off_only_the_operator_remains():
    off = {role: {"enabled": False} for role in ROLES}
    rendered = render(PLATFORM, {"dataPlane": off, "serviceMonitor": {"enabled": True}, "networkPolicy": {"enabled": True}})
    assert [d.name for d in rendered.of("Deployment")] == [OPERATOR]
    assert [s.name for s in rendered.of("ServiceAccount")] == [OPERATOR]
    assert [m.name for m in rendered.of("ServiceMonitor")] == [OPERATOR]
    assert "none" in rendered.notes


def test_autoscaling_hands_replicas_to_an_hpa_on_in_flight_requests_with_cpu_fallback(ha):
    gateway = ha.get("Deployment", f"{RELEASE}-gateway")
    assert "replicas" not in gateway["spec"], "the HPA owns replicas; a fixed count would fight it"
    hpa = ha.get("HorizontalPodAutoscaler", f"{RELEASE}-gateway")
    assert hpa["spec"]["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": gateway.name}
    assert (hpa["spec"]["minReplicas"], hpa["spec"]["maxReplicas"]) == (3, 30)
    metrics = {m["type"]: m for m in hpa["spec"]["metrics"]}
    assert metrics["Pods"]["pods"]["metric"]["name"] == "oblivious_inflight_requests"
    assert metrics["Pods"]["pods"]["target"] == {"type": "AverageValue", "averageValue": "200"}
    assert metrics["Resource"]["resource"]["target"] == {"type": "Utilization", "averageUtilization": 70}
    # While Redis is unreachable each pod enforces limit / OBLIVIOUS_REPLICAS: the HPA's floor.
    assert env_of(gateway)["OBLIVIOUS_REPLICAS"]["value"] == "3"
    relay = ha.get("HorizontalPodAutoscaler", f"{RELEASE}-relay")
    assert [m["type"] for m in relay["spec"]["metrics"]] == ["Pods"], "cpuUtilization 0 drops the CPU metric"


def test_autoscaling_without_an_adapter_scales_on_cpu_only():
    rendered = render(PLATFORM, values_with(**{"dataPlane.chat.autoscaling.enabled": True}))
    hpa = rendered.get("HorizontalPodAutoscaler", f"{RELEASE}-chat")
    assert [m["type"] for m in hpa["spec"]["metrics"]] == ["Resource"]
    assert rendered.find("HorizontalPodAutoscaler", f"{RELEASE}-relay") is None


def test_autoscaling_with_no_metric_at_all_is_refused():
    values = values_with(**{"dataPlane.relay.autoscaling.enabled": True, "dataPlane.relay.autoscaling.cpuUtilization": 0})
    with pytest.raises(helm.HelmRenderError, match="inFlightPerPod or cpuUtilization"):
        render(PLATFORM, values)


def test_tenant_lane_and_mock_values_reach_every_role():
    rendered = render(PLATFORM, values_with(**{"dataPlane.tenant": "acme", "dataPlane.lane": "canary", "dataPlane.builtinMock": True}))
    for role in ROLES:
        env = env_of(rendered.get("Deployment", f"{RELEASE}-{role}"))
        assert (env["OBLIVIOUS_TENANT"]["value"], env["OBLIVIOUS_LANE"]["value"], env["OBLIVIOUS_BUILTIN_MOCK"]["value"]) == ("acme", "canary", "true")


def test_traces_are_exported_only_when_an_endpoint_is_set_and_name_the_role_tenant_and_lane(defaults):
    for role in ROLES:
        env = env_of(defaults.get("Deployment", f"{RELEASE}-{role}"))
        assert not [k for k in env if k.startswith("OTEL_")], f"{role} exports traces by default"
    values = values_with(**{"dataPlane.tracing.otlpEndpoint": "http://collector.obs:4317", "dataPlane.tenant": "acme", "dataPlane.lane": "canary"})
    rendered = render(PLATFORM, values)
    for role in ROLES:
        names = [e["name"] for e in container(rendered.get("Deployment", f"{RELEASE}-{role}"))["env"]]
        env = env_of(rendered.get("Deployment", f"{RELEASE}-{role}"))
        assert env["OTEL_EXPORTER_OTLP_ENDPOINT"]["value"] == "http://collector.obs:4317"
        assert env["OTEL_SERVICE_NAME"]["value"] == f"oblivious-{role}"
        assert (env["OTEL_TRACES_SAMPLER"]["value"], env["OTEL_TRACES_SAMPLER_ARG"]["value"]) == ("parentbased_traceidratio", "0.1")
        attributes = dict(pair.split("=", 1) for pair in env["OTEL_RESOURCE_ATTRIBUTES"]["value"].split(","))
        assert attributes["oblivious.tenant"] == "acme" and attributes["oblivious.lane"] == "canary"
        # Kubernetes expands $(VAR) only from variables defined before it.
        assert attributes["k8s.pod.name"] == "$(OBLIVIOUS_POD_NAME)"
        assert names.index("OBLIVIOUS_POD_NAME") < names.index("OTEL_RESOURCE_ATTRIBUTES")


def test_tenant_fleets_get_the_same_trace_export_through_the_operator(defaults):
    assert not [k for k in env_of(defaults.get("Deployment", OPERATOR)) if k.startswith("OBLIVIOUS_FLEET_")]
    rendered = render(PLATFORM, values_with(**{"dataPlane.tracing.otlpEndpoint": "http://collector.obs:4317", "dataPlane.tracing.samplerArg": "0.5"}))
    env = env_of(rendered.get("Deployment", OPERATOR))
    assert env["OBLIVIOUS_FLEET_OTLP_ENDPOINT"]["value"] == "http://collector.obs:4317"
    assert (env["OBLIVIOUS_FLEET_TRACES_SAMPLER"]["value"], env["OBLIVIOUS_FLEET_TRACES_SAMPLER_ARG"]["value"]) == ("parentbased_traceidratio", "0.5")


def test_a_trace_endpoint_that_is_not_a_url_is_refused():
    with pytest.raises(helm.HelmValuesError, match="otlpEndpoint"):
        render(PLATFORM, values_with(**{"dataPlane.tracing.otlpEndpoint": "collector:4317"}))


# --- chat -> relay: OBLIVIOUS_RELAY_URL and OBLIVIOUS_INTERNAL_TOKEN ---------------------------


def internal_token_ref(deployment: Obj) -> dict:
    return env_of(deployment)["OBLIVIOUS_INTERNAL_TOKEN"]["valueFrom"]["secretKeyRef"]


@pytest.mark.parametrize("case", VALUES)
def test_every_relay_gateway_and_chat_pod_reads_the_same_internal_token(case):
    rendered = render(PLATFORM, VALUES[case] or None)
    deployments = [d for d in rendered.of("Deployment") if d.name != OPERATOR]
    assert deployments
    refs = {(internal_token_ref(d)["name"], internal_token_ref(d)["key"]) for d in deployments}
    assert len(refs) == 1, f"pods of one release read different tokens: {refs}"
    (name, key), = refs
    assert key == "OBLIVIOUS_INTERNAL_TOKEN"
    secrets = rendered.of("Secret")
    if secrets:
        assert name == secrets[0].name and key in secrets[0]["data"], "the key the pods read is in the chart's Secret"
    else:
        assert name == VALUES[case]["secrets"]["existingSecret"]
    assert "OBLIVIOUS_INTERNAL_TOKEN" not in {e["name"] for d in deployments for e in container(d)["env"] if "value" in e}, \
        "never a literal in the pod spec"


@pytest.mark.parametrize("case", VALUES)
def test_gateway_and_chat_call_the_relay_service_of_the_release(case):
    values = VALUES[case] or {}
    rendered = render(PLATFORM, values or None)
    relay = rendered.find("Service", f"{RELEASE}-relay")
    external = values.get("dataPlane", {}).get("relayUrl")
    callers = [rendered.find("Deployment", f"{RELEASE}-{role}") for role in ("gateway", "chat", "rag")]
    for caller in filter(None, callers):
        url = env_of(caller)["OBLIVIOUS_RELAY_URL"]["value"]
        if external:
            assert url == external
        else:
            url = urlparse(url)
            assert url.scheme == "http" and url.path == ""
            assert url.hostname == f"{relay.name}.{NAMESPACE}.svc"
            assert url.port == relay["spec"]["ports"][0]["port"]
            assert selects({"matchLabels": relay["spec"]["selector"]}, rendered.get("Deployment", relay.name)["spec"]["template"]["metadata"]["labels"])
        assert internal_token_ref(caller)["optional"] is False, "gateway, chat and rag do not start without it"
    relay_deployment = rendered.find("Deployment", f"{RELEASE}-relay")
    if relay_deployment and not any(callers):
        # A relay with no chat or rag beside it may make its token up (relay-only-values: existingSecret without the key).
        assert internal_token_ref(relay_deployment)["optional"] is True
    if relay_deployment:
        assert "OBLIVIOUS_RELAY_URL" not in env_of(relay_deployment)


def test_without_the_relay_gateway_chat_and_rag_need_a_relay_url():
    off = values_with(**{"dataPlane.relay.enabled": False})
    with pytest.raises(helm.HelmRenderError, match="dataPlane.relayUrl"):
        render(PLATFORM, off)
    with pytest.raises(helm.HelmRenderError, match="dataPlane.relayUrl"):
        render(PLATFORM, values_with(**{"dataPlane.relay.enabled": False, "dataPlane.gateway.enabled": False}))
    # rag alone still embeds through a relay.
    with pytest.raises(helm.HelmRenderError, match="dataPlane.relayUrl"):
        render(PLATFORM, values_with(**{"dataPlane.relay.enabled": False, "dataPlane.gateway.enabled": False,
                                        "dataPlane.chat.enabled": False}))
    # No caller, no need.
    alone = render(PLATFORM, values_with(**{f"dataPlane.{role}.enabled": False for role in ROLES}))
    assert [d.name for d in alone.of("Deployment")] == [OPERATOR]


def test_a_relay_url_reaches_gateway_chat_and_rag_and_wins_over_the_release_relay():
    url = "https://relay.platform.example.com"
    for relay_on in (False, True):
        rendered = render(PLATFORM, values_with(**{"dataPlane.relay.enabled": relay_on, "dataPlane.relayUrl": url}))
        for role in ("gateway", "chat", "rag"):
            assert env_of(rendered.get("Deployment", f"{RELEASE}-{role}"))["OBLIVIOUS_RELAY_URL"]["value"] == url


@pytest.mark.parametrize("bad", ["relay:8080", "ftp://relay", "http://", "http:// relay"])
def test_schema_refuses_a_relay_url_that_is_not_http(bad):
    with pytest.raises(helm.HelmValuesError):
        render(PLATFORM, values_with(**{"dataPlane.relayUrl": bad}))


def test_relay_only_with_an_existing_secret_keeps_working_without_the_token_key():
    rendered = render(PLATFORM, VALUES["relay-only-values.yaml"])
    ref = internal_token_ref(rendered.get("Deployment", f"{RELEASE}-relay"))
    assert (ref["name"], ref["optional"]) == ("oblivious-connection", True)


# --- Secrets ---------------------------------------------------------------------------------


def test_chart_secret_carries_only_the_values_given_and_a_generated_jwt_key(defaults, ha):
    secret = defaults.get("Secret", f"{RELEASE}-secrets")
    generated = {"OBLIVIOUS_JWT_SECRET", "OBLIVIOUS_INTERNAL_TOKEN"}
    assert set(secret["data"]) == generated, "unset keys stay unset so roles use their defaults"
    for key in generated:
        assert len(base64.b64decode(secret["data"][key])) >= 32, key
    assert secret["data"]["OBLIVIOUS_JWT_SECRET"] != secret["data"]["OBLIVIOUS_INTERNAL_TOKEN"], "two keys, two values"
    full = ha.get("Secret", f"{RELEASE}-secrets")["data"]
    assert set(full) == {"DATABASE_URL", "REDIS_URL", "OBLIVIOUS_JWT_SECRET", "OBLIVIOUS_INTERNAL_TOKEN", "OBLIVIOUS_BOOTSTRAP_KEY"}
    assert base64.b64decode(full["DATABASE_URL"]).decode() == VALUES["ha-values.yaml"]["secrets"]["databaseUrl"]
    assert base64.b64decode(full["OBLIVIOUS_INTERNAL_TOKEN"]).decode() == VALUES["ha-values.yaml"]["secrets"]["internalToken"]
    assert "internal token (relay <- chat, rag) was generated" in defaults.notes and "internal token" not in ha.notes
    assert "WARNING: no DATABASE_URL" in defaults.notes and "WARNING" not in ha.notes


def test_existing_secret_replaces_the_chart_secret_everywhere():
    rendered = render(PLATFORM, VALUES["relay-only-values.yaml"])
    assert rendered.of("Secret") == []
    env = env_of(rendered.get("Deployment", f"{RELEASE}-relay"))
    assert env["DATABASE_URL"]["valueFrom"]["secretKeyRef"]["name"] == "oblivious-connection"
    assert env_of(rendered.get("Deployment", OPERATOR))["OBLIVIOUS_DATABASE_SECRET"]["value"] == "oblivious-connection"
    assert "checksum/secrets" not in (rendered.get("Deployment", f"{RELEASE}-relay")["spec"]["template"]["metadata"].get("annotations") or {})


@pytest.mark.parametrize("inline", [{"databaseUrl": "postgres://h/db"}, {"internalToken": "t" * 40}], ids=["databaseUrl", "internalToken"])
def test_existing_secret_and_inline_values_together_are_refused(inline):
    with pytest.raises(helm.HelmRenderError, match="existingSecret"):
        render(PLATFORM, {"secrets": {"existingSecret": "x", **inline}})


def test_pods_roll_when_the_chart_secret_changes():
    annotation = lambda r: r.get("Deployment", f"{RELEASE}-relay")["spec"]["template"]["metadata"]["annotations"]["checksum/secrets"]  # noqa: E731
    keys = {"secrets.jwtSecret": "a" * 40, "secrets.internalToken": "b" * 40}
    one = render(PLATFORM, values_with(**keys, **{"secrets.databaseUrl": "postgres://h/one"}))
    two = render(PLATFORM, values_with(**keys, **{"secrets.databaseUrl": "postgres://h/two"}))
    same = render(PLATFORM, values_with(**keys, **{"secrets.databaseUrl": "postgres://h/one"}))
    assert annotation(one) != annotation(two)
    assert annotation(one) == annotation(same)


# --- optional pieces: NetworkPolicy, Ingress, ServiceMonitor ----------------------------------


def test_no_network_policy_ingress_or_service_monitor_by_default(defaults):
    for kind in ("NetworkPolicy", "Ingress", "ServiceMonitor", "HorizontalPodAutoscaler"):
        assert defaults.of(kind) == [], kind


def test_network_policies_exist_for_the_operator_and_each_role_when_enabled(ha):
    names = {p.name for p in ha.of("NetworkPolicy")}
    assert names == {OPERATOR, *(f"{RELEASE}-{r}" for r in ROLES)}
    deployments = ha.of("Deployment")
    for policy in ha.of("NetworkPolicy"):
        chosen = [d.name for d in deployments if selects(policy["spec"]["podSelector"], d["spec"]["template"]["metadata"]["labels"])]
        assert chosen == [policy.name]


def test_operator_accepts_traffic_only_on_its_port(ha):
    policy = ha.get("NetworkPolicy", OPERATOR)["spec"]
    assert policy["policyTypes"] == ["Ingress"]
    assert [r["ports"] for r in policy["ingress"]] == [[{"port": 8081, "protocol": "TCP"}]]
    assert policy["ingress"][0]["from"] == [{"namespaceSelector": {}}], "Tenant fleets dial it from their own namespaces"


def test_data_plane_egress_is_dns_config_stream_databases_peers_and_providers(ha):
    operator_pods = ha.get("Deployment", OPERATOR)["spec"]["template"]["metadata"]["labels"]
    relay_pods = ha.get("Deployment", f"{RELEASE}-relay")["spec"]["template"]["metadata"]["labels"]
    for role in ROLES:
        spec = ha.get("NetworkPolicy", f"{RELEASE}-{role}")["spec"]
        assert spec["policyTypes"] == ["Ingress", "Egress"]
        egress = spec["egress"]
        ports = lambda rule: {(p["port"], p["protocol"]) for p in rule.get("ports", [])}  # noqa: E731
        assert any(ports(r) == {(53, "UDP"), (53, "TCP")} and "to" not in r for r in egress), "DNS"
        config = [r for r in egress if ports(r) == {(8081, "TCP")}]
        assert len(config) == 1 and selects(config[0]["to"][0]["podSelector"], operator_pods)
        peers = [r for r in egress if ports(r) == {(8080, "TCP")}]
        assert peers and selects(peers[0]["to"][0]["podSelector"], relay_pods)
        database = [r for r in egress if ports(r) == {(5432, "TCP")}]
        assert database[0]["to"][0]["namespaceSelector"]["matchLabels"] == {"kubernetes.io/metadata.name": "databases"}
        assert [r for r in egress if ports(r) == {(6379, "TCP")}]
        providers = [r for r in egress if ports(r) == {(443, "TCP")}]
        block = providers[0]["to"][0]["ipBlock"]
        assert block["cidr"] == "0.0.0.0/0" and "10.0.0.0/8" in block["except"]
        assert egress[-1] == VALUES["ha-values.yaml"]["networkPolicy"]["extraEgress"][0]
        allowed_ports = set().union(*(ports(r) for r in egress))
        assert (8081, "TCP") in allowed_ports and (22, "TCP") not in allowed_ports


def test_without_an_ingress_only_the_gateway_is_open_to_everyone():
    values = copy.deepcopy(VALUES["ha-values.yaml"])
    values["ingress"]["enabled"] = False
    rendered = render(PLATFORM, values)
    gateway = rendered.get("NetworkPolicy", f"{RELEASE}-gateway")["spec"]["ingress"]
    assert gateway == [{"ports": [{"port": 8080, "protocol": "TCP"}]}], "no `from`: the edge takes any source"
    gateway_pods = rendered.get("Deployment", f"{RELEASE}-gateway")["spec"]["template"]["metadata"]["labels"]
    operator_pods = rendered.get("Deployment", OPERATOR)["spec"]["template"]["metadata"]["labels"]
    for role in ("chat", "relay"):
        rule = rendered.get("NetworkPolicy", f"{RELEASE}-{role}")["spec"]["ingress"][0]
        assert rule["ports"] == [{"port": 8080, "protocol": "TCP"}]
        assert selects(rule["from"][0]["podSelector"], gateway_pods)
        assert not selects(rule["from"][0]["podSelector"], operator_pods)
        assert rule["from"][1:] == values["networkPolicy"]["metricsFrom"]


def test_what_the_ingress_routes_to_accepts_the_edge_peers(ha):
    # ha: Ingress on, gatewayFrom empty -> relay and chat are edges open to any source too.
    for role in API_ROLES:
        rule = ha.get("NetworkPolicy", f"{RELEASE}-{role}")["spec"]["ingress"]
        assert rule == [{"ports": [{"port": 8080, "protocol": "TCP"}]}], role
    # rag is no edge: only the platform's pods and the scrapers.
    assert "from" in ha.get("NetworkPolicy", f"{RELEASE}-rag")["spec"]["ingress"][0]
    # With gatewayFrom set they take exactly those peers, beside the platform's pods and scrapers.
    controller = {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "ingress-nginx"}}}
    values = copy.deepcopy(VALUES["ha-values.yaml"])
    values["networkPolicy"]["gatewayFrom"] = [controller]
    rendered = render(PLATFORM, values)
    assert rendered.get("NetworkPolicy", f"{RELEASE}-gateway")["spec"]["ingress"][0]["from"] == [controller]
    for role in ("chat", "relay"):
        peers = rendered.get("NetworkPolicy", f"{RELEASE}-{role}")["spec"]["ingress"][0]["from"]
        assert peers[1:] == values["networkPolicy"]["metricsFrom"] + [controller], role


def routes(rendered, rule=0) -> dict[str, str]:
    """path -> Service of one Ingress rule, each backend checked to be a rendered Service's named port."""
    ingress = rendered.get("Ingress", f"{RELEASE}-gateway")
    table = {}
    for path in ingress["spec"]["rules"][rule]["http"]["paths"]:
        backend = path["backend"]["service"]
        service = rendered.get("Service", backend["name"])
        assert backend["port"]["name"] in {p["name"] for p in service["spec"]["ports"]}
        assert path["path"] not in table, f"{path['path']} routed twice"
        assert path["pathType"] == "Prefix"
        table[path["path"]] = backend["name"]
    return table


CHAT_PATHS = ("/api/v1/chat", "/api/v1/agents", "/api/v1/models")


def test_ingress_sends_the_relay_apis_to_the_relay_the_chat_api_to_chat_and_the_rest_to_the_gateway(ha):
    ingress = ha.get("Ingress", f"{RELEASE}-gateway")
    relay, chat, gateway = (f"{RELEASE}-{r}" for r in ("relay", "chat", "gateway"))
    assert routes(ha) == {"/v1": relay, "/v1beta": relay, **{p: chat for p in CHAT_PATHS}, "/": gateway}
    assert ingress["spec"]["rules"][0]["host"] == "ai.example.com"
    assert ingress["spec"]["ingressClassName"] == "nginx"
    assert ingress["spec"]["tls"][0]["secretName"] == "ai-example-com-tls"
    assert "https://ai.example.com/v1" in ha.notes and "https://ai.example.com/\n" in ha.notes


def test_without_a_chat_deployment_the_gateway_serves_the_chat_api():
    rendered = render(PLATFORM, values_with(**{"ingress.enabled": True, "dataPlane.chat.enabled": False}))
    relay, gateway = f"{RELEASE}-relay", f"{RELEASE}-gateway"
    assert routes(rendered) == {"/v1": relay, "/v1beta": relay, "/": gateway}


def test_without_the_relay_the_ingress_has_no_relay_routes():
    rendered = render(PLATFORM, values_with(**{"ingress.enabled": True, "dataPlane.relay.enabled": False,
                                               "dataPlane.relayUrl": "http://relay.shared.svc:8080"}))
    assert set(routes(rendered)) == {*CHAT_PATHS, "/"}


def test_ingress_hosts_share_the_route_table_and_a_listed_relay_path_stays_the_relays():
    hosts = [{"host": "a.example.com"}, {"host": "b.example.com", "paths": [{"path": "/", "pathType": "Prefix"},
                                                                              {"path": "/v1", "pathType": "Prefix"}]}]
    rendered = render(PLATFORM, {"ingress": {"enabled": True, "hosts": hosts}})
    assert routes(rendered, 0) == routes(rendered, 1)
    assert routes(rendered, 1)["/v1"] == f"{RELEASE}-relay"


STREAMING = {
    "nginx.ingress.kubernetes.io/proxy-buffering": "off",
    "nginx.ingress.kubernetes.io/proxy-read-timeout": "3600",
    "nginx.ingress.kubernetes.io/proxy-send-timeout": "3600",
    "nginx.ingress.kubernetes.io/proxy-body-size": "32m",
}


def test_ingress_turns_ingress_nginx_buffering_off_for_streams_by_default():
    annotations = lambda r: r.get("Ingress", f"{RELEASE}-gateway")["metadata"].get("annotations") or {}  # noqa: E731
    assert annotations(render(PLATFORM, values_with(**{"ingress.enabled": True}))) == STREAMING
    # The user's annotations win one by one, and add to the set.
    mine = {"nginx.ingress.kubernetes.io/proxy-read-timeout": "86400", "example.com/x": "1"}
    assert annotations(render(PLATFORM, values_with(**{"ingress.enabled": True, "ingress.annotations": mine}))) == {**STREAMING, **mine}
    # Another controller: none of ingress-nginx's.
    other = {"traefik.ingress.kubernetes.io/router.entrypoints": "websecure"}
    assert annotations(render(PLATFORM, values_with(**{"ingress.enabled": True, "ingress.nginxAnnotations": False,
                                                       "ingress.annotations": other}))) == other


def test_ingress_without_a_gateway_is_refused():
    with pytest.raises(helm.HelmRenderError, match="gateway"):
        render(PLATFORM, {"ingress": {"enabled": True}, "dataPlane": {"gateway": {"enabled": False}}})


def test_service_monitors_scrape_named_ports_of_services_they_select(ha):
    monitors = ha.of("ServiceMonitor")
    assert {m.name for m in monitors} == {OPERATOR, f"{RELEASE}-data-plane"}
    for monitor in monitors:
        spec = monitor["spec"]
        assert monitor.labels["release"] == "kube-prometheus-stack"
        assert spec["namespaceSelector"] == {"matchNames": [NAMESPACE]}
        services = [s for s in ha.of("Service") if selects(spec["selector"], s.labels)]
        assert services, f"{monitor.name} selects no Service"
        for endpoint in spec["endpoints"]:
            assert endpoint["path"] == "/metrics"
            for service in services:
                assert endpoint["port"] in {p["name"] for p in service["spec"]["ports"]}
    data_plane = ha.get("ServiceMonitor", f"{RELEASE}-data-plane")
    assert {s.name for s in ha.of("Service") if selects(data_plane["spec"]["selector"], s.labels)} == {f"{RELEASE}-{r}" for r in ROLES}


# --- alerts and dashboards: valid PromQL over metrics the binaries serve -------------------------

SERVED = {
    line.split()[0]
    for name in ("data-plane.txt", "operator.txt")
    for line in (PLATFORM / "metrics" / name).read_text().splitlines()
    if line.strip() and not line.startswith("#")
}


def metric_names(expr: str) -> set[str]:
    """The metric names an expression selects (parsed, so a syntax error fails the test)."""
    names: set[str] = set()

    def walk(node):
        kind = type(node).__name__
        if kind == "VectorSelector":
            names.add(node.name)
        for attr in ("lhs", "rhs", "expr", "param", "vector_selector"):
            child = getattr(node, attr, None)
            if child is not None and type(child).__module__ == "promql_parser":
                walk(child)
        for arg in getattr(node, "args", None) or []:
            walk(arg)

    walk(promql_parser.parse(expr.replace("$__rate_interval", "5m")))
    return names


def base_name(series: str) -> str:
    for suffix in ("_total", "_bucket", "_sum", "_count", "_created"):
        if series.endswith(suffix):
            return series[: -len(suffix)]
    return series


def test_alert_rules_are_valid_promql_over_served_metrics(ha):
    rule = ha.get("PrometheusRule", f"{RELEASE}")
    assert rule.labels["release"] == "kube-prometheus-stack"
    alerts = [r for group in rule["spec"]["groups"] for r in group["rules"]]
    assert {a["alert"] for a in alerts} == {
        "ObliviousHighErrorRate", "ObliviousChannelFailing", "ObliviousChannelEjected",
        "ObliviousQuotaStoreUnreachable", "ObliviousChargesPending", "ObliviousConfigNacked",
        "ObliviousTenantBudgetNearlySpent",
    }
    for alert in alerts:
        names = metric_names(alert["expr"])
        assert names and {base_name(n) for n in names} <= SERVED, f"{alert['alert']}: {names - SERVED}"
        assert f'namespace="{NAMESPACE}"' in alert["expr"], "an alert covers only its release's namespace"
        assert alert["labels"]["severity"] in {"warning", "critical"} and alert["annotations"]["summary"]


def test_the_error_rate_alert_uses_the_configured_threshold():
    rendered = render(PLATFORM, values_with(**{"prometheusRule.enabled": True, "prometheusRule.errorRatio": 0.2}))
    rules = {r["alert"]: r for g in rendered.get("PrometheusRule", RELEASE)["spec"]["groups"] for r in g["rules"]}
    assert rules["ObliviousHighErrorRate"]["expr"].rstrip().endswith("> 0.2")
    assert "20%" in rules["ObliviousHighErrorRate"]["annotations"]["summary"]


def test_dashboards_are_sidecar_configmaps_of_panels_over_served_metrics(ha):
    maps = [m for m in ha.of("ConfigMap") if m.name.startswith(f"{RELEASE}-dashboard-")]
    assert [m.name for m in maps] == [f"{RELEASE}-dashboard-overview"]
    for config_map in maps:
        assert config_map.labels["grafana_dashboard"] == "1"
        (name, text), = config_map["data"].items()
        dashboard = json.loads(text)
        assert name.endswith(".json") and dashboard["uid"] and dashboard["panels"]
        for panel in dashboard["panels"]:
            for target in panel["targets"]:
                names = metric_names(target["expr"])
                assert names and {base_name(n) for n in names} <= SERVED, f"{panel['title']}: {names}"


def test_no_alerts_or_dashboards_unless_asked(defaults):
    assert not defaults.of("PrometheusRule")
    assert not [m for m in defaults.of("ConfigMap") if "dashboard" in m.name]


# --- rag: the knowledge bases' ingestion worker --------------------------------------------------


def test_rag_runs_the_ingestion_worker_calling_the_relay_with_the_internal_token(defaults):
    deployment = defaults.get("Deployment", f"{RELEASE}-rag")
    c = container(deployment)
    assert c["command"] == ["oblivious"] and c["args"][0] == "rag"
    assert deployment["spec"]["replicas"] == 1
    env = env_of(deployment)
    relay = defaults.get("Service", f"{RELEASE}-relay")
    assert env["OBLIVIOUS_RELAY_URL"]["value"] == f"http://{relay.name}.{NAMESPACE}.svc:8080", "it embeds through the relay"
    ref = internal_token_ref(deployment)
    assert (ref["name"], ref["key"], ref["optional"]) == (f"{RELEASE}-secrets", "OBLIVIOUS_INTERNAL_TOKEN", False)
    # Its Service only exists to be scraped: ClusterIP, the same named port.
    service = defaults.get("Service", f"{RELEASE}-rag")
    assert service["spec"]["type"] == "ClusterIP"
    assert service["spec"]["ports"] == [{"name": "http", "port": 8080, "targetPort": "http", "protocol": "TCP"}]


def test_a_relay_with_rag_beside_it_requires_the_internal_token():
    values = values_with(VALUES["relay-only-values.yaml"], **{"dataPlane.rag.enabled": True})
    rendered = render(PLATFORM, values)
    for role in ("relay", "rag"):
        ref = internal_token_ref(rendered.get("Deployment", f"{RELEASE}-{role}"))
        assert (ref["name"], ref["optional"]) == ("oblivious-connection", False), role


@pytest.mark.parametrize("case", [c for c in VALUES if (VALUES[c].get("ingress") or {}).get("enabled")] + ["every-host"])
def test_no_ingress_path_routes_to_rag_and_its_network_policy_is_no_edge(case):
    if case == "every-host":
        hosts = [{"host": "a.example.com"}, {"host": "b.example.com", "paths": [{"path": "/", "pathType": "Prefix"},
                                                                                  {"path": "/rag", "pathType": "Prefix"}]}]
        values = {"ingress": {"enabled": True, "hosts": hosts}, "networkPolicy": {"enabled": True}}
    else:
        values = VALUES[case]
    rendered = render(PLATFORM, values)
    assert rendered.find("Deployment", f"{RELEASE}-rag"), "rag runs beside the Ingress"
    ingress = rendered.get("Ingress", f"{RELEASE}-gateway")
    backends = {p["backend"]["service"]["name"] for rule in ingress["spec"]["rules"] for p in rule["http"]["paths"]}
    assert f"{RELEASE}-rag" not in backends and backends
    # Not an edge: only the platform's pods and the scrapers may reach it, never any source.
    policy = rendered.get("NetworkPolicy", f"{RELEASE}-rag")["spec"]["ingress"]
    assert len(policy) == 1 and policy[0]["from"]
    peers = policy[0]["from"]
    gateway_from = (values.get("networkPolicy") or {}).get("gatewayFrom") or []
    assert not [p for p in gateway_from if p in peers], "the Ingress controller's peers are not rag's"


def test_rag_autoscales_on_the_external_pending_jobs_metric_with_a_cpu_fallback(ha):
    deployment = ha.get("Deployment", f"{RELEASE}-rag")
    assert "replicas" not in deployment["spec"], "the HPA owns replicas"
    hpa = ha.get("HorizontalPodAutoscaler", f"{RELEASE}-rag")
    assert hpa["spec"]["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": deployment.name}
    assert (hpa["spec"]["minReplicas"], hpa["spec"]["maxReplicas"]) == (1, 8)
    metrics = {m["type"]: m for m in hpa["spec"]["metrics"]}
    assert set(metrics) == {"External", "Resource"}, "a global count, not a per-pod (Pods) metric"
    # Every rag pod reports the same global count: AverageValue divides it by the replicas, so
    # desired replicas = ceil(pending / pendingJobsPerPod).
    assert metrics["External"]["external"] == {"metric": {"name": "oblivious_rag_jobs_pending"},
                                               "target": {"type": "AverageValue", "averageValue": "4"}}
    assert metrics["Resource"]["resource"]["target"] == {"type": "Utilization", "averageUtilization": 80}
    assert env_of(deployment)["OBLIVIOUS_REPLICAS"]["value"] == "1"
    # The other roles keep their Pods metric.
    assert [m["type"] for m in ha.get("HorizontalPodAutoscaler", f"{RELEASE}-relay")["spec"]["metrics"]] == ["Pods"]


def test_rag_autoscaling_metric_name_cpu_only_and_no_metric_at_all():
    auto = "dataPlane.rag.autoscaling"
    renamed = render(PLATFORM, values_with(**{f"{auto}.enabled": True, f"{auto}.pendingJobsPerPod": 10,
                                              f"{auto}.pendingJobsMetric": "rag_pending_max", f"{auto}.cpuUtilization": 0}))
    metrics = renamed.get("HorizontalPodAutoscaler", f"{RELEASE}-rag")["spec"]["metrics"]
    assert metrics == [{"type": "External", "external": {"metric": {"name": "rag_pending_max"},
                                                         "target": {"type": "AverageValue", "averageValue": "10"}}}]
    # Without an adapter (the default pendingJobsPerPod 0): CPU only.
    cpu = render(PLATFORM, values_with(**{f"{auto}.enabled": True}))
    assert [m["type"] for m in cpu.get("HorizontalPodAutoscaler", f"{RELEASE}-rag")["spec"]["metrics"]] == ["Resource"]
    with pytest.raises(helm.HelmRenderError, match="pendingJobsPerPod or cpuUtilization"):
        render(PLATFORM, values_with(**{f"{auto}.enabled": True, f"{auto}.cpuUtilization": 0}))


# --- objectStore: users' files -------------------------------------------------------------------

OBJECT_ENV = ("OBLIVIOUS_OBJECT_STORE", "AWS_REGION", "AWS_ENDPOINT_URL", "AWS_ALLOW_HTTP", "AWS_ACCESS_KEY_ID",
              "AWS_SECRET_ACCESS_KEY", "OBLIVIOUS_MAX_FILE_BYTES", "OBLIVIOUS_USER_STORAGE_BYTES")

MINIO = {"objectStore.url": "s3://oblivious/files", "objectStore.existingSecret": "minio-keys",
         "objectStore.region": "eu-west-1", "objectStore.endpoint": "http://minio.storage.svc:9000",
         "objectStore.allowHttp": True, "objectStore.maxFileBytes": 31457280, "objectStore.userStorageBytes": 10737418240}


def test_object_store_values_reach_gateway_chat_and_rag_but_not_the_relay():
    rendered = render(PLATFORM, values_with(**MINIO))
    for role in FILE_ROLES:
        env = env_of(rendered.get("Deployment", f"{RELEASE}-{role}"))
        values = {k: env[k].get("value") for k in OBJECT_ENV if "value" in env.get(k, {})}
        assert values == {
            "OBLIVIOUS_OBJECT_STORE": "s3://oblivious/files",
            "AWS_REGION": "eu-west-1",
            "AWS_ENDPOINT_URL": "http://minio.storage.svc:9000",
            "AWS_ALLOW_HTTP": "true",
            "OBLIVIOUS_MAX_FILE_BYTES": "31457280",
            "OBLIVIOUS_USER_STORAGE_BYTES": "10737418240",
        }, role
    relay = env_of(rendered.get("Deployment", f"{RELEASE}-relay"))
    assert not set(OBJECT_ENV) & set(relay), "the relay never reads files"


def test_object_store_keys_come_from_its_existing_secret():
    rendered = render(PLATFORM, values_with(**MINIO))
    for role in FILE_ROLES:
        env = env_of(rendered.get("Deployment", f"{RELEASE}-{role}"))
        for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
            assert env[key]["valueFrom"]["secretKeyRef"] == {"name": "minio-keys", "key": key, "optional": True}, (role, key)
    # Never in the chart's own Secret, and never a literal.
    assert not {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"} & set(rendered.get("Secret", f"{RELEASE}-secrets")["data"])
    # Without existingSecret no key variables at all: the S3 client uses the pods' identity.
    ambient = render(PLATFORM, values_with(**{"objectStore.url": "s3://oblivious"}))
    env = env_of(ambient.get("Deployment", f"{RELEASE}-rag"))
    assert env["OBLIVIOUS_OBJECT_STORE"]["value"] == "s3://oblivious"
    assert not {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_REGION", "AWS_ENDPOINT_URL", "AWS_ALLOW_HTTP"} & set(env)


def test_without_an_object_store_files_stay_in_the_pod_and_the_notes_warn(defaults, ha):
    for role in FILE_ROLES:
        env = env_of(defaults.get("Deployment", f"{RELEASE}-{role}"))
        assert not set(OBJECT_ENV) & set(env), "unset: the data dir on the state emptyDir"
    assert "WARNING: no objectStore.url" in defaults.notes
    assert "objectStore" not in ha.notes
    # Limits apply to the local store too.
    limited = render(PLATFORM, values_with(**{"objectStore.maxFileBytes": 1048576}))
    assert env_of(limited.get("Deployment", f"{RELEASE}-gateway"))["OBLIVIOUS_MAX_FILE_BYTES"]["value"] == "1048576"
    # No gateway, no uploads: nothing to warn about.
    assert "objectStore" not in render(PLATFORM, VALUES["lane-values.yaml"], release="oblivious-gray").notes


@pytest.mark.parametrize(
    "values, message",
    [
        ({"objectStore.existingSecret": "keys"}, "objectStore.url is empty"),
        ({"objectStore.endpoint": "https://minio.example.com"}, "objectStore.url is empty"),
        ({"objectStore.url": "s3://b", "objectStore.endpoint": "http://minio:9000"}, "allowHttp"),
    ],
    ids=["keys-without-url", "endpoint-without-url", "http-without-allowHttp"],
)
def test_object_store_settings_that_would_be_ignored_or_refused_fail_to_render(values, message):
    with pytest.raises(helm.HelmRenderError, match=message):
        render(PLATFORM, values_with(**values))


@pytest.mark.parametrize(
    "values, ports",
    [
        ({"objectStore.url": "s3://b"}, [443]),
        ({"objectStore.url": "s3://b", "objectStore.endpoint": "http://minio.storage.svc:9000", "objectStore.allowHttp": True}, [9000]),
        ({"objectStore.url": "s3://b", "objectStore.endpoint": "http://minio.storage.svc", "objectStore.allowHttp": True}, [80]),
        ({"objectStore.url": "s3://b", "objectStore.endpoint": "https://s3.example.com"}, [443]),
        ({"objectStore.url": "s3://b", "objectStore.endpoint": "https://s3.example.com:9443", "networkPolicy.objectStore.ports": [9443, 443]}, [9443, 443]),
    ],
    ids=["aws", "endpoint-port", "http-default", "https-default", "explicit"],
)
def test_gateway_chat_and_rag_may_reach_the_object_store_and_the_relay_may_not(values, ports):
    storage = [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "storage"}}}]
    rendered = render(PLATFORM, values_with(**values, **{"networkPolicy.enabled": True, "networkPolicy.objectStore.to": storage,
                                                         "networkPolicy.providers.ports": [8443]}))
    store_rule = {"ports": [{"port": p, "protocol": "TCP"} for p in ports], "to": storage}
    for role in FILE_ROLES:
        assert store_rule in rendered.get("NetworkPolicy", f"{RELEASE}-{role}")["spec"]["egress"], role
    assert store_rule not in rendered.get("NetworkPolicy", f"{RELEASE}-relay")["spec"]["egress"]
    # Without a url, no rule at all.
    plain = render(PLATFORM, values_with(**{"networkPolicy.enabled": True, "networkPolicy.objectStore.to": storage}))
    for role in ROLES:
        assert not [r for r in plain.get("NetworkPolicy", f"{RELEASE}-{role}")["spec"]["egress"] if r.get("to") == storage], role


def test_rag_network_policy_reaches_dns_the_operator_the_databases_and_the_relay_which_accepts_it(ha):
    policy = ha.get("NetworkPolicy", f"{RELEASE}-rag")["spec"]
    rag_pods = pod_labels(ha.get("Deployment", f"{RELEASE}-rag"))
    relay_pods = pod_labels(ha.get("Deployment", f"{RELEASE}-relay"))
    operator_pods = pod_labels(ha.get("Deployment", OPERATOR))
    ports = lambda rule: {(p["port"], p["protocol"]) for p in rule.get("ports", [])}  # noqa: E731
    egress = policy["egress"]
    assert any(ports(r) == {(53, "UDP"), (53, "TCP")} and "to" not in r for r in egress), "DNS"
    assert any(ports(r) == {(8081, "TCP")} and selects(r["to"][0]["podSelector"], operator_pods) for r in egress)
    assert any(ports(r) == {(5432, "TCP")} for r in egress) and any(ports(r) == {(6379, "TCP")} for r in egress)
    assert any(ports(r) == {(8080, "TCP")} and selects(r["to"][0]["podSelector"], relay_pods) for r in egress), "embeddings"
    # ha keeps files on AWS S3: 443 to anywhere (providers' ipBlock excludes private ranges).
    assert {"ports": [{"port": 443, "protocol": "TCP"}]} in egress
    # The relay takes rag's embedding calls, the ServiceMonitor scrapes rag.
    relay_rule = ha.get("NetworkPolicy", f"{RELEASE}-relay")["spec"]["ingress"][0]
    assert "from" not in relay_rule or any("podSelector" in p and selects(p["podSelector"], rag_pods) for p in relay_rule["from"])
    behind = copy.deepcopy(VALUES["ha-values.yaml"])
    behind["ingress"]["enabled"] = False
    relay_rule = render(PLATFORM, behind).get("NetworkPolicy", f"{RELEASE}-relay")["spec"]["ingress"][0]
    assert any("podSelector" in p and selects(p["podSelector"], rag_pods) for p in relay_rule["from"]), "relay <- rag"
    rag_rule = policy["ingress"][0]
    assert rag_rule["from"][1:] == VALUES["ha-values.yaml"]["networkPolicy"]["metricsFrom"]


def test_the_lane_values_run_no_rag_and_the_notes_never_make_it_a_lane_member():
    assert VALUES["lane-values.yaml"]["dataPlane"]["rag"]["enabled"] is False
    with_rag = lane_release(**{"dataPlane.rag.enabled": True})
    assert with_rag.get("Deployment", f"{LANE_RELEASE}-rag")
    assert "service: rag" not in with_rag.notes and "service: chat" in with_rag.notes
    assert "rag is no Lane member" in with_rag.notes


# --- names under another release ---------------------------------------------------------------


def test_another_release_name_prefixes_everything_and_the_config_server_follows():
    rendered = render(PLATFORM, release="ai", namespace="platform")
    operator = rendered.get("Service", "ai-oblivious-operator")
    for role in ROLES:
        args = container(rendered.get("Deployment", f"ai-oblivious-{role}"))["args"]
        assert args[args.index("--config-server") + 1] == f"http://{operator.name}.platform.svc:8081"
    assert env_of(rendered.get("Deployment", "ai-oblivious-operator"))["OBLIVIOUS_CONFIG_SERVER"]["value"] == f"http://{operator.name}.platform.svc:8081"


# --- a lane fleet as a second release (ci/lane-values.yaml) ----------------------------------------

LANE_RELEASE = "oblivious-gray"
LANE_TAG = "gray"
LANE_LABEL = "oblivious.dev/lane"


def lane_values(**paths) -> dict:
    """ci/lane-values.yaml with dotted paths set on top."""
    return values_with(VALUES["lane-values.yaml"], **paths)


def lane_release(**paths):
    """The lane fleet as the README installs it: release oblivious-gray beside the main release."""
    return render(PLATFORM, lane_values(**paths), release=LANE_RELEASE)


def pod_labels(deployment: Obj) -> dict:
    return deployment["spec"]["template"]["metadata"]["labels"]


def data_plane_deployments(rendered) -> list[Obj]:
    return [d for d in rendered.of("Deployment") if d.labels.get("app.kubernetes.io/component") in ROLES]


def test_the_lane_values_describe_a_lane_fleet_reusing_the_main_release():
    values = VALUES["lane-values.yaml"]
    assert values["operator"]["enabled"] is False
    assert values["secrets"] == {"existingSecret": f"{RELEASE}-secrets"}, "the main release's Secret, nothing inline"
    assert values["dataPlane"]["lane"] == LANE_TAG
    assert values["dataPlane"]["configServer"] == f"http://{OPERATOR}.{NAMESPACE}.svc:8081"
    assert values["dataPlane"]["gateway"]["enabled"] is False
    assert values["dataPlane"]["chat"]["replicas"] == values["dataPlane"]["relay"]["replicas"] == 1


def test_a_lane_release_renders_no_operator_objects():
    # Every optional piece on, so nothing of the operator can hide behind a default.
    rendered = lane_release(**{"serviceMonitor.enabled": True, "networkPolicy.enabled": True, "rbac.create": True})
    operator_objects = [f"{o.kind}/{o.name}" for o in rendered
                        if o.labels.get("app.kubernetes.io/component") == "operator" or "operator" in o.name]
    assert operator_objects == []
    assert not [o for o in rendered if o.kind in {"Role", "RoleBinding", "ClusterRole", "ClusterRoleBinding"}]
    assert {d.name for d in rendered.of("Deployment")} == {f"{LANE_RELEASE}-chat", f"{LANE_RELEASE}-relay"}
    assert {s.name for s in rendered.of("ServiceAccount")} == {f"{LANE_RELEASE}-chat", f"{LANE_RELEASE}-relay"}
    assert [m.name for m in rendered.of("ServiceMonitor")] == [f"{LANE_RELEASE}-data-plane"]
    assert rendered.of("Secret") == [], "the main release's Secret is reused"
    assert "leader Lease" not in rendered.notes and "Operator: none in this release" in rendered.notes
    assert VALUES["lane-values.yaml"]["dataPlane"]["configServer"] in rendered.notes


def test_lane_pods_carry_the_lane_label_and_tag_and_dial_the_configured_config_server():
    rendered = lane_release()
    server = VALUES["lane-values.yaml"]["dataPlane"]["configServer"]
    deployments = data_plane_deployments(rendered)
    assert {d.labels["app.kubernetes.io/component"] for d in deployments} == {"chat", "relay"}
    for deployment in deployments:
        assert pod_labels(deployment)[LANE_LABEL] == LANE_TAG
        env = env_of(deployment)
        assert env["OBLIVIOUS_LANE"]["value"] == LANE_TAG
        args = container(deployment)["args"]
        assert args[args.index("--config-server") + 1] == server
        assert deployment["spec"]["replicas"] == 1
        # Same Secret as the main release: one database, one JWT key, one internal token.
        for key in ("DATABASE_URL", "OBLIVIOUS_JWT_SECRET", "OBLIVIOUS_INTERNAL_TOKEN"):
            assert env[key]["valueFrom"]["secretKeyRef"]["name"] == f"{RELEASE}-secrets", key
    # Lane chat's baseline relay is the main release's; the Lane sends dyed requests to gray.
    chat = env_of(rendered.get("Deployment", f"{LANE_RELEASE}-chat"))
    assert chat["OBLIVIOUS_RELAY_URL"]["value"] == f"http://{RELEASE}-relay.{NAMESPACE}.svc:8080"


@pytest.mark.parametrize("case", [c for c in VALUES if not (VALUES[c].get("dataPlane") or {}).get("lane")])
def test_baseline_pods_carry_no_lane_label(case):
    rendered = render(PLATFORM, VALUES[case] or None)
    deployments = rendered.of("Deployment")
    assert deployments
    for deployment in deployments:
        assert LANE_LABEL not in pod_labels(deployment), deployment.name
        if deployment.name != OPERATOR:
            assert env_of(deployment)["OBLIVIOUS_LANE"]["value"] == ""


@pytest.mark.parametrize("case", VALUES)
def test_the_chart_never_puts_the_lane_label_on_a_service_or_workload(case):
    # The Lane controller deletes Services labelled oblivious.dev/lane=<lane> it did not make;
    # a Deployment's own labels have no business carrying it either. Only pod templates do.
    rendered = render(PLATFORM, VALUES[case] or None)
    for obj in rendered:
        assert LANE_LABEL not in obj.labels, f"{obj.kind}/{obj.name}"


def test_common_labels_cannot_smuggle_the_lane_label_onto_services():
    with pytest.raises(helm.HelmRenderError, match="oblivious.dev/lane"):
        render(PLATFORM, values_with(**{"commonLabels": {LANE_LABEL: LANE_TAG}}))


@pytest.mark.parametrize(
    "grace, pause, expected",
    [(60, 5, "35s"), (90, 10, "60s"), (300, 30, "250s"), (26, 5, "1s"), (10, 5, "1s"), (0, 5, "1s")],
    ids=["default", "longer", "long-streams", "just-enough", "too-short", "zero"],
)
def test_shutdown_grace_is_the_termination_grace_period_less_the_prestop_pause_and_20_seconds(grace, pause, expected):
    rendered = render(PLATFORM, values_with(**{"dataPlane.terminationGracePeriodSeconds": grace,
                                               "dataPlane.preStopSleepSeconds": pause}))
    assert int(expected[:-1]) == max(1, grace - pause - 20)
    for deployment in data_plane_deployments(rendered):
        env = env_of(deployment)
        assert env["OBLIVIOUS_SHUTDOWN_GRACE"]["value"] == expected, deployment.name
        assert pod_spec(deployment)["terminationGracePeriodSeconds"] == grace
        assert container(deployment)["lifecycle"]["preStop"]["sleep"]["seconds"] == pause


def test_shutdown_delay_is_set_only_when_there_is_no_prestop_hook():
    with_hook = render(PLATFORM)
    for deployment in data_plane_deployments(with_hook):
        assert "OBLIVIOUS_SHUTDOWN_DELAY" not in env_of(deployment), "the preStop sleep is the pause"
        assert container(deployment)["lifecycle"]["preStop"]["sleep"]["seconds"] == 5
    without = render(PLATFORM, values_with(**{"dataPlane.preStopSleepSeconds": 0, "dataPlane.terminationGracePeriodSeconds": 60}))
    for deployment in data_plane_deployments(without):
        env = env_of(deployment)
        assert "lifecycle" not in container(deployment)
        assert env["OBLIVIOUS_SHUTDOWN_DELAY"]["value"] == "5s", "the process pauses itself instead"
        # The in-process pause comes out of the same termination grace period as a hook would:
        # pause + grace + checkpoint (5 s) + flush (10 s) stays below it (drain.rs).
        assert env["OBLIVIOUS_SHUTDOWN_GRACE"]["value"] == "35s"
        assert 5 + 35 + 15 < pod_spec(deployment)["terminationGracePeriodSeconds"]


@pytest.mark.parametrize("case", VALUES)
def test_every_ci_fleet_fits_its_drain_into_the_termination_grace_period(case):
    # drain.rs: keep the termination grace period above pause + OBLIVIOUS_SHUTDOWN_GRACE + 15 s.
    rendered = render(PLATFORM, VALUES[case] or None)
    for deployment in data_plane_deployments(rendered):
        env, c = env_of(deployment), container(deployment)
        hook = (c.get("lifecycle") or {}).get("preStop", {}).get("sleep", {}).get("seconds", 0)
        delay = int(env["OBLIVIOUS_SHUTDOWN_DELAY"]["value"][:-1]) if "OBLIVIOUS_SHUTDOWN_DELAY" in env else 0
        assert (hook == 0) != (delay == 0), "exactly one pause: the preStop hook or the process's own"
        grace = int(env["OBLIVIOUS_SHUTDOWN_GRACE"]["value"][:-1])
        assert hook + delay + grace + 15 < pod_spec(deployment)["terminationGracePeriodSeconds"], deployment.name


def test_operator_off_without_a_config_server_fails_to_render():
    with pytest.raises(helm.HelmRenderError, match="dataPlane.configServer"):
        render(PLATFORM, values_with(**{"operator.enabled": False}))
    with pytest.raises(helm.HelmRenderError, match="dataPlane.configServer"):
        render(PLATFORM, lane_values(**{"dataPlane.configServer": ""}), release=LANE_RELEASE)


@pytest.mark.parametrize("bad", ["oblivious-operator:8081", "grpc://oblivious-operator:8081", "http://", "http:// op"])
def test_schema_refuses_a_config_server_that_is_not_http(bad):
    with pytest.raises(helm.HelmValuesError):
        render(PLATFORM, values_with(**{"dataPlane.configServer": bad}))


@pytest.mark.parametrize("bad", ["Gray", "gray_1", "-gray", "baseline", "g" * 64])
def test_schema_refuses_a_lane_tag_a_lane_could_not_have(bad):
    with pytest.raises(helm.HelmValuesError):
        render(PLATFORM, values_with(**{"dataPlane.lane": bad}))


def test_a_config_server_reaches_the_data_plane_while_the_operator_keeps_announcing_its_own():
    url = "https://config.platform.example.com"
    rendered = render(PLATFORM, values_with(**{"dataPlane.configServer": url}))
    for deployment in data_plane_deployments(rendered):
        args = container(deployment)["args"]
        assert args[args.index("--config-server") + 1] == url
    # Tenant fleets still dial this release's operator.
    assert env_of(rendered.get("Deployment", OPERATOR))["OBLIVIOUS_CONFIG_SERVER"]["value"] == f"http://{OPERATOR}.{NAMESPACE}.svc:8081"


def test_the_lane_release_selector_labels_differ_so_baseline_services_never_select_lane_pods():
    main = render(PLATFORM)
    lane = lane_release()
    main_pods = {d.name: pod_labels(d) for d in data_plane_deployments(main)}
    lane_pods = {d.name: pod_labels(d) for d in data_plane_deployments(lane)}
    for role in ("chat", "relay"):
        ours, theirs = main.get("Deployment", f"{RELEASE}-{role}"), lane.get("Deployment", f"{LANE_RELEASE}-{role}")
        # Same name and component: only app.kubernetes.io/instance tells them apart.
        assert ours["spec"]["selector"]["matchLabels"] != theirs["spec"]["selector"]["matchLabels"]
        assert theirs["spec"]["selector"]["matchLabels"]["app.kubernetes.io/instance"] == LANE_RELEASE
    for rendered, others in ((main, lane_pods), (lane, main_pods)):
        for service in rendered.of("Service"):
            strays = [n for n, labels in others.items() if selects({"matchLabels": service["spec"]["selector"]}, labels)]
            assert strays == [], f"Service {service.name} selects the other release's pods {strays}"
        for budget in rendered.of("PodDisruptionBudget"):
            assert not [n for n, labels in others.items() if selects(budget["spec"]["selector"], labels)], budget.name
        for deployment in data_plane_deployments(rendered):
            assert not [n for n, labels in others.items() if selects(deployment["spec"]["selector"], labels)], deployment.name
    # What a Lane's member selector picks: exactly the lane version of that role.
    for role in ("chat", "relay"):
        member = {"matchLabels": {LANE_LABEL: LANE_TAG, "app.kubernetes.io/component": role}}
        chosen = [n for n, labels in {**main_pods, **lane_pods}.items() if selects(member, labels)]
        assert chosen == [f"{LANE_RELEASE}-{role}"]


def test_network_policies_let_baseline_and_lane_pods_reach_each_other_and_the_main_operator():
    main = render(PLATFORM, VALUES["ha-values.yaml"])
    lane = lane_release(**{"networkPolicy.enabled": True})
    operator_pods = pod_labels(main.get("Deployment", OPERATOR))
    ports = lambda rule: {(p["port"], p["protocol"]) for p in rule.get("ports", [])}  # noqa: E731

    def egress_allows(policy, labels, port, same_namespace=True):
        for rule in policy["spec"]["egress"]:
            if (port, "TCP") not in ports(rule):
                continue
            for peer in rule.get("to", []):
                if "podSelector" in peer and selects(peer["podSelector"], labels) and (same_namespace or "namespaceSelector" in peer):
                    return True
        return False

    def ingress_allows(policy, labels):
        return any("from" not in rule or any("podSelector" in p and "namespaceSelector" not in p and selects(p["podSelector"], labels)
                                             for p in rule["from"])
                   for rule in policy["spec"]["ingress"])

    for role in ("chat", "relay"):
        policy = lane.get("NetworkPolicy", f"{LANE_RELEASE}-{role}")
        # The config stream of the main release's operator, wherever its namespace is.
        config = [r for r in policy["spec"]["egress"] if ports(r) == {(8081, "TCP")}]
        assert len(config) == 1 and config[0]["to"][0]["namespaceSelector"] == {}
        assert egress_allows(policy, operator_pods, 8081, same_namespace=False)
        assert not selects(config[0]["to"][0]["podSelector"], pod_labels(main.get("Deployment", f"{RELEASE}-relay")))
        # Lane pods call the baseline's (its relay is lane chat's baseline) ...
        assert egress_allows(policy, pod_labels(main.get("Deployment", f"{RELEASE}-relay")), 8080)
        # ... and the baseline's gateway and chat reach the lane's pods (next hop, forwarding).
        for caller in ("gateway", "chat"):
            labels = pod_labels(main.get("Deployment", f"{RELEASE}-{caller}"))
            assert ingress_allows(policy, labels), (role, caller)
            assert egress_allows(main.get("NetworkPolicy", f"{RELEASE}-{caller}"), pod_labels(lane.get("Deployment", f"{LANE_RELEASE}-{role}")), 8080)
        assert not ingress_allows(policy, operator_pods)
    # The main release's own pods still reach only its own operator.
    own = [r for r in main.get("NetworkPolicy", f"{RELEASE}-relay")["spec"]["egress"] if ports(r) == {(8081, "TCP")}]
    assert own[0]["to"] == [{"podSelector": {"matchLabels": main.get("Service", OPERATOR)["spec"]["selector"]}}]


def test_a_lane_gateway_behind_restricted_edge_peers_still_takes_what_baseline_pods_forward():
    controller = {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "ingress-nginx"}}}
    lane = lane_release(**{"dataPlane.gateway.enabled": True, "networkPolicy.enabled": True, "networkPolicy.gatewayFrom": [controller]})
    main = render(PLATFORM)
    peers = lane.get("NetworkPolicy", f"{LANE_RELEASE}-gateway")["spec"]["ingress"][0]["from"]
    assert peers[0] == controller
    assert any("podSelector" in p and selects(p["podSelector"], pod_labels(main.get("Deployment", f"{RELEASE}-gateway"))) for p in peers[1:])
