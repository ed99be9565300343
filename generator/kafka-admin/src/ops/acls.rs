//! DescribeAcls, CreateAcls, DeleteAcls.

use kafka_protocol::messages::create_acls_request::AclCreation;
use kafka_protocol::messages::delete_acls_request::DeleteAclsFilter;
use kafka_protocol::messages::{CreateAclsRequest, DeleteAclsRequest, DescribeAclsRequest};
use kafka_protocol::protocol::StrBytes;

use crate::client::{AdminClient, Target};
use crate::error::{Error, Result};
use crate::types::{AclBinding, AclFilter, AclOperation, AclPermission, PatternType, ResourceType};

fn s(v: &str) -> StrBytes {
    StrBytes::from_string(v.to_string())
}

fn opt(v: &Option<String>) -> Option<StrBytes> {
    v.as_deref().map(s)
}

#[allow(clippy::too_many_arguments)]
fn binding(
    resource_type: i8,
    resource_name: &StrBytes,
    pattern_type: i8,
    principal: &StrBytes,
    host: &StrBytes,
    operation: i8,
    permission: i8,
) -> AclBinding {
    AclBinding {
        resource_type: ResourceType::from_code(resource_type),
        resource_name: resource_name.to_string(),
        pattern_type: PatternType::from_code(pattern_type),
        principal: principal.to_string(),
        host: host.to_string(),
        operation: AclOperation::from_code(operation),
        permission: AclPermission::from_code(permission),
    }
}

impl AdminClient {
    /// The ACL bindings matching `filter`, sorted.
    pub async fn describe_acls(&self, filter: &AclFilter) -> Result<Vec<AclBinding>> {
        self.retrying(async || self.describe_acls_once(Target::Any, filter).await).await
    }

    /// The ACL bindings matching `filter` as broker `node` serves them (its own authorizer's
    /// view, which follows the metadata log asynchronously), sorted; one attempt.
    pub async fn describe_acls_on(&self, node: i32, filter: &AclFilter) -> Result<Vec<AclBinding>> {
        self.describe_acls_once(Target::Node(node), filter).await
    }

    async fn describe_acls_once(&self, target: Target, filter: &AclFilter) -> Result<Vec<AclBinding>> {
        let response = self
            .send(target, |_| {
                DescribeAclsRequest::default()
                    .with_resource_type_filter(filter.resource_type.code())
                    .with_resource_name_filter(opt(&filter.resource_name))
                    .with_pattern_type_filter(filter.pattern_type.code())
                    .with_principal_filter(opt(&filter.principal))
                    .with_host_filter(opt(&filter.host))
                    .with_operation(filter.operation.code())
                    .with_permission_type(filter.permission.code())
            })
            .await?;
        Error::check(
            "DescribeAcls",
            None,
            response.error_code,
            response.error_message.map(|m| m.to_string()),
        )?;
        let mut bindings: Vec<AclBinding> = response
            .resources
            .iter()
            .flat_map(|r| {
                r.acls.iter().map(move |a| {
                    binding(
                        r.resource_type,
                        &r.resource_name,
                        r.pattern_type,
                        &a.principal,
                        &a.host,
                        a.operation,
                        a.permission_type,
                    )
                })
            })
            .collect();
        bindings.sort();
        Ok(bindings)
    }

    /// Creates ACL bindings (creating an existing one is a no-op in Kafka), at most `max_batch`
    /// per request, the requests sent at once through the brokers other than the
    /// controller-designated one in turn (each forwards to the active controller, which commits
    /// them together; that node's connection stays free for topic writes sent beside them).
    /// Results are in the order of `bindings`.
    pub async fn create_acls(&self, bindings: &[AclBinding]) -> Vec<Result<()>> {
        self.create_acls_through(bindings, true).await
    }

    /// [`AdminClient::create_acls`] when no topic write is sent beside it: the requests through
    /// every broker, the controller-designated one included (one more connection sharing them).
    pub async fn create_acls_alone(&self, bindings: &[AclBinding]) -> Vec<Result<()>> {
        self.create_acls_through(bindings, false).await
    }

    async fn create_acls_through(&self, bindings: &[AclBinding], beside: bool) -> Vec<Result<()>> {
        let through = self.spread_over(beside);
        self.batch_of(
            self.even_batch(bindings.len(), through.len()),
            bindings,
            async |k, batch| {
                let response = self
                    .send(AdminClient::spread(&through, k), |_| {
                        CreateAclsRequest::default().with_creations(
                            batch
                                .iter()
                                .map(|b| {
                                    AclCreation::default()
                                        .with_resource_type(b.resource_type.code())
                                        .with_resource_name(s(&b.resource_name))
                                        .with_resource_pattern_type(b.pattern_type.code())
                                        .with_principal(s(&b.principal))
                                        .with_host(s(&b.host))
                                        .with_operation(b.operation.code())
                                        .with_permission_type(b.permission.code())
                                })
                                .collect(),
                        )
                    })
                    .await?;
                // Results are positional: one per creation, in request order.
                Ok(batch
                    .iter()
                    .zip(response.results.iter().map(Some).chain(std::iter::repeat(None)))
                    .map(|(b, r)| match r {
                        Some(r) => Error::check_item(
                            "CreateAcls",
                            format!("ACL '{b}'"),
                            r.error_code,
                            r.error_message.as_deref(),
                        ),
                        None => Err(super::configs::missing("CreateAcls", &format!("ACL '{b}'"))),
                    })
                    .collect())
            },
            |_| None,
        )
        .await
    }

    /// Deletes every binding matching each filter, through the controller. Returns, per filter and
    /// in order, the bindings that were deleted. Use [`AclFilter::exact`] to delete exactly one
    /// binding.
    pub async fn delete_acls(&self, filters: &[AclFilter]) -> Vec<Result<Vec<AclBinding>>> {
        self.batch(
            filters,
            async |_, batch| {
                let response = self
                    .send(Target::Controller, |_| {
                        DeleteAclsRequest::default().with_filters(
                            batch
                                .iter()
                                .map(|f| {
                                    DeleteAclsFilter::default()
                                        .with_resource_type_filter(f.resource_type.code())
                                        .with_resource_name_filter(opt(&f.resource_name))
                                        .with_pattern_type_filter(f.pattern_type.code())
                                        .with_principal_filter(opt(&f.principal))
                                        .with_host_filter(opt(&f.host))
                                        .with_operation(f.operation.code())
                                        .with_permission_type(f.permission.code())
                                })
                                .collect(),
                        )
                    })
                    .await?;
                let mut results = response.filter_results.into_iter();
                Ok(batch
                    .iter()
                    .map(|f| {
                        let what = format!("ACL filter {f:?}");
                        let Some(r) = results.next() else {
                            return Err(super::configs::missing("DeleteAcls", &what));
                        };
                        Error::check_item("DeleteAcls", what, r.error_code, r.error_message.as_deref())?;
                        let mut deleted = Vec::new();
                        for m in &r.matching_acls {
                            let b = binding(
                                m.resource_type,
                                &m.resource_name,
                                m.pattern_type,
                                &m.principal,
                                &m.host,
                                m.operation,
                                m.permission_type,
                            );
                            Error::check_item(
                                "DeleteAcls",
                                format!("ACL '{b}'"),
                                m.error_code,
                                m.error_message.as_deref(),
                            )?;
                            deleted.push(b);
                        }
                        deleted.sort();
                        Ok(deleted)
                    })
                    .collect())
            },
            |_| None,
        )
        .await
    }
}
