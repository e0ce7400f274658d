//! Device state under `$CASTELLAN_HOME`: one directory per device (two homes act as two devices).
//!
//! Files (all mode 0600 in a 0700 directory, written atomically: temp file, fsync, rename):
//! - `device.json`: server URL, account ids, pins (server OPAQUE key, KSF profile), the Secret
//!   Key, the account key wrapped under the local unlock key, the last verified key set, the
//!   session token and the lock flag. No key is stored in the clear: the account key needs the
//!   master password (Argon2id) and the Secret Key to unwrap.
//! - `cache.sqlite3`: the offline cache (see `cache.rs`): server ciphertext, queued changes,
//!   the highest version seen per object and the pinned manifest counters.
//!
//! A file that cannot be parsed is reported and never overwritten.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use castellan_types::{AccountResponse, Bytes, KsfProfile};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::{ClientError, ClientResult};

const DEVICE_FILE: &str = "device.json";
const VERSIONS_FILE: &str = "versions.json";
/// Local state files larger than this are refused as corrupted.
const MAX_STATE_BYTES: u64 = 64 * 1024 * 1024;

#[derive(Clone, Serialize, Deserialize)]
pub struct DeviceState {
    pub format: u32,
    pub server: String,
    pub email: String,
    pub user_id: Uuid,
    pub device_id: Uuid,
    pub device_salt: Bytes,
    /// OPAQUE server static public key, pinned at registration or first login on this device.
    pub server_public_key: Bytes,
    /// The KSF profile pinned for this account; a server may never lower it.
    pub ksf: KsfProfile,
    /// The Secret Key, as on the Emergency Kit. Kept on the device, as 1Password does.
    pub secret_key: String,
    /// Account key wrapped under the local unlock key (Argon2id(password) + Secret Key).
    pub local_wrap: Bytes,
    /// The last key set and vault key wraps that verified, for unlocking without the server.
    pub account: AccountResponse,
    pub session_token: Option<String>,
    pub session_id: Option<Uuid>,
    pub locked: bool,
    /// Pinned company keys and the highest verified policy per company (see `org::pins`).
    #[serde(default)]
    pub org: crate::org::pins::OrgPins,
    /// The highest verified access list version per share and group roster versions (see
    /// `share::pins`).
    #[serde(default)]
    pub shares: crate::share::pins::SharePins,
}

impl std::fmt::Debug for DeviceState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeviceState")
            .field("server", &self.server)
            .field("email", &self.email)
            .field("user_id", &self.user_id)
            .field("device_id", &self.device_id)
            .field("locked", &self.locked)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct SeenVersions {
    pub objects: BTreeMap<Uuid, i64>,
}

#[derive(Debug, Clone)]
pub struct Home {
    dir: PathBuf,
}

impl Home {
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Home { dir: dir.into() }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn ensure_dir(&self) -> ClientResult<()> {
        std::fs::create_dir_all(&self.dir)
            .map_err(|e| ClientError::io(format!("cannot create {}", self.dir.display()), e))?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&self.dir, std::fs::Permissions::from_mode(0o700)).map_err(
                |e| ClientError::io(format!("cannot protect {}", self.dir.display()), e),
            )?;
        }
        Ok(())
    }

    fn read_json<T: DeserializeOwned>(&self, name: &str) -> ClientResult<Option<T>> {
        let path = self.dir.join(name);
        let meta = match std::fs::metadata(&path) {
            Ok(m) => m,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => {
                return Err(ClientError::io(
                    format!("cannot read {}", path.display()),
                    e,
                ))
            }
        };
        let corrupt = |detail: String| ClientError::CorruptState {
            path: path.display().to_string(),
            detail,
        };
        if meta.len() > MAX_STATE_BYTES {
            return Err(corrupt("file is implausibly large".into()));
        }
        let bytes = std::fs::read(&path)
            .map_err(|e| ClientError::io(format!("cannot read {}", path.display()), e))?;
        serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|e| corrupt(e.to_string()))
    }

    fn write_json<T: Serialize>(&self, name: &str, value: &T) -> ClientResult<()> {
        self.ensure_dir()?;
        let path = self.dir.join(name);
        let tmp = self.dir.join(format!(".{name}.tmp"));
        let bytes =
            serde_json::to_vec_pretty(value).map_err(|e| ClientError::Protocol(e.to_string()))?;
        let ctx = |e| ClientError::io(format!("cannot write {}", path.display()), e);
        {
            let mut opts = std::fs::OpenOptions::new();
            opts.write(true).create(true).truncate(true);
            #[cfg(unix)]
            {
                use std::os::unix::fs::OpenOptionsExt;
                opts.mode(0o600);
            }
            let mut f = opts.open(&tmp).map_err(ctx)?;
            f.write_all(&bytes).map_err(ctx)?;
            f.sync_all().map_err(ctx)?;
        }
        std::fs::rename(&tmp, &path).map_err(ctx)?;
        Ok(())
    }

    pub fn load_device(&self) -> ClientResult<Option<DeviceState>> {
        let state: Option<DeviceState> = self.read_json(DEVICE_FILE)?;
        if let Some(s) = &state {
            if s.format != 1 {
                return Err(ClientError::CorruptState {
                    path: self.dir.join(DEVICE_FILE).display().to_string(),
                    detail: format!("unknown format {}", s.format),
                });
            }
        }
        Ok(state)
    }

    /// The device state, or `NotLoggedIn`.
    pub fn device(&self) -> ClientResult<DeviceState> {
        self.load_device()?.ok_or(ClientError::NotLoggedIn)
    }

    pub fn save_device(&self, state: &DeviceState) -> ClientResult<()> {
        self.write_json(DEVICE_FILE, state)
    }

    /// Forgets the account on this device (logout).
    pub fn clear(&self) -> ClientResult<()> {
        for name in [
            DEVICE_FILE,
            VERSIONS_FILE,
            "cache.sqlite3",
            "cache.sqlite3-wal",
            "cache.sqlite3-shm",
            "sync.lock",
        ] {
            let p = self.dir.join(name);
            match std::fs::remove_file(&p) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(ClientError::io(format!("cannot remove {}", p.display()), e)),
            }
        }
        Ok(())
    }
}
