//! Startup kits, as `nvflare provision` and `nvflare poc prepare` write
//! them: a participant's folder holds `startup/`, whose config file names
//! the certificates beside it.

use std::path::{Path, PathBuf};

/// The startup folder of the kit at `path`: `path` itself when it holds
/// `config` (`fed_admin.json`, `fed_server.json`), else its `startup`
/// folder when that does.
///
/// # Errors
/// When neither holds `config`, with both places named.
pub fn startup_folder(path: &Path, config: &str) -> Result<PathBuf, String> {
    if path.join(config).is_file() {
        Ok(path.to_path_buf())
    } else if path.join("startup").join(config).is_file() {
        Ok(path.join("startup"))
    } else {
        Err(format!(
            "no {config} in {} or its startup folder",
            path.display()
        ))
    }
}
