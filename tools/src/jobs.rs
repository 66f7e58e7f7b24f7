//! Job folders as NVFlare's admin client handles them: signed in every
//! folder, zipped under the folder's name with directory entries, and
//! unzipped after a download, refusing entries that would land outside.

use std::collections::BTreeMap;
use std::fs;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use base64::Engine;
use rsa::pkcs1::DecodeRsaPrivateKey;
use rsa::pkcs8::DecodePrivateKey;
use rsa::pss::SigningKey;
use rsa::signature::{RandomizedDigestSigner, SignatureEncoding};
use rsa::traits::PublicKeyParts;
use rsa::RsaPrivateKey;
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::admin::session::{ascii_json, io_error, AdminError};

/// The signature file NVFlare writes in every folder.
pub const SIG_FILE: &str = ".__nvfl_sig.json";
/// The submitter's certificate, copied into every folder.
pub const SUBMITTER_CRT: &str = ".__nvfl_submitter.crt";

/// The admin's RSA key (PKCS#1, as NVFlare provisions it, or PKCS#8).
pub fn load_key(path: &Path) -> Result<RsaPrivateKey, AdminError> {
    let pem = fs::read_to_string(path).map_err(|e| io_error("cannot read", path, e))?;
    RsaPrivateKey::from_pkcs1_pem(&pem)
        .or_else(|_| RsaPrivateKey::from_pkcs8_pem(&pem))
        .map_err(|e| AdminError::Kit(format!("{}: not an RSA key: {e}", path.display())))
}

/// RSA-PSS, SHA-256, MGF1-SHA-256, salt of the maximum length (Python's
/// `PSS.MAX_LENGTH`), base64: NVFlare's `sign_content`.
pub fn sign(key: &RsaPrivateKey, content: &[u8]) -> String {
    sign_digest(key, Sha256::new_with_prefix(content))
}

/// The salt length of Python's `PSS.MAX_LENGTH` with SHA-256 for a key of
/// `modulus_bits`: emLen - hLen - 2, emLen = ceil((modBits - 1) / 8).
pub fn max_salt_len(modulus_bits: usize) -> usize {
    (modulus_bits.saturating_sub(1))
        .div_ceil(8)
        .saturating_sub(32 + 2)
}

/// [`sign`] over content already hashed into `digest`.
pub fn sign_digest(key: &RsaPrivateKey, digest: Sha256) -> String {
    let salt = max_salt_len(key.n().bits());
    let signer = SigningKey::<Sha256>::new_with_salt_len(key.clone(), salt);
    let signature = signer.sign_digest_with_rng(&mut rsa::rand_core::OsRng, digest);
    base64::engine::general_purpose::STANDARD.encode(signature.to_bytes())
}

/// [`sign`] over a file's content, hashed as it is read: the file is never
/// held in memory.
pub fn sign_file(key: &RsaPrivateKey, path: &Path) -> Result<String, AdminError> {
    let mut file = fs::File::open(path).map_err(|e| io_error("cannot read", path, e))?;
    let mut hash = Sha256::new();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        match file.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => hash.update(&buf[..n]),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(io_error("cannot read", path, e)),
        }
    }
    Ok(sign_digest(key, hash))
}

/// The entries of `dir`, files and folders apart, sorted by name.
fn entries(dir: &Path) -> Result<(Vec<String>, Vec<String>), AdminError> {
    let (mut files, mut folders) = (Vec::new(), Vec::new());
    for entry in fs::read_dir(dir).map_err(|e| io_error("cannot read", dir, e))? {
        let entry = entry.map_err(|e| io_error("cannot read", dir, e))?;
        let name = entry.file_name().into_string().map_err(|n| {
            AdminError::Local(format!(
                "{}: a name that is not UTF-8: {n:?}",
                dir.display()
            ))
        })?;
        let kind = entry
            .file_type()
            .map_err(|e| io_error("cannot read", &entry.path(), e))?;
        if kind.is_dir() {
            folders.push(name);
        } else if kind.is_file() {
            files.push(name);
        } else {
            return Err(AdminError::Local(format!(
                "{}: only files and folders can be submitted",
                entry.path().display()
            )));
        }
    }
    files.sort();
    folders.sort();
    Ok((files, folders))
}

/// Signs `folder` in place, as NVFlare's `sign_folders`: in every folder a
/// `.__nvfl_sig.json` mapping each file's and each subfolder's name to its
/// signature, and a copy of the certificate.
pub fn sign_folder(folder: &Path, key: &RsaPrivateKey, cert: &Path) -> Result<(), AdminError> {
    let (files, folders) = entries(folder)?;
    let mut signatures = BTreeMap::new();
    for name in files
        .iter()
        .filter(|n| *n != SIG_FILE && *n != SUBMITTER_CRT)
    {
        let signature = sign_file(key, &folder.join(name))?;
        signatures.insert(name.clone(), Value::from(signature));
    }
    for name in &folders {
        signatures.insert(name.clone(), Value::from(sign(key, name.as_bytes())));
    }
    let sig_path = folder.join(SIG_FILE);
    let json = ascii_json(&Value::Object(signatures.into_iter().collect()));
    fs::write(&sig_path, json).map_err(|e| io_error("cannot write", &sig_path, e))?;
    let crt_path = folder.join(SUBMITTER_CRT);
    fs::copy(cert, &crt_path).map_err(|e| io_error("cannot write", &crt_path, e))?;
    for name in &folders {
        sign_folder(&folder.join(name), key, cert)?;
    }
    Ok(())
}

/// Copies the folder `from` to `to` (files and folders only).
pub fn copy_folder(from: &Path, to: &Path) -> Result<(), AdminError> {
    fs::create_dir_all(to).map_err(|e| io_error("cannot create", to, e))?;
    let (files, folders) = entries(from)?;
    for name in files {
        fs::copy(from.join(&name), to.join(&name))
            .map_err(|e| io_error("cannot copy", &from.join(&name), e))?;
    }
    for name in folders {
        copy_folder(&from.join(&name), &to.join(&name))?;
    }
    Ok(())
}

/// Zips `folder` into `out`, entries under the folder's name, stored, with
/// an entry for every subfolder (the server needs them), as NVFlare's
/// `zip_directory_to_file`.
pub fn zip_folder(folder: &Path, name: &str, out: &Path) -> Result<(), AdminError> {
    let file = fs::File::create(out).map_err(|e| io_error("cannot create", out, e))?;
    let mut zip = zip::ZipWriter::new(io::BufWriter::new(file));
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Stored)
        .large_file(true);
    add_folder(&mut zip, folder, name, options)?;
    let mut inner = zip
        .finish()
        .map_err(|e| AdminError::Local(format!("cannot write {}: {e}", out.display())))?;
    inner.flush().map_err(|e| io_error("cannot write", out, e))
}

fn add_folder<W: Write + io::Seek>(
    zip: &mut zip::ZipWriter<W>,
    folder: &Path,
    prefix: &str,
    options: zip::write::SimpleFileOptions,
) -> Result<(), AdminError> {
    let fail =
        |e: &dyn std::fmt::Display| AdminError::Local(format!("zip {}: {e}", folder.display()));
    let (files, folders) = entries(folder)?;
    for name in files {
        let path = folder.join(&name);
        zip.start_file(format!("{prefix}/{name}"), options)
            .map_err(|e| fail(&e))?;
        let mut file = fs::File::open(&path).map_err(|e| io_error("cannot read", &path, e))?;
        io::copy(&mut file, zip).map_err(|e| io_error("cannot read", &path, e))?;
    }
    for name in folders {
        let entry = format!("{prefix}/{name}");
        zip.add_directory(format!("{entry}/"), options)
            .map_err(|e| fail(&e))?;
        add_folder(zip, &folder.join(&name), &entry, options)?;
    }
    Ok(())
}

/// Unzips `zip_path` into `into`, refusing any entry whose path would land
/// outside it (absolute, `..`, or through a symbolic link entry).
pub fn unzip(zip_path: &Path, into: &Path) -> Result<(), AdminError> {
    let fail =
        |e: &dyn std::fmt::Display| AdminError::Local(format!("unzip {}: {e}", zip_path.display()));
    let file = fs::File::open(zip_path).map_err(|e| io_error("cannot read", zip_path, e))?;
    let mut archive = zip::ZipArchive::new(io::BufReader::new(file)).map_err(|e| fail(&e))?;
    fs::create_dir_all(into).map_err(|e| io_error("cannot create", into, e))?;
    for i in 0..archive.len() {
        let mut entry = archive.by_index(i).map_err(|e| fail(&e))?;
        let Some(relative) = entry.enclosed_name() else {
            return Err(fail(&format!(
                "entry {:?} would land outside {}",
                entry.name(),
                into.display()
            )));
        };
        if entry.is_symlink() {
            return Err(fail(&format!(
                "entry {:?} is a symbolic link",
                entry.name()
            )));
        }
        let target: PathBuf = into.join(relative);
        if entry.is_dir() {
            fs::create_dir_all(&target).map_err(|e| io_error("cannot create", &target, e))?;
            continue;
        }
        if let Some(parent) = target.parent() {
            fs::create_dir_all(parent).map_err(|e| io_error("cannot create", parent, e))?;
        }
        let mut out =
            fs::File::create(&target).map_err(|e| io_error("cannot create", &target, e))?;
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let n = entry.read(&mut buf).map_err(|e| fail(&e))?;
            if n == 0 {
                break;
            }
            out.write_all(&buf[..n])
                .map_err(|e| io_error("cannot write", &target, e))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn zip_with(entries: &[&str]) -> tempfile::NamedTempFile {
        let file = tempfile::NamedTempFile::new().unwrap();
        let mut zip = zip::ZipWriter::new(file.reopen().unwrap());
        for name in entries {
            zip.start_file(*name, zip::write::SimpleFileOptions::default())
                .unwrap();
            zip.write_all(b"x").unwrap();
        }
        zip.finish().unwrap();
        file
    }

    #[test]
    fn unzip_refuses_entries_outside_the_target() {
        for bad in ["../escape", "a/../../escape", "/etc/escape"] {
            let dir = tempfile::tempdir().unwrap();
            let into = dir.path().join("into");
            let zip = zip_with(&["ok/file", bad]);
            let err = unzip(zip.path(), &into).unwrap_err().to_string();
            assert!(err.contains("outside"), "{bad}: {err}");
            assert!(!dir.path().join("escape").exists());
        }
    }

    #[test]
    fn zip_then_unzip_gives_the_folder_back() {
        let dir = tempfile::tempdir().unwrap();
        let job = dir.path().join("job");
        fs::create_dir_all(job.join("app/config")).unwrap();
        fs::create_dir_all(job.join("empty")).unwrap();
        fs::write(job.join("app/config/c.json"), b"{}").unwrap();
        fs::write(job.join("Grüße.txt"), b"hi").unwrap();
        let out = dir.path().join("job.zip");
        zip_folder(&job, "job", &out).unwrap();
        let names: Vec<String> = {
            let mut a = zip::ZipArchive::new(fs::File::open(&out).unwrap()).unwrap();
            (0..a.len())
                .map(|i| a.by_index(i).unwrap().name().to_owned())
                .collect()
        };
        for expected in [
            "job/app/",
            "job/app/config/",
            "job/empty/",
            "job/Grüße.txt",
            "job/app/config/c.json",
        ] {
            assert!(
                names.iter().any(|n| n == expected),
                "{expected} in {names:?}"
            );
        }
        let back = dir.path().join("back");
        unzip(&out, &back).unwrap();
        assert_eq!(fs::read(back.join("job/Grüße.txt")).unwrap(), b"hi");
        assert!(back.join("job/empty").is_dir());
    }
}
