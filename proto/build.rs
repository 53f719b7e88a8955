//! Compiles the suite's protos with protox (pure Rust: no system `protoc`), generates
//! tonic/prost code, and writes the encoded descriptor set (custom options kept) for
//! gRPC reflection and the gateway's REST transcoding.

use std::path::PathBuf;

const PROTOS: &[&str] =
    &["cadre/api/v1/annotations.proto", "cadre/audit/v1/audit.proto", "cadre/roster/v1/roster.proto"];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    println!("cargo:rerun-if-changed=cadre");
    let mut compiler = protox::Compiler::new(["."])?;
    compiler.include_imports(true);
    compiler.include_source_info(true);
    compiler.open_files(PROTOS)?;

    let out_dir = PathBuf::from(std::env::var("OUT_DIR")?);
    // `encode_file_descriptor_set` keeps extension options (our HTTP rules), which a
    // round trip through prost_types would drop.
    std::fs::write(out_dir.join("cadre_descriptor.bin"), compiler.encode_file_descriptor_set())?;

    tonic_prost_build::configure()
        .build_server(true)
        .build_client(true)
        .compile_fds(compiler.file_descriptor_set())?;
    Ok(())
}
