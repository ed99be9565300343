//! Every rule the validator emits, as specifications: given a small environments tree (the valid
//! baseline of `support`, varied in one place), expect exactly this finding (rule, file, line,
//! column) or no finding at all.

mod support;

use kafka_platform_core::{Severity, StageName::*};
use support::*;

const ALPHA_FILE: &str = "projects/alpha.yaml";
const BETA_FILE: &str = "projects/beta.yaml";
const DEV_FILE: &str = "stages/dev.yaml";
const ACC_FILE: &str = "stages/acc.yaml";

/// Alpha with extra topics appended to its topic list (`topics` is YAML at list indentation).
fn alpha_with_topics(topics: &str) -> String {
    ALPHA.replace("service_accounts:\n", &format!("{topics}service_accounts:\n"))
}

/// Alpha with extra service accounts appended.
fn alpha_with_accounts(accounts: &str) -> String {
    format!("{ALPHA}{accounts}")
}

/// Dev with extra top-level settings appended.
fn dev_with(settings: &str) -> String {
    format!("{DEV}{settings}")
}

#[test]
fn the_baseline_is_valid() {
    assert_clean(Env::baseline().findings(&[]));
    assert_clean(Env::baseline().with(ACC_FILE, ACC).findings(&[]));
}

// ---- KP0xx: files and syntax ----

#[test]
fn kp000_an_environments_tree_needs_stages_and_projects_folders() {
    let env = Env::empty().with("defaults.yaml", DEFAULTS);
    let findings = assert_findings(env.findings(&[]), &[rule("KP000"), rule("KP000")]);
    assert!(findings.iter().any(|f| f.message.contains("stages")), "{}", show(&findings));

    let missing = Env::empty();
    let root = missing.root.join("does-not-exist");
    let (_, findings) = kafka_platform_core::load_and_resolve(&root, &[]);
    assert_one(findings, rule("KP000"));

    // Passing: the same tree with both folders.
    assert_clean(
        Env::empty()
            .with("defaults.yaml", DEFAULTS)
            .with(DEV_FILE, DEV)
            .with(ALPHA_FILE, ALPHA)
            .with(BETA_FILE, BETA)
            .findings(&[]),
    );
}

#[test]
fn kp001_yaml_syntax_errors_are_located() {
    // An unquoted `: ` inside a plain scalar.
    let broken =
        ALPHA.replace("description: Orders of the alpha shop.", "description: Orders: of the alpha shop.");
    let env = Env::baseline().with(ALPHA_FILE, &broken);
    let finding = assert_one(env.findings(&[]), at(&env, "KP001", ALPHA_FILE, (2, 20)));
    assert!(finding.message.contains("mapping values are not allowed"), "{finding}");

    // A key indented out of its block.
    let broken = ALPHA.replace("    partitions: 3", "   partitions: 3");
    let env = Env::baseline().with(ALPHA_FILE, &broken);
    assert_one(env.findings(&[]), at(&env, "KP001", ALPHA_FILE, position(&broken, "partitions: 3")));

    // Passing: the same text quoted.
    let quoted = ALPHA
        .replace("description: Orders of the alpha shop.", "description: \"Orders: of the alpha shop.\"");
    assert_clean(Env::baseline().with(ALPHA_FILE, &quoted).findings(&[]));
}

#[test]
fn kp001_a_value_of_the_wrong_type_is_located() {
    let env = Env::baseline().edit(ALPHA_FILE, "partitions: 3", "partitions: many");
    let text = std::fs::read_to_string(env.path(ALPHA_FILE)).unwrap();
    let finding = assert_one(env.findings(&[]), in_file(&env, "KP001", ALPHA_FILE));
    assert_eq!(finding.location.line, position(&text, "partitions: many").0);
    // Passing: a number.
    assert_clean(Env::baseline().edit(ALPHA_FILE, "partitions: 3", "partitions: 6").findings(&[]));
}

#[test]
fn kp001_an_unknown_enum_value_suggests_the_closest_one() {
    let env = Env::baseline().edit(ALPHA_FILE, "authentication: scram", "authentication: scarm");
    let text = std::fs::read_to_string(env.path(ALPHA_FILE)).unwrap();
    let (line, _) = position(&text, "authentication: scarm");
    let finding = assert_one(env.findings(&[]), in_file(&env, "KP001", ALPHA_FILE));
    assert_eq!(finding.location.line, line);
    let hint = finding.hint.unwrap();
    assert!(hint.contains("did you mean `scram`?") && hint.contains("mtls"), "{hint}");
    // Passing: the other legal value.
    assert_clean(
        Env::baseline().edit(ALPHA_FILE, "authentication: scram", "authentication: mtls").findings(&[]),
    );
}

#[test]
fn kp002_an_unknown_key_gets_a_did_you_mean() {
    let dev = DEV.replace("  brokers: 1", "  brokrs: 1");
    let env = Env::baseline().with(DEV_FILE, &dev);
    let finding = assert_one(env.findings(&[]), at(&env, "KP002", DEV_FILE, position(&dev, "brokrs")));
    assert_eq!(finding.message, "unknown key `brokrs`");
    assert_eq!(finding.hint.as_deref(), Some("did you mean `brokers`?"));

    // Nothing close: the hint lists the allowed keys instead.
    let env = Env::baseline().edit(
        ALPHA_FILE,
        "data_classification: internal",
        "data_classification: internal\nflavour: sour",
    );
    let finding = assert_one(env.findings(&[]), in_file(&env, "KP002", ALPHA_FILE));
    assert!(finding.hint.unwrap().starts_with("allowed keys here:"));
}

#[test]
fn kp003_stage_files_are_named_after_stages() {
    let env = Env::baseline().with("stages/staging.yaml", DEV);
    assert_one(env.findings(&[]), at(&env, "KP003", "stages/staging.yaml", (1, 1)));

    // dev.yml next to dev.yaml.
    let env = Env::baseline().with("stages/dev.yml", DEV);
    let finding = assert_one(env.findings(&[]), at(&env, "KP003", "stages/dev.yml", (1, 1)));
    assert_eq!(finding.message, "a second file for stage `dev`");

    // Asking for a stage that has no file.
    let env = Env::baseline();
    let finding = assert_one(env.findings(&[Test]), rule("KP003"));
    assert!(finding.hint.unwrap().ends_with("stages/test.yaml"));

    assert_clean(Env::baseline().findings(&[Dev]));
}

// ---- KP1xx: cluster settings ----

#[test]
fn kp100_required_settings_are_reported_per_stage_file() {
    let dev = DEV.replace("dns:\n  zone_name: kafka.dev.example.internal\n", "");
    let env = Env::baseline().with(DEV_FILE, &dev);
    let finding = assert_one(env.findings(&[]), at(&env, "KP100", DEV_FILE, (1, 1)));
    assert!(finding.message.contains("dns.zone_name"), "{finding}");

    // The stage file must name its stage.
    let env = Env::baseline().edit(DEV_FILE, "stage: dev\n", "");
    let finding = assert_one(env.findings(&[]), at(&env, "KP100", DEV_FILE, (1, 1)));
    assert!(finding.message.contains("`stage`"));

    // Passing: the zone may come from the defaults as well.
    let env = Env::baseline().with(DEV_FILE, &dev).edit(
        "defaults.yaml",
        "region: eu-west-1\n",
        "region: eu-west-1\ndns:\n  zone_name: kafka.example.internal\n",
    );
    assert_clean(env.findings(&[]));
}

#[test]
fn kp101_account_region_prefix_and_patterns_must_be_well_formed() {
    let defaults = DEFAULTS.replace("\"111111111111\"", "\"11111\"");
    let env = Env::baseline().with("defaults.yaml", &defaults);
    assert_one(
        env.findings(&[]),
        at(&env, "KP101", "defaults.yaml", value_at(&defaults, "account_id: \"11111\"")),
    );

    let defaults = DEFAULTS.replace("region: eu-west-1", "region: europe");
    let env = Env::baseline().with("defaults.yaml", &defaults);
    // The availability zone no longer belongs to the region either.
    assert_findings(
        env.findings(&[]),
        &[
            at(&env, "KP101", "defaults.yaml", value_at(&defaults, "region: europe")),
            in_file(&env, "KP102", DEV_FILE),
        ],
    );

    let defaults = DEFAULTS.replace("resource_prefix: kafka", "resource_prefix: Kafka");
    let env = Env::baseline().with("defaults.yaml", &defaults);
    assert_one(
        env.findings(&[]),
        at(&env, "KP101", "defaults.yaml", value_at(&defaults, "resource_prefix: Kafka")),
    );

    let defaults = DEFAULTS.replace("'^{project}-[a-z0-9-]+$'", "'^{project}-[a-z'");
    let env = Env::baseline().with("defaults.yaml", &defaults);
    let finding = assert_one(
        env.findings(&[]),
        at(&env, "KP101", "defaults.yaml", value_at(&defaults, "service_account_pattern: '")),
    );
    assert!(finding.message.contains("not a valid regular expression"));
    // One line (the reason), not the regex crate's caret diagram: a finding's header is one line.
    assert!(!finding.message.contains('\n'), "{}", finding.message);
    assert!(finding.message.contains("unclosed character class"), "{}", finding.message);

    // Passing: another region with its zones.
    let env = Env::baseline().edit("defaults.yaml", "region: eu-west-1", "region: eu-central-1").edit(
        DEV_FILE,
        "[eu-west-1a]",
        "[eu-central-1a]",
    );
    assert_clean(env.findings(&[]));
}

#[test]
fn kp102_vpc_subnets_and_availability_zones_must_match() {
    // Two zones for one subnet.
    let dev = DEV.replace("[eu-west-1a]", "[eu-west-1a, eu-west-1b]");
    let env = Env::baseline().with(DEV_FILE, &dev);
    let finding =
        assert_one(env.findings(&[]), at(&env, "KP102", DEV_FILE, value_at(&dev, "availability_zones: [")));
    assert_eq!(finding.message, "2 availability zones for 1 subnets");

    // acc and prod need three subnets, one per zone.
    let acc = ACC
        .replace("[subnet-0a1b2c31, subnet-0a1b2c32, subnet-0a1b2c33]", "[subnet-0a1b2c31, subnet-0a1b2c32]")
        .replace("[eu-west-1a, eu-west-1b, eu-west-1c]", "[eu-west-1a, eu-west-1b]");
    let env = Env::baseline().with(ACC_FILE, &acc);
    let finding =
        assert_one(env.findings(&[Acc]), at(&env, "KP102", ACC_FILE, value_at(&acc, "subnet_ids: [")));
    assert!(finding.message.contains("acc and prod need 3"), "{finding}");

    // Two subnets in one zone, a malformed subnet and VPC id.
    let dev = DEV
        .replace("[subnet-0a1b2c3d]", "[subnet-0a1b2c3d, subnet-0a1b2c3e]")
        .replace("[eu-west-1a]", "[eu-west-1a, eu-west-1a]");
    let env = Env::baseline().with(DEV_FILE, &dev);
    let finding = assert_one(env.findings(&[]), in_file(&env, "KP102", DEV_FILE));
    assert_eq!(finding.message, "two subnets in the same availability zone");
    let dev = DEV.replace("subnet-0a1b2c3d", "subnet-xyz").replace("vpc-0a1b2c3d", "vpc-1");
    let env = Env::baseline().with(DEV_FILE, &dev);
    assert_findings(
        env.findings(&[]),
        &[
            at(&env, "KP102", DEV_FILE, position(&dev, "subnet-xyz")),
            at(&env, "KP102", DEV_FILE, value_at(&dev, "vpc_id: vpc-1")),
        ],
    );

    // Passing: two subnets in two zones in dev; three in acc.
    let dev = DEV
        .replace("[subnet-0a1b2c3d]", "[subnet-0a1b2c3d, subnet-0a1b2c3e]")
        .replace("[eu-west-1a]", "[eu-west-1a, eu-west-1b]");
    assert_clean(Env::baseline().with(DEV_FILE, &dev).with(ACC_FILE, ACC).findings(&[]));
}

#[test]
fn kp103_broker_counts_and_instance_types_are_sane() {
    let dev = DEV.replace("brokers: 1", "brokers: 31");
    let env = Env::baseline().with(DEV_FILE, &dev);
    assert_one(env.findings(&[]), at(&env, "KP103", DEV_FILE, value_at(&dev, "brokers: 31")));

    // acc needs three brokers, one per availability zone: two rules say so.
    let acc = ACC.replace("brokers: 3", "brokers: 2");
    let env = Env::baseline().with(ACC_FILE, &acc);
    let place = value_at(&acc, "brokers: 2");
    assert_findings(
        env.findings(&[Acc]),
        &[at(&env, "KP103", ACC_FILE, place), at(&env, "KP103", ACC_FILE, place)],
    );

    let defaults = DEFAULTS.replace("instance_type: m6i.large", "instance_type: large");
    let env = Env::baseline().with("defaults.yaml", &defaults);
    assert_one(
        env.findings(&[]),
        at(&env, "KP103", "defaults.yaml", value_at(&defaults, "instance_type: large")),
    );

    // Passing: 30 brokers is the upper bound.
    assert_clean(Env::baseline().edit(DEV_FILE, "brokers: 1", "brokers: 29").findings(&[]));
}

#[test]
fn kp104_acc_and_prod_need_a_dedicated_quorum_of_three_or_five() {
    let acc = ACC.replace("  brokers: 3\n", "  brokers: 3\n  controllers:\n    mode: combined\n");
    let env = Env::baseline().with(ACC_FILE, &acc);
    let finding =
        assert_one(env.findings(&[Acc]), at(&env, "KP104", ACC_FILE, value_at(&acc, "mode: combined")));
    assert_eq!(finding.message, "combined controllers in acc");

    let acc = ACC.replace("  brokers: 3\n", "  brokers: 3\n  controllers:\n    count: 4\n");
    let env = Env::baseline().with(ACC_FILE, &acc);
    assert_one(env.findings(&[Acc]), at(&env, "KP104", ACC_FILE, value_at(&acc, "count: 4")));

    // An even combined quorum in dev is allowed, with a warning.
    let dev = DEV.replace("brokers: 1", "brokers: 2");
    let env = Env::baseline().with(DEV_FILE, &dev);
    let finding = assert_one(env.findings(&[]), at(&env, "KP104", DEV_FILE, value_at(&dev, "brokers: 2")));
    assert_eq!(finding.severity, Severity::Warning);

    // Without a mode, test gets dedicated controllers (only dev defaults to combined).
    let test = DEV.replace("stage: dev", "stage: test").replace("  controllers:\n    mode: combined\n", "");
    assert_clean(Env::baseline().with("stages/test.yaml", &test).findings(&[Test]));
    assert!(!Env::baseline().with("stages/test.yaml", &test).model(Test).cluster.controllers.is_empty());

    // Passing: five dedicated controllers in acc, combined mode in dev (baseline).
    let acc =
        ACC.replace("  brokers: 3\n", "  brokers: 3\n  controllers:\n    mode: dedicated\n    count: 5\n");
    assert_clean(Env::baseline().with(ACC_FILE, &acc).findings(&[]));
}

#[test]
fn kp105_cidrs_are_valid_networks_and_never_the_whole_internet_in_public() {
    let dev = DEV.replace(
        "  availability_zones: [eu-west-1a]\n",
        "  availability_zones: [eu-west-1a]\n  client_cidrs: [10.200.0.1/16, ten-dot]\n",
    );
    let env = Env::baseline().with(DEV_FILE, &dev);
    let findings = assert_findings(
        env.findings(&[]),
        &[
            at(&env, "KP105", DEV_FILE, position(&dev, "10.200.0.1/16")),
            at(&env, "KP105", DEV_FILE, position(&dev, "ten-dot")),
        ],
    );
    assert!(findings.iter().any(|f| f.hint.as_deref() == Some("did you mean 10.200.0.0/16?")));

    let public =
        "public_endpoint:\n  enabled: true\n  subnet_ids: [subnet-0a1b2c40]\n  allowed_cidrs: [0.0.0.0/0]\n";
    let dev = dev_with(public);
    let env = Env::baseline().with(DEV_FILE, &dev);
    assert_one(env.findings(&[]), at(&env, "KP105", DEV_FILE, position(&dev, "0.0.0.0/0")));

    let dev = dev_with("public_endpoint:\n  enabled: true\n  subnet_ids: [subnet-0a1b2c40]\n");
    let env = Env::baseline().with(DEV_FILE, &dev);
    let finding = assert_one(env.findings(&[]), at(&env, "KP105", DEV_FILE, value_at(&dev, "enabled: true")));
    assert_eq!(finding.message, "public endpoint without allowed_cidrs");

    // Passing: network addresses, a partner range in public.
    let dev = dev_with(&public.replace("0.0.0.0/0", "198.51.100.0/24")).replace(
        "  availability_zones: [eu-west-1a]\n",
        "  availability_zones: [eu-west-1a]\n  client_cidrs: [10.200.0.0/16]\n",
    );
    assert_clean(Env::baseline().with(DEV_FILE, &dev).findings(&[]));
}

#[test]
fn kp106_public_ports_stay_in_the_unprivileged_range() {
    let public = "public_endpoint:\n  enabled: true\n  subnet_ids: [subnet-0a1b2c40]\n  allowed_cidrs: [198.51.100.0/24]\n  first_port: 80\n";
    let dev = dev_with(public);
    let env = Env::baseline().with(DEV_FILE, &dev);
    assert_one(env.findings(&[]), at(&env, "KP106", DEV_FILE, value_at(&dev, "first_port: 80")));
    assert_clean(
        Env::baseline()
            .with(DEV_FILE, &dev_with(&public.replace("first_port: 80", "first_port: 9100")))
            .findings(&[]),
    );
}

#[test]
fn kp107_images_are_pinned() {
    let defaults = DEFAULTS.replace("tag: 7.9.1", "tag: latest");
    let env = Env::baseline().with("defaults.yaml", &defaults);
    assert_one(env.findings(&[]), at(&env, "KP107", "defaults.yaml", value_at(&defaults, "tag: latest")));
    assert_clean(Env::baseline().edit("defaults.yaml", "tag: 7.9.1", "tag: 7.9.2").findings(&[]));
}

#[test]
fn kp108_data_volumes_have_legal_size_throughput_and_iops() {
    let defaults = DEFAULTS.replace("size_gib: 100", "size_gib: 5");
    let env = Env::baseline().with("defaults.yaml", &defaults);
    assert_one(env.findings(&[]), at(&env, "KP108", "defaults.yaml", value_at(&defaults, "size_gib: 5")));

    let defaults =
        DEFAULTS.replace("size_gib: 100", "size_gib: 100\n    volume_type: st1\n    throughput_mibps: 250");
    let env = Env::baseline().with("defaults.yaml", &defaults);
    let finding = assert_one(
        env.findings(&[]),
        at(&env, "KP108", "defaults.yaml", value_at(&defaults, "throughput_mibps: 250")),
    );
    assert_eq!(finding.message, "throughput is only configurable for gp3");

    let defaults = DEFAULTS.replace("size_gib: 100", "size_gib: 100\n    iops: 1000");
    let env = Env::baseline().with("defaults.yaml", &defaults);
    assert_one(env.findings(&[]), at(&env, "KP108", "defaults.yaml", value_at(&defaults, "iops: 1000")));

    let defaults = DEFAULTS.replace(
        "size_gib: 100",
        "size_gib: 100\n    volume_type: gp3\n    throughput_mibps: 250\n    iops: 6000",
    );
    assert_clean(Env::baseline().with("defaults.yaml", &defaults).findings(&[]));
}

#[test]
fn kp109_the_broker_heap_leaves_room_for_the_page_cache() {
    let defaults = DEFAULTS.replace("broker_heap_mib: 1024", "broker_heap_mib: 3072");
    let env = Env::baseline().with("defaults.yaml", &defaults);
    assert_one(
        env.findings(&[]),
        at(&env, "KP109", "defaults.yaml", value_at(&defaults, "broker_heap_mib: 3072")),
    );
    assert_clean(
        Env::baseline().edit("defaults.yaml", "broker_heap_mib: 1024", "broker_heap_mib: 2048").findings(&[]),
    );
}

#[test]
fn kp110_an_existing_ca_is_named_by_its_acm_pca_arn() {
    let ca = "certificate_authority:\n  mode: existing\n  arn: arn:aws:acm-pca:eu-west-1:111111111111:certificate-authority/nope\n";
    let dev = dev_with(ca);
    let env = Env::baseline().with(DEV_FILE, &dev);
    assert_one(env.findings(&[]), at(&env, "KP110", DEV_FILE, value_at(&dev, "arn: arn")));

    // A created CA's validity and the leaf validity are bounded too.
    let dev =
        dev_with("certificate_authority:\n  validity_years: 50\ncertificates:\n  validity_days: 1000\n");
    let env = Env::baseline().with(DEV_FILE, &dev);
    assert_findings(
        env.findings(&[]),
        &[
            at(&env, "KP110", DEV_FILE, value_at(&dev, "validity_years: 50")),
            at(&env, "KP110", DEV_FILE, value_at(&dev, "validity_days: 1000")),
        ],
    );

    let ok = ca.replace("/nope", "/12345678-1234-1234-1234-123456789012");
    assert_clean(Env::baseline().with(DEV_FILE, &dev_with(&ok)).findings(&[]));

    // The renewal window: 2 days to half the validity.
    for window in ["renew_before_days: 1", "renew_before_days: 200"] {
        let dev = dev_with(&format!("certificates:\n  validity_days: 365\n  {window}\n"));
        let env = Env::baseline().with(DEV_FILE, &dev);
        assert_one(env.findings(&[]), at(&env, "KP110", DEV_FILE, value_at(&dev, window)));
    }
    let dev = dev_with("certificates:\n  validity_days: 365\n  renew_before_days: 182\n");
    assert_clean(Env::baseline().with(DEV_FILE, &dev).findings(&[]));
}

#[test]
fn kp110_kp100_an_existing_ca_needs_its_arn() {
    let env = Env::baseline().with(DEV_FILE, &dev_with("certificate_authority:\n  mode: existing\n"));
    let finding = assert_one(env.findings(&[]), at(&env, "KP100", DEV_FILE, (1, 1)));
    assert!(finding.message.contains("certificate_authority.arn"));
}

#[test]
fn kp111_generated_passwords_are_long_enough() {
    let dev = dev_with("passwords:\n  length: 8\n");
    let env = Env::baseline().with(DEV_FILE, &dev);
    assert_one(env.findings(&[]), at(&env, "KP111", DEV_FILE, value_at(&dev, "length: 8")));
    assert_clean(Env::baseline().with(DEV_FILE, &dev_with("passwords:\n  length: 16\n")).findings(&[]));
}

#[test]
fn kp111_passwords_never_contain_a_comma() {
    // kafka-storage format --add-scram splits the admin credential at commas.
    let dev = dev_with("passwords:\n  exclude_characters: \"\\\"'\"\n");
    let env = Env::baseline().with(DEV_FILE, &dev);
    assert_one(env.findings(&[]), at(&env, "KP111", DEV_FILE, value_at(&dev, "exclude_characters: ")));
    let with_comma = dev_with("passwords:\n  exclude_characters: \"\\\"',\"\n");
    assert_clean(Env::baseline().with(DEV_FILE, &with_comma).findings(&[]));
}

#[test]
fn kp112_log_retention_is_a_value_cloudwatch_accepts() {
    let dev = dev_with("logs:\n  retention_days: 8\n");
    let env = Env::baseline().with(DEV_FILE, &dev);
    assert_one(env.findings(&[]), at(&env, "KP112", DEV_FILE, value_at(&dev, "retention_days: 8")));
    assert_clean(Env::baseline().with(DEV_FILE, &dev_with("logs:\n  retention_days: 7\n")).findings(&[]));
}

#[test]
fn kp113_the_topic_policy_is_consistent() {
    let defaults = DEFAULTS.replace("min_insync_replicas: 1", "min_insync_replicas: 0");
    let env = Env::baseline().with("defaults.yaml", &defaults);
    assert_one(
        env.findings(&[]),
        at(&env, "KP113", "defaults.yaml", value_at(&defaults, "min_insync_replicas: 0")),
    );

    let defaults = DEFAULTS.replace("[cleanup.policy,", "[retention.hours, cleanup.policy,");
    let env = Env::baseline().with("defaults.yaml", &defaults);
    assert_one(env.findings(&[]), at(&env, "KP113", "defaults.yaml", position(&defaults, "retention.hours")));

    // Three brokers cannot hold a default replication factor of four (every topic fails too).
    let dev =
        dev_with("topic_policy:\n  default_replication_factor: 4\n").replace("brokers: 1", "brokers: 3");
    let env = Env::baseline().with(DEV_FILE, &dev);
    let findings = env.findings(&[]);
    assert!(
        findings.iter().any(|f| f.rule == "KP113"
            && (f.location.line, f.location.column) == value_at(&dev, "default_replication_factor: 4")),
        "{}",
        show(&findings)
    );

    // A maximum retention of 0 (and alpha's topic is then above it).
    let dev = dev_with("topic_policy:\n  max_retention_ms: 0\n");
    let env = Env::baseline().with(DEV_FILE, &dev);
    assert_findings(
        env.findings(&[]),
        &[
            at(&env, "KP113", DEV_FILE, value_at(&dev, "max_retention_ms: 0")),
            at(&env, "KP211", ALPHA_FILE, value_at(ALPHA, "retention.ms: 86400000")),
        ],
    );

    // Passing: replication 3 with min ISR 2 on three brokers.
    let dev = dev_with("topic_policy:\n  default_replication_factor: 3\n  min_replication_factor: 2\n  min_insync_replicas: 2\n").replace("brokers: 1", "brokers: 3");
    assert_clean(Env::baseline().with(DEV_FILE, &dev).findings(&[]));
}

#[test]
fn kp114_the_stage_key_matches_the_file_name() {
    let dev = DEV.replace("stage: dev", "stage: test");
    let env = Env::baseline().with(DEV_FILE, &dev);
    assert_one(env.findings(&[]), at(&env, "KP114", DEV_FILE, value_at(&dev, "stage: test")));
    assert_clean(Env::baseline().findings(&[]));
}

#[test]
fn kp115_privatelink_principals_are_iam_arns() {
    let link =
        "private_link:\n  enabled: true\n  allowed_principals: [\"*\"]\n  consumer_cidrs: [10.44.0.0/16]\n";
    let dev = dev_with(link);
    let env = Env::baseline().with(DEV_FILE, &dev);
    assert_one(env.findings(&[]), at(&env, "KP115", DEV_FILE, position(&dev, "\"*\"")));
    assert_clean(
        Env::baseline()
            .with(DEV_FILE, &dev_with(&link.replace("\"*\"", "\"arn:aws:iam::444444444444:root\"")))
            .findings(&[]),
    );
}

#[test]
fn kp116_the_dns_zone_is_a_domain_name() {
    let dev = DEV.replace("zone_name: kafka.dev.example.internal", "zone_name: Kafka_Dev");
    let env = Env::baseline().with(DEV_FILE, &dev);
    assert_one(env.findings(&[]), at(&env, "KP116", DEV_FILE, value_at(&dev, "zone_name: Kafka_Dev")));
    assert_clean(
        Env::baseline().edit(DEV_FILE, "kafka.dev.example.internal", "dev.kafka.example.com").findings(&[]),
    );
}

// ---- KP2xx: projects and topics ----

const GAMMA: &str = "project: gamma\ndescription: Gamma.\nowner:\n  team: gamma-team\n  email: gamma@example.com\ndata_classification: public\n";

#[test]
fn kp200_project_names_match_file_and_convention_and_are_unique() {
    let gamma = GAMMA.replace("project: gamma", "project: gama");
    let env = Env::baseline().with("projects/gamma.yaml", &gamma);
    let finding = assert_one(env.findings(&[]), at(&env, "KP200", "projects/gamma.yaml", (1, 10)));
    assert_eq!(finding.message, "project `gama` in file gamma.yaml");

    let defaults = DEFAULTS.replace(
        "  resource_prefix: kafka\n",
        "  resource_prefix: kafka\n  project_pattern: '^[a-z]{5,}$'\n",
    );
    let env = Env::baseline().with("defaults.yaml", &defaults);
    // beta is four letters: the convention wants five.
    let finding = assert_one(env.findings(&[]), at(&env, "KP200", BETA_FILE, (1, 10)));
    assert_eq!(finding.message, "project name `beta` does not follow the naming convention");

    let env = Env::baseline().with("projects/gamma.yaml", GAMMA).with("projects/gamma2.yaml", GAMMA);
    assert_findings(
        env.findings(&[]),
        &[
            at(&env, "KP200", "projects/gamma2.yaml", (1, 10)), // file name
            at(&env, "KP200", "projects/gamma2.yaml", (1, 10)), // declared twice
        ],
    );

    assert_clean(Env::baseline().with("projects/gamma.yaml", GAMMA).findings(&[]));
}

#[test]
fn kp201_every_project_declares_its_metadata() {
    let gamma = GAMMA.replace("description: Gamma.\n", "");
    let env = Env::baseline().with("projects/gamma.yaml", &gamma);
    let finding = assert_one(env.findings(&[]), at(&env, "KP201", "projects/gamma.yaml", (1, 1)));
    assert_eq!(finding.message, "project `gamma` has no description");

    let gamma = "project: gamma\n";
    let env = Env::baseline().with("projects/gamma.yaml", gamma);
    let findings =
        assert_findings(env.findings(&[]), &[rule("KP201"), rule("KP201"), rule("KP201"), rule("KP201")]);
    for what in ["description", "owner.team", "owner.email", "data_classification"] {
        assert!(
            findings.iter().any(|f| f.message.ends_with(&format!("has no {what}"))),
            "{what}: {}",
            show(&findings)
        );
    }

    let gamma = GAMMA.replace("gamma@example.com", "gamma-at-example");
    let env = Env::baseline().with("projects/gamma.yaml", &gamma);
    assert_one(
        env.findings(&[]),
        at(&env, "KP201", "projects/gamma.yaml", value_at(&gamma, "email: gamma-at")),
    );

    assert_clean(Env::baseline().with("projects/gamma.yaml", GAMMA).findings(&[]));
}

#[test]
fn kp202_topic_names_are_legal_for_kafka() {
    // 250 characters, otherwise following the convention.
    let long = format!("alpha.{}.v1", "a".repeat(241));
    let alpha = alpha_with_topics(&format!("  - name: {long}\n"));
    let env = Env::baseline().with(ALPHA_FILE, &alpha);
    assert_one(env.findings(&[]), at(&env, "KP202", ALPHA_FILE, position(&alpha, &long)));

    // A character Kafka refuses also breaks the convention.
    let alpha = alpha_with_topics("  - name: alpha.orders!.v1\n");
    let env = Env::baseline().with(ALPHA_FILE, &alpha);
    let place = position(&alpha, "alpha.orders!.v1");
    assert_findings(
        env.findings(&[]),
        &[at(&env, "KP202", ALPHA_FILE, place), at(&env, "KP204", ALPHA_FILE, place)],
    );

    // Kafka's internal names are reserved, whatever the convention says.
    let defaults = DEFAULTS.replace(r"'^{project}\.[a-z0-9_.-]+\.v[0-9]+$'", "'.*'");
    let alpha = alpha_with_topics("  - name: __consumer_offsets\n");
    let env = Env::baseline().with("defaults.yaml", &defaults).with(ALPHA_FILE, &alpha);
    assert_one(env.findings(&[]), at(&env, "KP202", ALPHA_FILE, position(&alpha, "__consumer_offsets")));

    // Passing: exactly 249 characters.
    let longest = format!("alpha.{}.v1", "a".repeat(240));
    assert_clean(
        Env::baseline().with(ALPHA_FILE, &alpha_with_topics(&format!("  - name: {longest}\n"))).findings(&[]),
    );
}

#[test]
fn kp203_names_that_differ_only_in_dot_and_underscore_collide() {
    let alpha = alpha_with_topics("  - name: alpha.order_lines.v1\n  - name: alpha.order.lines.v1\n");
    let env = Env::baseline().with(ALPHA_FILE, &alpha);
    let finding = assert_one(
        env.findings(&[]),
        at(&env, "KP203", ALPHA_FILE, position(&alpha, "alpha.order.lines.v1")),
    );
    assert!(finding.hint.unwrap().contains("alpha.order_lines.v1"));
    assert_clean(
        Env::baseline()
            .with(
                ALPHA_FILE,
                &alpha_with_topics("  - name: alpha.order-lines.v1\n  - name: alpha.order.lines.v1\n"),
            )
            .findings(&[]),
    );
}

#[test]
fn kp204_topic_names_follow_the_naming_convention() {
    let alpha = alpha_with_topics("  - name: beta.orders.v1\n");
    let env = Env::baseline().with(ALPHA_FILE, &alpha);
    let finding =
        assert_one(env.findings(&[]), at(&env, "KP204", ALPHA_FILE, position(&alpha, "beta.orders.v1")));
    assert!(finding.hint.unwrap().contains(r"^alpha\."), "the project is filled into the pattern");
    assert_clean(
        Env::baseline().with(ALPHA_FILE, &alpha_with_topics("  - name: alpha.refunds.v2\n")).findings(&[]),
    );
}

#[test]
fn kp205_a_topic_is_declared_once() {
    let alpha = alpha_with_topics("  - name: alpha.orders.v1\n");
    let env = Env::baseline().with(ALPHA_FILE, &alpha);
    let second = (position(&alpha, "service_accounts").0 - 1, 11);
    assert_one(env.findings(&[]), at(&env, "KP205", ALPHA_FILE, second));
    assert_clean(
        Env::baseline().with(ALPHA_FILE, &alpha_with_topics("  - name: alpha.orders.v2\n")).findings(&[]),
    );
}

#[test]
fn kp206_the_replication_factor_cannot_exceed_the_brokers() {
    let alpha = ALPHA.replace("partitions: 3\n", "partitions: 3\n    replication_factor: 3\n");
    let env = Env::baseline().with(ALPHA_FILE, &alpha);
    let finding = assert_one(
        env.findings(&[]),
        at(&env, "KP206", ALPHA_FILE, value_at(&alpha, "replication_factor: 3")),
    );
    assert_eq!(finding.message, "topic `alpha.orders.v1`: replication factor 3 with 1 brokers in dev");

    // Passing: a per-stage override brings it down to what dev has.
    let alpha = alpha
        .replace("    shared_with:", "    overrides:\n      dev: {replication_factor: 1}\n    shared_with:");
    assert_clean(Env::baseline().with(ALPHA_FILE, &alpha).findings(&[]));
}

/// Dev with three brokers and a policy of replication 2 at least.
fn dev_three_brokers_min_rf_2() -> String {
    dev_with("topic_policy:\n  default_replication_factor: 3\n  min_replication_factor: 2\n  min_insync_replicas: 1\n").replace("brokers: 1", "brokers: 3")
}

#[test]
fn kp207_the_replication_factor_meets_the_stage_minimum() {
    let alpha = ALPHA.replace("partitions: 3\n", "partitions: 3\n    replication_factor: 1\n");
    let env = Env::baseline().with(DEV_FILE, &dev_three_brokers_min_rf_2()).with(ALPHA_FILE, &alpha);
    assert_one(env.findings(&[]), at(&env, "KP207", ALPHA_FILE, value_at(&alpha, "replication_factor: 1")));
    let alpha = ALPHA.replace("partitions: 3\n", "partitions: 3\n    replication_factor: 2\n");
    assert_clean(
        Env::baseline().with(DEV_FILE, &dev_three_brokers_min_rf_2()).with(ALPHA_FILE, &alpha).findings(&[]),
    );
}

#[test]
fn kp208_min_insync_replicas_stays_below_the_replication_factor() {
    let alpha = ALPHA
        .replace("partitions: 3\n", "partitions: 3\n    replication_factor: 2\n")
        .replace("retention.ms: 86400000", "retention.ms: 86400000\n      min.insync.replicas: 2");
    let env = Env::baseline().with(DEV_FILE, &dev_three_brokers_min_rf_2()).with(ALPHA_FILE, &alpha);
    assert_one(env.findings(&[]), at(&env, "KP208", ALPHA_FILE, value_at(&alpha, "min.insync.replicas: 2")));
    let alpha = alpha.replace("replication_factor: 2", "replication_factor: 3");
    assert_clean(
        Env::baseline().with(DEV_FILE, &dev_three_brokers_min_rf_2()).with(ALPHA_FILE, &alpha).findings(&[]),
    );
}

#[test]
fn kp209_only_allowed_config_keys() {
    let alpha = ALPHA.replace("retention.ms: 86400000", "retention.ms: 86400000\n      segment.ms: 3600000");
    let env = Env::baseline().with(ALPHA_FILE, &alpha);
    let finding =
        assert_one(env.findings(&[]), at(&env, "KP209", ALPHA_FILE, position(&alpha, "segment.ms")));
    assert_eq!(
        finding.hint.as_deref(),
        Some("`segment.ms` is not in the dev topic policy's allowed_config_keys")
    );

    let alpha = ALPHA.replace("retention.ms: 86400000", "retention.msec: 86400000");
    let env = Env::baseline().with(ALPHA_FILE, &alpha);
    let finding =
        assert_one(env.findings(&[]), at(&env, "KP209", ALPHA_FILE, position(&alpha, "retention.msec")));
    assert_eq!(finding.hint.as_deref(), Some("did you mean `retention.ms`?"));

    assert_clean(
        Env::baseline().edit(ALPHA_FILE, "retention.ms: 86400000", "cleanup.policy: compact").findings(&[]),
    );
}

#[test]
fn kp210_config_values_have_the_right_type_and_range() {
    let alpha = ALPHA.replace("retention.ms: 86400000", "cleanup.policy: compacted");
    let env = Env::baseline().with(ALPHA_FILE, &alpha);
    let finding = assert_one(
        env.findings(&[]),
        at(&env, "KP210", ALPHA_FILE, value_at(&alpha, "cleanup.policy: compacted")),
    );
    assert!(finding.message.contains("not `compacted`"));

    // The only negative retention is -1 (infinite).
    let alpha = ALPHA.replace("retention.ms: 86400000", "retention.ms: -2");
    let env = Env::baseline().with(ALPHA_FILE, &alpha);
    let finding =
        assert_one(env.findings(&[]), at(&env, "KP210", ALPHA_FILE, value_at(&alpha, "retention.ms: -2")));
    assert_eq!(finding.message, "retention.ms = -2 is below the minimum -1");

    let alpha = ALPHA.replace("retention.ms: 86400000", "retention.ms: 7d");
    let env = Env::baseline().with(ALPHA_FILE, &alpha);
    assert_one(env.findings(&[]), at(&env, "KP210", ALPHA_FILE, value_at(&alpha, "retention.ms: 7d")));

    assert_clean(
        Env::baseline()
            .edit(ALPHA_FILE, "retention.ms: 86400000", "cleanup.policy: compact,delete")
            .findings(&[]),
    );
}

#[test]
fn kp211_retention_stays_within_the_stage_maximum() {
    let alpha = ALPHA.replace("retention.ms: 86400000", "retention.ms: -1");
    let env = Env::baseline().with(ALPHA_FILE, &alpha);
    let finding =
        assert_one(env.findings(&[]), at(&env, "KP211", ALPHA_FILE, value_at(&alpha, "retention.ms: -1")));
    assert_eq!(finding.message, "infinite retention is not allowed in dev");

    let alpha = ALPHA.replace("retention.ms: 86400000", "retention.ms: 604800001");
    let env = Env::baseline().with(ALPHA_FILE, &alpha);
    assert_one(env.findings(&[]), at(&env, "KP211", ALPHA_FILE, value_at(&alpha, "retention.ms: 604800001")));

    // Passing: -1 where the stage allows infinite retention; the maximum itself.
    let env = Env::baseline()
        .with(ALPHA_FILE, &ALPHA.replace("retention.ms: 86400000", "retention.ms: -1"))
        .with(DEV_FILE, &dev_with("topic_policy:\n  allow_infinite_retention: true\n"));
    assert_clean(env.findings(&[]));
    assert_clean(
        Env::baseline().edit(ALPHA_FILE, "retention.ms: 86400000", "retention.ms: 604800000").findings(&[]),
    );
}

#[test]
fn kp212_partitions_between_one_and_the_stage_maximum() {
    let alpha = ALPHA.replace("partitions: 3", "partitions: 0");
    let env = Env::baseline().with(ALPHA_FILE, &alpha);
    assert_one(env.findings(&[]), at(&env, "KP212", ALPHA_FILE, value_at(&alpha, "partitions: 0")));
    // Above the maximum: declared (alpha) or the policy's default (beta, pointed at by its name).
    let dev = dev_with("topic_policy:\n  max_partitions: 2\n");
    let env = Env::baseline().with(DEV_FILE, &dev);
    assert_findings(
        env.findings(&[]),
        &[
            at(&env, "KP212", ALPHA_FILE, value_at(ALPHA, "partitions: 3")),
            at(&env, "KP212", BETA_FILE, position(BETA, "beta.invoices.v1")),
        ],
    );
    assert_clean(
        Env::baseline().with(DEV_FILE, &dev_with("topic_policy:\n  max_partitions: 3\n")).findings(&[]),
    );
}

#[test]
fn kp213_a_declared_schema_file_exists() {
    let alpha =
        ALPHA.replace("    partitions: 3\n", "    partitions: 3\n    schema: schemas/orders.v1.avsc\n");
    let env = Env::baseline().with(ALPHA_FILE, &alpha);
    assert_one(env.findings(&[]), at(&env, "KP213", ALPHA_FILE, value_at(&alpha, "schema: schemas")));
    let env = env.with("projects/schemas/orders.v1.avsc", r#"{"type": "string"}"#);
    assert_clean(env.findings(&[]));
}

#[test]
fn kp216_a_schema_parses_and_the_finding_names_its_file() {
    let alpha =
        ALPHA.replace("    partitions: 3\n", "    partitions: 3\n    key_schema: schemas/orders-key.avsc\n");
    let broken = r#"{"type": "record", "name": "Key", "fields": [{"name": "id"}]}"#;
    let env = Env::baseline().with(ALPHA_FILE, &alpha).with("projects/schemas/orders-key.avsc", broken);
    let finding =
        assert_one(env.findings(&[]), at(&env, "KP216", ALPHA_FILE, value_at(&alpha, "key_schema: schemas")));
    assert!(finding.message.contains("schemas/orders-key.avsc"), "{}", finding.message);
    let fixed = r#"{"type": "record", "name": "Key", "fields": [{"name": "id", "type": "string"}]}"#;
    assert_clean(env.with("projects/schemas/orders-key.avsc", fixed).findings(&[]));
    // An unknown file type is refused the same way.
    let alpha = ALPHA.replace("    partitions: 3\n", "    partitions: 3\n    schema: schemas/orders.xml\n");
    let env = Env::baseline().with(ALPHA_FILE, &alpha).with("projects/schemas/orders.xml", "<x/>");
    assert_one(env.findings(&[]), at(&env, "KP216", ALPHA_FILE, value_at(&alpha, "schema: schemas")));
}

#[test]
fn kp217_schema_references_resolve() {
    let order = r#"{"type": "record", "name": "Order", "namespace": "alpha", "fields": [{"name": "total", "type": "alpha.Money"}]}"#;
    let money = r#"{"type": "record", "name": "Money", "namespace": "alpha", "fields": [{"name": "cents", "type": "long"}]}"#;
    let alpha = ALPHA.replace("    partitions: 3\n", "    partitions: 3\n    schema: schemas/order.avsc\n");
    let env = Env::baseline().with(ALPHA_FILE, &alpha).with("projects/schemas/order.avsc", order);
    let finding =
        assert_one(env.findings(&[]), at(&env, "KP217", ALPHA_FILE, value_at(&alpha, "schema: schemas")));
    assert!(finding.message.contains("alpha.Money"), "{}", finding.message);
    // Declared as a reference: resolves.
    let with_ref = alpha.replace(
        "    schema: schemas/order.avsc\n",
        "    schema: schemas/order.avsc\n    schema_references:\n      - name: alpha.Money\n        schema: schemas/money.avsc\n",
    );
    let env = env.with(ALPHA_FILE, &with_ref).with("projects/schemas/money.avsc", money);
    assert_clean(env.findings(&[]));
    // A reference whose file defines another name, and a subject outside the project.
    let misnamed = with_ref.replace("- name: alpha.Money", "- name: alpha.Cash");
    let env = env.with(ALPHA_FILE, &misnamed);
    let findings = env.findings(&[]);
    assert!(
        findings.iter().any(|f| f.rule == "KP217" && f.message.contains("defines `alpha.Money`")),
        "{findings:?}"
    );
    let outside = with_ref.replace(
        "        schema: schemas/money.avsc\n",
        "        schema: schemas/money.avsc\n        subject: beta.Money\n",
    );
    let env = env.with(ALPHA_FILE, &outside);
    assert_one(env.findings(&[]), at(&env, "KP217", ALPHA_FILE, value_at(&outside, "subject: beta")));
}

#[test]
fn kp218_schemas_are_checked_by_a_registry_in_every_lower_stage() {
    let alpha = ALPHA.replace("    partitions: 3\n", "    partitions: 3\n    schema: schemas/orders.avsc\n");
    let acc = format!("{ACC}schema_registry:\n  enabled: true\n  instances: 2\n");
    let env = Env::baseline()
        .with(ALPHA_FILE, &alpha)
        .with("projects/schemas/orders.avsc", r#"{"type": "string"}"#)
        .with(ACC_FILE, &acc);
    let finding =
        assert_one(env.findings(&[]), at(&env, "KP218", ALPHA_FILE, value_at(&alpha, "schema: schemas")));
    assert!(finding.message.contains("registered in acc but dev"), "{}", finding.message);
    let env = env.with(DEV_FILE, &dev_with("schema_registry:\n  enabled: true\n  instances: 1\n"));
    assert_clean(env.findings(&[]));
}

#[test]
fn kp214_topics_are_shared_with_existing_projects() {
    let alpha = ALPHA.replace("read: [beta]", "read: [beta, betta]");
    let env = Env::baseline().with(ALPHA_FILE, &alpha);
    let finding = assert_one(env.findings(&[]), at(&env, "KP214", ALPHA_FILE, position(&alpha, "betta")));
    assert_eq!(finding.hint.as_deref(), Some("did you mean `beta`?"));
    assert_clean(Env::baseline().findings(&[]));
}

#[test]
fn kp215_an_override_for_a_stage_without_the_topic_is_a_warning() {
    let topic =
        "  - name: alpha.audit.v1\n    stages: [dev, test]\n    overrides:\n      prod: {partitions: 6}\n";
    let alpha = alpha_with_topics(topic);
    let env = Env::baseline().with(ALPHA_FILE, &alpha);
    let finding =
        assert_one(env.findings(&[]), at(&env, "KP215", ALPHA_FILE, value_at(&alpha, "partitions: 6")));
    assert_eq!(finding.severity, Severity::Warning);
    assert_clean(
        Env::baseline().with(ALPHA_FILE, &alpha_with_topics(&topic.replace("prod:", "test:"))).findings(&[]),
    );
}

// ---- KP3xx: service accounts and access ----

#[test]
fn kp300_account_names_follow_the_convention_and_are_unique() {
    let alpha = alpha_with_accounts(
        "  - name: shop-alpha\n    authentication: scram\n    consumes: [alpha.orders.v1]\n    consumer_groups: [alpha-shop2]\n",
    );
    let env = Env::baseline().with(ALPHA_FILE, &alpha);
    let finding =
        assert_one(env.findings(&[]), at(&env, "KP300", ALPHA_FILE, position(&alpha, "shop-alpha")));
    assert!(finding.hint.unwrap().contains("^alpha-"));

    let alpha = alpha_with_accounts(
        "  - name: alpha-shop\n    authentication: mtls\n    consumes: [alpha.orders.v1]\n",
    );
    let env = Env::baseline().with(ALPHA_FILE, &alpha);
    let second = (position(&alpha, "authentication: mtls").0 - 1, 11);
    assert_one(env.findings(&[]), at(&env, "KP300", ALPHA_FILE, second));

    assert_clean(
        Env::baseline()
            .with(
                ALPHA_FILE,
                &alpha.replace(
                    "name: alpha-shop\n    authentication: mtls",
                    "name: alpha-shop2\n    authentication: mtls",
                ),
            )
            .findings(&[]),
    );
}

#[test]
fn kp300_account_names_that_give_the_same_cloudformation_id_collide() {
    // Both become `AccountAlphaShop2...` in the secrets stack.
    let alpha = alpha_with_accounts(
        "  - name: alpha-shop2\n    authentication: scram\n    consumes: [alpha.orders.v1]\n  - name: alpha-shop-2\n    authentication: scram\n    consumes: [alpha.orders.v1]\n",
    );
    let env = Env::baseline().with(ALPHA_FILE, &alpha);
    let finding =
        assert_one(env.findings(&[]), at(&env, "KP300", ALPHA_FILE, position(&alpha, "alpha-shop-2")));
    assert!(finding.message.contains("alpha-shop2"), "{finding}");
    assert_clean(
        Env::baseline().with(ALPHA_FILE, &alpha.replace("alpha-shop-2", "alpha-shop-3")).findings(&[]),
    );
}

#[test]
fn kp300_account_names_fit_in_a_certificate_common_name() {
    let long = format!("alpha-{}", "x".repeat(59));
    let alpha = alpha_with_accounts(&format!(
        "  - name: {long}\n    authentication: mtls\n    consumes: [alpha.orders.v1]\n"
    ));
    let env = Env::baseline().with(ALPHA_FILE, &alpha);
    assert_one(env.findings(&[]), at(&env, "KP300", ALPHA_FILE, position(&alpha, &long)));
    let longest = format!("alpha-{}", "x".repeat(58));
    let alpha = alpha_with_accounts(&format!(
        "  - name: {longest}\n    authentication: mtls\n    consumes: [alpha.orders.v1]\n"
    ));
    assert_clean(Env::baseline().with(ALPHA_FILE, &alpha).findings(&[]));
}

#[test]
fn kp301_accounts_use_declared_topics() {
    let alpha = ALPHA.replace("produces: [alpha.orders.v1]", "produces: [alpha.order.v1]");
    let env = Env::baseline().with(ALPHA_FILE, &alpha);
    let finding =
        assert_one(env.findings(&[]), at(&env, "KP301", ALPHA_FILE, position(&alpha, "alpha.order.v1")));
    assert_eq!(finding.hint.as_deref(), Some("did you mean `alpha.orders.v1`?"));
    assert_clean(Env::baseline().findings(&[]));
}

#[test]
fn kp302_accounts_only_use_topics_their_project_owns_or_that_are_shared_with_it() {
    // alpha stops sharing: beta's reader loses access.
    let alpha = ALPHA.replace("    shared_with:\n      read: [beta]\n", "");
    let env = Env::baseline().with(ALPHA_FILE, &alpha);
    let finding =
        assert_one(env.findings(&[]), at(&env, "KP302", BETA_FILE, position(BETA, "alpha.orders.v1")));
    assert_eq!(
        finding.message,
        "`beta-billing` of project beta may not read topic `alpha.orders.v1` of project alpha"
    );
    assert_eq!(
        finding.hint.as_deref(),
        Some("project alpha must add `beta` to shared_with.read of the topic")
    );

    // Shared for reading is not shared for writing.
    let beta = BETA.replace("produces: [beta.invoices.v1]", "produces: [beta.invoices.v1, alpha.orders.v1]");
    let env = Env::baseline().with(BETA_FILE, &beta);
    let finding =
        assert_one(env.findings(&[]), at(&env, "KP302", BETA_FILE, position(&beta, "alpha.orders.v1")));
    assert!(finding.message.contains("may not write"));

    let alpha = ALPHA.replace("read: [beta]", "read: [beta]\n      write: [beta]");
    assert_clean(Env::baseline().with(ALPHA_FILE, &alpha).with(BETA_FILE, &beta).findings(&[]));
}

#[test]
fn kp303_an_account_without_topics_is_a_warning() {
    let alpha = alpha_with_accounts("  - name: alpha-idle\n    authentication: scram\n");
    let env = Env::baseline().with(ALPHA_FILE, &alpha);
    let finding =
        assert_one(env.findings(&[]), at(&env, "KP303", ALPHA_FILE, position(&alpha, "alpha-idle")));
    assert_eq!(finding.severity, Severity::Warning);
    assert_clean(
        Env::baseline()
            .with(
                ALPHA_FILE,
                &alpha_with_accounts(
                    "  - name: alpha-idle\n    authentication: scram\n    consumes: [alpha.orders.v1]\n",
                ),
            )
            .findings(&[]),
    );
}

#[test]
fn kp304_group_and_transactional_prefixes_stay_within_the_project() {
    let alpha = ALPHA.replace(
        "    consumes: [alpha.orders.v1]\n",
        "    consumes: [alpha.orders.v1]\n    consumer_groups: [shop]\n    transactional_ids: [beta-shop]\n",
    );
    let env = Env::baseline().with(ALPHA_FILE, &alpha);
    assert_findings(
        env.findings(&[]),
        &[
            at(&env, "KP304", ALPHA_FILE, position(&alpha, "shop]")),
            at(&env, "KP304", ALPHA_FILE, position(&alpha, "beta-shop")),
        ],
    );
    let alpha = ALPHA.replace("    consumes: [alpha.orders.v1]\n", "    consumes: [alpha.orders.v1]\n    consumer_groups: [alpha-shop-workers]\n    transactional_ids: [alpha-shop]\n");
    assert_clean(Env::baseline().with(ALPHA_FILE, &alpha).findings(&[]));
}

#[test]
fn kp304_a_prefix_cannot_reach_into_a_project_whose_name_extends_this_one() {
    // Project `alphabet` exists: a group prefix `alphabet-` of project alpha would match its groups.
    let alphabet = GAMMA.replace("gamma", "alphabet");
    let alpha = ALPHA.replace(
        "    consumes: [alpha.orders.v1]\n",
        "    consumes: [alpha.orders.v1]\n    consumer_groups: [alphabet-reader]\n",
    );
    let env = Env::baseline().with("projects/alphabet.yaml", &alphabet).with(ALPHA_FILE, &alpha);
    assert_one(env.findings(&[]), at(&env, "KP304", ALPHA_FILE, position(&alpha, "alphabet-reader")));
    // A bare project name as prefix would cover every project starting with it.
    let alpha = ALPHA.replace(
        "    consumes: [alpha.orders.v1]\n",
        "    consumes: [alpha.orders.v1]\n    consumer_groups: [alpha]\n",
    );
    let env = Env::baseline().with(ALPHA_FILE, &alpha);
    assert_one(env.findings(&[]), at(&env, "KP304", ALPHA_FILE, position(&alpha, "alpha]")));
}

/// Beta with explicit ACLs appended.
fn beta_with_acls(acls: &str) -> String {
    beta_with_acls_on(BETA, acls)
}

/// A beta project file with explicit ACLs appended.
fn beta_with_acls_on(beta: &str, acls: &str) -> String {
    format!("{beta}acls:\n{acls}")
}

#[test]
fn kp306_explicit_acls_stay_within_the_project() {
    let acl = "  - service_account: alpha-shop\n    resource_type: topic\n    resource_name: beta.invoices.v1\n    operation: read\n    reason: audit\n";
    let beta = beta_with_acls(acl);
    let env = Env::baseline().with(BETA_FILE, &beta);
    let finding = assert_one(
        env.findings(&[]),
        at(&env, "KP306", BETA_FILE, value_at(&beta, "service_account: alpha-shop")),
    );
    assert_eq!(finding.message, "`alpha-shop` belongs to project alpha");

    let beta = beta_with_acls(
        "  - service_account: beta-billing\n    resource_type: cluster\n    resource_name: kafka-cluster\n    operation: alter\n    reason: wants it\n",
    );
    let env = Env::baseline().with(BETA_FILE, &beta);
    assert_one(env.findings(&[]), at(&env, "KP306", BETA_FILE, value_at(&beta, "operation: alter")));

    let beta = beta_with_acls(
        "  - service_account: beta-billing\n    resource_type: topic\n    pattern_type: prefixed\n    resource_name: alpha.\n    operation: read\n    reason: everything of alpha\n",
    );
    let env = Env::baseline().with(BETA_FILE, &beta);
    assert_one(env.findings(&[]), at(&env, "KP306", BETA_FILE, value_at(&beta, "resource_name: alpha.")));

    let beta = beta_with_acls(
        "  - service_account: beta-billing\n    resource_type: topic\n    pattern_type: prefixed\n    resource_name: beta.\n    operation: describe_configs\n    reason: reports retention\n",
    );
    assert_clean(Env::baseline().with(BETA_FILE, &beta).findings(&[]));
}

#[test]
fn kp306_an_explicit_acl_names_a_declared_account() {
    let acl = "  - service_account: beta-biling\n    resource_type: group\n    pattern_type: prefixed\n    resource_name: beta-billing-replay\n    operation: read\n    reason: replays\n";
    let beta = beta_with_acls(acl);
    let env = Env::baseline().with(BETA_FILE, &beta);
    let finding = assert_one(
        env.findings(&[]),
        at(&env, "KP306", BETA_FILE, value_at(&beta, "service_account: beta-biling")),
    );
    assert_eq!(finding.hint.as_deref(), Some("did you mean `beta-billing`?"));
    // Passing: an account retired after dev keeps its binding in dev and needs none in test.
    let beta = format!(
        "{BETA}  - name: beta-trial\n    authentication: scram\n    consumes: [beta.invoices.v1]\n    stages: [dev]\n"
    );
    let beta = beta_with_acls_on(
        &beta,
        &acl.replace("beta-biling", "beta-trial").replace("beta-billing-replay", "beta-trial-replay"),
    );
    let test = DEV.replace("stage: dev", "stage: test").replace("  controllers:\n    mode: combined\n", "");
    let env = Env::baseline().with(BETA_FILE, &beta).with("stages/test.yaml", &test);
    assert_clean(env.findings(&[]));
    assert!(env.model(Dev).acls.iter().any(|b| b.resource_name == "beta-trial-replay"));
    assert!(!env.model(Test).acls.iter().any(|b| b.resource_name == "beta-trial-replay"));
}

#[test]
fn kp306_an_explicit_acl_on_a_shared_topic_grants_no_more_than_the_share() {
    // alpha shares its topic with beta for reading only.
    let beta = beta_with_acls(
        "  - service_account: beta-billing\n    resource_type: topic\n    resource_name: alpha.orders.v1\n    operation: write\n    reason: sneaky\n",
    );
    let env = Env::baseline().with(BETA_FILE, &beta);
    assert_one(env.findings(&[]), at(&env, "KP306", BETA_FILE, value_at(&beta, "operation: write")));
    let beta = beta_with_acls(
        "  - service_account: beta-billing\n    resource_type: topic\n    resource_name: alpha.orders.v1\n    operation: describe_configs\n    reason: shows retention\n",
    );
    assert_clean(Env::baseline().with(BETA_FILE, &beta).findings(&[]));
}

#[test]
fn kp307_an_explicit_acl_gives_its_reason() {
    let beta = beta_with_acls(
        "  - service_account: beta-billing\n    resource_type: group\n    pattern_type: prefixed\n    resource_name: beta-billing-replay\n    operation: read\n",
    );
    let env = Env::baseline().with(BETA_FILE, &beta);
    assert_one(
        env.findings(&[]),
        at(&env, "KP307", BETA_FILE, value_at(&beta, "service_account: beta-billing")),
    );
    assert_clean(
        Env::baseline()
            .with(BETA_FILE, &format!("{beta}    reason: replays from a second group\n"))
            .findings(&[]),
    );
}

#[test]
fn kp310_what_exists_in_a_stage_exists_in_every_stage_below() {
    let alpha = alpha_with_topics("  - name: alpha.audit.v1\n    stages: [dev, prod]\n");
    let env = Env::baseline().with(ALPHA_FILE, &alpha);
    let prod = position(&alpha, "prod]");
    let findings = assert_findings(
        env.findings(&[]),
        &[at(&env, "KP310", ALPHA_FILE, prod), at(&env, "KP310", ALPHA_FILE, prod)],
    );
    assert!(findings.iter().any(|f| f.message == "topic `alpha.audit.v1` exists in prod but not in test"));
    assert!(findings.iter().any(|f| f.message == "topic `alpha.audit.v1` exists in prod but not in acc"));

    let alpha = alpha_with_accounts(
        "  - name: alpha-late\n    authentication: scram\n    consumes: [alpha.orders.v1]\n    stages: [test]\n",
    );
    let env = Env::baseline().with(ALPHA_FILE, &alpha);
    assert_one(env.findings(&[]), at(&env, "KP310", ALPHA_FILE, position(&alpha, "test]")));

    let alpha = alpha_with_topics("  - name: alpha.audit.v1\n    stages: []\n");
    let env = Env::baseline().with(ALPHA_FILE, &alpha);
    assert_one(env.findings(&[]), at(&env, "KP310", ALPHA_FILE, value_at(&alpha, "stages: []")));

    assert_clean(
        Env::baseline()
            .with(ALPHA_FILE, &alpha_with_topics("  - name: alpha.audit.v1\n    stages: [dev, test]\n"))
            .findings(&[]),
    );
}

// ---- KP4xx: CloudFormation limits ----

/// Alpha with `n` extra SCRAM accounts, each reading alpha's topic.
fn alpha_with_many_accounts(n: usize) -> String {
    let accounts: String = (0..n)
        .map(|i| {
            format!("  - name: alpha-app{i}\n    authentication: scram\n    consumes: [alpha.orders.v1]\n")
        })
        .collect();
    alpha_with_accounts(&accounts)
}

#[test]
fn kp401_a_stack_stays_within_500_resources() {
    // The secrets stack holds two resources per SCRAM account (its password and its read
    // policy), besides the admin's and the nodes'.
    let env = Env::baseline().with(ALPHA_FILE, &alpha_with_many_accounts(250));
    let finding = assert_one(env.findings(&[]), rule("KP401"));
    assert!(finding.message.starts_with("stack kafka-dev-secrets has 50"), "{finding}");
    assert_clean(Env::baseline().with(ALPHA_FILE, &alpha_with_many_accounts(240)).findings(&[]));
}

// KP402 (template over 1 MB) and KP403 (over 200 parameters or outputs) guard the renderer: with
// the resource limit of KP401 and bounded names neither can be reached from declarations today.

// ---- Careless and hostile input (issue 9): a located error, never a crash, leak or hang ----

/// The text of every finding, to check that nothing of a refused file leaks into it.
fn all_text(findings: &[kafka_platform_core::Finding]) -> String {
    findings.iter().map(|f| format!("{f}")).collect::<Vec<_>>().join("\n")
}

#[test]
fn kp103_a_huge_broker_count_is_reported_and_nothing_is_built_from_it() {
    // Before: the finding was recorded, then 4,000,000,000 nodes were allocated (abort).
    let dev = DEV.replace("brokers: 1", "brokers: 4000000001");
    let env = Env::baseline().with(DEV_FILE, &dev);
    let finding =
        assert_one(env.findings(&[]), at(&env, "KP103", DEV_FILE, value_at(&dev, "brokers: 4000000001")));
    assert!(finding.message.contains("4000000001 brokers"), "{finding}");
}

#[test]
fn kp104_a_huge_controller_count_is_reported_and_nothing_is_built_from_it() {
    let dev = DEV.replace("    mode: combined\n", "    mode: dedicated\n    count: 4000000000\n");
    let env = Env::baseline().with(DEV_FILE, &dev);
    assert_one(env.findings(&[]), at(&env, "KP104", DEV_FILE, value_at(&dev, "count: 4000000000")));
}

#[test]
fn kp106_a_first_port_near_the_top_of_u32_does_not_overflow() {
    // Before: first_port + brokers + 1 overflowed u32 and panicked.
    let public = "public_endpoint:\n  enabled: true\n  subnet_ids: [subnet-0a1b2c40]\n  allowed_cidrs: [198.51.100.0/24]\n  first_port: 4294967295\n";
    let dev = dev_with(public);
    let env = Env::baseline().with(DEV_FILE, &dev);
    assert_one(env.findings(&[]), at(&env, "KP106", DEV_FILE, value_at(&dev, "first_port: 4294967295")));
}

#[test]
fn kp109_a_huge_heap_without_container_memory_does_not_overflow() {
    // Before: the default memory (heap * 2) overflowed u32 and panicked.
    let env = Env::baseline().edit(
        "defaults.yaml",
        "  broker_heap_mib: 1024\n  broker_memory_mib: 3072\n",
        "  broker_heap_mib: 4294967295\n",
    );
    let defaults = std::fs::read_to_string(env.path("defaults.yaml")).unwrap();
    let heap = value_at(&defaults, "broker_heap_mib: 4294967295");
    let finding = assert_one(env.findings(&[]), at(&env, "KP109", "defaults.yaml", heap));
    assert_eq!(finding.message, "broker heap 4294967295 MiB");
    // A controller heap is bounded too.
    let dev = DEV.replace("    mode: combined\n", "    mode: combined\n    heap_mib: 99999999\n");
    let env = Env::baseline().with(DEV_FILE, &dev);
    assert_one(env.findings(&[]), at(&env, "KP109", DEV_FILE, value_at(&dev, "heap_mib: 99999999")));
}

#[test]
fn kp004_a_symlink_is_refused_by_name_and_nothing_it_points_at_is_read() {
    // Before: the link was followed and the process environment printed as the "offending line".
    let env = Env::baseline().without(BETA_FILE);
    std::os::unix::fs::symlink("/proc/self/environ", env.path(BETA_FILE)).unwrap();
    let findings = env.findings(&[]);
    let finding =
        findings.iter().find(|f| f.rule == "KP004").unwrap_or_else(|| panic!("{}", show(&findings)));
    assert_eq!(finding.location.path(), Some(env.path(BETA_FILE).as_path()));
    assert_eq!((finding.location.line, finding.location.column), (1, 1));
    let text = all_text(&findings);
    for (key, _) in std::env::vars() {
        assert!(!text.contains(&format!("{key}=")), "the environment leaked: {text}");
    }
    // The other files are still checked: alpha shares with beta, which did not parse, and that
    // is not reported again as an unknown project.
    assert_one(findings, at(&env, "KP004", BETA_FILE, (1, 1)));

    // A link to a device is refused the same way (before: /dev/zero grew memory without bound).
    let env = Env::baseline().without(BETA_FILE);
    std::os::unix::fs::symlink("/dev/zero", env.path(BETA_FILE)).unwrap();
    assert_one(env.findings(&[]), at(&env, "KP004", BETA_FILE, (1, 1)));

    // A symlinked projects folder could list files from anywhere.
    let env = Env::baseline();
    let elsewhere = env.root.join("elsewhere");
    std::fs::rename(env.path("projects"), &elsewhere).unwrap();
    std::os::unix::fs::symlink(&elsewhere, env.path("projects")).unwrap();
    assert_one(env.findings(&[]), at(&env, "KP004", "projects", (1, 1)));
}

#[test]
fn kp004_a_fifo_is_refused_without_waiting_for_a_writer() {
    // Before: reading the FIFO blocked for ever.
    let env = Env::baseline();
    let fifo = env.path("projects/gamma.yaml");
    let status = std::process::Command::new("mkfifo").arg(&fifo).status().expect("mkfifo runs");
    assert!(status.success());
    let finding = assert_one(env.findings(&[]), at(&env, "KP004", "projects/gamma.yaml", (1, 1)));
    assert!(finding.message.contains("FIFO"), "{finding}");
}

#[test]
fn kp004_a_file_above_the_size_cap_is_refused_and_a_folder_is_not_a_file() {
    let big = format!("{ALPHA}# {}\n", "x".repeat(1024 * 1024));
    let env = Env::baseline().with(ALPHA_FILE, &big);
    let finding = assert_one(env.findings(&[]), at(&env, "KP004", ALPHA_FILE, (1, 1)));
    assert!(finding.message.contains("1048576"), "{finding}");
    assert!(!finding.message.contains("xxxx"));

    let env = Env::baseline();
    std::fs::create_dir(env.path("projects/gamma.yaml")).unwrap();
    assert_one(env.findings(&[]), at(&env, "KP004", "projects/gamma.yaml", (1, 1)));

    // Passing: a file just below the cap.
    let fits = format!("{ALPHA}# {}\n", "x".repeat(1000 * 1000));
    assert_clean(Env::baseline().with(ALPHA_FILE, &fits).findings(&[]));
}

#[test]
fn kp001_unknown_tags_invalid_utf8_and_alias_bombs_are_located_errors() {
    // Before: the unknown tag was accepted without a word.
    let alpha = ALPHA.replace("description: Orders", "description: !!python/object:os.system Orders");
    let env = Env::baseline().with(ALPHA_FILE, &alpha);
    let finding = assert_one(env.findings(&[]), in_file(&env, "KP001", ALPHA_FILE));
    assert_eq!(finding.location.line, 2, "{finding}");

    let env = Env::baseline();
    let mut bytes = ALPHA.as_bytes().to_vec();
    let at_offset = ALPHA.find("Orders").unwrap();
    bytes.splice(at_offset..at_offset, [0xff, 0xfe]);
    std::fs::write(env.path(ALPHA_FILE), bytes).unwrap();
    assert_one(env.findings(&[]), at(&env, "KP001", ALPHA_FILE, position(ALPHA, "Orders")));

    let mut bomb = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
    for i in 1..12 {
        let p = i - 1;
        bomb.push_str(&format!(
            "a{i}: &a{i} [*a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}]\n"
        ));
    }
    let env = Env::baseline().with(ALPHA_FILE, &format!("{bomb}{ALPHA}"));
    let findings = env.findings(&[]);
    assert_eq!(findings.len(), 1, "{}", show(&findings));
    assert!(
        matches!(findings[0].rule, "KP001" | "KP002")
            && findings[0].location.path() == Some(env.path(ALPHA_FILE).as_path())
    );
}

#[test]
fn parse_errors_and_policy_findings_come_in_one_run() {
    // Before: alpha's syntax error stopped every policy check, so beta's problem came a round later.
    let broken = ALPHA.replace("    partitions: 3", "   partitions: 3");
    let beta =
        BETA.replace("  - name: beta.invoices.v1\n", "  - name: beta.invoices.v1\n    partitions: 0\n");
    let env = Env::baseline().with(ALPHA_FILE, &broken).with(BETA_FILE, &beta);
    // beta consumes alpha's topic; alpha did not parse, so that is not reported as unknown.
    assert_findings(
        env.findings(&[]),
        &[in_file(&env, "KP001", ALPHA_FILE), at(&env, "KP212", BETA_FILE, value_at(&beta, "partitions: 0"))],
    );
    // A stage file that does not parse is skipped; the other stages are checked.
    let env = Env::baseline()
        .with(DEV_FILE, "stage: [dev\n")
        .with(ACC_FILE, &ACC.replace("brokers: 3", "brokers: 2"));
    assert_findings(
        env.findings(&[]),
        &[
            in_file(&env, "KP001", DEV_FILE),
            in_file(&env, "KP103", ACC_FILE),
            in_file(&env, "KP103", ACC_FILE),
        ],
    );
}

#[test]
fn kp105_the_union_of_cidrs_is_bounded_in_both_families() {
    let with_clients = |cidrs: &str| {
        DEV.replace(
            "  availability_zones: [eu-west-1a]\n",
            &format!("  availability_zones: [eu-west-1a]\n  client_cidrs: {cidrs}\n"),
        )
    };
    // Before: two halves of the internet passed where 0.0.0.0/0 did not.
    let dev = with_clients("[0.0.0.0/1, 128.0.0.0/1]");
    let env = Env::baseline().with(DEV_FILE, &dev);
    assert_findings(
        env.findings(&[]),
        &[
            at(&env, "KP105", DEV_FILE, position(&dev, "0.0.0.0/1")),
            at(&env, "KP105", DEV_FILE, position(&dev, "128.0.0.0/1")),
        ],
    );
    // Many narrow CIDRs that together cover too much are reported at the list.
    let halves: Vec<String> = (0..=255).map(|i| format!("{i}.0.0.0/8")).collect();
    let dev = with_clients(&format!("[{}]", halves.join(", ")));
    let env = Env::baseline().with(DEV_FILE, &dev);
    let finding = assert_one(env.findings(&[]), at(&env, "KP105", DEV_FILE, position(&dev, "[0.0.0.0/8")));
    assert!(finding.message.contains("4294967296 IPv4 addresses"), "{finding}");
    // Before: accepted on the internal listeners.
    let dev = with_clients("[0.0.0.0/0]");
    let env = Env::baseline().with(DEV_FILE, &dev);
    assert_one(env.findings(&[]), at(&env, "KP105", DEV_FILE, position(&dev, "0.0.0.0/0")));
    let dev = with_clients("['::/0']");
    let env = Env::baseline().with(DEV_FILE, &dev);
    assert_one(env.findings(&[]), at(&env, "KP105", DEV_FILE, position(&dev, "'::/0'")));
    let public = "public_endpoint:\n  enabled: true\n  subnet_ids: [subnet-0a1b2c40]\n  allowed_cidrs: ['2001:db8::/32', 198.50.0.0/16, 198.51.0.0/16]\n";
    let dev = dev_with(public);
    let env = Env::baseline().with(DEV_FILE, &dev);
    assert_findings(
        env.findings(&[]),
        &[
            at(&env, "KP105", DEV_FILE, position(&dev, "'2001:db8::/32'")),
            at(&env, "KP105", DEV_FILE, position(&dev, "['2001")),
        ],
    );
    // The bound is declared per stage, within limits.
    let dev = dev_with("cidr_policy:\n  client_ipv4_prefix: 0\n");
    let env = Env::baseline().with(DEV_FILE, &dev);
    assert_one(env.findings(&[]), at(&env, "KP105", DEV_FILE, value_at(&dev, "client_ipv4_prefix: 0")));
    let dev = with_clients("[10.200.0.0/16, 10.201.0.0/16]") + "cidr_policy:\n  client_ipv4_prefix: 16\n";
    let env = Env::baseline().with(DEV_FILE, &dev);
    assert_one(env.findings(&[]), at(&env, "KP105", DEV_FILE, position(&dev, "[10.200")));

    // Passing: overlapping CIDRs count once; IPv6 ranges within the bound.
    let dev = with_clients("[10.0.0.0/8, 10.1.0.0/16, '2001:db8::/48']");
    assert_clean(Env::baseline().with(DEV_FILE, &dev).findings(&[]));
}

#[test]
fn an_ipv6_client_cidr_renders_as_cidr_ipv6() {
    // Before: rendered as CidrIp, which CloudFormation rejects at deploy time.
    let dev = DEV.replace(
        "  availability_zones: [eu-west-1a]\n",
        "  availability_zones: [eu-west-1a]\n  client_cidrs: ['2001:db8::/48']\n",
    );
    let model = Env::baseline().with(DEV_FILE, &dev).model(kafka_platform_core::StageName::Dev);
    let rendered = kafka_platform_core::render::render_stage(&model);
    let all: String = rendered.files.values().cloned().collect();
    assert!(
        all.contains("CidrIpv6: 2001:db8::/48") || all.contains("\"CidrIpv6\": \"2001:db8::/48\""),
        "no CidrIpv6 rule"
    );
    assert!(!all.contains("CidrIp: 2001:db8::/48") && !all.contains("\"CidrIp\": \"2001:db8::/48\""));
}

/// A project `name` with one account `account` (SCRAM) that consumes its own topic, plus `extra`
/// YAML for that account.
fn project_with_account(name: &str, account: &str, extra: &str) -> String {
    format!(
        "project: {name}\ndescription: {name}.\nowner:\n  team: {name}-team\n  email: {name}@example.com\ndata_classification: internal\ntopics:\n  - name: {name}.events.v1\nservice_accounts:\n  - name: {account}\n    authentication: scram\n    consumes: [{name}.events.v1]\n{extra}"
    )
}

#[test]
fn kp308_platform_principals_cannot_be_declared() {
    // Before: project `schema` took User:schema-registry, with write access to _schemas.
    let schema = project_with_account("schema", "schema-registry", "");
    let env = Env::baseline().with("projects/schema.yaml", &schema);
    let findings = assert_findings(
        env.findings(&[]),
        &[
            at(&env, "KP308", "projects/schema.yaml", value_at(&schema, "name: schema-registry")),
            at(&env, "KP308", "projects/schema.yaml", value_at(&schema, "name: schema-registry")),
        ],
    );
    assert!(
        findings.iter().any(|f| f.message.contains("platform's group `schema-registry`")),
        "{}",
        show(&findings)
    );
    // The super user and node names, whatever the naming pattern allows.
    let defaults = DEFAULTS.replace("'^{project}-[a-z0-9-]+$'", "'^[a-z0-9.-]+$'");
    for name in ["admin", "Admin", "b0", "c1000", "b0.kafka.dev.example.internal", "reconciler"] {
        let gamma = project_with_account("gamma", name, "");
        let env = Env::baseline().with("defaults.yaml", &defaults).with("projects/gamma.yaml", &gamma);
        let findings = env.findings(&[]);
        assert!(
            findings.iter().any(|f| f.rule == "KP308" && f.location.line == value_at(&gamma, &format!("name: {name}")).0),
            "{name}: {}",
            show(&findings)
        );
    }
    // Passing: an ordinary account of the project.
    let schema = project_with_account("schema", "schema-writer", "");
    assert_clean(Env::baseline().with("projects/schema.yaml", &schema).findings(&[]));
}

#[test]
fn kp305_prefixes_and_names_stay_out_of_longer_projects_name_spaces() {
    // Before: project billing could claim billing-ops' groups and transactional ids.
    let ops = project_with_account("billing-ops", "billing-ops-worker", "");
    let billing = project_with_account(
        "billing",
        "billing-invoicer",
        "    consumer_groups: [billing-ops-reader]\n    transactional_ids: [billing-]\n",
    );
    let env = Env::baseline().with("projects/billing-ops.yaml", &ops).with("projects/billing.yaml", &billing);
    assert_findings(
        env.findings(&[]),
        &[
            at(&env, "KP305", "projects/billing.yaml", position(&billing, "billing-ops-reader")),
            at(&env, "KP305", "projects/billing.yaml", position(&billing, "billing-]")),
        ],
    );
    // Before: account fleet-tracker of project fleet (group prefix = its name) joined the groups
    // of project fleet-tracker on a real cluster.
    let tracker = project_with_account("fleet-tracker", "fleet-tracker-app", "");
    let fleet = project_with_account("fleet", "fleet-tracker", "");
    let env =
        Env::baseline().with("projects/fleet-tracker.yaml", &tracker).with("projects/fleet.yaml", &fleet);
    let spot = value_at(&fleet, "name: fleet-tracker");
    assert_findings(
        env.findings(&[]),
        &[at(&env, "KP305", "projects/fleet.yaml", spot), at(&env, "KP305", "projects/fleet.yaml", spot)],
    );
    // Explicit ACLs on groups too.
    let acl = "acls:\n  - service_account: billing-invoicer\n    resource_type: group\n    pattern_type: prefixed\n    resource_name: billing-o\n    operation: read\n    reason: audit\n";
    let billing_acl = format!("{}{acl}", project_with_account("billing", "billing-invoicer", ""));
    let env =
        Env::baseline().with("projects/billing-ops.yaml", &ops).with("projects/billing.yaml", &billing_acl);
    assert_one(
        env.findings(&[]),
        at(&env, "KP305", "projects/billing.yaml", value_at(&billing_acl, "resource_name: billing-o")),
    );

    // Passing: the longer project's own prefixes lie in the shorter one's space, and that is fine;
    // the shorter project keeps to names the longer one cannot have.
    let ops = project_with_account(
        "billing-ops",
        "billing-ops-worker",
        "    consumer_groups: [billing-ops-workers]\n",
    );
    let billing =
        project_with_account("billing", "billing-invoicer", "    consumer_groups: [billing-invoicer-main]\n");
    assert_clean(
        Env::baseline()
            .with("projects/billing-ops.yaml", &ops)
            .with("projects/billing.yaml", &billing)
            .findings(&[]),
    );
}

#[test]
fn kp116_the_public_dns_name_is_a_host_name() {
    // Before: accepted without a finding.
    let public = "public_endpoint:\n  enabled: true\n  subnet_ids: [subnet-0a1b2c40]\n  allowed_cidrs: [198.51.100.0/24]\n  dns_name: \"evil.example.net:1/x\"\n";
    let dev = dev_with(public);
    let env = Env::baseline().with(DEV_FILE, &dev);
    assert_one(env.findings(&[]), at(&env, "KP116", DEV_FILE, value_at(&dev, "dns_name: \"evil")));
    assert_clean(
        Env::baseline()
            .with(DEV_FILE, &dev.replace("evil.example.net:1/x", "kafka.example.com"))
            .findings(&[]),
    );
}

#[test]
fn kp107_an_image_repository_is_a_docker_reference() {
    // Before: a repository with spaces was accepted.
    let env = Env::baseline().edit(
        "defaults.yaml",
        "repository: confluentinc/cp-kafka",
        "repository: confluent inc/cp kafka",
    );
    let defaults = std::fs::read_to_string(env.path("defaults.yaml")).unwrap();
    assert_one(
        env.findings(&[]),
        at(&env, "KP107", "defaults.yaml", value_at(&defaults, "repository: confluent inc")),
    );
    for good in
        ["123456789012.dkr.ecr.eu-west-1.amazonaws.com/mirror/cp-kafka", "registry.local:5000/cp-kafka"]
    {
        let env = Env::baseline().edit(
            "defaults.yaml",
            "repository: confluentinc/cp-kafka",
            &format!("repository: {good}"),
        );
        assert_clean(env.findings(&[]));
    }
}

#[test]
fn kp117_production_like_stages_run_at_least_two_schema_registries() {
    // Before: `instances: 0` in prod was accepted.
    let acc = format!("{ACC}schema_registry:\n  enabled: true\n  instances: 0\n");
    let env = Env::baseline().with(ACC_FILE, &acc);
    assert_one(env.findings(&[]), at(&env, "KP117", ACC_FILE, value_at(&acc, "instances: 0")));
    let acc = format!("{ACC}schema_registry:\n  enabled: true\n  instances: 1\n");
    let env = Env::baseline().with(ACC_FILE, &acc);
    assert_one(env.findings(&[]), at(&env, "KP117", ACC_FILE, value_at(&acc, "instances: 1")));
    // Passing: one is enough in dev; two in acc.
    assert_clean(
        Env::baseline()
            .with(DEV_FILE, &dev_with("schema_registry:\n  enabled: true\n  instances: 1\n"))
            .findings(&[]),
    );
    assert_clean(Env::baseline().with(ACC_FILE, &acc.replace("instances: 1", "instances: 2")).findings(&[]));
}

#[test]
fn kp111_exclude_characters_leave_a_large_enough_alphabet() {
    // Before: excluding all but two characters was accepted.
    let printable: String = (b'!'..=b'~').filter(|c| *c != b'a' && *c != b'b').map(char::from).collect();
    let yaml = serde_json::to_string(&printable).unwrap();
    let dev = dev_with(&format!("passwords:\n  exclude_characters: {yaml}\n"));
    let env = Env::baseline().with(DEV_FILE, &dev);
    let finding =
        assert_one(env.findings(&[]), at(&env, "KP111", DEV_FILE, value_at(&dev, "exclude_characters: ")));
    assert!(finding.message.contains("leaves 2 characters"), "{finding}");
    assert_clean(
        Env::baseline()
            .with(DEV_FILE, &dev_with("passwords:\n  exclude_characters: \"'`\\\\,\"\n"))
            .findings(&[]),
    );
}

#[test]
fn kp309_consumer_groups_on_an_account_that_consumes_nothing_is_a_warning() {
    // Before: the groups were dropped without a word.
    let alpha = alpha_with_accounts(
        "  - name: alpha-writer\n    authentication: scram\n    produces: [alpha.orders.v1]\n    consumer_groups: [alpha-writer-group]\n",
    );
    let env = Env::baseline().with(ALPHA_FILE, &alpha);
    let finding =
        assert_one(env.findings(&[]), at(&env, "KP309", ALPHA_FILE, position(&alpha, "alpha-writer-group")));
    assert_eq!(finding.severity, Severity::Warning);
    assert_clean(
        Env::baseline()
            .with(ALPHA_FILE, &alpha.replace("    consumer_groups: [alpha-writer-group]\n", ""))
            .findings(&[]),
    );
}

#[test]
fn kp207_a_replication_factor_below_the_policy_is_reported_at_the_topic() {
    // Before: reported at the policy line of the stage file, without naming the topic.
    let dev = dev_with("topic_policy:\n  default_replication_factor: 1\n  min_replication_factor: 2\n  min_insync_replicas: 1\n")
        .replace("brokers: 1", "brokers: 3");
    let env = Env::baseline().with(DEV_FILE, &dev);
    let findings = assert_findings(
        env.findings(&[]),
        &[
            at(&env, "KP113", DEV_FILE, value_at(&dev, "min_replication_factor: 2")),
            at(&env, "KP207", ALPHA_FILE, value_at(ALPHA, "name: alpha.orders.v1")),
            at(&env, "KP207", BETA_FILE, value_at(BETA, "name: beta.invoices.v1")),
        ],
    );
    assert!(
        findings.iter().any(|f| f
            .message
            .starts_with("topic `beta.invoices.v1`: replication factor 1 (the stage default)")),
        "{}",
        show(&findings)
    );
}

#[test]
fn kp115_privatelink_declares_its_consumers_networks() {
    let link = "private_link:\n  enabled: true\n  allowed_principals: [\"arn:aws:iam::444444444444:root\"]\n";
    let dev = dev_with(link);
    let env = Env::baseline().with(DEV_FILE, &dev);
    let finding = assert_one(env.findings(&[]), at(&env, "KP115", DEV_FILE, value_at(&dev, "enabled: true")));
    assert!(finding.message.contains("consumer_cidrs"), "{}", finding.message);
    // The whole internet is no consumer network.
    let dev = dev_with(&format!("{link}  consumer_cidrs: [0.0.0.0/0]\n"));
    let env = Env::baseline().with(DEV_FILE, &dev);
    assert_one(env.findings(&[]), at(&env, "KP105", DEV_FILE, position(&dev, "0.0.0.0/0")));
    assert_clean(
        Env::baseline()
            .with(DEV_FILE, &dev_with(&format!("{link}  consumer_cidrs: [10.44.0.0/16]\n")))
            .findings(&[]),
    );
}

/// The baseline dev stage with `lines` added to its network section.
fn dev_network(lines: &str) -> String {
    DEV.replace(
        "  availability_zones: [eu-west-1a]\n",
        &format!("  availability_zones: [eu-west-1a]\n{lines}"),
    )
}

const NAT: &str = "network:\n  nat: true\n";

#[test]
fn kp120_the_private_subnets_reach_aws_through_nat_or_endpoints() {
    // Neither NAT nor endpoints: a warning that says what the subnets must reach.
    let env = Env::baseline().edit("defaults.yaml", NAT, "");
    let finding = assert_one(env.findings(&[]), in_file(&env, "KP120", DEV_FILE));
    assert!(!finding.is_error());
    let hint = finding.hint.unwrap();
    for service in ["ECR", "S3", "CloudWatch Logs", "SSM", "ecs-agent", "STS", "CloudFormation response URL"]
    {
        assert!(hint.contains(service), "{service} missing in: {hint}");
    }

    // Endpoints without NAT: images outside ECR cannot be pulled.
    let endpoints = "  vpc_endpoints:\n    enabled: true\n    route_table_ids: [rtb-0a1b2c3d]\n";
    let env = Env::baseline().edit("defaults.yaml", NAT, "").with(DEV_FILE, &dev_network(endpoints));
    assert_one(
        env.findings(&[]),
        at(&env, "KP120", "defaults.yaml", value_at(DEFAULTS, "repository: confluentinc/cp-kafka")),
    );
    let ecr = "repository: 123456789012.dkr.ecr.eu-west-1.amazonaws.com/cp-kafka";
    assert_clean(
        Env::baseline()
            .edit("defaults.yaml", NAT, "")
            .edit("defaults.yaml", "repository: confluentinc/cp-kafka", ecr)
            .with(DEV_FILE, &dev_network(endpoints))
            .findings(&[]),
    );
    // With NAT, endpoints are an addition and any registry is reachable.
    assert_clean(Env::baseline().with(DEV_FILE, &dev_network(endpoints)).findings(&[]));
}

#[test]
fn vpc_endpoints_need_the_route_tables_of_the_private_subnets() {
    let dev = dev_network("  vpc_endpoints:\n    enabled: true\n");
    let env = Env::baseline().with(DEV_FILE, &dev);
    let finding = assert_one(env.findings(&[]), at(&env, "KP100", DEV_FILE, value_at(&dev, "enabled: true")));
    assert!(finding.message.contains("route_table_ids"));
    let dev = dev_network("  vpc_endpoints:\n    enabled: true\n    route_table_ids: [table-1]\n");
    let env = Env::baseline().with(DEV_FILE, &dev);
    assert_one(env.findings(&[]), at(&env, "KP102", DEV_FILE, position(&dev, "table-1")));
}

#[test]
fn kp121_the_public_hosted_zone_is_a_zone_id_with_a_dns_name() {
    let public = "public_endpoint:\n  enabled: true\n  subnet_ids: [subnet-0a1b2c3e]\n  allowed_cidrs: [198.51.100.0/24]\n";
    let dev = dev_with(&format!("{public}  dns_name: kafka.example.com\n  hosted_zone_id: example.com\n"));
    let env = Env::baseline().with(DEV_FILE, &dev);
    assert_one(env.findings(&[]), at(&env, "KP121", DEV_FILE, value_at(&dev, "hosted_zone_id: example.com")));
    let dev = dev_with(&format!("{public}  hosted_zone_id: Z0123456789ABCDEFGHIJ\n"));
    let env = Env::baseline().with(DEV_FILE, &dev);
    let finding = assert_one(
        env.findings(&[]),
        at(&env, "KP121", DEV_FILE, value_at(&dev, "hosted_zone_id: Z0123456789ABCDEFGHIJ")),
    );
    assert!(finding.message.contains("dns_name"));
    let dev = dev_with(&format!(
        "{public}  dns_name: kafka.example.com\n  hosted_zone_id: Z0123456789ABCDEFGHIJ\n"
    ));
    assert_clean(Env::baseline().with(DEV_FILE, &dev).findings(&[]));
}

#[test]
fn kp125_monitoring_is_within_bounds() {
    let dev = dev_with("monitoring:\n  thresholds:\n    disk_used_percent: 99\n");
    let env = Env::baseline().with(DEV_FILE, &dev);
    let finding =
        assert_one(env.findings(&[]), at(&env, "KP125", DEV_FILE, value_at(&dev, "disk_used_percent: 99")));
    assert!(finding.hint.as_deref().unwrap_or_default().contains("50 to 95"));
    let dev = dev_with("monitoring:\n  drift_check:\n    interval_minutes: 1\n");
    let env = Env::baseline().with(DEV_FILE, &dev);
    assert_one(env.findings(&[]), at(&env, "KP125", DEV_FILE, value_at(&dev, "interval_minutes: 1")));
    let dev = dev_with(
        "monitoring:\n  alarm_subscriptions:\n    - { protocol: email, endpoint: not-an-address }\n",
    );
    let env = Env::baseline().with(DEV_FILE, &dev);
    assert_eq!(env.findings(&[]).iter().filter(|f| f.rule == "KP125").count(), 1);
    assert_clean(
        Env::baseline()
            .with(
                DEV_FILE,
                &dev_with(
                    "monitoring:\n  alarm_subscriptions:\n    - { protocol: email, endpoint: ops@example.com }\n  thresholds:\n    disk_used_percent: 95\n  drift_check:\n    interval_minutes: 5\n    mode: correct\n",
                ),
            )
            .findings(&[]),
    );
}

#[test]
fn kp311_the_debug_name_space_is_reserved() {
    // More cases (groups, transactional ids, explicit ACLs) in tests/debug_access.rs.
    let defaults = DEFAULTS.replace("'^{project}-[a-z0-9-]+$'", "'^[a-z0-9.-]+$'");
    let gamma = "project: gamma\ndescription: g.\nowner:\n  team: g\n  email: g@example.com\ndata_classification: internal\ntopics:\n  - name: gamma.events.v1\nservice_accounts:\n  - name: debug.gamma.x\n    authentication: scram\n    produces: [gamma.events.v1]\n";
    let env = Env::baseline().with("defaults.yaml", &defaults).with("projects/gamma.yaml", gamma);
    assert_one(
        env.findings(&[]),
        at(&env, "KP311", "projects/gamma.yaml", value_at(gamma, "name: debug.gamma.x")),
    );
}

#[test]
fn kp118_a_rollover_declares_a_phase_a_new_name_a_validity_and_a_created_ca() {
    let dev = dev_with("certificate_authority:\n  rollover:\n    common_name: Kafka dev CA\n");
    let env = Env::baseline().with(DEV_FILE, &dev);
    let f = assert_one(env.findings(&[]), rule("KP118"));
    assert!(f.to_string().contains("declares no `phase`"), "{f}");

    let dev = dev_with(
        "certificate_authority:\n  rollover:\n    phase: trust\n    common_name: Kafka dev CA\n    validity_years: 40\n",
    );
    let env = Env::baseline().with(DEV_FILE, &dev);
    assert_findings(
        env.findings(&[]),
        &[
            at(&env, "KP118", DEV_FILE, value_at(&dev, "common_name: Kafka dev CA")),
            at(&env, "KP118", DEV_FILE, value_at(&dev, "validity_years: 40")),
        ],
    );

    let dev = dev_with(
        "certificate_authority:\n  mode: existing\n  arn: arn:aws:acm-pca:eu-west-1:111111111111:certificate-authority/11111111-2222-3333-4444-555555555555\n  rollover:\n    phase: trust\n",
    );
    let env = Env::baseline().with(DEV_FILE, &dev);
    let f = assert_one(env.findings(&[]), at(&env, "KP118", DEV_FILE, value_at(&dev, "phase: trust")));
    assert!(f.to_string().contains("needs `mode: create`"), "{f}");

    let env =
        Env::baseline().with(DEV_FILE, &dev_with("certificate_authority:\n  rollover:\n    phase: later\n"));
    assert!(!env.findings(&[]).is_empty(), "an unknown phase is refused");
    // Every phase renders within CloudFormation's limits.
    for phase in ["trust", "issue", "retire"] {
        assert_clean(
            Env::baseline()
                .with(
                    DEV_FILE,
                    &dev_with(&format!("certificate_authority:\n  rollover:\n    phase: {phase}\n")),
                )
                .findings(&[]),
        );
    }
}

#[test]
fn kp119_a_rollover_moves_one_phase_at_a_time_and_never_back() {
    use kafka_platform_core::config::stage::RolloverPhase::{self, *};
    assert_eq!(kafka_platform_core::config::stage::ROLLOVER_STEP_RULE, "KP119");
    let ok = [(None, None), (None, Some(Trust)), (Some(Trust), Some(Issue)), (Some(Issue), Some(Retire))];
    for (from, to) in ok {
        assert_eq!(RolloverPhase::step(from, to), Ok(()), "{from:?} -> {to:?}");
    }
    let e = RolloverPhase::step(None, Some(Issue)).unwrap_err();
    assert!(e.contains("one phase at a time") && e.contains("declare trust first"), "{e}");
    let e = RolloverPhase::step(Some(Trust), Some(Retire)).unwrap_err();
    assert!(e.contains("declare issue first"), "{e}");
    let e = RolloverPhase::step(Some(Retire), Some(Issue)).unwrap_err();
    assert!(e.contains("cannot go back"), "{e}");
    assert!(RolloverPhase::step(Some(Issue), None).is_err());
}
