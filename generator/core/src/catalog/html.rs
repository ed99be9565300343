//! The static HTML catalog: per stage an index (search, tables, picture), a page per project and
//! per topic; one stylesheet and one script next to them. No external resources, no inline
//! script: the search index is a JSON data block the local script reads.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write;

use serde_json::{Value, json};

use crate::catalog::access::{self, TopicAccess};
use crate::catalog::asyncapi::topic_tags;
use crate::catalog::links::{account_href, escape, file_name, project_href, topic_href};
use crate::catalog::{SchemaDoc, SchemaFormat, SchemaRole, StageCatalog, svg};
use crate::config::project::Authentication;
use crate::model::{Project, ServiceAccount, StageModel, Topic};

const CSS: &str = include_str!("catalog.css");
const JS: &str = include_str!("catalog.js");

/// The files every catalog has once: the stylesheet, the script and the list of stages.
pub fn shared_files(stages: &[StageCatalog<'_>]) -> Vec<(String, String)> {
    let mut body = String::from("<h1>Kafka catalog</h1><ul class=\"stages\">");
    for stage in stages {
        let m = stage.model;
        let _ = write!(
            body,
            r#"<li><a href="{s}/index.html">{s}</a> <span class="muted">{} topics, {} projects, {} service accounts; AsyncAPI: <a href="{s}/asyncapi.yaml">YAML</a>, <a href="{s}/asyncapi.json">JSON</a></span></li>"#,
            m.topics.len(),
            m.projects.len(),
            m.service_accounts.len(),
            s = m.stage,
        );
    }
    body.push_str("</ul>");
    vec![
        ("assets/catalog.css".into(), CSS.into()),
        ("assets/catalog.js".into(), JS.into()),
        ("index.html".into(), page("Kafka catalog", "", &body)),
    ]
}

/// `root` is the way up to the catalog's top directory (`""`, `"../"`, `"../../"`).
fn page(title: &str, root: &str, body: &str) -> String {
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <link rel=\"icon\" href=\"data:,\"><title>{}</title>\
         <link rel=\"stylesheet\" href=\"{root}assets/catalog.css\"></head>\n<body>{body}\
         <script src=\"{root}assets/catalog.js\"></script></body></html>\n",
        escape(title)
    )
}

/// The pages of one stage, by path relative to the stage's directory.
pub fn stage_site(stage: &StageCatalog<'_>) -> Vec<(String, String)> {
    let model = stage.model;
    let access = access::by_topic(model);
    let projects: BTreeMap<&str, &Project> = model.projects.iter().map(|p| (p.name.as_str(), p)).collect();
    let mut files = vec![("index.html".to_string(), index(stage, &access, &projects))];
    for project in &model.projects {
        files.push((project_href(&project.name), project_page(model, project, &access)));
    }
    for topic in &model.topics {
        let who = access.get(&topic.name.value).cloned().unwrap_or_default();
        let schemas = stage.schemas.get(&topic.name.value);
        files.push((
            topic_href(&topic.name.value),
            topic_page(model, topic, projects.get(topic.project.as_str()), &who, schemas),
        ));
    }
    files
}

fn nav(model: &StageModel, up: &str, here: &str) -> String {
    format!(
        r#"<nav><a href="{up}../index.html">catalog</a> / <a href="{up}index.html">{}</a>{}</nav>"#,
        model.stage,
        if here.is_empty() { String::new() } else { format!(" / {}", escape(here)) }
    )
}

fn search_entries(model: &StageModel, projects: &BTreeMap<&str, &Project>) -> Value {
    let mut entries = Vec::new();
    for p in &model.projects {
        let text = format!(
            "{} {} {} {}",
            p.owner_team,
            p.owner_email,
            p.data_classification.map(|c| c.as_str()).unwrap_or(""),
            p.tags.iter().map(|(k, v)| format!("{k}:{v}")).collect::<Vec<_>>().join(" ")
        );
        entries.push(
            json!({ "k": "project", "n": p.name, "u": project_href(&p.name), "d": p.description, "t": text }),
        );
    }
    for t in &model.topics {
        let project = projects.get(t.project.as_str());
        let tags = topic_tags(t, project).into_iter().collect::<Vec<_>>().join(" ");
        let owner = project.map(|p| format!("{} {}", p.owner_team, p.owner_email)).unwrap_or_default();
        entries.push(json!({
            "k": "topic",
            "n": t.name.value,
            "u": topic_href(&t.name.value),
            "d": t.description.clone().unwrap_or_default(),
            "t": format!("{tags} {owner}"),
        }));
    }
    for a in &model.service_accounts {
        entries.push(json!({
            "k": "account",
            "n": a.name.value,
            "u": account_href(&a.project, &a.name.value),
            "d": a.description.clone().unwrap_or_default(),
            "t": format!("project:{} {}", a.project, auth_label(a.authentication)),
        }));
    }
    Value::Array(entries)
}

/// JSON inside a `<script type="application/json">` block: no `<` at all (JSON's `\u003c`), so
/// declared text can neither end the block nor start markup.
fn data_block(value: &Value) -> String {
    serde_json::to_string(value).expect("JSON values serialise").replace('<', "\\u003c")
}

fn index(
    stage: &StageCatalog<'_>,
    access: &BTreeMap<String, TopicAccess>,
    projects: &BTreeMap<&str, &Project>,
) -> String {
    let model = stage.model;
    let mut b = nav(model, "", "");
    let _ = write!(
        b,
        r#"<h1>Kafka {stage}</h1><p class="muted">{} topics, {} projects, {} service accounts. AsyncAPI 3.0: <a href="asyncapi.yaml">asyncapi.yaml</a>, <a href="asyncapi.json">asyncapi.json</a>.</p>"#,
        model.topics.len(),
        model.projects.len(),
        model.service_accounts.len(),
        stage = model.stage,
    );
    b.push_str(
        r#"<section class="search"><label for="search">Search topics, projects and accounts</label> <input id="search" type="search" autocomplete="off" placeholder="name, owner, tag, classification"> <span id="search-status" class="muted" aria-live="polite"></span><ul id="results"></ul></section>"#,
    );
    let _ = write!(
        b,
        r#"<script id="catalog-index" type="application/json">{}</script>"#,
        data_block(&search_entries(model, projects))
    );
    b.push_str("<h2>Projects</h2><table><thead><tr><th>project</th><th>owner</th><th>classification</th><th>topics</th><th>description</th></tr></thead><tbody>");
    for p in &model.projects {
        let topics = model.topics.iter().filter(|t| t.project == p.name).count();
        let _ = write!(
            b,
            r#"<tr><td><a href="{}">{}</a></td><td>{}</td><td>{}</td><td>{topics}</td><td>{}</td></tr>"#,
            escape(&project_href(&p.name)),
            escape(&p.name),
            escape(&p.owner_team),
            classification(p),
            escape(&p.description),
        );
    }
    b.push_str("</tbody></table><h2>Topics</h2><table><thead><tr><th>topic</th><th>project</th><th>partitions</th><th>replicas</th><th>schema</th><th>producers</th><th>consumers</th></tr></thead><tbody>");
    for t in &model.topics {
        let who = access.get(&t.name.value).cloned().unwrap_or_default();
        let schema = stage
            .schemas
            .get(&t.name.value)
            .map(|s| {
                s.values()
                    .map(|d| d.format.label())
                    .collect::<BTreeSet<_>>()
                    .into_iter()
                    .collect::<Vec<_>>()
                    .join(", ")
            })
            .unwrap_or_default();
        let _ = write!(
            b,
            r#"<tr><td><a href="{}">{}</a></td><td><a href="{}">{}</a></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>"#,
            escape(&topic_href(&t.name.value)),
            escape(&t.name.value),
            escape(&project_href(&t.project)),
            escape(&t.project),
            t.partitions.value,
            t.replication_factor.value,
            escape(&schema),
            who.producers.len(),
            who.consumers.len(),
        );
    }
    b.push_str("</tbody></table><h2>Picture</h2><p class=\"legend\"><span class=\"owns\">project owns topic</span> <span class=\"writes\">account writes</span> <span class=\"reads\">account reads</span></p><div class=\"picture-frame\">");
    b.push_str(&svg::picture(model, access));
    b.push_str("</div><h2>Servers</h2>");
    b.push_str(&servers_list(model));
    page(&format!("Kafka {} catalog", model.stage), "../", &b)
}

fn servers_list(model: &StageModel) -> String {
    let doc = crate::catalog::asyncapi::document(&StageCatalog { model, schemas: &BTreeMap::new() });
    let mut out = String::from(
        "<table><thead><tr><th>server</th><th>host</th><th>description</th></tr></thead><tbody>",
    );
    if let Some(servers) = doc["servers"].as_object() {
        for (id, s) in servers {
            let _ = write!(
                out,
                "<tr><td>{}</td><td><code>{}</code></td><td>{}</td></tr>",
                escape(id),
                escape(s["host"].as_str().unwrap_or_default()),
                escape(s["description"].as_str().unwrap_or_default()),
            );
        }
    }
    out.push_str("</tbody></table>");
    out
}

fn classification(p: &Project) -> String {
    match p.data_classification {
        Some(c) => format!(r#"<span class="class {0}">{0}</span>"#, c.as_str()),
        None => String::new(),
    }
}

fn auth_label(a: Authentication) -> &'static str {
    match a {
        Authentication::Scram => "SCRAM-SHA-512",
        Authentication::Mtls => "mTLS",
    }
}

fn tag_list(tags: &BTreeMap<String, String>) -> String {
    tags.iter()
        .map(|(k, v)| format!(r#"<span class="tag">{}: {}</span>"#, escape(k), escape(v)))
        .collect::<Vec<_>>()
        .join(" ")
}

fn owner_rows(p: &Project) -> String {
    let mut out = format!(
        r#"<tr><th>owner</th><td>{} &lt;<a href="mailto:{1}">{1}</a>&gt;</td></tr>"#,
        escape(&p.owner_team),
        escape(&p.owner_email)
    );
    if let Some(channel) = &p.owner_channel {
        let _ = write!(out, "<tr><th>channel</th><td>{}</td></tr>", escape(channel));
    }
    let _ = write!(out, "<tr><th>classification</th><td>{}</td></tr>", classification(p));
    if !p.tags.is_empty() {
        let _ = write!(out, "<tr><th>tags</th><td>{}</td></tr>", tag_list(&p.tags));
    }
    out
}

fn project_page(model: &StageModel, p: &Project, access: &BTreeMap<String, TopicAccess>) -> String {
    let mut b = nav(model, "../", &p.name);
    let _ = write!(
        b,
        r#"<h1>Project {}</h1><p>{}</p><table class="facts"><tbody>{}</tbody></table>"#,
        escape(&p.name),
        escape(&p.description),
        owner_rows(p)
    );
    b.push_str("<h2>Topics</h2><table><thead><tr><th>topic</th><th>description</th><th>producers</th><th>consumers</th></tr></thead><tbody>");
    for t in model.topics.iter().filter(|t| t.project == p.name) {
        let who = access.get(&t.name.value).cloned().unwrap_or_default();
        let _ = write!(
            b,
            r#"<tr><td><a href="../{}">{}</a></td><td>{}</td><td>{}</td><td>{}</td></tr>"#,
            escape(&topic_href(&t.name.value)),
            escape(&t.name.value),
            escape(t.description.as_deref().unwrap_or_default()),
            account_links(model, &who.producers, "../"),
            account_links(model, &who.consumers, "../"),
        );
    }
    b.push_str("</tbody></table><h2>Service accounts</h2>");
    for a in model.service_accounts.iter().filter(|a| a.project == p.name) {
        b.push_str(&account_section(a, access));
    }
    page(&format!("{} - Kafka {} catalog", p.name, model.stage), "../../", &b)
}

fn account_section(a: &ServiceAccount, access: &BTreeMap<String, TopicAccess>) -> String {
    let topics = |pick: fn(&TopicAccess) -> &BTreeSet<String>| {
        let names: Vec<String> = access
            .iter()
            .filter(|(_, who)| pick(who).contains(&a.name.value))
            .map(|(t, _)| format!(r#"<a href="../{}">{}</a>"#, escape(&topic_href(t)), escape(t)))
            .collect();
        if names.is_empty() { "none".to_string() } else { names.join(", ") }
    };
    let groups: Vec<String> =
        a.consumer_groups.iter().map(|g| format!("<code>{}*</code>", escape(&g.value))).collect();
    format!(
        r#"<section class="account" id="account-{id}"><h3>{name}</h3><p>{desc}</p><table class="facts"><tbody><tr><th>principal</th><td><code>{principal}</code></td></tr><tr><th>authentication</th><td>{auth}</td></tr><tr><th>writes</th><td>{writes}</td></tr><tr><th>reads</th><td>{reads}</td></tr><tr><th>consumer groups</th><td>{groups}</td></tr></tbody></table></section>"#,
        id = escape(&file_name(&a.name.value)),
        name = escape(&a.name.value),
        desc = escape(a.description.as_deref().unwrap_or_default()),
        principal = escape(&a.principal()),
        auth = auth_label(a.authentication),
        writes = topics(|w| &w.producers),
        reads = topics(|w| &w.consumers),
        groups = if groups.is_empty() { "none".to_string() } else { groups.join(", ") },
    )
}

/// Account names linked to their project's page, from a page one level below the stage.
fn account_links(model: &StageModel, accounts: &BTreeSet<String>, up: &str) -> String {
    if accounts.is_empty() {
        return "none".into();
    }
    accounts
        .iter()
        .map(|name| match model.service_accounts.iter().find(|a| &a.name.value == name) {
            Some(a) => format!(
                r#"<a href="{up}{}">{}</a> <span class="muted">({})</span>"#,
                escape(&account_href(&a.project, name)),
                escape(name),
                escape(&a.project)
            ),
            None => escape(name),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

fn topic_page(
    model: &StageModel,
    t: &Topic,
    project: Option<&&Project>,
    who: &TopicAccess,
    schemas: Option<&BTreeMap<SchemaRole, SchemaDoc>>,
) -> String {
    let name = &t.name.value;
    let mut b = nav(model, "../", name);
    let _ =
        write!(b, "<h1>{}</h1><p>{}</p>", escape(name), escape(t.description.as_deref().unwrap_or_default()));
    let _ = write!(
        b,
        r#"<table class="facts"><tbody><tr><th>project</th><td><a href="../{}">{}</a></td></tr>"#,
        escape(&project_href(&t.project)),
        escape(&t.project)
    );
    if let Some(p) = project {
        b.push_str(&owner_rows(p));
    }
    let _ = write!(
        b,
        "<tr><th>partitions</th><td>{}</td></tr><tr><th>replicas</th><td>{}</td></tr><tr><th>producers</th><td class=\"producers\">{}</td></tr><tr><th>consumers</th><td class=\"consumers\">{}</td></tr>",
        t.partitions.value,
        t.replication_factor.value,
        account_links(model, &who.producers, "../"),
        account_links(model, &who.consumers, "../"),
    );
    if !t.readers.is_empty() || !t.writers.is_empty() {
        let _ = write!(
            b,
            "<tr><th>shared with</th><td>read: {}; write: {}</td></tr>",
            escape(&or_none(&t.readers)),
            escape(&or_none(&t.writers))
        );
    }
    b.push_str(
        "</tbody></table><h2>Configs</h2><table><thead><tr><th>key</th><th>value</th></tr></thead><tbody>",
    );
    for (k, v) in &t.configs {
        let _ = write!(
            b,
            "<tr><td><code>{}</code></td><td><code>{}</code></td></tr>",
            escape(k),
            escape(&v.value)
        );
    }
    b.push_str("</tbody></table><h2>Schema</h2>");
    match schemas {
        Some(schemas) if !schemas.is_empty() => {
            for (role, doc) in schemas {
                b.push_str(&schema_view(*role, doc));
            }
        }
        _ => b.push_str("<p class=\"muted\">No schema declared.</p>"),
    }
    page(&format!("{name} - Kafka {} catalog", model.stage), "../../", &b)
}

fn or_none(list: &[String]) -> String {
    if list.is_empty() { "none".into() } else { list.join(", ") }
}

fn schema_view(role: SchemaRole, doc: &SchemaDoc) -> String {
    let mut out = format!(
        r#"<section class="schema"><h3>{} <span class="muted">{}, {}</span></h3>"#,
        role.as_str(),
        doc.format.label(),
        escape(&doc.path)
    );
    if doc.format == SchemaFormat::Avro
        && let Some(fields) = doc.content["fields"].as_array()
    {
        out.push_str("<table><thead><tr><th>field</th><th>type</th><th>doc</th></tr></thead><tbody>");
        for f in fields {
            let _ = write!(
                out,
                "<tr><td><code>{}</code></td><td><code>{}</code></td><td>{}</td></tr>",
                escape(f["name"].as_str().unwrap_or_default()),
                escape(&f["type"].to_string()),
                escape(f["doc"].as_str().unwrap_or_default()),
            );
        }
        out.push_str("</tbody></table>");
    }
    let text = match &doc.content {
        Value::String(s) => s.clone(),
        other => serde_json::to_string_pretty(other).expect("JSON values serialise"),
    };
    let _ = write!(out, "<pre><code>{}</code></pre></section>", escape(&text));
    out
}
