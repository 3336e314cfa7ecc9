//! The persisted index: one file per workspace in a cache folder, keyed by path, size and mtime.
//!
//! The file starts with a magic string and a format version; anything unreadable, truncated, of
//! another version or written for another root is ignored (and the index rebuilt), never trusted.
//! The cache lives outside the workspace unless the configuration points it there.

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::model::ModuleInfo;

const MAGIC: &[u8; 8] = b"SPKINDEX";
/// Bump when `ModuleInfo` or this file's layout changes.
pub const FORMAT_VERSION: u32 = 3;

/// One file of the workspace as it was indexed.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CacheEntry {
    pub relative: String,
    pub size: u64,
    pub mtime_ns: u64,
    pub module: ModuleInfo,
}

#[derive(Serialize, Deserialize)]
struct CacheFile {
    crate_version: String,
    root: String,
    entries: Vec<CacheEntry>,
}

/// The default cache folder: `$SPACKLE_CACHE_DIR`, else `$XDG_CACHE_HOME/spackle`, else
/// `~/.cache/spackle` (`%LOCALAPPDATA%\spackle` on Windows).
pub fn default_cache_dir() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("SPACKLE_CACHE_DIR") {
        return Some(PathBuf::from(dir));
    }
    if let Some(dir) = std::env::var_os("XDG_CACHE_HOME") {
        return Some(PathBuf::from(dir).join("spackle"));
    }
    if let Some(dir) = std::env::var_os("LOCALAPPDATA") {
        return Some(PathBuf::from(dir).join("spackle"));
    }
    std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".cache").join("spackle"))
}

/// The cache file of one workspace root inside a cache folder.
pub fn cache_file(cache_dir: &Path, root: &Path) -> PathBuf {
    // FNV-1a over the root's path: stable across runs and platforms, unlike `DefaultHasher`.
    let mut hash: u64 = 0xcbf29ce484222325;
    for byte in root.to_string_lossy().as_bytes() {
        hash ^= u64::from(*byte);
        hash = hash.wrapping_mul(0x100000001b3);
    }
    let name = root
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let safe: String = name
        .chars()
        .map(|c| if c.is_alphanumeric() { c } else { '_' })
        .take(40)
        .collect();
    cache_dir.join(format!("index-{safe}-{hash:016x}.bin"))
}

/// Reads the cache of `root`; `None` when it is missing, corrupt, old or for another root.
pub fn load(path: &Path, root: &Path) -> Option<HashMap<String, CacheEntry>> {
    let bytes = std::fs::read(path).ok()?;
    if bytes.len() < 12 || &bytes[..8] != MAGIC {
        tracing::warn!(path = %path.display(), "index cache is not a spackle cache; rebuilding");
        return None;
    }
    let version = u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]);
    if version != FORMAT_VERSION {
        tracing::info!(path = %path.display(), version, "index cache has another format version; rebuilding");
        return None;
    }
    let file: CacheFile = match bincode::deserialize(&bytes[12..]) {
        Ok(file) => file,
        Err(error) => {
            tracing::warn!(path = %path.display(), %error, "index cache is corrupt; rebuilding");
            return None;
        }
    };
    if file.crate_version != env!("CARGO_PKG_VERSION") || file.root != root.to_string_lossy() {
        return None;
    }
    Some(
        file.entries
            .into_iter()
            .map(|e| (e.relative.clone(), e))
            .collect(),
    )
}

/// Writes the cache atomically (a temporary file renamed over the old one).
pub fn save(path: &Path, root: &Path, entries: Vec<CacheEntry>) -> std::io::Result<()> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    let file = CacheFile {
        crate_version: env!("CARGO_PKG_VERSION").to_string(),
        root: root.to_string_lossy().into_owned(),
        entries,
    };
    let body = bincode::serialize(&file).map_err(std::io::Error::other)?;
    let temporary = path.with_extension(format!("tmp{}", std::process::id()));
    {
        let mut out = std::fs::File::create(&temporary)?;
        out.write_all(MAGIC)?;
        out.write_all(&FORMAT_VERSION.to_le_bytes())?;
        out.write_all(&body)?;
    }
    std::fs::rename(&temporary, path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cache_round_trips_and_a_corrupt_one_is_refused() {
        let dir = tempfile::tempdir().expect("temporary folder");
        let root = Path::new("/some/workspace");
        let path = cache_file(dir.path(), root);
        let module = ModuleInfo {
            name: "a".into(),
            path: "a.py".into(),
            ..ModuleInfo::default()
        };
        let entry = CacheEntry {
            relative: "a.py".into(),
            size: 3,
            mtime_ns: 7,
            module,
        };
        save(&path, root, vec![entry]).expect("cache written");
        let loaded = load(&path, root).expect("cache read back");
        assert_eq!(loaded["a.py"].module.name, "a");
        assert!(load(&path, Path::new("/other")).is_none());
        let mut bytes = std::fs::read(&path).expect("read");
        bytes.truncate(bytes.len() - 3);
        std::fs::write(&path, &bytes).expect("write");
        assert!(load(&path, root).is_none());
        std::fs::write(&path, b"garbage").expect("write");
        assert!(load(&path, root).is_none());
    }
}
