//! The server's startup kit, as `nvflare provision` or `nvflare poc
//! prepare` writes it, and the authorization policy beside it.

use std::path::{Path, PathBuf};

use serde_json::Value;

/// What the server takes from its kit.
#[derive(Debug, Clone)]
pub struct ServerKit {
    /// The startup folder.
    pub startup: PathBuf,
    /// The server's certificate, `ssl_cert`.
    pub cert: PathBuf,
    /// Its key, `ssl_private_key`.
    pub key: PathBuf,
    /// The project's root CA, `ssl_root_cert`.
    pub root_ca: PathBuf,
    /// `admin_port`.
    pub admin_port: u16,
    /// `../local/authorization.json`, else `authorization.json.default`.
    pub policy: PathBuf,
}

impl ServerKit {
    /// Reads the kit at `path`: the startup folder, or the folder above it.
    pub fn load(path: &Path) -> Result<ServerKit, String> {
        let startup = crate::kit::startup_folder(path, "fed_server.json")?;
        let file = startup.join("fed_server.json");
        let text =
            std::fs::read_to_string(&file).map_err(|e| format!("{}: {e}", file.display()))?;
        let json: Value =
            serde_json::from_str(&text).map_err(|e| format!("{}: {e}", file.display()))?;
        let server = &json["servers"][0];
        let bad = |what: &str| format!("{}: {what}", file.display());
        let field = |name: &str, default: &str| -> PathBuf {
            startup.join(server[name].as_str().unwrap_or(default))
        };
        let admin_port = server["admin_port"]
            .as_u64()
            .and_then(|p| u16::try_from(p).ok())
            .ok_or_else(|| bad("no servers[0].admin_port"))?;
        let local = startup.parent().unwrap_or(Path::new(".")).join("local");
        let policy = [
            local.join("authorization.json"),
            local.join("authorization.json.default"),
        ]
        .into_iter()
        .find(|p| p.is_file())
        .ok_or_else(|| {
            format!(
                "no authorization.json or authorization.json.default in {}",
                local.display()
            )
        })?;
        Ok(ServerKit {
            cert: field("ssl_cert", "server.crt"),
            key: field("ssl_private_key", "server.key"),
            root_ca: field("ssl_root_cert", "rootCA.pem"),
            startup,
            admin_port,
            policy,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kit_from_either_folder_and_the_policy_beside_it() {
        let dir = tempfile::tempdir().unwrap();
        let startup = dir.path().join("startup");
        let local = dir.path().join("local");
        std::fs::create_dir_all(&startup).unwrap();
        std::fs::create_dir_all(&local).unwrap();
        std::fs::write(
            startup.join("fed_server.json"),
            r#"{"servers": [{"admin_port": 8003, "ssl_cert": "server.crt",
                "ssl_private_key": "server.key", "ssl_root_cert": "rootCA.pem"}]}"#,
        )
        .unwrap();
        let err = ServerKit::load(dir.path()).unwrap_err();
        assert!(err.contains("authorization.json"), "{err}");
        std::fs::write(local.join("authorization.json.default"), "{}").unwrap();
        for path in [dir.path(), startup.as_path()] {
            let kit = ServerKit::load(path).unwrap();
            assert_eq!(kit.admin_port, 8003);
            assert_eq!(kit.root_ca, startup.join("rootCA.pem"));
            assert_eq!(kit.policy, local.join("authorization.json.default"));
        }
        std::fs::write(local.join("authorization.json"), "{}").unwrap();
        let kit = ServerKit::load(dir.path()).unwrap();
        assert_eq!(kit.policy, local.join("authorization.json"));
        assert!(ServerKit::load(&local).is_err());
    }
}
