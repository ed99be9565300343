//! docs/operators-guide.md, "First deploy on a new account", keeps up with the code: the order of
//! stacks is the order `gen render` writes into every manifest and `gen deploy` follows, and the
//! figures it quotes are those of the rendered templates.

mod support;

use std::path::Path;

use kafka_platform_core::manifest::Manifest;
use kafka_platform_core::render::foundation::AUTO_SCALING_SERVICE_LINKED_ROLE;
use kafka_platform_core::render::{render_stage, templates};
use kafka_platform_core::{StageName, load_and_resolve};
use regex::Regex;
use serde_json::Value;
use support::*;

/// The section "First deploy on a new account" of the operator's guide.
fn section() -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/operators-guide.md");
    let guide = std::fs::read_to_string(&path).unwrap_or_else(|err| panic!("{}: {err}", path.display()));
    let start = guide.find("\n## First deploy on a new account\n").expect("the section exists");
    let rest = &guide[start + 1..];
    let end = rest[3..].find("\n## ").map_or(rest.len(), |i| i + 4);
    rest[..end].to_string()
}

/// The stacks of the numbered list, in order (`1. \`artifacts\` — ...`).
fn documented_order() -> Vec<String> {
    let item = Regex::new(r"(?m)^(\d+)\. `([a-z]+)`").unwrap();
    let mut order = Vec::new();
    for (i, c) in item.captures_iter(&section()).enumerate() {
        assert_eq!(c[1].parse::<usize>().unwrap(), i + 1, "the list is numbered 1, 2, ...");
        order.push(c[2].to_string());
    }
    order
}

#[test]
fn the_documented_stack_order_is_the_order_of_render_and_deploy() {
    let documented = documented_order();
    assert_eq!(documented.len(), 6, "{documented:?}");
    let (models, findings) = load_and_resolve(committed_environments(), &[]);
    assert_eq!(models.len(), 4, "{}", show(&findings));
    for (stage, model) in &models {
        let rendered: Vec<&str> = templates(model).iter().map(|(part, _)| *part).collect();
        assert_eq!(documented, rendered, "{stage}: render order");
        // The committed manifest, as `gen deploy` reads and orders it.
        let path = committed_environments().join(format!("../templates/{stage}/manifest.json"));
        let text = std::fs::read_to_string(&path).unwrap_or_else(|err| panic!("{}: {err}", path.display()));
        let manifest: Manifest = serde_json::from_str(&text).unwrap();
        let deployed: Vec<String> = manifest
            .deployment_order(None)
            .unwrap()
            .iter()
            .map(|s| s.template.trim_end_matches(".yaml").to_string())
            .collect();
        assert_eq!(documented, deployed, "{stage}: deploy order");
        assert_eq!(
            manifest.stacks.iter().find(|s| s.before_upload).map(|s| s.template.as_str()),
            Some("artifacts.yaml"),
            "{stage}: the uploads follow the artifacts stack"
        );
    }
}

#[test]
fn the_prerequisites_quote_the_rendered_figures() {
    let section = section();
    let role = AUTO_SCALING_SERVICE_LINKED_ROLE.rsplit('/').next().unwrap();
    assert!(section.contains(role), "the key policy's service-linked role {role}");

    let prod = {
        let (mut models, findings) = load_and_resolve(committed_environments(), &[StageName::Prod]);
        models.remove(&StageName::Prod).unwrap_or_else(|| panic!("{}", show(&findings)))
    };
    let parsed: Vec<Value> = render_stage(&prod)
        .files
        .iter()
        .filter(|(file, _)| file.ends_with(".yaml"))
        .map(|(_, text)| serde_saphyr::from_str(text).unwrap())
        .collect();
    let resources = || parsed.iter().flat_map(|t| t["Resources"].as_object().unwrap().values());
    let figure = |pattern: &str| -> u64 {
        let re = Regex::new(pattern).unwrap();
        re.captures(&section).unwrap_or_else(|| panic!("`{pattern}` in the section"))[1].parse().unwrap()
    };

    let reserved: u64 = resources()
        .filter(|r| r["Type"] == "AWS::Lambda::Function")
        .map(|r| r["Properties"]["ReservedConcurrentExecutions"].as_u64().unwrap())
        .sum();
    assert_eq!(figure(r"(\d+) reserved concurrent\s+executions per stage"), reserved);
    let interface = resources()
        .filter(|r| r["Type"] == "AWS::EC2::VPCEndpoint" && r["Properties"]["VpcEndpointType"] == "Interface")
        .count() as u64;
    assert_eq!(figure(r"(\d+) interface\s+endpoints per VPC"), interface);
}
