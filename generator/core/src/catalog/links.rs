//! Text and links shared by the catalog's pages and its picture: HTML escaping and the relative
//! addresses of project, topic and account pages.

/// Escapes text for HTML element content and attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A file name from a declared name (topic and project names are already file-safe; this keeps
/// it so whatever the rules become).
pub fn file_name(name: &str) -> String {
    let safe: String =
        name.chars().map(|c| if c.is_ascii_alphanumeric() || "._-".contains(c) { c } else { '_' }).collect();
    if safe.trim_matches('.').is_empty() { format!("_{safe}") } else { safe }
}

/// Links relative to the stage's index page.
pub fn project_href(project: &str) -> String {
    format!("projects/{}.html", file_name(project))
}
pub fn topic_href(topic: &str) -> String {
    format!("topics/{}.html", file_name(topic))
}
pub fn account_href(project: &str, account: &str) -> String {
    format!("{}#account-{}", project_href(project), file_name(account))
}
