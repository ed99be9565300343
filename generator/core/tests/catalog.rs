//! The catalog as specifications: deterministic files, servers that agree with the rendered
//! cluster template, producers and consumers from the ACLs, channels that carry what the
//! declarations say, escaped HTML, and project metadata in the desired state.

mod support;

use std::collections::BTreeMap;

use kafka_platform_core::catalog::{self, SchemaDoc, Schemas, StageCatalog};
use kafka_platform_core::desired::{DesiredState, desired_state};
use kafka_platform_core::render::render_stage;
use kafka_platform_core::span::sibling;
use kafka_platform_core::{StageModel, StageName, load_and_resolve};
use serde_json::{Value, json};
use support::*;

/// Reads the schemas a model's topics declare, as `gen catalog` does.
fn schemas(model: &StageModel) -> Schemas {
    let mut out = Schemas::new();
    for topic in &model.topics {
        for (role, declared) in catalog::declared_schemas(topic) {
            let path = sibling(declared.location.file.as_deref().unwrap(), &declared.value);
            let text = std::fs::read_to_string(&path).unwrap();
            let doc = SchemaDoc::parse(&declared.value, &text).unwrap();
            out.entry(topic.name.value.clone()).or_default().insert(role, doc);
        }
    }
    out
}

fn committed_models() -> BTreeMap<StageName, StageModel> {
    let (models, findings) = load_and_resolve(committed_environments(), &[]);
    assert!(!findings.iter().any(|f| f.is_error()), "{}", show(&findings));
    models
}

fn render_all(models: &BTreeMap<StageName, StageModel>) -> BTreeMap<String, String> {
    let schemas: BTreeMap<StageName, Schemas> = models.iter().map(|(s, m)| (*s, schemas(m))).collect();
    let stages: Vec<StageCatalog<'_>> =
        models.iter().map(|(s, model)| StageCatalog { model, schemas: &schemas[s] }).collect();
    catalog::render(&stages)
}

fn document(model: &StageModel) -> Value {
    let schemas = schemas(model);
    catalog::asyncapi::document(&StageCatalog { model, schemas: &schemas })
}

#[test]
fn the_catalog_is_deterministic_and_has_a_page_per_project_and_topic() {
    let models = committed_models();
    let files = render_all(&models);
    assert_eq!(files, render_all(&models), "same declarations, same bytes");
    for file in [catalog::MARKER_FILE, "index.html", "assets/catalog.css", "assets/catalog.js"] {
        assert!(files.contains_key(file), "{file} missing");
    }
    for (stage, model) in &models {
        for file in ["asyncapi.json", "asyncapi.yaml", "index.html"] {
            assert!(files.contains_key(&format!("{stage}/{file}")), "{stage}/{file} missing");
        }
        for p in &model.projects {
            assert!(files.contains_key(&format!("{stage}/projects/{}.html", p.name)));
        }
        for t in &model.topics {
            assert!(files.contains_key(&format!("{stage}/topics/{}.html", t.name.value)));
        }
        let json: Value = serde_json::from_str(&files[&format!("{stage}/asyncapi.json")]).unwrap();
        let yaml: Value = serde_saphyr::from_str(&files[&format!("{stage}/asyncapi.yaml")]).unwrap();
        assert_eq!(json, yaml, "{stage}: the YAML and JSON documents say the same");
        assert_eq!(json["asyncapi"], "3.0.0");
        assert_eq!(json["channels"].as_object().unwrap().len(), model.topics.len());
    }
    // No page fetches anything from elsewhere (the browser test also watches every request).
    for (name, text) in files.iter().filter(|(n, _)| n.ends_with(".html") || n.ends_with(".css")) {
        for remote in ["src=\"http", "href=\"http", "url(", "@import"] {
            assert!(!text.contains(remote), "{name} refers to a remote resource ({remote})");
        }
    }
}

#[test]
fn servers_are_the_bootstrap_addresses_the_cluster_stack_publishes() {
    for (stage, model) in committed_models() {
        let doc = document(&model);
        let rendered = render_stage(&model);
        let cluster: Value = serde_saphyr::from_str(&rendered.files["cluster.yaml"]).unwrap();
        let outputs = &cluster["Outputs"];
        let servers = &doc["servers"];
        assert_eq!(servers["scram"]["host"], outputs["BootstrapServersScram"]["Value"], "{stage}");
        assert_eq!(servers["mtls"]["host"], outputs["BootstrapServersMtls"]["Value"], "{stage}");
        assert_eq!(
            servers["scram"]["security"][0]["$ref"], "#/components/securitySchemes/scramSha512",
            "{stage}"
        );
        assert_eq!(doc["components"]["securitySchemes"]["scramSha512"]["type"], "scramSha512");
        assert_eq!(doc["components"]["securitySchemes"]["mutualTls"]["type"], "X509");
        match outputs.get("BootstrapServersPublic") {
            Some(public) => assert_eq!(servers["public"]["host"], public["Value"], "{stage}"),
            None => assert!(servers.get("public").is_none(), "{stage}"),
        }
        if model.private_link.is_some() {
            let host = servers["privatelink"]["host"].as_str().unwrap();
            assert_eq!(host, format!("{}:9200", model.cluster.brokers[0].dns_name), "{stage}");
        } else {
            assert!(servers.get("privatelink").is_none(), "{stage}");
        }
        if model.schema_registry.is_some() {
            assert_eq!(
                servers["scram"]["bindings"]["kafka"]["schemaRegistryUrl"],
                outputs["SchemaRegistryUrl"]["Value"],
                "{stage}"
            );
        }
    }
}

/// The baseline with a schema, a tag, a channel, a topic description and an explicit prefixed ACL.
fn described() -> Env {
    Env::baseline()
        .with(
            "projects/schemas/orders.avsc",
            r#"{"type": "record", "name": "Order", "fields": [{"name": "id", "type": "string", "doc": "order id"}]}"#,
        )
        .edit("projects/alpha.yaml", "  email: alpha@example.com\n", "  email: alpha@example.com\n  channel: \"#alpha\"\ntags:\n  cost-center: cc-7\n")
        .edit("projects/alpha.yaml", "    partitions: 3\n", "    partitions: 3\n    description: Orders <b>placed</b> & paid.\n    schema: schemas/orders.avsc\n")
}

#[test]
fn a_channel_carries_partitions_configs_owner_classification_tags_and_schema() {
    let env = described();
    let model = env.model(StageName::Dev);
    let doc = document(&model);
    let ch = &doc["channels"]["alpha.orders.v1"];
    assert_eq!(ch["address"], "alpha.orders.v1");
    assert_eq!(ch["description"], "Orders <b>placed</b> & paid.");
    let kafka = &ch["bindings"]["kafka"];
    assert_eq!((kafka["partitions"].clone(), kafka["replicas"].clone()), (json!(3), json!(1)));
    assert_eq!(kafka["topicConfiguration"]["retention.ms"], json!(86400000), "typed as a number");
    assert_eq!(kafka["topicConfiguration"]["min.insync.replicas"], json!(1));
    assert_eq!(
        ch["x-owner"],
        json!({ "team": "alpha-team", "email": "alpha@example.com", "channel": "#alpha" })
    );
    assert_eq!(ch["x-data-classification"], "internal");
    let tags: Vec<&str> =
        ch["tags"].as_array().unwrap().iter().map(|t| t["name"].as_str().unwrap()).collect();
    assert_eq!(tags, ["classification:internal", "cost-center:cc-7", "project:alpha"]);
    let payload = &ch["messages"]["record"]["payload"];
    assert_eq!(payload["schemaFormat"], "application/vnd.apache.avro+json;version=1.9.0");
    assert_eq!(payload["schema"]["name"], "Order");
    // A topic without a schema has a message without payload.
    assert!(doc["channels"]["beta.invoices.v1"]["messages"]["record"].get("payload").is_none());
}

#[test]
fn producers_and_consumers_come_from_produces_and_consumes() {
    let env = described();
    let model = env.model(StageName::Dev);
    let access = catalog::access::by_topic(&model);
    let orders = &access["alpha.orders.v1"];
    assert_eq!(orders.producers.iter().collect::<Vec<_>>(), ["alpha-shop"]);
    assert_eq!(orders.consumers.iter().collect::<Vec<_>>(), ["alpha-shop", "beta-billing"]);
    assert_eq!(access["beta.invoices.v1"].producers.iter().collect::<Vec<_>>(), ["beta-billing"]);

    let doc = document(&model);
    let ops = doc["operations"].as_object().unwrap();
    let mut ids: Vec<&str> = ops.keys().map(String::as_str).collect();
    ids.sort_unstable();
    assert_eq!(
        ids,
        [
            "alpha-shop.receive.alpha.orders.v1",
            "alpha-shop.send.alpha.orders.v1",
            "beta-billing.receive.alpha.orders.v1",
            "beta-billing.send.beta.invoices.v1",
        ]
    );
    let read = &ops["beta-billing.receive.alpha.orders.v1"];
    assert_eq!(read["action"], "receive");
    assert_eq!(read["channel"]["$ref"], "#/channels/alpha.orders.v1");
    assert_eq!(read["messages"][0]["$ref"], "#/channels/alpha.orders.v1/messages/record");
    assert_eq!(read["security"][0]["$ref"], "#/components/securitySchemes/mutualTls", "beta-billing is mTLS");
    assert_eq!(read["bindings"]["kafka"]["groupId"]["pattern"], "^(beta-billing)");
}

#[test]
fn a_prefixed_acl_makes_an_account_a_reader_of_every_topic_under_it() {
    let env = Env::baseline().edit(
        "projects/beta.yaml",
        "    consumes: [alpha.orders.v1]\n",
        "    consumes: [alpha.orders.v1]\nacls:\n  - service_account: beta-billing\n    resource_type: topic\n    pattern_type: prefixed\n    resource_name: beta.\n    operation: read\n    reason: replays its own topics\n",
    );
    let model = env.model(StageName::Dev);
    let access = catalog::access::by_topic(&model);
    // beta-billing only produces to beta.invoices.v1; it reads it through the prefixed binding.
    assert!(access["beta.invoices.v1"].consumers.contains("beta-billing"), "{access:?}");
    assert!(!access["alpha.orders.v1"].producers.contains("beta-billing"), "{access:?}");
}

#[test]
fn declared_text_is_escaped_in_every_page_and_in_the_search_data() {
    let env = described().edit(
        "projects/alpha.yaml",
        "description: Orders of the alpha shop.",
        "description: \"Orders </script><script>alert(1)</script>\"",
    );
    let model = env.model(StageName::Dev);
    let schemas = schemas(&model);
    let files = catalog::render(&[StageCatalog { model: &model, schemas: &schemas }]);
    let topic = &files["dev/topics/alpha.orders.v1.html"];
    assert!(topic.contains("Orders &lt;b&gt;placed&lt;/b&gt; &amp; paid."), "{topic}");
    assert!(topic.contains("<td><code>id</code></td>"), "the Avro fields are listed");
    for (name, text) in &files {
        assert!(!text.contains("<script>alert(1)"), "{name} lets declared text become markup");
    }
    let index = &files["dev/index.html"];
    assert!(index.contains(r"\u003c/script>\u003cscript>alert(1)"), "the data block keeps the text, inert");
}

#[test]
fn project_metadata_reaches_the_desired_state() {
    let env = described();
    let desired = desired_state(&env.model(StageName::Dev));
    let alpha = desired.projects.iter().find(|p| p.name == "alpha").unwrap();
    assert_eq!(alpha.owner_team, "alpha-team");
    assert_eq!(alpha.owner_channel.as_deref(), Some("#alpha"));
    assert_eq!(alpha.tags, BTreeMap::from([("cost-center".to_string(), "cc-7".to_string())]));
    let text = desired.to_json();
    assert_eq!(serde_json::from_str::<DesiredState>(&text).unwrap(), desired);
    // A desired state written before projects existed still reads.
    let mut old: Value = serde_json::from_str(&text).unwrap();
    old.as_object_mut().unwrap().remove("projects");
    assert!(serde_json::from_value::<DesiredState>(old).unwrap().projects.is_empty());
}
