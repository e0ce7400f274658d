//! Authorisation of the organisation endpoints: the only place that knows who may do what.
//!
//! A [`Caller`] is the session's user with their membership, company and (for a technician)
//! assigned customers. Handlers ask it for a company and what they need to do there
//! ([`Need`]); the answer is the company record, or:
//!
//! - `404 not_found` when the company is outside the caller's reach, exactly as for a company
//!   that does not exist (a user of one customer learns nothing about another);
//! - `403 forbidden` when the caller can see the company but their role does not allow it;
//! - `403 account_disabled` when the caller's membership or company is disabled.
//!
//! Reach: a member sees their own company; a partner admin also sees every customer of the
//! partner; a partner technician also sees the customers assigned to them. Role powers need a
//! confirmed membership (an accepted member waiting for confirmation is treated as a user).
//!
//! Handlers call this before they read the request body (bodies are extracted as
//! `Result<ApiJson<T>, ApiError>` and only unwrapped afterwards), so a caller without access
//! learns nothing from validation errors.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::StatusCode;
use castellan_store::{
    CompanyKind, CompanyRecord, CompanyStatus, MemberRecord, MemberStatus, Role, Store, UserRecord,
};
use castellan_types::ErrorCode;
use uuid::Uuid;

use crate::error::{ApiError, ApiResult};
use crate::extract::{ClientAddr, Session};
use crate::Shared;

/// What the caller wants to do with a company.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Need {
    /// Read the company's summary: its company admins, and its own members unless the policy
    /// "restrict portal access" is on.
    ReadSummary,
    /// Administer the company (members, invitations, groups, policy, audit): its admins, the
    /// admins of its partner, technicians of its partner assigned to it.
    Administer,
    /// Change what only the partner decides for a customer (subscription, status): an admin of
    /// the customer's partner.
    PartnerOfCustomer,
    /// Act as one of the company's people (create a share in it, sign its access list with
    /// one's identity key): a confirmed member of the company, whatever their role.
    Member,
    /// See the company's directory of confirmed members and groups (to share with them): its
    /// confirmed members and its administrators.
    Directory,
}

/// What the caller wants to do with a partner (`/partners/{pid}/...`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PartnerNeed {
    /// Partner admins and technicians (technicians see only their assigned customers).
    Staff,
    /// Partner admins only (new customers, policy templates, technician assignments).
    Admin,
}

/// How the caller relates to a company they can see.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Relation {
    /// A member of the company, with their role (`None`: accepted, not confirmed yet).
    Member(Option<Role>),
    /// An admin of the company's partner.
    PartnerAdmin,
    /// A technician of the company's partner, assigned to it.
    AssignedTechnician,
}

impl Relation {
    /// Company admins: its confirmed admins, partner admins, assigned technicians.
    pub(crate) fn administers(self) -> bool {
        matches!(
            self,
            Relation::Member(Some(Role::Admin))
                | Relation::PartnerAdmin
                | Relation::AssignedTechnician
        )
    }
}

/// The signed-in user and their place in the organisation.
pub(crate) struct Caller {
    pub user: UserRecord,
    pub member: Option<MemberRecord>,
    /// The caller's own company.
    pub company: Option<CompanyRecord>,
    /// For a confirmed technician: the customers assigned to them.
    pub assigned: Vec<Uuid>,
    pub addr: ClientAddr,
}

impl<S: Store> FromRequestParts<Shared<S>> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &Shared<S>,
    ) -> Result<Self, Self::Rejection> {
        let session = Session::from_request_parts(parts, state).await?;
        let addr = match ClientAddr::from_request_parts(parts, state).await {
            Ok(a) => a,
            Err(never) => match never {},
        };
        Caller::resolve(state, session, addr).await
    }
}

impl Caller {
    pub(crate) async fn resolve<S: Store>(
        state: &Shared<S>,
        session: Session,
        addr: ClientAddr,
    ) -> ApiResult<Caller> {
        let user = state
            .store
            .user_by_id(session.user_id)
            .await?
            .ok_or_else(ApiError::unauthorized)?;
        let member = state.store.membership_of(user.id).await?;
        let company = match &member {
            Some(m) => state.store.company(m.company_id).await?,
            None => None,
        };
        let assigned = match &member {
            Some(m) if m.role == Role::Technician && m.status == MemberStatus::Confirmed => {
                state.store.technician_customers(user.id).await?
            }
            _ => Vec::new(),
        };
        Ok(Caller {
            user,
            member,
            company,
            assigned,
            addr,
        })
    }

    pub(crate) fn user_id(&self) -> Uuid {
        self.user.id
    }

    /// A disabled member, or a member of a disabled company, may do nothing in the
    /// organisation (their sessions are also revoked when it happens).
    pub(crate) fn check_enabled(&self) -> ApiResult<()> {
        let disabled = self.member.as_ref().is_some_and(|m| m.disabled)
            || self
                .company
                .as_ref()
                .is_some_and(|c| c.status == CompanyStatus::Disabled);
        if disabled {
            return Err(account_disabled());
        }
        Ok(())
    }

    /// The confirmed role in the caller's own company (`None` while only accepted).
    fn confirmed_role(&self) -> Option<Role> {
        self.member
            .as_ref()
            .filter(|m| m.status == MemberStatus::Confirmed)
            .map(|m| m.role)
    }

    /// How the caller relates to `company`; `None` = out of reach.
    pub(crate) fn relation(&self, company: &CompanyRecord) -> Option<Relation> {
        let own = self.company.as_ref()?;
        if own.id == company.id {
            return Some(Relation::Member(self.confirmed_role()));
        }
        if own.kind != CompanyKind::Partner
            || company.kind != CompanyKind::Customer
            || company.partner_id != Some(own.id)
        {
            return None;
        }
        match self.confirmed_role() {
            Some(Role::Admin) => Some(Relation::PartnerAdmin),
            Some(Role::Technician) if self.assigned.contains(&company.id) => {
                Some(Relation::AssignedTechnician)
            }
            _ => None,
        }
    }

    /// Decides `need` on a company already loaded (for a second, stricter check in the same
    /// request, e.g. a status change inside a PATCH).
    pub(crate) fn check(&self, company: &CompanyRecord, need: Need) -> ApiResult<Relation> {
        self.check_enabled()?;
        let relation = self
            .relation(company)
            .ok_or_else(|| ApiError::not_found("company"))?;
        let allowed = match need {
            Need::ReadSummary => match relation {
                Relation::Member(_) if !relation.administers() => {
                    !crate::routes::company_policy(company).restrict_portal_access
                }
                _ => true,
            },
            Need::Administer => relation.administers(),
            Need::PartnerOfCustomer => relation == Relation::PartnerAdmin,
            Need::Member => matches!(relation, Relation::Member(Some(_))),
            Need::Directory => {
                matches!(relation, Relation::Member(Some(_))) || relation.administers()
            }
        };
        if !allowed {
            return Err(forbidden(match need {
                Need::ReadSummary => {
                    "only administrators may open this company's pages (restrict portal access)"
                }
                Need::Administer => "only administrators of this company may do this",
                Need::PartnerOfCustomer => "only an administrator of the partner may do this",
                Need::Member => "only confirmed members of this company may do this",
                Need::Directory => {
                    "only confirmed members and administrators of this company may see its directory"
                }
            }));
        }
        Ok(relation)
    }

    /// Loads the company `id` and decides `need`.
    pub(crate) async fn company<S: Store>(
        &self,
        state: &Shared<S>,
        id: Uuid,
        need: Need,
    ) -> ApiResult<(CompanyRecord, Relation)> {
        self.check_enabled()?;
        // Whether it exists is only looked up for a caller who could reach it: the answer for
        // an unknown id and for someone else's company is the same.
        let company = state
            .store
            .company(id)
            .await?
            .ok_or_else(|| ApiError::not_found("company"))?;
        let relation = self.check(&company, need)?;
        Ok((company, relation))
    }

    /// Loads the partner `id` (the caller's own company, which must be a partner) and decides
    /// `need`.
    pub(crate) fn partner(&self, id: Uuid, need: PartnerNeed) -> ApiResult<CompanyRecord> {
        self.check_enabled()?;
        let own = self
            .company
            .as_ref()
            .filter(|c| c.id == id && c.kind == CompanyKind::Partner)
            .ok_or_else(|| ApiError::not_found("partner"))?;
        let allowed = matches!(
            (need, self.confirmed_role()),
            (PartnerNeed::Staff, Some(Role::Admin | Role::Technician))
                | (PartnerNeed::Admin, Some(Role::Admin))
        );
        if !allowed {
            return Err(forbidden(match need {
                PartnerNeed::Staff => {
                    "only the partner's administrators and technicians may do this"
                }
                PartnerNeed::Admin => "only an administrator of the partner may do this",
            }));
        }
        Ok(own.clone())
    }

    /// For `/me/...` endpoints that need a membership: the caller's (enabled) membership and
    /// company.
    pub(crate) fn own_membership(&self) -> ApiResult<(&MemberRecord, &CompanyRecord)> {
        self.check_enabled()?;
        match (&self.member, &self.company) {
            (Some(m), Some(c)) => Ok((m, c)),
            _ => Err(forbidden("only members of a company may do this")),
        }
    }

    /// Customers the caller administers (partner admin: all; technician: assigned).
    pub(crate) fn managed_customers(&self, all_customers: &[CompanyRecord]) -> Vec<Uuid> {
        all_customers
            .iter()
            .filter(|c| {
                matches!(
                    self.relation(c),
                    Some(Relation::PartnerAdmin | Relation::AssignedTechnician)
                )
            })
            .map(|c| c.id)
            .collect()
    }

    /// Whether the caller is a confirmed admin of a partner (whose customers they all manage).
    pub(crate) fn partner_of_managed(&self) -> Option<&CompanyRecord> {
        let own = self.company.as_ref()?;
        (own.kind == CompanyKind::Partner
            && matches!(self.confirmed_role(), Some(Role::Admin | Role::Technician)))
        .then_some(own)
    }
}

pub(crate) fn forbidden(message: &str) -> ApiError {
    ApiError::new(StatusCode::FORBIDDEN, ErrorCode::Forbidden, message)
}

pub(crate) fn account_disabled() -> ApiError {
    ApiError::new(
        StatusCode::FORBIDDEN,
        ErrorCode::AccountDisabled,
        "this account or its company is disabled; ask an administrator",
    )
}
