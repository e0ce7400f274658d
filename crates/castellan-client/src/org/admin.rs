//! The organisation operations: setup, customers, invitations and joining, confirming members
//! (with a [`ConfirmIntent`]), member lifecycle, technicians, groups, policies, templates and
//! the audit log.
//!
//! Rules kept everywhere here:
//! - company keys are used only after their grant opened to the pinned keys;
//! - keys are sealed to a member only after their certificate verified against the pinned
//!   company key (or, at confirmation, their self-signed key binding verified and a human
//!   compared the fingerprint); a served key that differs from the certified one is refused;
//! - documents are verified before their bodies are read; a roster is always rebuilt from the
//!   signed one, never from the server's member list.

use std::collections::HashSet;

use castellan_crypto::sha256;
use castellan_types::*;
use serde::Serialize;
use uuid::Uuid;

use super::docs::{self, normalise_email, sign};
use super::keys::{fingerprint_display, member_fingerprint, KeyPair, PublicKeys};
use super::pins::{update_pins, OrgPins};
use super::policy::{self, EffectivePolicy};
use super::{now, InviteLink};
use crate::account::{verify_key_binding, UnlockedAccount};
use crate::api::{ApiClient, AuditFilter};
use crate::home::Home;
use crate::{ClientError, ClientResult, Secret};

const INVITATION_DAYS: i64 = 7;
pub const EVERYONE: &str = "Everyone";

fn my_public(account: &UnlockedAccount) -> [u8; 32] {
    account.encryption.public_key().to_bytes()
}

fn forbidden(msg: impl Into<String>) -> ClientError {
    ClientError::Invalid(msg.into())
}

/// Builds a new group: keys, roster version 1 signed by the company, the admin copy and the
/// members' grants.
fn new_group(
    company: &KeyPair,
    company_id: Uuid,
    name: &str,
    is_everyone: bool,
    members: &[(Uuid, [u8; 32])],
) -> ClientResult<NewGroupDto> {
    let group_id = Uuid::new_v4();
    let keys = KeyPair::generate();
    let public = keys.public();
    let body = GroupRosterBody {
        company_id,
        group_id,
        name: name.to_string(),
        is_everyone,
        version: 1,
        signing_public_key: Bytes(public.signing.to_vec()),
        encryption_public_key: Bytes(public.encryption.to_vec()),
        members: members.iter().map(|(u, _)| *u).collect(),
    };
    let grants = members
        .iter()
        .map(|(u, pk)| {
            Ok(GroupGrantDto {
                user_id: *u,
                sealed: Bytes(keys.seal_group_grant(pk, group_id, *u)?),
            })
        })
        .collect::<ClientResult<Vec<_>>>()?;
    Ok(NewGroupDto {
        group_id,
        name: name.to_string(),
        keys: public.group_dto(),
        roster: sign(&company.signing, statement::GROUP_ROSTER, &body),
        admin_grant: Bytes(keys.seal_group_admin_grant(
            &company.public().encryption,
            group_id,
            company_id,
        )?),
        grants,
    })
}

/// The result of a setup or a new customer.
#[derive(Debug, Clone, Serialize)]
pub struct CreatedCompany {
    pub id: Uuid,
    pub name: String,
    pub fingerprint: String,
}

/// `castellan admin setup`: creates the partner with the caller as its first admin.
pub async fn setup(
    home: &Home,
    account: &UnlockedAccount,
    token: &str,
    name: &str,
) -> ClientResult<CreatedCompany> {
    let state = home.device()?;
    let api = ApiClient::new(&state.server)?.with_token(state.session_token.clone());
    let name = name.trim();
    if name.is_empty() {
        return Err(ClientError::Invalid(
            "the partner name cannot be empty".into(),
        ));
    }
    let company_id = Uuid::new_v4();
    let keys = KeyPair::generate();
    let public = keys.public();
    let me = account.user_id;
    let cert = MemberCertBody {
        company_id,
        user_id: me,
        email: normalise_email(&account.email),
        role: RoleDto::Admin,
        signing_public_key: Bytes(account.signing.verifying_key().to_bytes().to_vec()),
        encryption_public_key: Bytes(my_public(account).to_vec()),
        serial: Uuid::new_v4(),
        issued_at: now(),
        issued_by: me,
    };
    let req = SetupRequest {
        setup_token: token.trim().to_string(),
        company_id,
        name: name.to_string(),
        keys: public.company_dto(),
        key_grant: Bytes(keys.seal_company_grant(&my_public(account), company_id, me)?),
        admin_cert: sign(&keys.signing, statement::MEMBER_CERT, &cert),
        everyone: new_group(
            &keys,
            company_id,
            EVERYONE,
            true,
            &[(me, my_public(account))],
        )?,
    };
    api.setup(&req).await?;
    update_pins(home, |p| {
        p.check_or_pin(company_id, &public, "created")?;
        p.my_company = Some(company_id);
        Ok(())
    })?;
    Ok(CreatedCompany {
        id: company_id,
        name: name.to_string(),
        fingerprint: fingerprint_display(&public.fingerprint()),
    })
}

/// A verified invitation preview (the served company keys hash to the link's fingerprint, the
/// invitation is signed by them).
pub struct VerifiedInvitation {
    pub preview: InvitationPreviewResponse,
    pub body: InvitationBody,
    pub keys: PublicKeys,
    pub policy: EffectivePolicy,
    pub fingerprint: String,
}

/// Previews an invitation and verifies it against the link; pins the company keys in `pins`.
/// Aborts with an integrity error when the served keys do not match the link's fingerprint.
pub async fn verify_invitation_preview(
    api: &ApiClient,
    link: &InviteLink,
    pins: &mut OrgPins,
) -> ClientResult<VerifiedInvitation> {
    let preview = api
        .preview_invitation(
            link.invitation_id,
            &InvitationSecretRequest {
                secret: link.secret.expose().to_string(),
            },
        )
        .await?;
    let keys = PublicKeys::from_company(&preview.keys)?;
    let fp = keys.fingerprint();
    if !castellan_crypto::ct_eq(&fp, &link.fingerprint) {
        return Err(ClientError::integrity(
            "the company keys the server sent do not match the fingerprint in the invitation link; not joining",
        ));
    }
    let body = docs::verify_invitation(&keys, &preview.invitation, preview.company_id)?;
    if body.invitation_id != link.invitation_id {
        return Err(ClientError::integrity(
            "the signed invitation is for another link",
        ));
    }
    if normalise_email(&body.email) != normalise_email(&preview.email) || body.role != preview.role
    {
        return Err(ClientError::integrity(
            "the invitation the server describes differs from the signed one",
        ));
    }
    pins.check_or_pin(preview.company_id, &keys, "invite-link")?;
    let policy = policy::resolve(pins, preview.company_id, preview.policy.as_ref())?;
    Ok(VerifiedInvitation {
        preview,
        body,
        keys,
        policy,
        fingerprint: fingerprint_display(&fp),
    })
}

#[derive(Debug, Clone, Serialize)]
pub struct Joined {
    pub company_id: Uuid,
    pub company_name: String,
    pub role: RoleDto,
    pub fingerprint: String,
    pub warnings: Vec<String>,
}

/// Accepts an invitation with the logged-in account: verify (see
/// [`verify_invitation_preview`]), pin, then accept. Nothing is accepted when a check fails.
pub async fn join(home: &Home, link: &InviteLink) -> ClientResult<Joined> {
    let state = home.device()?;
    let api = ApiClient::new(&state.server)?.with_token(state.session_token.clone());
    let mut pins = state.org.clone();
    let v = verify_invitation_preview(&api, link, &mut pins).await?;
    if normalise_email(&v.body.email) != normalise_email(&state.email) {
        return Err(ClientError::Invalid(format!(
            "this invitation is for {}, but this device is logged in as {}",
            v.body.email, state.email
        )));
    }
    if v.body.expires_at <= now() {
        return Err(ClientError::Invalid("this invitation has expired".into()));
    }
    update_pins(home, |p| {
        p.check_or_pin(v.preview.company_id, &v.keys, "invite-link")?;
        policy::resolve(p, v.preview.company_id, v.preview.policy.as_ref())?;
        Ok(())
    })?;
    api.accept_invitation(
        link.invitation_id,
        &InvitationSecretRequest {
            secret: link.secret.expose().to_string(),
        },
    )
    .await?;
    update_pins(home, |p| {
        p.my_company = Some(v.preview.company_id);
        Ok(())
    })?;
    Ok(Joined {
        company_id: v.preview.company_id,
        company_name: v.preview.company_name.clone(),
        role: v.body.role,
        fingerprint: v.fingerprint.clone(),
        warnings: v.policy.warnings.clone(),
    })
}

/// Registers a new account through an invitation: the link is verified and the master
/// password checked against the company's verified policy BEFORE the account is created; then
/// the account joins.
pub async fn register_with_invite(
    home: &Home,
    server: &str,
    link: &InviteLink,
    email: Option<&str>,
    password: &str,
    device_name: &str,
) -> ClientResult<(crate::account::Registered, Joined)> {
    let api = ApiClient::new(server)?;
    let mut pins = OrgPins::default();
    let v = verify_invitation_preview(&api, link, &mut pins).await?;
    let email = email
        .map(normalise_email)
        .unwrap_or_else(|| normalise_email(&v.body.email));
    if email != normalise_email(&v.body.email) {
        return Err(ClientError::Invalid(format!(
            "this invitation is for {}, not {email}",
            v.body.email
        )));
    }
    policy::check_master_password(&v.policy.policies, password)?;
    let (reg, _unlocked) =
        crate::account::register(home, server, &email, password, device_name).await?;
    update_pins(home, |p| {
        for (id, pin) in &pins.companies {
            p.check_or_pin(*id, &pin.keys()?, &pin.source)?;
            if let Some(doc) = &pin.policy {
                policy::resolve(p, *id, Some(doc))?;
            }
        }
        Ok(())
    })?;
    let joined = join(home, link).await?;
    Ok((reg, joined))
}

/// What an admin is about to confirm; shown to a human before a [`ConfirmIntent`] exists.
#[derive(Debug, Clone, Serialize)]
pub struct ConfirmPreview {
    pub company_id: Uuid,
    pub user_id: Uuid,
    pub email: String,
    /// From the signed invitation, never from the server's member record.
    pub role: RoleDto,
    /// The member's key fingerprint (8 groups), for an out-of-band comparison.
    pub fingerprint: String,
    #[serde(skip)]
    fingerprint_raw: [u8; 32],
    #[serde(skip)]
    member: MemberDto,
}

/// A human's decision to confirm exactly this member with exactly these keys. Only the
/// interactive confirm path (or its explicit `--yes`) constructs one; no background code
/// confirms anyone.
pub struct ConfirmIntent {
    user_id: Uuid,
    fingerprint: [u8; 32],
}

impl ConfirmIntent {
    /// The admin saw `preview` (its fingerprint) and said yes.
    pub fn human_confirmed(preview: &ConfirmPreview) -> Self {
        ConfirmIntent {
            user_id: preview.user_id,
            fingerprint: preview.fingerprint_raw,
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Invited {
    pub invitation_id: Uuid,
    pub company_id: Uuid,
    pub email: String,
    pub role: RoleDto,
    pub expires_at: i64,
    pub mailed: bool,
    /// The company key fingerprint (8 groups) for the out-of-band check.
    pub fingerprint: String,
    #[serde(skip)]
    pub link: Secret,
}

#[derive(Debug, Clone, Serialize)]
pub struct MemberView {
    pub user_id: Uuid,
    pub email: String,
    pub role: RoleDto,
    pub status: MemberStatusDto,
    pub disabled: bool,
    /// The member's certificate verifies against the pinned company key.
    pub certified: bool,
    pub two_factor_enabled: bool,
    pub require_password_change: bool,
    pub fingerprint: String,
    pub joined_at: i64,
    pub confirmed_at: Option<i64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct GroupView {
    pub id: Uuid,
    pub name: String,
    pub is_everyone: bool,
    pub version: i64,
    /// From the signed roster.
    pub members: Vec<String>,
}

/// An admin's (or member's) view of the organisation, with the unlocked account.
pub struct OrgSession {
    pub home: Home,
    pub api: ApiClient,
    pub account: UnlockedAccount,
    pub membership: MembershipResponse,
    /// Things the user should know (ignored policy documents and the like).
    pub warnings: Vec<String>,
}

impl std::fmt::Debug for OrgSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OrgSession")
            .field("user_id", &self.account.user_id)
            .finish_non_exhaustive()
    }
}

impl OrgSession {
    /// Fetches the membership and checks the company keys against the pins.
    pub async fn open(home: &Home, account: UnlockedAccount) -> ClientResult<Self> {
        let state = home.device()?;
        let api = ApiClient::new(&state.server)?.with_token(state.session_token.clone());
        let membership = api.membership().await?;
        let mut warnings = Vec::new();
        if let Some(c) = &membership.company {
            let (eff, _) = update_pins(home, |p| {
                p.check_or_pin_dto(c.id, &c.keys, "first-use")?;
                p.my_company = Some(c.id);
                policy::resolve(p, c.id, membership.policy.as_ref())
            })?;
            warnings.extend(eff.warnings);
        }
        Ok(OrgSession {
            home: home.clone(),
            api,
            account,
            membership,
            warnings,
        })
    }

    pub fn me(&self) -> Uuid {
        self.account.user_id
    }

    pub fn my_company(&self) -> ClientResult<&CompanyDto> {
        self.membership.company.as_ref().ok_or_else(|| {
            ClientError::NotFound("this account is not a member of a company".into())
        })
    }

    pub fn my_role(&self) -> Option<RoleDto> {
        self.membership.member.as_ref().map(|m| m.role)
    }

    /// The partner this account works for (partner admins and technicians).
    pub fn partner_id(&self) -> ClientResult<Uuid> {
        let c = self.my_company()?;
        if c.kind != CompanyKindDto::Partner {
            return Err(forbidden(
                "only partner admins and technicians can do this (your company is a customer)",
            ));
        }
        Ok(c.id)
    }

    fn pins(&self) -> ClientResult<OrgPins> {
        Ok(self.home.device()?.org)
    }

    /// Companies the caller can name: their own, and the partner's customers.
    pub async fn companies(&self) -> ClientResult<Vec<CompanyDto>> {
        let mut out = Vec::new();
        if let Ok(c) = self.my_company() {
            out.push(c.clone());
            if c.kind == CompanyKindDto::Partner {
                out.extend(self.api.customers(c.id).await?.companies);
            }
        }
        Ok(out)
    }

    /// A company by id or exact name; `None` = the caller's own company.
    pub async fn resolve_company(&self, arg: Option<&str>) -> ClientResult<CompanyDto> {
        let Some(arg) = arg.map(str::trim).filter(|a| !a.is_empty()) else {
            return Ok(self.my_company()?.clone());
        };
        if let Ok(id) = arg.parse::<Uuid>() {
            return self.api.company(id).await;
        }
        let all = self.companies().await?;
        let matches: Vec<_> = all.into_iter().filter(|c| c.name == arg).collect();
        match matches.len() {
            0 => Err(ClientError::NotFound(format!("no company named {arg:?}"))),
            1 => Ok(matches.into_iter().next().expect("one")),
            n => Err(ClientError::Invalid(format!(
                "{n} companies are named {arg:?}; use the id"
            ))),
        }
    }

    /// The public keys of a company: the pin, checked against what the server serves now.
    pub async fn company_public(&self, company_id: Uuid) -> ClientResult<PublicKeys> {
        if let Some(k) = self.pins()?.keys(company_id)? {
            return Ok(k);
        }
        let (_, keys) = self.company_keys(company_id).await?;
        Ok(keys)
    }

    /// The private keys of a company from the caller's grant. The grant must open to the
    /// pinned keys; without a pin, to the served keys, which are then pinned.
    pub async fn company_keys(&self, company_id: Uuid) -> ClientResult<(KeyPair, PublicKeys)> {
        let served = self.api.company(company_id).await?;
        let served_keys = PublicKeys::from_company(&served.keys)?;
        let expected = match self.pins()?.keys(company_id)? {
            Some(pinned) => {
                if !pinned.ct_eq(&served_keys) {
                    return Err(ClientError::integrity(format!(
                        "the server sent other keys for {} than the ones pinned on this device",
                        served.name
                    )));
                }
                pinned
            }
            None => served_keys,
        };
        let grants = self.api.my_key_grants().await?;
        let grant = grants
            .grants
            .iter()
            .find(|g| g.company_id == company_id && g.user_id == self.me())
            .ok_or_else(|| {
                forbidden(format!(
                    "you hold no keys of {}; only its admins, its partner's admins and assigned technicians do",
                    served.name
                ))
            })?;
        let keys = KeyPair::open_company_grant(
            &self.account.encryption,
            grant.sealed.as_slice(),
            company_id,
            self.me(),
            &expected,
        )?;
        update_pins(&self.home, |p| {
            p.check_or_pin(company_id, &expected, "grant")
        })?;
        Ok((keys, expected))
    }

    /// A member's certified keys: the certificate verifies against the company key, names the
    /// member, is not revoked (`revoked`: [`Self::revoked_serials`]), and the served keys are
    /// the certified ones.
    fn certified_keys(
        company: &PublicKeys,
        company_id: Uuid,
        m: &MemberDto,
        revoked: &HashSet<Uuid>,
    ) -> ClientResult<MemberCertBody> {
        let cert = m.cert.as_ref().ok_or_else(|| {
            ClientError::Invalid(format!(
                "{} is not confirmed yet; run `castellan admin user confirm {}` first",
                m.email, m.email
            ))
        })?;
        let body = docs::verify_member_cert(company, cert, company_id, m.user_id)?;
        if revoked.contains(&body.serial) {
            return Err(ClientError::integrity(format!(
                "the server serves a certificate of {} that the company revoked: refusing to use it",
                m.email
            )));
        }
        if normalise_email(&body.email) != normalise_email(&m.email) {
            return Err(ClientError::integrity(format!(
                "the certificate of {} names another email",
                m.email
            )));
        }
        let certified = PublicKeys::from_slices(
            body.signing_public_key.as_slice(),
            body.encryption_public_key.as_slice(),
        )?;
        let served = PublicKeys::from_slices(
            m.signing_public_key.as_slice(),
            m.encryption_public_key.as_slice(),
        )?;
        if !certified.ct_eq(&served) {
            return Err(ClientError::integrity(format!(
                "the server sent other public keys for {} than the certified ones",
                m.email
            )));
        }
        Ok(body)
    }

    async fn member_by_email(&self, company_id: Uuid, email: &str) -> ClientResult<MemberDto> {
        let want = normalise_email(email);
        self.api
            .members(company_id)
            .await?
            .members
            .into_iter()
            .find(|m| normalise_email(&m.email) == want)
            .ok_or_else(|| ClientError::NotFound(format!("no member {want}")))
    }

    // ------------------------------------------------------------ customers

    pub async fn create_customer(
        &self,
        name: &str,
        plan: PlanDto,
        seats: i64,
    ) -> ClientResult<CreatedCompany> {
        let partner_id = self.partner_id()?;
        let partner = self.company_public(partner_id).await?;
        let name = name.trim();
        if name.is_empty() {
            return Err(ClientError::Invalid(
                "the customer name cannot be empty".into(),
            ));
        }
        let company_id = Uuid::new_v4();
        let keys = KeyPair::generate();
        let public = keys.public();
        let mut key_grants = Vec::new();
        let revoked = self.revoked_serials(partner_id).await?;
        for m in self.api.members(partner_id).await?.members {
            if m.role != RoleDto::Admin || m.status != MemberStatusDto::Confirmed {
                continue;
            }
            let cert = Self::certified_keys(&partner, partner_id, &m, &revoked)?;
            if cert.role != RoleDto::Admin {
                return Err(ClientError::integrity(format!(
                    "the server lists {} as an admin but the certificate says otherwise",
                    m.email
                )));
            }
            key_grants.push(KeyGrantDto {
                company_id,
                user_id: m.user_id,
                sealed: Bytes(keys.seal_company_grant(
                    cert.encryption_public_key.as_slice(),
                    company_id,
                    m.user_id,
                )?),
            });
        }
        if !key_grants.iter().any(|g| g.user_id == self.me()) {
            return Err(ClientError::integrity(
                "the partner's member list does not include you as a certified admin",
            ));
        }
        let req = CreateCustomerRequest {
            company_id,
            name: name.to_string(),
            plan,
            seats,
            keys: public.company_dto(),
            key_grants,
            everyone: new_group(&keys, company_id, EVERYONE, true, &[])?,
            policy: None,
        };
        self.api.create_customer(partner_id, &req).await?;
        update_pins(&self.home, |p| {
            p.check_or_pin(company_id, &public, "created")
        })?;
        Ok(CreatedCompany {
            id: company_id,
            name: name.to_string(),
            fingerprint: fingerprint_display(&public.fingerprint()),
        })
    }

    // ------------------------------------------------------------ invitations

    fn new_invitation(
        &self,
        company: &KeyPair,
        public: &PublicKeys,
        company_id: Uuid,
        email: &str,
        role: RoleDto,
    ) -> ClientResult<(CreateInvitationRequest, Secret)> {
        let email = normalise_email(email);
        if !email.contains('@') || email.len() < 3 {
            return Err(ClientError::Invalid(format!(
                "{email:?} is not an email address"
            )));
        }
        let invitation_id = Uuid::new_v4();
        let mut raw = zeroize::Zeroizing::new([0u8; 32]);
        rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut raw[..]);
        let secret = Secret::new(Bytes(raw.to_vec()).to_b64());
        let state = self.home.device()?;
        let server = crate::api::server_urls(&state.server)?
            .into_iter()
            .next()
            .expect("one URL");
        let link = InviteLink {
            server,
            invitation_id,
            secret: secret.clone(),
            fingerprint: public.fingerprint(),
        }
        .to_link();
        let body = InvitationBody {
            company_id,
            invitation_id,
            email: email.clone(),
            role,
            expires_at: now() + INVITATION_DAYS * 86_400,
            invited_by: self.me(),
        };
        Ok((
            CreateInvitationRequest {
                invitation_id,
                email,
                role,
                secret_hash: Bytes(sha256(secret.expose().as_bytes()).to_vec()),
                invitation: sign(&company.signing, statement::INVITATION, &body),
                link: link.expose().to_string(),
            },
            link,
        ))
    }

    pub async fn invite(
        &self,
        company: &CompanyDto,
        email: &str,
        role: RoleDto,
    ) -> ClientResult<Invited> {
        if role == RoleDto::Technician && company.kind != CompanyKindDto::Partner {
            return Err(ClientError::Invalid(
                "technicians belong to the partner; invite them to the partner company".into(),
            ));
        }
        let (keys, public) = self.company_keys(company.id).await?;
        let (req, link) = self.new_invitation(&keys, &public, company.id, email, role)?;
        let expires_at = now() + INVITATION_DAYS * 86_400;
        let created = self.api.create_invitation(company.id, &req).await?;
        Ok(Invited {
            invitation_id: req.invitation_id,
            company_id: company.id,
            email: req.email.clone(),
            role,
            expires_at: created.invitation.expires_at.min(expires_at),
            mailed: created.mailed,
            fingerprint: fingerprint_display(&public.fingerprint()),
            link,
        })
    }

    pub async fn invitations(&self, company_id: Uuid) -> ClientResult<Vec<InvitationDto>> {
        Ok(self.api.invitations(company_id).await?.invitations)
    }

    /// Revokes the open invitation for an email (or with an id).
    pub async fn revoke_invitation(&self, company_id: Uuid, which: &str) -> ClientResult<Uuid> {
        let list = self.invitations(company_id).await?;
        let want = normalise_email(which);
        let inv = list
            .iter()
            .find(|i| {
                i.id.to_string() == which.trim()
                    || (normalise_email(&i.email) == want && i.state == InvitationStateDto::Open)
            })
            .ok_or_else(|| ClientError::NotFound(format!("no open invitation for {which}")))?;
        self.api.revoke_invitation(company_id, inv.id).await?;
        Ok(inv.id)
    }

    // ------------------------------------------------------------ members

    pub async fn members(&self, company_id: Uuid) -> ClientResult<Vec<MemberView>> {
        let public = self.company_public(company_id).await.ok();
        let list = self.api.members(company_id).await?.members;
        // Display only: a list that cannot be read shows nobody as revoked.
        let revoked = self.revoked_serials(company_id).await.unwrap_or_default();
        Ok(list
            .into_iter()
            .map(|m| {
                let certified = public.as_ref().is_some_and(|k| {
                    m.cert.is_some() && Self::certified_keys(k, company_id, &m, &revoked).is_ok()
                });
                MemberView {
                    user_id: m.user_id,
                    email: m.email.clone(),
                    role: m.role,
                    status: m.status,
                    disabled: m.disabled,
                    certified,
                    two_factor_enabled: m.two_factor_enabled,
                    require_password_change: m.require_password_change,
                    fingerprint: fingerprint_display(&member_fingerprint(
                        m.signing_public_key.as_slice(),
                        m.encryption_public_key.as_slice(),
                    )),
                    joined_at: m.joined_at,
                    confirmed_at: m.confirmed_at,
                }
            })
            .collect())
    }

    /// Checks everything about an accepted member before a human decides: the self-signed key
    /// binding, and a signed invitation for exactly that email, whose role is used.
    pub async fn prepare_confirm(
        &self,
        company: &CompanyDto,
        email: &str,
    ) -> ClientResult<ConfirmPreview> {
        let public = self.company_public(company.id).await?;
        let m = self.member_by_email(company.id, email).await?;
        if m.status == MemberStatusDto::Confirmed {
            return Err(ClientError::Conflict(format!(
                "{} is already confirmed",
                m.email
            )));
        }
        verify_key_binding(
            m.user_id,
            m.ak_version,
            m.signing_key_id,
            m.signing_public_key.as_slice(),
            m.encryption_key_id,
            m.encryption_public_key.as_slice(),
            m.key_binding_signature.as_slice(),
        )?;
        PublicKeys::from_slices(
            m.signing_public_key.as_slice(),
            m.encryption_public_key.as_slice(),
        )?;
        // The signed invitation: the member's own, or one from the invitation list.
        let mut candidates: Vec<SignedDoc> = m.invitation.iter().cloned().collect();
        if candidates.is_empty() {
            candidates.extend(
                self.invitations(company.id)
                    .await?
                    .into_iter()
                    .filter(|i| normalise_email(&i.email) == normalise_email(&m.email))
                    .map(|i| i.invitation),
            );
        }
        let invitation = candidates
            .iter()
            .filter_map(|d| docs::verify_invitation(&public, d, company.id).ok())
            .find(|b| normalise_email(&b.email) == normalise_email(&m.email))
            .ok_or_else(|| {
                ClientError::integrity(format!(
                    "there is no invitation for {} signed with the company key; the member is not confirmed",
                    m.email
                ))
            })?;
        if invitation.role != m.role {
            return Err(ClientError::integrity(format!(
                "the server lists {} as {:?} but the signed invitation says {:?}; the member is not confirmed",
                m.email, m.role, invitation.role
            )));
        }
        if invitation.role == RoleDto::Technician && company.kind != CompanyKindDto::Partner {
            return Err(ClientError::integrity(
                "a technician invitation for a customer company",
            ));
        }
        let fp = member_fingerprint(
            m.signing_public_key.as_slice(),
            m.encryption_public_key.as_slice(),
        );
        Ok(ConfirmPreview {
            company_id: company.id,
            user_id: m.user_id,
            email: normalise_email(&m.email),
            role: invitation.role,
            fingerprint: fingerprint_display(&fp),
            fingerprint_raw: fp,
            member: m,
        })
    }

    /// Confirms the member a human approved: signs the certificate, adds them to Everyone (with
    /// the group keys) and, for an admin, seals the company keys to them.
    pub async fn confirm(
        &self,
        preview: &ConfirmPreview,
        intent: ConfirmIntent,
    ) -> ClientResult<()> {
        if intent.user_id != preview.user_id
            || !castellan_crypto::ct_eq(&intent.fingerprint, &preview.fingerprint_raw)
        {
            return Err(ClientError::Invalid(
                "the confirmation was given for another member or other keys".into(),
            ));
        }
        let cid = preview.company_id;
        let (keys, public) = self.company_keys(cid).await?;
        let m = &preview.member;
        let body = MemberCertBody {
            company_id: cid,
            user_id: m.user_id,
            email: preview.email.clone(),
            role: preview.role,
            signing_public_key: m.signing_public_key.clone(),
            encryption_public_key: m.encryption_public_key.clone(),
            serial: Uuid::new_v4(),
            issued_at: now(),
            issued_by: self.me(),
        };
        let member_enc: [u8; 32] = m
            .encryption_public_key
            .as_slice()
            .try_into()
            .map_err(|_| ClientError::integrity("bad member key"))?;
        let groups = self.api.groups(cid).await?.groups;
        let everyone = groups
            .iter()
            .find(|g| g.is_everyone)
            .ok_or_else(|| ClientError::integrity("the company has no Everyone group"))?;
        let everyone_roster = self.roster_change(
            &keys,
            &public,
            cid,
            everyone,
            None,
            &[(m.user_id, member_enc)],
            &[],
            &self.member_ids(cid).await?,
        )?;
        let (key_grant, customer_key_grants) = if preview.role == RoleDto::Admin {
            (
                Some(Bytes(keys.seal_company_grant(
                    &member_enc,
                    cid,
                    m.user_id,
                )?)),
                self.customer_grants_for(cid, m.user_id, &member_enc)
                    .await?,
            )
        } else {
            (None, Vec::new())
        };
        self.api
            .confirm_member(
                cid,
                m.user_id,
                &ConfirmMemberRequest {
                    cert: sign(&keys.signing, statement::MEMBER_CERT, &body),
                    key_grant,
                    everyone_roster,
                    customer_key_grants,
                },
            )
            .await
    }

    /// A new signed roster from the VERIFIED current one (never the server's list).
    #[allow(clippy::too_many_arguments)]
    ///
    /// `members_now` are the company's members as the server lists them: people who left the
    /// company (deleted or reset accounts) are dropped from the roster. The server can only make
    /// a roster smaller this way, never add anyone to it.
    fn roster_change(
        &self,
        company: &KeyPair,
        public: &PublicKeys,
        company_id: Uuid,
        group: &GroupDto,
        rename: Option<&str>,
        add: &[(Uuid, [u8; 32])],
        remove: &[Uuid],
        members_now: &HashSet<Uuid>,
    ) -> ClientResult<RosterUpdateRequest> {
        let current = docs::verify_roster(public, &group.roster, company_id, group.id)?;
        let roster_keys = PublicKeys::from_slices(
            current.signing_public_key.as_slice(),
            current.encryption_public_key.as_slice(),
        )?;
        if current.version != group.roster_version
            || !roster_keys.ct_eq(&PublicKeys::from_group(&group.keys)?)
        {
            return Err(ClientError::integrity(format!(
                "the group {} does not match its signed roster",
                group.name
            )));
        }
        let group_keys = KeyPair::open_group_admin_grant(
            company,
            group.admin_grant.as_slice(),
            group.id,
            company_id,
            &roster_keys,
        )?;
        let mut members: Vec<Uuid> = current
            .members
            .iter()
            .copied()
            .filter(|u| !remove.contains(u) && members_now.contains(u))
            .collect();
        let mut grants = Vec::new();
        for (u, pk) in add {
            if members.contains(u) {
                continue;
            }
            members.push(*u);
            grants.push(GroupGrantDto {
                user_id: *u,
                sealed: Bytes(group_keys.seal_group_grant(pk, group.id, *u)?),
            });
        }
        let body = GroupRosterBody {
            company_id,
            group_id: group.id,
            name: rename.map(str::to_string).unwrap_or(current.name),
            is_everyone: current.is_everyone,
            version: current.version + 1,
            signing_public_key: current.signing_public_key,
            encryption_public_key: current.encryption_public_key,
            members,
        };
        Ok(RosterUpdateRequest {
            roster: sign(&company.signing, statement::GROUP_ROSTER, &body),
            grants,
        })
    }

    /// The ids of the company's members (any status) as the server lists them.
    async fn member_ids(&self, company_id: Uuid) -> ClientResult<HashSet<Uuid>> {
        Ok(self
            .api
            .members(company_id)
            .await?
            .members
            .iter()
            .map(|m| m.user_id)
            .collect())
    }

    /// Re-signs every group roster that still lists `user_id` (who left the company) or anyone
    /// else no longer in it. Best effort: failures come back as warnings.
    async fn resign_rosters_without(&self, company_id: Uuid, user_id: Uuid) -> Vec<String> {
        let mut warnings = Vec::new();
        let (keys, public) = match self.company_keys(company_id).await {
            Ok(k) => k,
            Err(e) => return vec![format!("rosters not re-signed: {e}")],
        };
        let (groups, members_now) = match (
            self.api.groups(company_id).await,
            self.member_ids(company_id).await,
        ) {
            (Ok(g), Ok(m)) => (g.groups, m),
            (Err(e), _) | (_, Err(e)) => return vec![format!("rosters not re-signed: {e}")],
        };
        for g in groups {
            let Ok(r) = docs::verify_roster(&public, &g.roster, company_id, g.id) else {
                warnings.push(format!("group {}: its roster does not verify", g.name));
                continue;
            };
            if r.members
                .iter()
                .all(|u| *u != user_id && members_now.contains(u))
            {
                continue;
            }
            let res = match self.roster_change(
                &keys,
                &public,
                company_id,
                &g,
                None,
                &[],
                &[user_id],
                &members_now,
            ) {
                Ok(req) => self.api.update_roster(company_id, g.id, &req).await,
                Err(e) => Err(e),
            };
            if let Err(e) = res {
                warnings.push(format!("group {}: {e}", g.name));
            }
        }
        warnings
    }

    /// For a new admin of a partner: every customer's keys sealed to them, so they administer
    /// all of the partner's customers (nothing for a customer company).
    async fn customer_grants_for(
        &self,
        company_id: Uuid,
        user_id: Uuid,
        member_encryption_key: &[u8],
    ) -> ClientResult<Vec<KeyGrantDto>> {
        let company = self.api.company(company_id).await?;
        if company.kind != CompanyKindDto::Partner {
            return Ok(Vec::new());
        }
        let mut grants = Vec::new();
        for customer in self.api.customers(company_id).await?.companies {
            let (keys, _) = self.company_keys(customer.id).await?;
            grants.push(KeyGrantDto {
                company_id: customer.id,
                user_id,
                sealed: Bytes(keys.seal_company_grant(
                    member_encryption_key,
                    customer.id,
                    user_id,
                )?),
            });
        }
        Ok(grants)
    }

    /// Adds certificate serials to the company's signed revocation list: a new version signed
    /// with the company key, over the verified current one (never below the version this device
    /// pinned). Retries when another admin changed the list meanwhile.
    pub async fn revoke_certificates(
        &self,
        company_id: Uuid,
        serials: &[Uuid],
    ) -> ClientResult<()> {
        if serials.is_empty() {
            return Ok(());
        }
        let (keys, public) = self.company_keys(company_id).await?;
        let mut attempts = 0;
        loop {
            attempts += 1;
            let served = self.api.share_directory(company_id).await?.revocations;
            let current = match &served {
                Some(doc) => Some(docs::verify_revocations(&public, doc, company_id)?),
                None => None,
            };
            self.home
                .device()?
                .shares
                .check_revocations(company_id, current.as_ref().map(|c| c.version))?;
            let (version, mut list) = current.map_or((0, Vec::new()), |c| (c.version, c.serials));
            if serials.iter().all(|s| list.contains(s)) {
                return Ok(());
            }
            for s in serials {
                if !list.contains(s) {
                    list.push(*s);
                }
            }
            let body = RevocationListBody {
                company_id,
                version: version + 1,
                serials: list,
                issued_at: now(),
                issued_by: self.me(),
            };
            let req = SetRevocationsRequest {
                revocations: sign(&keys.signing, statement::REVOKED_CERTS, &body),
            };
            match self.api.set_revocations(company_id, &req).await {
                Ok(()) => {
                    crate::share::pins::update_share_pins(&self.home, |p| {
                        p.record_revocations(company_id, body.version);
                        Ok(())
                    })?;
                    return Ok(());
                }
                Err(ClientError::Api { status: 409, .. }) if attempts < 3 => continue,
                Err(e) => return Err(e),
            }
        }
    }

    /// The serials of the company's verified revocation list (checked against, and recorded
    /// in, this device's pin); empty when the company never revoked a certificate.
    pub async fn revoked_serials(&self, company_id: Uuid) -> ClientResult<HashSet<Uuid>> {
        let public = self.company_public(company_id).await?;
        super::revoked_serials(&self.api, &self.home, company_id, &public).await
    }

    /// Revokes the member's current certificate before they leave the company, so that a
    /// server replaying it cannot make clients share to them again (property 24). A confirmed
    /// member whose served certificate does not verify, or is one already revoked (a server
    /// hiding the current one), is not removed: their current certificate would stay valid.
    async fn revoke_before_leaving(&self, company_id: Uuid, m: &MemberDto) -> ClientResult<()> {
        let Some(cert) = &m.cert else {
            // Never confirmed: no certificate to revoke.
            return Ok(());
        };
        let public = self.company_public(company_id).await?;
        let body = docs::verify_member_cert(&public, cert, company_id, m.user_id).map_err(|e| {
            ClientError::integrity(format!(
                "the server serves a certificate of {} that does not verify ({e}); they were not removed, because their certificate could not be revoked",
                m.email
            ))
        })?;
        if self
            .revoked_serials(company_id)
            .await?
            .contains(&body.serial)
        {
            return Err(ClientError::integrity(format!(
                "the server serves an already revoked certificate of {} instead of their current one; they were not removed",
                m.email
            )));
        }
        self.revoke_certificates(company_id, &[body.serial]).await
    }

    /// Changes a confirmed member's role: a new certificate for their already certified keys,
    /// and for a new admin the company keys (and, in a partner, every customer's keys).
    pub async fn set_role(
        &self,
        company_id: Uuid,
        email: &str,
        role: RoleDto,
    ) -> ClientResult<Uuid> {
        let (keys, public) = self.company_keys(company_id).await?;
        let m = self.member_by_email(company_id, email).await?;
        let revoked = self.revoked_serials(company_id).await?;
        let certified = Self::certified_keys(&public, company_id, &m, &revoked)?;
        let body = MemberCertBody {
            company_id,
            user_id: m.user_id,
            email: certified.email.clone(),
            role,
            signing_public_key: certified.signing_public_key.clone(),
            encryption_public_key: certified.encryption_public_key.clone(),
            serial: Uuid::new_v4(),
            issued_at: now(),
            issued_by: self.me(),
        };
        let enc = certified.encryption_public_key.as_slice();
        let (key_grant, customer_key_grants) = if role == RoleDto::Admin {
            (
                Some(Bytes(keys.seal_company_grant(enc, company_id, m.user_id)?)),
                self.customer_grants_for(company_id, m.user_id, enc).await?,
            )
        } else {
            (None, Vec::new())
        };
        self.api
            .update_member(
                company_id,
                m.user_id,
                &UpdateMemberRequest {
                    role: Some(role),
                    cert: Some(sign(&keys.signing, statement::MEMBER_CERT, &body)),
                    key_grant,
                    customer_key_grants,
                    ..Default::default()
                },
            )
            .await?;
        // The old certificate (with the old role) is superseded: revoke it, so a server cannot
        // keep serving it (for example an admin's certificate after a demotion).
        self.revoke_certificates(company_id, &[certified.serial])
            .await
            .map_err(|e| {
                ClientError::Invalid(format!(
                    "the role was changed, but the previous certificate (serial {}) could not be revoked ({e}): it stays valid for clients that are served it; removing and re-inviting the member replaces it",
                    certified.serial
                ))
            })?;
        Ok(m.user_id)
    }

    pub async fn update_member(
        &self,
        company_id: Uuid,
        email: &str,
        req: &UpdateMemberRequest,
    ) -> ClientResult<Uuid> {
        let m = self.member_by_email(company_id, email).await?;
        self.api.update_member(company_id, m.user_id, req).await?;
        Ok(m.user_id)
    }

    /// Removes a member, then re-signs the rosters of the groups they were in (best effort:
    /// failures come back as warnings).
    pub async fn remove_member(
        &self,
        company_id: Uuid,
        email: &str,
    ) -> ClientResult<(Uuid, Vec<String>)> {
        let m = self.member_by_email(company_id, email).await?;
        self.revoke_before_leaving(company_id, &m).await?;
        self.api.remove_member(company_id, m.user_id).await?;
        let warnings = self.resign_rosters_without(company_id, m.user_id).await;
        Ok((m.user_id, warnings))
    }

    /// Deletes the account, then re-signs the rosters that listed it (failures as warnings).
    pub async fn delete_member(
        &self,
        company_id: Uuid,
        email: &str,
    ) -> ClientResult<(Uuid, Vec<String>)> {
        let m = self.member_by_email(company_id, email).await?;
        self.revoke_before_leaving(company_id, &m).await?;
        self.api.delete_member(company_id, m.user_id).await?;
        let warnings = self.resign_rosters_without(company_id, m.user_id).await;
        Ok((m.user_id, warnings))
    }

    /// Deletes the account and issues a new invitation for the same email and role (the role
    /// of the member's verified certificate when there is one).
    pub async fn reset_member(
        &self,
        company: &CompanyDto,
        email: &str,
    ) -> ClientResult<(Uuid, Invited, Vec<String>)> {
        let m = self.member_by_email(company.id, email).await?;
        let (keys, public) = self.company_keys(company.id).await?;
        let role = match &m.cert {
            Some(_) => {
                let revoked = self.revoked_serials(company.id).await?;
                Self::certified_keys(&public, company.id, &m, &revoked)?.role
            }
            None => m.role,
        };
        let (req, link) = self.new_invitation(&keys, &public, company.id, &m.email, role)?;
        let invitation_id = req.invitation_id;
        self.revoke_before_leaving(company.id, &m).await?;
        self.api
            .reset_member(
                company.id,
                m.user_id,
                &ResetMemberRequest { invitation: req },
            )
            .await?;
        let warnings = self.resign_rosters_without(company.id, m.user_id).await;
        Ok((
            m.user_id,
            Invited {
                invitation_id,
                company_id: company.id,
                email: normalise_email(&m.email),
                role,
                expires_at: now() + INVITATION_DAYS * 86_400,
                mailed: false,
                fingerprint: fingerprint_display(&public.fingerprint()),
                link,
            },
            warnings,
        ))
    }

    // ------------------------------------------------------------ technicians

    pub async fn assign_technician(
        &self,
        email: &str,
        customer: &CompanyDto,
    ) -> ClientResult<Uuid> {
        let partner_id = self.partner_id()?;
        let partner = self.company_public(partner_id).await?;
        let tech = self.member_by_email(partner_id, email).await?;
        let revoked = self.revoked_serials(partner_id).await?;
        let cert = Self::certified_keys(&partner, partner_id, &tech, &revoked)?;
        if cert.role != RoleDto::Technician {
            return Err(ClientError::Invalid(format!(
                "{} is not a technician of the partner",
                tech.email
            )));
        }
        if customer.partner_id != Some(partner_id) {
            return Err(ClientError::NotFound(format!(
                "no customer {}",
                customer.name
            )));
        }
        let (keys, _) = self.company_keys(customer.id).await?;
        let sealed = keys.seal_company_grant(
            cert.encryption_public_key.as_slice(),
            customer.id,
            tech.user_id,
        )?;
        self.api
            .assign_technician(
                partner_id,
                tech.user_id,
                customer.id,
                &AssignTechnicianRequest {
                    key_grant: Bytes(sealed),
                },
            )
            .await?;
        Ok(tech.user_id)
    }

    pub async fn unassign_technician(
        &self,
        email: &str,
        customer: &CompanyDto,
    ) -> ClientResult<Uuid> {
        let partner_id = self.partner_id()?;
        let tech = self.member_by_email(partner_id, email).await?;
        self.api
            .unassign_technician(partner_id, tech.user_id, customer.id)
            .await?;
        Ok(tech.user_id)
    }

    pub async fn technician_customers(&self, email: &str) -> ClientResult<(Uuid, Vec<Uuid>)> {
        let partner_id = self.partner_id()?;
        let tech = self.member_by_email(partner_id, email).await?;
        let list = self
            .api
            .technician_customers(partner_id, tech.user_id)
            .await?;
        Ok((tech.user_id, list.customers))
    }

    // ------------------------------------------------------------ groups

    /// Groups with their VERIFIED rosters (member emails from the signed member list).
    pub async fn groups(&self, company_id: Uuid) -> ClientResult<Vec<GroupView>> {
        let public = self.company_public(company_id).await?;
        let members = self.api.members(company_id).await?.members;
        let email_of = |u: &Uuid| {
            members
                .iter()
                .find(|m| m.user_id == *u)
                .map(|m| m.email.clone())
                .unwrap_or_else(|| u.to_string())
        };
        self.api
            .groups(company_id)
            .await?
            .groups
            .into_iter()
            .map(|g| {
                let r = docs::verify_roster(&public, &g.roster, company_id, g.id)?;
                Ok(GroupView {
                    id: g.id,
                    name: r.name,
                    is_everyone: r.is_everyone,
                    version: r.version,
                    members: r.members.iter().map(email_of).collect(),
                })
            })
            .collect()
    }

    async fn group_by_name(&self, company_id: Uuid, name: &str) -> ClientResult<GroupDto> {
        let public = self.company_public(company_id).await?;
        let mut found = Vec::new();
        for g in self.api.groups(company_id).await?.groups {
            let r = docs::verify_roster(&public, &g.roster, company_id, g.id)?;
            if r.name == name || g.id.to_string() == name {
                found.push(g);
            }
        }
        match found.len() {
            0 => Err(ClientError::NotFound(format!("no group {name:?}"))),
            1 => Ok(found.pop().expect("one")),
            n => Err(ClientError::Invalid(format!(
                "{n} groups are named {name:?}; use the id"
            ))),
        }
    }

    /// Members' certified encryption keys, by email.
    async fn certified_members(
        &self,
        company_id: Uuid,
        public: &PublicKeys,
        emails: &[String],
    ) -> ClientResult<Vec<(Uuid, [u8; 32])>> {
        let list = self.api.members(company_id).await?.members;
        let revoked = self.revoked_serials(company_id).await?;
        emails
            .iter()
            .map(|e| {
                let want = normalise_email(e);
                let m = list
                    .iter()
                    .find(|m| normalise_email(&m.email) == want)
                    .ok_or_else(|| ClientError::NotFound(format!("no member {want}")))?;
                let cert = Self::certified_keys(public, company_id, m, &revoked)?;
                let pk: [u8; 32] = cert
                    .encryption_public_key
                    .as_slice()
                    .try_into()
                    .map_err(|_| ClientError::integrity("bad certified key"))?;
                Ok((m.user_id, pk))
            })
            .collect()
    }

    pub async fn create_group(
        &self,
        company_id: Uuid,
        name: &str,
        member_emails: &[String],
    ) -> ClientResult<Uuid> {
        let name = name.trim();
        if name.is_empty() || name.eq_ignore_ascii_case(EVERYONE) {
            return Err(ClientError::Invalid(format!(
                "{name:?} cannot be a group name"
            )));
        }
        let (keys, public) = self.company_keys(company_id).await?;
        let members = self
            .certified_members(company_id, &public, member_emails)
            .await?;
        let g = new_group(&keys, company_id, name, false, &members)?;
        let id = g.group_id;
        self.api.create_group(company_id, &g).await?;
        Ok(id)
    }

    pub async fn change_group(
        &self,
        company_id: Uuid,
        group: &str,
        rename: Option<&str>,
        add_emails: &[String],
        remove_emails: &[String],
    ) -> ClientResult<Uuid> {
        let (keys, public) = self.company_keys(company_id).await?;
        let g = self.group_by_name(company_id, group).await?;
        if g.is_everyone
            && (rename.is_some() || !add_emails.is_empty() || !remove_emails.is_empty())
        {
            return Err(ClientError::Invalid(
                "the Everyone group follows the confirmed members; it cannot be changed by hand"
                    .into(),
            ));
        }
        let add = self
            .certified_members(company_id, &public, add_emails)
            .await?;
        let all = self.api.members(company_id).await?.members;
        let remove = remove_emails
            .iter()
            .map(|e| {
                all.iter()
                    .find(|m| normalise_email(&m.email) == normalise_email(e))
                    .map(|m| m.user_id)
                    .ok_or_else(|| ClientError::NotFound(format!("no member {e}")))
            })
            .collect::<ClientResult<Vec<_>>>()?;
        let members_now: HashSet<Uuid> = all.iter().map(|m| m.user_id).collect();
        let req = self.roster_change(
            &keys,
            &public,
            company_id,
            &g,
            rename,
            &add,
            &remove,
            &members_now,
        )?;
        self.api.update_roster(company_id, g.id, &req).await?;
        Ok(g.id)
    }

    pub async fn delete_group(&self, company_id: Uuid, group: &str) -> ClientResult<Uuid> {
        let g = self.group_by_name(company_id, group).await?;
        if g.is_everyone {
            return Err(ClientError::Invalid(
                "the Everyone group cannot be deleted".into(),
            ));
        }
        self.api.delete_group(company_id, g.id).await?;
        Ok(g.id)
    }

    // ------------------------------------------------------------ policies

    /// The verified effective policy of a company (served documents that fail are ignored).
    pub async fn policy(&self, company_id: Uuid) -> ClientResult<EffectivePolicy> {
        self.company_public(company_id).await?;
        let served = self.api.policy(company_id).await?.policy;
        let (eff, _) = update_pins(&self.home, |p| {
            policy::resolve(p, company_id, served.as_ref())
        })?;
        Ok(eff)
    }

    /// Signs a new policy document (counter + 1) built from the verified current one.
    pub async fn set_policy(
        &self,
        company_id: Uuid,
        change: impl FnOnce(&mut PolicySet),
    ) -> ClientResult<EffectivePolicy> {
        let (keys, _) = self.company_keys(company_id).await?;
        let served = self.api.policy(company_id).await?.policy;
        let (current, _) = update_pins(&self.home, |p| {
            policy::resolve(p, company_id, served.as_ref())
        })?;
        let served_counter = served
            .as_ref()
            .and_then(docs::peek::<PolicyBody>)
            .map(|b| b.counter)
            .unwrap_or(0);
        let mut policies = current.policies.clone();
        change(&mut policies);
        let body = PolicyBody {
            company_id,
            counter: current.counter.max(served_counter) + 1,
            issued_at: now(),
            issued_by: self.me(),
            policies,
        };
        let doc = sign(&keys.signing, statement::POLICY, &body);
        self.api
            .set_policy(
                company_id,
                &SetPolicyRequest {
                    policy: doc.clone(),
                },
            )
            .await?;
        update_pins(&self.home, |p| {
            p.record_policy(company_id, &body, &doc);
            Ok(())
        })?;
        Ok(EffectivePolicy {
            company_id,
            counter: body.counter,
            policies: body.policies,
            warnings: current.warnings,
        })
    }

    pub async fn templates(&self) -> ClientResult<Vec<PolicyTemplateDto>> {
        Ok(self
            .api
            .policy_templates(self.partner_id()?)
            .await?
            .templates)
    }

    pub async fn put_template(&self, name: &str, policies: PolicySet) -> ClientResult<Uuid> {
        let id = Uuid::new_v4();
        self.api
            .put_policy_template(
                self.partner_id()?,
                &PutPolicyTemplateRequest {
                    id,
                    name: name.trim().to_string(),
                    policies,
                },
            )
            .await?;
        Ok(id)
    }

    pub async fn template(&self, which: &str) -> ClientResult<PolicyTemplateDto> {
        let all = self.templates().await?;
        let mut m: Vec<_> = all
            .into_iter()
            .filter(|t| t.name == which || t.id.to_string() == which)
            .collect();
        match m.len() {
            0 => Err(ClientError::NotFound(format!(
                "no policy template {which:?}"
            ))),
            1 => Ok(m.pop().expect("one")),
            n => Err(ClientError::Invalid(format!(
                "{n} templates are named {which:?}; use the id"
            ))),
        }
    }

    pub async fn delete_template(&self, which: &str) -> ClientResult<Uuid> {
        let t = self.template(which).await?;
        self.api
            .delete_policy_template(self.partner_id()?, t.id)
            .await?;
        Ok(t.id)
    }

    // ------------------------------------------------------------ audit

    pub async fn audit(
        &self,
        company_id: Uuid,
        filter: &AuditFilter,
        max: usize,
    ) -> ClientResult<Vec<AuditEventDto>> {
        let mut out = Vec::new();
        let mut f = filter.clone();
        loop {
            let page = self.api.audit(company_id, &f).await?;
            out.extend(page.events);
            match page.next_before {
                Some(b) if out.len() < max && f.before != Some(b) => f.before = Some(b),
                _ => break,
            }
        }
        out.truncate(max);
        Ok(out)
    }
}
