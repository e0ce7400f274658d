//! The organisation, client side: company and group keys, signed documents, pinned company
//! keys, the verified policy, and the operations of admins and members (docs/organisation.md).
//!
//! Everything the server sends here is untrusted: documents are verified against pinned keys
//! before they are parsed, grants are refused when they open to other keys than the pinned
//! ones, and a pin never changes silently.

pub mod admin;
pub mod docs;
pub mod events;
pub mod keys;
pub mod pins;
pub mod policy;

use castellan_types::{Bytes, MembershipResponse};
use uuid::Uuid;

use crate::api::ApiClient;
use crate::home::Home;
use crate::{ClientError, ClientResult, Secret};

pub use admin::{ConfirmIntent, ConfirmPreview, OrgSession};
pub use keys::{fingerprint_display, KeyPair, PublicKeys};
pub use policy::EffectivePolicy;

pub(crate) fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// An invitation link: `{server}/join#v1.{invitation_id}.{secret}.{fingerprint}`. The secret
/// is wiped on drop and never printed by `Debug`.
pub struct InviteLink {
    pub server: String,
    pub invitation_id: Uuid,
    pub secret: Secret,
    pub fingerprint: [u8; 32],
}

impl std::fmt::Debug for InviteLink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InviteLink")
            .field("server", &self.server)
            .field("invitation_id", &self.invitation_id)
            .finish_non_exhaustive()
    }
}

impl InviteLink {
    pub fn parse(link: &str) -> ClientResult<Self> {
        let bad = || ClientError::Invalid("this is not a Castellan invitation link".into());
        let (head, frag) = link.trim().split_once('#').ok_or_else(bad)?;
        let server = head
            .strip_suffix("/join")
            .unwrap_or(head)
            .trim_end_matches('/')
            .to_string();
        let parts: Vec<&str> = frag.split('.').collect();
        let [v, id, secret, fp] = parts.as_slice() else {
            return Err(bad());
        };
        if *v != "v1" {
            return Err(ClientError::Invalid(format!(
                "unsupported invitation link version {v:?}; update castellan"
            )));
        }
        let invitation_id = id.parse().map_err(|_| bad())?;
        let fp = Bytes::from_b64(fp).ok_or_else(bad)?;
        let fingerprint: [u8; 32] = fp.as_slice().try_into().map_err(|_| bad())?;
        if secret.is_empty() {
            return Err(bad());
        }
        Ok(InviteLink {
            server,
            invitation_id,
            secret: Secret::new(*secret),
            fingerprint,
        })
    }

    pub fn to_link(&self) -> Secret {
        Secret::new(format!(
            "{}/join#v1.{}.{}.{}",
            self.server,
            self.invitation_id,
            self.secret.expose(),
            keys::fingerprint_b64(&self.fingerprint)
        ))
    }
}

fn api_for(home: &Home) -> ClientResult<(crate::home::DeviceState, ApiClient)> {
    let state = home.device()?;
    let api = ApiClient::new(&state.server)?.with_token(state.session_token.clone());
    Ok((state, api))
}

/// A server without the organisation routes (or a user without a company) answers these
/// errors; they mean "no membership known", not a failure.
fn is_absent(e: &ClientError) -> bool {
    matches!(
        e,
        ClientError::Api { status: 404, .. } | ClientError::Protocol(_)
    )
}

/// Fetches the membership, checks the company keys against the pin (pinning them on first
/// use when this device has none, e.g. a second device of a member) and resolves the verified
/// policy. Returns `None` for a user without a company.
pub async fn refresh_membership(
    home: &Home,
) -> ClientResult<Option<(MembershipResponse, EffectivePolicy)>> {
    let (_, api) = api_for(home)?;
    let m = match api.membership().await {
        Ok(m) => m,
        Err(e) if is_absent(&e) => return Ok(None),
        Err(e) => return Err(e),
    };
    let Some(company) = m.company.clone() else {
        pins::update_pins(home, |p| {
            p.my_company = None;
            Ok(())
        })?;
        return Ok(None);
    };
    let (eff, _) = pins::update_pins(home, |p| {
        p.check_or_pin_dto(company.id, &company.keys, "first-use")?;
        p.my_company = Some(company.id);
        policy::resolve(p, company.id, m.policy.as_ref())
    })?;
    Ok(Some((m, eff)))
}

/// The verified policy of the user's company: fresh from the server when it answers, else the
/// last one verified on this device. `None` without a company.
pub async fn current_policy(home: &Home) -> ClientResult<Option<EffectivePolicy>> {
    match refresh_membership(home).await {
        Ok(Some((_, eff))) => Ok(Some(eff)),
        Ok(None) => Ok(None),
        Err(e @ ClientError::Integrity(_)) => Err(e),
        Err(_) => Ok(pinned_own_policy(home)),
    }
}

/// The last verified policy of the user's company on this device, without the server.
pub fn pinned_own_policy(home: &Home) -> Option<EffectivePolicy> {
    let state = home.load_device().ok()??;
    let cid = state.org.my_company?;
    policy::pinned_policy(&state.org, cid)
}

/// The serials of a company's verified certificate revocation list (served in its directory,
/// verified with the pinned `company` key, never below the version this device pinned, and then
/// pinned); empty when the company never revoked a certificate. Every place that trusts a member
/// certificate for a new grant or a new signature checks it against this set.
pub async fn revoked_serials(
    api: &crate::api::ApiClient,
    home: &crate::home::Home,
    company_id: uuid::Uuid,
    company: &keys::PublicKeys,
) -> crate::ClientResult<std::collections::HashSet<uuid::Uuid>> {
    // A company without a directory answer has no list; the pin still refuses a server that
    // hides one this device saw.
    let served = match api.share_directory(company_id).await {
        Ok(d) => d.revocations,
        Err(crate::ClientError::Api { status: 404, .. }) => None,
        Err(e) => return Err(e),
    };
    let list = match &served {
        Some(doc) => Some(docs::verify_revocations(company, doc, company_id)?),
        None => None,
    };
    home.device()?
        .shares
        .check_revocations(company_id, list.as_ref().map(|l| l.version))?;
    let Some(list) = list else {
        return Ok(Default::default());
    };
    crate::share::pins::update_share_pins(home, |p| {
        p.record_revocations(company_id, list.version);
        Ok(())
    })?;
    Ok(list.serials.into_iter().collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invite_link_round_trip() {
        let l = InviteLink {
            server: "http://127.0.0.1:8087".into(),
            invitation_id: Uuid::new_v4(),
            secret: Secret::new("c2VjcmV0"),
            fingerprint: [7; 32],
        };
        let text = l.to_link();
        assert!(text.expose().starts_with("http://127.0.0.1:8087/join#v1."));
        let p = InviteLink::parse(text.expose()).unwrap();
        assert_eq!(p.server, l.server);
        assert_eq!(p.invitation_id, l.invitation_id);
        assert_eq!(p.secret.expose(), "c2VjcmV0");
        assert_eq!(p.fingerprint, [7; 32]);
        assert!(!format!("{p:?}").contains("c2VjcmV0"));
        assert!(InviteLink::parse("http://x/join#v2.a.b.c").is_err());
        assert!(InviteLink::parse("http://x/join").is_err());
        assert!(InviteLink::parse(&format!("http://x/join#v1.{}.s.AAAA", Uuid::nil())).is_err());
    }
}
