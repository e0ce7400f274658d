//! The OpenAPI document, generated from the handlers' annotations.

use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use crate::routes;

#[derive(OpenApi)]
#[openapi(
    info(title = "Castellan API", description = "End-to-end encrypted password manager. The server stores ciphertext only."),
    paths(
        routes::health, routes::openapi,
        routes::register_start, routes::register_finish,
        routes::login_start, routes::login_finish, routes::logout,
        routes::get_account, routes::password_change_start, routes::password_change_finish,
        routes::list_sessions, routes::revoke_session,
        routes::list_objects, routes::get_object, routes::put_object, routes::delete_object,
        routes::sync, routes::events,
        routes::setup_status, routes::setup,
        routes::my_membership, routes::my_key_grants, routes::my_groups, routes::report_item_events,
        routes::list_customers, routes::create_customer,
        routes::list_policy_templates, routes::put_policy_template, routes::delete_policy_template,
        routes::technician_customers, routes::assign_technician, routes::unassign_technician,
        routes::get_company, routes::update_company, routes::set_subscription,
        routes::get_policy, routes::set_policy, routes::set_revocations,
        routes::list_invitations, routes::create_invitation, routes::revoke_invitation,
        routes::preview_invitation, routes::accept_invitation,
        routes::list_members, routes::confirm_member, routes::update_member,
        routes::remove_member, routes::reset_member, routes::delete_member,
        routes::list_groups, routes::create_group, routes::update_roster, routes::delete_group,
        routes::company_audit,
        routes::two_factor_enroll, routes::two_factor_confirm, routes::two_factor_disable,
        routes::login_two_factor,
        routes::company_directory, routes::create_share, routes::list_shares, routes::get_share,
        routes::update_share_acl, routes::add_share_grants, routes::rotate_share,
        routes::accept_share, routes::decline_share, routes::delete_share, routes::company_shares,
        routes::upload_backup, routes::list_backups, routes::get_backup, routes::delete_backups,
        routes::backup_restored, routes::create_recovery_group, routes::create_handover,
        routes::my_handovers, routes::delete_my_handover,
    ),
    components(schemas(
        castellan_types::ErrorCode, castellan_types::ChangeHint,
        castellan_types::MemberCertBody, castellan_types::InvitationBody,
        castellan_types::GroupRosterBody, castellan_types::PolicyBody,
        castellan_types::ItemEventKind,
        castellan_types::ShareAclBody, castellan_types::AclSignerDto,
        castellan_types::ShareSummaryDto,
    )),
    modifiers(&BearerAuth),
    tags((name = "meta"), (name = "accounts"), (name = "auth"), (name = "vault"), (name = "organisation"), (name = "sharing"), (name = "backups"))
)]
struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        if let Some(components) = openapi.components.as_mut() {
            components.add_security_scheme(
                "bearer",
                SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
            );
        }
    }
}

/// The OpenAPI document as pretty JSON (served at `/api/v1/openapi.json`).
pub fn openapi_json() -> String {
    ApiDoc::openapi()
        .to_pretty_json()
        .unwrap_or_else(|_| "{}".to_string())
}
