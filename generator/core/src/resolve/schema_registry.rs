//! `schema_registry` (KP107, KP117): whether the stage runs a Schema Registry, how many instances,
//! its image and the stage's default compatibility.

use super::Required;
use super::cluster::check_image;
use crate::config::stage::{SchemaRegistrySettings, StageName};
use crate::diagnostics::Finding;
use crate::model::{Image, SchemaRegistry};
use crate::span::Spanned;

/// Most Schema Registry instances a stage may run.
pub const MAX_SCHEMA_REGISTRY_INSTANCES: u32 = 10;

/// Checks the settings (the image also when the registry is off) and builds the registry when it is
/// enabled; its image tag defaults to the Kafka image's `kafka_tag`.
pub fn resolve(
    sr: Option<&SchemaRegistrySettings>,
    stage: StageName,
    kafka_tag: Option<&Spanned<String>>,
    r: &mut Required<'_>,
) -> Option<SchemaRegistry> {
    let sr = sr?;
    for image in [&sr.image, &sr.proxy_image].into_iter().flatten() {
        check_image(image.repository.as_ref(), image.tag.as_ref(), r);
    }
    if !enabled(sr) {
        return None;
    }
    if let Some(instances) = &sr.instances {
        let min = if stage.production_like() { 2 } else { 1 };
        if !(min..=MAX_SCHEMA_REGISTRY_INSTANCES).contains(&instances.value) {
            r.push(
                Finding::error(
                    "KP117",
                    &instances.location,
                    format!("{} Schema Registry instances; {stage} needs {min} to {MAX_SCHEMA_REGISTRY_INSTANCES}", instances.value),
                )
                .hint("acc and prod run at least 2 so that one can fail; or set `enabled: false`"),
            );
        }
    }
    let image = sr.image.clone().unwrap_or_default();
    Some(SchemaRegistry {
        instances: sr
            .instances
            .as_ref()
            .map(|i| i.value)
            .unwrap_or(SchemaRegistrySettings::DEFAULT_INSTANCES)
            .min(MAX_SCHEMA_REGISTRY_INSTANCES),
        image: Image {
            repository: image
                .repository
                .map(|r| r.value)
                .unwrap_or_else(|| SchemaRegistrySettings::DEFAULT_REPOSITORY.into()),
            // Without a Kafka tag no model is built, so the empty fallback is never rendered.
            tag: image.tag.or_else(|| kafka_tag.cloned()).map(|t| t.value).unwrap_or_default(),
        },
        proxy_image: {
            let proxy = sr.proxy_image.clone().unwrap_or_default();
            Image {
                repository: proxy
                    .repository
                    .map_or_else(|| SchemaRegistrySettings::DEFAULT_PROXY_REPOSITORY.into(), |r| r.value),
                tag: proxy.tag.map_or_else(|| SchemaRegistrySettings::DEFAULT_PROXY_TAG.into(), |t| t.value),
            }
        },
        compatibility: sr
            .compatibility
            .as_ref()
            .map(|c| c.value)
            .unwrap_or(SchemaRegistrySettings::DEFAULT_COMPATIBILITY),
        // Filled from the projects (validate::subjects).
        subjects: Vec::new(),
    })
}

/// The image repositories the registry names, when it runs (for the egress check): its own and
/// its proxy's.
pub fn repositories(sr: Option<&SchemaRegistrySettings>) -> [Option<&Spanned<String>>; 2] {
    let Some(sr) = sr.filter(|sr| enabled(sr)) else { return [None, None] };
    [&sr.image, &sr.proxy_image].map(|i| i.as_ref().and_then(|i| i.repository.as_ref()))
}

fn enabled(sr: &SchemaRegistrySettings) -> bool {
    sr.enabled.as_ref().is_some_and(|e| e.value)
}
