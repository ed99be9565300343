//! CA rollover with overlapping trust (docs/operators-guide.md, "CA rollover"): the second CA
//! beside the stage's first, the trust bundle every trust store reads while certificates of both
//! may exist, and the certificate Lambda's CAs. Rendered only while a rollover is declared, so a
//! stage without one renders as before.

use serde_json::{Value, json};

use crate::config::stage::RolloverPhase;
use crate::model::{CaRollover, StageModel};
use crate::render::cfn::{Resource, Template, att, r, sub, tags};
use crate::render::foundation::export;
use crate::render::names;

/// Logical ids of the new CA (kept like the first CA's: Retain, and in the stack policy).
pub const STATEFUL: [&str; 3] =
    ["NextCertificateAuthority", "NextCertificateAuthorityCertificate", "NextCertificateAuthorityActivation"];

/// What the rest of the foundation stack needs from the new CA.
pub struct Rendered {
    pub ca_arn: Value,
    pub phase: RolloverPhase,
}

/// The CAs a phase trusts, as CloudFormation values of their certificates (old first).
pub fn trusted(phase: RolloverPhase) -> Vec<Value> {
    let old = att("CertificateAuthorityCertificate", "Certificate");
    let new = att(STATEFUL[1], "Certificate");
    match phase {
        RolloverPhase::Trust | RolloverPhase::Issue => vec![old, json!("\n"), new],
        RolloverPhase::Retire => vec![new],
    }
}

/// Adds the new CA, the trust bundle parameter and the exports `gen certs rollover` reads.
pub fn render(t: &mut Template, model: &StageModel, ro: &CaRollover) -> Rendered {
    let organization = match &model.ca {
        crate::model::CertificateAuthority::Create { organization, .. } => organization.clone(),
        crate::model::CertificateAuthority::Existing { .. } => unreachable!("KP118: rollover needs create"),
    };
    let [ca, certificate, activation] = STATEFUL;
    t.add(
        ca,
        Resource::new(
            "AWS::ACMPCA::CertificateAuthority",
            json!({
                "Type": "ROOT",
                "KeyAlgorithm": ro.key_algorithm.as_str(),
                "SigningAlgorithm": ro.key_algorithm.signing_algorithm(),
                "Subject": { "CommonName": ro.common_name, "Organization": organization },
                "UsageMode": "GENERAL_PURPOSE",
                "KeyStorageSecurityStandard": "FIPS_140_2_LEVEL_3_OR_HIGHER",
                "Tags": tags(&model.tags),
            }),
        )
        .retain(),
    );
    t.add(
        certificate,
        Resource::new(
            "AWS::ACMPCA::Certificate",
            json!({
                "CertificateAuthorityArn": r(ca),
                "CertificateSigningRequest": att(ca, "CertificateSigningRequest"),
                "SigningAlgorithm": ro.key_algorithm.signing_algorithm(),
                "TemplateArn": sub("arn:${AWS::Partition}:acm-pca:::template/RootCACertificate/V1"),
                "Validity": { "Type": "YEARS", "Value": ro.validity_years },
            }),
        )
        .retain(),
    );
    t.add(
        activation,
        Resource::new(
            "AWS::ACMPCA::CertificateAuthorityActivation",
            json!({ "CertificateAuthorityArn": r(ca), "Certificate": att(certificate, "Certificate"), "Status": "ACTIVE" }),
        )
        .retain(),
    );
    // Public data (CA certificates): a String parameter that node tasks take as TLS_TRUST and
    // clients read instead of their certificate's chain while the rollover lasts.
    t.add(
        "TrustBundleParameter",
        Resource::new(
            "AWS::SSM::Parameter",
            json!({
                "Name": names::trust_bundle(model),
                "Type": "String",
                "Value": { "Fn::Join": ["", trusted(ro.phase)] },
                "Description": format!("CAs the stage trusts during its CA rollover (phase {})", ro.phase.as_str()),
                "Tags": model.tags,
            }),
        )
        .depends_on(&[activation]),
    );
    t.add("NextCaArnParameter", export(model, "next-ca-arn", r(ca)));
    t.add("CaRolloverPhaseParameter", export(model, "ca-rollover-phase", json!(ro.phase.as_str())));
    t.output("NextCertificateAuthorityArn", "ARN of the stage's new private CA (rollover)", r(ca));
    Rendered { ca_arn: r(ca), phase: ro.phase }
}

/// The certificate Lambda's CAs: renewals issue from the new CA once the phase is `issue`; a
/// stored certificate renews only when one of the stage's CAs issued it (the request names none).
pub fn lambda_environment(environment: &mut Value, old_ca: &Value, ro: &Rendered) {
    environment["STAGE_CERTIFICATE_AUTHORITY_ARNS"] = json!({ "Fn::Join": [",", [old_ca, ro.ca_arn]] });
    if ro.phase != RolloverPhase::Trust {
        environment["RENEWAL_CERTIFICATE_AUTHORITY_ARN"] = ro.ca_arn.clone();
    }
}
