//! The Kafka part of expiring grants: their ACLs and SCRAM credentials, one request each for all
//! expiring grants (the SSM part follows in [`super::store::GrantStore::remove_expired`]).

use kafka_admin::{AclFilter, AdminClient, ResponseError, ScramDeletion, ScramMechanism};

use crate::apply::{call, record, tolerate};
use crate::plan::{Action, Plan};

/// Deletes the ACLs and credentials of every [`Action::ExpireGrant`] of `plan`; a grant fails
/// when any of its items does. Already gone counts as done.
pub(crate) async fn expire(client: &AdminClient, plan: &Plan, errors: &mut [Option<String>]) {
    let mut filters = Vec::new();
    let mut filter_owner = Vec::new();
    let mut deletions = Vec::new();
    let mut deletion_owner = Vec::new();
    for (i, change) in plan.changes.iter().enumerate() {
        if let Action::ExpireGrant { user, acls, scram_credential, .. } = &change.action {
            for acl in acls {
                filters.push(AclFilter::exact(acl));
                filter_owner.push(i);
            }
            if *scram_credential {
                deletions.push(ScramDeletion { user: user.clone(), mechanism: ScramMechanism::Sha512 });
                deletion_owner.push(i);
            }
        }
    }
    let deleted = call(&filters, client.delete_acls(&filters)).await;
    keep_first(errors, &filter_owner, deleted.into_iter().map(|r| r.map(|_| ())).collect());
    let removed = call(&deletions, client.alter_user_scram_credentials(&[], &deletions)).await;
    keep_first(errors, &deletion_owner, tolerate(removed, ResponseError::ResourceNotFound));
}

/// Records each failure without overwriting an earlier one of the same grant.
fn keep_first(errors: &mut [Option<String>], owners: &[usize], results: Vec<kafka_admin::Result<()>>) {
    let mut fresh = vec![None; errors.len()];
    record(&mut fresh, owners, results);
    for (slot, new) in errors.iter_mut().zip(fresh) {
        if slot.is_none() {
            *slot = new;
        }
    }
}
