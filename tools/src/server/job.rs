//! What a submitted job zip must be: NVFlare's job definition checks
//! (`job_meta_validator.py`), and, unlike NVFlare 2.6.3, its signatures
//! verified at submit: every folder signed by a certificate that chains to
//! the root CA, every file and subfolder listed and verified. Files are
//! hashed as they are read from the zip, never held in memory.
//!
//! Before any entry is read, the zip's layout is checked, so that the
//! work for an upload is bounded by a constant times its size: at most
//! [`MAX_ZIP_ENTRIES`] entries in a central directory of at most
//! [`MAX_ZIP_DIRECTORY`] bytes (checked before the directory is parsed),
//! no two entries sharing bytes, each local header naming its entry as the
//! central directory does, and declared sizes that fit. As entries are
//! read, each must produce exactly the bytes it declares, and all of them
//! together at most [`MAX_JOB_SIZE`]. The job's `meta.json` is bounded in
//! size, values and depth, and so are the signature files.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fs::File;
use std::io::{self, BufReader, Read, Seek, SeekFrom};
use std::path::Path;

use base64::Engine;
use rsa::pss::{Signature, VerifyingKey};
use rsa::signature::DigestVerifier;
use rsa::traits::PublicKeyParts;
use rsa::RsaPublicKey;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use super::identity::{Cert, Chain};
use super::limits::{
    MAX_JOB_SIZE, MAX_META_DEPTH, MAX_META_SIZE, MAX_META_VALUES, MAX_ZIP_DIRECTORY,
    MAX_ZIP_ENTRIES, SIGNATURE_BYTES_PER_ENTRY,
};
use crate::jobs::{SIG_FILE, SUBMITTER_CRT};

type Archive = zip::ZipArchive<BufReader<File>>;

/// The largest submitter certificate read into memory.
const MAX_CERT_SIZE: u64 = 64 << 10;

fn u16_at(b: &[u8], at: usize) -> u64 {
    u64::from(u16::from_le_bytes([b[at], b[at + 1]]))
}

fn u32_at(b: &[u8], at: usize) -> u64 {
    u64::from(u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]]))
}

fn u64_at(b: &[u8], at: usize) -> u64 {
    let mut v = [0u8; 8];
    v.copy_from_slice(&b[at..at + 8]);
    u64::from_le_bytes(v)
}

/// The zip's entry count and central directory size, from its end records
/// (zip64 too), read before the directory itself is parsed.
fn directory_size(file: &mut File) -> Result<(u64, u64), String> {
    const EOCD: &[u8] = b"PK\x05\x06";
    const LOCATOR: &[u8] = b"PK\x06\x07";
    const EOCD64: &[u8] = b"PK\x06\x06";
    let bad = |e: io::Error| format!("bad zip: {e}");
    let len = file.metadata().map_err(bad)?.len();
    let tail_len = len.min(22 + 0xFFFF);
    let mut tail = vec![0u8; tail_len as usize];
    file.seek(SeekFrom::Start(len - tail_len)).map_err(bad)?;
    file.read_exact(&mut tail).map_err(bad)?;
    let at = (0..tail.len().saturating_sub(21))
        .rev()
        .find(|&i| &tail[i..i + 4] == EOCD && i + 22 + u16_at(&tail, i + 20) as usize == tail.len())
        .ok_or("bad zip: no end of central directory")?;
    let (mut entries, mut size) = (u16_at(&tail, at + 10), u32_at(&tail, at + 12));
    let offset = u32_at(&tail, at + 16);
    if entries == 0xFFFF || size == 0xFFFF_FFFF || offset == 0xFFFF_FFFF {
        let locator = at
            .checked_sub(20)
            .filter(|&l| &tail[l..l + 4] == LOCATOR)
            .ok_or("bad zip: no zip64 end of central directory locator")?;
        let mut record = [0u8; 56];
        file.seek(SeekFrom::Start(u64_at(&tail, locator + 8)))
            .map_err(bad)?;
        file.read_exact(&mut record).map_err(bad)?;
        if &record[..4] != EOCD64 {
            return Err("bad zip: no zip64 end of central directory".into());
        }
        entries = u64_at(&record, 32);
        size = u64_at(&record, 40);
    }
    Ok((entries, size))
}

/// The layout: entries that share no byte, local headers that name their
/// entries as the central directory does, declared sizes that fit.
fn check_layout(archive: &mut Archive, file: &mut File) -> Result<(), String> {
    let directory = archive.central_directory_start();
    let mut spans = Vec::with_capacity(archive.len());
    let mut declared: u64 = 0;
    let mut header = [0u8; 30];
    let mut local_name = Vec::new();
    for i in 0..archive.len() {
        let entry = archive
            .by_index_raw(i)
            .map_err(|e| format!("bad zip: {e}"))?;
        let name = String::from_utf8_lossy(entry.name_raw()).into_owned();
        let (start, data) = (entry.header_start(), entry.data_start());
        let (packed, size) = (entry.compressed_size(), entry.size());
        let end = data
            .checked_add(packed)
            .filter(|&end| end <= directory)
            .ok_or_else(|| format!("zip entry {name:?} runs past the entries' end"))?;
        if entry.compression() == zip::CompressionMethod::Stored && packed != size {
            return Err(format!(
                "zip entry {name:?} is stored, but declares {packed} bytes stored for {size}"
            ));
        }
        declared = declared.saturating_add(size);
        file.seek(SeekFrom::Start(start))
            .and_then(|_| file.read_exact(&mut header))
            .map_err(|e| format!("zip entry {name:?}: its local header: {e}"))?;
        let name_len = u16_at(&header, 26) as usize;
        local_name.resize(name_len, 0);
        file.read_exact(&mut local_name)
            .map_err(|e| format!("zip entry {name:?}: its local header: {e}"))?;
        if local_name != entry.name_raw() {
            return Err(format!(
                "zip entry {name:?} is named {:?} in its local header",
                String::from_utf8_lossy(&local_name)
            ));
        }
        spans.push((start, end, name));
    }
    if declared > MAX_JOB_SIZE {
        return Err(format!(
            "the zip's entries declare {declared} bytes, more than the limit of {MAX_JOB_SIZE}"
        ));
    }
    spans.sort_unstable_by_key(|s| s.0);
    for pair in spans.windows(2) {
        if pair[1].0 < pair[0].1 {
            return Err(format!(
                "zip entries {:?} and {:?} overlap",
                pair[0].2, pair[1].2
            ));
        }
    }
    Ok(())
}

/// A JSON value's members and elements, at every depth, and its depth;
/// stops counting past the bounds.
fn size_of_json(v: &Value, depth: usize, values: &mut usize) -> usize {
    if depth > MAX_META_DEPTH || *values > MAX_META_VALUES {
        return depth;
    }
    let children: Box<dyn Iterator<Item = &Value>> = match v {
        Value::Object(m) => Box::new(m.values()),
        Value::Array(a) => Box::new(a.iter()),
        _ => return depth,
    };
    let mut deepest = depth;
    for child in children {
        *values += 1;
        deepest = deepest.max(size_of_json(child, depth + 1, values));
        if deepest > MAX_META_DEPTH || *values > MAX_META_VALUES {
            break;
        }
    }
    deepest
}

/// The config file extensions NVFlare looks for.
const CONFIG_EXTS: [&str; 6] = [
    ".json",
    ".conf",
    ".yml",
    ".yaml",
    ".json.default",
    ".conf.default",
];

/// A folder of the job, as the zip's entries describe it.
#[derive(Default, Debug)]
struct Folder {
    /// File name → entry index.
    files: BTreeMap<String, usize>,
    /// Subfolder names.
    folders: BTreeSet<String>,
}

/// The folders of the zip, by path ("F", "F/app", ...).
fn tree(archive: &mut Archive, job: &str) -> Result<BTreeMap<String, Folder>, String> {
    let mut tree: BTreeMap<String, Folder> = BTreeMap::new();
    tree.insert(job.to_owned(), Folder::default());
    for i in 0..archive.len() {
        let entry = archive
            .by_index_raw(i)
            .map_err(|e| format!("bad zip: {e}"))?;
        let name = entry.name().to_owned();
        if entry.enclosed_name().is_none() || name.contains('\\') {
            return Err(format!(
                "zip entry {name:?} would land outside the job folder"
            ));
        }
        if entry.is_symlink() {
            return Err(format!("zip entry {name:?} is a symbolic link"));
        }
        let is_dir = entry.is_dir();
        let parts: Vec<&str> = name.trim_end_matches('/').split('/').collect();
        if parts[0] != job
            || parts
                .iter()
                .any(|p| p.is_empty() || *p == "." || *p == "..")
        {
            return Err(format!(
                "zip entry {name:?} is not under the job folder {job}/"
            ));
        }
        let (dirs, file) = if is_dir {
            (&parts[..], None)
        } else {
            (&parts[..parts.len() - 1], parts.last())
        };
        let mut path = String::new();
        for (k, part) in dirs.iter().enumerate() {
            if k > 0 {
                tree.entry(path.clone())
                    .or_default()
                    .folders
                    .insert(part.to_string());
                path.push('/');
            }
            path.push_str(part);
            tree.entry(path.clone()).or_default();
        }
        if let Some(file) = file {
            if parts.len() < 2 {
                return Err(format!(
                    "zip entry {name:?} is not under the job folder {job}/"
                ));
            }
            let folder = tree.entry(path).or_default();
            if folder.folders.contains(*file) || folder.files.insert(file.to_string(), i).is_some()
            {
                return Err(format!("zip entry {name:?} appears twice"));
            }
        }
    }
    // A name both a file and a folder.
    for (path, folder) in &tree {
        if let Some(both) = folder
            .folders
            .iter()
            .find(|f| folder.files.contains_key(*f))
        {
            return Err(format!("{path}/{both} is both a file and a folder"));
        }
    }
    Ok(tree)
}

/// Entry `index`, read whole, if it declares at most `max` bytes and holds
/// what it declares.
fn read_small(
    archive: &mut Archive,
    index: usize,
    what: &str,
    max: u64,
) -> Result<Vec<u8>, String> {
    let entry = archive
        .by_index(index)
        .map_err(|e| format!("{what}: {e}"))?;
    let size = entry.size();
    if size > max {
        return Err(format!("{what} is larger than {max} bytes"));
    }
    let mut data = Vec::with_capacity(size as usize);
    entry
        .take(size + 1)
        .read_to_end(&mut data)
        .map_err(|e| format!("{what}: {e}"))?;
    if data.len() as u64 != size {
        return Err(format!(
            "{what} declares {size} bytes but holds {}",
            if data.len() as u64 > size {
                "more"
            } else {
                "fewer"
            }
        ));
    }
    Ok(data)
}

/// Checks the job zip at `zip_path`, submitted as folder `job`; returns its
/// `meta.json` with `byoc` set as NVFlare sets it. The error is the
/// message for `invalid_job_def`.
pub fn check(zip_path: &Path, job: &str, chain: &Chain) -> Result<Map<String, Value>, String> {
    if job.is_empty() || job.contains(['/', '\\']) || job == "." || job == ".." {
        return Err(format!("bad job folder name {job:?}"));
    }
    let open = || File::open(zip_path).map_err(|e| format!("cannot read the upload: {e}"));
    let mut file = open()?;
    let (entries, size) = directory_size(&mut file)?;
    if entries > MAX_ZIP_ENTRIES {
        return Err(format!(
            "the zip has {entries} entries, more than the limit of {MAX_ZIP_ENTRIES}"
        ));
    }
    if size > MAX_ZIP_DIRECTORY {
        return Err(format!(
            "the zip's central directory is {size} bytes, more than the limit of {MAX_ZIP_DIRECTORY}"
        ));
    }
    let mut archive =
        zip::ZipArchive::new(BufReader::new(open()?)).map_err(|e| format!("bad zip: {e}"))?;
    check_layout(&mut archive, &mut file)?;
    let tree = tree(&mut archive, job)?;
    let meta = check_definition(&mut archive, &tree, job)?;
    verify_signatures(&mut archive, &tree, chain)?;
    Ok(meta)
}

fn sites(deployments: &Value) -> Result<Vec<String>, String> {
    let list = match deployments {
        Value::Array(list) => list,
        other => return Err(format!("bad deployment {other} in deploy_map")),
    };
    let mut out = Vec::new();
    for item in list {
        match item {
            Value::String(s) => out.push(s.clone()),
            Value::Object(o) => match o.get("sites").and_then(Value::as_array) {
                Some(sites) => {
                    out.extend(sites.iter().filter_map(Value::as_str).map(str::to_owned))
                }
                None => return Err(format!("bad deployment {item} in deploy_map")),
            },
            other => return Err(format!("bad deployment {other} in deploy_map")),
        }
    }
    Ok(out)
}

/// `job_meta_validator.py`'s checks, with its messages.
fn check_definition(
    archive: &mut Archive,
    tree: &BTreeMap<String, Folder>,
    job: &str,
) -> Result<Map<String, Value>, String> {
    let root = &tree[job];
    let Some(&index) = root.files.get("meta.json") else {
        if root.files.keys().any(|f| f.starts_with("meta.")) {
            return Err(format!(
                "only meta.json is supported as the job's meta file, for job {job}"
            ));
        }
        return Err(format!(
            "meta.[json|conf|yml] not existing for job {job}, possible in legacy job format.  Please upgrade the job structure."
        ));
    };
    let text = read_small(archive, index, "meta.json", MAX_META_SIZE)?;
    let mut meta: Map<String, Value> = match serde_json::from_slice(&text) {
        Ok(Value::Object(m)) => m,
        Ok(_) => return Err(format!("meta.json of job {job} is not a JSON object")),
        Err(e) => return Err(format!("meta.json of job {job}: {e}")),
    };
    drop(text);
    let mut values = 0;
    let mut depth = 1;
    for v in meta.values() {
        values += 1;
        depth = depth.max(size_of_json(v, 1, &mut values));
    }
    if values > MAX_META_VALUES {
        return Err(format!(
            "meta.json of job {job} holds more than {MAX_META_VALUES} values"
        ));
    }
    if depth > MAX_META_DEPTH {
        return Err(format!(
            "meta.json of job {job} nests deeper than {MAX_META_DEPTH} levels"
        ));
    }
    let deploy_map = match meta.get("deploy_map") {
        Some(Value::Object(m)) if !m.is_empty() => m.clone(),
        _ => return Err(format!("deploy_map is empty for job {job}")),
    };
    let mut site_list = Vec::new();
    for deployments in deploy_map.values() {
        site_list.extend(sites(deployments)?);
    }
    if site_list.is_empty() {
        return Err(format!("No site is specified in deploy_map for job {job}"));
    }
    let is_all = |s: &String| s.to_lowercase() == "@all";
    if site_list.iter().any(is_all) {
        if site_list.len() > 1 {
            return Err(format!(
                "No other site can be specified if @ALL is used for job {job}"
            ));
        }
    } else if !site_list.iter().any(|s| s == "server") {
        return Err(format!("Missing server site in deploy_map for job {job}"));
    } else {
        let mut seen = BTreeSet::new();
        let dups: BTreeSet<&String> = site_list.iter().filter(|s| !seen.insert(*s)).collect();
        if !dups.is_empty() {
            return Err(format!(
                "Multiple apps to be deployed to following sites {dups:?} for job {job}"
            ));
        }
    }
    let mut byoc = false;
    for (app, deployments) in &deploy_map {
        let sites = sites(deployments)?;
        let config = format!("{job}/{app}/config");
        let Some(folder) = tree.get(&config) else {
            return Err(format!(
                "App '{app}' in deploy_map doesn't exist for job {job}"
            ));
        };
        let has = |base: &str| {
            CONFIG_EXTS
                .iter()
                .any(|ext| folder.files.contains_key(&format!("{base}{ext}")))
        };
        let all = sites.iter().any(is_all);
        if (all || sites.iter().any(|s| s == "server")) && !has("config_fed_server") {
            return Err(format!(
                "App '{app}' will be deployed to server but server config is missing"
            ));
        }
        if (all || sites.iter().any(|s| s != "server")) && !has("config_fed_client") {
            return Err(format!(
                "App '{app}' will be deployed to client but client config is missing"
            ));
        }
        byoc |= tree.contains_key(&format!("{job}/{app}/custom"));
    }
    if byoc {
        meta.insert("byoc".into(), Value::Bool(true));
    }
    let clients: BTreeSet<&String> = site_list.iter().filter(|s| *s != "server").collect();
    let all_sites = site_list.iter().any(is_all);
    if let Some(value) = meta.get("min_clients") {
        let min = match value {
            Value::Number(n) => n.as_i64(),
            Value::String(s) => s.trim().parse().ok(),
            _ => None,
        }
        .ok_or_else(|| format!("invalid data type for {value},can't not convert to Int"))?;
        if min <= 0 {
            return Err(format!("min_clients {min} must be positive for job {job}"));
        }
        if min > 1_000_000 {
            return Err(format!(
                "min_clients {min} must be less than 1000000  for job {job}"
            ));
        }
        if !all_sites && (clients.len() as i64) < min {
            return Err(format!(
                "min {min} clients required for job {job}, found {}.",
                clients.len()
            ));
        }
    }
    if let Some(spec) = meta.get("resource_spec") {
        if !spec.is_null() && !spec.is_object() {
            return Err(format!("Invalid resource_spec for job {job}"));
        }
    }
    if !all_sites {
        if let Some(Value::Array(mandatory)) = meta.get("mandatory_clients") {
            let missing: Vec<&str> = mandatory
                .iter()
                .filter_map(Value::as_str)
                .filter(|m| !clients.iter().any(|c| c == m))
                .collect();
            if !missing.is_empty() {
                return Err(format!(
                    "Mandatory clients {missing:?} are not in the deploy_map for job {job}"
                ));
            }
        }
    }
    Ok(meta)
}

/// A signer's key, with the salt length NVFlare signs with.
struct Signer {
    key: VerifyingKey<Sha256>,
}

impl Signer {
    fn new(key: RsaPublicKey) -> Signer {
        let salt = crate::jobs::max_salt_len(key.n().bits());
        Signer {
            key: VerifyingKey::new_with_salt_len(key, salt),
        }
    }

    fn verify(&self, digest: Sha256, signature: &str) -> bool {
        let Ok(bytes) = base64::engine::general_purpose::STANDARD.decode(signature.trim()) else {
            return false;
        };
        let Ok(signature) = Signature::try_from(bytes.as_slice()) else {
            return false;
        };
        self.key.verify_digest(digest, &signature).is_ok()
    }
}

/// Every folder signed, by a certificate that chains to the root CA; every
/// file and subfolder listed in its folder's signatures, and no more.
fn verify_signatures(
    archive: &mut Archive,
    tree: &BTreeMap<String, Folder>,
    chain: &Chain,
) -> Result<(), String> {
    // Certificates already checked, by their PEM text.
    let mut signers: HashMap<Vec<u8>, Signer> = HashMap::new();
    let mut buf = vec![0u8; 64 * 1024];
    let mut total: u64 = 0;
    let unzipped = &mut total;
    for (path, folder) in tree {
        let unsigned = || format!("{path}/ is not signed: no {SIG_FILE} and {SUBMITTER_CRT}");
        let sig_index = *folder.files.get(SIG_FILE).ok_or_else(unsigned)?;
        let crt_index = *folder.files.get(SUBMITTER_CRT).ok_or_else(unsigned)?;
        let pem = read_small(
            archive,
            crt_index,
            &format!("{path}/{SUBMITTER_CRT}"),
            MAX_CERT_SIZE,
        )?;
        if !signers.contains_key(&pem) {
            let cert = Cert::from_pem(&pem).map_err(|e| format!("{path}/{SUBMITTER_CRT}: {e}"))?;
            chain.verify(&cert).map_err(|e| {
                format!("{path}/{SUBMITTER_CRT} is not from this project's root CA: {e}")
            })?;
            let key = cert
                .rsa_key()
                .map_err(|e| format!("{path}/{SUBMITTER_CRT}: {e}"))?;
            signers.insert(pem.clone(), Signer::new(key));
        }
        let signer = &signers[&pem];
        let signed = (folder.files.len() + folder.folders.len()) as u64;
        let sig_text = read_small(
            archive,
            sig_index,
            &format!("{path}/{SIG_FILE}"),
            SIGNATURE_BYTES_PER_ENTRY * (signed + 1),
        )?;
        let signatures: Map<String, Value> = match serde_json::from_slice(&sig_text) {
            Ok(Value::Object(m)) => m,
            _ => return Err(format!("{path}/{SIG_FILE} is not a JSON object")),
        };
        let mut listed = 0;
        for (name, &index) in &folder.files {
            if name == SIG_FILE || name == SUBMITTER_CRT {
                continue;
            }
            listed += 1;
            let Some(signature) = signatures.get(name).and_then(Value::as_str) else {
                return Err(format!("{path}/{name} is not signed"));
            };
            let mut hash = Sha256::new();
            let mut entry = archive
                .by_index(index)
                .map_err(|e| format!("{path}/{name}: {e}"))?;
            let declared = entry.size();
            let mut got: u64 = 0;
            loop {
                match entry.read(&mut buf) {
                    Ok(0) => break,
                    Ok(n) => {
                        // Counted as produced: no entry gives more than it
                        // declares, nor all of them more than the limit.
                        got += n as u64;
                        *unzipped += n as u64;
                        if got > declared {
                            return Err(format!(
                                "{path}/{name} holds more than the {declared} bytes it declares"
                            ));
                        }
                        if *unzipped > MAX_JOB_SIZE {
                            return Err(format!(
                                "the job unzips to more than the limit of {MAX_JOB_SIZE} bytes"
                            ));
                        }
                        hash.update(&buf[..n]);
                    }
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) => return Err(format!("{path}/{name}: {e}")),
                }
            }
            if got != declared {
                return Err(format!(
                    "{path}/{name} holds {got} bytes, not the {declared} it declares"
                ));
            }
            if !signer.verify(hash, signature) {
                return Err(format!(
                    "{path}/{name} does not match its signature: changed after signing, or signed by another key"
                ));
            }
        }
        for name in &folder.folders {
            listed += 1;
            let Some(signature) = signatures.get(name).and_then(Value::as_str) else {
                return Err(format!("{path}/{name}/ is not signed"));
            };
            if !signer.verify(Sha256::new_with_prefix(name.as_bytes()), signature) {
                return Err(format!("{path}/{name}/ does not match its signature"));
            }
        }
        if listed != signatures.len() {
            return Err(format!(
                "{path}/{SIG_FILE} signs entries that are not in the job"
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn zip_with(dir: &Path, entries: &[(&str, &str)]) -> std::path::PathBuf {
        let path = dir.join("job.zip");
        let mut zip = zip::ZipWriter::new(File::create(&path).unwrap());
        for (name, data) in entries {
            if name.ends_with('/') {
                zip.add_directory(*name, zip::write::SimpleFileOptions::default())
                    .unwrap();
            } else {
                zip.start_file(*name, zip::write::SimpleFileOptions::default())
                    .unwrap();
                zip.write_all(data.as_bytes()).unwrap();
            }
        }
        zip.finish().unwrap();
        path
    }

    const APP: [(&str, &str); 3] = [
        ("j/app/config/", ""),
        ("j/app/config/config_fed_server.json", "{}"),
        ("j/app/config/config_fed_client.json", "{}"),
    ];

    #[test]
    fn bad_jobs_are_refused_with_nvflare_s_reasons() {
        let dir = tempfile::tempdir().unwrap();
        let pki = nvflare_hci_testkit::tls::Pki::new(&dir.path().join("pki"), "ca");
        let chain = Chain::new(crate::tls::roots(&pki.path("ca.pem")).unwrap()).unwrap();
        let meta = |m: &'static str| ("j/meta.json", m);
        let all = r#"{"deploy_map": {"app": ["@ALL"]}, "min_clients": 1}"#;
        let cases: Vec<(Vec<(&str, &str)>, &str)> = vec![
            (vec![meta(all), ("j/../evil", "x")], "job folder"),
            (vec![meta(all), ("/etc/evil", "x")], "outside"),
            (
                vec![meta(all), ("other/file", "x")],
                "not under the job folder",
            ),
            (APP.to_vec(), "meta.[json|conf|yml] not existing"),
            (vec![meta(r#"{"deploy_map": {}}"#)], "deploy_map is empty"),
            (
                vec![meta(r#"{"deploy_map": {"app": ["@ALL", "server"]}}"#)],
                "No other site",
            ),
            (
                vec![meta(r#"{"deploy_map": {"app": ["site-1"]}}"#)],
                "Missing server site",
            ),
            (vec![meta(all)], "App 'app' in deploy_map doesn't exist"),
            (
                vec![meta(all), ("j/app/config/", "")],
                "server config is missing",
            ),
            (
                [
                    vec![meta(
                        r#"{"deploy_map": {"app": ["@ALL"]}, "min_clients": 0}"#,
                    )],
                    APP.to_vec(),
                ]
                .concat(),
                "must be positive",
            ),
            (
                [
                    vec![meta(
                        r#"{"deploy_map": {"app": ["server", "site-1"]}, "min_clients": 2}"#,
                    )],
                    APP.to_vec(),
                ]
                .concat(),
                "min 2 clients required",
            ),
            ([vec![meta(all)], APP.to_vec()].concat(), "is not signed"),
        ];
        for (entries, reason) in cases {
            let zip = zip_with(dir.path(), &entries);
            let err = check(&zip, "j", &chain).unwrap_err();
            assert!(err.contains(reason), "{entries:?}: {err}");
        }
        let zip = zip_with(dir.path(), &[meta(all)]);
        assert!(check(&zip, "../j", &chain)
            .unwrap_err()
            .contains("bad job folder"));
    }
}
