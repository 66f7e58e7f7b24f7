//! The job store: `jobs/ID/meta.json` and `jobs/ID/job.zip` (the zip as
//! uploaded). Nothing in `jobs/` is ever partial: a job is built under
//! `.tmp/` and renamed into place, a meta is rewritten by renaming a new
//! file over it, and a job is deleted by renaming it out first. `.tmp/`
//! (upload spools, jobs being built) and `.transfer/` (downloads being
//! served) are emptied at start.
//!
//! Every change is durable before it returns: the files are synced before
//! the rename that shows them, and the folder after it, so that a job the
//! server has acknowledged survives a power cut.
//!
//! `list_jobs` reads the jobs' [`Summary`]s, kept in memory and changed
//! with the store: it never parses the stored metas.

use std::collections::HashMap;
use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use nvflare_hci::BodyFile;
use serde_json::{Map, Value};

/// A job's meta: `meta.json` plus what the server adds.
pub type Meta = Map<String, Value>;

/// What `list_jobs` shows of a job: a few short fields of its meta.
#[derive(Debug, Clone, PartialEq)]
pub struct Summary {
    /// The job's id.
    pub job_id: String,
    /// `name`, or `job_folder_name` when the meta names none.
    pub name: String,
    /// `status`.
    pub status: String,
    /// `submit_time`, seconds since the epoch.
    pub submit_time: f64,
    /// `submit_time_iso`.
    pub submit_time_iso: String,
    /// `duration`, as text.
    pub duration: String,
    /// `submitter_name`.
    pub submitter_name: String,
}

/// The longest text a summary keeps of a field.
const SUMMARY_FIELD: usize = 1024;

impl Summary {
    /// The summary of `meta`.
    pub fn of(meta: &Meta) -> Summary {
        let field = |k: &str| -> String {
            let v = meta.get(k).and_then(Value::as_str).unwrap_or("");
            v.chars().take(SUMMARY_FIELD).collect()
        };
        let name = match field("name") {
            n if n.is_empty() => field("job_folder_name"),
            n => n,
        };
        let duration = meta.get("duration").map_or("N/A".to_owned(), |d| {
            let d = d.as_str().map_or(d.to_string(), str::to_owned);
            d.chars().take(SUMMARY_FIELD).collect()
        });
        Summary {
            job_id: field("job_id"),
            name,
            status: field("status"),
            submit_time: meta
                .get("submit_time")
                .and_then(Value::as_f64)
                .unwrap_or(0.0),
            submit_time_iso: field("submit_time_iso"),
            duration,
            submitter_name: field("submitter_name"),
        }
    }
}

/// The job store.
pub struct Store {
    root: PathBuf,
    /// Serializes changes to metas (abort's read-modify-write, delete).
    lock: Mutex<()>,
    /// Every job's summary, by id.
    summaries: Mutex<HashMap<String, Summary>>,
}

fn clear(dir: &Path) -> io::Result<()> {
    if dir.exists() {
        fs::remove_dir_all(dir)?;
    }
    fs::create_dir_all(dir)
}

/// Job ids are uuid4 strings, lower case: nothing else names a job folder.
pub fn is_job_id(id: &str) -> bool {
    uuid::Uuid::parse_str(id)
        .map(|u| u.get_version_num() == 4 && u.hyphenated().to_string() == id)
        .unwrap_or(false)
}

impl Store {
    /// Opens (creates) the store at `root`, and removes what an earlier
    /// run left in `.tmp/` and `.transfer/`.
    pub fn open(root: &Path) -> io::Result<Store> {
        fs::create_dir_all(root.join("jobs"))?;
        clear(&root.join(".tmp"))?;
        clear(&root.join(".transfer"))?;
        let store = Store {
            root: root.to_path_buf(),
            lock: Mutex::new(()),
            summaries: Mutex::new(HashMap::new()),
        };
        // Each stored meta is parsed once, here, one at a time.
        let mut summaries = HashMap::new();
        for entry in fs::read_dir(root.join("jobs"))? {
            let name = entry?.file_name();
            if let Some((id, meta)) = name.to_str().and_then(|id| Some((id, store.get(id)?))) {
                summaries.insert(id.to_owned(), Summary::of(&meta));
            }
        }
        *store.summaries() = summaries;
        Ok(store)
    }

    fn summaries(&self) -> std::sync::MutexGuard<'_, HashMap<String, Summary>> {
        self.summaries.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Every job's summary, in no order.
    pub fn list(&self) -> Vec<Summary> {
        let mut summaries = self.summaries();
        // A job folder removed by hand is gone from the list at once.
        summaries.retain(|id, _| self.job_dir(id).join("meta.json").is_file());
        summaries.values().cloned().collect()
    }

    /// Where uploads are spooled: inside the store, so that they are renamed
    /// into place, never copied.
    pub fn spool(&self) -> PathBuf {
        self.root.join(".tmp")
    }

    fn job_dir(&self, id: &str) -> PathBuf {
        self.root.join("jobs").join(id)
    }

    fn temp_name(&self, what: &str) -> PathBuf {
        self.spool()
            .join(format!("{what}.{}", uuid::Uuid::new_v4().simple()))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, ()> {
        self.lock.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Stores a new job: `meta` (its `job_id` set) and the uploaded zip.
    pub fn create(&self, meta: &Meta, zip: BodyFile) -> io::Result<()> {
        let id = meta["job_id"].as_str().unwrap_or_default();
        let stage = self.temp_name("new");
        fs::create_dir(&stage)?;
        let built = (|| {
            let zip = zip
                .persist(stage.join("job.zip"))
                .map_err(|e| e.into_parts().0)?;
            zip.sync_all()?;
            write_json(&stage.join("meta.json"), meta)?;
            self.show(&stage, id)
        })();
        if built.is_err() {
            let _ = fs::remove_dir_all(&stage);
            return built;
        }
        self.summaries().insert(id.to_owned(), Summary::of(meta));
        Ok(())
    }

    /// Renames the folder `stage`, its files synced, to `jobs/ID`, and
    /// syncs what the rename changed.
    fn show(&self, stage: &Path, id: &str) -> io::Result<()> {
        sync_dir(stage)?;
        fs::rename(stage, self.job_dir(id))?;
        sync_dir(&self.root.join("jobs"))
    }

    /// A copy of job `from` under `meta` (its `job_id` set): the zip is
    /// linked, not copied, where the file system allows.
    pub fn clone_job(&self, from: &str, meta: &Meta) -> io::Result<()> {
        let id = meta["job_id"].as_str().unwrap_or_default();
        let stage = self.temp_name("clone");
        fs::create_dir(&stage)?;
        let built = (|| {
            link_or_copy(&self.job_dir(from).join("job.zip"), &stage.join("job.zip"))?;
            File::open(stage.join("job.zip"))?.sync_all()?;
            write_json(&stage.join("meta.json"), meta)?;
            self.show(&stage, id)
        })();
        if built.is_err() {
            let _ = fs::remove_dir_all(&stage);
            return built;
        }
        self.summaries().insert(id.to_owned(), Summary::of(meta));
        Ok(())
    }

    /// The meta of job `id`, if there is such a job.
    pub fn get(&self, id: &str) -> Option<Meta> {
        if !is_job_id(id) {
            return None;
        }
        let text = fs::read(self.job_dir(id).join("meta.json")).ok()?;
        match serde_json::from_slice(&text) {
            Ok(Value::Object(m)) => Some(m),
            _ => None,
        }
    }

    /// Changes job `id`'s meta with `f` (under the store's lock); the new
    /// meta, or `None` when the job is gone.
    pub fn update<F: FnOnce(&mut Meta)>(&self, id: &str, f: F) -> io::Result<Option<Meta>> {
        let _guard = self.lock();
        let Some(mut meta) = self.get(id) else {
            return Ok(None);
        };
        f(&mut meta);
        let temp = self.temp_name("meta");
        write_json(&temp, &meta)?;
        if let Err(e) = fs::rename(&temp, self.job_dir(id).join("meta.json")) {
            let _ = fs::remove_file(&temp);
            return Err(e);
        }
        sync_dir(&self.job_dir(id))?;
        self.summaries().insert(id.to_owned(), Summary::of(&meta));
        Ok(Some(meta))
    }

    /// Deletes job `id`: renamed out of `jobs/` first, so it vanishes at once.
    pub fn delete(&self, id: &str) -> io::Result<()> {
        let _guard = self.lock();
        let gone = self.temp_name("deleted");
        fs::rename(self.job_dir(id), &gone)?;
        self.summaries().remove(id);
        sync_dir(&self.root.join("jobs"))?;
        fs::remove_dir_all(&gone)
    }

    /// Stages a download of job `id` in `.transfer/TX/`: `meta.json` and
    /// `job.zip` (linked). Returns the folder.
    pub fn stage_download(&self, id: &str, tx: &str, meta: &Meta) -> io::Result<PathBuf> {
        let dir = self.root.join(".transfer").join(tx);
        fs::create_dir_all(&dir)?;
        let staged = (|| {
            link_or_copy(&self.job_dir(id).join("job.zip"), &dir.join("job.zip"))?;
            write_json(&dir.join("meta.json"), meta)
        })();
        if let Err(e) = staged {
            let _ = fs::remove_dir_all(&dir);
            return Err(e);
        }
        Ok(dir)
    }
}

/// Writes `meta` to a new file at `path`, synced.
fn write_json(path: &Path, meta: &Meta) -> io::Result<()> {
    let text = serde_json::to_vec_pretty(meta).map_err(io::Error::other)?;
    let mut file = File::create(path)?;
    file.write_all(&text)?;
    file.sync_all()
}

/// Syncs a folder: the names in it (a rename, a new file) are durable.
fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

/// A hard link, or a copy where links are not possible.
fn link_or_copy(from: &Path, to: &Path) -> io::Result<()> {
    match fs::hard_link(from, to) {
        Ok(()) => Ok(()),
        Err(_) => fs::copy(from, to).map(|_| ()),
    }
}
