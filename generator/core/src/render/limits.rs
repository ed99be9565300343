//! CloudFormation limits (KP4xx), checked on the rendered templates.

use crate::diagnostics::Finding;
use crate::model::StageModel;
use crate::render::{RenderedStage, StackSize, names};
use crate::span::Location;

/// Resources per template.
pub const MAX_RESOURCES: usize = 500;
/// Template body size when deployed from S3.
pub const MAX_TEMPLATE_BYTES: usize = 1_000_000;
/// Template body size when passed inline (gen deploy uploads larger ones to S3).
pub const MAX_INLINE_TEMPLATE_BYTES: usize = 51_200;
/// Parameters and outputs per template.
pub const MAX_PARAMETERS: usize = 200;

/// Renders the stage and reports every limit it exceeds (see `check_rendered` when the stage is
/// rendered anyway).
pub fn check(model: &StageModel) -> Vec<Finding> {
    check_rendered(model, &crate::render::render_stage(model))
}

/// Every limit the rendered stage exceeds, from the sizes counted while rendering it.
pub fn check_rendered(model: &StageModel, rendered: &RenderedStage) -> Vec<Finding> {
    let mut findings = Vec::new();
    let location = Location::default();
    for stack_size in &rendered.stacks {
        let stack = names::stack_name(model, stack_size.part);
        let StackSize { resources, parameters, outputs, bytes: size, .. } = *stack_size;
        if resources > MAX_RESOURCES {
            findings.push(
                Finding::error(
                    "KP401",
                    &location,
                    format!("stack {stack} has {resources} resources; CloudFormation allows {MAX_RESOURCES}"),
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
        if parameters > MAX_PARAMETERS || outputs > MAX_PARAMETERS {
            findings.push(Finding::error(
                "KP403",
                &location,
                format!("stack {stack} has more than {MAX_PARAMETERS} parameters or outputs"),
            ));
        }
    }
    findings
}
