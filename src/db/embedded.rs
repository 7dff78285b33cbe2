// TEMPORARY STUB written by the lead so the crate compiles; the pg helper replaces this file.
use std::path::Path;
#[derive(Debug, thiserror::Error)]
#[error("embedded postgres not yet implemented")]
pub struct EmbeddedError;
pub struct EmbeddedPostgres;
impl EmbeddedPostgres {
    pub async fn start(_data_dir: &Path) -> Result<EmbeddedPostgres, EmbeddedError> {
        Err(EmbeddedError)
    }
    pub fn url(&self) -> String {
        String::new()
    }
    pub async fn stop(self) -> Result<(), EmbeddedError> {
        Ok(())
    }
}
