//! The catalog of a stage: what exists, who owns it, who writes and reads it, in which format.
//! Pure: the caller reads the schema files ([`declared_schemas`] says which) and gets back the
//! text of every file, an AsyncAPI 3.0 document per stage and a static HTML site.

pub mod access;
pub mod asyncapi;
pub mod html;
mod links;
mod svg;

use std::collections::BTreeMap;

use crate::StageModel;
use crate::model::Topic;
use crate::span::Spanned;

/// Which part of a record a schema describes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum SchemaRole {
    Key,
    Value,
}

impl SchemaRole {
    pub fn as_str(self) -> &'static str {
        match self {
            SchemaRole::Key => "key",
            SchemaRole::Value => "value",
        }
    }
}

/// Schema languages, told by the file's extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SchemaFormat {
    Avro,
    JsonSchema,
    Protobuf,
}

impl SchemaFormat {
    /// The format of a schema file, from its extension.
    pub fn of_path(path: &str) -> Option<Self> {
        let ext = path.rsplit_once('.').map(|(_, e)| e.to_ascii_lowercase())?;
        match ext.as_str() {
            "avsc" => Some(SchemaFormat::Avro),
            "json" => Some(SchemaFormat::JsonSchema),
            "proto" => Some(SchemaFormat::Protobuf),
            _ => None,
        }
    }

    /// The AsyncAPI 3.0 `schemaFormat` of a multi-format schema.
    pub fn asyncapi_format(self) -> &'static str {
        match self {
            SchemaFormat::Avro => "application/vnd.apache.avro+json;version=1.9.0",
            SchemaFormat::JsonSchema => "application/schema+json;version=draft-07",
            SchemaFormat::Protobuf => "application/vnd.google.protobuf;version=3",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            SchemaFormat::Avro => "Avro",
            SchemaFormat::JsonSchema => "JSON Schema",
            SchemaFormat::Protobuf => "Protobuf",
        }
    }
}

/// A schema file as read by the caller.
#[derive(Debug, Clone, PartialEq)]
pub struct SchemaDoc {
    /// The path as declared (relative to the project file).
    pub path: String,
    pub format: SchemaFormat,
    /// Avro and JSON Schema: the parsed document; Protobuf: the text.
    pub content: serde_json::Value,
}

impl SchemaDoc {
    /// Parses a schema file's text; the error names the file and, for JSON, line and column.
    pub fn parse(path: &str, text: &str) -> Result<SchemaDoc, String> {
        let format = SchemaFormat::of_path(path).ok_or_else(|| {
            format!("schema {path}: unknown format (the catalog reads .avsc, .json and .proto files)")
        })?;
        let content = match format {
            SchemaFormat::Protobuf => serde_json::Value::String(text.to_string()),
            SchemaFormat::Avro | SchemaFormat::JsonSchema => serde_json::from_str(text).map_err(|e| {
                format!("schema {path}:{}:{}: not JSON ({})", e.line(), e.column(), e.classify_name())
            })?,
        };
        Ok(SchemaDoc { path: path.to_string(), format, content })
    }
}

trait ClassifyName {
    fn classify_name(&self) -> &'static str;
}

impl ClassifyName for serde_json::Error {
    // serde_json's own message may quote the file's text; the category is enough next to line:column.
    fn classify_name(&self) -> &'static str {
        match self.classify() {
            serde_json::error::Category::Io => "read error",
            serde_json::error::Category::Syntax => "syntax error",
            serde_json::error::Category::Data => "unexpected value",
            serde_json::error::Category::Eof => "unexpected end",
        }
    }
}

/// The schema files a topic declares, by role: what the caller reads (relative to the topic's
/// project file). One place to extend when topics declare key and value schemas.
pub fn declared_schemas(topic: &Topic) -> Vec<(SchemaRole, &Spanned<String>)> {
    topic.schema.iter().map(|s| (SchemaRole::Value, s)).collect()
}

/// The schemas of a stage's topics, by topic name and role.
pub type Schemas = BTreeMap<String, BTreeMap<SchemaRole, SchemaDoc>>;

/// One stage and its schemas.
pub struct StageCatalog<'a> {
    pub model: &'a StageModel,
    pub schemas: &'a Schemas,
}

/// Marker file at the top of a catalog directory: `gen catalog` replaces only directories that
/// hold it (or are empty), never an unrelated folder given as `--out` by mistake.
pub const MARKER_FILE: &str = ".gen-catalog";

/// Every file of the catalog of `stages`, by path relative to the output directory: per stage
/// `<stage>/asyncapi.json`, `<stage>/asyncapi.yaml` and the HTML pages, plus a top index.
pub fn render(stages: &[StageCatalog<'_>]) -> BTreeMap<String, String> {
    let mut files = BTreeMap::new();
    files.insert(
        MARKER_FILE.to_string(),
        "Written by `gen catalog`; the whole directory is replaced on each run.\n".to_string(),
    );
    for stage in stages {
        let doc = asyncapi::document(stage);
        let name = stage.model.stage.as_str();
        let mut json = serde_json::to_string_pretty(&doc).expect("JSON values serialise");
        json.push('\n');
        files.insert(format!("{name}/asyncapi.json"), json);
        files.insert(
            format!("{name}/asyncapi.yaml"),
            serde_saphyr::to_string(&doc).expect("JSON values serialise to YAML"),
        );
        for (path, text) in html::stage_site(stage) {
            files.insert(format!("{name}/{path}"), text);
        }
    }
    for (path, text) in html::shared_files(stages) {
        files.insert(path, text);
    }
    files
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schema_formats_come_from_the_extension() {
        assert_eq!(SchemaFormat::of_path("schemas/a.v1.avsc"), Some(SchemaFormat::Avro));
        assert_eq!(SchemaFormat::of_path("a.JSON"), Some(SchemaFormat::JsonSchema));
        assert_eq!(SchemaFormat::of_path("a.proto"), Some(SchemaFormat::Protobuf));
        assert_eq!(SchemaFormat::of_path("a.txt"), None);
        assert_eq!(SchemaFormat::of_path("noext"), None);
    }

    #[test]
    fn a_broken_schema_file_is_named_with_line_and_column_but_not_quoted() {
        let err = SchemaDoc::parse("schemas/x.avsc", "{\n  \"type\": secret-value\n}").unwrap_err();
        assert!(err.starts_with("schema schemas/x.avsc:2:"), "{err}");
        assert!(!err.contains("secret-value"), "{err}");
        assert!(SchemaDoc::parse("x.txt", "{}").unwrap_err().contains("unknown format"));
        let proto = SchemaDoc::parse("x.proto", "syntax = \"proto3\";").unwrap();
        assert_eq!(proto.content, serde_json::json!("syntax = \"proto3\";"));
    }
}
