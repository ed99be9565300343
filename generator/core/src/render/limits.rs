//! CloudFormation limits (KP4xx), checked on the rendered templates.

use crate::diagnostics::Finding;
use crate::model::StageModel;
use crate::render::names;
use crate::span::Location;

/// Resources per template.
pub const MAX_RESOURCES: usize = 500;
/// Template body size when deployed from S3.
pub const MAX_TEMPLATE_BYTES: usize = 1_000_000;
/// Template body size when passed inline (gen deploy uploads larger ones to S3).
pub const MAX_INLINE_TEMPLATE_BYTES: usize = 51_200;
/// Parameters and outputs per template.
pub const MAX_PARAMETERS: usize = 200;

/// Renders the stage and reports every limit it exceeds.
pub fn check(model: &StageModel) -> Vec<Finding> {
    let mut findings = Vec::new();
    let location = Location::default();
    for (part, template) in crate::render::templates(model) {
        let stack = names::stack_name(model, part);
        let size = template.to_yaml().len();
        if template.resources.len() > MAX_RESOURCES {
            findings.push(
                Finding::error(
                    "KP401",
                    &location,
                    format!(
                        "stack {stack} has {} resources; CloudFormation allows {MAX_RESOURCES}",
                        template.resources.len()
                    ),
                )
                .hint("fewer brokers or service accounts per stage, or split the stage"),
            );
        }
        if size > MAX_TEMPLATE_BYTES {
            findings.push(Finding::error(
                "KP402",
                &location,
                format!("stack {stack} template is {size} bytes; CloudFormation allows {MAX_TEMPLATE_BYTES}"),
            ));
        }
        if template.parameters.len() > MAX_PARAMETERS || template.outputs.len() > MAX_PARAMETERS {
            findings.push(Finding::error(
                "KP403",
                &location,
                format!("stack {stack} has more than {MAX_PARAMETERS} parameters or outputs"),
            ));
        }
    }
    findings
}
