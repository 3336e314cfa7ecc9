//! The persisted index: one file per workspace in a cache folder, keyed by path, size and mtime.
//!
//! The file starts with a magic string and a format version; anything unreadable, truncated, of
//! another version or written for another root is ignored (and the index rebuilt), never trusted.
//! The cache lives outside the workspace unless the configuration points it there.
//!
//! Old files go: once per process, before the first index is read, [`prune`] removes the cache
//! files not used for [`MAX_AGE_DAYS`] days (reading a cache counts as a use), then the least
//! recently used ones while the folder holds more than [`MAX_TOTAL_BYTES`].

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::model::ModuleInfo;

const MAGIC: &[u8; 8] = b"SPKINDEX";
/// Bump when `ModuleInfo` or this file's layout changes.
pub const FORMAT_VERSION: u32 = 6;

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

/// Cache files not used for this many days are removed.
pub const MAX_AGE_DAYS: u64 = 30;

/// The most the cache folder keeps; beyond it the least recently used files are removed.
pub const MAX_TOTAL_BYTES: u64 = 1 << 30;

/// The default cache folder: `$SPACKLE_CACHE_DIR`, else `$XDG_CACHE_HOME/spackle`, else
/// `~/.cache/spackle` (`%LOCALAPPDATA%\spackle` on Windows). The crate's own unit tests get none
/// (nothing persisted) unless `$SPACKLE_CACHE_DIR` is set: tests never write into the user's cache.
pub fn default_cache_dir() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("SPACKLE_CACHE_DIR") {
        return Some(PathBuf::from(dir));
    }
    if cfg!(test) {
        return None;
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

/// Removes, once per process, the cache files of `cache_dir` that [`prune`] would remove.
pub fn prune_once(cache_dir: &Path) {
    static PRUNED: std::sync::Once = std::sync::Once::new();
    PRUNED.call_once(|| {
        let removed = prune(
            cache_dir,
            std::time::SystemTime::now(),
            std::time::Duration::from_secs(MAX_AGE_DAYS * 24 * 3600),
            MAX_TOTAL_BYTES,
        );
        if removed > 0 {
            tracing::info!(folder = %cache_dir.display(), removed, "removed old index caches");
        }
    });
}

/// Removes the index caches (`index-*.bin`, and temporary files of interrupted writes) of
/// `cache_dir` last used (modified) longer than `max_age` before `now`, then the least recently
/// used while the rest add up to more than `max_total` bytes. Returns how many were removed.
/// Other files are left alone; failures are logged, never fatal.
pub fn prune(
    cache_dir: &Path,
    now: std::time::SystemTime,
    max_age: std::time::Duration,
    max_total: u64,
) -> usize {
    let Ok(entries) = std::fs::read_dir(cache_dir) else {
        return 0;
    };
    let mut files: Vec<(std::time::SystemTime, u64, PathBuf)> = entries
        .flatten()
        .filter(|entry| {
            let name = entry.file_name();
            let name = name.to_string_lossy();
            name.starts_with("index-") && (name.ends_with(".bin") || name.contains(".tmp"))
        })
        .filter_map(|entry| {
            let metadata = entry.metadata().ok().filter(|m| m.is_file())?;
            let modified = metadata.modified().ok()?;
            Some((modified, metadata.len(), entry.path()))
        })
        .collect();
    // Newest first; the oldest are removed from the end.
    files.sort_by_key(|file| std::cmp::Reverse(file.0));
    let mut total: u64 = files.iter().map(|(_, size, _)| size).sum();
    let mut removed = 0;
    while let Some((modified, size, path)) = files.last() {
        let too_old = now.duration_since(*modified).is_ok_and(|age| age > max_age);
        if !too_old && total <= max_total {
            break;
        }
        match std::fs::remove_file(path) {
            Ok(()) => removed += 1,
            Err(error) => {
                tracing::debug!(path = %path.display(), %error, "cannot remove an old index cache")
            }
        }
        total -= size;
        files.pop();
    }
    removed
}

/// Reads the cache of `root`; `None` when it is missing, corrupt, old or for another root. A
/// cache that is read is marked as used now (its modification time), for [`prune`].
pub fn load(path: &Path, root: &Path) -> Option<HashMap<String, CacheEntry>> {
    let bytes = std::fs::read(path).ok()?;
    if let Ok(file) = std::fs::File::options().append(true).open(path) {
        let _ = file.set_modified(std::time::SystemTime::now());
    }
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
    fn old_caches_and_the_least_recently_used_past_the_size_limit_are_removed() {
        use std::time::{Duration, SystemTime};
        let dir = tempfile::tempdir().expect("temporary folder");
        let now = SystemTime::now();
        let day = Duration::from_secs(24 * 3600);
        let write = |name: &str, bytes: usize, age: Duration| {
            let path = dir.path().join(name);
            std::fs::write(&path, vec![0u8; bytes]).unwrap();
            let file = std::fs::File::options().append(true).open(&path).unwrap();
            file.set_modified(now - age).unwrap();
        };
        write("index-fresh-1.bin", 100, day);
        write("index-recent-2.bin", 100, 5 * day);
        write("index-older-3.bin", 100, 20 * day);
        write("index-stale-4.bin", 10, 40 * day);
        write("index-crashed-5.tmp123", 10, 40 * day);
        write("notes.txt", 10, 400 * day);
        let left = || {
            let mut names: Vec<String> = std::fs::read_dir(dir.path())
                .unwrap()
                .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
                .collect();
            names.sort();
            names
        };
        assert_eq!(prune(dir.path(), now, 30 * day, 1000), 2);
        assert_eq!(
            left(),
            [
                "index-fresh-1.bin",
                "index-older-3.bin",
                "index-recent-2.bin",
                "notes.txt"
            ]
        );
        // Past the size limit, the least recently used go first.
        assert_eq!(prune(dir.path(), now, 30 * day, 250), 1);
        assert_eq!(
            left(),
            ["index-fresh-1.bin", "index-recent-2.bin", "notes.txt"]
        );
        // Reading a cache marks it used.
        let root = Path::new("/w");
        let path = cache_file(dir.path(), root);
        save(&path, root, Vec::new()).unwrap();
        let file = std::fs::File::options().append(true).open(&path).unwrap();
        file.set_modified(now - 60 * day).unwrap();
        assert!(load(&path, root).is_some());
        assert_eq!(prune(dir.path(), SystemTime::now(), 30 * day, 1 << 30), 0);
        assert!(path.exists());
    }

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
