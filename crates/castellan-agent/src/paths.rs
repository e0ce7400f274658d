//! Where the agent lives: `<home>/agent/`, mode 0700, owned by the user running it.
//!
//! - `agent.sock`: the Unix socket (mode 0600).
//! - `agent.log`: stdout and stderr of a detached agent.
//! - `agent.pid`: the agent's process id while it runs.
//!
//! Our own uid is learned without `unsafe`/libc: the owner of a file or directory this process
//! has just created is its effective uid. When the agent directory is created, its owner is
//! used; when it already exists, a probe file is created (and removed) next to it.

use std::fs::{DirBuilder, OpenOptions, Permissions};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use castellan_client::home::Home;

use crate::AgentError;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentPaths {
    /// `<home>/agent`
    pub dir: PathBuf,
    /// `<home>/agent/agent.sock`
    pub socket: PathBuf,
    /// `<home>/agent/agent.log`
    pub log: PathBuf,
    /// `<home>/agent/agent.pid`
    pub pid: PathBuf,
}

impl AgentPaths {
    pub fn new(home_dir: &Path) -> Self {
        let dir = home_dir.join("agent");
        AgentPaths {
            socket: dir.join("agent.sock"),
            log: dir.join("agent.log"),
            pid: dir.join("agent.pid"),
            dir,
        }
    }

    pub fn for_home(home: &Home) -> Self {
        Self::new(home.dir())
    }

    fn home_dir(&self) -> &Path {
        self.dir.parent().unwrap_or_else(|| Path::new("."))
    }

    /// Creates the agent directory with mode 0700 (and the home directory if missing), or
    /// checks the existing one: it must be a real directory owned by us; wrong permissions are
    /// fixed. Returns our uid.
    pub fn ensure_dir(&self) -> Result<u32, AgentError> {
        let home = self.home_dir();
        DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(home)
            .map_err(|e| AgentError::io(format!("cannot create {}", home.display()), e))?;
        match DirBuilder::new().mode(0o700).create(&self.dir) {
            Ok(()) => {
                // We just created it, so its owner is our effective uid.
                let meta = std::fs::symlink_metadata(&self.dir).map_err(|e| self.io(e))?;
                let uid = meta.uid();
                self.check(&meta, uid)?;
                Ok(uid)
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                let uid = own_uid(home)?;
                let meta = std::fs::symlink_metadata(&self.dir).map_err(|e| self.io(e))?;
                self.check(&meta, uid)?;
                Ok(uid)
            }
            Err(e) => Err(self.io(e)),
        }
    }

    /// Checks an existing agent directory without creating anything: `Ok(false)` when it does
    /// not exist, an error when it is not private to us (then no agent there may be trusted).
    pub fn check_existing(&self) -> Result<bool, AgentError> {
        Ok(self.existing_uid()?.is_some())
    }

    /// Like [`Self::check_existing`], returning our uid when the directory exists.
    pub(crate) fn existing_uid(&self) -> Result<Option<u32>, AgentError> {
        let meta = match std::fs::symlink_metadata(&self.dir) {
            Ok(m) => m,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(self.io(e)),
        };
        let uid = own_uid(self.home_dir())?;
        if !meta.file_type().is_dir() {
            return Err(AgentError::unsafe_dir(
                &self.dir,
                "it is not a directory (or is a symbolic link)",
            ));
        }
        if meta.uid() != uid {
            return Err(AgentError::unsafe_dir(
                &self.dir,
                format!("it is owned by uid {}, not by us (uid {uid})", meta.uid()),
            ));
        }
        if meta.mode() & 0o077 != 0 {
            return Err(AgentError::unsafe_dir(
                &self.dir,
                format!(
                    "its permissions are {:o}, expected 700",
                    meta.mode() & 0o7777
                ),
            ));
        }
        Ok(Some(uid))
    }

    fn check(&self, meta: &std::fs::Metadata, uid: u32) -> Result<(), AgentError> {
        if !meta.file_type().is_dir() {
            return Err(AgentError::unsafe_dir(
                &self.dir,
                "it is not a directory (or is a symbolic link)",
            ));
        }
        if meta.uid() != uid {
            return Err(AgentError::unsafe_dir(
                &self.dir,
                format!("it is owned by uid {}, not by us (uid {uid})", meta.uid()),
            ));
        }
        if meta.mode() & 0o7777 != 0o700 {
            tracing::warn!(
                dir = %self.dir.display(),
                mode = format!("{:o}", meta.mode() & 0o7777),
                "agent directory had loose permissions; setting 700"
            );
            std::fs::set_permissions(&self.dir, Permissions::from_mode(0o700))
                .map_err(|e| self.io(e))?;
        }
        Ok(())
    }

    fn io(&self, e: std::io::Error) -> AgentError {
        AgentError::io(format!("cannot use {}", self.dir.display()), e)
    }
}

/// Our effective uid: the owner of a probe file created (then removed) in `dir`.
pub(crate) fn own_uid(dir: &Path) -> Result<u32, AgentError> {
    let probe = dir.join(format!(
        ".agent-uid-probe-{}",
        uuid::Uuid::new_v4().simple()
    ));
    let ctx = |e| AgentError::io(format!("cannot create a file in {}", dir.display()), e);
    let file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&probe)
        .map_err(ctx)?;
    let uid = file.metadata().map(|m| m.uid());
    drop(file);
    let _ = std::fs::remove_file(&probe);
    uid.map_err(ctx)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn creates_private_dir_and_fixes_permissions() {
        let tmp = tempfile::tempdir().unwrap();
        let paths = AgentPaths::new(&tmp.path().join("home"));
        let uid = paths.ensure_dir().unwrap();
        let meta = std::fs::metadata(&paths.dir).unwrap();
        assert_eq!(meta.mode() & 0o7777, 0o700);
        assert_eq!(meta.uid(), uid);
        assert_eq!(own_uid(tmp.path()).unwrap(), uid);
        assert!(paths.check_existing().unwrap());

        std::fs::set_permissions(&paths.dir, Permissions::from_mode(0o755)).unwrap();
        assert!(matches!(
            paths.check_existing(),
            Err(AgentError::UnsafeDir { .. })
        ));
        assert_eq!(paths.ensure_dir().unwrap(), uid);
        let meta = std::fs::metadata(&paths.dir).unwrap();
        assert_eq!(meta.mode() & 0o7777, 0o700);
    }

    #[test]
    fn refuses_a_symlink() {
        let tmp = tempfile::tempdir().unwrap();
        let home = tmp.path().join("home");
        std::fs::create_dir(&home).unwrap();
        let elsewhere = tmp.path().join("elsewhere");
        std::fs::create_dir(&elsewhere).unwrap();
        std::os::unix::fs::symlink(&elsewhere, home.join("agent")).unwrap();
        let paths = AgentPaths::new(&home);
        assert!(matches!(
            paths.ensure_dir(),
            Err(AgentError::UnsafeDir { .. })
        ));
        assert!(matches!(
            paths.check_existing(),
            Err(AgentError::UnsafeDir { .. })
        ));
    }
}
