//! Generates the Spark Connect messages and gRPC service from the protocol descriptors of the
//! pinned PySpark client, which scripts/setup.sh writes to .venv/spark-connect.binpb
//! (scripts/spark_connect_descriptors.py). No protoc and no copied .proto file are needed.

use prost::Message;
use std::path::PathBuf;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let path = match std::env::var_os("VERGER_SPARK_CONNECT_DESCRIPTORS") {
        Some(path) => PathBuf::from(path),
        None => {
            let venv = match std::env::var_os("VERGER_VENV") {
                Some(venv) => PathBuf::from(venv),
                None => PathBuf::from(std::env::var("CARGO_MANIFEST_DIR")?).join("../../.venv"),
            };
            venv.join("spark-connect.binpb")
        }
    };
    println!("cargo:rerun-if-env-changed=VERGER_SPARK_CONNECT_DESCRIPTORS");
    println!("cargo:rerun-if-env-changed=VERGER_VENV");
    println!("cargo:rerun-if-changed={}", path.display());
    let bytes = std::fs::read(&path).map_err(|error| {
        format!(
            "verger-connect: cannot read the Spark Connect descriptors {}: {error}. \
             Run scripts/setup.sh first (it writes them from the pinned pyspark-client), \
             or set VERGER_SPARK_CONNECT_DESCRIPTORS.",
            path.display()
        )
    })?;
    let descriptors = prost_types::FileDescriptorSet::decode(bytes.as_slice())?;
    tonic_prost_build::configure().build_client(false).build_server(true).bytes(".spark.connect").compile_fds(descriptors)?;
    Ok(())
}
