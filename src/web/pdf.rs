//! Reports as PDF, printed by the machine's headless Chromium (`config.chromium`): the
//! report's own HTML, with its stylesheet inlined, is written to a private temporary folder
//! and printed at A4 with the report's print styles. Chromium lays out the page exactly as
//! the browser's "Print" does, so the PDF and a printed page are the same; no Rust PDF
//! library lays out HTML and CSS. One print at a time per instance, 30 s at most.

use std::path::Path;
use std::time::Duration;

use tokio::process::Command;
use tokio::sync::Semaphore;

/// Prints run one after another: each is a Chromium of a few hundred megabytes.
static PRINTS: Semaphore = Semaphore::const_new(1);

/// How long a print may take, waiting for its turn included.
const TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Debug, thiserror::Error)]
pub enum PdfError {
    #[error("no Chromium to print with")]
    Unavailable,
    #[error("printing took longer than {0:?}")]
    Timeout(Duration),
    #[error("printing failed: {0}")]
    Failed(String),
}

/// The PDF of a standalone HTML page (no request it makes may leave the file).
pub async fn print(chromium: Option<&Path>, html: &str) -> Result<Vec<u8>, PdfError> {
    let chromium = chromium.ok_or(PdfError::Unavailable)?;
    match tokio::time::timeout(TIMEOUT, print_with(chromium, html)).await {
        Ok(result) => result,
        Err(_) => Err(PdfError::Timeout(TIMEOUT)),
    }
}

async fn print_with(chromium: &Path, html: &str) -> Result<Vec<u8>, PdfError> {
    let _turn = PRINTS
        .acquire()
        .await
        .map_err(|e| PdfError::Failed(e.to_string()))?;
    let folder = tempfile_dir().map_err(|e| PdfError::Failed(e.to_string()))?;
    let page = folder.path().join("report.html");
    let out = folder.path().join("report.pdf");
    tokio::fs::write(&page, html)
        .await
        .map_err(|e| PdfError::Failed(e.to_string()))?;
    let output = Command::new(chromium)
        .arg("--headless")
        .arg("--no-sandbox")
        .arg("--disable-gpu")
        .arg("--disable-extensions")
        .arg("--disable-background-networking")
        .arg("--no-first-run")
        .arg("--no-pdf-header-footer")
        // Nothing on the page may be fetched from anywhere.
        .arg("--proxy-server=127.0.0.1:9")
        .arg(format!(
            "--user-data-dir={}",
            folder.path().join("profile").display()
        ))
        .arg(format!("--print-to-pdf={}", out.display()))
        .arg(format!("file://{}", page.display()))
        .kill_on_drop(true)
        .stdin(std::process::Stdio::null())
        .output()
        .await
        .map_err(|e| PdfError::Failed(format!("{}: {e}", chromium.display())))?;
    match tokio::fs::read(&out).await {
        Ok(bytes) if bytes.starts_with(b"%PDF") => Ok(bytes),
        _ => Err(PdfError::Failed(format!(
            "{} exited with {}: {}",
            chromium.display(),
            output.status,
            String::from_utf8_lossy(&output.stderr)
                .lines()
                .last()
                .unwrap_or("")
        ))),
    }
}

/// A private temporary folder, removed when dropped.
struct TempDir(std::path::PathBuf);

impl TempDir {
    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn tempfile_dir() -> std::io::Result<TempDir> {
    use std::os::unix::fs::DirBuilderExt;
    let path = std::env::temp_dir().join(format!("trellis-print-{}", uuid::Uuid::new_v4()));
    std::fs::DirBuilder::new().mode(0o700).create(&path)?;
    Ok(TempDir(path))
}
