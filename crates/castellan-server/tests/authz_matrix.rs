//! The authorization matrix: every organisation and sharing endpoint × every role × three
//! target companies (the customer in focus, a sibling customer of the same partner, a customer
//! of another partner), on a real server. Share endpoints target a share of that company,
//! owned by one of its members (never a caller), with the user of C1 as a read-only recipient
//! of C1's share. The expected answer of each cell is derived from the rules in
//! docs/organisation.md and docs/sharing.md, independently of the server's code; the
//! resulting table is written to docs/authorization.md. Any cross-tenant read or write that
//! succeeds fails the test.
//!
//! "allow" cells may answer 2xx or a validation error (400, 409, 422): allowed callers get
//! bodies that are refused after authorisation, except where the request is harmless or its
//! target is a fixture made for it (deleted things are made again for the next cell).

mod common;

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;

use castellan_types::*;
use common::*;
use reqwest::Method;
use serde_json::{json, Value};
use uuid::Uuid;

// ---------------------------------------------------------------- roles, targets, rules

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum R {
    PartnerAdmin,
    TechAssigned,
    TechUnassigned,
    CustomerAdmin,
    User,
    OtherCustomerMember,
    OtherPartnerAdmin,
    NoSession,
}

const ROLES: [(R, &str); 8] = [
    (R::PartnerAdmin, "partner admin"),
    (R::TechAssigned, "technician (assigned to C1)"),
    (R::TechUnassigned, "technician (not assigned)"),
    (R::CustomerAdmin, "customer admin (C1)"),
    (R::User, "user (C1)"),
    (R::OtherCustomerMember, "admin of another customer (C4)"),
    (R::OtherPartnerAdmin, "admin of another partner (P2)"),
    (R::NoSession, "no session"),
];

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
enum T {
    Own,
    Sibling,
    Other,
}

const TARGETS: [T; 3] = [T::Own, T::Sibling, T::Other];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    /// 2xx, or a validation error after authorisation (400, 409, 422).
    Allow,
    Unauth,
    Forbidden,
    NotFound,
    /// 403 invitation_invalid: the link's secret is the only key.
    Link,
    /// 403 setup_token_invalid: the setup token is the only key.
    Token,
    /// Not applicable (the endpoint has no target company).
    Na,
}

impl Outcome {
    fn label(self) -> &'static str {
        match self {
            Outcome::Allow => "allow",
            Outcome::Unauth => "401",
            Outcome::Forbidden => "403",
            Outcome::NotFound => "404",
            Outcome::Link => "link",
            Outcome::Token => "token",
            Outcome::Na => "—",
        }
    }
}

/// Who may call an endpoint (docs/organisation.md, "Roles").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Rule {
    /// No session needed; anyone.
    Public,
    /// The caller's own account or membership (no target company).
    OwnAccount,
    /// Item events: members of a company whose policy has password auditing on (C1).
    OwnAuditing,
    /// Only with the operator's setup token.
    SetupToken,
    /// Only with the invitation link's secret; no session needed.
    LinkPublic,
    /// Only with the invitation link's secret; a session needed.
    LinkSession,
    /// Partner admins and technicians of the target partner.
    PartnerStaff,
    /// Partner admins of the target partner.
    PartnerAdmin,
    /// The company's summary: company admins and its own members.
    Summary,
    /// Company admins: its admins, its partner's admins, assigned technicians.
    Administer,
    /// Admins of the customer's partner.
    PartnerOfCustomer,
    /// The company's directory: its confirmed members and its administrators.
    Directory,
    /// Create a share: confirmed members of the company.
    CreateShare,
    /// Read a share: its principals and the company's administrators.
    ShareRead,
    /// Change a share's recipients, delete it: its owners and the company's administrators.
    ShareManage,
    /// Grant or rotate the share key: its owners only.
    ShareOwner,
    /// Accept or decline: its recipients.
    ShareRecipient,
}

impl Rule {
    fn has_target(self) -> bool {
        !matches!(
            self,
            Rule::Public | Rule::OwnAccount | Rule::OwnAuditing | Rule::SetupToken
        )
    }
}

fn administers(r: R, t: T) -> bool {
    matches!(
        (r, t),
        (R::PartnerAdmin, T::Own | T::Sibling)
            | (R::TechAssigned, T::Own)
            | (R::CustomerAdmin, T::Own)
            | (R::OtherPartnerAdmin, T::Other)
    )
}

/// Can see the company at all (administers it or is one of its members).
fn sees(r: R, t: T) -> bool {
    administers(r, t) || matches!((r, t), (R::User, T::Own))
}

fn in_partner(r: R, t: T) -> bool {
    matches!(
        (r, t),
        (
            R::PartnerAdmin | R::TechAssigned | R::TechUnassigned,
            T::Own | T::Sibling
        ) | (R::OtherPartnerAdmin, T::Other)
    )
}

fn partner_admin(r: R, t: T) -> bool {
    matches!(
        (r, t),
        (R::PartnerAdmin, T::Own | T::Sibling) | (R::OtherPartnerAdmin, T::Other)
    )
}

/// A confirmed member of the company (among the callers).
fn member(r: R, t: T) -> bool {
    matches!((r, t), (R::CustomerAdmin | R::User, T::Own))
}

/// A principal of the target share that is not its owner (the read-only recipient).
fn principal(r: R, t: T) -> bool {
    matches!((r, t), (R::User, T::Own))
}

fn expected(rule: Rule, r: R, t: T) -> Outcome {
    use Outcome::*;
    if r == R::NoSession {
        return match rule {
            Rule::Public => Allow,
            Rule::LinkPublic => Link,
            _ => Unauth,
        };
    }
    let pick = |allow: bool, visible: bool| {
        if allow {
            Allow
        } else if visible {
            Forbidden
        } else {
            NotFound
        }
    };
    match rule {
        Rule::Public | Rule::OwnAccount => Allow,
        Rule::OwnAuditing => pick(matches!(r, R::CustomerAdmin | R::User), true),
        Rule::SetupToken => Token,
        Rule::LinkPublic | Rule::LinkSession => Link,
        Rule::PartnerStaff => pick(in_partner(r, t), false),
        Rule::PartnerAdmin => pick(partner_admin(r, t), in_partner(r, t)),
        Rule::Summary => pick(sees(r, t), false),
        Rule::Administer => pick(administers(r, t), sees(r, t)),
        Rule::PartnerOfCustomer => pick(partner_admin(r, t), sees(r, t)),
        Rule::Directory => pick(sees(r, t), false),
        Rule::CreateShare => pick(member(r, t), sees(r, t)),
        Rule::ShareRead => pick(administers(r, t) || principal(r, t), false),
        Rule::ShareManage => pick(administers(r, t), principal(r, t)),
        Rule::ShareOwner => pick(false, administers(r, t) || principal(r, t)),
        Rule::ShareRecipient => pick(principal(r, t), administers(r, t)),
    }
}

fn classify(resp: &Resp) -> Outcome {
    match resp.status {
        200..=299 | 400 | 409 | 422 => Outcome::Allow,
        401 => Outcome::Unauth,
        403 => match resp.code() {
            "invitation_invalid" => Outcome::Link,
            "setup_token_invalid" => Outcome::Token,
            _ => Outcome::Forbidden,
        },
        404 => Outcome::NotFound,
        other => panic!("unexpected status {other}: {}", resp.body),
    }
}

// ---------------------------------------------------------------- endpoints

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum E {
    SetupStatus,
    Setup,
    MyMembership,
    MyKeyGrants,
    MyGroups,
    MyAuditEvents,
    ListCustomers,
    CreateCustomer,
    ListTemplates,
    PutTemplate,
    DeleteTemplate,
    TechnicianCustomers,
    AssignTechnician,
    UnassignTechnician,
    GetCompany,
    RenameCompany,
    CompanyStatus,
    Subscription,
    GetPolicy,
    PutPolicy,
    PutRevocations,
    ListInvitations,
    CreateInvitation,
    RevokeInvitation,
    PreviewInvitation,
    AcceptInvitation,
    ListMembers,
    ConfirmMember,
    UpdateMember,
    RemoveMember,
    ResetMember,
    DeleteMember,
    ListGroups,
    CreateGroup,
    UpdateRoster,
    DeleteGroup,
    Audit,
    AuditCsv,
    TwoFactorEnroll,
    TwoFactorConfirm,
    TwoFactorDisable,
    LoginTwoFactor,
    Directory,
    CompanyShares,
    CreateShare,
    GetShare,
    PutShareAcl,
    AddShareGrants,
    RotateShare,
    DeclineShare,
    AcceptShare,
    DeleteShare,
}

const ENDPOINTS: [(E, &str, Rule); 52] = [
    (E::SetupStatus, "GET /setup", Rule::Public),
    (E::Setup, "POST /setup", Rule::SetupToken),
    (E::MyMembership, "GET /me/membership", Rule::OwnAccount),
    (E::MyKeyGrants, "GET /me/key-grants", Rule::OwnAccount),
    (E::MyGroups, "GET /me/groups", Rule::OwnAccount),
    (E::MyAuditEvents, "POST /me/audit-events", Rule::OwnAuditing),
    (
        E::ListCustomers,
        "GET /partners/{pid}/customers",
        Rule::PartnerStaff,
    ),
    (
        E::CreateCustomer,
        "POST /partners/{pid}/customers",
        Rule::PartnerAdmin,
    ),
    (
        E::ListTemplates,
        "GET /partners/{pid}/policy-templates",
        Rule::PartnerAdmin,
    ),
    (
        E::PutTemplate,
        "POST /partners/{pid}/policy-templates",
        Rule::PartnerAdmin,
    ),
    (
        E::DeleteTemplate,
        "DELETE /partners/{pid}/policy-templates/{tid}",
        Rule::PartnerAdmin,
    ),
    (
        E::TechnicianCustomers,
        "GET /partners/{pid}/technicians/{uid}/customers",
        Rule::PartnerAdmin,
    ),
    (
        E::AssignTechnician,
        "PUT /partners/{pid}/technicians/{uid}/customers/{cid}",
        Rule::PartnerAdmin,
    ),
    (
        E::UnassignTechnician,
        "DELETE /partners/{pid}/technicians/{uid}/customers/{cid}",
        Rule::PartnerAdmin,
    ),
    (E::GetCompany, "GET /companies/{cid}", Rule::Summary),
    (
        E::RenameCompany,
        "PATCH /companies/{cid} (name)",
        Rule::Administer,
    ),
    (
        E::CompanyStatus,
        "PATCH /companies/{cid} (status)",
        Rule::PartnerOfCustomer,
    ),
    (
        E::Subscription,
        "PUT /companies/{cid}/subscription",
        Rule::PartnerOfCustomer,
    ),
    (
        E::GetPolicy,
        "GET /companies/{cid}/policy",
        Rule::Administer,
    ),
    (
        E::PutPolicy,
        "PUT /companies/{cid}/policy",
        Rule::Administer,
    ),
    (
        E::PutRevocations,
        "PUT /companies/{cid}/revocations",
        Rule::Administer,
    ),
    (
        E::ListInvitations,
        "GET /companies/{cid}/invitations",
        Rule::Administer,
    ),
    (
        E::CreateInvitation,
        "POST /companies/{cid}/invitations",
        Rule::Administer,
    ),
    (
        E::RevokeInvitation,
        "DELETE /companies/{cid}/invitations/{id}",
        Rule::Administer,
    ),
    (
        E::PreviewInvitation,
        "POST /invitations/{id}/preview",
        Rule::LinkPublic,
    ),
    (
        E::AcceptInvitation,
        "POST /invitations/{id}/accept",
        Rule::LinkSession,
    ),
    (
        E::ListMembers,
        "GET /companies/{cid}/members",
        Rule::Administer,
    ),
    (
        E::ConfirmMember,
        "POST /companies/{cid}/members/{uid}/confirm",
        Rule::Administer,
    ),
    (
        E::UpdateMember,
        "PATCH /companies/{cid}/members/{uid}",
        Rule::Administer,
    ),
    (
        E::RemoveMember,
        "POST /companies/{cid}/members/{uid}/remove",
        Rule::Administer,
    ),
    (
        E::ResetMember,
        "POST /companies/{cid}/members/{uid}/reset",
        Rule::Administer,
    ),
    (
        E::DeleteMember,
        "DELETE /companies/{cid}/members/{uid}",
        Rule::Administer,
    ),
    (
        E::ListGroups,
        "GET /companies/{cid}/groups",
        Rule::Administer,
    ),
    (
        E::CreateGroup,
        "POST /companies/{cid}/groups",
        Rule::Administer,
    ),
    (
        E::UpdateRoster,
        "PUT /companies/{cid}/groups/{gid}/roster",
        Rule::Administer,
    ),
    (
        E::DeleteGroup,
        "DELETE /companies/{cid}/groups/{gid}",
        Rule::Administer,
    ),
    (E::Audit, "GET /companies/{cid}/audit", Rule::Administer),
    (
        E::AuditCsv,
        "GET /companies/{cid}/audit?format=csv",
        Rule::Administer,
    ),
    (
        E::TwoFactorEnroll,
        "POST /account/2fa/enroll",
        Rule::OwnAccount,
    ),
    (
        E::TwoFactorConfirm,
        "POST /account/2fa/confirm",
        Rule::OwnAccount,
    ),
    (
        E::TwoFactorDisable,
        "POST /account/2fa/disable",
        Rule::OwnAccount,
    ),
    (E::LoginTwoFactor, "POST /auth/login/2fa", Rule::Public),
    (
        E::Directory,
        "GET /companies/{cid}/directory",
        Rule::Directory,
    ),
    (
        E::CompanyShares,
        "GET /companies/{cid}/shares",
        Rule::Administer,
    ),
    (E::CreateShare, "POST /shares", Rule::CreateShare),
    (E::GetShare, "GET /shares/{sid}", Rule::ShareRead),
    (E::PutShareAcl, "PUT /shares/{sid}/acl", Rule::ShareManage),
    (
        E::AddShareGrants,
        "POST /shares/{sid}/grants",
        Rule::ShareOwner,
    ),
    (
        E::RotateShare,
        "POST /shares/{sid}/rotate",
        Rule::ShareOwner,
    ),
    (
        E::DeclineShare,
        "POST /shares/{sid}/decline",
        Rule::ShareRecipient,
    ),
    (
        E::AcceptShare,
        "POST /shares/{sid}/accept",
        Rule::ShareRecipient,
    ),
    (E::DeleteShare, "DELETE /shares/{sid}", Rule::ShareManage),
];

// ---------------------------------------------------------------- the world

/// What a target column points at.
struct Target {
    company: Company,
    partner_id: Uuid,
    /// Makes fixtures in the company (its partner's admin).
    fixture_admin: usize,
    /// A confirmed member of the company (not an admin).
    member: Uuid,
    /// A technician of the partner, and whether they are assigned to the company now.
    technician: usize,
    assigned: bool,
    /// An open invitation of the company (its secret is never sent).
    invitation: Uuid,
    /// A member of the company (not a caller) who owns its shares.
    share_owner: usize,
    /// A share of the company (C1's has the user of C1 as a read-only recipient).
    share: Uuid,
}

struct World {
    s: Srv,
    /// Every account; `callers` and targets index into it.
    users: Vec<User>,
    callers: HashMap<R, usize>,
    targets: BTreeMap<T, Target>,
    /// Fixtures consumed by an allowed delete are made again.
    fixtures: HashMap<(E, T), Uuid>,
    counter: usize,
}

impl World {
    fn user(&self, i: usize) -> &User {
        &self.users[i]
    }

    async fn add_user(&mut self, email: &str) -> usize {
        let u = quick_user(&self.s, email).await;
        self.users.push(u);
        self.users.len() - 1
    }

    fn fresh_email(&mut self, t: T) -> String {
        self.counter += 1;
        format!("fixture{}-{:?}@example.com", self.counter, t).to_lowercase()
    }

    /// A fixture for a destructive endpoint: made on first use and after an allowed call
    /// consumed it.
    async fn fixture(&mut self, e: E, t: T) -> Uuid {
        if let Some(id) = self.fixtures.get(&(e, t)) {
            return *id;
        }
        let id = match e {
            E::DeleteTemplate => {
                let tgt = &self.targets[&t];
                let id = Uuid::new_v4();
                let r = self
                    .s
                    .post(
                        &format!("/partners/{}/policy-templates", tgt.partner_id),
                        self.user(tgt.fixture_admin).t(),
                        &PutPolicyTemplateRequest {
                            id,
                            name: "Fixture".into(),
                            policies: PolicySet::default(),
                        },
                    )
                    .await;
                r.ok();
                id
            }
            E::RevokeInvitation => {
                let email = self.fresh_email(t);
                let tgt = &self.targets[&t];
                let (req, _) =
                    tgt.company
                        .invitation(self.user(tgt.fixture_admin), &email, RoleDto::User);
                self.s
                    .post(
                        &format!("/companies/{}/invitations", tgt.company.id),
                        self.user(tgt.fixture_admin).t(),
                        &req,
                    )
                    .await
                    .ok();
                req.invitation_id
            }
            E::RemoveMember | E::DeleteMember => {
                let email = self.fresh_email(t);
                let i = self.add_user(&email).await;
                let tgt = &self.targets[&t];
                invite_and_accept(
                    &self.s,
                    &tgt.company,
                    self.user(tgt.fixture_admin),
                    self.user(i),
                    RoleDto::User,
                )
                .await
                .ok();
                self.user(i).id
            }
            E::DeleteShare => {
                let tgt = &self.targets[&t];
                let u1 = self.callers[&R::User];
                let recipient = (t == T::Own).then(|| self.user(u1));
                make_share(&self.s, &tgt.company, self.user(tgt.share_owner), recipient).await
            }
            E::DeleteGroup => {
                let tgt = &self.targets[&t];
                let g = Group::new("Fixture", false);
                self.s
                    .post(
                        &format!("/companies/{}/groups", tgt.company.id),
                        self.user(tgt.fixture_admin).t(),
                        &g.new_dto(&tgt.company, &[]),
                    )
                    .await
                    .ok();
                g.id
            }
            other => panic!("no fixture for {other:?}"),
        };
        self.fixtures.insert((e, t), id);
        id
    }

    /// Makes sure the target's technician is assigned (an allowed unassign undoes it).
    async fn ensure_assigned(&mut self, t: T) {
        let tgt = &self.targets[&t];
        if tgt.assigned {
            return;
        }
        let tech = self.user(tgt.technician);
        self.s
            .put(
                &format!(
                    "/partners/{}/technicians/{}/customers/{}",
                    tgt.partner_id, tech.id, tgt.company.id
                ),
                self.user(tgt.fixture_admin).t(),
                &AssignTechnicianRequest {
                    key_grant: tgt.company.grant(tech),
                },
            )
            .await
            .ok();
        self.targets.get_mut(&t).unwrap().assigned = true;
    }

    /// The request of endpoint `e` against target `t`.
    async fn request(&mut self, e: E, t: T) -> (Method, String, Option<Value>) {
        let g = garbage();
        let fixture = match e {
            E::DeleteTemplate
            | E::RevokeInvitation
            | E::RemoveMember
            | E::DeleteMember
            | E::DeleteGroup
            | E::DeleteShare => Some(self.fixture(e, t).await),
            E::UnassignTechnician => {
                self.ensure_assigned(t).await;
                None
            }
            _ => None,
        };
        let tgt = &self.targets[&t];
        let (cid, pid) = (tgt.company.id, tgt.partner_id);
        let c = format!("/companies/{cid}");
        let p = format!("/partners/{pid}");
        let tech = self.user(tgt.technician).id;
        let (m, uid) = (Method::POST, tgt.member);
        let events = json!({"events": [{"item_id": Uuid::nil(), "event": "viewed", "at": 1}]});
        match e {
            E::SetupStatus => (Method::GET, "/setup".into(), None),
            E::Setup => {
                let company = Company::new("Matrix");
                let caller = self.user(0);
                let mut req = setup_request(&self.s, caller, &company).await;
                req.setup_token = "not the token".into();
                (m, "/setup".into(), Some(serde_json::to_value(req).unwrap()))
            }
            E::MyMembership => (Method::GET, "/me/membership".into(), None),
            E::MyKeyGrants => (Method::GET, "/me/key-grants".into(), None),
            E::MyGroups => (Method::GET, "/me/groups".into(), None),
            E::MyAuditEvents => (m, "/me/audit-events".into(), Some(events)),
            E::ListCustomers => (Method::GET, format!("{p}/customers"), None),
            E::CreateCustomer => (m, format!("{p}/customers"), Some(g)),
            E::ListTemplates => (Method::GET, format!("{p}/policy-templates"), None),
            E::PutTemplate => (m, format!("{p}/policy-templates"), Some(g)),
            E::DeleteTemplate => (
                Method::DELETE,
                format!("{p}/policy-templates/{}", fixture.unwrap()),
                None,
            ),
            E::TechnicianCustomers => (
                Method::GET,
                format!("{p}/technicians/{tech}/customers"),
                None,
            ),
            E::AssignTechnician => (
                Method::PUT,
                format!("{p}/technicians/{tech}/customers/{cid}"),
                Some(g),
            ),
            E::UnassignTechnician => (
                Method::DELETE,
                format!("{p}/technicians/{tech}/customers/{cid}"),
                None,
            ),
            E::GetCompany => (Method::GET, c, None),
            E::RenameCompany => (Method::PATCH, c, Some(json!({"name": ""}))),
            // Setting the status it has: allowed callers change nothing.
            E::CompanyStatus => (Method::PATCH, c, Some(json!({"status": "active"}))),
            E::Subscription => (Method::PUT, format!("{c}/subscription"), Some(g)),
            E::GetPolicy => (Method::GET, format!("{c}/policy"), None),
            E::PutPolicy => (Method::PUT, format!("{c}/policy"), Some(g)),
            E::PutRevocations => (Method::PUT, format!("{c}/revocations"), Some(g)),
            E::ListInvitations => (Method::GET, format!("{c}/invitations"), None),
            E::CreateInvitation => (m, format!("{c}/invitations"), Some(g)),
            E::RevokeInvitation => (
                Method::DELETE,
                format!("{c}/invitations/{}", fixture.unwrap()),
                None,
            ),
            E::PreviewInvitation | E::AcceptInvitation => {
                let verb = if e == E::PreviewInvitation {
                    "preview"
                } else {
                    "accept"
                };
                (
                    m,
                    format!("/invitations/{}/{verb}", tgt.invitation),
                    Some(json!({"secret": "not the secret"})),
                )
            }
            E::ListMembers => (Method::GET, format!("{c}/members"), None),
            E::ConfirmMember => (m, format!("{c}/members/{uid}/confirm"), Some(g)),
            E::UpdateMember => (Method::PATCH, format!("{c}/members/{uid}"), Some(g)),
            E::RemoveMember => (
                m,
                format!("{c}/members/{}/remove", fixture.unwrap()),
                Some(json!({})),
            ),
            E::ResetMember => (m, format!("{c}/members/{uid}/reset"), Some(g)),
            E::DeleteMember => (
                Method::DELETE,
                format!("{c}/members/{}", fixture.unwrap()),
                None,
            ),
            E::ListGroups => (Method::GET, format!("{c}/groups"), None),
            E::CreateGroup => (m, format!("{c}/groups"), Some(g)),
            E::UpdateRoster => (
                Method::PUT,
                format!("{c}/groups/{}/roster", tgt.company.everyone.id),
                Some(g),
            ),
            E::DeleteGroup => (
                Method::DELETE,
                format!("{c}/groups/{}", fixture.unwrap()),
                None,
            ),
            E::Audit => (Method::GET, format!("{c}/audit"), None),
            E::AuditCsv => (Method::GET, format!("{c}/audit?format=csv"), None),
            E::TwoFactorEnroll => (m, "/account/2fa/enroll".into(), Some(json!({}))),
            E::TwoFactorConfirm => (m, "/account/2fa/confirm".into(), Some(json!({}))),
            E::TwoFactorDisable => (m, "/account/2fa/disable".into(), Some(json!({}))),
            E::LoginTwoFactor => (m, "/auth/login/2fa".into(), Some(json!({}))),
            E::Directory => (Method::GET, format!("{c}/directory"), None),
            E::CompanyShares => (Method::GET, format!("{c}/shares"), None),
            E::CreateShare => {
                // Signed by someone who is not the caller: allowed callers get 422.
                let mut share = Share::new(&tgt.company, self.user(tgt.fixture_admin), &[]);
                let req = share.create_request(self.user(tgt.fixture_admin), vec![]);
                (
                    m,
                    "/shares".into(),
                    Some(serde_json::to_value(req).unwrap()),
                )
            }
            E::GetShare => (Method::GET, format!("/shares/{}", tgt.share), None),
            E::PutShareAcl => (Method::PUT, format!("/shares/{}/acl", tgt.share), Some(g)),
            E::AddShareGrants => (m, format!("/shares/{}/grants", tgt.share), Some(g)),
            E::RotateShare => (m, format!("/shares/{}/rotate", tgt.share), Some(g)),
            E::DeclineShare => (m, format!("/shares/{}/decline", tgt.share), Some(json!({}))),
            E::AcceptShare => (m, format!("/shares/{}/accept", tgt.share), Some(json!({}))),
            E::DeleteShare => (
                Method::DELETE,
                format!("/shares/{}", fixture.unwrap()),
                None,
            ),
        }
    }

    /// After a call: a success consumed the fixture it targeted.
    fn after(&mut self, e: E, t: T, resp: &Resp) {
        if !(200..300).contains(&resp.status) {
            return;
        }
        self.fixtures.remove(&(e, t));
        if e == E::UnassignTechnician {
            self.targets.get_mut(&t).unwrap().assigned = false;
        }
    }
}

/// A share of `company` owned by `owner`, with `recipient` as a read-only recipient.
async fn make_share(s: &Srv, company: &Company, owner: &User, recipient: Option<&User>) -> Uuid {
    let others: Vec<(PrincipalDto, ShareRoleDto)> = recipient
        .iter()
        .map(|u| (user_p(u), ShareRoleDto::ReadOnly))
        .collect();
    let mut share = Share::new(company, owner, &others);
    let users: Vec<&User> = recipient.into_iter().collect();
    create_share(s, &mut share, owner, &users).await;
    share.id
}

async fn open_invitation(s: &Srv, c: &Company, admin: &User, email: &str) -> Uuid {
    let (req, _) = c.invitation(admin, email, RoleDto::User);
    s.post(&format!("/companies/{}/invitations", c.id), admin.t(), &req)
        .await
        .ok();
    req.invitation_id
}

async fn build_world() -> World {
    let mut settings = castellan_server::Settings::default();
    // Every cell of the link and token rows is a wrong guess from the same address.
    settings.rate_limits.token_guesses_per_address = 100_000;
    let s = start(settings).await;
    let mut users = Vec::new();
    for email in [
        "a1@p1.example",
        "t1@p1.example",
        "t2@p1.example",
        "ca1@c1.example",
        "u1@c1.example",
        "m2@c4.example",
        "a2@p2.example",
        "tx1@p1.example",
        "tx2@p2.example",
        "s2@c2.example",
        "s3@c3.example",
        "o1@c1.example",
    ] {
        users.push(quick_user(&s, email).await);
    }
    let [a1, t1, t2, ca1, u1, m2, a2, tx1, tx2, s2, s3, o1] =
        [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11];
    let mut p1 = setup_partner(&s, &mut users[a1], "P1").await;
    let mut p2 = setup_partner(&s, &mut users[a2], "P2").await;
    let mut c1 = create_customer(&s, &p1, &users[a1], "C1", PlanDto::Advanced, 1000).await;
    let mut c2 = create_customer(&s, &p1, &users[a1], "C2", PlanDto::Standard, 1000).await;
    let mut c4 = create_customer(&s, &p1, &users[a1], "C4", PlanDto::Standard, 1000).await;
    let mut c3 = create_customer(&s, &p2, &users[a2], "C3", PlanDto::Standard, 1000).await;
    for t in [t1, t2, tx1] {
        add_member(&s, &mut p1, &users[a1], &users[t], RoleDto::Technician).await;
    }
    add_member(&s, &mut p2, &users[a2], &users[tx2], RoleDto::Technician).await;
    add_member(&s, &mut c1, &users[a1], &users[ca1], RoleDto::Admin).await;
    add_member(&s, &mut c1, &users[ca1], &users[u1], RoleDto::User).await;
    add_member(&s, &mut c1, &users[ca1], &users[o1], RoleDto::User).await;
    add_member(&s, &mut c2, &users[a1], &users[s2], RoleDto::User).await;
    add_member(&s, &mut c3, &users[a2], &users[s3], RoleDto::User).await;
    add_member(&s, &mut c4, &users[a1], &users[m2], RoleDto::Admin).await;
    for (admin, partner, tech, c) in [
        (a1, &p1, t1, &c1),
        (a1, &p1, tx1, &c1),
        (a1, &p1, tx1, &c2),
        (a2, &p2, tx2, &c3),
    ] {
        s.put(
            &format!(
                "/partners/{}/technicians/{}/customers/{}",
                partner.id, users[tech].id, c.id
            ),
            users[admin].t(),
            &AssignTechnicianRequest {
                key_grant: c.grant(&users[tech]),
            },
        )
        .await
        .ok();
    }
    // Password auditing on in C1 (its members may report item events).
    let doc = c1.policy(
        &users[ca1],
        PolicySet {
            password_auditing: true,
            ..Default::default()
        },
    );
    s.put(
        &format!("/companies/{}/policy", c1.id),
        users[ca1].t(),
        &SetPolicyRequest { policy: doc },
    )
    .await
    .ok();
    let inv1 = open_invitation(&s, &c1, &users[a1], "pending@c1.example").await;
    let inv2 = open_invitation(&s, &c2, &users[a1], "pending@c2.example").await;
    let inv3 = open_invitation(&s, &c3, &users[a2], "pending@c3.example").await;
    let share1 = make_share(&s, &c1, &users[o1], Some(&users[u1])).await;
    let share2 = make_share(&s, &c2, &users[s2], None).await;
    let share3 = make_share(&s, &c3, &users[s3], None).await;

    let mut targets = BTreeMap::new();
    let (u1_id, s2_id, s3_id) = (users[u1].id, users[s2].id, users[s3].id);
    targets.insert(
        T::Own,
        Target {
            company: c1,
            partner_id: p1.id,
            fixture_admin: a1,
            member: u1_id,
            technician: tx1,
            assigned: true,
            invitation: inv1,
            share_owner: o1,
            share: share1,
        },
    );
    targets.insert(
        T::Sibling,
        Target {
            company: c2,
            partner_id: p1.id,
            fixture_admin: a1,
            member: s2_id,
            technician: tx1,
            assigned: true,
            invitation: inv2,
            share_owner: s2,
            share: share2,
        },
    );
    targets.insert(
        T::Other,
        Target {
            company: c3,
            partner_id: p2.id,
            fixture_admin: a2,
            member: s3_id,
            technician: tx2,
            assigned: true,
            invitation: inv3,
            share_owner: s3,
            share: share3,
        },
    );
    let callers = HashMap::from([
        (R::PartnerAdmin, a1),
        (R::TechAssigned, t1),
        (R::TechUnassigned, t2),
        (R::CustomerAdmin, ca1),
        (R::User, u1),
        (R::OtherCustomerMember, m2),
        (R::OtherPartnerAdmin, a2),
    ]);
    World {
        s,
        users,
        callers,
        targets,
        fixtures: HashMap::new(),
        counter: 0,
    }
}

// ---------------------------------------------------------------- the test

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn authorization_matrix() {
    let mut w = build_world().await;
    let mut table: Vec<(&str, Vec<[Outcome; 3]>)> = Vec::new();
    let mut mismatches = Vec::new();
    let mut cross_tenant = Vec::new();
    for (e, label, rule) in ENDPOINTS {
        let mut row = Vec::new();
        for (r, role_name) in ROLES {
            let mut cells = [Outcome::Na; 3];
            for (i, t) in TARGETS.into_iter().enumerate() {
                if !rule.has_target() && t != T::Own {
                    continue;
                }
                let (method, path, body) = w.request(e, t).await;
                let token = w.callers.get(&r).map(|&i| w.user(i).token.clone());
                let resp =
                    w.s.call(method, &path, token.as_deref(), body.as_ref())
                        .await;
                w.after(e, t, &resp);
                let got = classify(&resp);
                let want = expected(rule, r, t);
                cells[i] = got;
                if got != want {
                    mismatches.push(format!(
                        "{label} as {role_name} on {t:?}: expected {}, got {} {}",
                        want.label(),
                        resp.status,
                        resp.body
                    ));
                }
                if want == Outcome::NotFound && got == Outcome::Allow {
                    cross_tenant.push(format!(
                        "{label} as {role_name} on {t:?}: {} {}",
                        resp.status, resp.body
                    ));
                }
            }
            row.push(cells);
        }
        table.push((label, row));
    }
    write_doc(&table);
    assert!(
        cross_tenant.is_empty(),
        "CROSS-TENANT ACCESS:\n{}",
        cross_tenant.join("\n")
    );
    assert!(
        mismatches.is_empty(),
        "{} cells differ from the rules:\n{}",
        mismatches.len(),
        mismatches.join("\n")
    );
}

fn write_doc(table: &[(&str, Vec<[Outcome; 3]>)]) {
    let mut md = String::new();
    md.push_str(
        "# Authorization matrix\n\n\
         Generated by `crates/castellan-server/tests/authz_matrix.rs` on a real server (do not edit by\n\
         hand; the test rewrites this file and fails if any cell differs from the rules in\n\
         [organisation.md](organisation.md) and [sharing.md](sharing.md), or if any cross-tenant\n\
         read or write succeeds).\n\n\
         **World.** Partner P1 with customers C1, C2 and C4; partner P2 with customer C3. The\n\
         assigned technician is assigned to C1 only; C1 has the Advanced plan and password\n\
         auditing on. Share endpoints target a share of the company owned by one of its members\n\
         (not a caller); the user of C1 is a read-only recipient of C1's share (owners are\n\
         never callers, so `grants` and `rotate` allow nobody here; `shares_api.rs` tests owners).\n\n\
         **Targets** (each cell reads `C1 / C2 / C3`):\n\n\
         - C1: the customer in focus (partner endpoints: P1, with C1 where a customer is named);\n\
         - C2: a sibling customer of the same partner (partner endpoints: P1, with C2);\n\
         - C3: a customer of another partner (partner endpoints: P2, with C3).\n\n\
         Endpoints without a target company (the caller's own account and membership) have one\n\
         answer in the first place and `—` in the others.\n\n\
         **Answers.** `allow`: the role may (2xx, or a validation error such as 400/409/422 for\n\
         a body that is refused after authorisation); `401`: no session; `403`: the company is\n\
         visible but the role may not; `404`: the company is outside the caller's reach and\n\
         answers exactly like one that does not exist; `link`: `403 invitation_invalid` (only\n\
         the invitation link's secret opens it); `token`: `403 setup_token_invalid` (only the\n\
         operator's setup token opens it).\n\n",
    );
    md.push_str("| Endpoint |");
    for (_, name) in ROLES {
        let _ = write!(md, " {name} |");
    }
    md.push_str("\n|---|");
    for _ in ROLES {
        md.push_str("---|");
    }
    md.push('\n');
    for (label, row) in table {
        let _ = write!(md, "| `{label}` |");
        for cells in row {
            let text: Vec<&str> = cells.iter().map(|c| c.label()).collect();
            let _ = write!(md, " {} |", text.join(" / "));
        }
        md.push('\n');
    }
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/authorization.md");
    std::fs::write(&path, md).unwrap();
}
