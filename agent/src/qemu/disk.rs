//! A VM's disk: a sparse file under its directory that only ever grows.

use super::{Error, Qemu, VmSpec, io_at};

impl Qemu {
    /// Makes the VM's disk a sparse file of at least `spec.disk_bytes`: creates it, grows it, or
    /// leaves it as it is; never shrinks it.
    pub async fn ensure_disk(&self, spec: &VmSpec) -> Result<(), Error> {
        let _lock = self.lock(spec.id).await;
        self.ensure_disk_locked(spec).await
    }

    pub(super) async fn ensure_disk_locked(&self, spec: &VmSpec) -> Result<(), Error> {
        let paths = self.paths(spec.id);
        tokio::fs::create_dir_all(&paths.dir)
            .await
            .map_err(io_at(&paths.dir))?;
        let disk = tokio::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&paths.disk)
            .await
            .map_err(io_at(&paths.disk))?;
        let current = disk.metadata().await.map_err(io_at(&paths.disk))?.len();
        if current > spec.disk_bytes {
            return Err(Error::DiskShrink {
                current,
                requested: spec.disk_bytes,
            });
        }
        if current < spec.disk_bytes {
            disk.set_len(spec.disk_bytes).await.map_err(io_at(&paths.disk))?;
            tracing::info!(vm.id = %spec.id, disk.from_bytes = current, disk.bytes = spec.disk_bytes, "disk grown");
        }
        Ok(())
    }
}
