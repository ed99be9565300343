//! The stage's picture: projects -> topics -> accounts as an inline SVG (no script, no fonts to
//! fetch). Projects own topics; accounts write (orange) or read (blue) them.

use std::collections::BTreeMap;
use std::fmt::Write;

use crate::catalog::access::TopicAccess;
use crate::catalog::links::{account_href, escape, project_href, topic_href};
use crate::model::StageModel;

const ROW: u32 = 26;
const TOP: u32 = 40;
const PROJECT_X: u32 = 10;
const PROJECT_W: u32 = 170;
const TOPIC_X: u32 = 260;
const TOPIC_W: u32 = 330;
const ACCOUNT_X: u32 = 680;
const ACCOUNT_W: u32 = 230;

/// The picture; links are relative to the stage's index page.
pub fn picture(model: &StageModel, access: &BTreeMap<String, TopicAccess>) -> String {
    let mut projects: Vec<&str> = model.projects.iter().map(|p| p.name.as_str()).collect();
    projects.sort_unstable();
    let mut topics: Vec<(&str, &str)> =
        model.topics.iter().map(|t| (t.project.as_str(), t.name.value.as_str())).collect();
    topics.sort_unstable();
    let mut accounts: Vec<(&str, &str)> =
        model.service_accounts.iter().map(|a| (a.project.as_str(), a.name.value.as_str())).collect();
    accounts.sort_unstable();
    let y = |i: usize| TOP + i as u32 * ROW;
    // A project sits level with the middle of its topics (they are sorted by project); one
    // without topics below the last topic.
    let mut project_y: BTreeMap<&str, u32> = BTreeMap::new();
    let mut spare = topics.len();
    for p in &projects {
        let rows: Vec<usize> =
            topics.iter().enumerate().filter(|(_, (tp, _))| tp == p).map(|(i, _)| i).collect();
        let at = match (rows.first(), rows.last()) {
            (Some(first), Some(last)) => (y(*first) + y(*last)) / 2,
            _ => {
                spare += 1;
                y(spare - 1)
            }
        };
        project_y.insert(p, at);
    }
    let rows = spare.max(accounts.len()).max(1);
    let height = y(rows) + 10;
    let width = ACCOUNT_X + ACCOUNT_W + 10;

    let mut out = String::new();
    let _ = write!(
        out,
        r##"<svg xmlns="http://www.w3.org/2000/svg" class="picture" role="img" viewBox="0 0 {width} {height}" width="{width}" height="{height}" aria-label="projects, their topics and the accounts that write and read them">"##
    );
    for (x, label) in [(PROJECT_X, "projects"), (TOPIC_X, "topics"), (ACCOUNT_X, "service accounts")] {
        let _ = write!(out, r#"<text x="{x}" y="20" class="column">{label}</text>"#);
    }
    let account_row: BTreeMap<&str, usize> = accounts.iter().enumerate().map(|(i, (_, a))| (*a, i)).collect();
    // Edges first, so that the boxes are drawn over their ends.
    for (i, (project, topic)) in topics.iter().enumerate() {
        if let Some(p) = project_y.get(project) {
            edge(&mut out, PROJECT_X + PROJECT_W, *p, TOPIC_X, y(i), "owns");
        }
        let Some(who) = access.get(*topic) else { continue };
        for (accounts_of, class) in [(&who.producers, "writes"), (&who.consumers, "reads")] {
            for account in accounts_of {
                if let Some(a) = account_row.get(account.as_str()) {
                    edge(&mut out, TOPIC_X + TOPIC_W, y(i), ACCOUNT_X, y(*a), class);
                }
            }
        }
    }
    for (p, at) in &project_y {
        node(&mut out, PROJECT_X, PROJECT_W, *at, p, &project_href(p), "project");
    }
    for (i, (_, t)) in topics.iter().enumerate() {
        node(&mut out, TOPIC_X, TOPIC_W, y(i), t, &topic_href(t), "topic");
    }
    for (i, (p, a)) in accounts.iter().enumerate() {
        node(&mut out, ACCOUNT_X, ACCOUNT_W, y(i), a, &account_href(p, a), "account");
    }
    out.push_str("</svg>");
    out
}

fn edge(out: &mut String, x1: u32, y1: u32, x2: u32, y2: u32, class: &str) {
    let mid = (x1 + x2) / 2;
    let _ = write!(
        out,
        r#"<path class="edge {class}" d="M{x1} {y1} C{mid} {y1} {mid} {y2} {x2} {y2}"><title>{class}</title></path>"#
    );
}

fn node(out: &mut String, x: u32, width: u32, y: u32, label: &str, href: &str, class: &str) {
    let top = y - ROW / 2 + 3;
    let height = ROW - 6;
    let label = escape(label);
    let _ = write!(
        out,
        r#"<a href="{}"><g class="node {class}"><rect x="{x}" y="{top}" width="{width}" height="{height}" rx="4"/><text x="{}" y="{}">{label}</text></g></a>"#,
        escape(href),
        x + 6,
        y + 4
    );
}
