//! A received body in its temporary file: [`BodyFile`], and
//! [`BodyPersistError`] when it cannot be kept or moved. Depends on nothing
//! else in the crate, so that the error type can hold the body.

use std::fmt;
use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use tempfile::NamedTempFile;

/// A received body in a temporary file named `<dir>/<uuid4>`, as the Python
/// module names it.
///
/// The file is deleted when the `BodyFile` is dropped, unless it is
/// [kept](BodyFile::keep) or [persisted](BodyFile::persist). It reads (and
/// seeks) from the start of the body.
pub struct BodyFile {
    file: NamedTempFile,
    len: u64,
    checksum: u32,
}

impl fmt::Debug for BodyFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BodyFile")
            .field("path", &self.path())
            .field("len", &self.len)
            .field("checksum", &self.checksum)
            .finish()
    }
}

impl BodyFile {
    /// A body of `len` bytes in `file`, read from its start, whose CRC-32
    /// is `checksum`.
    pub(crate) fn new(file: NamedTempFile, len: u64, checksum: u32) -> Self {
        BodyFile {
            file,
            len,
            checksum,
        }
    }

    /// Where the body is while this value lives.
    pub fn path(&self) -> &Path {
        self.file.path()
    }

    /// Bytes in the body.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// The body's CRC-32 (zlib's), as the peer's footer gave it and the
    /// received bytes verified it: no need to read the file again.
    pub fn checksum(&self) -> u32 {
        self.checksum
    }

    /// True for an empty body.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The open file.
    pub fn as_file(&self) -> &File {
        self.file.as_file()
    }

    /// The open file, mutably.
    pub fn as_file_mut(&mut self) -> &mut File {
        self.file.as_file_mut()
    }

    /// Keeps the file where it is, as Python's `receive_all` leaves it:
    /// it will no longer be deleted. On Unix its mode is `0600`.
    ///
    /// # Errors
    /// [`BodyPersistError`], which gives the `BodyFile` back.
    pub fn keep(self) -> Result<(File, PathBuf), BodyPersistError> {
        let BodyFile {
            file,
            len,
            checksum,
        } = self;
        file.keep()
            .map_err(|e| BodyPersistError::give_back(e, len, checksum))
    }

    /// Moves the body to `path` atomically (a rename, replacing any file
    /// there): `path` holds either its old content or the whole body, never a
    /// part. `path` must be on the same filesystem as the temporary file; spool
    /// bodies into that filesystem with [`MsgDataProcessor::in_dir`](crate::MsgDataProcessor::in_dir).
    ///
    /// The file keeps the temporary file's permissions: on Unix, mode
    /// `0600` (read and write for the owner only), whatever the umask. To
    /// give it others, use [`persist_with_permissions`](BodyFile::persist_with_permissions).
    ///
    /// # Errors
    /// [`BodyPersistError`] (e.g. a cross-device rename), which gives the
    /// `BodyFile` back so nothing is lost.
    pub fn persist<P: AsRef<Path>>(self, path: P) -> Result<File, BodyPersistError> {
        let BodyFile {
            file,
            len,
            checksum,
        } = self;
        file.persist(path)
            .map_err(|e| BodyPersistError::give_back(e, len, checksum))
    }

    /// Moves the body to `path` as [`persist`](BodyFile::persist) does,
    /// with `permissions` set on the file before it takes its place, so it
    /// never appears there with other ones.
    ///
    /// ```
    /// # #[cfg(unix)] {
    /// use std::os::unix::fs::PermissionsExt;
    /// use nvflare_hci::{Connection, Exchange};
    /// let mut wire = Vec::new();
    /// nvflare_hci::send_binary_data(&mut wire, &b"job bytes"[..], "upload")?;
    /// let dir = tempfile::tempdir()?;
    /// let mut conn = Connection::from_halves(&wire[..], Vec::new());
    /// let mut spool = nvflare_hci::MsgDataProcessor::in_dir(dir.path());
    /// if let Exchange::Binary { body, .. } = conn.receive_and_parse(&mut spool)? {
    ///     let dest = dir.path().join("job.zip");
    ///     body.persist_with_permissions(&dest, std::fs::Permissions::from_mode(0o644))?;
    ///     assert_eq!(std::fs::metadata(&dest)?.permissions().mode() & 0o777, 0o644);
    /// }
    /// # }
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// [`BodyPersistError`], when the permissions cannot be set or the
    /// rename fails; it gives the `BodyFile` back.
    pub fn persist_with_permissions<P: AsRef<Path>>(
        self,
        path: P,
        permissions: std::fs::Permissions,
    ) -> Result<File, BodyPersistError> {
        if let Err(error) = self.as_file().set_permissions(permissions) {
            return Err(BodyPersistError { error, body: self });
        }
        self.persist(path)
    }
}

impl Read for BodyFile {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.file.read(buf)
    }
}

impl Seek for BodyFile {
    fn seek(&mut self, pos: SeekFrom) -> io::Result<u64> {
        self.file.seek(pos)
    }
}

/// A failed [`BodyFile::keep`] or [`BodyFile::persist`]: the cause, and the
/// body, still in its temporary file.
///
/// `?` turns it into [`Error::Persist`](crate::Error::Persist), which keeps
/// it, body included.
#[derive(Debug)]
pub struct BodyPersistError {
    error: io::Error,
    body: BodyFile,
}

impl BodyPersistError {
    /// The failure of keeping or moving the temporary file, with the body
    /// rebuilt around the file the failure gave back.
    fn give_back(e: tempfile::PersistError, len: u64, checksum: u32) -> Self {
        BodyPersistError {
            error: e.error,
            body: BodyFile {
                file: e.file,
                len,
                checksum,
            },
        }
    }

    /// Why the file could not be kept or moved.
    pub fn error(&self) -> &io::Error {
        &self.error
    }

    /// The body, unchanged, still in its temporary file.
    pub fn body(&self) -> &BodyFile {
        &self.body
    }

    /// The body, to retry or read.
    pub fn into_body(self) -> BodyFile {
        self.body
    }

    /// The cause and the body.
    pub fn into_parts(self) -> (io::Error, BodyFile) {
        (self.error, self.body)
    }
}

impl fmt::Display for BodyPersistError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "failed to persist body file {}",
            self.body.path().display()
        )
    }
}

impl std::error::Error for BodyPersistError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.error)
    }
}
