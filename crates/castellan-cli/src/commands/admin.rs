//! `castellan admin …`, `castellan join` and `castellan 2fa …`.

use anyhow::Result;
use castellan_client::api::{ApiClient, AuditFilter};
use castellan_client::org::admin::{self, ConfirmIntent, OrgSession};
use castellan_client::org::{fingerprint_display, InviteLink, PublicKeys};
use castellan_client::ClientError;
use castellan_types::*;
use serde_json::json;

use super::Ctx;
use crate::cli::{
    AdminCommand, AdminShareCommand, AuditArgs, AuditFormat, CustomerCommand, GroupCommand,
    PartnerCommand, PlanArg, PolicyCommand, PolicyFlags, RoleArg, SubscriptionCommand,
    TechnicianCommand, TemplateCommand, TwoFactorCommand, UserCommand,
};
use crate::output::{fmt_time, print_json};
use crate::prompt;

fn plan(p: PlanArg) -> PlanDto {
    match p {
        PlanArg::Trial => PlanDto::Trial,
        PlanArg::Standard => PlanDto::Standard,
        PlanArg::Advanced => PlanDto::Advanced,
    }
}

fn role(r: RoleArg) -> RoleDto {
    match r {
        RoleArg::Admin => RoleDto::Admin,
        RoleArg::User => RoleDto::User,
        RoleArg::Technician => RoleDto::Technician,
    }
}

pub(crate) fn lower<T: serde::Serialize>(v: T) -> String {
    serde_json::to_value(v)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}

fn warn_all(warnings: &[String]) {
    for w in warnings {
        eprintln!("warning: {w}");
    }
}

async fn org(ctx: &Ctx) -> Result<OrgSession> {
    let account = ctx.account().await?;
    let s = OrgSession::open(&ctx.home, account).await?;
    warn_all(&s.warnings);
    Ok(s)
}

/// Asks before a destructive action; `--yes` skips the question, and without a terminal it is
/// required.
fn confirm_destructive(yes: bool, question: &str) -> Result<()> {
    if yes {
        return Ok(());
    }
    if !prompt::interactive() {
        return Err(ClientError::Invalid(format!(
            "{question}: refusing without a terminal; pass --yes"
        ))
        .into());
    }
    if !prompt::confirm(&format!("{question}?"))? {
        anyhow::bail!("cancelled; nothing was changed");
    }
    Ok(())
}

fn company_json(c: &CompanyDto) -> serde_json::Value {
    let fp = PublicKeys::from_company(&c.keys)
        .map(|k| fingerprint_display(&k.fingerprint()))
        .unwrap_or_default();
    json!({
        "id": c.id,
        "kind": lower(c.kind),
        "partner_id": c.partner_id,
        "name": c.name,
        "status": lower(c.status),
        "plan": lower(c.plan),
        "seats": c.seats,
        "seats_used": c.seats_used,
        "trial_ends_at": c.trial_ends_at,
        "created_at": c.created_at,
        "fingerprint": fp,
    })
}

fn print_company(ctx: &Ctx, c: &CompanyDto) {
    let v = company_json(c);
    if ctx.json {
        print_json(&v);
    } else {
        println!("{} ({})", c.name, c.id);
        println!("  kind:        {}", v["kind"].as_str().unwrap_or(""));
        println!("  status:      {}", v["status"].as_str().unwrap_or(""));
        println!("  plan:        {}", v["plan"].as_str().unwrap_or(""));
        println!(
            "  seats:       {} used of {}",
            c.seats_used,
            c.seats
                .map(|s| s.to_string())
                .unwrap_or_else(|| "unlimited".into())
        );
        if let Some(t) = c.trial_ends_at {
            println!("  trial ends:  {}", fmt_time(t));
        }
        println!("  fingerprint: {}", v["fingerprint"].as_str().unwrap_or(""));
    }
}

fn done(ctx: &Ctx, v: serde_json::Value, text: impl std::fmt::Display) {
    if ctx.json {
        print_json(&v);
    } else {
        println!("{text}");
    }
}

pub async fn run(ctx: &Ctx, cmd: AdminCommand) -> Result<()> {
    match cmd {
        AdminCommand::Setup { token, name } => {
            let account = ctx.account().await?;
            let c = admin::setup(&ctx.home, &account, &token, &name).await?;
            done(
                ctx,
                serde_json::to_value(&c)?,
                format!(
                    "Partner {} created ({}); you are its admin.\nCompany key fingerprint: {}",
                    c.name, c.id, c.fingerprint
                ),
            );
            Ok(())
        }
        AdminCommand::Partner(PartnerCommand::Show) => {
            let s = org(ctx).await?;
            let c = s.my_company()?;
            let partner = if c.kind == CompanyKindDto::Partner {
                c.clone()
            } else {
                s.membership
                    .partner
                    .clone()
                    .ok_or_else(|| ClientError::NotFound("your company has no partner".into()))?
            };
            if ctx.json {
                let mut v = company_json(&partner);
                v["role"] = json!(s.my_role().map(lower));
                v["managed_customers"] = json!(s.membership.managed_customers);
                print_json(&v);
            } else {
                print_company(ctx, &partner);
                if let Some(r) = s.my_role() {
                    println!("  your role:   {}", lower(r));
                }
            }
            Ok(())
        }
        AdminCommand::Customer(c) => customer(ctx, c).await,
        AdminCommand::Subscription(c) => subscription(ctx, c).await,
        AdminCommand::User(c) => user(ctx, c).await,
        AdminCommand::Technician(c) => technician(ctx, c).await,
        AdminCommand::Group(c) => group(ctx, c).await,
        AdminCommand::Policy(c) => policy(ctx, c).await,
        AdminCommand::Audit(a) => audit(ctx, a).await,
        AdminCommand::Share(c) => admin_share(ctx, c).await,
    }
}

async fn customer(ctx: &Ctx, cmd: CustomerCommand) -> Result<()> {
    let s = org(ctx).await?;
    match cmd {
        CustomerCommand::Create {
            name,
            plan: p,
            seats,
        } => {
            if seats < 1 {
                return Err(ClientError::Invalid("--seats must be at least 1".into()).into());
            }
            let c = s.create_customer(&name, plan(p), seats).await?;
            done(
                ctx,
                serde_json::to_value(&c)?,
                format!(
                    "Customer {} created ({}).\nCompany key fingerprint: {}",
                    c.name, c.id, c.fingerprint
                ),
            );
        }
        CustomerCommand::List => {
            let partner = s.partner_id()?;
            let list = s.api.customers(partner).await?.companies;
            if ctx.json {
                print_json(&json!(list.iter().map(company_json).collect::<Vec<_>>()));
            } else {
                for c in &list {
                    println!(
                        "{}  {:<30} {:<9} {:<8} {}/{}",
                        c.id,
                        c.name,
                        lower(c.plan),
                        lower(c.status),
                        c.seats_used,
                        c.seats.map(|x| x.to_string()).unwrap_or_else(|| "-".into())
                    );
                }
            }
        }
        CustomerCommand::Show { company } => {
            let c = s.resolve_company(Some(&company)).await?;
            print_company(ctx, &c);
        }
        CustomerCommand::Rename { company, name } => {
            let c = s.resolve_company(Some(&company)).await?;
            s.api
                .update_company(
                    c.id,
                    &UpdateCompanyRequest {
                        name: Some(name.trim().to_string()),
                        status: None,
                    },
                )
                .await?;
            done(
                ctx,
                json!({"id": c.id, "name": name.trim()}),
                format!("Renamed {} to {}.", c.name, name.trim()),
            );
        }
        CustomerCommand::Disable { company } => set_status(ctx, &s, &company, false).await?,
        CustomerCommand::Enable { company } => set_status(ctx, &s, &company, true).await?,
    }
    Ok(())
}

async fn set_status(ctx: &Ctx, s: &OrgSession, company: &str, active: bool) -> Result<()> {
    let c = s.resolve_company(Some(company)).await?;
    let status = if active {
        CompanyStatusDto::Active
    } else {
        CompanyStatusDto::Disabled
    };
    s.api
        .update_company(
            c.id,
            &UpdateCompanyRequest {
                name: None,
                status: Some(status),
            },
        )
        .await?;
    done(
        ctx,
        json!({"id": c.id, "status": lower(status)}),
        format!("{} is {}.", c.name, lower(status)),
    );
    Ok(())
}

async fn subscription(ctx: &Ctx, cmd: SubscriptionCommand) -> Result<()> {
    let s = org(ctx).await?;
    match cmd {
        SubscriptionCommand::Set {
            company,
            plan: p,
            seats,
        } => {
            if seats < 1 {
                return Err(ClientError::Invalid("--seats must be at least 1".into()).into());
            }
            let c = s.resolve_company(Some(&company)).await?;
            s.api
                .set_subscription(
                    c.id,
                    &SubscriptionRequest {
                        plan: plan(p),
                        seats,
                        trial_ends_at: None,
                    },
                )
                .await?;
            let c = s.api.company(c.id).await?;
            if ctx.json {
                print_json(&company_json(&c));
            } else {
                println!(
                    "{}: {} plan, {} seats.",
                    c.name,
                    lower(c.plan),
                    c.seats
                        .map(|x| x.to_string())
                        .unwrap_or_else(|| "unlimited".into())
                );
            }
        }
        SubscriptionCommand::Show { company } => {
            let c = s.resolve_company(company.as_deref()).await?;
            if ctx.json {
                print_json(&json!({
                    "company_id": c.id, "name": c.name, "plan": lower(c.plan), "seats": c.seats,
                    "seats_used": c.seats_used, "trial_ends_at": c.trial_ends_at,
                }));
            } else {
                print_company(ctx, &c);
            }
        }
    }
    Ok(())
}

async fn user(ctx: &Ctx, cmd: UserCommand) -> Result<()> {
    let s = org(ctx).await?;
    match cmd {
        UserCommand::Invite {
            email,
            role: r,
            company,
        } => {
            let c = s.resolve_company(company.as_deref()).await?;
            let inv = s.invite(&c, &email, role(r)).await?;
            if ctx.json {
                let mut v = serde_json::to_value(&inv)?;
                v["link"] = json!(inv.link.expose());
                print_json(&v);
            } else {
                println!(
                    "Invited {} to {} as {}.",
                    inv.email,
                    c.name,
                    lower(inv.role)
                );
                if inv.mailed {
                    println!("The invitation was mailed. The link is also:");
                } else {
                    println!("Pass this link on (it was not mailed):");
                }
                println!("  {}", inv.link.expose());
                println!(
                    "Company key fingerprint (tell the invitee to compare): {}",
                    inv.fingerprint
                );
                println!("The link expires {}.", fmt_time(inv.expires_at));
            }
        }
        UserCommand::List { company } => {
            let c = s.resolve_company(company.as_deref()).await?;
            let list = s.members(c.id).await?;
            if ctx.json {
                print_json(&serde_json::to_value(&list)?);
            } else {
                for m in &list {
                    println!(
                        "{:<32} {:<10} {:<9}{}{}{}",
                        m.email,
                        lower(m.role),
                        lower(m.status),
                        if m.disabled { " disabled" } else { "" },
                        if m.status == MemberStatusDto::Confirmed && !m.certified {
                            " UNVERIFIED-CERTIFICATE"
                        } else {
                            ""
                        },
                        if m.two_factor_enabled { " 2fa" } else { "" },
                    );
                }
            }
        }
        UserCommand::Invitations { company } => {
            let c = s.resolve_company(company.as_deref()).await?;
            let list = s.invitations(c.id).await?;
            if ctx.json {
                print_json(&json!(list
                    .iter()
                    .map(|i| json!({
                        "id": i.id, "email": i.email, "role": lower(i.role), "state": lower(i.state),
                        "created_at": i.created_at, "expires_at": i.expires_at,
                    }))
                    .collect::<Vec<_>>()));
            } else {
                for i in &list {
                    println!(
                        "{}  {:<32} {:<10} {:<8} expires {}",
                        i.id,
                        i.email,
                        lower(i.role),
                        lower(i.state),
                        fmt_time(i.expires_at)
                    );
                }
            }
        }
        UserCommand::RevokeInvite { email, company } => {
            let c = s.resolve_company(company.as_deref()).await?;
            let id = s.revoke_invitation(c.id, &email).await?;
            done(
                ctx,
                json!({"revoked": id}),
                format!("Invitation {id} revoked."),
            );
        }
        UserCommand::Confirm {
            email,
            company,
            yes,
        } => {
            let c = s.resolve_company(company.as_deref()).await?;
            if !yes && !prompt::interactive() {
                return Err(ClientError::Invalid(
                    "confirming a member needs a human: run on a terminal, or pass --yes after checking their key fingerprint (`castellan admin user list`)".into(),
                )
                .into());
            }
            let preview = s.prepare_confirm(&c, &email).await?;
            if !ctx.json || !yes {
                eprintln!(
                    "Confirm {} as {} of {}.\nTheir key fingerprint: {}\nCompare it with the fingerprint {} sees in `castellan status`, over a channel you trust.",
                    preview.email,
                    lower(preview.role),
                    c.name,
                    preview.fingerprint,
                    preview.email
                );
            }
            if !yes && !prompt::confirm("Does the fingerprint match, and confirm this member?")? {
                anyhow::bail!("not confirmed; nothing was changed");
            }
            let intent = ConfirmIntent::human_confirmed(&preview);
            s.confirm(&preview, intent).await?;
            done(
                ctx,
                json!({"confirmed": preview.user_id, "email": preview.email, "role": lower(preview.role), "fingerprint": preview.fingerprint}),
                format!("{} is confirmed as {}.", preview.email, lower(preview.role)),
            );
        }
        UserCommand::Disable { email, company } => {
            member_update(
                ctx,
                &s,
                company,
                &email,
                UpdateMemberRequest {
                    disabled: Some(true),
                    ..Default::default()
                },
                "disabled",
            )
            .await?;
        }
        UserCommand::Enable { email, company } => {
            member_update(
                ctx,
                &s,
                company,
                &email,
                UpdateMemberRequest {
                    disabled: Some(false),
                    ..Default::default()
                },
                "enabled",
            )
            .await?;
        }
        UserCommand::SetRole {
            email,
            role: r,
            company,
        } => {
            let c = s.resolve_company(company.as_deref()).await?;
            let id = s.set_role(c.id, &email, role(r)).await?;
            let r = role(r);
            done(
                ctx,
                json!({"user_id": id, "email": email, "company_id": c.id, "role": r}),
                format!("{email} is now {} of {}.", lower(r), c.name),
            );
        }
        UserCommand::RequirePasswordChange { email, company } => {
            member_update(
                ctx,
                &s,
                company,
                &email,
                UpdateMemberRequest {
                    require_password_change: Some(true),
                    ..Default::default()
                },
                "required to change their master password",
            )
            .await?;
        }
        UserCommand::Remove {
            email,
            company,
            yes,
        } => {
            let c = s.resolve_company(company.as_deref()).await?;
            confirm_destructive(yes, &format!("Remove {email} from {}", c.name))?;
            let (id, warnings) = s.remove_member(c.id, &email).await?;
            warn_all(&warnings);
            done(
                ctx,
                json!({"removed": id, "email": email}),
                format!("{email} was removed from {}.", c.name),
            );
        }
        UserCommand::Delete {
            email,
            company,
            yes,
        } => {
            let c = s.resolve_company(company.as_deref()).await?;
            confirm_destructive(
                yes,
                &format!("Delete the account of {email} and all its data"),
            )?;
            let (id, warnings) = s.delete_member(c.id, &email).await?;
            warn_all(&warnings);
            done(
                ctx,
                json!({"deleted": id, "email": email}),
                format!("The account of {email} was deleted."),
            );
        }
        UserCommand::Reset {
            email,
            company,
            yes,
        } => {
            let c = s.resolve_company(company.as_deref()).await?;
            confirm_destructive(
                yes,
                &format!(
                    "Reset {email}: delete the account and all its data, and invite them again"
                ),
            )?;
            let (id, inv, warnings) = s.reset_member(&c, &email).await?;
            warn_all(&warnings);
            if ctx.json {
                let mut v = serde_json::to_value(&inv)?;
                v["reset"] = json!(id);
                v["link"] = json!(inv.link.expose());
                print_json(&v);
            } else {
                println!(
                    "The account of {email} was deleted; a new invitation as {}:",
                    lower(inv.role)
                );
                println!("  {}", inv.link.expose());
                println!("Company key fingerprint: {}", inv.fingerprint);
            }
        }
    }
    Ok(())
}

async fn member_update(
    ctx: &Ctx,
    s: &OrgSession,
    company: Option<String>,
    email: &str,
    req: UpdateMemberRequest,
    what: &str,
) -> Result<()> {
    let c = s.resolve_company(company.as_deref()).await?;
    let id = s.update_member(c.id, email, &req).await?;
    let mut v = json!({"user_id": id, "email": email});
    if let Some(d) = req.disabled {
        v["disabled"] = json!(d);
    }
    if let Some(r) = req.require_password_change {
        v["require_password_change"] = json!(r);
    }
    done(ctx, v, format!("{email} is {what}."));
    Ok(())
}

async fn technician(ctx: &Ctx, cmd: TechnicianCommand) -> Result<()> {
    let s = org(ctx).await?;
    match cmd {
        TechnicianCommand::Assign { email, company } => {
            let c = s.resolve_company(Some(&company)).await?;
            let id = s.assign_technician(&email, &c).await?;
            done(
                ctx,
                json!({"technician": id, "company_id": c.id, "assigned": true}),
                format!("{email} now administers {}.", c.name),
            );
        }
        TechnicianCommand::Unassign { email, company } => {
            let c = s.resolve_company(Some(&company)).await?;
            let id = s.unassign_technician(&email, &c).await?;
            done(
                ctx,
                json!({"technician": id, "company_id": c.id, "assigned": false}),
                format!("{email} no longer administers {}.", c.name),
            );
        }
        TechnicianCommand::List { email } => {
            let (id, customers) = s.technician_customers(&email).await?;
            let all = s.companies().await?;
            let named: Vec<_> = customers
                .iter()
                .map(|c| {
                    json!({"id": c, "name": all.iter().find(|x| x.id == *c).map(|x| x.name.clone())})
                })
                .collect();
            if ctx.json {
                print_json(&json!({"technician": id, "customers": named}));
            } else {
                for n in &named {
                    println!(
                        "{}  {}",
                        n["id"].as_str().unwrap_or(""),
                        n["name"].as_str().unwrap_or("")
                    );
                }
            }
        }
    }
    Ok(())
}

async fn group(ctx: &Ctx, cmd: GroupCommand) -> Result<()> {
    let s = org(ctx).await?;
    match cmd {
        GroupCommand::Create {
            name,
            members,
            company,
        } => {
            let c = s.resolve_company(company.as_deref()).await?;
            let id = s.create_group(c.id, &name, &members).await?;
            done(
                ctx,
                json!({"id": id, "name": name.trim(), "members": members}),
                format!("Group {} created ({id}).", name.trim()),
            );
        }
        GroupCommand::List { company } => {
            let c = s.resolve_company(company.as_deref()).await?;
            let list = s.groups(c.id).await?;
            if ctx.json {
                print_json(&serde_json::to_value(&list)?);
            } else {
                for g in &list {
                    let n = g.members.len();
                    println!(
                        "{}  {} ({n} member{}): {}",
                        g.id,
                        g.name,
                        if n == 1 { "" } else { "s" },
                        g.members.join(", ")
                    );
                }
            }
        }
        GroupCommand::Rename {
            group,
            name,
            company,
        } => {
            let c = s.resolve_company(company.as_deref()).await?;
            let id = s
                .change_group(c.id, &group, Some(name.trim()), &[], &[])
                .await?;
            done(
                ctx,
                json!({"id": id, "name": name.trim()}),
                format!("Group renamed to {}.", name.trim()),
            );
        }
        GroupCommand::Rm {
            group,
            company,
            yes,
        } => {
            let c = s.resolve_company(company.as_deref()).await?;
            confirm_destructive(yes, &format!("Delete the group {group}"))?;
            let id = s.delete_group(c.id, &group).await?;
            done(
                ctx,
                json!({"deleted": id}),
                format!("Group {group} deleted."),
            );
        }
        GroupCommand::AddMember {
            group,
            email,
            company,
        } => {
            let c = s.resolve_company(company.as_deref()).await?;
            let id = s
                .change_group(c.id, &group, None, std::slice::from_ref(&email), &[])
                .await?;
            done(
                ctx,
                json!({"id": id, "added": email}),
                format!("{email} added to {group}."),
            );
        }
        GroupCommand::RemoveMember {
            group,
            email,
            company,
        } => {
            let c = s.resolve_company(company.as_deref()).await?;
            let id = s
                .change_group(c.id, &group, None, &[], std::slice::from_ref(&email))
                .await?;
            done(
                ctx,
                json!({"id": id, "removed": email}),
                format!("{email} removed from {group}."),
            );
        }
    }
    Ok(())
}

fn list(v: &str) -> Vec<String> {
    v.split(',')
        .map(|x| x.trim().to_lowercase())
        .filter(|x| !x.is_empty())
        .collect()
}

/// Applies the given flags to a policy set.
pub fn apply_flags(f: &PolicyFlags, p: &mut PolicySet) {
    if let Some(v) = f.require_2fa {
        p.require_two_factor = v.on();
    }
    let touches_mp = f.mp_min_length.is_some()
        || f.mp_require_upper.is_some()
        || f.mp_require_lower.is_some()
        || f.mp_require_digits.is_some()
        || f.mp_require_symbols.is_some()
        || f.mp_max_age_days.is_some();
    if touches_mp {
        let mut mp = p.master_password.clone().unwrap_or(MasterPasswordPolicy {
            min_length: 8,
            require_uppercase: false,
            require_lowercase: false,
            require_digits: false,
            require_symbols: false,
            max_age_days: None,
        });
        if let Some(n) = f.mp_min_length {
            mp.min_length = n;
        }
        if let Some(v) = f.mp_require_upper {
            mp.require_uppercase = v.on();
        }
        if let Some(v) = f.mp_require_lower {
            mp.require_lowercase = v.on();
        }
        if let Some(v) = f.mp_require_digits {
            mp.require_digits = v.on();
        }
        if let Some(v) = f.mp_require_symbols {
            mp.require_symbols = v.on();
        }
        if let Some(d) = f.mp_max_age_days {
            mp.max_age_days = (d > 0).then_some(d);
        }
        let off = f.mp_min_length == Some(0)
            && !mp.require_uppercase
            && !mp.require_lowercase
            && !mp.require_digits
            && !mp.require_symbols
            && mp.max_age_days.is_none();
        p.master_password = (!off).then_some(mp);
    }
    if let Some(m) = f.max_vault_timeout {
        p.max_vault_timeout_minutes = (m > 0).then_some(m);
    }
    if let Some(v) = f.remove_business_items {
        p.remove_business_items_on_removal = v.on();
    }
    if let Some(v) = f.restrict_portal {
        p.restrict_portal_access = v.on();
    }
    if let Some(v) = &f.restrict_sharing_domains {
        p.restrict_sharing_domains = list(v);
    }
    if let Some(v) = f.password_auditing {
        p.password_auditing = v.on();
    }
    if let Some(v) = &f.force_business_domains {
        p.force_business_domains = list(v);
    }
    if let Some(v) = &f.notify {
        p.user_change_notifications = list(v);
    }
    if let Some(v) = f.disable_personal_export {
        p.disable_personal_export = v.on();
    }
    if let Some(n) = f.generator_min_length {
        p.password_generator = (n > 0).then_some(GeneratorPolicy {
            min_length: n,
            require_uppercase: false,
            require_lowercase: false,
            require_digits: false,
            require_symbols: false,
        });
    }
}

fn on(b: bool) -> &'static str {
    if b {
        "on"
    } else {
        "off"
    }
}

fn print_policy(ctx: &Ctx, company: &CompanyDto, counter: i64, p: &PolicySet) {
    if ctx.json {
        print_json(&json!({"company_id": company.id, "counter": counter, "policies": p}));
        return;
    }
    println!(
        "Policies of {} (document #{counter}, verified):",
        company.name
    );
    println!(
        "  require two-step verification: {}",
        on(p.require_two_factor)
    );
    match &p.master_password {
        Some(mp) => println!(
            "  master password: at least {} characters{}{}{}{}{}",
            mp.min_length,
            if mp.require_uppercase {
                ", uppercase"
            } else {
                ""
            },
            if mp.require_lowercase {
                ", lowercase"
            } else {
                ""
            },
            if mp.require_digits { ", digits" } else { "" },
            if mp.require_symbols { ", symbols" } else { "" },
            mp.max_age_days
                .map(|d| format!(", change every {d} days"))
                .unwrap_or_default()
        ),
        None => println!("  master password: no company rule"),
    }
    println!(
        "  max vault timeout: {}",
        p.max_vault_timeout_minutes
            .map(|m| format!("{m} min"))
            .unwrap_or_else(|| "none".into())
    );
    println!(
        "  remove business items on removal: {}",
        on(p.remove_business_items_on_removal)
    );
    println!("  restrict portal access: {}", on(p.restrict_portal_access));
    println!(
        "  restrict sharing domains: {}",
        if p.restrict_sharing_domains.is_empty() {
            "off".into()
        } else {
            p.restrict_sharing_domains.join(", ")
        }
    );
    println!("  password auditing: {}", on(p.password_auditing));
    println!(
        "  force business domains: {}",
        if p.force_business_domains.is_empty() {
            "none".into()
        } else {
            p.force_business_domains.join(", ")
        }
    );
    println!(
        "  notify on user changes: {}",
        if p.user_change_notifications.is_empty() {
            "none".into()
        } else {
            p.user_change_notifications.join(", ")
        }
    );
    println!(
        "  disable personal export: {}",
        on(p.disable_personal_export)
    );
    println!(
        "  generator minimum length: {}",
        p.password_generator
            .as_ref()
            .map(|g| g.min_length.to_string())
            .unwrap_or_else(|| "none".into())
    );
}

async fn policy(ctx: &Ctx, cmd: PolicyCommand) -> Result<()> {
    let s = org(ctx).await?;
    match cmd {
        PolicyCommand::Show { company } => {
            let c = s.resolve_company(company.as_deref()).await?;
            let eff = s.policy(c.id).await?;
            warn_all(&eff.warnings);
            print_policy(ctx, &c, eff.counter, &eff.policies);
        }
        PolicyCommand::Set { company, flags } => {
            let c = s.resolve_company(company.as_deref()).await?;
            let eff = s.set_policy(c.id, |p| apply_flags(&flags, p)).await?;
            warn_all(&eff.warnings);
            print_policy(ctx, &c, eff.counter, &eff.policies);
        }
        PolicyCommand::Template(t) => template(ctx, &s, t).await?,
    }
    Ok(())
}

async fn template(ctx: &Ctx, s: &OrgSession, cmd: TemplateCommand) -> Result<()> {
    match cmd {
        TemplateCommand::Create { name, flags } => {
            if name.trim().is_empty() {
                return Err(
                    ClientError::Invalid("the template name cannot be empty".into()).into(),
                );
            }
            let mut p = PolicySet::default();
            apply_flags(&flags, &mut p);
            let id = s.put_template(&name, p.clone()).await?;
            done(
                ctx,
                json!({"id": id, "name": name.trim(), "policies": p}),
                format!("Template {} created ({id}).", name.trim()),
            );
        }
        TemplateCommand::List => {
            let list = s.templates().await?;
            if ctx.json {
                print_json(&serde_json::to_value(&list)?);
            } else {
                for t in &list {
                    println!("{}  {}", t.id, t.name);
                }
            }
        }
        TemplateCommand::Rm { template } => {
            let id = s.delete_template(&template).await?;
            done(
                ctx,
                json!({"deleted": id}),
                format!("Template {template} deleted."),
            );
        }
        TemplateCommand::Apply {
            template,
            companies,
            all,
        } => {
            let t = s.template(&template).await?;
            let targets: Vec<CompanyDto> = if all {
                s.api.customers(s.partner_id()?).await?.companies
            } else {
                if companies.is_empty() {
                    return Err(
                        ClientError::Invalid("give --companies C1,C2 or --all".into()).into(),
                    );
                }
                let mut v = Vec::new();
                for c in &companies {
                    v.push(s.resolve_company(Some(c)).await?);
                }
                v
            };
            let mut results = Vec::new();
            let mut failed = 0;
            for c in &targets {
                let policies = t.policies.clone();
                // A company's backup key is its own (made by its admin): a template never
                // replaces or clears it.
                let apply = move |p: &mut castellan_types::PolicySet| {
                    let backup = p.org_backup.take();
                    *p = policies;
                    p.org_backup = backup;
                };
                match s.set_policy(c.id, apply).await {
                    Ok(eff) => {
                        results.push(json!({"company_id": c.id, "name": c.name, "counter": eff.counter, "applied": true}));
                        if !ctx.json {
                            println!("{}: applied (policy #{})", c.name, eff.counter);
                        }
                    }
                    Err(e) => {
                        failed += 1;
                        if !ctx.json {
                            println!("{}: FAILED: {e}", c.name);
                        }
                        results.push(json!({"company_id": c.id, "name": c.name, "applied": false, "error": e.to_string()}));
                    }
                }
            }
            if ctx.json {
                print_json(&json!({"template": t.id, "results": results}));
            }
            if failed > 0 {
                anyhow::bail!(
                    "the template could not be applied to {failed} of {} companies",
                    targets.len()
                );
            }
        }
    }
    Ok(())
}

fn parse_time(v: &str) -> Result<i64> {
    if let Ok(n) = v.trim().parse::<i64>() {
        return Ok(n);
    }
    time::OffsetDateTime::parse(v.trim(), &time::format_description::well_known::Rfc3339)
        .map(|t| t.unix_timestamp())
        .map_err(|_| {
            ClientError::Invalid(format!(
                "{v:?} is not a time (RFC 3339, e.g. 2026-01-31T12:00:00Z, or Unix seconds)"
            ))
            .into()
        })
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

async fn audit(ctx: &Ctx, a: AuditArgs) -> Result<()> {
    let s = org(ctx).await?;
    let c = s.resolve_company(a.company.as_deref()).await?;
    let filter = AuditFilter {
        user: a.user.clone(),
        event_prefix: a.event_type.clone(),
        since: a.since.as_deref().map(parse_time).transpose()?,
        until: a.until.as_deref().map(parse_time).transpose()?,
        before: None,
        limit: Some(a.limit.clamp(1, 1000) as u32),
    };
    let events = s.audit(c.id, &filter, a.limit).await?;
    let format = a.format.or(if ctx.json {
        Some(AuditFormat::Json)
    } else {
        None
    });
    let text = match format {
        Some(AuditFormat::Json) => serde_json::to_string_pretty(&events)? + "\n",
        Some(AuditFormat::Csv) => {
            let mut out = String::from("seq,at,time,company_id,actor_id,actor_email,target_user_id,target_email,event,details,ip\n");
            for e in &events {
                let row = [
                    e.seq.to_string(),
                    e.at.to_string(),
                    fmt_time(e.at),
                    e.company_id.map(|x| x.to_string()).unwrap_or_default(),
                    e.actor_id.map(|x| x.to_string()).unwrap_or_default(),
                    e.actor_email.clone().unwrap_or_default(),
                    e.target_user_id.map(|x| x.to_string()).unwrap_or_default(),
                    e.target_email.clone().unwrap_or_default(),
                    e.event.clone(),
                    e.details.to_string(),
                    e.ip.clone().unwrap_or_default(),
                ];
                out.push_str(
                    &row.iter()
                        .map(|f| csv_field(f))
                        .collect::<Vec<_>>()
                        .join(","),
                );
                out.push('\n');
            }
            out
        }
        None => {
            let mut out = String::new();
            for e in &events {
                out.push_str(&format!(
                    "{}  {:<24} {:<28} {}\n",
                    fmt_time(e.at),
                    e.event,
                    e.actor_email.clone().unwrap_or_else(|| "-".into()),
                    e.target_email.clone().unwrap_or_default()
                ));
            }
            out
        }
    };
    match &a.output {
        Some(path) => {
            write_new(path, text.as_bytes())?;
            if ctx.json {
                print_json(&json!({"written": path, "events": events.len()}));
            } else {
                println!("{} event(s) written to {}.", events.len(), path.display());
            }
        }
        None => print!("{text}"),
    }
    Ok(())
}

fn write_new(path: &std::path::Path, data: &[u8]) -> Result<()> {
    use std::io::Write;
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts
        .open(path)
        .map_err(|e| ClientError::io(format!("cannot write {}", path.display()), e))?;
    f.write_all(data)?;
    Ok(())
}

pub async fn join(ctx: &Ctx, link: &str) -> Result<()> {
    let link = InviteLink::parse(link)?;
    ctx.home.device()?;
    let j = admin::join(&ctx.home, &link).await?;
    warn_all(&j.warnings);
    done(
        ctx,
        serde_json::to_value(&j)?,
        format!(
            "You joined {} as {}; an administrator confirms you next.\nCompany key fingerprint: {}",
            j.company_name,
            lower(j.role),
            j.fingerprint
        ),
    );
    Ok(())
}

fn api(ctx: &Ctx) -> Result<ApiClient> {
    let state = ctx.home.device()?;
    Ok(ApiClient::new(&state.server)?.with_token(state.session_token.clone()))
}

fn qr(text: &str) -> Result<String> {
    use qrcode::render::unicode;
    let code = qrcode::QrCode::new(text.as_bytes())
        .map_err(|e| anyhow::anyhow!("cannot make a QR code: {e}"))?;
    Ok(code
        .render::<unicode::Dense1x2>()
        .dark_color(unicode::Dense1x2::Light)
        .light_color(unicode::Dense1x2::Dark)
        .quiet_zone(true)
        .build())
}

pub async fn two_factor(ctx: &Ctx, cmd: TwoFactorCommand) -> Result<()> {
    let api = api(ctx)?;
    match cmd {
        TwoFactorCommand::Enable { code } => {
            if code.is_none() {
                let e = api.two_factor_enroll().await?;
                if !prompt::interactive() {
                    // Scripts: show the secret and stop; `2fa enable --code` confirms.
                    if ctx.json {
                        print_json(
                            &json!({"secret": e.secret, "otpauth_uri": e.otpauth_uri, "enabled": false}),
                        );
                    } else {
                        println!("Secret: {}\n{}", e.secret, e.otpauth_uri);
                        println!("Confirm with `castellan 2fa enable --code CODE`.");
                    }
                    return Ok(());
                }
                eprintln!(
                    "Scan this QR code with an authenticator app:\n{}",
                    qr(&e.otpauth_uri)?
                );
                eprintln!("Or enter the secret by hand: {}", e.secret);
            }
            let code = prompt::totp_code(code.as_deref())?;
            let done_ = api
                .two_factor_confirm(&TwoFactorCodeRequest {
                    code: code.to_string(),
                })
                .await?;
            if ctx.json {
                print_json(&json!({"enabled": true, "recovery_codes": done_.recovery_codes}));
            } else {
                println!("Two-step verification is on. Recovery codes (each works once; keep them offline, they are not shown again):");
                for c in &done_.recovery_codes {
                    println!("  {c}");
                }
            }
        }
        TwoFactorCommand::Disable { code } => {
            let code = prompt::totp_code(code.as_deref())?;
            api.two_factor_disable(&TwoFactorCodeRequest {
                code: code.to_string(),
            })
            .await?;
            done(
                ctx,
                json!({"enabled": false}),
                "Two-step verification is off.",
            );
        }
        TwoFactorCommand::Status => {
            let m = api.membership().await?;
            let enabled = m.member.as_ref().map(|m| m.two_factor_enabled);
            let required = m
                .company
                .as_ref()
                .and_then(|c| {
                    castellan_client::org::policy::pinned_policy(&ctx.home.device().ok()?.org, c.id)
                })
                .map(|p| p.policies.require_two_factor);
            if ctx.json {
                print_json(&json!({"enabled": enabled, "required_by_company": required}));
            } else {
                match enabled {
                    Some(true) => println!("Two-step verification is on."),
                    Some(false) => println!("Two-step verification is off."),
                    None => println!("Unknown (only shown for company members)."),
                }
                if required == Some(true) {
                    println!("Your company requires it.");
                }
            }
        }
    }
    Ok(())
}

async fn admin_share(ctx: &Ctx, cmd: AdminShareCommand) -> Result<()> {
    use castellan_client::share::admin::{self as share_admin, AdminChange};
    let s = org(ctx).await?;
    match cmd {
        AdminShareCommand::List { company } => {
            let c = s.resolve_company(company.as_deref()).await?;
            let list = share_admin::company_shares(&s, c.id).await?;
            if ctx.json {
                print_json(&serde_json::to_value(&list)?);
            } else if list.is_empty() {
                println!("{} has no shares.", c.name);
            } else {
                for v in &list {
                    let recipients: Vec<String> = v
                        .recipients
                        .iter()
                        .map(|r| format!("{} ({})", r.name, lower(r.role)))
                        .collect();
                    println!(
                        "{}  {}  owners: {}  recipients: {}  items: {}",
                        v.id,
                        v.name.as_deref().unwrap_or("(name not readable)"),
                        v.owners.join(", "),
                        if recipients.is_empty() {
                            "none".to_string()
                        } else {
                            recipients.join(", ")
                        },
                        v.object_count
                    );
                }
            }
        }
        AdminShareCommand::RemoveRecipient {
            share,
            user,
            group,
            company,
        } => {
            let c = s.resolve_company(company.as_deref()).await?;
            let p = share_admin::principal(&s, c.id, user.as_deref(), group.as_deref()).await?;
            let acl = share_admin::change_share(&s, c.id, &share, AdminChange::RemoveRecipient(p))
                .await?;
            done(
                ctx,
                json!({"share": acl.share_id, "acl_version": acl.version, "removed": p}),
                format!(
                    "Removed from the share (access list version {}); the owner's client rotates the share key at its next change.",
                    acl.version
                ),
            );
        }
        AdminShareCommand::Transfer { share, to, company } => {
            let c = s.resolve_company(company.as_deref()).await?;
            let p = share_admin::principal(&s, c.id, Some(&to), None).await?;
            let acl =
                share_admin::change_share(&s, c.id, &share, AdminChange::TransferTo(p.id)).await?;
            done(
                ctx,
                json!({"share": acl.share_id, "acl_version": acl.version, "owner": p.id}),
                format!("{to} now owns the share; the previous owners are editors."),
            );
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::OnOff;

    #[test]
    fn the_qr_code_is_text_for_a_terminal() {
        let q =
            qr("otpauth://totp/Castellan:a@b.c?secret=JBSWY3DPEHPK3PXP&issuer=Castellan").unwrap();
        assert!(q.lines().count() > 10);
        assert!(q.contains('█') || q.contains('▀') || q.contains('▄'));
    }

    #[test]
    fn policy_flags_change_only_what_they_name() {
        let mut p = PolicySet {
            password_auditing: true,
            ..Default::default()
        };
        let f = PolicyFlags {
            mp_min_length: Some(16),
            mp_require_digits: Some(OnOff::On),
            max_vault_timeout: Some(10),
            restrict_sharing_domains: Some("A.com, b.com,".into()),
            ..Default::default()
        };
        apply_flags(&f, &mut p);
        let mp = p.master_password.clone().unwrap();
        assert_eq!((mp.min_length, mp.require_digits), (16, true));
        assert_eq!(p.max_vault_timeout_minutes, Some(10));
        assert_eq!(p.restrict_sharing_domains, vec!["a.com", "b.com"]);
        assert!(p.password_auditing, "untouched");
        // Zeros turn policies off.
        let off = PolicyFlags {
            mp_min_length: Some(0),
            mp_require_digits: Some(OnOff::Off),
            max_vault_timeout: Some(0),
            restrict_sharing_domains: Some(String::new()),
            ..Default::default()
        };
        apply_flags(&off, &mut p);
        assert!(p.master_password.is_none());
        assert!(p.max_vault_timeout_minutes.is_none());
        assert!(p.restrict_sharing_domains.is_empty());
    }
}
