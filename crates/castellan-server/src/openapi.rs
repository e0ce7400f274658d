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
    ),
    components(schemas(castellan_types::ErrorCode, castellan_types::ChangeHint)),
    modifiers(&BearerAuth),
    tags((name = "meta"), (name = "accounts"), (name = "auth"), (name = "vault"))
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
