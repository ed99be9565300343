//! Temporary debug access (`gen access`): the reserved `debug.` name space (KP311) and the stage's
//! `debug_access.approvers` (docs/operators-guide.md, "Temporary debug access").

mod support;

use kafka_platform_core::StageName;
use support::*;

const DEV_FILE: &str = "stages/dev.yaml";

/// A project named `debug` whose names are all in the reserved space.
const DEBUG_PROJECT: &str = "project: debug\ndescription: d.\nowner:\n  team: d\n  email: d@example.com\ndata_classification: internal\ntopics:\n  - name: debug.events.v1\nservice_accounts:\n  - name: debug-app\n    authentication: scram\n    consumes: [debug.events.v1]\n    consumer_groups: [debug.orders]\n    transactional_ids: [debug.tx]\nacls:\n  - service_account: debug-app\n    resource_type: group\n    pattern_type: prefixed\n    resource_name: debug.\n    operation: read\n    reason: r\n";

#[test]
fn kp311_the_debug_name_space_belongs_to_debug_identities() {
    let env = Env::baseline().with("projects/debug.yaml", DEBUG_PROJECT);
    let findings = env.findings(&[]);
    let kp311: Vec<_> = findings.iter().filter(|f| f.rule == "KP311").collect();
    assert_eq!(kp311.len(), 3, "{}", show(&findings));
    for (needle, f) in ["debug.orders]", "debug.tx]", "resource_name: debug."].iter().zip(&kp311) {
        let (line, _) = position(DEBUG_PROJECT, needle);
        assert_eq!(f.location.line, line, "{needle}: {}", show(&findings));
        assert!(
            f.location.file.as_deref().is_some_and(|p| p.ends_with("projects/debug.yaml")),
            "{}",
            f.location
        );
    }
    assert!(kp311.iter().all(|f| f.message.contains("reserved debug name space")));

    // An account name in the space (with a naming pattern that would allow it).
    let defaults = DEFAULTS.replace("'^{project}-[a-z0-9-]+$'", "'^[A-Za-z0-9.-]+$'");
    let gamma = "project: gamma\ndescription: g.\nowner:\n  team: g\n  email: g@example.com\ndata_classification: internal\ntopics:\n  - name: gamma.events.v1\nservice_accounts:\n  - name: Debug.gamma.0a1b2c3d\n    authentication: scram\n    produces: [gamma.events.v1]\n";
    let env = Env::baseline().with("defaults.yaml", &defaults).with("projects/gamma.yaml", gamma);
    let f = assert_one(
        env.findings(&[]),
        at(&env, "KP311", "projects/gamma.yaml", value_at(gamma, "name: Debug.gamma.0a1b2c3d")),
    );
    assert!(f.message.contains("service account"), "{}", f.message);
    // A name that only starts like the space is fine.
    let fine = gamma.replace("Debug.gamma.0a1b2c3d", "debugger.gamma");
    assert_clean(
        Env::baseline().with("defaults.yaml", &defaults).with("projects/gamma.yaml", &fine).findings(&[]),
    );
}

#[test]
fn approvers_are_read_from_the_stage_file() {
    assert!(Env::baseline().model(StageName::Dev).debug_approvers.is_empty(), "none by default");
    let dev = format!("{DEV}debug_access:\n  approvers: [bob, carol]\n");
    let env = Env::baseline().with(DEV_FILE, &dev);
    assert_eq!(env.model(StageName::Dev).debug_approvers, ["bob", "carol"]);
    let typo = format!("{DEV}debug_access:\n  approver: [bob]\n");
    let env = Env::baseline().with(DEV_FILE, &typo);
    let findings = env.findings(&[]);
    assert!(findings.iter().any(|f| f.is_error() && f.message.contains("approver")), "{}", show(&findings));
}
