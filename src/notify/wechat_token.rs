//! The WeChat access token every instance shares. The database row is the source of truth: an
//! instance that finds no token with enough time left takes the refresh lease and asks WeChat;
//! the others keep using a still-valid token or wait for the row. A forced refresh (it invalidates
//! the token everyone holds, and WeChat allows 20 a day) happens only for a token WeChat rejected
//! that is still the stored one. The token is never logged or put in an error.

use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, bail};
use chrono::{DateTime, Duration, Utc};
use sea_orm::DatabaseConnection;

use crate::integrations::wechat::WechatClient;
use crate::keys::Keys;
use crate::store::wechat_tokens::{self, wechat_token};

/// How often an instance waiting for another's refresh looks at the row.
const POLL: std::time::Duration = std::time::Duration::from_millis(100);

/// A token with less time left than this is not handed out: a send still has to reach WeChat.
const MIN_LEFT_SECS: i64 = 30;

#[derive(Clone)]
pub struct TokenSource {
    client: WechatClient,
    keys: Arc<Keys>,
    margin: Duration,
}

/// The row's token, decrypted.
struct Stored {
    token: String,
    token_enc: String,
    expires_at: DateTime<Utc>,
}

/// What a caller will accept: a token other than the one WeChat rejected, with this much left.
struct Want<'a> {
    rejected: Option<&'a str>,
    min_left: Duration,
}

impl Want<'_> {
    fn met_by(&self, stored: &Stored, now: DateTime<Utc>) -> bool {
        self.rejected != Some(stored.token.as_str()) && stored.expires_at - now > self.min_left
    }

    /// The same, when the only question is whether the token still works.
    fn usable(&self) -> Want<'_> {
        Want {
            rejected: self.rejected,
            min_left: Duration::seconds(MIN_LEFT_SECS).min(self.min_left),
        }
    }
}

impl TokenSource {
    pub fn new(client: WechatClient, keys: Arc<Keys>, refresh_margin_secs: u64) -> Self {
        Self {
            client,
            keys,
            margin: Duration::seconds(i64::try_from(refresh_margin_secs).unwrap_or(i64::MAX / 2)),
        }
    }

    /// A valid access token: the shared one if it has more than the margin left; otherwise a new
    /// one fetched by whichever instance takes the refresh lease.
    #[tracing::instrument(skip_all, err(Debug))]
    pub async fn get(&self, db: &DatabaseConnection) -> anyhow::Result<String> {
        let app_id = self.app_id()?;
        let want = Want {
            rejected: None,
            min_left: self.margin,
        };
        match self.read(db, app_id).await?.0 {
            Some(stored) if want.met_by(&stored, Utc::now()) => Ok(stored.token),
            current => self.refresh(db, app_id, current, &want, false).await,
        }
    }

    /// After WeChat rejected `used` (40001/42001): if `used` is still the shared token, force a
    /// new one and store it; if another instance already replaced it, return theirs.
    #[tracing::instrument(skip_all, err(Debug))]
    pub async fn refresh_after_rejection(
        &self,
        db: &DatabaseConnection,
        used: &str,
    ) -> anyhow::Result<String> {
        let app_id = self.app_id()?;
        let want = Want {
            rejected: Some(used),
            min_left: Duration::seconds(MIN_LEFT_SECS),
        };
        let (current, _) = self.read(db, app_id).await?;
        if let Some(stored) = current {
            if want.met_by(&stored, Utc::now()) {
                return Ok(stored.token);
            }
            if stored.token == used {
                // Nobody may hand out the rejected token from here on. If the row changed since
                // we read it, the re-check under the lease below finds the newer token.
                wechat_tokens::invalidate(db, app_id, &stored.token_enc, Utc::now())
                    .await
                    .context("forgetting the rejected WeChat access token")?;
            }
        }
        self.refresh(db, app_id, None, &want, true).await
    }

    fn app_id(&self) -> anyhow::Result<&str> {
        match self.client.app_id() {
            Some(app_id) => Ok(app_id),
            None => bail!("WeChat is not configured (wechat.app_id)"),
        }
    }

    /// The lease outlives one call to WeChat, so a holder that died frees it soon after.
    fn lease(&self) -> Duration {
        Duration::from_std(self.client.timeout()).unwrap_or(Duration::seconds(5))
            + Duration::seconds(5)
    }

    /// The row's token (if it decrypts) and its refresh lease.
    async fn read(
        &self,
        db: &DatabaseConnection,
        app_id: &str,
    ) -> anyhow::Result<(Option<Stored>, Option<DateTime<Utc>>)> {
        let row: Option<wechat_token::Model> = wechat_tokens::find(db, app_id)
            .await
            .context("reading the shared WeChat access token")?;
        let Some(row) = row else {
            return Ok((None, None));
        };
        let stored = match (row.token_enc, row.expires_at) {
            (Some(token_enc), Some(expires_at)) => match self.keys.data.decrypt(&token_enc) {
                Some(token) => Some(Stored {
                    token,
                    token_enc,
                    expires_at,
                }),
                None => {
                    // Another data key (rotated, or a copied database): fetch a new token.
                    tracing::warn!("the stored WeChat access token does not decrypt");
                    None
                }
            },
            _ => None,
        };
        Ok((stored, row.refresh_lease_until))
    }

    /// Gets a token meeting `want` through the refresh lease. `current` is the stored token,
    /// handed out while another instance refreshes if it still works.
    async fn refresh(
        &self,
        db: &DatabaseConnection,
        app_id: &str,
        current: Option<Stored>,
        want: &Want<'_>,
        force: bool,
    ) -> anyhow::Result<String> {
        if self.take_lease(db, app_id).await? {
            return self.fetch_holding_lease(db, app_id, want, force).await;
        }
        // Another instance is refreshing. A token that is merely inside the margin still works.
        if let Some(stored) = current
            && want.usable().met_by(&stored, Utc::now())
        {
            return Ok(stored.token);
        }
        let deadline = Instant::now() + self.lease().to_std().unwrap_or(POLL);
        while Instant::now() < deadline {
            tokio::time::sleep(POLL).await;
            let (stored, lease) = self.read(db, app_id).await?;
            if let Some(stored) = stored
                && want.usable().met_by(&stored, Utc::now())
            {
                return Ok(stored.token);
            }
            // The holder gave up (its call failed) or vanished: take over.
            if lease.is_none_or(|until| until < Utc::now()) && self.take_lease(db, app_id).await? {
                return self.fetch_holding_lease(db, app_id, want, force).await;
            }
        }
        // The holder neither finished nor let go: ask WeChat without the lease. Normal mode
        // first: after someone's forced refresh it already answers with the new token.
        tracing::warn!("no new WeChat access token from the lease holder; fetching one");
        let mut token = self.client.stable_token(false).await?;
        if want.rejected == Some(token.token.as_str()) {
            token = self.client.stable_token(true).await?;
        }
        self.keep(db, app_id, &token.token, token.expires_in).await;
        Ok(token.token)
    }

    async fn take_lease(&self, db: &DatabaseConnection, app_id: &str) -> anyhow::Result<bool> {
        wechat_tokens::try_lease(db, app_id, Utc::now(), self.lease())
            .await
            .context("taking the WeChat token refresh lease")
    }

    async fn fetch_holding_lease(
        &self,
        db: &DatabaseConnection,
        app_id: &str,
        want: &Want<'_>,
        force: bool,
    ) -> anyhow::Result<String> {
        // Another instance may have stored a token between our read and our lease; forcing a
        // refresh now would invalidate the token everyone else just started using.
        if let (Some(stored), _) = self.read(db, app_id).await?
            && want.met_by(&stored, Utc::now())
        {
            wechat_tokens::release_lease(db, app_id)
                .await
                .context("releasing the WeChat token refresh lease")?;
            return Ok(stored.token);
        }
        match self.client.stable_token(force).await {
            Ok(token) => {
                self.keep(db, app_id, &token.token, token.expires_in).await;
                Ok(token.token)
            }
            Err(error) => {
                if let Err(e) = wechat_tokens::release_lease(db, app_id).await {
                    tracing::warn!(error = %e, "releasing the WeChat token refresh lease failed");
                }
                Err(anyhow::Error::new(error).context("fetching a WeChat access token"))
            }
        }
    }

    /// Stores a fetched token for every instance. A failure here is logged, not returned: the
    /// token in hand works, and after a forced refresh it is the only one that does.
    async fn keep(&self, db: &DatabaseConnection, app_id: &str, token: &str, expires_in: i64) {
        let now = Utc::now();
        let stored = wechat_tokens::store(
            db,
            app_id,
            self.keys.data.encrypt(token),
            now + Duration::seconds(expires_in),
            now,
        )
        .await;
        if let Err(e) = stored {
            tracing::warn!(error = %e, "storing the WeChat access token failed");
        }
    }
}
