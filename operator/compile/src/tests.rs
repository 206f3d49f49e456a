use std::path::Path;

use oblivious_crds::{Manifests, parse_documents};

use super::*;

mod tools;

fn manifests(text: &str) -> Manifests {
    let mut manifests = Manifests::default();
    let mut errors = Vec::new();
    parse_documents(Path::new("dir/m.yaml"), text, &mut manifests, &mut errors);
    assert!(errors.is_empty(), "{errors:?}");
    manifests
}

const SECRET: &str =
    "apiVersion: v1\nkind: Secret\nmetadata: {name: keys}\nstringData: {k: \"sk-one\\nsk-two, sk-three\"}\n";

fn channel(name: &str, extra: &str) -> String {
    format!(
        "apiVersion: oblivious.dev/v1alpha1\nkind: Channel\nmetadata: {{name: {name}}}\nspec:\n  provider: openai\n  \
         baseUrl: https://api.example.com/v1/\n  apiKeySecretRef: {{name: keys, key: k}}\n  models: [{{name: gpt-4o}}]\n{extra}"
    )
}

fn errors_of(text: &str) -> Vec<CompileError> {
    compile(&manifests(text)).expect_err("compile should fail")
}

#[test]
fn a_channel_compiles_with_its_keys_split_and_url_normalized() {
    let snap = compile(&manifests(&format!("{SECRET}---\n{}", channel("a", "")))).unwrap();
    let c = &snap.channels[0];
    assert_eq!(c.name, "default/a");
    assert_eq!(c.base_url, "https://api.example.com/v1");
    let keys: Vec<&str> = c.api_keys.iter().map(|k| k.expose()).collect();
    assert_eq!(keys, ["sk-one", "sk-two", "sk-three"]);
    assert_eq!(c.models[0].upstream_model, "gpt-4o");
    assert_eq!(snap.version.len(), 16);
}

#[test]
fn the_version_depends_on_content_not_on_document_order() {
    let a = compile(&manifests(&format!("{SECRET}---\n{}---\n{}", channel("a", ""), channel("b", "")))).unwrap();
    let b = compile(&manifests(&format!("{}---\n{}---\n{SECRET}", channel("b", ""), channel("a", "")))).unwrap();
    assert_eq!(a, b);
    let c = compile(&manifests(&format!("{SECRET}---\n{}---\n{}", channel("a", "  weight: 5\n"), channel("b", ""))))
        .unwrap();
    assert_ne!(a.version, c.version);
}

#[test]
fn a_missing_secret_names_the_file_resource_and_field() {
    let errors = errors_of(&channel("a", ""));
    assert_eq!(errors.len(), 1);
    assert_eq!(
        errors[0].to_string(),
        "dir/m.yaml: Channel default/a: spec.apiKeySecretRef.name: Secret `default/keys` not found"
    );
}

#[test]
fn a_missing_key_in_an_existing_secret_is_its_own_error() {
    let text = format!("{SECRET}---\n{}", channel("a", "").replace("key: k", "key: nope"));
    assert_eq!(errors_of(&text)[0].path, "spec.apiKeySecretRef.key");
}

#[test]
fn duplicate_models_bad_urls_and_bad_timeouts_are_all_reported() {
    let spec = channel("a", "  timeouts: {firstByte: soon}\n")
        .replace("models: [{name: gpt-4o}]", "models: [{name: gpt-4o}, {name: gpt-4o}]")
        .replace("https://api.example.com/v1/", "ftp://x");
    let errors = errors_of(&format!("{SECRET}---\n{spec}"));
    let paths: Vec<&str> = errors.iter().map(|e| e.path.as_str()).collect();
    assert_eq!(paths, ["spec.baseUrl", "spec.models[1].name", "spec.timeouts.firstByte"]);
}

#[test]
fn the_builtin_mock_upstream_is_an_accepted_base_url() {
    let text = format!(
        "{SECRET}---\n{}",
        channel("a", "").replace("https://api.example.com/v1/", "builtin://mock-upstream/v1")
    );
    assert_eq!(compile(&manifests(&text)).unwrap().channels[0].base_url, "builtin://mock-upstream/v1");
}

fn vertex_channel(extra: &str) -> String {
    let sa = r#"{\"type\": \"service_account\", \"client_email\": \"relay@p.iam.gserviceaccount.com\", \"private_key\": \"-----BEGIN PRIVATE KEY-----\\nAAA\\n-----END PRIVATE KEY-----\\n\"}"#;
    format!(
        "apiVersion: v1\nkind: Secret\nmetadata: {{name: sa}}\nstringData: {{json: \"{sa}\"}}\n---\n\
         apiVersion: oblivious.dev/v1alpha1\nkind: Channel\nmetadata: {{name: v}}\nspec:\n  provider: vertex-ai\n  \
         apiKeySecretRef: {{name: sa, key: json}}\n  models: [{{name: gemini-2.5-flash}}]\n{extra}"
    )
}

#[test]
fn a_vertex_channel_keeps_its_service_account_whole_and_defaults_to_the_regional_endpoint() {
    let snap =
        compile(&manifests(&vertex_channel("  vertex: {project: my-project, location: europe-west4}\n"))).unwrap();
    let c = &snap.channels[0];
    assert_eq!(c.provider, oblivious_config::Provider::VertexAi);
    assert_eq!(c.base_url, "https://europe-west4-aiplatform.googleapis.com");
    let target = c.vertex.as_ref().unwrap();
    assert_eq!((target.project.as_str(), target.location.as_str()), ("my-project", "europe-west4"));
    assert_eq!(c.api_keys.len(), 1, "a service-account JSON is one key despite its commas");
    assert!(c.api_keys[0].expose().contains("relay@p.iam.gserviceaccount.com"));
    assert!(!format!("{c:?}").contains("PRIVATE KEY"), "Debug redacts the service account");

    let global = compile(&manifests(&vertex_channel(
        "  vertex: {project: my-project, location: global}\n  baseUrl: http://127.0.0.1:9/\n",
    )))
    .unwrap();
    assert_eq!(global.channels[0].base_url, "http://127.0.0.1:9", "an explicit baseUrl wins");
}

#[test]
fn vertex_settings_are_required_for_vertex_and_refused_elsewhere() {
    assert_eq!(errors_of(&vertex_channel(""))[0].path, "spec.vertex");
    let text = format!("{SECRET}---\n{}", channel("a", "  vertex: {project: my-project, location: us-east1}\n"));
    assert_eq!(errors_of(&text)[0].path, "spec.vertex");
}

#[test]
fn prices_become_micro_units_and_a_model_priced_twice_is_refused() {
    let pricing = |name: &str| {
        format!(
            "apiVersion: oblivious.dev/v1alpha1\nkind: ModelPricing\nmetadata: {{name: {name}}}\nspec:\n  currency: USD\n  \
             models: [{{name: gpt-4o, input: \"2.50\", output: \"10\", cachedInput: \"1.25\"}}]\n"
        )
    };
    let snap = compile(&manifests(&pricing("list-a"))).unwrap();
    let price = snap.price("gpt-4o", 0).unwrap();
    assert_eq!(
        (price.input, price.output, price.cached_input, price.cache_write),
        (2_500_000, 10_000_000, Some(1_250_000), None)
    );
    let errors = errors_of(&format!("{}---\n{}", pricing("list-a"), pricing("list-b")));
    assert!(
        errors[0].reason.contains("already priced from the same instant by ModelPricing default/list-a"),
        "{}",
        errors[0]
    );
}

fn pricing_with(name: &str, extra: &str, model: &str) -> String {
    format!(
        "apiVersion: oblivious.dev/v1alpha1\nkind: ModelPricing\nmetadata: {{name: {name}}}\nspec:\n  currency: USD\n  \
         models: [{model}]\n{extra}"
    )
}

#[test]
fn a_scheduled_price_list_takes_over_at_its_effective_time() {
    let now = pricing_with("now", "", "{name: m, input: \"1\", output: \"2\"}");
    let later =
        pricing_with("later", "  effectiveFrom: \"2026-12-01T00:00:00Z\"\n", "{name: m, input: \"3\", output: \"4\"}");
    let snap = compile(&manifests(&format!("{now}---\n{later}"))).unwrap();
    let december = 1_796_083_200_000; // 2026-12-01T00:00:00Z
    assert_eq!(snap.price("m", december - 1).map(|p| p.input), Some(1_000_000));
    assert_eq!(snap.price("m", december).map(|p| p.input), Some(3_000_000));
    let bad = pricing_with("bad", "  effectiveFrom: \"next tuesday\"\n", "{name: m, input: \"1\", output: \"1\"}");
    assert_eq!(errors_of(&bad)[0].path, "spec.effectiveFrom");
}

#[test]
fn group_default_models_compile_and_a_group_set_twice_is_named() {
    let first = pricing_with("a", "  groupDefaultModels: {vip: m}\n", "{name: m, input: \"1\", output: \"1\"}");
    let snap = compile(&manifests(&first)).unwrap();
    assert_eq!(snap.group_default_models.get("vip").map(String::as_str), Some("m"));
    let second = pricing_with("b", "  groupDefaultModels: {vip: n}\n", "{name: n, input: \"1\", output: \"1\"}");
    let errors = errors_of(&format!("{first}\n---\n{second}"));
    assert_eq!(errors.iter().map(|e| e.path.as_str()).collect::<Vec<_>>(), ["spec.groupDefaultModels.vip"]);
}

#[test]
fn multipliers_tiers_and_group_limits_compile_and_their_mistakes_are_named() {
    let extra = "  groupMultipliers: {vip: \"0.8\"}\n  groupLimits:\n    - {group: default, rpm: 60, tpm: 100000}\n    \
                 - {group: default, model: m, rpm: 600}\n";
    let model = "{name: m, input: \"1\", output: \"2\", reasoning: \"3\", perRequest: \"0.01\", \
                 tiers: [{aboveInputTokens: 200000, input: \"2\", output: \"4\"}]}";
    let snap = compile(&manifests(&pricing_with("p", extra, model))).unwrap();
    let price = snap.price("m", 0).unwrap();
    assert_eq!((price.reasoning, price.per_request, price.multiplier_ppm("vip")), (Some(3_000_000), 10_000, 800_000));
    assert_eq!(price.tiers[0].above_input_tokens, 200_000);
    assert_eq!(snap.user_limit("default").and_then(|l| l.rpm), Some(60));
    assert_eq!(snap.group_model_limit("default", "m").and_then(|l| l.rpm), Some(600));

    let extra = "  groupMultipliers: {vip: \"-1\"}\n  groupLimits: [{group: default}, {group: x, rpm: 0}]\n";
    let model = "{name: m, input: \"1\", output: \"2\", tiers: [{aboveInputTokens: 5, input: \"x\", output: \"1\"}]}";
    let paths: Vec<String> = errors_of(&pricing_with("p", extra, model)).into_iter().map(|e| e.path).collect();
    assert_eq!(
        paths,
        ["spec.groupMultipliers.vip", "spec.models[0].tiers[0].input", "spec.groupLimits[0]", "spec.groupLimits[1]"]
    );
}

#[test]
fn agents_must_name_served_models_and_their_parameters_become_thousandths() {
    let agent = |model: &str, temperature: &str| {
        format!(
            "apiVersion: oblivious.dev/v1alpha1\nkind: Agent\nmetadata: {{name: helper}}\nspec:\n  displayName: Helper\n  \
             model: {model}\n  systemPrompt: Be kind.\n  parameters: {{temperature: \"{temperature}\", maxTokens: 512}}\n"
        )
    };
    let text = format!("{SECRET}---\n{}---\n{}", channel("a", ""), agent("gpt-4o", "0.7"));
    let snap = compile(&manifests(&text)).unwrap();
    assert_eq!(snap.agents[0].name, "default/helper");
    assert_eq!((snap.agents[0].temperature_milli, snap.agents[0].max_tokens), (Some(700), Some(512)));
    let text = format!("{SECRET}---\n{}---\n{}", channel("a", ""), agent("nope", "3"));
    let paths: Vec<String> = errors_of(&text).into_iter().map(|e| e.path).collect();
    assert_eq!(paths, ["spec.model", "spec.parameters.temperature"]);
}

fn lane(name: &str, extra: &str) -> String {
    format!(
        "apiVersion: oblivious.dev/v1alpha1\nkind: Lane\nmetadata: {{name: {name}}}\nspec:\n  tag: {name}\n  \
         members:\n  - {{service: relay, endpoint: 'http://10.0.0.7:8080/'}}\n  - {{service: chat, selector: {{track: {name}}}}}\n{extra}"
    )
}

#[test]
fn lanes_compile_sorted_by_priority_with_fixed_endpoints_ready_and_selector_members_as_observed() {
    let text = format!(
        "{}---\n{}",
        lane("blue", "  priority: 1\n  conditions: {rules: [{header: {name: X-Canary, value: '1'}}]}\n"),
        lane("gray", "  priority: 5\n  expiresAt: '2030-01-01T00:00:00Z'\n  fallback: Strict\n")
    );
    let snap = compile(&manifests(&text)).unwrap();
    let tags: Vec<&str> = snap.lanes.iter().map(|l| l.tag.as_str()).collect();
    assert_eq!(tags, ["gray", "blue"], "highest priority first");
    let gray = &snap.lanes[0];
    assert_eq!(gray.expires_at_ms, Some(1_893_456_000_000));
    assert_eq!(gray.fallback, oblivious_config::LaneFallback::Strict);
    assert_eq!(gray.members[0].service, "chat", "members sorted by service");
    assert!(!gray.members[0].ready, "a selector member nobody observed is not ready");
    assert_eq!(gray.members[1].endpoint, "http://10.0.0.7:8080");
    assert!(gray.members[1].ready);
    assert_eq!(snap.lanes[1].rules[0].header.as_ref().unwrap().name, "x-canary", "header names are lowercased");

    let observed = Observed {
        lane_members: [(
            "default/gray".to_string(),
            [(
                "chat".to_string(),
                ObservedMember { endpoint: "http://chat-lane-gray.default.svc:8080".into(), ready: true },
            )]
            .into(),
        )]
        .into(),
        ..Observed::default()
    };
    let seen = compile_with(&manifests(&text), &observed).unwrap();
    assert!(seen.lanes[0].members[0].ready);
    assert_ne!(seen.version, snap.version, "readiness is part of the content");
}

#[test]
fn a_disabled_lane_is_left_out_and_a_reused_tag_is_an_error_on_the_later_name() {
    let snap = compile(&manifests(&lane("gray", "  enabled: false\n"))).unwrap();
    assert!(snap.lanes.is_empty());
    let text = format!("{}---\n{}", lane("b", ""), lane("a", "").replace("tag: a", "tag: b"));
    let errors = errors_of(&text);
    assert_eq!(errors.len(), 1);
    assert_eq!(errors[0].resource, "Lane default/b");
    assert!(errors[0].reason.contains("already uses tag `b`"));
}

#[test]
fn a_lane_rule_must_set_exactly_one_matcher() {
    let errors = errors_of(&lane(
        "gray",
        "  conditions: {rules: [{percentage: 5, userIds: [u]}, {hash: {stickyKey: 'nope', percent: 5}}]}\n",
    ));
    let paths: Vec<&str> = errors.iter().map(|e| e.path.as_str()).collect();
    assert_eq!(paths, ["spec.conditions.rules[0]", "spec.conditions.rules[1]"], "{errors:?}");
}

const TENANT: &str = "apiVersion: oblivious.dev/v1alpha1\nkind: Tenant\nmetadata: {name: acme}\nspec:\n  namespace: tenant-acme\n  budget: {currency: USD, monthlyLimit: '5000.5'}\n";

#[test]
fn the_tenant_a_snapshot_is_for_brings_its_budget_and_others_are_only_checked() {
    let m = manifests(TENANT);
    assert_eq!(compile(&m).unwrap().tenant, None);
    let observed = Observed { tenant: Some("acme".into()), ..Observed::default() };
    let tenant = compile_with(&m, &observed).unwrap().tenant.unwrap();
    assert_eq!(tenant.budget.unwrap().monthly_limit_micros, 5_000_500_000);
    let errors = errors_of(&TENANT.replace("tenant-acme", "Not_A_Namespace"));
    assert_eq!(errors[0].path, "spec.namespace");
}

#[test]
fn tolerant_compile_leaves_out_a_broken_channel_and_the_agent_that_needed_it() {
    let agent = "apiVersion: oblivious.dev/v1alpha1\nkind: Agent\nmetadata: {name: helper}\nspec: {displayName: H, model: only-here}\n";
    let broken = channel("broken", "").replace("gpt-4o", "only-here").replace("name: keys", "name: missing");
    let text = format!("{SECRET}---\n{}---\n{broken}---\n{agent}", channel("good", ""));
    let compiled = compile_tolerant(&manifests(&text), &Observed::default());
    let names: Vec<&str> = compiled.snapshot.channels.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, ["default/good"]);
    assert!(compiled.snapshot.agents.is_empty());
    let rejected: Vec<&(String, String)> = compiled.rejected.keys().collect();
    assert_eq!(
        rejected,
        [&("Agent".to_string(), "default/helper".to_string()), &("Channel".to_string(), "default/broken".to_string())]
    );
    assert!(compiled.rejected[&("Agent".into(), "default/helper".into())][0].reason.contains("no Channel serves"));
    assert!(!compiled.snapshot.version.is_empty());
}

#[test]
fn tolerant_compile_of_valid_resources_equals_the_strict_compile() {
    let text = format!("{SECRET}---\n{}---\n{}", channel("a", ""), lane("gray", ""));
    let strict = compile(&manifests(&text)).unwrap();
    let tolerant = compile_tolerant(&manifests(&text), &Observed::default());
    assert_eq!(tolerant.snapshot, strict);
    assert!(tolerant.rejected.is_empty());
}
