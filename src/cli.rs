//! The `beebox` command line: `serve` (default), `migrate`, `openapi`, `check-config`,
//! `catalog import FILE`, `staff create-admin` and `stats rebuild`.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::{Parser, Subcommand};

use crate::config::Config;
use crate::domain::catalog::CatalogFile;
use crate::startup::{Application, connect_with_retry};
use crate::store;

#[derive(Debug, Parser)]
#[command(
    name = "beebox",
    version,
    about = "Government paperwork by post: the Beebox service"
)]
pub struct Cli {
    /// TOML configuration file; `BEEBOX_*` environment variables override it.
    #[arg(long, global = true, env = "BEEBOX_CONFIG")]
    pub config: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the HTTP service (the default), with the job worker unless told otherwise.
    Serve {
        /// Run no job worker in this instance (same as `jobs.worker = false`).
        #[arg(long)]
        no_worker: bool,
    },
    /// Apply pending database migrations and exit.
    Migrate,
    /// Print the OpenAPI document (YAML).
    Openapi,
    /// Validate the configuration and print it, secrets redacted.
    CheckConfig,
    /// Manage the catalogue of service items.
    Catalog {
        #[command(subcommand)]
        command: CatalogCommand,
    },
    /// Run a courier partner's simulator on its own port (the dev profile runs each enabled
    /// partner's in-process).
    CourierSim {
        /// Which partner: `sf` (SF Express) or `ems` (China Post EMS).
        #[arg(long, default_value = "sf", value_parser = ["sf", "ems"])]
        partner: String,
        #[arg(long, default_value_t = 9090)]
        port: u16,
        /// Where route pushes go: a Beebox webhook with its secret. Default: the local
        /// service's webhook of this partner, with the dev secret.
        #[arg(long)]
        push_url: Option<String>,
        /// Milliseconds between the route steps of a parcel.
        #[arg(long, default_value_t = 3000)]
        step_ms: u64,
    },
    /// Manage staff accounts.
    Staff {
        #[command(subcommand)]
        command: StaffCommand,
    },
    /// The dashboard's statistics.
    Stats {
        #[command(subcommand)]
        command: StatsCommand,
    },
}

#[derive(Debug, Subcommand)]
pub enum StatsCommand {
    /// Recompute the statistics' rollups from the case events and decisions: after an upgrade
    /// that brought them, or after changing `local_utc_offset`.
    Rebuild,
}

#[derive(Debug, Subcommand)]
pub enum StaffCommand {
    /// Create an admin account. The password is asked for at a terminal, or read from the first
    /// line of standard input.
    CreateAdmin {
        #[arg(long)]
        username: String,
        #[arg(long, default_value = "Administrator")]
        display_name: String,
        /// Where dead-job alerts go.
        #[arg(long)]
        email: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
pub enum CatalogCommand {
    /// Import a catalogue file; changed items get a new version.
    Import { file: PathBuf },
}

pub async fn run(command: Command, config: Config) -> anyhow::Result<()> {
    match command {
        Command::Serve { no_worker } => {
            let mut config = config;
            if no_worker {
                config.jobs.worker = false;
            }
            Application::build(config).await?.run_until_stopped().await
        }
        Command::CourierSim {
            partner,
            port,
            push_url,
            step_ms,
        } => {
            use crate::integrations::courier::partners;
            use crate::integrations::courier::sim::{CourierSimulator, SimSettings};
            let push_url = push_url.unwrap_or_else(|| {
                format!(
                    "http://127.0.0.1:8080/v1/webhooks/courier/{partner}?secret=dev-{partner}-webhook-secret"
                )
            });
            let simulator = if partner == "ems" {
                let settings = SimSettings {
                    push_url,
                    step: Duration::from_millis(step_ms),
                    skip_pickup_wait: config.courier.ems.sim_skip_pickup_wait,
                };
                CourierSimulator::ems(partners::ems_dev_credentials(&config), settings)
            } else {
                let settings = SimSettings {
                    push_url,
                    step: Duration::from_millis(step_ms),
                    skip_pickup_wait: config.courier.sf.sim_skip_pickup_wait,
                };
                CourierSimulator::sf(partners::sf_dev_credentials(&config), settings)
            };
            let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
            println!(
                "{partner} simulator on http://{addr}{}",
                simulator.api_path()
            );
            crate::integrations::courier::sim::serve_standalone(simulator, addr).await
        }
        Command::Migrate => {
            let db = connect_for_command(&config).await?;
            store::migrate(&db)
                .await
                .map_err(|e| anyhow::anyhow!(store::describe_error(&e)))
                .context("applying migrations")?;
            println!("migrations applied");
            Ok(())
        }
        Command::Openapi => {
            print!("{}", crate::api::spec_yaml());
            Ok(())
        }
        Command::CheckConfig => {
            println!("# configuration is valid (profile {:?})", config.profile);
            print!("{}", config.to_redacted_toml());
            Ok(())
        }
        Command::Catalog {
            command: CatalogCommand::Import { file },
        } => {
            let text = std::fs::read_to_string(&file)
                .with_context(|| format!("reading {}", file.display()))?;
            let catalog = CatalogFile::parse(&text)?;
            catalog.check_retention(config.retention.defaults())?;
            catalog.check_partners(&config.courier.partners)?;
            let db = connect_for_command(&config).await?;
            store::migrate(&db)
                .await
                .map_err(|e| anyhow::anyhow!(store::describe_error(&e)))
                .context("applying migrations")?;
            let report = store::catalog::import(&db, &catalog).await?;
            let wait = std::time::Duration::from_millis(config.catalog.import_wait_ms);
            let behind = crate::catalog::await_readers(&db, report.revision, wait).await?;
            println!(
                "imported {}: {} created, {} updated (new version), {} unchanged",
                file.display(),
                report.created.len(),
                report.updated.len(),
                report.unchanged.len()
            );
            for code in &report.created {
                println!("  created   {code}");
            }
            for code in &report.updated {
                println!("  updated   {code}");
            }
            if !catalog.bundles.is_empty() {
                println!(
                    "bundles: {} created, {} updated, {} unchanged",
                    report.bundles_created.len(),
                    report.bundles_updated.len(),
                    report.bundles_unchanged.len()
                );
            }
            if behind.is_empty() {
                println!(
                    "catalogue revision {}: every running instance serves it",
                    report.revision
                );
            } else {
                // Not an error: the import is in; those instances pick it up at their next check.
                eprintln!(
                    "catalogue revision {}: {} running instance(s) did not confirm within catalog.import_wait_ms: {}",
                    report.revision,
                    behind.len(),
                    behind
                        .iter()
                        .map(|id| id.to_string())
                        .collect::<Vec<_>>()
                        .join(", ")
                );
            }
            Ok(())
        }
        Command::Staff {
            command:
                StaffCommand::CreateAdmin {
                    username,
                    display_name,
                    email,
                },
        } => {
            let email = email
                .map(|e| crate::domain::email::EmailAddress::parse(&e).map(|e| e.to_string()))
                .transpose()
                .map_err(|m| anyhow::anyhow!("email {m}"))?;
            let username = crate::domain::staff::normalize_username(&username)
                .map_err(|m| anyhow::anyhow!("username {m}"))?;
            let password = read_new_password()?;
            crate::domain::staff::check_password(&password)
                .map_err(|m| anyhow::anyhow!("password {m}"))?;
            let db = connect_for_command(&config).await?;
            store::migrate(&db)
                .await
                .map_err(|e| anyhow::anyhow!(store::describe_error(&e)))
                .context("applying migrations")?;
            anyhow::ensure!(
                store::staff::find_by_username(&db, &username)
                    .await?
                    .is_none(),
                "the username {username} is taken"
            );
            let hash = crate::passwords::hash(&password);
            let created = store::staff::insert(
                &db,
                &username,
                &display_name,
                hash,
                "admin".into(),
                String::new(),
                email,
            )
            .await?;
            store::audit::append(
                &db,
                store::audit::Record {
                    actor_kind: "system",
                    actor_name: Some("beebox staff create-admin".into()),
                    action: "staff.create",
                    target_kind: Some("staff"),
                    target_id: Some(created.id),
                    outcome: "success",
                    detail: Some("roles=admin".into()),
                    ..Default::default()
                },
            )
            .await?;
            println!("created admin {username} ({})", created.id);
            Ok(())
        }
        Command::Stats {
            command: StatsCommand::Rebuild,
        } => {
            let db = connect_for_command(&config).await?;
            store::migrate(&db)
                .await
                .map_err(|e| anyhow::anyhow!(store::describe_error(&e)))
                .context("applying migrations")?;
            let started = Instant::now();
            let rebuilt = store::stats::rebuild::rebuild(&db, config.local_offset())
                .await
                .context("rebuilding the statistics")?;
            println!(
                "statistics rebuilt in {:.1} s: {} events and {} decisions read, {} rows written",
                started.elapsed().as_secs_f64(),
                rebuilt.events,
                rebuilt.decisions,
                rebuilt.rows
            );
            Ok(())
        }
    }
}

/// The new admin's password: prompted twice at a terminal, else the first line of stdin.
fn read_new_password() -> anyhow::Result<String> {
    use std::io::IsTerminal;
    if std::io::stdin().is_terminal() {
        let first = rpassword::prompt_password("Password: ")?;
        let second = rpassword::prompt_password("Password again: ")?;
        anyhow::ensure!(first == second, "the passwords differ");
        Ok(first)
    } else {
        let mut line = String::new();
        std::io::stdin().read_line(&mut line)?;
        Ok(line.trim_end_matches(['\r', '\n']).to_string())
    }
}

async fn connect_for_command(config: &Config) -> anyhow::Result<sea_orm::DatabaseConnection> {
    let deadline = Instant::now() + Duration::from_secs(config.database.migrate_timeout_secs);
    connect_with_retry(config, Some(deadline), |_| {}).await
}
