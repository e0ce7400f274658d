//! Organisation storage (partners, customers, members, groups, policies, 2FA, audit).
// Scaffolding: replaced by the real implementation.
#![allow(unused_variables)]

use async_trait::async_trait;
use castellan_store::*;
use uuid::Uuid;

use crate::SqliteStore;

#[async_trait]
impl OrgStore for SqliteStore {
    async fn setup_token_get_or_init(&self, token: String) -> StoreResult<String> {
        Err(StoreError::Backend(
            "organisation storage is not implemented yet".into(),
        ))
    }

    async fn setup_token_set(&self, token: String) -> StoreResult<()> {
        Err(StoreError::Backend(
            "organisation storage is not implemented yet".into(),
        ))
    }

    async fn has_partner(&self) -> StoreResult<bool> {
        Err(StoreError::Backend(
            "organisation storage is not implemented yet".into(),
        ))
    }

    async fn create_company(&self, create: CompanyCreate) -> StoreResult<CompanyRecord> {
        Err(StoreError::Backend(
            "organisation storage is not implemented yet".into(),
        ))
    }

    async fn company(&self, id: Uuid) -> StoreResult<Option<CompanyRecord>> {
        Err(StoreError::Backend(
            "organisation storage is not implemented yet".into(),
        ))
    }

    async fn customers_of(&self, partner_id: Uuid) -> StoreResult<Vec<CompanyRecord>> {
        Err(StoreError::Backend(
            "organisation storage is not implemented yet".into(),
        ))
    }

    async fn update_company(&self, id: Uuid, update: CompanyUpdate) -> StoreResult<CompanyRecord> {
        Err(StoreError::Backend(
            "organisation storage is not implemented yet".into(),
        ))
    }

    async fn set_policy(
        &self,
        company_id: Uuid,
        counter: i64,
        doc: Vec<u8>,
        now: i64,
    ) -> StoreResult<()> {
        Err(StoreError::Backend(
            "organisation storage is not implemented yet".into(),
        ))
    }

    async fn put_key_grants(&self, grants: Vec<KeyGrantRecord>) -> StoreResult<()> {
        Err(StoreError::Backend(
            "organisation storage is not implemented yet".into(),
        ))
    }

    async fn key_grants_for_user(&self, user_id: Uuid) -> StoreResult<Vec<KeyGrantRecord>> {
        Err(StoreError::Backend(
            "organisation storage is not implemented yet".into(),
        ))
    }

    async fn delete_key_grant(&self, company_id: Uuid, user_id: Uuid) -> StoreResult<()> {
        Err(StoreError::Backend(
            "organisation storage is not implemented yet".into(),
        ))
    }

    async fn assign_technician(
        &self,
        customer_id: Uuid,
        technician_id: Uuid,
        grant: KeyGrantRecord,
    ) -> StoreResult<()> {
        Err(StoreError::Backend(
            "organisation storage is not implemented yet".into(),
        ))
    }

    async fn unassign_technician(&self, customer_id: Uuid, technician_id: Uuid) -> StoreResult<()> {
        Err(StoreError::Backend(
            "organisation storage is not implemented yet".into(),
        ))
    }

    async fn technician_customers(&self, technician_id: Uuid) -> StoreResult<Vec<Uuid>> {
        Err(StoreError::Backend(
            "organisation storage is not implemented yet".into(),
        ))
    }

    async fn create_invitation(&self, invitation: InvitationRecord) -> StoreResult<()> {
        Err(StoreError::Backend(
            "organisation storage is not implemented yet".into(),
        ))
    }

    async fn invitation(&self, id: Uuid) -> StoreResult<Option<InvitationRecord>> {
        Err(StoreError::Backend(
            "organisation storage is not implemented yet".into(),
        ))
    }

    async fn invitations_of(&self, company_id: Uuid) -> StoreResult<Vec<InvitationRecord>> {
        Err(StoreError::Backend(
            "organisation storage is not implemented yet".into(),
        ))
    }

    async fn revoke_invitation(&self, company_id: Uuid, id: Uuid, now: i64) -> StoreResult<()> {
        Err(StoreError::Backend(
            "organisation storage is not implemented yet".into(),
        ))
    }

    async fn accept_invitation(
        &self,
        id: Uuid,
        user_id: Uuid,
        now: i64,
    ) -> StoreResult<MemberRecord> {
        Err(StoreError::Backend(
            "organisation storage is not implemented yet".into(),
        ))
    }

    async fn member(&self, company_id: Uuid, user_id: Uuid) -> StoreResult<Option<MemberRecord>> {
        Err(StoreError::Backend(
            "organisation storage is not implemented yet".into(),
        ))
    }

    async fn membership_of(&self, user_id: Uuid) -> StoreResult<Option<MemberRecord>> {
        Err(StoreError::Backend(
            "organisation storage is not implemented yet".into(),
        ))
    }

    async fn members_of(&self, company_id: Uuid) -> StoreResult<Vec<MemberRecord>> {
        Err(StoreError::Backend(
            "organisation storage is not implemented yet".into(),
        ))
    }

    async fn confirm_member(
        &self,
        company_id: Uuid,
        user_id: Uuid,
        cert: Vec<u8>,
        confirmed_by: Uuid,
        now: i64,
    ) -> StoreResult<MemberRecord> {
        Err(StoreError::Backend(
            "organisation storage is not implemented yet".into(),
        ))
    }

    async fn update_member(
        &self,
        company_id: Uuid,
        user_id: Uuid,
        update: MemberUpdate,
    ) -> StoreResult<MemberRecord> {
        Err(StoreError::Backend(
            "organisation storage is not implemented yet".into(),
        ))
    }

    async fn remove_member(
        &self,
        company_id: Uuid,
        user_id: Uuid,
        delete_business_items: bool,
        now: i64,
    ) -> StoreResult<()> {
        Err(StoreError::Backend(
            "organisation storage is not implemented yet".into(),
        ))
    }

    async fn delete_user(&self, user_id: Uuid) -> StoreResult<()> {
        Err(StoreError::Backend(
            "organisation storage is not implemented yet".into(),
        ))
    }

    async fn create_group(
        &self,
        group: GroupRecord,
        grants: Vec<GroupGrantRecord>,
    ) -> StoreResult<()> {
        Err(StoreError::Backend(
            "organisation storage is not implemented yet".into(),
        ))
    }

    async fn groups_of(&self, company_id: Uuid) -> StoreResult<Vec<GroupRecord>> {
        Err(StoreError::Backend(
            "organisation storage is not implemented yet".into(),
        ))
    }

    async fn group(&self, company_id: Uuid, group_id: Uuid) -> StoreResult<Option<GroupRecord>> {
        Err(StoreError::Backend(
            "organisation storage is not implemented yet".into(),
        ))
    }

    async fn update_group(
        &self,
        company_id: Uuid,
        group_id: Uuid,
        write: RosterWrite,
    ) -> StoreResult<GroupRecord> {
        Err(StoreError::Backend(
            "organisation storage is not implemented yet".into(),
        ))
    }

    async fn delete_group(&self, company_id: Uuid, group_id: Uuid) -> StoreResult<()> {
        Err(StoreError::Backend(
            "organisation storage is not implemented yet".into(),
        ))
    }

    async fn groups_of_user(
        &self,
        user_id: Uuid,
    ) -> StoreResult<Vec<(GroupRecord, GroupGrantRecord)>> {
        Err(StoreError::Backend(
            "organisation storage is not implemented yet".into(),
        ))
    }

    async fn put_policy_template(&self, template: PolicyTemplateRecord) -> StoreResult<()> {
        Err(StoreError::Backend(
            "organisation storage is not implemented yet".into(),
        ))
    }

    async fn policy_templates_of(
        &self,
        partner_id: Uuid,
    ) -> StoreResult<Vec<PolicyTemplateRecord>> {
        Err(StoreError::Backend(
            "organisation storage is not implemented yet".into(),
        ))
    }

    async fn delete_policy_template(&self, partner_id: Uuid, id: Uuid) -> StoreResult<()> {
        Err(StoreError::Backend(
            "organisation storage is not implemented yet".into(),
        ))
    }

    async fn put_two_factor(&self, record: TwoFactorRecord) -> StoreResult<()> {
        Err(StoreError::Backend(
            "organisation storage is not implemented yet".into(),
        ))
    }

    async fn two_factor(&self, user_id: Uuid) -> StoreResult<Option<TwoFactorRecord>> {
        Err(StoreError::Backend(
            "organisation storage is not implemented yet".into(),
        ))
    }

    async fn delete_two_factor(&self, user_id: Uuid) -> StoreResult<()> {
        Err(StoreError::Backend(
            "organisation storage is not implemented yet".into(),
        ))
    }

    async fn use_totp_step(&self, user_id: Uuid, step: i64) -> StoreResult<bool> {
        Err(StoreError::Backend(
            "organisation storage is not implemented yet".into(),
        ))
    }

    async fn use_recovery_code(&self, user_id: Uuid, code_hash: &[u8]) -> StoreResult<bool> {
        Err(StoreError::Backend(
            "organisation storage is not implemented yet".into(),
        ))
    }

    async fn put_two_factor_challenge(&self, challenge: TwoFactorChallenge) -> StoreResult<()> {
        Err(StoreError::Backend(
            "organisation storage is not implemented yet".into(),
        ))
    }

    async fn two_factor_challenge(
        &self,
        id: Uuid,
        now: i64,
    ) -> StoreResult<Option<TwoFactorChallenge>> {
        Err(StoreError::Backend(
            "organisation storage is not implemented yet".into(),
        ))
    }

    async fn delete_two_factor_challenge(&self, id: Uuid) -> StoreResult<()> {
        Err(StoreError::Backend(
            "organisation storage is not implemented yet".into(),
        ))
    }

    async fn set_session_restriction(
        &self,
        session_id: Uuid,
        restriction: Option<String>,
    ) -> StoreResult<()> {
        Err(StoreError::Backend(
            "organisation storage is not implemented yet".into(),
        ))
    }

    async fn append_audit(&self, event: AuditRecord) -> StoreResult<i64> {
        Err(StoreError::Backend(
            "organisation storage is not implemented yet".into(),
        ))
    }

    async fn query_audit(&self, query: AuditQuery) -> StoreResult<Vec<AuditRecord>> {
        Err(StoreError::Backend(
            "organisation storage is not implemented yet".into(),
        ))
    }
}
