//! `castellan agent start|stop|status` (and the hidden `agent run` that `start` launches).

use std::time::Duration;

use anyhow::{bail, Result};
use castellan_agent::{spawn_detached, wait_ready, AgentClient, AgentConfig};
use castellan_client::ClientError;
use serde_json::json;

use super::Ctx;
use crate::cli::{AgentCommand, AgentRunArgs};
use crate::output::print_json;
use crate::prompt;

pub async fn run(ctx: &Ctx, cmd: AgentCommand) -> Result<()> {
    match cmd {
        AgentCommand::Run(args) => run_foreground(ctx, args).await,
        AgentCommand::Start(args) => start(ctx, args).await,
        AgentCommand::Stop => {
            match AgentClient::connect(&ctx.home).await {
                Some(mut a) => {
                    a.stop().await?;
                    say(
                        ctx,
                        json!({ "stopped": true }),
                        "Agent stopped; its keys are wiped.",
                    );
                }
                None => say(ctx, json!({ "stopped": false }), "No agent is running."),
            }
            Ok(())
        }
        AgentCommand::Status => {
            match AgentClient::connect(&ctx.home).await {
                Some(mut a) => {
                    let st = a.status().await?;
                    if ctx.json {
                        let mut v = serde_json::to_value(&st)?;
                        v["running"] = json!(true);
                        print_json(&v);
                    } else {
                        println!("Agent:      running (pid {})", st.pid);
                        println!(
                            "Vault:      {}",
                            if st.unlocked { "unlocked" } else { "locked" }
                        );
                        println!(
                            "Sync:       every {} s{}",
                            st.interval_secs,
                            if st.push { ", and on push" } else { "" }
                        );
                        println!(
                            "Push:       {}",
                            if st.push_connected {
                                "connected"
                            } else {
                                "not connected"
                            }
                        );
                        println!("Syncs:      {}", st.syncs);
                        if let Some(e) = st.last_error {
                            println!("Last error: {e}");
                        }
                    }
                }
                None => say(ctx, json!({ "running": false }), "No agent is running."),
            }
            Ok(())
        }
    }
}

fn say(ctx: &Ctx, v: serde_json::Value, text: &str) {
    if ctx.json {
        print_json(&v);
    } else {
        println!("{text}");
    }
}

fn config(ctx: &Ctx, args: &AgentRunArgs) -> AgentConfig {
    let mut c = AgentConfig::new(ctx.home.clone());
    c.interval = Duration::from_secs(args.interval.max(1));
    c.lock_after = Duration::from_secs(args.lock_after.max(1));
    c.push = !args.no_push;
    c
}

async fn run_foreground(ctx: &Ctx, args: AgentRunArgs) -> Result<()> {
    let filter = tracing_subscriber::EnvFilter::try_from_env("CASTELLAN_LOG")
        .unwrap_or_else(|_| "info".into());
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(false)
        .with_writer(std::io::stderr)
        .try_init();
    ctx.home.device()?;
    castellan_agent::run_agent(config(ctx, &args)).await?;
    Ok(())
}

async fn start(ctx: &Ctx, args: AgentRunArgs) -> Result<()> {
    let state = ctx.home.device()?;
    if state.locked {
        return Err(ClientError::Locked.into());
    }
    let password = prompt::master_password(false)?;
    // Check the password here, so a typo is reported now and not in the agent's log.
    castellan_client::account::unlock_local(&ctx.home, &password)?;
    let mut agent = match AgentClient::connect(&ctx.home).await {
        Some(a) => a,
        None => {
            let exe = std::env::current_exe()?;
            let mut a = vec![
                "--interval".to_string(),
                args.interval.to_string(),
                "--lock-after".into(),
                args.lock_after.to_string(),
            ];
            if args.no_push {
                a.push("--no-push".into());
            }
            let pid = spawn_detached(&exe, ctx.home.dir(), &a)?;
            if !wait_ready(&ctx.home, Duration::from_secs(10)).await {
                bail!(
                    "the agent (pid {pid}) did not start; see {}",
                    ctx.home.dir().join("agent").join("agent.log").display()
                );
            }
            AgentClient::connect(&ctx.home)
                .await
                .ok_or_else(|| anyhow::anyhow!("the agent started but does not answer"))?
        }
    };
    agent.unlock(&password).await?;
    let st = agent.status().await?;
    say(
        ctx,
        json!({ "running": true, "pid": st.pid, "unlocked": st.unlocked, "interval_secs": st.interval_secs }),
        &format!(
            "Agent running (pid {}), vault unlocked; syncing every {} s{}.",
            st.pid,
            st.interval_secs,
            if st.push { " and on push" } else { "" }
        ),
    );
    Ok(())
}
