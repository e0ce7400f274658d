//! Fixed-window rate limits kept in the store, so every server instance sees the same counts.

use castellan_store::Store;

use crate::error::{ApiError, ApiResult};
use crate::AppState;

impl<S: Store> AppState<S> {
    fn window(&self, now: i64) -> (i64, i64) {
        let w = self.settings.rate_limits.window_secs.max(1);
        let start = now - now.rem_euclid(w);
        (start, start + w - now)
    }

    /// Counts one event under `key`; refuses once `limit` is exceeded in the current window.
    pub async fn rate_limit(&self, key: &str, limit: u32, now: i64) -> ApiResult<()> {
        let (start, retry) = self.window(now);
        let count = self.store.rate_limit_hit(key, start).await?;
        if count > limit {
            return Err(ApiError::rate_limited(retry));
        }
        Ok(())
    }

    /// Refuses if `key` already reached `limit` in the current window, without counting.
    pub async fn rate_limit_check(&self, key: &str, limit: u32, now: i64) -> ApiResult<()> {
        let (start, retry) = self.window(now);
        if self.store.rate_limit_count(key, start).await? >= limit {
            return Err(ApiError::rate_limited(retry));
        }
        Ok(())
    }

    pub async fn rate_limit_record(&self, key: &str, now: i64) -> ApiResult<()> {
        let (start, _) = self.window(now);
        self.store.rate_limit_hit(key, start).await?;
        Ok(())
    }

    pub async fn rate_limit_clear(&self, key: &str) -> ApiResult<()> {
        self.store.rate_limit_clear(key).await?;
        Ok(())
    }
}
