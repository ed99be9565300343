//! Source locations for every declared value, so that findings can point at file, line and column.

use std::cell::RefCell;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use schemars::JsonSchema;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

thread_local! {
    /// The file being deserialised on this thread. serde gives a `Deserialize` impl no context,
    /// so the loader sets this around each parse and `Spanned` picks it up.
    static CURRENT_FILE: RefCell<Option<Arc<Path>>> = const { RefCell::new(None) };
}

/// Runs `parse` with `file` recorded as the source of every `Spanned` value it produces.
pub(crate) fn with_current_file<R>(file: &Path, parse: impl FnOnce() -> R) -> R {
    let previous = CURRENT_FILE.with(|f| f.replace(Some(Arc::from(file))));
    let result = parse();
    CURRENT_FILE.with(|f| *f.borrow_mut() = previous);
    result
}

/// A place in a declaration file (1-based line and column; 0 when unknown), and how many
/// characters the value written there spans (0 when unknown: a report then marks one character).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Location {
    pub file: Option<Arc<Path>>,
    pub line: u64,
    pub column: u64,
    pub len: u64,
}

impl Location {
    /// A location at the start of a file (used for findings about a whole file).
    pub fn file_start(file: &Path) -> Self {
        Location { file: Some(Arc::from(file)), line: 1, column: 1, len: 0 }
    }

    /// A location with a line and column in `file`.
    pub fn at(file: &Path, line: u64, column: u64) -> Self {
        Location { file: Some(Arc::from(file)), line, column, len: 0 }
    }

    /// The file path, if known.
    pub fn path(&self) -> Option<&Path> {
        self.file.as_deref()
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.file {
            Some(file) => write!(f, "{}:{}:{}", file.display(), self.line, self.column),
            None => f.write_str("<generated>"),
        }
    }
}

/// A declared value together with where it was written.
#[derive(Debug, Clone)]
pub struct Spanned<T> {
    pub value: T,
    pub location: Location,
}

impl<T> Spanned<T> {
    /// A value that was not read from a file (defaults, generated values, tests).
    pub fn generated(value: T) -> Self {
        Spanned { value, location: Location::default() }
    }

    /// A value at a known location.
    pub fn at(value: T, location: Location) -> Self {
        Spanned { value, location }
    }

    /// Borrow the value.
    pub fn get(&self) -> &T {
        &self.value
    }
}

impl<T> std::ops::Deref for Spanned<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.value
    }
}

// Equality and ordering look at the value only: where it was written does not change what it means.
impl<T: PartialEq> PartialEq for Spanned<T> {
    fn eq(&self, other: &Self) -> bool {
        self.value == other.value
    }
}
impl<T: Eq> Eq for Spanned<T> {}
impl<T: PartialOrd> PartialOrd for Spanned<T> {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        self.value.partial_cmp(&other.value)
    }
}
impl<T: Ord> Ord for Spanned<T> {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.value.cmp(&other.value)
    }
}
impl<T: std::hash::Hash> std::hash::Hash for Spanned<T> {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.value.hash(state)
    }
}
impl<T: std::borrow::Borrow<str>> std::borrow::Borrow<str> for Spanned<T> {
    fn borrow(&self) -> &str {
        self.value.borrow()
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Spanned<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let inner = serde_saphyr::Spanned::<T>::deserialize(deserializer)?;
        let file = CURRENT_FILE.with(|f| f.borrow().clone());
        Ok(Spanned {
            value: inner.value,
            location: Location {
                file,
                line: inner.referenced.line(),
                column: inner.referenced.column(),
                // u32::MAX is serde-saphyr's "unknown".
                len: Some(inner.referenced.span().len()).filter(|&n| n < u64::from(u32::MAX)).unwrap_or(0),
            },
        })
    }
}

impl<T: Serialize> Serialize for Spanned<T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.value.serialize(serializer)
    }
}

impl<T: JsonSchema> JsonSchema for Spanned<T> {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        T::schema_name()
    }
    fn schema_id() -> std::borrow::Cow<'static, str> {
        T::schema_id()
    }
    fn json_schema(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
        T::json_schema(generator)
    }
    fn inline_schema() -> bool {
        T::inline_schema()
    }
}

/// Convenience for paths relative to a declaration file.
pub fn sibling(file: &Path, relative: &str) -> PathBuf {
    file.parent().unwrap_or(Path::new(".")).join(relative)
}
