//! A directory tree with every binaryFile edge case Spark defines, with fixed contents and
//! modification times so that results can be pinned exactly.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

/// 2024-01-01T00:00:00Z: the modification time of every fixture file but `fruits/old.jpg`.
pub const MTIME_2024: u64 = 1_704_067_200;
/// 2020-06-01T00:00:00Z: the modification time of `fruits/old.jpg`.
pub const MTIME_2020: u64 = 1_590_969_600;

/// (relative path, content); content "" makes a 0-byte file.
pub const FILES: &[(&str, &str)] = &[
    ("fruits/Apple Braeburn/0_100.jpg", "apple-0"),
    ("fruits/Apple Braeburn/1_100.jpg", "apple-one"),
    ("fruits/Banana/0_100.jpg", "banana"),
    ("fruits/Banana/UPPER.JPG", "upper"),
    ("fruits/Banana/empty.jpg", ""),
    ("fruits/Banana/.hidden.jpg", "hidden"),
    ("fruits/Banana/_underscore.jpg", "under"),
    ("fruits/Banana/notes.txt", "text"),
    ("fruits/.cache/0_100.jpg", "cache"),
    ("fruits/_temporary/0_100.jpg", "tmp"),
    ("fruits/Café #1 %20 [x],+/0_100.jpg", "cafe"),
    ("fruits/Cherry 1/extra_level/0_100.jpg", "cherry"),
    ("fruits/old.jpg", "old"),
    ("fruits360/Apple Braeburn/0_100.jpg", "f1"),
    ("fruits360/Banana/0_100.jpg", "f2"),
    ("partitioned/label=Apple/0.jpg", "pa"),
    ("partitioned/label=Banana/0.jpg", "pb"),
    ("partitioned/label=Banana/1.jpg", "pb1"),
    ("partitioned/label=Apple%20Braeburn/0.jpg", "pab"),
    ("partitioned/_SUCCESS", "x"),
    ("years/year=2023/a.jpg", "y23"),
    ("years/year=2024/b.jpg", "y24"),
    ("conflict/label=Apple/0.jpg", "c1"),
    ("conflict/Banana/0.jpg", "c2"),
];

pub struct Fixtures {
    dir: tempfile::TempDir,
}

impl Fixtures {
    pub fn build() -> Fixtures {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("fixture dir: {e}"));
        for (relative, content) in FILES {
            let path = dir.path().join(relative);
            write(&path, content.as_bytes(), if relative.ends_with("old.jpg") { MTIME_2020 } else { MTIME_2024 });
        }
        std::fs::create_dir_all(dir.path().join("empty")).unwrap_or_else(|e| panic!("empty dir: {e}"));
        // A file larger than the 1000-byte limit the tests set.
        write(&dir.path().join("big/big.jpg"), &[7u8; 1500], MTIME_2024);
        write(&dir.path().join("big/small.jpg"), &[7u8; 10], MTIME_2024);
        Fixtures { dir }
    }

    pub fn root(&self) -> &Path {
        self.dir.path()
    }

    pub fn path(&self, relative: &str) -> PathBuf {
        self.dir.path().join(relative)
    }
}

fn write(path: &Path, content: &[u8], mtime: u64) {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).unwrap_or_else(|e| panic!("{}: {e}", parent.display()));
    }
    std::fs::write(path, content).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let file = std::fs::File::options().write(true).open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    file.set_modified(SystemTime::UNIX_EPOCH + Duration::from_secs(mtime)).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
}
